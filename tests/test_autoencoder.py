"""The convolutional autoencoder (Chapter 5): config checks, shape/dtype contracts of the Keras
model, deterministic training on synthetic arrays, baselines, and the stored experiment."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from langlab import autoencoder as ae
from langlab import models
from langlab.errors import ParameterError

SMOKE = ae.PRESETS["smoke"]


def spectrograms(n: int, n_mels: int = 10, n_frames: int = 23, *, seed: int = 0) -> np.ndarray:
    """Scaled, spectrogram-like arrays in [0, 1]: smooth bands plus noise."""
    rng = np.random.default_rng(seed)
    bands = np.linspace(1, 0, n_mels)[None, :, None]
    S = 0.6 * bands + 0.3 * rng.random((n, 1, n_frames)) + 0.1 * rng.random((n, n_mels, n_frames))
    return np.clip(S, 0, 1).astype(np.float32)


# --- config --------------------------------------------------------------------------------
@pytest.mark.parametrize("change, match", [
    ({"filters": (32, 64)}, "filters must be three positive integers"),
    ({"filters": (32, 0, 4)}, r"filters\[1\] must be an integer >= 1, got 0"),
    ({"latent_dim": 0}, "latent_dim must be an integer >= 1, got 0"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
    ({"learning_rate": 0.0}, r"learning_rate must be a finite number in \(0, 1\), got 0.0"),
    ({"epochs": 0}, "epochs must be an integer >= 1"),
    ({"pretrain_epochs": -1}, "pretrain_epochs must be an integer >= 0"),
    ({"seeds": (0, 0)}, "seeds has repeated elements"),
    ({"seeds": ()}, "seeds needs at least 1 element"),
    ({"seeds": (True,)}, r"seeds\[0\] must be an integer >= 0, got True"),
    ({"conditions": ("none", "fr")}, r"unknown pre-training condition\(s\) \['fr'\]"),
    ({"threads": 0}, "threads must be an integer >= 1, got 0"),
    ({"patience": 0}, "patience must be an integer >= 1, got 0"),
    ({"patience": 1.5}, "patience must be an integer >= 1, got 1.5"),
    ({"min_improvement": 1.0}, r"min_improvement must be a finite number in \[0, 1\), got 1.0"),
    ({"min_improvement": -0.1}, "min_improvement must be a finite number"),
])
def test_bad_config_names_the_value(change, match):
    with pytest.raises(ParameterError, match=match):
        dataclasses.replace(SMOKE, **change)


def test_presets():
    assert set(ae.PRESETS) == {"smoke", "book", "paper"}
    paper = ae.PRESETS["paper"]
    assert paper.filters == (32, 64, 4)
    assert 1000 <= paper.latent_dim <= 3000
    assert paper.batch_size == 300 and paper.learning_rate == 1e-3
    for config in ae.PRESETS.values():
        assert config.pretrain_epochs == 1
        assert {"none", "es", "it", "ja"} <= set(config.conditions) <= set(ae.CONDITIONS)
    assert len(ae.PRESETS["book"].seeds) >= 6  # the sign-flip test needs 6 pairs to reach p < 0.05
    for name in ("book", "paper"):  # trained to a stated plateau, not a fixed number of epochs
        assert ae.PRESETS[name].patience is not None and ae.PRESETS[name].epochs > ae.PRESETS[name].patience


# --- the stopping rule ---------------------------------------------------------------------
@pytest.mark.parametrize("losses, patience, min_improvement, expected", [
    # improves by >= 10 % at epochs 1 and 2, then not for 2 epochs: stop at 4, keep 2
    ([1.0, 0.8, 0.6, 0.59, 0.58, 0.3], 2, 0.1, (2, 4)),
    # a lower loss that is not 10 % lower does not count as the best
    ([1.0, 0.95, 0.91, 0.92], 3, 0.1, (0, 3)),
    # the same curve with any improvement counting: epoch 2 is the best, no stop yet
    ([1.0, 0.95, 0.91, 0.92], 3, 0.0, (2, None)),
    # an equal loss is no improvement even with min_improvement 0
    ([1.0, 1.0, 1.0], 2, 0.0, (0, 2)),
    # no rule: never stops; the best is still reported
    ([1.0, 0.5, 0.9, 0.9, 0.9], None, 0.01, (1, None)),
    ([0.7], 1, 0.01, (0, None)),
])
def test_plateau_stop(losses, patience, min_improvement, expected):
    assert ae.plateau_stop(losses, patience=patience, min_improvement=min_improvement) == expected


@pytest.mark.parametrize("kwargs, match", [
    ({"val_losses": []}, "needs at least the loss at epoch 0"),
    ({"val_losses": [1.0, float("nan")]}, r"val_losses\[1\] must be a finite number"),
    ({"val_losses": [1.0], "patience": 0}, "patience must be an integer >= 1"),
    ({"val_losses": [1.0], "min_improvement": 2}, "min_improvement must be a finite number"),
])
def test_plateau_stop_rejects_bad_input(kwargs, match):
    kwargs = {"patience": 2, **kwargs}
    with pytest.raises(ParameterError, match=match):
        ae.plateau_stop(**kwargs)


def test_stopping_rule_in_words():
    assert ae.stopping_rule(ae.PRESETS["book"]) == (
        "stop when the held-out loss has not improved on its best by at least 1 % for 3 epochs "
        "in a row, keep the weights of the best epoch, and train at most 40 epochs")
    assert ae.stopping_rule(SMOKE) == "a fixed 2 epochs of Spanish training"


def test_conditions_are_the_registered_ones():
    from langlab import pretraining, training
    assert ae.CONDITIONS is pretraining.CONDITIONS is training.CONDITIONS


def test_import_does_not_load_tensorflow():
    code = "import sys, langlab.autoencoder; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("shape, expected", [((40, 188), (40, 188)), ((10, 23), (12, 24)),
                                             ((128, 216), (128, 216)), ((1, 1), (4, 4))])
def test_padded_shape(shape, expected):
    assert ae.padded_shape(*shape) == expected


# --- the Keras model -----------------------------------------------------------------------
@pytest.mark.parametrize("n_mels, n_frames", [(10, 23), (12, 24), (40, 30)])
def test_model_shape_and_dtype_contract(n_mels, n_frames):
    model = ae.build_autoencoder(n_mels=n_mels, n_frames=n_frames, filters=(4, 8, 4),
                                 latent_dim=7, seed=0)
    S = spectrograms(3, n_mels, n_frames)
    assert model.input_shape == (None, n_mels, n_frames)
    assert model.output_shape == (None, n_mels, n_frames)
    S_hat = ae.reconstruct(model, S)
    assert S_hat.shape == S.shape and S_hat.dtype == np.float32
    assert S_hat.min() >= 0 and S_hat.max() <= 1  # sigmoid output for [0, 1] inputs
    z = ae.encode(model, S)
    assert z.shape == (3, 7) and z.dtype == np.float32
    np.testing.assert_allclose(ae.encode(model.get_layer("encoder"), S), z, rtol=1e-6, atol=1e-6)
    assert model.loss == "mse"


def test_architecture_mirrors_the_original():
    model = ae.build_autoencoder(n_mels=10, n_frames=23, filters=(32, 64, 4), latent_dim=16, seed=0)
    table = ae.shape_table(model)
    enc = table[table.part == "encoder"]
    dec = table[table.part == "decoder"]
    assert list(enc.kind[enc.kind.isin(["Conv2D", "MaxPooling2D", "Dense"])]) == [
        "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "Dense"]
    assert list(enc.output_shape[enc.kind == "Conv2D"]) == ["12 x 24 x 32", "6 x 12 x 64", "3 x 6 x 4"]
    assert enc.kind.str.contains("BatchNorm").sum() == 3
    # dec1 a transposed convolution; dec2 and the output each an upsampling followed by one,
    # computed as one layer (langlab.layers.UpsampledConvTranspose, issue 18)
    assert list(dec.kind[dec.kind.str.contains("Conv")]) == [
        "Conv2DTranspose", "UpsampledConvTranspose", "UpsampledConvTranspose"]
    assert list(dec.output_shape[dec.kind.str.contains("Conv")]) == ["3 x 6 x 64", "6 x 12 x 32", "12 x 24 x 1"]
    assert enc.output_shape.iloc[-1] == "16"
    assert dec.output_shape.iloc[-1] == "10 x 23"
    assert table.params.sum() == model.count_params()


def test_same_seed_same_initial_weights():
    a = ae.build_autoencoder(n_mels=8, n_frames=8, filters=(2, 2, 2), latent_dim=3, seed=5)
    b = ae.build_autoencoder(n_mels=8, n_frames=8, filters=(2, 2, 2), latent_dim=3, seed=5)
    c = ae.build_autoencoder(n_mels=8, n_frames=8, filters=(2, 2, 2), latent_dim=3, seed=6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(a.get_weights(), c.get_weights()))


def test_initial_weights_ignore_other_threads_drawing_random():
    """Initializers are seeded from the run seed, not from Python's global ``random`` (which a
    Dask worker's event loop draws from concurrently)."""
    import random
    import threading

    def weight_sum():
        model = ae.build_autoencoder(n_mels=8, n_frames=8, filters=(2, 2, 2), latent_dim=3, seed=1)
        return [float(np.abs(w).sum()) for w in model.get_weights()]

    quiet = weight_sum()
    stop = threading.Event()

    def draw():
        while not stop.is_set():
            random.random()

    thread = threading.Thread(target=draw)
    thread.start()
    try:
        noisy = [weight_sum() for _ in range(3)]
    finally:
        stop.set()
        thread.join()
    assert all(n == quiet for n in noisy)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_mels": 0, "n_frames": 10}, "n_mels and n_frames must be positive integers"),
    ({"n_mels": 10, "n_frames": 2.5}, "n_mels and n_frames must be positive integers"),
    ({"n_mels": 10, "n_frames": 10, "latent_dim": 0}, "latent_dim must be an integer >= 1, got 0"),
])
def test_build_rejects_bad_sizes(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        ae.build_autoencoder(**kwargs)


# --- training on arrays --------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained():
    S = spectrograms(48)
    S_pre = spectrograms(20, seed=1)
    out = {}
    out["a"] = ae.train_autoencoder(S[:40], S[40:], config=SMOKE, seed=0, S_pretrain=S_pre)
    out["b"] = ae.train_autoencoder(S[:40], S[40:], config=SMOKE, seed=0, S_pretrain=S_pre)
    out["c"] = ae.train_autoencoder(S[:40], S[40:], config=SMOKE, seed=1, S_pretrain=None)
    out["S"] = S
    return out


def test_history_layout(trained):
    _, history = trained["a"]
    assert list(history.columns) == ["phase", "epoch", "step", "loss", "val_loss"]
    assert list(history.phase) == ["pretrain"] + ["train"] * (SMOKE.epochs + 1)
    assert list(history.epoch) == [1] + list(range(SMOKE.epochs + 1))
    # 20 pre-training clips in batches of 16: one full batch; 40 training clips: two a epoch
    assert list(history.step) == [1, 1] + [1 + 2 * e for e in range(1, SMOKE.epochs + 1)]
    assert np.isfinite(history[["loss", "val_loss"]].to_numpy()).all()
    _, no_pretrain = trained["c"]
    assert list(no_pretrain.phase) == ["train"] * (SMOKE.epochs + 1) and no_pretrain.step.iloc[0] == 0


def test_same_seed_same_losses(trained):
    (model_a, hist_a), (model_b, hist_b) = trained["a"], trained["b"]
    pd.testing.assert_frame_equal(hist_a, hist_b)
    S = trained["S"]
    np.testing.assert_array_equal(ae.encode(model_a, S), ae.encode(model_b, S))


def test_reused_graph_equals_a_fresh_model(trained):
    """A worker reuses the traced graph of its previous run; results equal a fresh model's."""
    models.clear_warm()
    S = trained["S"]
    model, history = ae.train_autoencoder(S[:40], S[40:], config=SMOKE, seed=1, S_pretrain=None)
    pd.testing.assert_frame_equal(history, trained["c"][1])
    np.testing.assert_array_equal(ae.encode(model, S), ae.encode(trained["c"][0], S))
    assert trained["a"][0] is not trained["b"][0]  # callers get models of their own


def test_training_stops_at_the_plateau_and_keeps_the_best_weights():
    """A rule no epoch can satisfy (90 % better than the best): training stops after
    ``patience`` epochs and returns the weights it started Spanish training with."""
    S = spectrograms(48)
    config = dataclasses.replace(SMOKE, epochs=10, patience=2, min_improvement=0.9)
    model, history = ae.train_autoencoder(S[:40], S[40:], config=config, seed=0)
    assert list(history.epoch) == [0, 1, 2]
    assert ae.stopping(history, config) == {"best_epoch": 0, "stop_epoch": 2,
                                            "best_val_loss": history.val_loss.iloc[0],
                                            "stop_reason": "plateau"}
    kept = float(np.mean((ae.reconstruct(model, S[40:]) - S[40:]) ** 2))
    assert kept == pytest.approx(history.val_loss.iloc[0], rel=1e-4)
    assert kept != pytest.approx(history.val_loss.iloc[-1], rel=1e-4)
    # a rule every epoch satisfies runs to the cap: the last epoch is the best and is kept
    config = dataclasses.replace(SMOKE, epochs=3, patience=1, min_improvement=0.0)
    model, history = ae.train_autoencoder(S[:40], S[40:], config=config, seed=0)
    stop = ae.stopping(history, config)
    if history.val_loss.is_monotonic_decreasing:
        assert stop["stop_reason"] == "epoch cap" and stop["best_epoch"] == stop["stop_epoch"] == 3
    kept = float(np.mean((ae.reconstruct(model, S[40:]) - S[40:]) ** 2))
    assert kept == pytest.approx(stop["best_val_loss"], rel=1e-4)


def test_other_seed_other_losses(trained):
    assert not np.allclose(trained["a"][1].loss.iloc[-1], trained["c"][1].loss.iloc[-1])


@pytest.mark.parametrize("which, bad, match", [
    ("S_train", np.full((4, 10, 23), 2.0, np.float32), r"scaled to \[0, 1\]"),
    ("S_train", np.zeros((4, 10), np.float32), r"\[n_clips, n_mels, n_frames\]"),
    ("S_val", spectrograms(4, 10, 22), r"shape \(10, 22\), expected \(10, 23\)"),
    ("S_pretrain", np.full((4, 10, 23), np.nan, np.float32), "NaN or inf"),
])
def test_train_rejects_bad_arrays(which, bad, match):
    arrays = {"S_train": spectrograms(8), "S_val": spectrograms(4), "S_pretrain": None, which: bad}
    with pytest.raises(ParameterError, match=match):
        ae.train_autoencoder(arrays["S_train"], arrays["S_val"], S_pretrain=arrays["S_pretrain"],
                             config=SMOKE, seed=0)


def test_train_needs_a_config():
    with pytest.raises(ParameterError, match="config must be an AutoencoderConfig"):
        ae.train_autoencoder(spectrograms(8), spectrograms(4), config={"epochs": 1}, seed=0)


def test_encode_rejects_wrong_shape(trained):
    model, _ = trained["a"]
    with pytest.raises(ParameterError, match=r"expected \(10, 23\)"):
        ae.encode(model, spectrograms(2, 12, 23))
    with pytest.raises(ParameterError, match="keras.Model"):
        ae.encode("not a model", spectrograms(2))


# --- baselines -----------------------------------------------------------------------------
def test_baseline_mse():
    S_train = np.stack([np.full((2, 3), 0.2), np.full((2, 3), 0.4)]).astype(np.float32)
    S_eval = np.array([[[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]], dtype=np.float32)
    got = ae.baseline_mse(S_train, S_eval)
    assert got["clip_mean"] == pytest.approx(0.25)
    assert got["dataset_mean"] == pytest.approx(np.mean((S_eval - 0.3) ** 2))
    with pytest.raises(ParameterError, match="expected"):
        ae.baseline_mse(S_train, spectrograms(1))


@pytest.mark.parametrize("size, expected", [(4, (2, 3, 6)), (2, (2, 5, 12)), (1, (2, 10, 23))])
def test_pool_spectrograms(size, expected):
    S = spectrograms(2)
    pooled = ae.pool_spectrograms(S, size=size)
    assert pooled.shape == expected and pooled.dtype == np.float32
    if size == 1:
        np.testing.assert_array_equal(pooled, S)
    assert pooled[0, 0, 0] == pytest.approx(S[0, :size, :size].mean())


def test_input_representations():
    reps = ae.input_representations(spectrograms(3))
    assert reps["spectrogram"].shape == (3, 2 * 3)  # 10 x 23 padded to 16 x 24, pooled 8 x 8
    assert reps["mel_stats"].shape == (3, 20)


# --- the stored experiment on the smoke corpus ----------------------------------------------
SMOKE_RUNS = {"conditions": ("none", "it"), "seeds": (0,)}


@pytest.fixture(scope="module")
def smoke_runs(smoke_store):
    return ae.ae_experiment("smoke", store=smoke_store, n_jobs=1, **SMOKE_RUNS)


@pytest.mark.slow
def test_experiment_table(smoke_runs):
    assert list(smoke_runs[["condition", "seed"]].itertuples(index=False, name=None)) == [
        ("none", 0), ("it", 0)]
    row = smoke_runs.set_index("condition")
    assert row.loc["none", "n_pretrain"] == 0 and row.loc["it", "n_pretrain"] > 0
    assert row.loc["it", "steps"] > row.loc["none", "steps"]  # pre-training steps count
    assert (smoke_runs[["loss", "val_loss", "val_loss_start"]] > 0).all().all()
    assert "train_seconds" in smoke_runs  # wall clock: a column named *seconds*
    # the smoke preset trains a fixed number of epochs: where and why each run stopped
    assert (smoke_runs.stop_reason == "fixed epochs").all()
    assert (smoke_runs.stop_epoch == SMOKE.epochs).all() and (smoke_runs.best_epoch == SMOKE.epochs).all()


def written(store, stage):
    """``{key: mtime}`` of a stage's complete entries: a rerun that computes nothing leaves it
    unchanged (patching a compute function would change the store keys, which hash the code)."""
    return {m.parent.name: m.stat().st_mtime_ns for m in (store.root / stage).glob("*/manifest.json")}


@pytest.mark.slow
def test_experiment_reuses_the_store(smoke_runs, smoke_store):
    before = written(smoke_store, ae.STAGE)
    again = ae.ae_experiment("smoke", store=smoke_store, n_jobs=1, **SMOKE_RUNS)
    assert written(smoke_store, ae.STAGE) == before
    pd.testing.assert_frame_equal(again, smoke_runs)
    history = ae.ae_history("smoke", store=smoke_store, **SMOKE_RUNS)
    assert set(history.condition) == {"none", "it"}
    assert list(history.columns) == ["condition", "seed", "phase", "epoch", "step", "loss", "val_loss"]
    model = ae.load_autoencoder("smoke", condition="it", seed=0, store=smoke_store)
    Z, clips = ae.ae_latents("smoke", condition="it", seed=0, store=smoke_store)
    assert Z.shape == (len(clips), ae.PRESETS["smoke"].latent_dim)
    fs, _ = ae.probe_clips("smoke", store=smoke_store)
    np.testing.assert_allclose(ae.encode(model, fs.scaled()), Z, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    ({"conditions": ["none", "fr"]}, r"unknown pre-training condition\(s\) \['fr'\]"),
    ({"seeds": [0, 0]}, "seeds has repeated elements"),
    ({"conditions": []}, "at least one pre-training condition"),
])
def test_experiment_rejects_bad_arguments(kwargs, match, tmp_home):
    with pytest.raises(ParameterError, match=match):
        ae.ae_experiment("smoke", **kwargs)


def test_unknown_preset(tmp_home):
    with pytest.raises(ParameterError, match="unknown preset 'huge'"):
        ae.ae_experiment("huge")


@pytest.mark.slow
def test_probe_experiment(smoke_runs, smoke_store, monkeypatch):
    from langlab import probing

    results = ae.ae_probe_experiment("smoke", store=smoke_store, n_jobs=1, **SMOKE_RUNS)
    assert set(results.condition) == {"none", "it", probing.UNTRAINED, probing.INPUT}
    assert set(results.seed) == {0}
    by_condition = results.groupby("condition")["representation"].agg(set)
    assert by_condition["none"] == {"latent"} and by_condition[probing.UNTRAINED] == {"latent"}
    assert by_condition[probing.INPUT] == {"spectrogram", "mel_stats"}
    assert set(results.task) == set(probing.TASKS)
    assert {"probe", "accuracy", "balanced_accuracy", "p_value", "note"} <= set(results.columns)
    ok = results[results.note == ""]
    assert ok.balanced_accuracy.between(0, 1).all()
    # the same procedure as Chapter 4: probe_table's rows, only condition and seed added
    fs, keep = ae.probe_clips("smoke", store=smoke_store)
    Z, _ = ae.ae_latents("smoke", condition="none", seed=0, store=smoke_store)
    table = fs.table.reset_index(drop=True).iloc[keep]
    expected = probing.probe_table({"latent": Z[keep]}, table.locale.to_numpy(),
                                   table.client_id.to_numpy(), config=probing.PRESETS["smoke"],
                                   seed=probing.PRESETS["smoke"].seed + 0)
    got = results[results.condition == "none"].drop(columns=["condition", "seed"])
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True),
                                  check_dtype=False)
    # a second call probes nothing (no entry new or rewritten) and starts no worker processes
    from langlab import runs

    # the claims on the real tables: the smoke preset trains a fixed number of epochs, so
    # nothing is judged, and the reason says how to test it
    claims = ae.claim_rows(results, smoke_runs)
    assert list(claims.name) == ["ae_above_chance", "ae_learned", "ae_pretraining_it"]
    assert (claims.verdict == ae.NOT_TESTED).all() and claims.n.eq(1).all()
    assert claims.reason.str.contains(r"2 of 2 runs did not reach a plateau .* \(fixed epochs\)").all()
    before = written(smoke_store, ae.PROBE_STAGE)
    monkeypatch.setattr(runs, "parallel", lambda n_jobs: pytest.fail("started workers"))
    again = ae.ae_probe_experiment("smoke", store=smoke_store, n_jobs=2, **SMOKE_RUNS)
    assert written(smoke_store, ae.PROBE_STAGE) == before
    pd.testing.assert_frame_equal(again, results)


# --- learned information and the claims ---------------------------------------------------
def probe_rows(scores: dict, *, metric: str = "auc") -> pd.DataFrame:
    """A table like ae_probe_experiment's: ``{(condition, representation): [score per seed]}``
    as linear binary probes, plus rows that must be ignored (another probe, another task)."""
    rows = []
    for (condition, rep), values in scores.items():
        for seed, value in enumerate(values):
            for probe, task, v in [("linear", "binary", value), ("control", "binary", 0.99),
                                   ("linear", "3way", 0.01)]:
                rows.append({"condition": condition, "seed": seed, "representation": rep,
                             "task": task, "probe": probe, metric: v})
    return pd.DataFrame(rows)


CLAIM_SCORES = {("none", "latent"): [0.70, 0.72, 0.74, 0.76],
                ("it", "latent"): [0.71, 0.73, 0.75, 0.77],
                ("untrained", "latent"): [0.60, 0.61, 0.62, 0.63],
                ("input", "mel_stats"): [0.9, 0.9, 0.9, 0.9]}


def plateau_runs(reasons=("plateau",) * 8) -> pd.DataFrame:
    return pd.DataFrame({"condition": ["none"] * 4 + ["it"] * 4, "seed": list(range(4)) * 2,
                         "stop_reason": list(reasons)})


def test_learned_effects_pair_trained_and_untrained_by_seed():
    from scipy import stats

    effects = ae.learned_effects(probe_rows(CLAIM_SCORES)).set_index("a")
    assert list(effects.index) == ["none", "it", ae.ALL_TRAINED]
    assert (effects["b"] == "untrained").all()
    d = np.array([0.10, 0.11, 0.12, 0.13])  # none - untrained per seed
    row = effects.loc["none"]
    assert row["mean"] == pytest.approx(d.mean())
    half = stats.t.ppf(0.975, 3) * d.std(ddof=1) / 2
    assert (row["low"], row["high"]) == (pytest.approx(d.mean() - half), pytest.approx(d.mean() + half))
    assert row["mean_a"] == pytest.approx(0.73) and row["mean_b"] == pytest.approx(0.615)
    assert effects.loc[ae.ALL_TRAINED, "mean"] == pytest.approx(np.mean(d + 0.005))
    with pytest.raises(ParameterError, match="needs trained and untrained latent rows"):
        ae.learned_effects(probe_rows({("none", "latent"): [0.7, 0.8]}))
    with pytest.raises(ParameterError, match=r"lacks column\(s\) \['auc'\]"):
        ae.learned_effects(probe_rows(CLAIM_SCORES, metric="accuracy"))


def test_claim_rows_judge_with_the_verdict_module():
    from langlab import plan, verdicts

    claims = ae.claim_rows(probe_rows(CLAIM_SCORES), plateau_runs()).set_index("name")
    assert list(claims.index) == ["ae_above_chance", "ae_learned", "ae_pretraining_it"]
    from langlab import lstm_probes

    assert ["name", *claims.columns] == list(lstm_probes.CLAIM_COLUMNS)  # Chapter 4's rows
    assert list(claims["kind"]) == ["above chance", "put there by training", "no effect of pre-training"]
    above = claims.loc["ae_above_chance"]
    assert above["estimate"] == pytest.approx(np.mean(CLAIM_SCORES["none", "latent"]) + 0.005)
    assert above["null"] == plan.CHANCE and above["low"] > plan.CHANCE
    assert above["verdict"] == verdicts.judge(above["low"], above["high"], claimed=above["claimed"],
                                              null=plan.CHANCE).label == "reproduced"
    learned = claims.loc["ae_learned"]
    assert learned["claimed"] == plan.MIN_LEARNED and learned["verdict"] == "reproduced"
    pre = claims.loc["ae_pretraining_it"]  # it - none = +0.01 every seed: inside +-DELTA
    assert pre["estimate"] == pytest.approx(0.01) and pre["verdict"] == "reproduced"
    assert "inside" in pre["reason"]
    # an untrained encoder as good as the trained one: "put there by training" is not shown
    same = {**CLAIM_SCORES, ("untrained", "latent"): [0.71, 0.72, 0.76, 0.75]}
    learned = ae.claim_rows(probe_rows(same), plateau_runs()).set_index("name").loc["ae_learned"]
    assert learned["verdict"] in ("not reproduced", "inconclusive") and learned["low"] < 0 < learned["high"]


def test_claims_not_tested_when_a_run_stopped_at_the_cap():
    claims = ae.claim_rows(probe_rows(CLAIM_SCORES), plateau_runs(("plateau",) * 7 + ("epoch cap",)))
    from langlab import verdicts

    assert ae.NOT_TESTED == verdicts.NOT_TESTED and ae.NOT_TESTED not in verdicts.LABELS
    assert (claims["verdict"] == ae.NOT_TESTED).all()
    assert claims["reason"].str.startswith("not tested at this scale").all()
    assert claims["reason"].str.contains(r"1 of 8 runs did not reach a plateau .* \(epoch cap\)").all()
    assert claims["reason"].str.contains(ae.PAPER_COMMAND, regex=False).all()
    with pytest.raises(ParameterError, match="runs_table must be ae_experiment's table"):
        ae.claim_rows(probe_rows(CLAIM_SCORES), pd.DataFrame({"seed": [0]}))
