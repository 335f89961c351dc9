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


def test_check_spectrograms_names_the_array_and_the_problem():
    S = np.full((2, 3, 4), 0.5, dtype=np.float32)
    assert models.check_spectrograms(S, "S", n_mels=3, shape=(3, 4), unit_range=True).dtype == np.float32
    for bad, kwargs, match in [(S[0], {}, r"S must be an array \[n_clips, n_mels, n_frames\]"),
                               (S, {"n_mels": 4}, "S has 3 mel bands, expected 4"),
                               (S, {"shape": (3, 5)}, r"shape \(3, 4\), expected \(3, 5\)"),
                               (S * np.nan, {}, "NaN or inf"),
                               (S * 3, {"unit_range": True}, r"scaled to \[0, 1\]")]:
        with pytest.raises(ParameterError, match=match):
            models.check_spectrograms(bad, "S", **kwargs)


def test_warm_model_keeps_one_model_a_thread():
    import threading
    models.clear_warm()
    built = []

    def build(name):
        built.append(name)
        return name

    assert models.warm_model(("a",), lambda: build("a")) == "a"
    assert models.warm_model(("a",), lambda: build("again")) == "a"  # kept
    assert models.warm_model(("b",), lambda: build("b")) == "b"  # replaces it
    assert models.warm_model(("a",), lambda: build("a2")) == "a2"
    other = []
    thread = threading.Thread(target=lambda: other.append(models.warm_model(("a",), lambda: build("t"))))
    thread.start()
    thread.join()
    assert other == ["t"] and built == ["a", "b", "a2", "t"]  # another thread keeps its own
    models.clear_warm()


def test_reset_model_equals_a_fresh_model():
    trained = models.build_next_frame_lstm(n_mels=4, units=3, seed=1)
    x = np.random.default_rng(0).random((2, 5, 4), dtype=np.float32)
    trained.train_on_batch(x, x)
    fresh = models.build_next_frame_lstm(n_mels=4, units=3, seed=2)
    models.reset_model(trained, fresh)
    assert int(trained.optimizer.iterations.numpy()) == 0
    for a, b in zip(trained.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(trained.train_on_batch(x, x), fresh.train_on_batch(x, x))
