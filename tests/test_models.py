"""The next-frame LSTM: shapes, parameter counts, the k-step shift and the state view."""
from __future__ import annotations

import numpy as np
import pytest

from langlab import models
from langlab.errors import ParameterError


@pytest.fixture(scope="module")
def small():
    return models.build_next_frame_lstm(n_mels=6, units=5, seed=0)


def test_paper_size_has_the_original_parameter_count():
    model = models.build_next_frame_lstm(n_mels=128, units=250, seed=0)
    assert model.count_params() == 411_128  # "about 411k parameters"
    assert [r["params"] for r in models.parameter_table(model)] == [0, 379_000, 32_128]


@pytest.mark.parametrize("n_frames", [1, 7, 30])
def test_output_has_the_input_shape_for_any_length(small, n_frames):
    x = np.random.default_rng(0).random((3, n_frames, 6), dtype=np.float32)
    y = small.predict(x, verbose=0)
    assert y.shape == (3, n_frames, 6) and y.dtype == np.float32


@pytest.mark.parametrize("kwargs, match", [
    ({"n_mels": 0}, "n_mels"),
    ({"n_mels": 4, "units": 0}, "units"),
    ({"n_mels": 4, "units": 2.5}, "units"),
    ({"n_mels": 4, "learning_rate": 0}, "learning_rate"),
    ({"n_mels": 4, "decay_rate": 1.5}, "decay_rate"),
    ({"n_mels": 4, "decay_steps": 0}, "decay_steps"),
])
def test_bad_parameters_are_refused(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        models.build_next_frame_lstm(**kwargs)


def test_same_seed_same_initial_weights():
    a = models.build_next_frame_lstm(n_mels=4, units=3, seed=7).get_weights()
    b = models.build_next_frame_lstm(n_mels=4, units=3, seed=7).get_weights()
    c = models.build_next_frame_lstm(n_mels=4, units=3, seed=8).get_weights()
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not all(np.array_equal(u, v) for u, v in zip(a, c))


def test_state_model_returns_final_h_and_c(small):
    x = np.random.default_rng(1).random((4, 9, 6), dtype=np.float32)
    h, c = (np.asarray(v) for v in models.state_model(small)(x))
    assert h.shape == c.shape == (4, 5)
    seq, h2, c2 = (np.asarray(v) for v in models.state_model(small, sequences=True)(x))
    assert seq.shape == (4, 9, 5)
    np.testing.assert_allclose(seq[:, -1], h, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(h2, h, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(c2, c, rtol=1e-6, atol=1e-6)
    assert not np.allclose(h, c)


def test_state_model_shares_the_weights():
    model = models.build_next_frame_lstm(n_mels=4, units=3, seed=0)
    view = models.state_model(model)
    x = np.ones((1, 5, 4), dtype=np.float32)
    before = np.asarray(view(x)[0])
    model.set_weights([w * 2 for w in model.get_weights()])
    assert not np.allclose(np.asarray(view(x)[0]), before)


def test_state_model_of_a_saved_and_loaded_model(small, tmp_path):
    import keras
    small.optimizer.build(small.trainable_variables)  # as after training: saved with the model
    small.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(2).random((2, 8, 6), dtype=np.float32)
    for a, b in zip(models.state_model(small)(x), models.state_model(loaded)(x)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)


def test_state_model_refuses_other_models():
    import keras
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ParameterError, match="no layer 'lstm'"):
        models.state_model(other)


@pytest.mark.parametrize("shift", [1, 2, 5])
def test_shift_pairs_target_is_k_frames_ahead(shift):
    segments = np.arange(2 * 8 * 3, dtype=np.float32).reshape(2, 8, 3)
    x, y = models.shift_pairs(segments, shift=shift)
    assert x.shape == y.shape == (2, 8 - shift, 3)
    np.testing.assert_array_equal(x, segments[:, :8 - shift])
    np.testing.assert_array_equal(y, segments[:, shift:])
    np.testing.assert_array_equal(x[:, shift:], y[:, :-shift])  # the target of t is the input at t + k


@pytest.mark.parametrize("shift, match", [(0, "positive"), (8, "too short"), (1.5, "positive")])
def test_shift_pairs_bad_shift(shift, match):
    with pytest.raises(ParameterError, match=match):
        models.shift_pairs(np.zeros((1, 8, 2)), shift=shift)


def test_to_sequences_and_predict_spectrogram(small):
    S = np.random.default_rng(3).random((2, 6, 11), dtype=np.float32)
    x = models.to_sequences(S)
    assert x.shape == (2, 11, 6) and x.flags.c_contiguous
    np.testing.assert_array_equal(x[1, 4], S[1, :, 4])
    S_hat = models.predict_spectrogram(small, S)
    assert S_hat.shape == S.shape
    with pytest.raises(ParameterError, match="mel bands"):
        models.predict_spectrogram(small, S[:, :5])
    with pytest.raises(ParameterError, match="n_clips, n_mels, n_frames"):
        models.to_sequences(S[0])


@pytest.mark.parametrize("bad", [-1, 1.5, "0"])
def test_set_seed_refuses_bad_seeds(bad):
    with pytest.raises(ParameterError, match="seed"):
        models.set_seed(bad)


def _unit(store, name, i, *, threads, scale=1):
    """Store ``i * scale``, the ``threads`` the unit was given and its process; return the key."""
    import os

    entry = store.entry("unit", config={"name": name, "i": i})
    entry.write(lambda folder: {"value": i * scale, "threads": threads, "pid": os.getpid()})
    return entry.key


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_compute_missing_runs_only_the_missing_units(tmp_path, n_jobs):
    import os

    import joblib

    from langlab.store import Store

    store = Store(tmp_path)
    _unit(store, "a", 1, threads=0)  # stored before
    entries = {("a", i): store.entry("unit", config={"name": "a", "i": i}) for i in range(4)}
    backend = "loky" if n_jobs == 1 else "threading"  # compute_missing forces no backend
    with joblib.parallel_config(backend=backend):
        done = models.compute_missing(entries, _unit, store, n_jobs=n_jobs, threads=3, desc="units",
                                      scale=2)
    assert list(done) == list(entries) and all(e.exists() for e in done.values())
    got = [(e.manifest()["value"], e.manifest()["threads"]) for e in done.values()]
    assert got == [(0, 3), (1, 0), (4, 3), (6, 3)]  # every unit gets the fixed thread count
    if n_jobs == 1:  # one after the other, in one worker process, never in this one
        pids = {e.manifest()["pid"] for unit, e in done.items() if unit != ("a", 1)}
        assert len(pids) == 1 and os.getpid() not in pids


def test_compute_missing_starts_no_workers_when_all_is_stored(tmp_path, monkeypatch):
    from langlab.store import Store

    store = Store(tmp_path)
    entries = {("a", 0): store.entry("unit", config={"name": "a", "i": 0})}
    _unit(store, "a", 0, threads=1)
    monkeypatch.setattr(models, "parallel", lambda n_jobs: pytest.fail("started workers"))
    assert models.compute_missing(entries, _unit, store, n_jobs=2, threads=1, desc="units") == entries


def test_clip_counts():
    class Data:
        S_train, S_val, S_pretrain = np.zeros((5, 2, 3)), np.zeros((2, 2, 3)), None

    assert models.clip_counts(Data) == {"n_train": 5, "n_val": 2, "n_pretrain": 0}
