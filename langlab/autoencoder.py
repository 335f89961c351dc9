"""A convolutional autoencoder on mel spectrograms, pre-trained like the LSTM (Chapter 5).

The original study's second model compresses a whole spectrogram into one latent vector and
reconstructs it; its latent code was then probed for language like the LSTM's states. Here:

- :func:`build_autoencoder`: the Keras model. Encoder Conv(32)-BN-ReLU-MaxPool,
  Conv(64)-BN-ReLU-MaxPool, Conv(4)-BN-ReLU, flatten, Dense latent; a mirrored decoder (Dense,
  transposed convolutions, upsampling) ending in a sigmoid, so that it reproduces min-max
  scaled spectrograms in [0, 1]; MSE loss, Adam. Input and output are ``[batch, n_mels,
  n_frames]``; the model zero-pads to a multiple of 4 inside and crops the output back.
- :func:`train_autoencoder`: optional pre-training (one epoch on low-passed speech of one
  language, or on the no-language noise control), then full-band Spanish until the held-out
  validation loss reaches a plateau (:func:`plateau_stop`, the rule of
  :class:`AutoencoderConfig`) or the epoch cap, keeping the weights of the best epoch; train
  and validation loss after every epoch. Pure arrays.
- :data:`SPEC`, :func:`ae_experiment`: the autoencoder as a model of :mod:`langlab.runs`: every
  (pre-training condition, seed) of a preset, through joblib, each run one store entry (model,
  history, probe-set latents), so a rebuild trains nothing.
- :func:`encode`, :func:`reconstruct`: latents and reconstructions of spectrograms.
- :data:`PROBE_SPEC`, :func:`ae_probe_experiment`: the probing module's procedure, unchanged,
  on the latents, with the raw-spectrogram and untrained-encoder baselines, through the same
  runner.
- :func:`learned_effects`, :func:`ae_claims`: what training put into the code (trained minus
  untrained encoder, paired by seed, with intervals) and the claim rows with their verdicts
  (Chapters 5 and 6).

TensorFlow is imported only inside functions, so ``import langlab.autoencoder`` stays cheap.
"""
from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from langlab import runs
from langlab.errors import DataError, ParameterError, check, check_int, check_number, check_tuple, checked
from langlab.models import check_spectrograms, reset_model, set_seed, warm_model
from langlab.presets import as_preset
from langlab.pretraining import CONDITIONS, check_conditions
from langlab.store import atomic_save_npy, default_store
from langlab.verdicts import NOT_TESTED as _NOT_TESTED

#: Store stage of one trained (condition, seed) autoencoder.
STAGE = "autoencoder"
#: Store stage of the probes of one (condition, seed) unit (see :func:`ae_probe_experiment`).
PROBE_STAGE = "autoencoder-probe"
#: Both pooling steps halve each axis, so the model pads its input to a multiple of this.
MULTIPLE = 4
#: Momentum of the batch-norm layers' running statistics (Keras' default is 0.99). Short runs
#: take only some dozens of steps; with 0.99 the running mean and variance that the model uses
#: at evaluation would still be mostly their initial 0 and 1, and the held-out loss would be
#: far worse than the training loss for that reason alone.
BN_MOMENTUM = 0.9


@dataclasses.dataclass(frozen=True)
class AutoencoderConfig:
    """Size and training schedule of the convolutional autoencoder (Chapter 5).

    Parameters
    ----------
    filters : tuple of 3 int
        Channels of the three encoder convolutions (the original: 32, 64, 4); the decoder
        mirrors the first two.
    kernel_size : int
        Square kernel of every convolution.
    latent_dim : int
        Length of the latent vector (the original: 1 000 in its notebook, 3 000 in its slides).
    batch_size : int
        Clips per optimizer step (the original: 300).
    learning_rate : float
        Adam's step size (the original: 1e-3).
    pretrain_epochs : int
        Epochs over the pre-training clips (the protocol: 1).
    epochs : int
        Most epochs of full-band Spanish training after pre-training: the cap of the stopping
        rule (all of them when ``patience`` is None).
    patience : int or None
        The stopping rule (:func:`plateau_stop`): stop once the validation loss has not
        improved on the best so far by at least ``min_improvement`` (relative) for this many
        epochs in a row, and keep the weights of the best epoch. None: train exactly
        ``epochs`` epochs and keep the last weights.
    min_improvement : float
        Relative improvement over the best validation loss that counts as one (0.01: 1 %).
    seeds : tuple of int
        Training seeds of each condition.
    conditions : tuple of str
        Pre-training conditions: names registered in :mod:`langlab.pretraining` (default
        :data:`langlab.pretraining.CONDITIONS`).
    threads : int
        TensorFlow threads per worker process when runs execute in parallel.
    n_jobs : int
        Parallel (condition, seed) runs by default.
    """

    filters: tuple[int, int, int] = (32, 64, 4)
    kernel_size: int = 3
    latent_dim: int = 1000
    batch_size: int = 300
    learning_rate: float = 1e-3
    pretrain_epochs: int = 1
    epochs: int = 20
    patience: int | None = 3
    min_improvement: float = 0.01
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    conditions: tuple[str, ...] = CONDITIONS
    threads: int = 1
    n_jobs: int = 2

    def __post_init__(self):
        checked(self, "filters", check_tuple, item=lambda f, name: check_int(f, name, minimum=1))
        check(len(self.filters) == 3, f"filters must be three positive integers (e.g. (32, 64, 4)), "
                                      f"got {self.filters!r}")
        for name in ("kernel_size", "latent_dim", "batch_size", "epochs", "threads"):
            checked(self, name, check_int, minimum=1)
        check_number(self.learning_rate, "learning_rate", minimum=0, maximum=1, open_low=True, open_high=True)
        checked(self, "pretrain_epochs", check_int, minimum=0)
        if self.patience is not None:
            checked(self, "patience", check_int, minimum=1)
        check_number(self.min_improvement, "min_improvement", minimum=0, maximum=1, open_high=True)
        checked(self, "seeds", lambda v, name: runs.check_seeds(v))
        check(isinstance(self.conditions, tuple), f"conditions must be a tuple, got {self.conditions!r}")
        check_conditions(self.conditions)
        checked(self, "n_jobs", check_int, minimum=1, also=(-1,))

    def training_fields(self) -> dict[str, Any]:
        """The fields one trained run depends on (part of its store key): not the seed list,
        the conditions or the parallelism, so adding a seed reuses the runs already stored."""
        skip = {"seeds", "conditions", "threads", "n_jobs"}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}


PRESETS = {
    # Tiny, for tests: a few seconds a run; a fixed 2 epochs, no stopping rule.
    "smoke": AutoencoderConfig(filters=(4, 8, 4), latent_dim=16, batch_size=16, epochs=2,
                               patience=None, seeds=(0, 1)),
    # Sized for Chapter 5 on a 2-core CPU: trained to a plateau of the validation loss (1 %
    # over 3 epochs; 17 to 24 epochs of 26 steps, about 8 CPU-seconds a run on 40 x 188
    # spectrograms, 215 training clips, 1 thread). To pay for it, only the original's four
    # conditions (no noise control), but 6 seeds: with 5 or fewer pairs the exact sign-flip
    # test of a paired difference can never reach p < 0.05 (langlab.paired).
    "book": AutoencoderConfig(filters=(8, 16, 4), latent_dim=64, batch_size=8, epochs=40,
                              patience=3, min_improvement=0.01, seeds=(0, 1, 2, 3, 4, 5),
                              conditions=("none", "es", "it", "ja")),
    # Near the original: 32/64/4 filters on 128 x 216 spectrograms, latent 1 000, batch 300;
    # the same stopping rule, at most 20 epochs.
    "paper": AutoencoderConfig(filters=(32, 64, 4), latent_dim=1000, batch_size=300, epochs=20,
                               patience=3, min_improvement=0.01, seeds=(0, 1, 2, 3, 4)),
}


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------
def padded_shape(n_mels: int, n_frames: int, *, multiple: int = MULTIPLE) -> tuple[int, int]:
    """``(n_mels, n_frames)`` rounded up to multiples of ``multiple`` (what the convolutions see)."""
    check(n_mels >= 1 and n_frames >= 1, f"spectrogram shape must be positive, got {(n_mels, n_frames)}")
    return (-(-n_mels // multiple) * multiple, -(-n_frames // multiple) * multiple)


def build_autoencoder(*, n_mels: int, n_frames: int, filters: Sequence[int] = (32, 64, 4),
                      kernel_size: int = 3, latent_dim: int = 1000, learning_rate: float = 1e-3,
                      seed: int | None = None):
    """The convolutional autoencoder of Chapter 5, compiled with MSE and Adam.

    Parameters
    ----------
    n_mels, n_frames : int
        Spectrogram size. The encoder zero-pads (at the top bands and the end in time) to the
        next multiples of 4 so that the two 2 x 2 poolings divide evenly; the decoder's output
        is cropped back, so padding never enters the loss.
    filters : sequence of 3 int
        Channels of the encoder's convolutions (the original: 32, 64, 4).
    kernel_size : int
        Square kernel size of every convolution.
    latent_dim : int
        Length of the latent code (a linear Dense layer).
    learning_rate : float
        Adam's learning rate.
    seed : int or None
        If given, :func:`set_seed` first, so the initial weights are reproducible.

    Returns
    -------
    keras.Model
        ``autoencoder``: input ``[batch, n_mels, n_frames]`` float32, output the same shape in
        [0, 1] (sigmoid). Its layers ``"encoder"`` (to ``[batch, latent_dim]``) and
        ``"decoder"`` (back) are models of their own.
    """
    cfg = AutoencoderConfig(filters=tuple(int(f) for f in filters), kernel_size=int(kernel_size),
                            latent_dim=int(latent_dim), learning_rate=float(learning_rate))
    check(isinstance(n_mels, (int, np.integer)) and isinstance(n_frames, (int, np.integer))
          and n_mels >= 1 and n_frames >= 1,
          f"n_mels and n_frames must be positive integers, got {n_mels!r} and {n_frames!r}")
    if seed is not None:
        set_seed(seed)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from keras import layers

    # Fused batch normalisation and Adam, and each upsampling with the transposed convolution
    # after it computed on the small grid (langlab.layers, issue 18): the same function,
    # weights and initial values as Keras' BatchNormalization, UpSampling2D + Conv2DTranspose
    # and Adam. An even kernel keeps the two layers (the one-layer form needs an odd one).
    from langlab.layers import FusedAdam, FusedBatchNorm, UpsampledConvTranspose

    n_mels, n_frames = int(n_mels), int(n_frames)
    h, w = padded_shape(n_mels, n_frames)
    f1, f2, f3 = cfg.filters
    k = cfg.kernel_size

    # Every kernel initializer gets its own seed derived from ``seed``. Without one, Keras draws
    # an initializer's seed from Python's global ``random`` when the layer is built, so another
    # thread touching ``random`` meanwhile (a Dask worker's event loop does) would change the
    # initial weights. Biases and batch-norm parameters start at constants.
    layer_index = iter(range(1, 100))

    def init():
        if seed is None:
            return "glorot_uniform"
        return keras.initializers.GlorotUniform(seed=int(seed) * 1_000 + next(layer_index))

    def up_transpose(x, channels, name, **kwargs):
        """UpSampling2D(2) + Conv2DTranspose(channels, k, stride 1, "same")."""
        if k % 2:
            return UpsampledConvTranspose(channels, k, padding="same", name=name, **kwargs)(x)
        x = layers.UpSampling2D(2, name=f"{name}_up")(x)
        return layers.Conv2DTranspose(channels, k, padding="same", name=name, **kwargs)(x)

    def conv_bn_relu(x, channels, name, transpose=False, upsample=False):
        if upsample:
            x = up_transpose(x, channels, f"{name}_conv", use_bias=False, kernel_initializer=init())
        else:
            conv = layers.Conv2DTranspose if transpose else layers.Conv2D
            x = conv(channels, k, padding="same", use_bias=False, kernel_initializer=init(),
                     name=f"{name}_conv")(x)
        x = FusedBatchNorm(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
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
    z = layers.Dense(cfg.latent_dim, kernel_initializer=init(), name="latent")(x)
    encoder = keras.Model(S_in, z, name="encoder")

    z_in = keras.Input(shape=(cfg.latent_dim,), name="z")
    x = layers.Dense((h // 4) * (w // 4) * f3, activation="relu", kernel_initializer=init(),
                     name="expand")(z_in)
    x = layers.Reshape((h // 4, w // 4, f3), name="unflatten")(x)
    x = conv_bn_relu(x, f2, "dec1", transpose=True)
    x = conv_bn_relu(x, f1, "dec2", upsample=True)
    x = up_transpose(x, 1, "out_conv", activation="sigmoid", kernel_initializer=init())
    x = layers.Cropping2D(((0, h - n_mels), (0, w - n_frames)), name="crop")(x)
    S_hat = layers.Reshape((n_mels, n_frames), name="drop_channel")(x)
    decoder = keras.Model(z_in, S_hat, name="decoder")

    model = keras.Model(S_in, decoder(encoder(S_in)), name="autoencoder")
    model.compile(optimizer=FusedAdam(cfg.learning_rate), loss="mse", jit_compile=False)
    return model


def build_for(config: AutoencoderConfig, *, n_mels: int, n_frames: int, seed: int | None = None):
    """:func:`build_autoencoder` with the sizes of ``config`` (a preset's ``autoencoder``)."""
    return build_autoencoder(n_mels=n_mels, n_frames=n_frames, filters=config.filters,
                             kernel_size=config.kernel_size, latent_dim=config.latent_dim,
                             learning_rate=config.learning_rate, seed=seed)


def shape_table(model) -> pd.DataFrame:
    """One row per layer of the encoder and decoder: ``part``, ``layer``, ``output_shape``
    (without the batch axis) and ``params`` (Chapter 5's architecture table)."""
    rows = []
    for part in ("encoder", "decoder"):
        for layer in model.get_layer(part).layers:
            shape = layer.output.shape if hasattr(layer, "output") else None
            rows.append({"part": part, "layer": layer.name, "kind": type(layer).__name__,
                         "output_shape": " x ".join(str(d) for d in tuple(shape)[1:]),
                         "params": int(layer.count_params())})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Training on arrays
# --------------------------------------------------------------------------------------------
def _check_S(S: Any, name: str, *, shape: tuple[int, int] | None = None) -> np.ndarray:
    """``S`` as float32 ``[n, n_mels, n_frames]`` with finite values in [0, 1]."""
    return check_spectrograms(S, name, shape=shape, unit_range=True)


def plateau_stop(val_losses, *, patience: int | None, min_improvement: float = 0.01) -> tuple[int, int | None]:
    """Where the stopping rule of :class:`AutoencoderConfig` stops on a validation-loss curve
    (Chapter 5).

    An epoch *improves* when its loss is below the best so far by at least
    ``min_improvement`` of it (relative); it then becomes the best. Training stops at the first
    epoch that is ``patience`` epochs after the best, and the best epoch's weights are kept.

    Parameters
    ----------
    val_losses : sequence of float
        Validation loss at epochs 0, 1, 2, ... (epoch 0: before training, the first best).
    patience : int or None
        Epochs without an improvement before stopping; None never stops.
    min_improvement : float
        Relative improvement that counts, in [0, 1).

    Returns
    -------
    best_epoch : int
        The epoch whose weights are kept.
    stop_epoch : int or None
        The epoch at which the rule stops, or None if it does not stop within the curve.
    """
    losses = [check_number(v, f"val_losses[{i}]") for i, v in enumerate(val_losses)]
    check(len(losses) >= 1, "val_losses needs at least the loss at epoch 0")
    if patience is not None:
        patience = check_int(patience, "patience", minimum=1)
    min_improvement = check_number(min_improvement, "min_improvement", minimum=0, maximum=1, open_high=True)
    best, best_epoch = losses[0], 0
    for epoch, loss in enumerate(losses[1:], start=1):
        if loss < best * (1 - min_improvement) or (min_improvement == 0 and loss < best):
            best, best_epoch = loss, epoch
        elif patience is not None and epoch - best_epoch >= patience:
            return best_epoch, epoch
    return best_epoch, None


def stopping_rule(config: AutoencoderConfig) -> str:
    """The stopping rule of ``config`` in words (Chapter 5 states it from here)."""
    if config.patience is None:
        return f"a fixed {config.epochs} epochs of Spanish training"
    return (f"stop when the held-out loss has not improved on its best by at least "
            f"{100 * config.min_improvement:g} % for {config.patience} epochs in a row, keep the "
            f"weights of the best epoch, and train at most {config.epochs} epochs")


def train_autoencoder(S_train, S_val, *, config: AutoencoderConfig, seed: int, S_pretrain=None,
                      progress: bool = False):
    """Pre-train (optionally), then train the autoencoder on ``S_train`` (Chapter 5).

    Parameters
    ----------
    S_train, S_val : np.ndarray [shape=(n, n_mels, n_frames)]
        Scaled spectrograms in [0, 1] for training and for the held-out validation loss.
    config : AutoencoderConfig
        Model size and schedule (``preset.autoencoder``).
    seed : int
        Seeds the initial weights and the batch order; with TensorFlow's op determinism the
        same seed gives the same losses.
    S_pretrain : np.ndarray [shape=(m, n_mels, n_frames)] or None
        Pre-training clips (``config.pretrain_epochs`` epochs first), or None for no pre-training.
    progress : bool
        Print Keras' per-epoch lines.

    Returns
    -------
    model : keras.Model
        The trained autoencoder: with a stopping rule (``config.patience``), the weights of the
        best epoch (:func:`plateau_stop`), else those after the last epoch.
    history : pd.DataFrame
        One row per epoch trained: ``phase`` ("pretrain" or "train"), ``epoch`` (within the
        phase; train epoch 0 is the state before Spanish training, after pre-training), ``step``
        (optimizer steps so far, pre-training included), ``loss`` (mean training-batch MSE of
        the epoch; at epoch 0 the MSE on the whole training set), ``val_loss`` (MSE on
        ``S_val``). Each epoch takes ``n // batch_size`` full batches of a fresh shuffle.
        Training stops where :func:`plateau_stop` says, or after ``config.epochs``.
    """
    check(isinstance(config, AutoencoderConfig),
          f"config must be an AutoencoderConfig (preset.autoencoder), got {type(config).__name__}")
    S_train = _check_S(S_train, "S_train")
    shape = S_train.shape[1:]
    S_val = _check_S(S_val, "S_val", shape=shape)
    if S_pretrain is not None:
        S_pretrain = _check_S(S_pretrain, "S_pretrain", shape=shape)
    fresh = build_for(config, n_mels=shape[0], n_frames=shape[1], seed=seed)
    model = _reusable_model(fresh, config, shape)
    verbose = 2 if progress else 0
    val = _batches(S_val, config.batch_size)
    rows: list[dict] = []
    steps = 0
    if S_pretrain is not None and config.pretrain_epochs:
        data = _batches(S_pretrain, config.batch_size, seed=seed)
        fit = model.fit(data, epochs=config.pretrain_epochs, validation_data=val, shuffle=False,
                        verbose=verbose)
        for i, (loss, val_loss) in enumerate(zip(fit.history["loss"], fit.history["val_loss"])):
            steps += len(data)
            rows.append({"phase": "pretrain", "epoch": i + 1, "step": steps, "loss": float(loss),
                         "val_loss": float(val_loss)})
    data = _batches(S_train, config.batch_size, seed=seed + 1)
    start = float(model.evaluate(val, verbose=0))
    rows.append({"phase": "train", "epoch": 0, "step": steps,
                 "loss": float(model.evaluate(_batches(S_train, config.batch_size), verbose=0)),
                 "val_loss": start})
    stopper = _plateau_callback(config, start)
    fit = model.fit(data, epochs=config.epochs, validation_data=val, shuffle=False, verbose=verbose,
                    callbacks=[stopper])
    for i, (loss, val_loss) in enumerate(zip(fit.history["loss"], fit.history["val_loss"])):
        steps += len(data)
        rows.append({"phase": "train", "epoch": i + 1, "step": steps, "loss": float(loss),
                     "val_loss": float(val_loss)})
    trained = build_for(config, n_mels=shape[0], n_frames=shape[1])  # the caller's own copy
    trained.set_weights(model.get_weights() if config.patience is None else stopper.best_weights)
    return trained, pd.DataFrame(rows)


def _plateau_callback(config: AutoencoderConfig, start: float):
    """A Keras callback that applies :func:`plateau_stop` after every epoch (validation loss
    ``start`` at epoch 0) and keeps the best epoch's weights in ``best_weights``."""
    import keras

    class Plateau(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.losses = [start]
            self.best_weights = self.model.get_weights()

        def on_epoch_end(self, epoch, logs=None):
            self.losses.append(float(logs["val_loss"]))
            best_epoch, stop_epoch = plateau_stop(self.losses, patience=config.patience,
                                                  min_improvement=config.min_improvement)
            if best_epoch == len(self.losses) - 1:
                self.best_weights = self.model.get_weights()
            if stop_epoch is not None:
                self.model.stop_training = True

    return Plateau()


def stopping(history: pd.DataFrame, config: AutoencoderConfig) -> dict[str, Any]:
    """Where one run's Spanish training stopped and why, from its ``history``
    (:func:`train_autoencoder`): ``best_epoch`` (the weights kept), ``stop_epoch`` (the last
    epoch trained), ``best_val_loss`` (at ``best_epoch``) and ``stop_reason`` ("plateau",
    "epoch cap" or "fixed epochs")."""
    train = history[history["phase"] == "train"].sort_values("epoch")
    losses = train["val_loss"].to_numpy(dtype=float)
    best_epoch, stop_epoch = plateau_stop(losses, patience=config.patience,
                                          min_improvement=config.min_improvement)
    if config.patience is None:
        best_epoch, reason = int(train["epoch"].iloc[-1]), "fixed epochs"
    else:
        reason = "plateau" if stop_epoch is not None else "epoch cap"
    return {"best_epoch": int(best_epoch), "stop_epoch": int(train["epoch"].iloc[-1]),
            "best_val_loss": float(losses[best_epoch]), "stop_reason": reason}


def _reusable_model(fresh, config: AutoencoderConfig, shape: tuple[int, int]):
    """A compiled model with the weights of ``fresh`` whose training step is already traced:
    the previous run's model of this architecture in this thread, reset to ``fresh``'s seeded
    initial weights and a zeroed Adam state (:func:`langlab.models.warm_model`), or ``fresh``
    itself. The result equals training ``fresh`` itself (a test checks it); the caller gets a
    copy of the trained weights in a model of its own.
    """
    key = ("autoencoder", config.filters, config.kernel_size, config.latent_dim, config.learning_rate,
           tuple(shape))
    return reset_model(warm_model(key, lambda: fresh), fresh)


def _batches(S: np.ndarray, batch_size: int, *, seed: int | None = None):
    """``(S, S)`` pairs as a ``tf.data`` pipeline of batches.

    With a ``seed``, for training: reshuffled every epoch (seeded, so reproducible) and only
    full batches (``min(batch_size, n)`` clips each; the few left-over clips of an epoch are
    different ones every epoch). A ragged last batch would make TensorFlow trace the training
    step a second time, which costs seconds a run. Without a seed, for evaluation: in order,
    every clip once.
    """
    import tensorflow as tf
    data = tf.data.Dataset.from_tensor_slices((S, S))
    if seed is None:
        return data.batch(batch_size)
    data = data.shuffle(len(S), seed=int(seed), reshuffle_each_iteration=True)
    return data.batch(min(batch_size, len(S)), drop_remainder=True)


def encode(model, S, *, batch_size: int = 64) -> np.ndarray:
    """Latent codes of spectrograms.

    Parameters
    ----------
    model : keras.Model
        An autoencoder from :func:`build_autoencoder` (or its ``"encoder"`` part); to encode
        with a stored, trained model use :func:`load_autoencoder` first.
    S : np.ndarray [shape=(n, n_mels, n_frames)]
        Scaled spectrograms in [0, 1].

    Returns
    -------
    np.ndarray [shape=(n, latent_dim)] float32
    """
    encoder = _encoder_of(model)
    S = _check_S(S, "S", shape=tuple(encoder.input_shape[1:]))
    return np.asarray(encoder.predict(S, batch_size=batch_size, verbose=0), dtype=np.float32)


def reconstruct(model, S, *, batch_size: int = 64) -> np.ndarray:
    """The autoencoder's reconstructions of ``S`` (same shape, values in [0, 1])."""
    S = _check_S(S, "S", shape=tuple(model.input_shape[1:]))
    return np.asarray(model.predict(S, batch_size=batch_size, verbose=0), dtype=np.float32)


def _encoder_of(model):
    check(hasattr(model, "layers") and hasattr(model, "predict"),
          f"model must be a keras.Model from build_autoencoder, got {type(model).__name__}")
    if model.name == "encoder":
        return model
    try:
        return model.get_layer("encoder")
    except ValueError as exc:
        raise ParameterError(f"model {model.name!r} has no 'encoder' part; build it with "
                             "build_autoencoder") from exc


def baseline_mse(S_train, S_eval) -> dict[str, float]:
    """MSE of two predictors that need no network, on ``S_eval`` (Chapter 5).

    - ``clip_mean``: each clip predicted by its own mean value (a flat grey image),
    - ``dataset_mean``: every clip predicted by the mean spectrogram of ``S_train``.
    """
    S_train = _check_S(S_train, "S_train")
    S_eval = _check_S(S_eval, "S_eval", shape=S_train.shape[1:])
    clip_mean = S_eval.mean(axis=(1, 2), keepdims=True)
    mean_S = S_train.mean(axis=0, keepdims=True)
    return {"clip_mean": float(np.mean((S_eval - clip_mean) ** 2)),
            "dataset_mean": float(np.mean((S_eval - mean_S) ** 2))}


def clip_mse(model, S, *, batch_size: int = 64) -> np.ndarray:
    """Reconstruction MSE of each clip, ``[n]``."""
    S_hat = reconstruct(model, S, batch_size=batch_size)
    return np.mean((S_hat - np.asarray(S, dtype=np.float32)) ** 2, axis=(1, 2))


# --------------------------------------------------------------------------------------------
# The experiment: every (condition, seed) of a preset, one store entry each (langlab.runs)
# --------------------------------------------------------------------------------------------
#: Manifest fields of a run that are columns of :func:`ae_experiment`'s table.
RUN_FIELDS = ("steps", "loss", "val_loss", "val_loss_start", "best_val_loss", "best_epoch", "stop_epoch",
              "stop_reason", "n_train", "n_val", "n_pretrain", "n_probe", "train_seconds")


def _fill(preset, condition: str, seed: int, folder: Path, *, store, data_dir, prepared=None) -> dict:
    """Train one (condition, seed) run; write its model, history and the latents of the probe
    clips (role ``probe``, all three languages) into ``folder``."""
    config = preset.autoencoder
    data = runs.run_data(preset, condition=condition, store=store, data_dir=data_dir)
    probe = data.features.where(role="probe")
    S_probe = np.asarray(probe.scaled(), dtype=np.float32)
    started = time.perf_counter()
    model, history = train_autoencoder(data.S_train, data.S_val, config=config, seed=seed,
                                       S_pretrain=data.S_pretrain)
    seconds = time.perf_counter() - started
    model.save(folder / "model.keras")
    history.to_csv(folder / "history.csv", index=False)
    atomic_save_npy(folder / "latents.npy", encode(model, S_probe))
    probe.table.reset_index(drop=True)[["path", "locale", "client_id"]].to_csv(folder / "probe_clips.csv",
                                                                               index=False)
    last = history.iloc[-1]
    return {"condition": condition, "seed": int(seed), "train_seconds": round(seconds, 3),
            **runs.clip_counts(data), "n_probe": len(S_probe), "steps": int(last["step"]),
            "loss": float(last["loss"]), "val_loss": float(last["val_loss"]),
            "val_loss_start": float(history.loc[history["phase"] == "train", "val_loss"].iloc[0]),
            **stopping(history, config)}


def _result_row(preset, entry) -> dict[str, Any]:
    m = entry.manifest()
    return {"condition": m["condition"], "seed": int(m["seed"]), **{k: m[k] for k in RUN_FIELDS},
            "key": entry.key}


#: The convolutional autoencoder as a model of :mod:`langlab.runs`.
SPEC = runs.ModelSpec(name="autoencoder runs", stage=STAGE, config="autoencoder", fill=_fill,
                      result=_result_row, description="conv autoencoder, pre-training {condition!r}, seed {seed}",
                      inputs=runs.data_keys, roots=(_fill,))


def ae_experiment(preset, *, seeds=None, conditions=None, store=None, n_jobs=None,
                  data_dir=None, progress: bool = True) -> pd.DataFrame:
    """Train (or load from the store) the autoencoder for every pre-training condition and seed.

    :func:`langlab.runs.experiment` of :data:`SPEC` (parameters there), with the preset's
    ``autoencoder`` config: model, schedule, seeds, conditions, ``n_jobs``, ``threads``.

    Returns
    -------
    pd.DataFrame
        One row per (condition, seed): ``condition``, ``seed``, ``steps`` (optimizer steps,
        pre-training included), ``loss`` (last epoch's mean training-batch MSE), ``val_loss``
        (held-out Spanish MSE of the last epoch), ``val_loss_start`` (before Spanish training,
        after pre-training), ``best_val_loss``, ``best_epoch``, ``stop_epoch`` and
        ``stop_reason`` (:func:`stopping`: the kept model's loss, its epoch, where and why
        training stopped), ``n_train``, ``n_val``, ``n_pretrain``, ``n_probe``,
        ``train_seconds`` (wall clock) and ``key`` (the store entry).
    """
    return runs.experiment(SPEC, preset, seeds=seeds, conditions=conditions, store=store, n_jobs=n_jobs,
                           data_dir=data_dir, progress=progress)


def load_autoencoder(preset, *, condition: str, seed: int, store=None, data_dir=None):
    """The trained autoencoder of one (condition, seed) from the store (trained first if missing).

    Returns a compiled ``keras.Model`` (see :func:`build_autoencoder`).
    """
    import keras

    import langlab.layers  # noqa: F401  (registers the model's layers with Keras)
    preset = as_preset(preset)
    entry = runs.ensure(SPEC, preset, condition=condition, seed=seed, store=store, data_dir=data_dir)
    # The stored model keeps its weights, not Adam's state (training is over): compile afresh.
    import langlab.layers  # noqa: F401  (registers the model's layers with Keras)
    model = keras.models.load_model(entry.path / "model.keras", compile=False)
    model.compile(optimizer=keras.optimizers.Adam(preset.autoencoder.learning_rate), loss="mse",
                  jit_compile=False)
    return model


def ae_history(preset, *, seeds=None, conditions=None, store=None, n_jobs=None, data_dir=None,
               progress: bool = True) -> pd.DataFrame:
    """Loss curves of every (condition, seed) run: the :func:`train_autoencoder` history with
    ``condition`` and ``seed`` columns first (runs are trained first if missing, as in
    :func:`ae_experiment`)."""
    return runs.histories(SPEC, preset, seeds=seeds, conditions=conditions, store=store, n_jobs=n_jobs,
                          data_dir=data_dir, progress=progress)


def ae_latents(preset, *, condition: str, seed: int, store=None, data_dir=None) -> tuple[np.ndarray, pd.DataFrame]:
    """Stored latents of the probe clips, ``[n_probe, latent_dim]``, and their clip table
    (``path``, ``locale``, ``client_id``)."""
    entry = runs.ensure(SPEC, preset, condition=condition, seed=seed, store=store, data_dir=data_dir)
    return np.load(entry.path / "latents.npy"), pd.read_csv(entry.path / "probe_clips.csv")


# --------------------------------------------------------------------------------------------
# Probing the latents with the probing module's procedure
# --------------------------------------------------------------------------------------------
def probe_clips(preset, *, store=None, data_dir=None):
    """The probe clips and the balanced row positions: :func:`langlab.probing.probe_clips`,
    the same clips Chapter 4 probes the LSTM on."""
    from langlab import probing
    return probing.probe_clips(as_preset(preset), store=default_store(store), data_dir=data_dir)


def pool_spectrograms(S, *, size: int = MULTIPLE) -> np.ndarray:
    """Average ``size`` x ``size`` blocks of each spectrogram (zero-padded like the model's input).

    With ``size=4`` this is the grid of the encoder's last convolution: 40 x 188 becomes
    10 x 47; with ``size=8`` 5 x 24. Returns ``[n, ceil(n_mels / size), ceil(n_frames / size)]`` float32.
    """
    S = np.asarray(S, dtype=np.float32)
    check(S.ndim == 3, f"S must be [n_clips, n_mels, n_frames], got shape {S.shape}")
    check(isinstance(size, int) and size >= 1, f"size must be a positive integer, got {size!r}")
    h, w = padded_shape(S.shape[1], S.shape[2], multiple=size)
    padded = np.zeros((len(S), h, w), dtype=np.float32)
    padded[:, :S.shape[1], :S.shape[2]] = S
    return padded.reshape(len(S), h // size, size, w // size, size).mean(axis=(2, 4))


#: Block size of the pooled-spectrogram baseline of :func:`input_representations`.
INPUT_POOL = 8


def input_representations(S) -> dict[str, np.ndarray]:
    """No-network baselines of a probe (Chapter 5).

    - ``"spectrogram"``: the scaled spectrogram itself, averaged over 8 x 8 blocks
      (:func:`pool_spectrograms` with ``size=INPUT_POOL``) and flattened: what the autoencoder
      sees, in about as many numbers as its code (the book's 40 x 188 spectrograms give
      5 x 24 = 120). Finer grids give the linear probe many more dimensions than clips and
      make each probe much slower (4 x 4 blocks: 470 numbers, about 6 times the time; see the
      chapter's exercises).
    - ``"mel_stats"``: per-band mean and standard deviation over time
      (:func:`langlab.representations.mel_stats`), Chapter 4's no-network baseline.
    """
    from langlab.representations import mel_stats
    S = np.asarray(S, dtype=np.float32)
    return {"spectrogram": pool_spectrograms(S, size=INPUT_POOL).reshape(len(S), -1),
            "mel_stats": mel_stats(S)}


def _probe_key(preset, condition: str, seed: int) -> dict[str, Any]:
    """The config in the store key of one probe unit (see :func:`_probe_fill`)."""
    from langlab import probing
    unit = {"probing": preset.probing, "condition": condition, "seed": int(seed)}
    if condition != probing.INPUT:
        unit["autoencoder"] = preset.autoencoder.training_fields()
    return unit


def _probe_fill(preset, condition: str, seed: int, folder: Path, *, store, data_dir, prepared=None) -> None:
    """Probe one (condition, seed) unit and write its table into ``folder``.

    ``condition`` is a pre-training condition (the trained latents of that run), ``"untrained"``
    or ``"input"`` (see :func:`ae_probe_experiment`).
    """
    from langlab import probing
    fs, keep = probe_clips(preset, store=store, data_dir=data_dir)
    table = fs.table.reset_index(drop=True).iloc[keep]
    if condition == probing.INPUT:
        reps = input_representations(np.asarray(fs.scaled(), dtype=np.float32)[keep])
    elif condition == probing.UNTRAINED:
        S = np.asarray(fs.scaled(), dtype=np.float32)[keep]
        model = build_for(preset.autoencoder, n_mels=S.shape[1], n_frames=S.shape[2], seed=seed)
        reps = {"latent": encode(model, S)}
    else:
        Z, clips = ae_latents(preset, condition=condition, seed=seed, store=store, data_dir=data_dir)
        check(list(clips["path"]) == list(fs.table["path"]),
              f"stored latents of {condition}/seed {seed} belong to other probe clips", DataError)
        reps = {"latent": Z[keep]}
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1):  # small products: BLAS threads only fight on a busy machine
        result = probing.probe_table(reps, table["locale"].to_numpy(), table["client_id"].to_numpy(),
                                     config=preset.probing, seed=preset.probing.seed + int(seed))
    result.insert(0, "seed", int(seed))
    result.insert(0, "condition", condition)
    result.to_csv(folder / "probes.csv", index=False)


def _read_probes(preset, entry) -> pd.DataFrame:
    return runs.read_table(entry.path / "probes.csv")


#: The probes of the autoencoder's latent code as units of :mod:`langlab.runs`.
PROBE_SPEC = runs.ModelSpec(name="autoencoder probes", stage=PROBE_STAGE, config="autoencoder",
                            fill=_probe_fill, result=_read_probes, key=_probe_key,
                            description="linear probes of autoencoder {condition}, seed {seed}",
                            roots=(_probe_fill,))


def ae_probe_experiment(preset, *, seeds=None, conditions=None, store=None, n_jobs=None,
                        data_dir=None, progress: bool = True) -> pd.DataFrame:
    """Probe the autoencoder's latent code for language, beside its baselines (Chapter 5).

    Every probe is :func:`langlab.probing.probe_table`, unchanged, with the preset's probing
    config: speaker-grouped cross-validation, linear SVC, control task, majority class,
    shared-speaker splits and the original's RBF ``SVC()``, on the binary (Spanish vs rest)
    and 3-way tasks; a seed's splits and permutations use ``preset.probing.seed + seed``.
    The probe clips are the ``probe`` role's, balanced per language as the probing config says
    (:func:`probe_clips`).

    Rows (column ``condition``, ``representation``):

    - each pre-training condition, ``"latent"``: the trained encoder's code of the probe clips
      (runs are trained first if they are not stored, see :func:`ae_experiment`);
    - ``"untrained"``, ``"latent"``: the same architecture with its seeded random initial
      weights, never trained;
    - ``"input"``, ``"spectrogram"`` and ``"mel_stats"``: no network at all (see
      :func:`input_representations`), probed with each seed's splits.

    Each (condition, seed) is one store entry, so a rebuild probes nothing (and starts no
    worker), and the missing units run in parallel through joblib (``n_jobs``, default
    ``preset.autoencoder.n_jobs``; ``progress``: a bar over units computed in this process).

    Returns
    -------
    pd.DataFrame
        ``condition``, ``seed``, then the columns of :func:`langlab.probing.probe_table`.
    """
    from langlab import probing
    preset = as_preset(preset)
    config = preset.autoencoder
    seeds, conditions = runs.units(config, seeds=seeds, conditions=conditions)
    store = default_store(store)
    n_jobs = runs.check_jobs(config.n_jobs if n_jobs is None else n_jobs)
    trained = runs.model_entries(SPEC, preset, seeds=seeds, conditions=conditions, store=store, n_jobs=n_jobs,
                                 data_dir=data_dir, progress=progress)
    fs, _ = probe_clips(preset, store=store, data_dir=data_dir)  # features computed once, here
    inputs = {**{unit: [fs.key, run.key] for unit, run in trained.items()},
              **{(probing.UNTRAINED, s): [fs.key] for s in seeds}, **{(probing.INPUT, s): [fs.key] for s in seeds}}
    entries = {(c, s): runs.entry(PROBE_SPEC, preset, c, s, store=store, inputs=keys)
               for (c, s), keys in inputs.items()}
    runs.compute(PROBE_SPEC, preset, entries, store=store, data_dir=data_dir, n_jobs=n_jobs,
                 threads=config.threads, progress=progress)
    # The same table whether computed or reused: read back from the store.
    return runs.table(PROBE_SPEC, preset, entries)


# --------------------------------------------------------------------------------------------
# What training put into the code, and the claims judged on it (Chapters 5 and 6)
# --------------------------------------------------------------------------------------------
#: The probe score the claims are judged on: ROC AUC of the linear probe on the binary task
#: (Spanish against the rest). It does not depend on where a threshold sits; chance is 0.5
#: (:data:`langlab.plan.CHANCE`).
CLAIM_METRIC = "auc"
#: The condition that holds the mean over the trained conditions of each seed.
ALL_TRAINED = "trained"
#: The command that trains and probes the autoencoder at the original's size.
PAPER_COMMAND = "langlab run --preset paper"
#: Verdict of a claim whose runs did not all reach the stopping rule's plateau
#: (:data:`langlab.verdicts.NOT_TESTED`, not one of the four verdicts).
NOT_TESTED = _NOT_TESTED


def _linear_scores(probes: pd.DataFrame, *, metric: str, task: str) -> pd.DataFrame:
    """The linear probe's ``metric`` on ``task`` of the latent (and input) rows, one row per
    (condition, representation, seed)."""
    check(isinstance(probes, pd.DataFrame), f"probes must be a DataFrame (ae_probe_experiment), "
                                            f"got {type(probes).__name__}")
    missing = {"condition", "seed", "representation", "task", "probe", metric} - set(probes.columns)
    check(not missing, f"probes lacks column(s) {sorted(missing)}; expected ae_probe_experiment's table")
    part = probes[(probes["probe"] == "linear") & (probes["task"] == task)]
    check(len(part) > 0, f"probes has no linear probe on task {task!r}")
    return part[["condition", "representation", "seed", metric]]


def learned_effects(probes: pd.DataFrame, *, metric: str = CLAIM_METRIC, task: str = "binary",
                    confidence: float = 0.95) -> pd.DataFrame:
    """Trained minus untrained encoder, paired by seed (Chapter 5).

    The untrained encoder of seed ``s`` holds exactly the initial weights that every trained
    run of seed ``s`` started from, and both are probed with the same splits, so their
    difference per seed is what training put into the code.

    Parameters
    ----------
    probes : pd.DataFrame
        :func:`ae_probe_experiment`'s table.
    metric : str
        Probe score compared (``"auc"``, ``"balanced_accuracy"``, ...).
    task : str
        ``"binary"`` or ``"3way"``.

    Returns
    -------
    pd.DataFrame
        :func:`langlab.paired.paired_table` rows (``a``, ``b``, ``n``, ``mean``, ``low``,
        ``high``, ``hl``, ``p``, ``p_holm``, ``mde``): each pre-training condition against
        ``"untrained"``, then :data:`ALL_TRAINED` (each seed's mean over the conditions)
        against it, with the scores ``mean_a`` and ``mean_b`` beside them.
    """
    from langlab import paired, probing
    scores = _linear_scores(probes, metric=metric, task=task)
    latent = scores[scores["representation"] == "latent"]
    trained = [c for c in dict.fromkeys(latent["condition"]) if c not in (probing.UNTRAINED, probing.INPUT)]
    check(len(trained) > 0 and probing.UNTRAINED in set(latent["condition"]),
          "probes needs trained and untrained latent rows (ae_probe_experiment's table)")
    mean = (latent[latent["condition"].isin(trained)].groupby("seed", as_index=False)[metric].mean()
            .assign(condition=ALL_TRAINED))
    table = pd.concat([latent, mean], ignore_index=True)
    pairs = [(c, probing.UNTRAINED) for c in [*trained, ALL_TRAINED]]
    effects = paired.paired_table(table, metric=metric, pairs=pairs, confidence=confidence)
    by_condition = table.groupby("condition")[metric].mean()
    effects.insert(2, "mean_a", effects["a"].map(by_condition))
    effects.insert(3, "mean_b", effects["b"].map(by_condition))
    return effects


def claim_rows(probes: pd.DataFrame, runs_table: pd.DataFrame, *, metric: str = CLAIM_METRIC,
               task: str = "binary") -> pd.DataFrame:
    """The autoencoder's claims with their estimates, intervals and verdicts (Chapter 6's
    rows; :func:`ae_claims` reads the tables from the store).

    - ``ae_above_chance``: the trained code separates Spanish from the rest: each seed's score
      (mean over the pre-training conditions) against chance, judged against
      :data:`langlab.plan.MIN_ABOVE_CHANCE` with :func:`langlab.verdicts.judge`;
    - ``ae_learned``: training put it there: trained minus untrained encoder, paired by seed
      (:func:`learned_effects`), judged against :data:`langlab.plan.MIN_LEARNED`;
    - ``ae_pretraining_<c>``: pre-training on ``c`` does not change the probe (the original's
      claim): ``c`` minus ``none``, paired by seed, judged for equivalence within
      :data:`langlab.plan.DELTA` (:func:`langlab.verdicts.judge_equivalence`).

    If any run of ``runs_table`` (:func:`ae_experiment`) did not stop at a plateau (it reached
    the epoch cap, or its preset trains a fixed number of epochs), every verdict is
    :data:`NOT_TESTED` and the reason names :data:`PAPER_COMMAND`.

    Returns
    -------
    pd.DataFrame
        The columns of :data:`langlab.lstm_probes.CLAIM_COLUMNS` (Chapter 4's rows): ``name``,
        ``claim``, ``kind`` ("above chance", "put there by training", "no effect of
        pre-training"), ``metric``, ``n`` (seeds), ``estimate``, ``low``, ``high`` (95 %
        interval), ``mde``, ``p`` (exact sign-flip), ``null``, ``claimed``, ``verdict``,
        ``reason``. ``estimate`` is the score itself for ``ae_above_chance`` (``null`` =
        chance) and a paired difference for the others (``null`` = 0), all as proportions.
    """
    from langlab import paired, plan, pretraining, probing, verdicts
    check(isinstance(runs_table, pd.DataFrame) and "stop_reason" in runs_table,
          "runs_table must be ae_experiment's table (with a stop_reason column)")
    effects = learned_effects(probes, metric=metric, task=task, confidence=plan.CONFIDENCE).set_index("a")
    scores = _linear_scores(probes, metric=metric, task=task)
    latent = scores[scores["representation"] == "latent"]
    trained = latent[~latent["condition"].isin([probing.UNTRAINED, probing.INPUT])]
    per_seed = trained.groupby("seed")[metric].mean()
    above = paired.paired_effect(per_seed.to_numpy(), np.full(len(per_seed), plan.CHANCE),
                                 confidence=plan.CONFIDENCE, power=plan.POWER, alpha=plan.ALPHA)
    words = {"auc": "ROC AUC", "balanced_accuracy": "balanced accuracy", "accuracy": "accuracy"}
    what = f"{words.get(metric, metric)} of the linear probe ({task})"
    rows = [{"name": "ae_above_chance",
             "claim": "the autoencoder's latent code separates Spanish from the rest",
             "kind": "above chance", "p": above.p,
             "metric": f"{what}, mean over pre-training conditions", "n": above.n,
             "estimate": float(per_seed.mean()), "low": plan.CHANCE + above.low,
             "high": plan.CHANCE + above.high, "mde": above.mde, "null": plan.CHANCE,
             "claimed": plan.CHANCE + plan.MIN_ABOVE_CHANCE,
             "judge": lambda r: verdicts.judge(r["low"], r["high"], claimed=r["claimed"], null=r["null"],
                                               scale=100, unit=" %")}]
    learned = effects.loc[ALL_TRAINED]
    rows.append({"name": "ae_learned", "claim": "training put that information into the code",
                 "kind": "put there by training", "p": float(learned["p"]),
                 "metric": f"{what}: trained minus untrained encoder, paired by seed",
                 "n": int(learned["n"]), "estimate": float(learned["mean"]), "low": float(learned["low"]),
                 "high": float(learned["high"]), "mde": float(learned["mde"]), "null": 0.0,
                 "claimed": plan.MIN_LEARNED,
                 "judge": lambda r: verdicts.judge(r["low"], r["high"], claimed=r["claimed"], null=r["null"],
                                                   scale=100, unit=" pp")})
    conditions = list(dict.fromkeys(trained["condition"]))
    if pretraining.NONE in conditions:
        others = [c for c in conditions if c != pretraining.NONE]
        table = paired.paired_table(trained, metric=metric, pairs=[(c, pretraining.NONE) for c in others],
                                    confidence=plan.CONFIDENCE, power=plan.POWER, alpha=plan.ALPHA) \
            if others else pd.DataFrame()
        for _, e in table.iterrows():
            rows.append({"name": f"ae_pretraining_{e['a']}",
                         "claim": f"pre-training on {e['a']!r} does not change the autoencoder probe",
                         "kind": "no effect of pre-training", "p": float(e["p"]),
                         "metric": f"{what}: {e['a']} minus none, paired by seed", "n": int(e["n"]),
                         "estimate": float(e["mean"]), "low": float(e["low"]), "high": float(e["high"]),
                         "mde": float(e["mde"]), "null": 0.0, "claimed": 0.0,
                         "judge": lambda r: verdicts.judge_equivalence(r["low"], r["high"], margin=plan.DELTA,
                                                                       scale=100, unit=" pp")})
    capped = runs_table[runs_table["stop_reason"] != "plateau"]
    out = []
    for row in rows:
        judge = row.pop("judge")
        if len(capped):
            how = ", ".join(sorted(set(capped["stop_reason"])))
            verdict, reason = NOT_TESTED, (
                f"not tested at this scale: {len(capped)} of {len(runs_table)} runs did not reach a "
                f"plateau of the validation loss ({how}); run `{PAPER_COMMAND}`")
        else:
            v = judge(row)
            verdict, reason = v.label, v.reason
        out.append({**row, "verdict": verdict, "reason": reason})
    columns = ("name", "claim", "kind", "metric", "n", "estimate", "low", "high", "mde", "p", "null",
               "claimed", "verdict", "reason")
    return pd.DataFrame(out, columns=list(columns))


def ae_claims(preset, *, metric: str = CLAIM_METRIC, store=None, data_dir=None,
              progress: bool = False) -> pd.DataFrame:
    """The autoencoder's claim rows for Chapter 6: :func:`claim_rows` of the stored runs and
    probes of ``preset`` (trained and probed first where missing)."""
    runs_table = ae_experiment(preset, store=store, data_dir=data_dir, progress=progress)
    probes = ae_probe_experiment(preset, store=store, data_dir=data_dir, progress=progress)
    return claim_rows(probes, runs_table, metric=metric)
