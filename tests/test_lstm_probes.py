"""Chapter 4's experiment on the smoke preset (trains one tiny LSTM): every unit probed once,
reused from the store, its states the LSTM's final states of the balanced probe clips."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from langlab import lstm_probes, probing, representations


@pytest.mark.slow
def test_lstm_probe_experiment_smoke(smoke_store):
    from langlab import training
    from langlab.presets import get_preset

    preset = get_preset("smoke")
    results = lstm_probes.lstm_probe_experiment(preset, conditions=["none"], seeds=[0],
                                            store=smoke_store)
    assert set(results["condition"]) == {"none", probing.UNTRAINED, probing.INPUT}
    assert set(results["representation"]) == {*lstm_probes.STATE_REPRESENTATIONS,
                                              *lstm_probes.INPUT_REPRESENTATIONS}
    assert set(results["task"]) == set(probing.TASKS) | set(probing.OTHER_TASKS)
    tested = results[results["p_value"].notna()]
    assert set(tested["representation"]) == set(lstm_probes.PERMUTED)
    assert set(tested["probe"]) == {"linear"} and set(tested["task"]) == {"binary"}
    ok = results[(results["note"] == "") & results["task"].isin(probing.TASKS + ("speaker",))]
    assert ok["balanced_accuracy"].between(0, 1).all() and ok["auc"].between(0, 1).all()
    # the speaker probe's chance is one over the speakers; nuisance rows carry R^2 only
    speaker = results[results["task"] == "speaker"]
    assert set(speaker["representation"]) == set(lstm_probes.DECODED)
    assert (speaker["chance"] == 1 / speaker["n_speakers"]).all()
    decoded = results[results["task"].isin(lstm_probes.NUISANCE_TARGETS)]
    assert decoded["r2"].notna().all() and decoded["balanced_accuracy"].isna().all()
    assert (decoded["r2"] <= 1).all()
    # the fair baselines: linear probe only, each a row per task
    fair = results[results["representation"].isin(["window_stats", "last_frame", "last_frames", "nuisance"])
                   & results["task"].isin(probing.TASKS)]
    assert set(fair["probe"]) == {"linear"} and len(fair) == 4 * len(probing.TASKS)
    # the controls and baselines run on the binary task, for h and c
    assert set(results.loc[results["task"] == "3way", "probe"]) == {"linear"}
    binary_h = results[(results["task"] == "binary") & (results["representation"] == "h")]
    assert set(binary_h["probe"]) == set(probing.PROBES)
    assert (ok["n_frames"] == lstm_probes.state_frames(preset, preset.features.n_frames)).all()
    # a second call finds every unit in the store and writes nothing (no entry new or rewritten)
    def written():
        return {m.parent.name: m.stat().st_mtime_ns
                for m in (smoke_store.root / lstm_probes.STAGE).glob("*/manifest.json")}

    before = written()
    again = lstm_probes.lstm_probe_experiment(preset, conditions=["none"], seeds=[0],
                                          store=smoke_store)
    assert written() == before
    pd.testing.assert_frame_equal(results, again)
    # the stored states are the LSTM's final states of the balanced probe clips
    states, clips = lstm_probes.probe_states(preset, condition="none", seed=0, store=smoke_store)
    fs, keep = probing.probe_clips(preset, store=smoke_store)
    assert clips["locale"].value_counts().nunique() == 1  # balanced
    model = training.load_lstm(preset, condition="none", seed=0, store=smoke_store)
    expected = representations.lstm_states(model, fs.scaled()[keep], pooled=True,
                                           n_frames=lstm_probes.state_frames(preset, fs.config.n_frames))
    for name in ("h", "c", "h_pooled"):
        np.testing.assert_allclose(states[name], expected[name], atol=1e-6)
    assert states["h"].shape == (len(clips), preset.lstm.units)


def test_state_frames_default_to_the_training_window():
    from langlab.presets import get_preset

    preset = get_preset("book")
    window = preset.lstm.window - preset.lstm.shift
    assert lstm_probes.state_frames(preset, 1000) == window
    assert lstm_probes.state_frames(preset, 10) == 10
    fixed = preset.replace(probing=probing.ProbeConfig(n_frames=7))
    assert lstm_probes.state_frames(fixed, 1000) == 7


def test_input_representations_read_exactly_the_frames_the_lstm_reads():
    rng = np.random.default_rng(0)
    S = rng.random((6, 4, 20)).astype(np.float32)
    table = pd.DataFrame({"duration": np.linspace(1, 3, 6), "silent_fraction": np.linspace(0, 0.5, 6)})
    reps = lstm_probes.input_representations(S, table, n_frames=8)
    assert list(reps) == list(lstm_probes.INPUT_REPRESENTATIONS)
    np.testing.assert_allclose(reps["mel_stats"][:, :4], S.mean(axis=2), rtol=1e-6)
    np.testing.assert_allclose(reps["window_stats"][:, :4], S[:, :, :8].mean(axis=2), rtol=1e-6)
    np.testing.assert_allclose(reps["window_stats"][:, 4:], S[:, :, :8].std(axis=2), rtol=1e-5)
    np.testing.assert_array_equal(reps["last_frame"], S[:, :, 7])
    assert reps["last_frames"].shape == (6, 4 * lstm_probes.LAST_FRAMES)
    np.testing.assert_array_equal(reps["last_frames"][:, -4:], S[:, :, 7])  # newest frame last
    np.testing.assert_array_equal(reps["last_frames"][:, :4], S[:, :, 8 - lstm_probes.LAST_FRAMES])
    np.testing.assert_allclose(reps["nuisance"], np.c_[table["duration"], table["silent_fraction"],
                                                       S[:, :, :8].mean(axis=(1, 2))], rtol=1e-6)
    # changing a frame the LSTM does not read changes only the whole-clip statistics
    T = S.copy()
    T[:, :, 15] += 1
    changed = {k for k, v in lstm_probes.input_representations(T, table, n_frames=8).items()
               if not np.array_equal(v, reps[k])}
    assert changed == {"mel_stats"}


def _fake_results(effect=0.1, n_seeds=6):
    """Binary linear-probe rows: untrained at 0.65, every trained condition at 0.65 + effect."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(n_seeds):
        base = 0.65 + 0.01 * rng.normal()
        for condition in (*lstm_probes.CONDITIONS, probing.UNTRAINED):
            for rep in ("h", "c"):
                value = base + (0 if condition == probing.UNTRAINED else effect) + 0.005 * rng.normal()
                rows.append({"condition": condition, "seed": seed, "representation": rep,
                             "task": "binary", "probe": "linear", "balanced_accuracy": value,
                             "auc": value + 0.05})
    return pd.DataFrame(rows)


def test_learned_information_is_the_paired_difference():
    from langlab.paired import paired_effect

    results = _fake_results(effect=0.1)
    table = lstm_probes.learned_information(results)
    assert set(table["condition"]) == {*lstm_probes.CONDITIONS, "all"}
    row = table[(table["representation"] == "c") & (table["condition"] == "it")].iloc[0]
    wide = results[results["representation"] == "c"].pivot_table(index="seed", columns="condition",
                                                                 values="balanced_accuracy")
    expected = paired_effect(wide["it"], wide[probing.UNTRAINED])
    assert row["learned"] == pytest.approx(expected.mean)
    assert (row["learned_low"], row["learned_high"]) == pytest.approx((expected.low, expected.high))
    assert row["above_chance"] == pytest.approx(wide["it"].mean() - 0.5)
    assert row["learned_low"] > 0.05


@pytest.mark.parametrize("effect, learned_verdict", [(0.1, "reproduced"), (0.0, "not reproduced"),
                                                     (-0.1, "contradicted")])
def test_claim_rows_split_above_chance_from_learned(effect, learned_verdict):
    from langlab.verdicts import LABELS

    rows = lstm_probes.claim_rows(_fake_results(effect=effect))
    assert list(rows.columns) == list(lstm_probes.CLAIM_COLUMNS)
    assert set(rows["verdict"]) <= set(LABELS)
    above = rows[rows["kind"] == "above chance"]
    learned = rows[rows["kind"] == "put there by training"]
    assert len(above) == len(learned) == 2  # h and c
    assert (above["verdict"] == "reproduced").all()  # 0.65 + effect is above chance
    assert (learned["verdict"] == learned_verdict).all()
    no_effect = rows[rows["kind"] == "no effect of pre-training"]
    assert len(no_effect) == 2 * (len(lstm_probes.CONDITIONS) - 1)
    assert (no_effect["verdict"] == "reproduced").all()  # every condition equal, within DELTA
    assert rows["reason"].str.len().gt(0).all()


@pytest.mark.slow
def test_checkpoint_probe_experiment_smoke(smoke_store):
    from langlab import training
    from langlab.presets import get_preset

    preset = get_preset("smoke")
    table = lstm_probes.checkpoint_probe_experiment(preset, conditions=["none", "it"], seeds=[0],
                                                    store=smoke_store, progress=False)
    expected = ["init", "pretrained", *[f"step_{n}" for n in preset.lstm.checkpoints], "final"]
    for condition in ("none", "it"):
        part = table[(table["condition"] == condition) & (table["representation"] == "c")]
        assert part.sort_values("order")["checkpoint"].tolist() == expected
        steps = part.set_index("checkpoint")["step"]
        assert steps["init"] == steps["pretrained"] == 0
        assert steps["final"] >= max(preset.lstm.checkpoints)
    assert table["balanced_accuracy"].between(0, 1).all() and table["auc"].between(0, 1).all()
    # init is the untrained network of the main experiment, and final its trained one
    main = lstm_probes.lstm_probe_experiment(preset, conditions=["none"], seeds=[0], store=smoke_store,
                                             progress=False)
    linear = main[(main["task"] == "binary") & (main["probe"] == "linear") & (main["representation"] == "c")]
    ck = table[(table["condition"] == "none") & (table["representation"] == "c")].set_index("checkpoint")
    assert ck.loc["init", "balanced_accuracy"] == pytest.approx(
        linear.loc[linear["condition"] == probing.UNTRAINED, "balanced_accuracy"].iloc[0])
    assert ck.loc["final", "balanced_accuracy"] == pytest.approx(
        linear.loc[linear["condition"] == "none", "balanced_accuracy"].iloc[0])
    # none's "pretrained" is its "init"; it's is not
    kept = training.load_checkpoints(preset, condition="it", seed=0, store=smoke_store)
    assert any(not np.array_equal(a, b) for a, b in zip(kept["init"], kept["pretrained"]))
    # a second call reads the store
    again = lstm_probes.checkpoint_probe_experiment(preset, conditions=["none", "it"], seeds=[0],
                                                    store=smoke_store, progress=False)
    pd.testing.assert_frame_equal(table, again)


def test_probed_conditions_are_chapter_4s_that_the_preset_trains():
    from langlab.presets import get_preset

    book = get_preset("book")
    assert lstm_probes.probed_conditions(book) == tuple(c for c in lstm_probes.CONDITIONS
                                                        if c in book.lstm.conditions)
    smoke = get_preset("smoke")
    assert set(lstm_probes.probed_conditions(smoke)) <= set(smoke.lstm.conditions)
