"""The faster layers compute the functions of the Keras layers they replace (issue 18).

Each model is compared with today's layer stack (``benchmarks/baseline_models.py``): the same
parameter count, the same initial weights for the same seed, and, with the weights copied
across, the same outputs, gradients and training losses to float32 tolerance.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest

from langlab import autoencoder, models

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "benchmarks"))
import baseline_models  # noqa: E402

RNG = np.random.default_rng(0)


def _weights_equal(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(u.shape == v.shape and np.array_equal(u, v) for u, v in zip(wa, wb))


def _gradients(model, x, y):
    import tensorflow as tf
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(x, training=True) - y) ** 2)
    return [np.asarray(g) for g in tape.gradient(loss, model.trainable_weights)]


# --- the LSTM ------------------------------------------------------------------------------
@pytest.mark.parametrize("n_mels, units, n_frames", [(6, 5, 9), (40, 64, 20), (4, 130, 5)])  # 130: Keras loop
def test_lstm_equals_kerass_lstm(n_mels, units, n_frames):
    ours = models.build_next_frame_lstm(n_mels=n_mels, units=units, seed=3)
    base = baseline_models.baseline_lstm(n_mels=n_mels, units=units, seed=3)
    assert ours.count_params() == base.count_params()
    assert _weights_equal(ours, base)  # same initial values for the same seed
    x = RNG.random((4, n_frames, n_mels), dtype=np.float32)
    y = RNG.random((4, n_frames, n_mels), dtype=np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), base.predict(x, verbose=0), atol=1e-5)
    for a, b in zip(models.state_model(ours)(x), models.state_model(base)(x)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    for g_ours, g_base in zip(_gradients(ours, x, y), _gradients(base, x, y)):
        np.testing.assert_allclose(g_ours, g_base, rtol=1e-4, atol=1e-6)
    losses = [[float(m.train_on_batch(x, y)) for _ in range(5)] for m in (ours, base)]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)


def test_lstm_any_sequence_length_and_saving(tmp_path):
    import keras

    model = models.build_next_frame_lstm(n_mels=4, units=3, seed=0)
    for n_frames in (1, 2, 17):
        assert model.predict(np.zeros((2, n_frames, 4), np.float32), verbose=0).shape == (2, n_frames, 4)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    x = RNG.random((3, 5, 4), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


# --- the autoencoder -----------------------------------------------------------------------
@pytest.mark.parametrize("n_mels, n_frames, filters, kernel_size", [
    (10, 23, (4, 8, 4), 3), (12, 16, (2, 3, 2), 5), (8, 8, (2, 3, 2), 1), (8, 12, (2, 3, 2), 2)])
def test_autoencoder_equals_the_layer_stack(n_mels, n_frames, filters, kernel_size):
    """Conv2DTranspose after UpSampling2D as one convolution on the small grid, fused batch
    norm, fused Adam: same parameters, initial weights, outputs, gradients and losses."""
    kwargs = dict(n_mels=n_mels, n_frames=n_frames, filters=filters, kernel_size=kernel_size,
                  latent_dim=7, seed=2)
    ours = autoencoder.build_autoencoder(**kwargs)
    base = baseline_models.baseline_autoencoder(**kwargs)
    assert ours.count_params() == base.count_params()
    assert _weights_equal(ours, base)
    S = RNG.random((5, n_mels, n_frames), dtype=np.float32)
    np.testing.assert_allclose(ours.predict(S, verbose=0), base.predict(S, verbose=0), atol=1e-5)
    np.testing.assert_allclose(ours(S, training=True), base(S, training=True), atol=1e-5)
    for g_ours, g_base in zip(_gradients(ours, S, S), _gradients(base, S, S)):
        np.testing.assert_allclose(g_ours, g_base, rtol=1e-3, atol=1e-6)
    losses = [[float(m.train_on_batch(S, S)) for _ in range(4)] for m in (ours, base)]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)
    # moving statistics of the batch norms follow Keras' (biased batch variance)
    for a, b in zip(ours.get_weights(), base.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_upsampled_conv_transpose_maps_weights_from_the_two_layers():
    """Weights of UpSampling2D + Conv2DTranspose copied into the one layer: same outputs."""
    import keras
    from keras import layers

    from langlab.layers import UpsampledConvTranspose

    x = RNG.random((2, 5, 7, 3), dtype=np.float32)
    for k in (1, 3, 5, 7):
        plain = keras.Sequential([keras.Input((5, 7, 3)), layers.UpSampling2D(2),
                                  layers.Conv2DTranspose(4, k, padding="same")])
        fused = keras.Sequential([keras.Input((5, 7, 3)), UpsampledConvTranspose(4, k, padding="same")])
        weights = [RNG.normal(size=w.shape).astype(np.float32) for w in plain.get_weights()]
        plain.set_weights(weights)
        fused.set_weights(weights)
        assert fused.count_params() == plain.count_params()
        np.testing.assert_allclose(fused(x), plain(x), rtol=1e-5, atol=1e-5)


def test_upsampled_conv_transpose_refuses_even_kernels():
    import keras

    from langlab.layers import UpsampledConvTranspose

    with pytest.raises(ValueError, match="odd"):
        keras.Sequential([keras.Input((4, 4, 1)), UpsampledConvTranspose(2, 2, padding="same")])


def test_autoencoder_saves_and_loads(tmp_path):
    import keras

    model = autoencoder.build_autoencoder(n_mels=8, n_frames=12, filters=(2, 3, 2), latent_dim=5, seed=0)
    model.save(tmp_path / "ae.keras")
    loaded = keras.models.load_model(tmp_path / "ae.keras", compile=False)
    S = RNG.random((3, 8, 12), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(S, verbose=0), model.predict(S, verbose=0), atol=1e-6)
