"""The next-frame LSTM of Chapter 3 and its state view for Chapter 4.

The original study's first model reads a mel spectrogram frame by frame and, at every frame,
predicts the next one: ``LSTM(units, return_sequences=True, return_state=True)`` followed by
a ``Dense(n_mels)`` applied at every time step, trained with mean squared error and Adam.

- :func:`build_next_frame_lstm`: the compiled Keras model. Input and output are sequences of
  frames, ``[batch, time, n_mels]`` (time first, as Keras' recurrent layers want it; the
  spectrograms of :mod:`langlab.features` are ``[n_clips, n_mels, n_frames]``, see
  :func:`to_sequences`).
- :func:`shift_pairs`: the k-step shift that turns segments of frames into (input, target)
  pairs: the target of input frame ``t`` is frame ``t + shift`` (``shift=1`` is the original).
- :func:`state_model`: a view of a (trained) model that returns the LSTM's final hidden state
  ``h`` and cell state ``c`` after it has heard a whole sequence (probed in Chapter 4).
- :func:`predict_spectrogram`: the model's predictions laid out as a spectrogram, to set
  beside the real one.
- :func:`set_seed`, :func:`limit_threads`: reproducible, polite TensorFlow.
- :func:`warm_model`, :func:`reset_model`: a traced model reused by the next run of the same
  architecture in a process (Chapters 3 and 5).
- :func:`check_spectrograms`: the array contract of every training function.

TensorFlow is imported only inside functions, so ``import langlab.models`` stays cheap.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from langlab.errors import ParameterError, check
from langlab.quiet import tensorflow_logging

tensorflow_logging()  # no retracing warnings in quiet command-line runs, in workers too

#: Name of the recurrent layer inside every model of :func:`build_next_frame_lstm`.
LSTM_LAYER = "lstm"
#: Name of the per-frame output layer.
OUTPUT_LAYER = "next_frame"


# --------------------------------------------------------------------------------------------
# TensorFlow set-up
# --------------------------------------------------------------------------------------------
def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TensorFlow's ops deterministic.

    ``keras.utils.set_random_seed`` plus ``tf.config.experimental.enable_op_determinism``:
    with both, the same seed gives the same initial weights, the same batch order and (on the
    CPU, measured in Chapter 3) bit-identical losses.
    """
    check(isinstance(seed, (int, np.integer)) and seed >= 0, f"seed must be an integer >= 0, got {seed!r}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def limit_threads(threads: int) -> None:
    """Limit TensorFlow to ``threads`` intra-op threads (and 1 inter-op thread) in this process.

    Takes effect only before TensorFlow runs its first operation; a later call with another
    count keeps the old setting and warns (results would depend on the thread count). Used in
    the worker processes that train every run (:func:`langlab.runs.compute`): two parallel runs share
    2 cores instead of fighting over them, and a run gives the same bits wherever it trains.
    """
    check(isinstance(threads, (int, np.integer)) and threads >= 1,
          f"threads must be a positive integer, got {threads!r}")
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(int(threads))
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already initialised in this process
        running = tf.config.threading.get_intra_op_parallelism_threads()
        if running != int(threads):
            import warnings
            warnings.warn(f"TensorFlow in process {os.getpid()} already runs with "
                          f"{running or 'its default number of'} intra-op threads, not {threads}: "
                          "runs trained here may differ in their last digits from runs trained "
                          "elsewhere", RuntimeWarning, stacklevel=2)


# --------------------------------------------------------------------------------------------
# Warm models: a traced training step reused by the next run of the same architecture
# --------------------------------------------------------------------------------------------
#: This thread's kept model (at most one), so that two runs in threads of one process (a
#: multi-threaded Dask worker) never share a model.
_WARM = threading.local()


def warm_model(key: tuple, build: Callable[[], Any]):
    """The model this thread keeps for ``key``; if it keeps none (or one of another key),
    ``build()``, kept in its place.

    TensorFlow traces a new model's training step into a graph before its first batch, which
    costs seconds, as much as a short run's training itself. A process that trains several runs
    of one architecture (a joblib worker) keeps the previous run's model and resets it with
    :func:`reset_model` (Chapters 3 and 5).
    """
    kept = getattr(_WARM, "models", None)
    if kept is None:
        kept = _WARM.models = {}
    if key not in kept:
        kept.clear()
        kept[key] = build()
    return kept[key]


def clear_warm() -> None:
    """Forget this thread's kept model (:func:`warm_model`)."""
    getattr(_WARM, "models", {}).clear()


def reset_model(model, fresh):
    """``model`` with the weights of ``fresh`` (batch-norm statistics included) and a zeroed
    optimizer state (step count 0; a fixed learning rate is kept). Training it then equals
    training ``fresh`` itself. Returns ``model``."""
    model.set_weights(fresh.get_weights())
    learning_rate = getattr(model.optimizer, "_learning_rate", None)
    for variable in model.optimizer.variables:
        if variable is not learning_rate:
            variable.assign(np.zeros(variable.shape, dtype=variable.dtype))
    return model


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------
def build_next_frame_lstm(*, n_mels: int, units: int = 250, learning_rate: float = 1e-2,
                          decay_steps: int = 10_000, decay_rate: float = 0.9,
                          seed: int | None = None):
    """The next-frame LSTM of Chapter 3, compiled with MSE and Adam.

    Parameters
    ----------
    n_mels : int
        Mel bands per frame: the size of each input frame and of each prediction.
    units : int
        Size of the LSTM's hidden and cell states (the original: 250).
    learning_rate : float
        Adam's initial learning rate (the original: 1e-2).
    decay_steps, decay_rate : int, float
        Exponential decay of the learning rate, ``learning_rate * decay_rate ** (step /
        decay_steps)`` (the original: 0.9 every 10 000 steps). ``decay_rate=1`` keeps it fixed.
    seed : int or None
        If given, :func:`set_seed` first, so the initial weights are reproducible.

    Returns
    -------
    keras.Model
        Input ``[batch, time, n_mels]`` float32 (any number of time steps), output the same
        shape: at time step ``t`` the prediction of the frame that the training pairs of
        :func:`shift_pairs` put there (frame ``t + shift`` of the segment). The LSTM layer is
        called ``"lstm"`` and returns its sequences and final states, so :func:`state_model`
        can read them. ``LSTM(250)`` on 128 mels has 411 128 parameters, as in the original.
    """
    for name, value in (("n_mels", n_mels), ("units", units), ("decay_steps", decay_steps)):
        check(isinstance(value, (int, np.integer)) and value >= 1,
              f"{name} must be a positive integer, got {value!r}")
    check(isinstance(learning_rate, (int, float)) and 0 < learning_rate < 1,
          f"learning_rate must lie in (0, 1), got {learning_rate!r}")
    check(isinstance(decay_rate, (int, float)) and 0 < decay_rate <= 1,
          f"decay_rate must lie in (0, 1], got {decay_rate!r}")
    if seed is not None:
        set_seed(seed)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from keras import layers

    # The LSTM's time loop and Adam's update run as compiled kernels (langlab.layers, issue 18):
    # the same function, weights and initial values as keras.layers.LSTM and keras' Adam.
    from langlab.layers import FusedAdam, RecurrentLSTM

    # Initializers get explicit seeds derived from ``seed``: without them Keras draws each
    # initializer's seed from Python's global ``random`` when the layer is built, and any other
    # thread touching ``random`` meanwhile (a Dask worker's event loop does) changes the weights.
    seeded = {} if seed is None else {
        "lstm": dict(kernel_initializer=keras.initializers.GlorotUniform(seed=_derived(seed, 1)),
                     recurrent_initializer=keras.initializers.Orthogonal(seed=_derived(seed, 2))),
        "dense": dict(kernel_initializer=keras.initializers.GlorotUniform(seed=_derived(seed, 3))),
    }
    frames = keras.Input(shape=(None, int(n_mels)), name="frames")
    sequence, h, c = RecurrentLSTM(int(units), return_sequences=True, return_state=True,
                                 name=LSTM_LAYER, **seeded.get("lstm", {}))(frames)
    prediction = layers.Dense(int(n_mels), name=OUTPUT_LAYER, **seeded.get("dense", {}))(sequence)
    model = keras.Model(frames, prediction, name="next_frame_lstm")
    schedule = keras.optimizers.schedules.ExponentialDecay(
        float(learning_rate), decay_steps=int(decay_steps), decay_rate=float(decay_rate))
    model.compile(optimizer=FusedAdam(schedule), loss="mse", jit_compile=False)
    return model


def _derived(seed: int, index: int) -> int:
    """A per-layer initializer seed from the run seed (distinct for each ``index``)."""
    return int(seed) * 1_000 + int(index)


def _lstm_layer(model):
    check(hasattr(model, "get_layer"), f"model must be a keras.Model, got {type(model).__name__}")
    try:
        return model.get_layer(LSTM_LAYER)
    except ValueError as exc:
        raise ParameterError(f"model {getattr(model, 'name', model)!r} has no layer {LSTM_LAYER!r}; "
                             "build it with langlab.models.build_next_frame_lstm") from exc


def units_of(model) -> int:
    """Size of the model's LSTM state (``units``)."""
    return int(_lstm_layer(model).units)


def state_model(model, *, sequences: bool = False):
    """A view of ``model`` that returns the LSTM's final states (Chapter 4 probes them).

    The view shares the model's weights (nothing is copied or retrained). Each input sequence
    starts from zero states; the returned states are those after its last frame.

    Parameters
    ----------
    model : keras.Model
        A model from :func:`build_next_frame_lstm` (trained, loaded or fresh).
    sequences : bool
        Also return the hidden state at every time step, first.

    Returns
    -------
    keras.Model
        Input ``[batch, time, n_mels]``; outputs ``[h, c]``, each ``[batch, units]``, or with
        ``sequences=True`` ``[h_seq, h, c]`` with ``h_seq`` of shape ``[batch, time, units]``.
    """
    import keras
    sequence, h, c = _lstm_layer(model).output
    outputs = [sequence, h, c] if sequences else [h, c]
    return keras.Model(model.input, outputs, name="lstm_states")


# --------------------------------------------------------------------------------------------
# Data layout: spectrograms <-> sequences, the k-step shift
# --------------------------------------------------------------------------------------------
def check_spectrograms(S: Any, name: str, *, n_mels: int | None = None,
                       shape: tuple[int, int] | None = None, unit_range: bool = False) -> np.ndarray:
    """``S`` as float32 ``[n_clips, n_mels, n_frames]`` with at least one clip and finite values,
    with ``n_mels`` bands or spectrograms of ``shape`` if given, in [0, 1] if ``unit_range``
    (:class:`ParameterError` naming ``name`` otherwise)."""
    S = np.asarray(S, dtype=np.float32)
    check(S.ndim == 3 and S.shape[0] >= 1 and S.shape[1] >= 1,
          f"{name} must be an array [n_clips, n_mels, n_frames] with at least one clip, got shape {S.shape}")
    if n_mels is not None:
        check(S.shape[1] == n_mels, f"{name} has {S.shape[1]} mel bands, expected {n_mels}")
    if shape is not None:
        check(S.shape[1:] == tuple(shape),
              f"{name} has spectrograms of shape {S.shape[1:]}, expected {tuple(shape)}")
    check(bool(np.isfinite(S).all()), f"{name} contains NaN or inf values")
    if unit_range:
        lo, hi = float(S.min()), float(S.max())
        check(lo >= -1e-6 and hi <= 1 + 1e-6,
              f"{name} must be scaled to [0, 1] (FeatureSet.scaled()), got values in [{lo:.3g}, {hi:.3g}]")
    return S


def to_sequences(S) -> np.ndarray:
    """Spectrograms ``[n_clips, n_mels, n_frames]`` as sequences ``[n_clips, n_frames, n_mels]``."""
    S = np.asarray(S, dtype=np.float32)
    check(S.ndim == 3, f"S must be an array [n_clips, n_mels, n_frames], got shape {S.shape}")
    return np.ascontiguousarray(np.transpose(S, (0, 2, 1)))


def shift_pairs(segments, *, shift: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Input and target sequences of next-frame prediction, ``shift`` frames ahead.

    Parameters
    ----------
    segments : np.ndarray [shape=(n, length, n_mels)]
        Runs of consecutive frames, each from one clip (see
        :func:`langlab.training.cut_segments`).
    shift : int
        How far ahead to predict, in frames (``k``; the original: 1, about 23 ms).

    Returns
    -------
    x, y : np.ndarray [shape=(n, length - shift, n_mels)] float32
        ``x = segments[:, :-shift]`` and ``y = segments[:, shift:]``: the target at time step
        ``t`` is the frame ``shift`` steps after the input at ``t``.
    """
    segments = np.asarray(segments, dtype=np.float32)
    check(segments.ndim == 3, f"segments must be [n, length, n_mels], got shape {segments.shape}")
    check(isinstance(shift, (int, np.integer)) and shift >= 1,
          f"shift must be a positive integer (frames ahead), got {shift!r}")
    check(segments.shape[1] > shift,
          f"segments of {segments.shape[1]} frames are too short for shift={shift}; "
          f"they need at least {shift + 1} frames")
    return segments[:, :-shift], segments[:, shift:]


def predict_spectrogram(model, S, *, batch_size: int = 64) -> np.ndarray:
    """The model's predictions for whole clips, laid out like the input (Chapter 3's figure).

    Parameters
    ----------
    model : keras.Model
        A model from :func:`build_next_frame_lstm`.
    S : np.ndarray [shape=(n_clips, n_mels, n_frames)]
        Scaled spectrograms.

    Returns
    -------
    np.ndarray [shape=(n_clips, n_mels, n_frames)] float32
        Column ``t`` is the prediction made after hearing frames ``0..t``, i.e. the model's
        guess of frame ``t + shift`` for the shift it was trained with.
    """
    x = to_sequences(S)
    check(x.shape[2] == model.input_shape[-1],
          f"S has {x.shape[2]} mel bands, the model expects {model.input_shape[-1]}")
    y = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32)
    return np.ascontiguousarray(np.transpose(y, (0, 2, 1)))


def parameter_table(model) -> list[dict[str, Any]]:
    """One dict per layer: ``layer``, ``kind``, ``output`` (shape without batch), ``params``."""
    rows = []
    for layer in model.layers:
        out = layer.output
        shape = out[0].shape if isinstance(out, (list, tuple)) else out.shape
        rows.append({"layer": layer.name, "kind": type(layer).__name__,
                     "output": " x ".join("time" if d is None else str(d) for d in tuple(shape)[1:]),
                     "params": int(layer.count_params())})
    return rows
