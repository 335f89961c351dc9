"""Pre-training protocol, time to threshold, censoring, statistics and the store (Chapter 3)."""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from langlab import models, pretraining, training
from langlab.errors import DataError, ParameterError
from langlab.store import Store


def smooth_S(n, *, n_mels=6, n_frames=40, seed=0):
    """Spectrogram-like arrays in [0, 1] whose frames change slowly (so copying is good)."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(scale=0.3, size=(n, 1, n_frames)), axis=2)
    shape = np.linspace(1.0, 0.2, n_mels)[None, :, None]
    S = shape / (1 + np.exp(-walk)) + 0.02 * rng.normal(size=(n, n_mels, n_frames))
    lo, hi = S.min(axis=(1, 2), keepdims=True), S.max(axis=(1, 2), keepdims=True)
    return ((S - lo) / (hi - lo)).astype(np.float32)


TINY = training.LSTMConfig(units=4, window=10, batch_size=8, max_steps=12, eval_every=4, seeds=(0,),
                           learning_rate=1e-2)


# --------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["smoke", "book", "paper"])
def test_presets_are_valid(name):
    config = training.PRESETS[name]
    assert isinstance(config, training.LSTMConfig)
    assert len(config.seeds) >= (2 if name == "smoke" else 5)
    assert config.conditions == pretraining.CONDITIONS


def test_paper_preset_has_the_original_sizes():
    p = training.PRESETS["paper"]
    assert (p.units, p.window, p.shift, p.batch_size) == (250, 216, 1, 64)
    assert (p.learning_rate, p.decay_steps, p.decay_rate) == (1e-2, 10_000, 0.9)
    assert p.pretrain_lowpass_hz == 500.0 and p.pretrain_epochs == 1


def test_seed_lists_become_tuples_of_int():
    assert training.LSTMConfig(seeds=[0, np.int64(1)]).seeds == (0, 1)


@pytest.mark.parametrize("change, match", [
    ({"units": 0}, "units"),
    ({"window": 1}, "longer than shift"),
    ({"shift": 0}, "shift"),
    ({"stride": 0}, "stride"),
    ({"learning_rate": 2.0}, "learning_rate"),
    ({"threshold": 0.0}, "threshold"),
    ({"threshold": float("nan")}, "threshold"),
    ({"seeds": (1, 1)}, "repeated"),
    ({"seeds": "01"}, "sequence of integers"),
    ({"conditions": ("none", "fr")}, "unknown pre-training condition"),
    ({"n_jobs": 0}, "n_jobs"),
    ({"pretrain_epochs": -1}, "pretrain_epochs"),
    ({"max_steps": 0}, "max_steps"),
    ({"checkpoints": (5, 13)}, r"checkpoints\[1\]"),
    ({"checkpoints": (8, 4)}, "increasing"),
    ({"checkpoints": (0,)}, "checkpoints"),
    ({"checkpoints": 4}, "sequence"),
    ({"reset_optimizer": 1}, "reset_optimizer"),
])
def test_bad_config_values_are_refused(change, match):
    with pytest.raises(ParameterError, match=match):
        dataclasses.replace(TINY, **change)


def test_training_fields_leave_out_what_does_not_change_a_run():
    fields = TINY.training_fields()
    assert not {"seeds", "conditions", "threads", "n_jobs", "threshold"} & set(fields)
    assert "threshold" in dataclasses.replace(TINY, stop_at_threshold=True).training_fields()


# --------------------------------------------------------------------------------------------
# Segments and baselines
# --------------------------------------------------------------------------------------------
def test_segments_never_straddle_two_clips():
    S = np.repeat(np.arange(5, dtype=np.float32)[:, None, None], 3, axis=1) * np.ones((1, 1, 23))
    seg = training.cut_segments(S / 5, window=7)
    assert seg.shape == (5 * 3, 7, 3)  # 23 frames hold three 7-frame segments
    assert all(np.ptp(s) == 0 for s in seg)  # each segment comes from one clip


@pytest.mark.parametrize("window, stride, expected", [(7, None, 3), (7, 4, 5), (23, None, 1), (24, None, 0)])
def test_segment_counts(window, stride, expected):
    S = np.zeros((2, 3, 23), dtype=np.float32)
    assert len(training.cut_segments(S, window=window, stride=stride)) == 2 * expected


def test_segments_stop_at_the_usable_frames():
    S = np.zeros((2, 3, 20), dtype=np.float32)
    assert len(training.cut_segments(S, window=5, n_valid=[20, 9])) == 4 + 1


def test_segments_keep_time_order():
    S = np.tile(np.arange(12, dtype=np.float32), (1, 2, 1))
    seg = training.cut_segments(S, window=4, stride=2)
    np.testing.assert_array_equal(seg[:, :, 0], [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7],
                                                 [6, 7, 8, 9], [8, 9, 10, 11]])


def test_baselines_on_known_data():
    config = dataclasses.replace(TINY, window=5)
    constant = np.full((3, 4, 20), 0.5, dtype=np.float32)
    base = training.baselines(constant, constant, config=config)
    assert base == {"copy": 0.0, "mean": 0.0}
    ramp = np.tile(np.linspace(0, 1, 20, dtype=np.float32), (2, 4, 1))
    base = training.baselines(ramp, ramp, config=config)
    assert base["copy"] == pytest.approx((1 / 19) ** 2, rel=1e-5)
    assert base["mean"] > base["copy"]


def test_copy_baseline_grows_with_the_shift():
    S = smooth_S(6, n_frames=60)
    copies = [training.baselines(S, S, config=dataclasses.replace(TINY, shift=k))["copy"] for k in (1, 2, 4)]
    assert copies[0] < copies[1] < copies[2]


@pytest.mark.parametrize("fraction, expected", [(0.0, 0.04), (1.0, 0.01), (0.5, 0.025), (1.1, 0.007)])
def test_threshold_value(fraction, expected):
    assert training.threshold_value({"copy": 0.01, "mean": 0.04}, fraction=fraction) == pytest.approx(expected)


def test_too_short_clips_are_a_data_error():
    with pytest.raises(DataError, match="shorter window"):
        training.pairs(np.zeros((2, 3, 8), dtype=np.float32), config=TINY)


# --------------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data():
    return smooth_S(12, seed=0), smooth_S(4, seed=1), smooth_S(6, seed=2)


def test_train_lstm_history(data):
    S_train, S_val, S_pre = data
    model, h = training.train_lstm(S_train, S_val, config=TINY, seed=0, S_pretrain=S_pre)
    pre, train = h[h["phase"] == "pretrain"], h[h["phase"] == "train"]
    assert list(h.columns) == ["phase", "step", "epoch", "seconds", "loss", "val_loss"]
    assert len(pre) == TINY.pretrain_epochs and pre["step"].iloc[0] == (6 * 4) // 8
    assert list(train["step"]) == [0, 4, 8, 12]
    assert np.isnan(train["loss"].iloc[0]) and train["loss"].iloc[1:].notna().all()
    assert train["val_loss"].iloc[0] == pytest.approx(pre["val_loss"].iloc[-1])  # no step between
    assert (train["seconds"].diff().iloc[1:] > 0).all()
    assert train["epoch"].iloc[-1] == pytest.approx(12 / ((12 * 4) // 8))
    assert model.output_shape == (None, None, 6)


def test_same_seed_gives_the_same_loss_curve(data):
    """TensorFlow op determinism on the CPU: bit-identical histories, not just close ones."""
    S_train, S_val, S_pre = data
    runs = [training.train_lstm(S_train, S_val, config=TINY, seed=s, S_pretrain=S_pre)[1] for s in (3, 3, 4)]
    cols = ["loss", "val_loss"]
    pd.testing.assert_frame_equal(runs[0][cols], runs[1][cols], check_exact=True)
    assert not np.allclose(runs[0]["val_loss"], runs[2]["val_loss"])


def test_stop_at_threshold_stops_early(data):
    S_train, S_val, _ = data
    config = dataclasses.replace(TINY, max_steps=40, stop_at_threshold=True)
    _, full = training.train_lstm(S_train, S_val, config=dataclasses.replace(config, stop_at_threshold=False),
                                  seed=0)
    threshold = float(full["val_loss"].iloc[2])  # reached at step 8 at the latest
    _, stopped = training.train_lstm(S_train, S_val, config=config, seed=0, threshold=threshold)
    assert stopped["step"].max() <= 8 < full["step"].max()
    pd.testing.assert_frame_equal(stopped[["step", "val_loss"]],
                                  full[["step", "val_loss"]].iloc[:len(stopped)])


def test_train_lstm_refuses_mismatched_data(data):
    S_train, S_val, _ = data
    with pytest.raises(ParameterError, match="mel bands"):
        training.train_lstm(S_train, S_val[:, :5], config=TINY, seed=0)
    with pytest.raises(ParameterError, match="LSTMConfig"):
        training.train_lstm(S_train, S_val, config={"units": 3}, seed=0)
    with pytest.raises(ParameterError, match="NaN"):
        training.train_lstm(S_train * np.nan, S_val, config=TINY, seed=0)


def _val_mse(weights, S_val, config):
    model = training.build_for(config, n_mels=S_val.shape[1])
    model.set_weights(weights)
    x, y = training.pairs(S_val, config=config)
    return training._mse(model, x, y)


def test_weights_are_kept_at_the_checkpoints(data):
    S_train, S_val, S_pre = data
    config = dataclasses.replace(TINY, checkpoints=(4, 8))
    kept = {}
    model, h = training.train_lstm(S_train, S_val, config=config, seed=0, S_pretrain=S_pre, weights=kept)
    assert list(kept) == ["init", "pretrained", "step_4", "step_8", "final"]
    fresh = training.build_for(config, n_mels=6, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(kept["init"], fresh.get_weights()))
    assert not np.array_equal(kept["init"][0], kept["pretrained"][0])
    assert all(np.array_equal(a, b) for a, b in zip(kept["final"], model.get_weights()))
    train = h[h["phase"] == "train"].set_index("step")["val_loss"]
    # each kept set of weights gives the validation loss the history recorded at that step
    for name, step in [("pretrained", 0), ("step_4", 4), ("step_8", 8), ("final", 12)]:
        assert _val_mse(kept[name], S_val, config) == pytest.approx(train[step], rel=1e-5)
    none = {}
    training.train_lstm(S_train, S_val, config=config, seed=0, weights=none)
    assert all(np.array_equal(a, b) for a, b in zip(none["init"], none["pretrained"]))


def test_reset_optimizer_keeps_the_weights_and_forgets_adam(data):
    S_train, S_val, S_pre = data
    kept, reset_kept = {}, {}
    carried, h = training.train_lstm(S_train, S_val, config=TINY, seed=0, S_pretrain=S_pre, weights=kept)
    config = dataclasses.replace(TINY, reset_optimizer=True)
    reset, h_reset = training.train_lstm(S_train, S_val, config=config, seed=0, S_pretrain=S_pre,
                                         weights=reset_kept)
    pretrain_steps = int(h.loc[h["phase"] == "pretrain", "step"].max())
    assert int(carried.optimizer.iterations.numpy()) == pretrain_steps + TINY.max_steps
    assert int(reset.optimizer.iterations.numpy()) == TINY.max_steps
    assert all(np.array_equal(a, b) for a, b in zip(kept["pretrained"], reset_kept["pretrained"]))
    train, train_reset = (x[x["phase"] == "train"]["val_loss"].to_numpy() for x in (h, h_reset))
    assert train[0] == train_reset[0] and not np.allclose(train[1:], train_reset[1:])
    # without pre-training there is nothing to reset
    _, a = training.train_lstm(S_train, S_val, config=TINY, seed=0)
    _, b = training.train_lstm(S_train, S_val, config=config, seed=0)
    pd.testing.assert_frame_equal(a[["loss", "val_loss"]], b[["loss", "val_loss"]], check_exact=True)


# --------------------------------------------------------------------------------------------
# Time to threshold and statistics
# --------------------------------------------------------------------------------------------
HISTORY = pd.DataFrame({"phase": ["pretrain"] + ["train"] * 4, "step": [3, 0, 10, 20, 30],
                        "epoch": [1.0, 0.0, 1.0, 2.0, 3.0], "seconds": [0.1, 0.0, 1.0, 2.0, 3.0],
                        "loss": [np.nan] * 5, "val_loss": [0.001, 0.5, 0.2, 0.1, 0.05]})


@pytest.mark.parametrize("threshold, steps, censored", [(0.2, 10, False), (0.15, 20, False), (0.05, 30, False),
                                                        (0.5, 0, False), (0.01, 40, True)])
def test_time_to_threshold(threshold, steps, censored):
    out = training.time_to_threshold(HISTORY, threshold=threshold, max_steps=40)
    assert out["steps_to_threshold"] == steps and out["censored"] is censored
    if censored:  # lower bounds: the budget, and the last evaluation's epochs and seconds
        assert out["epochs_to_threshold"] == 3.0 and out["seconds_to_threshold"] == 3.0
    else:
        assert out["seconds_to_threshold"] == steps / 10


@pytest.mark.parametrize("max_steps, expected", [
    (30, 10 * (0.35 + 0.15 + 0.075) / 30),          # trapezoids over 0, 10, 20, 30
    (40, (10 * (0.35 + 0.15 + 0.075) + 10 * 0.05) / 40),  # stopped at 30: last loss kept to 40
    (20, 10 * (0.35 + 0.15) / 20),                  # evaluations past the budget left out
])
def test_val_loss_auc(max_steps, expected):
    assert training.val_loss_auc(HISTORY, max_steps=max_steps) == pytest.approx(expected)


def test_val_loss_auc_needs_step_zero():
    with pytest.raises(DataError, match="step 0"):
        training.val_loss_auc(HISTORY.iloc[2:], max_steps=30)


# --------------------------------------------------------------------------------------------
# The experiment through the store (smoke preset, embedded corpus)
# --------------------------------------------------------------------------------------------
@pytest.fixture
def store(smoke_store):
    """The session's smoke store (corpus and features made once); LSTM entries are
    content-addressed, so runs written here by other tests are the same runs."""
    return smoke_store


@pytest.mark.slow
def test_experiment_stores_runs_and_reuses_them(store):
    kwargs = dict(seeds=[0], conditions=["none", "it", "noise"], store=store, n_jobs=1)
    first = training.lstm_experiment("smoke", **kwargs)
    assert list(first["condition"]) == ["none", "it", "noise"] and list(first["seed"]) == [0, 0, 0]
    assert {"steps_to_threshold", "epochs_to_threshold", "seconds_to_threshold", "censored", "threshold",
            "copy_baseline", "mean_baseline", "train_seconds", "key"} <= set(first.columns)
    assert (first.loc[first["condition"] == "none", "pretrain_steps"] == 0).all()
    assert (first.loc[first["condition"] != "none", "pretrain_steps"] > 0).all()
    assert first["copy_baseline"].nunique() == 1  # the same validation pairs for every condition
    manifests = {k: (store.root / "lstm" / k / "manifest.json").stat().st_mtime for k in first["key"]}
    again = training.lstm_experiment("smoke", **kwargs)
    pd.testing.assert_frame_equal(first, again)
    assert manifests == {k: (store.root / "lstm" / k / "manifest.json").stat().st_mtime for k in again["key"]}
    model = training.load_lstm("smoke", condition="it", seed=0, store=store)
    assert model.count_params() > 0
    h = training.lstm_histories("smoke", seeds=[0], conditions=["none", "it"], store=store)
    assert set(h["condition"]) == {"none", "it"} and set(h["phase"]) == {"pretrain", "train"}


@pytest.mark.slow
def test_runs_keep_their_weights_and_report_the_auc(store):
    from langlab.presets import get_preset
    preset = get_preset("smoke")
    results = training.lstm_experiment(preset, seeds=[0], conditions=["none", "it"], store=store, n_jobs=1)
    histories = training.lstm_histories(preset, seeds=[0], conditions=["none", "it"], store=store)
    for condition in ("none", "it"):
        kept = training.load_checkpoints(preset, condition=condition, seed=0, store=store)
        assert list(kept) == ["init", "pretrained", "step_10", "step_20", "final"]
        model = training.load_lstm(preset, condition=condition, seed=0, store=store)
        assert all(np.array_equal(a, b) for a, b in zip(kept["final"], model.get_weights()))
        same = [np.array_equal(a, b) for a, b in zip(kept["init"], kept["pretrained"])]
        assert all(same) if condition == "none" else not all(same)
        row = results[results["condition"] == condition].iloc[0]
        curve = histories[(histories["condition"] == condition) & (histories["phase"] == "train")]
        assert row["val_loss_auc"] == pytest.approx(training.val_loss_auc(curve, max_steps=preset.lstm.max_steps))
        assert curve["val_loss"].min() <= row["val_loss_auc"] <= curve["val_loss"].max()
    assert results.set_index("condition")["pretrain_epochs"].to_dict() == {"none": 0, "it": 1}
    # another dose and the reset are other runs, but they share the run without pre-training
    dose = preset.replace(lstm=dataclasses.replace(preset.lstm, pretrain_epochs=2, reset_optimizer=True))
    keys = {c: _key_of(preset, c, store) for c in ("none", "it")}
    other = {c: _key_of(dose, c, store) for c in ("none", "it")}
    assert keys["none"] == other["none"] and keys["it"] != other["it"]


def _key_of(preset, condition, store):
    """The store key of seed 0's run (without computing it)."""
    from langlab import runs
    return runs.entry(training.SPEC, preset, condition, 0, store=store, inputs=()).key


@pytest.mark.slow
def test_threshold_changes_without_retraining(store):
    from langlab.presets import get_preset
    preset = get_preset("smoke")
    easy = preset.replace(lstm=dataclasses.replace(preset.lstm, threshold=0.5))
    base = training.lstm_experiment(preset, seeds=[0], conditions=["none"], store=store, n_jobs=1)
    moved = training.lstm_experiment(easy, seeds=[0], conditions=["none"], store=store, n_jobs=1)
    assert list(moved["key"]) == list(base["key"])
    assert moved["threshold"].iloc[0] > base["threshold"].iloc[0]
    assert moved["steps_to_threshold"].iloc[0] <= base["steps_to_threshold"].iloc[0]


@pytest.mark.slow
def test_parallel_runs_equal_sequential_ones(store, tmp_path):
    kwargs = dict(seeds=[1], conditions=["none", "ja"])
    parallel = training.lstm_experiment("smoke", store=store, n_jobs=2, **kwargs)
    other = Store(tmp_path / "other")
    sequential = training.lstm_experiment("smoke", store=other, n_jobs=1, **kwargs)
    cols = ["condition", "seed", "steps_to_threshold", "censored", "val_loss_final", "best_val_loss", "key"]
    pd.testing.assert_frame_equal(parallel[cols], sequential[cols])


@pytest.mark.parametrize("kwargs, match", [({"seeds": [0, 0]}, "repeated"), ({"conditions": ["fr"]}, "unknown"),
                                           ({"conditions": "none"}, "sequence"), ({"n_jobs": 0}, "n_jobs")])
def test_experiment_refuses_bad_arguments(kwargs, match, store):
    with pytest.raises(ParameterError, match=match):
        training.lstm_experiment("smoke", store=store, **kwargs)


def test_unknown_preset():
    with pytest.raises(ParameterError, match="unknown preset"):
        training.lstm_experiment("huge")


def test_a_warm_model_trains_like_a_fresh_one(data):
    """Runs in one process reuse a traced model; the result must not depend on what ran before."""
    S_train, S_val, S_pre = data
    models.clear_warm()
    _, first = training.train_lstm(S_train, S_val, config=TINY, seed=5, S_pretrain=S_pre)
    training.train_lstm(S_train, S_val, config=TINY, seed=6)  # leaves the warm model trained
    model, again = training.train_lstm(S_train, S_val, config=TINY, seed=5, S_pretrain=S_pre)
    pd.testing.assert_frame_equal(first[["loss", "val_loss"]], again[["loss", "val_loss"]], check_exact=True)
    assert model is not models._WARM.models[next(iter(models._WARM.models))]


def test_retime_moves_the_threshold_from_the_histories():
    results = pd.DataFrame([{"condition": "none", "seed": 0, "threshold": 0.1, "steps_to_threshold": 20,
                             "epochs_to_threshold": 2.0, "seconds_to_threshold": 2.0, "censored": False,
                             "max_steps": 40, "copy_baseline": 0.1, "mean_baseline": 0.3}])
    histories = HISTORY.assign(condition="none", seed=0)
    easy = training.retime(results, histories, threshold=0.5)  # 0.3 + 0.5 * (0.1 - 0.3) = 0.2
    assert easy["threshold"].iloc[0] == pytest.approx(0.2) and easy["steps_to_threshold"].iloc[0] == 10
    hard = training.retime(results, histories, threshold=1.5)  # 0.0: never reached
    assert bool(hard["censored"].iloc[0]) and hard["steps_to_threshold"].iloc[0] == 40
    assert results["steps_to_threshold"].iloc[0] == 20  # the input is left alone
    with pytest.raises(DataError, match="no history"):
        training.retime(results.assign(seed=1), histories, threshold=1.0)


def test_the_returned_model_carries_the_optimizer_state(data, tmp_path):
    import keras
    S_train, S_val, _ = data
    model, _ = training.train_lstm(S_train, S_val, config=TINY, seed=0)
    assert int(model.optimizer.iterations.numpy()) == TINY.max_steps
    model.save(tmp_path / "m.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "skipping variable loading for optimizer"
        loaded = keras.models.load_model(tmp_path / "m.keras")
    assert int(loaded.optimizer.iterations.numpy()) == TINY.max_steps


# --------------------------------------------------------------------------------------------
# The design of Chapter 3
# --------------------------------------------------------------------------------------------
def test_the_book_and_paper_designs_meet_the_plan():
    for name in ("book", "paper"):
        grid = training.DESIGNS[name]
        assert len(grid.doses) >= 3 and grid.doses[-1] / grid.doses[0] >= 30 and len(grid.seeds) >= 10
        arms = grid.arms()
        assert arms["arm"].is_unique and (arms["condition"] == "none").sum() == 1
        assert {"es", "it", "ja"} <= set(grid.dose_conditions)
        top = arms[(arms["pretrain_epochs"] == grid.top_dose) & ~arms["reset_optimizer"]]
        assert set(pretraining.DESIGN_CONDITIONS) - {"none"} <= set(top["condition"])  # all judged at one dose
        assert arms["reset_optimizer"].any()


def test_design_steps_count_every_run():
    steps = training.design_steps("book", pretrain_steps_per_epoch=4)
    grid, config = training.DESIGNS["book"], training.PRESETS["book"]
    assert steps["runs"].eq(len(grid.seeds)).all()
    none = steps.set_index("arm").loc["none"]
    assert none["pretrain_steps"] == 0 and none["steps"] == len(grid.seeds) * config.max_steps
    it32 = steps.set_index("arm").loc["it x32"]
    assert it32["steps"] == len(grid.seeds) * (32 * 4 + config.max_steps)
    # from the preset's own sizes: 72 clips of 188 frames, two 94-frame segments each, batch 32
    assert training.design_steps("book").set_index("arm").loc["it x1", "pretrain_steps"] == 144 // 32


@pytest.mark.parametrize("change, match", [
    ({"doses": (8, 1)}, "increase"), ({"doses": (0, 1)}, r"doses\[0\]"),
    ({"controls": ("fr",)}, "unknown"), ({"dose_conditions": ("none", "it")}, "arm of its own"),
    ({"reset_dose": 4}, "reset_dose"), ({"seeds": (1, 1)}, "repeated"),
])
def test_bad_designs_are_refused(change, match):
    with pytest.raises(ParameterError, match=match):
        dataclasses.replace(training.DESIGNS["smoke"], **change)


@pytest.mark.slow
def test_design_experiment_runs_every_arm_as_ordinary_runs(store):
    from langlab.presets import get_preset
    preset = get_preset("smoke")
    grid = training.design(preset)
    results, curves = training.design_experiment(preset, store=store, n_jobs=1, progress=False, histories=True)
    assert list(results.columns[:len(training.DESIGN_COLUMNS)]) == list(training.DESIGN_COLUMNS)
    assert list(results["arm"].unique()) == list(grid.arms()["arm"])
    assert len(results) == len(grid.arms()) * len(grid.seeds)
    by_arm = results.groupby("arm")
    assert all(tuple(sorted(s)) == grid.seeds for _, s in by_arm["seed"])
    steps = results.groupby("arm")["pretrain_steps"].first()
    assert steps["none"] == 0 and steps["it x2"] == 2 * steps["it x1"] > 0
    assert steps["it x2 reset"] == steps["it x2"]
    reset = results.set_index(["arm", "seed"])["val_loss_auc"]
    assert not np.allclose(reset["it x2 reset"], reset["it x2"])
    # the dose-1 arms are the preset's own runs; "none" is one run per seed whatever the dose
    own = training.lstm_experiment(preset, conditions=["none", "it"], store=store, n_jobs=1, progress=False)
    assert set(own["key"]) <= set(results["key"])
    assert set(curves["arm"]) == set(results["arm"]) and {"step", "val_loss", "phase"} <= set(curves.columns)
    again = training.design_experiment(preset, store=store, n_jobs=1, progress=False)
    pd.testing.assert_frame_equal(results, again)


def test_step_seconds_times_a_training_step():
    seconds = training.step_seconds(TINY, n_mels=6, steps=3)
    assert np.isfinite(seconds) and seconds > 0
    with pytest.raises(ParameterError, match="steps"):
        training.step_seconds(TINY, n_mels=6, steps=0)
