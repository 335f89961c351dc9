"""Today's layer stacks of both models, kept as the baseline of the efficiency benchmark (issue 18).

Copied from ``langlab.models.build_next_frame_lstm`` and ``langlab.autoencoder.build_autoencoder``
as they were before the speed-ups (commit 447480c): Keras' generic ``LSTM`` layer plus a per-frame
``Dense``, and the autoencoder with ``Conv2DTranspose`` decoder layers, Keras' own
``BatchNormalization`` and ``UpSampling2D``. Same seeds, same initializers, same compile settings.
Not part of the package: only ``benchmarks/efficiency.py`` and the equivalence tests use them.
"""
from __future__ import annotations

import os

BN_MOMENTUM = 0.9  # langlab.autoencoder.BN_MOMENTUM


def _set_seed(seed: int) -> None:
    """``langlab.models.set_seed``: seeds plus TensorFlow's op determinism."""
    import keras
    import tensorflow as tf
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def _derived(seed: int, index: int) -> int:
    return int(seed) * 1_000 + int(index)


def baseline_lstm(*, n_mels: int, units: int = 250, learning_rate: float = 1e-2,
                  decay_steps: int = 10_000, decay_rate: float = 0.9, seed: int | None = None):
    """The next-frame LSTM as built before issue 18 (``LSTM`` + ``Dense``, MSE, Adam)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from keras import layers

    if seed is not None:
        _set_seed(seed)
    seeded = {} if seed is None else {
        "lstm": dict(kernel_initializer=keras.initializers.GlorotUniform(seed=_derived(seed, 1)),
                     recurrent_initializer=keras.initializers.Orthogonal(seed=_derived(seed, 2))),
        "dense": dict(kernel_initializer=keras.initializers.GlorotUniform(seed=_derived(seed, 3))),
    }
    frames = keras.Input(shape=(None, int(n_mels)), name="frames")
    sequence, h, c = layers.LSTM(int(units), return_sequences=True, return_state=True,
                                 name="lstm", **seeded.get("lstm", {}))(frames)
    prediction = layers.Dense(int(n_mels), name="next_frame", **seeded.get("dense", {}))(sequence)
    model = keras.Model(frames, prediction, name="next_frame_lstm")
    schedule = keras.optimizers.schedules.ExponentialDecay(
        float(learning_rate), decay_steps=int(decay_steps), decay_rate=float(decay_rate))
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse", jit_compile=False)
    return model


def baseline_autoencoder(*, n_mels: int, n_frames: int, filters=(32, 64, 4), kernel_size: int = 3,
                         latent_dim: int = 1000, learning_rate: float = 1e-3, seed: int | None = None):
    """The convolutional autoencoder as built before issue 18 (``Conv2DTranspose`` decoder)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from keras import layers

    if seed is not None:
        _set_seed(seed)
    h, w = -(-n_mels // 4) * 4, -(-n_frames // 4) * 4
    f1, f2, f3 = (int(f) for f in filters)
    k = int(kernel_size)
    layer_index = iter(range(1, 100))

    def init():
        if seed is None:
            return "glorot_uniform"
        return keras.initializers.GlorotUniform(seed=int(seed) * 1_000 + next(layer_index))

    def conv_bn_relu(x, channels, name, transpose=False):
        conv = layers.Conv2DTranspose if transpose else layers.Conv2D
        x = conv(channels, k, padding="same", use_bias=False, kernel_initializer=init(),
                 name=f"{name}_conv")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)

    S_in = keras.Input(shape=(n_mels, n_frames), name="S")
    x = layers.Reshape((n_mels, n_frames, 1), name="add_channel")(S_in)
    x = layers.ZeroPadding2D(((0, h - n_mels), (0, w - n_frames)), name="pad")(x)
    x = conv_bn_relu(x, f1, "enc1")
    x = layers.MaxPooling2D(2, name="enc1_pool")(x)
    x = conv_bn_relu(x, f2, "enc2")
    x = layers.MaxPooling2D(2, name="enc2_pool")(x)
    x = conv_bn_relu(x, f3, "enc3")
    x = layers.Flatten(name="flatten")(x)
    z = layers.Dense(int(latent_dim), kernel_initializer=init(), name="latent")(x)
    encoder = keras.Model(S_in, z, name="encoder")

    z_in = keras.Input(shape=(int(latent_dim),), name="z")
    x = layers.Dense((h // 4) * (w // 4) * f3, activation="relu", kernel_initializer=init(),
                     name="expand")(z_in)
    x = layers.Reshape((h // 4, w // 4, f3), name="unflatten")(x)
    x = conv_bn_relu(x, f2, "dec1", transpose=True)
    x = layers.UpSampling2D(2, name="dec1_up")(x)
    x = conv_bn_relu(x, f1, "dec2", transpose=True)
    x = layers.UpSampling2D(2, name="dec2_up")(x)
    x = layers.Conv2DTranspose(1, k, padding="same", activation="sigmoid", kernel_initializer=init(),
                               name="out_conv")(x)
    x = layers.Cropping2D(((0, h - n_mels), (0, w - n_frames)), name="crop")(x)
    S_hat = layers.Reshape((n_mels, n_frames), name="drop_channel")(x)
    decoder = keras.Model(z_in, S_hat, name="decoder")

    model = keras.Model(S_in, decoder(encoder(S_in)), name="autoencoder")
    model.compile(optimizer=keras.optimizers.Adam(float(learning_rate)), loss="mse", jit_compile=False)
    return model
