"""Pre-training and training the next-frame LSTM, and the time it takes to learn (Chapter 3).

The original study pre-trained its LSTM for one epoch on 500 Hz low-passed speech of one
language, then trained it on full-band Spanish until a loss threshold, and compared the
wall-clock time to that threshold across pre-training languages, one run each. Here:

- :func:`cut_segments`: training segments that never straddle two clips.
- :func:`baselines`: the "copy the last frame" and "predict the mean frame" predictors, the
  two reference points of the loss threshold (:func:`threshold_value`).
- :func:`train_lstm`: one run on arrays: optional pre-training, then Spanish training for a
  budget of optimizer steps with the held-out validation loss every ``eval_every`` steps.
- :func:`time_to_threshold`: steps, epochs and seconds until the validation loss first falls
  to the threshold; a run that never gets there is *censored* at its budget, never dropped.
- :func:`lstm_experiment`: every (pre-training condition, seed) of a preset, in parallel
  through joblib, each run one store entry (model, history, timings), so a rebuild trains
  nothing. :func:`load_lstm`, :func:`lstm_histories` read single runs and loss curves.
- :func:`summarise`, :func:`compare`: means with 95 % confidence intervals over seeds, and the
  direct tests of the original's claim (Mann-Whitney U and log-rank).
- :func:`pretrain_spectrograms`, :func:`noise_spectrograms`: the pre-training data of each
  condition, including the no-language control: noise with the long-term average spectrum of
  the pre-training speech, low-passed like it.

TensorFlow is imported only inside functions, so ``import langlab.training`` stays cheap.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import multiprocessing
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from langlab import models
from langlab.errors import DataError, check
from langlab.presets import as_preset
from langlab.store import Store, atomic_save_npy, default_store

#: Pre-training conditions: none, one epoch of low-passed Spanish, Italian or Japanese, or of
#: low-passed speech-shaped noise (the no-language control).
CONDITIONS = ("none", "es", "it", "ja", "noise")
#: Low-pass cut-off of the pre-training clips, Hz (the original's 500 Hz).
PRETRAIN_LOWPASS_HZ = 500.0
#: Store stage of one trained (condition, seed) run.
STAGE = "lstm"
#: Store stage of the noise spectrograms of the control condition.
NOISE_STAGE = "lstm-noise"
_CODE = ["langlab.models", "langlab.training", "langlab.layers"]  # langlab.layers: issue 18
#: Comparisons of :func:`compare` by default: the original's claim (Italian pre-training helps
#: more than Japanese) and each against no pre-training.
CLAIM_PAIRS = (("it", "ja"), ("it", "none"), ("ja", "none"))


def _check_conditions(conditions: Sequence[str]) -> tuple[str, ...]:
    check(not isinstance(conditions, str), f"conditions must be a sequence of names, got {conditions!r}")
    conditions = tuple(conditions)
    check(len(conditions) >= 1, "conditions must name at least one pre-training condition")
    unknown = [c for c in conditions if c not in CONDITIONS]
    check(not unknown, f"unknown pre-training condition(s) {unknown}; expected some of {CONDITIONS}")
    check(len(set(conditions)) == len(conditions), f"conditions repeat: {conditions!r}")
    return conditions


def _check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    check(not isinstance(seeds, (str, int)), f"seeds must be a sequence of integers, got {seeds!r}")
    seeds = tuple(seeds)
    check(len(seeds) >= 1 and all(isinstance(s, (int, np.integer)) and s >= 0 for s in seeds)
          and len(set(seeds)) == len(seeds),
          f"seeds must be distinct integers >= 0, got {seeds!r}")
    return tuple(int(s) for s in seeds)


def _positive_int(name: str, value: Any) -> None:
    check(isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1,
          f"{name} must be a positive integer, got {value!r}")


@dataclasses.dataclass(frozen=True)
class LSTMConfig:
    """Model, data layout, schedule and threshold of the next-frame LSTM (Chapter 3).

    Parameters
    ----------
    units : int
        LSTM state size (the original: 250).
    window : int
        Frames per training segment, cut from one clip (never across two). Input and target
        are the segment without its last, resp. first, ``shift`` frames, so the model sees
        ``window - shift`` steps (the original: 216-frame windows, shift 1).
    shift : int
        Frames ahead to predict (``k``; the original: 1).
    stride : int or None
        Frames between the starts of consecutive segments of a clip; None: ``window``
        (non-overlapping, like the original).
    batch_size : int
        Segments per optimizer step (the original: 64).
    learning_rate, decay_steps, decay_rate : float, int, float
        Adam with exponential decay (the original: 1e-2, 0.9 every 10 000 steps).
    pretrain_epochs : int
        Epochs over the pre-training clips (the protocol: 1).
    pretrain_lowpass_hz : float
        Low-pass cut-off of the pre-training features (the original: 500 Hz).
    max_steps : int
        Budget of Spanish training, in optimizer steps. A run that has not reached the
        threshold by then is censored.
    eval_every : int
        Steps between two evaluations of the validation loss (the resolution of the time to
        threshold).
    threshold : float
        Where the validation-loss threshold lies between the two baselines, as a fraction of
        the way from the mean-frame baseline (0) to the copy-last-frame baseline (1); values
        above 1 ask the model to beat copying (see :func:`threshold_value`).
    stop_at_threshold : bool
        Stop a run when it reaches the threshold (saves time; the ``paper`` preset). Without
        it, every run uses its whole budget, which gives complete learning curves and lets the
        threshold change without retraining.
    seeds : tuple of int
        Seeds of each condition (initial weights, batch order).
    conditions : tuple of str
        Pre-training conditions, a subset of :data:`CONDITIONS`.
    noise_seed : int
        Seed of the noise clips of the ``noise`` condition.
    threads : int
        TensorFlow threads per worker process when runs execute in parallel.
    n_jobs : int
        Parallel (condition, seed) runs by default (-1: one per core).
    """

    units: int = 250
    window: int = 216
    shift: int = 1
    stride: int | None = None
    batch_size: int = 64
    learning_rate: float = 1e-2
    decay_steps: int = 10_000
    decay_rate: float = 0.9
    pretrain_epochs: int = 1
    pretrain_lowpass_hz: float = PRETRAIN_LOWPASS_HZ
    max_steps: int = 2000
    eval_every: int = 10
    threshold: float = 1.0
    stop_at_threshold: bool = False
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    conditions: tuple[str, ...] = CONDITIONS
    noise_seed: int = 0
    threads: int = 1
    n_jobs: int = 2

    def __post_init__(self):
        for name in ("units", "window", "shift", "batch_size", "decay_steps", "max_steps", "eval_every",
                     "threads"):
            _positive_int(name, getattr(self, name))
        check(self.window > self.shift,
              f"window ({self.window} frames) must be longer than shift ({self.shift}): each "
              "segment gives window - shift input frames")
        if self.stride is not None:
            _positive_int("stride", self.stride)
        check(isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < 1,
              f"learning_rate must lie in (0, 1), got {self.learning_rate!r}")
        check(isinstance(self.decay_rate, (int, float)) and 0 < self.decay_rate <= 1,
              f"decay_rate must lie in (0, 1], got {self.decay_rate!r}")
        check(isinstance(self.pretrain_epochs, (int, np.integer)) and self.pretrain_epochs >= 0,
              f"pretrain_epochs must be an integer >= 0, got {self.pretrain_epochs!r}")
        check(isinstance(self.pretrain_lowpass_hz, (int, float)) and self.pretrain_lowpass_hz > 0,
              f"pretrain_lowpass_hz must be a positive frequency in Hz, got {self.pretrain_lowpass_hz!r}")
        check(isinstance(self.threshold, (int, float)) and np.isfinite(self.threshold)
              and 0 < self.threshold < 2,
              f"threshold must lie in (0, 2) (0: mean-frame baseline, 1: copy baseline), "
              f"got {self.threshold!r}")
        check(isinstance(self.seeds, tuple), f"seeds must be a tuple, got {self.seeds!r}")
        _check_seeds(self.seeds)
        check(isinstance(self.conditions, tuple), f"conditions must be a tuple, got {self.conditions!r}")
        _check_conditions(self.conditions)
        check(isinstance(self.noise_seed, (int, np.integer)) and self.noise_seed >= 0,
              f"noise_seed must be an integer >= 0, got {self.noise_seed!r}")
        check(isinstance(self.n_jobs, (int, np.integer)) and (self.n_jobs >= 1 or self.n_jobs == -1),
              f"n_jobs must be a positive integer or -1, got {self.n_jobs!r}")

    @property
    def segment_stride(self) -> int:
        """``stride``, or ``window`` when it is None."""
        return self.window if self.stride is None else self.stride

    def training_fields(self) -> dict[str, Any]:
        """The fields a trained run depends on (its store key): not the seeds and conditions
        (each run is one of them), nor the parallelism, nor the threshold unless runs stop at
        it."""
        skip = {"seeds", "conditions", "threads", "n_jobs", "noise_seed"}  # noise: in its input key
        if not self.stop_at_threshold:
            skip.add("threshold")
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}


PRESETS = {
    # Tiny, for tests: seconds a run.
    "smoke": LSTMConfig(units=8, window=16, batch_size=8, max_steps=30, eval_every=5,
                        seeds=(0, 1), learning_rate=1e-2),
    # Sized for Chapter 3 on a 2-core CPU (benchmark and timings in the chapter).
    "book": LSTMConfig(units=64, window=94, batch_size=32, max_steps=400, eval_every=10,
                       learning_rate=1e-2, decay_steps=10_000, seeds=(0, 1, 2, 3, 4)),
    # The original's sizes: 250 units, 216-frame windows, batch 64, Adam 1e-2 decaying by 0.9
    # every 10 000 steps; runs stop at the threshold.
    "paper": LSTMConfig(units=250, window=216, batch_size=64, max_steps=5000, eval_every=10,
                        stop_at_threshold=True, seeds=(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
}


def build_for(config: LSTMConfig, *, n_mels: int, seed: int | None = None):
    """:func:`langlab.models.build_next_frame_lstm` with the sizes of ``config``."""
    return models.build_next_frame_lstm(n_mels=n_mels, units=config.units,
                                        learning_rate=config.learning_rate,
                                        decay_steps=config.decay_steps, decay_rate=config.decay_rate,
                                        seed=seed)


# --------------------------------------------------------------------------------------------
# Segments, pairs, baselines
# --------------------------------------------------------------------------------------------
def _check_S(S: Any, name: str, *, n_mels: int | None = None) -> np.ndarray:
    """``S`` as float32 ``[n_clips, n_mels, n_frames]`` with finite values."""
    S = np.asarray(S, dtype=np.float32)
    check(S.ndim == 3 and S.shape[0] >= 1 and S.shape[1] >= 1,
          f"{name} must be an array [n_clips, n_mels, n_frames] with at least one clip, got shape {S.shape}")
    if n_mels is not None:
        check(S.shape[1] == n_mels, f"{name} has {S.shape[1]} mel bands, expected {n_mels}")
    check(bool(np.isfinite(S).all()), f"{name} contains NaN or inf values")
    return S


def cut_segments(S, *, window: int, stride: int | None = None, n_valid=None) -> np.ndarray:
    """Runs of ``window`` consecutive frames, each from a single clip.

    The original concatenated all clips into one long series and cut it every 216 frames, so
    the last target of a window could come from the next clip. Here every segment lies inside
    one clip; the clip's last frames that do not fill a whole segment are left out.

    Parameters
    ----------
    S : np.ndarray [shape=(n_clips, n_mels, n_frames)]
        Scaled spectrograms.
    window : int
        Frames per segment.
    stride : int or None
        Frames between segment starts within a clip (None: ``window``, no overlap).
    n_valid : sequence of int or None
        Usable frames at the start of each clip (e.g. without end padding); None: all.
        A clip with fewer usable frames than ``window`` gives no segment.

    Returns
    -------
    np.ndarray [shape=(n_segments, window, n_mels)] float32
        Clip by clip, in time order.
    """
    S = _check_S(S, "S")
    _positive_int("window", window)
    stride = window if stride is None else stride
    _positive_int("stride", stride)
    n_clips, n_mels, n_frames = S.shape
    if n_valid is None:
        n_valid = np.full(n_clips, n_frames)
    n_valid = np.minimum(np.asarray(n_valid, dtype=int), n_frames)
    check(n_valid.shape == (n_clips,), f"n_valid must give one count per clip ({n_clips}), got shape {n_valid.shape}")
    x = models.to_sequences(S)
    pieces = [x[i, start:start + window]
              for i in range(n_clips) for start in range(0, int(n_valid[i]) - window + 1, stride)]
    if not pieces:
        return np.zeros((0, window, n_mels), dtype=np.float32)
    return np.stack(pieces).astype(np.float32, copy=False)


def pairs(S, *, config: LSTMConfig) -> tuple[np.ndarray, np.ndarray]:
    """Input and target sequences ``(x, y)``, each ``[n_segments, window - shift, n_mels]``, of
    the spectrograms ``S`` laid out as ``config`` says (:func:`cut_segments`, then
    :func:`langlab.models.shift_pairs`)."""
    segments = cut_segments(S, window=config.window, stride=config.segment_stride)
    check(len(segments) >= 1,
          f"no clip of {S.shape[2] if np.ndim(S) == 3 else '?'} frames holds a {config.window}-frame "
          "segment; use a shorter window", DataError)
    return models.shift_pairs(segments, shift=config.shift)


def baselines(S_train, S_eval, *, config: LSTMConfig) -> dict[str, float]:
    """MSE of two predictors without a network, on the segments of ``S_eval`` (Chapter 3).

    - ``copy``: frame ``t + shift`` predicted by frame ``t`` ("nothing changes"). At 23 ms
      hops consecutive frames are alike, so this is the baseline to beat.
    - ``mean``: every frame predicted by the mean frame of the training segments (one value
      per mel band): what a model learns that ignores its input.

    Both are computed on exactly the (input, target) pairs of the validation loss.
    """
    x_train, _ = pairs(S_train, config=config)
    x, y = pairs(S_eval, config=config)
    mean_frame = x_train.reshape(-1, x_train.shape[-1]).mean(axis=0)
    return {"copy": float(np.mean((y - x) ** 2)), "mean": float(np.mean((y - mean_frame) ** 2))}


def threshold_value(base: dict[str, float], *, fraction: float) -> float:
    """The validation-loss threshold: ``fraction`` of the way from the mean-frame baseline to
    the copy baseline, ``mean + fraction * (copy - mean)`` (1: the copy baseline itself)."""
    check(set(base) >= {"copy", "mean"}, f"base must hold 'copy' and 'mean' losses, got {sorted(base)}")
    return float(base["mean"] + fraction * (base["copy"] - base["mean"]))


# --------------------------------------------------------------------------------------------
# One run on arrays
# --------------------------------------------------------------------------------------------
def _mse(model, x: np.ndarray, y: np.ndarray, *, batch_size: int = 256) -> float:
    """Mean squared error of ``model`` on all pairs (weighted over chunks)."""
    total = 0.0
    for start in range(0, len(x), batch_size):
        pred = np.asarray(model.predict_on_batch(x[start:start + batch_size]), dtype=np.float64)
        total += float(np.sum((pred - y[start:start + batch_size]) ** 2))
    return total / y.size


def _batch_stream(n: int, batch_size: int, rng: np.random.Generator):
    """Index arrays of epoch after epoch (:func:`_epoch_batches`), without end."""
    while True:
        yield from _epoch_batches(n, batch_size, rng)


def _epoch_batches(n: int, batch_size: int, rng: np.random.Generator):
    """Index arrays of one epoch: a fresh permutation cut into full batches (a ragged last batch
    would make TensorFlow trace the training step again)."""
    order = rng.permutation(n)
    size = min(batch_size, n)
    for start in range(0, n - size + 1, size):
        yield order[start:start + size]


def train_lstm(S_train, S_val, *, config: LSTMConfig, seed: int, S_pretrain=None,
               threshold: float | None = None, progress: bool = False):
    """One run: optional pre-training, then Spanish training for ``config.max_steps`` steps.

    Parameters
    ----------
    S_train, S_val : np.ndarray [shape=(n, n_mels, n_frames)]
        Scaled full-band Spanish spectrograms: training clips, and held-out speakers' clips for
        the validation loss.
    config : LSTMConfig
        ``preset.lstm``.
    seed : int
        Seeds the initial weights and the batch order of both phases. With TensorFlow's op
        determinism the same seed gives the same history (Chapter 3 checks it).
    S_pretrain : np.ndarray [shape=(m, n_mels, n_frames)] or None
        Pre-training clips (``config.pretrain_epochs`` epochs on them first), or None.
    threshold : float or None
        Validation loss at which to stop when ``config.stop_at_threshold`` is set.
    progress : bool
        Show a progress bar (stderr).

    Returns
    -------
    model : keras.Model
        The trained model (:func:`langlab.models.build_next_frame_lstm`).
    history : pd.DataFrame
        One row per evaluation: ``phase`` ("pretrain" after each pre-training epoch, "train"
        every ``eval_every`` steps from step 0, the state after pre-training), ``step``
        (optimizer steps within the phase), ``epoch`` (``step`` in epochs of the phase's
        data), ``seconds`` (wall clock of the phase's optimizer steps so far, evaluations
        excluded), ``loss`` (mean training-batch MSE since the previous row; NaN at step 0)
        and ``val_loss`` (MSE on all validation pairs).
    """
    check(isinstance(config, LSTMConfig), f"config must be an LSTMConfig (preset.lstm), got {type(config).__name__}")
    S_train = _check_S(S_train, "S_train")
    n_mels = S_train.shape[1]
    S_val = _check_S(S_val, "S_val", n_mels=n_mels)
    x_train, y_train = pairs(S_train, config=config)
    x_val, y_val = pairs(S_val, config=config)
    fresh = build_for(config, n_mels=n_mels, seed=seed)
    model = _warm_model(fresh, config, batch=(min(config.batch_size, len(x_train)), *x_train.shape[1:]))
    # One generator per phase, so that a seed's Spanish batch order is the same in every
    # condition: runs of one seed differ only in what they heard before.
    pretrain_rng, train_rng = (np.random.default_rng([int(seed), phase]) for phase in (1, 2))
    rows: list[dict] = []

    def row(phase, step, steps_per_epoch, seconds, losses):
        rows.append({"phase": phase, "step": step, "epoch": step / steps_per_epoch,
                     "seconds": seconds, "loss": float(np.mean(losses)) if losses else float("nan"),
                     "val_loss": _mse(model, x_val, y_val)})

    if S_pretrain is not None and config.pretrain_epochs:
        S_pretrain = _check_S(S_pretrain, "S_pretrain", n_mels=n_mels)
        x_pre, y_pre = pairs(S_pretrain, config=config)
        per_epoch = max(1, len(x_pre) // min(config.batch_size, len(x_pre)))
        step, seconds = 0, 0.0
        for _ in range(config.pretrain_epochs):
            losses = []
            for idx in _epoch_batches(len(x_pre), config.batch_size, pretrain_rng):
                started = time.perf_counter()
                losses.append(float(model.train_on_batch(x_pre[idx], y_pre[idx])))
                seconds += time.perf_counter() - started
                step += 1
            row("pretrain", step, per_epoch, seconds, losses)

    per_epoch = max(1, len(x_train) // min(config.batch_size, len(x_train)))
    row("train", 0, per_epoch, 0.0, [])
    seconds, losses = 0.0, []
    bar = _bar(config.max_steps, "LSTM steps") if progress else None
    batches = itertools.islice(_batch_stream(len(x_train), config.batch_size, train_rng), config.max_steps)
    for step, idx in enumerate(batches, start=1):
        started = time.perf_counter()
        losses.append(float(model.train_on_batch(x_train[idx], y_train[idx])))
        seconds += time.perf_counter() - started
        if bar is not None:
            bar.update(1)
        if step % config.eval_every == 0 or step == config.max_steps:
            row("train", step, per_epoch, seconds, losses)
            losses = []
            if config.stop_at_threshold and threshold is not None and rows[-1]["val_loss"] <= threshold:
                break
    if bar is not None:
        bar.close()
    # The caller's own copy of the trained weights and optimizer state.
    fresh.set_weights(model.get_weights())
    fresh.optimizer.build(fresh.trainable_variables)
    for mine, warm in zip(fresh.optimizer.variables, model.optimizer.variables):
        mine.assign(warm)
    return fresh, pd.DataFrame(rows)


#: The model of the previous run in this process, whose traced training step the next run of
#: the same architecture reuses (see :func:`_warm_model`). At most one entry.
_WARM: dict[tuple, Any] = {}


def _warm_model(fresh, config: LSTMConfig, *, batch: tuple[int, ...]):
    """A compiled model with the seeded initial weights of ``fresh`` whose training step is
    already traced, so that no run's clock includes TensorFlow's tracing (a second or two,
    which would otherwise land in the first phase of each run: Spanish training for ``none``,
    pre-training for the others).

    The first call in a process traces a spare model with one step on zeros; every call then
    resets it to ``fresh``'s weights and a zeroed Adam state (step count 0). Training it equals
    training ``fresh`` itself (a test checks it); later runs of the same architecture in the
    same process (a joblib worker) reuse it.
    """
    key = (tuple(fresh.input_shape), config.units, config.learning_rate, config.decay_steps,
           config.decay_rate, tuple(batch))
    model = _WARM.get(key)
    if model is None:
        _WARM.clear()
        model = build_for(config, n_mels=batch[-1])
        zeros = np.zeros(batch, dtype=np.float32)
        model.train_on_batch(zeros, zeros)
        model.predict_on_batch(zeros)
        _WARM[key] = model
    model.set_weights(fresh.get_weights())
    for variable in model.optimizer.variables:
        variable.assign(np.zeros(variable.shape, dtype=variable.dtype))
    return model


def time_to_threshold(history: pd.DataFrame, *, threshold: float, max_steps: int) -> dict[str, Any]:
    """When a run's validation loss first fell to ``threshold``.

    Parameters
    ----------
    history : pd.DataFrame
        From :func:`train_lstm` (only ``phase == "train"`` rows are used).
    threshold : float
        Validation-loss threshold (:func:`threshold_value`).
    max_steps : int
        The run's budget.

    Returns
    -------
    dict
        ``steps_to_threshold``, ``epochs_to_threshold``, ``seconds_to_threshold`` and
        ``censored``. A run that never reached the threshold is censored: its steps are the
        budget ``max_steps`` and its epochs and seconds those of its last evaluation, i.e.
        lower bounds ("at least that long"), with ``censored=True``.
    """
    train = history[history["phase"] == "train"].sort_values("step")
    check(len(train) >= 1, "history has no 'train' rows", DataError)
    hit = train[train["val_loss"] <= threshold]
    if len(hit):
        first = hit.iloc[0]
        return {"steps_to_threshold": int(first["step"]), "epochs_to_threshold": float(first["epoch"]),
                "seconds_to_threshold": float(first["seconds"]), "censored": False}
    last = train.iloc[-1]
    return {"steps_to_threshold": int(max_steps), "epochs_to_threshold": float(last["epoch"]),
            "seconds_to_threshold": float(last["seconds"]), "censored": True}


def _bar(total, desc):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, file=sys.stderr, leave=False)


# --------------------------------------------------------------------------------------------
# Data of a preset: features, pre-training clips, the noise control
# --------------------------------------------------------------------------------------------
def _in_worker() -> bool:
    """True in a pool or cluster worker process (loky, multiprocessing, Dask nanny)."""
    return multiprocessing.parent_process() is not None


def pretrain_lowpass_hz(preset) -> float:
    """Low-pass cut-off (Hz) of the pre-training clips of ``preset`` (``preset.lstm``)."""
    return float(as_preset(preset).lstm.pretrain_lowpass_hz)


def noise_waveforms(waveforms: Sequence[np.ndarray], *, n_clips: int, n_samples: int,
                    seed: int) -> list[np.ndarray]:
    """Speech-shaped noise: ``n_clips`` waveforms with the long-term average spectrum of
    ``waveforms`` (Chapter 3's no-language control).

    The long-term average power spectrum (LTAS) is the mean over the speech clips of their
    power spectra (each clip's own length, zero-padded to ``n_samples``). Each noise clip is
    seeded white Gaussian noise filtered to that spectrum, then cut to the length and scaled to
    the RMS level of one speech clip (taken in turn), so the noise has speech's spectrum, level
    and duration but no syllables, rhythm or melody: nothing of a language.

    Parameters
    ----------
    waveforms : sequence of np.ndarray [shape=(n,)]
        Speech clips at one sample rate (e.g. the pre-training clips of all languages).
    n_clips : int
        Noise clips to make.
    n_samples : int
        Length of every noise clip (the feature duration in samples); speech clips longer
        than that are cut.
    seed : int

    Returns
    -------
    list of np.ndarray [shape=(n_samples,)] float32
        Zero after each template clip's own length (like padded speech).
    """
    _positive_int("n_clips", n_clips)
    _positive_int("n_samples", n_samples)
    check(len(waveforms) >= 1, "noise_waveforms needs at least one speech clip")
    clips = [np.asarray(y, dtype=np.float64)[:n_samples] for y in waveforms]
    check(all(y.ndim == 1 and y.size >= 2 for y in clips), "waveforms must be 1-d clips of >= 2 samples")
    power = np.mean([np.abs(np.fft.rfft(y, n=n_samples)) ** 2 / y.size for y in clips], axis=0)
    gain = np.sqrt(power)
    rng = np.random.default_rng([int(seed), 77])
    out = []
    for i in range(n_clips):
        template = clips[i % len(clips)]
        noise = np.fft.irfft(np.fft.rfft(rng.standard_normal(n_samples)) * gain, n=n_samples)
        noise = noise[:template.size]
        rms_t, rms_n = np.sqrt(np.mean(template ** 2)), np.sqrt(np.mean(noise ** 2))
        y = np.zeros(n_samples)
        y[:template.size] = noise * (rms_t / rms_n if rms_n > 0 else 0.0)
        out.append(y.astype(np.float32))
    return out


def noise_spectrograms(preset, *, store=None, data_dir=None) -> tuple[np.ndarray, str]:
    """Scaled spectrograms of the ``noise`` condition and their store key.

    As many clips as one language has pre-training clips; each is
    :func:`noise_waveforms` made from the pre-training clips of all languages, then low-passed
    and turned into a scaled mel spectrogram exactly like the speech clips
    (:func:`langlab.features.waveform_features`, :meth:`~langlab.features.FeatureSet.scaled`).
    Cached in the store.

    Returns
    -------
    S : np.ndarray [shape=(n_clips, n_mels, n_frames)] float32 in [0, 1]
    key : str
    """
    from langlab import audio, features
    preset = as_preset(preset)
    store = default_store(store)
    config = preset.lstm
    low = features.for_preset(preset, lowpass_hz=config.pretrain_lowpass_hz, data_dir=data_dir,
                              store=store).where(role="pretrain")
    entry = store.entry(NOISE_STAGE, config={"lowpass_hz": config.pretrain_lowpass_hz,
                                             "noise_seed": config.noise_seed},
                        inputs=[low.key], code=_CODE)
    if not entry.exists():
        table = low.table.reset_index(drop=True)
        check(len(table) >= 1, "no pre-training clips to shape the noise after", DataError)
        n_clips = int(table["locale"].value_counts().max())
        fc = low.config
        speech = [audio.load_audio(p, sr=fc.sr, duration=fc.duration) for p in table["path"]]
        y = noise_waveforms(speech, n_clips=n_clips, n_samples=fc.n_samples, seed=config.noise_seed)
        n_real = [len(speech[i % len(speech)][:fc.n_samples]) for i in range(n_clips)]
        S_db, info = features.waveform_features(np.stack(y), config=fc, n_real=n_real)
        # Scaled by the speech clips' own rule (FeatureSet.scaled), whatever config.scaling says.
        noise = dataclasses.replace(low, S_db=S_db, table=info, skipped=low.skipped.iloc[:0], path=None)
        S = noise.scaled()

        def fill(folder: Path) -> dict:
            atomic_save_npy(folder / "S.npy", np.asarray(S, dtype=np.float32))
            return {"n_clips": n_clips, "n_speech_clips": len(table)}

        entry.write(fill, description="low-passed speech-shaped noise (the no-language control)")
    return np.load(entry.path / "S.npy"), entry.key


def pretrain_spectrograms(preset, *, condition: str, store=None, data_dir=None) -> tuple[np.ndarray, str]:
    """Scaled pre-training spectrograms of one condition and the store key they come from.

    ``"es"``, ``"it"``, ``"ja"``: the ``pretrain`` clips of that language, low-passed at
    ``preset.lstm.pretrain_lowpass_hz`` (silent clips excluded); ``"noise"``:
    :func:`noise_spectrograms`. The autoencoder (Chapter 5) pre-trains on the same data.

    Returns
    -------
    S : np.ndarray [shape=(n_clips, n_mels, n_frames)] float32 in [0, 1]
    key : str
    """
    from langlab import features
    preset = as_preset(preset)
    _check_conditions([condition])
    check(condition != "none", "condition 'none' has no pre-training data")
    if condition == "noise":
        return noise_spectrograms(preset, store=store, data_dir=data_dir)
    low = features.for_preset(preset, lowpass_hz=preset.lstm.pretrain_lowpass_hz, data_dir=data_dir,
                              store=default_store(store))
    fs = low.where(role="pretrain", locale=condition)
    check(len(fs.table) >= 1, f"no pre-training clips of locale {condition!r} in the corpus", DataError)
    return np.asarray(fs.scaled(), dtype=np.float32), low.key


@dataclasses.dataclass(frozen=True)
class LSTMData:
    """Scaled spectrograms of one pre-training condition (from :func:`lstm_data`).

    ``S_train``/``S_val``: full-band Spanish (roles ``train``/``val``); ``S_pretrain``: the
    condition's pre-training clips (None for ``"none"``); ``keys``: store keys of the inputs.
    """

    S_train: np.ndarray
    S_val: np.ndarray
    S_pretrain: np.ndarray | None
    keys: tuple[str, ...]


def lstm_data(preset, *, condition: str, store=None, data_dir=None) -> LSTMData:
    """The data one (condition, seed) run trains on (see :class:`LSTMData`)."""
    from langlab import features
    preset = as_preset(preset)
    _check_conditions([condition])
    store = default_store(store)
    full = features.for_preset(preset, data_dir=data_dir, store=store)
    train, val = full.where(role="train"), full.where(role="val")
    check(len(train.table) >= 1 and len(val.table) >= 1,
          f"the corpus needs Spanish 'train' and 'val' clips, got {len(train.table)} and {len(val.table)}",
          DataError)
    keys = [full.key]
    S_pretrain = None
    if condition != "none":
        S_pretrain, key = pretrain_spectrograms(preset, condition=condition, store=store, data_dir=data_dir)
        keys.append(key)
    return LSTMData(S_train=np.asarray(train.scaled(), dtype=np.float32),
                    S_val=np.asarray(val.scaled(), dtype=np.float32),
                    S_pretrain=S_pretrain, keys=tuple(keys))


# --------------------------------------------------------------------------------------------
# The experiment: every (condition, seed) of a preset, in the store
# --------------------------------------------------------------------------------------------
def _entry(store: Store, config: LSTMConfig, condition: str, seed: int, keys: Sequence[str]):
    return store.entry(STAGE, config={"lstm": config.training_fields(), "condition": condition,
                                      "seed": int(seed)},
                       inputs=list(keys), code=_CODE)


#: Per-run numbers kept in each entry's manifest.
RUN_FIELDS = ("copy_baseline", "mean_baseline", "val_loss_start", "val_loss_final", "best_val_loss",
              "pretrain_steps", "steps", "steps_per_epoch", "n_train", "n_val", "n_pretrain",
              "n_train_segments", "n_val_segments", "n_pretrain_segments", "pretrain_seconds",
              "train_seconds")


def _train_unit(preset, condition: str, seed: int, *, store: Store, data_dir, threads: int | None,
                progress: bool = False) -> str:
    """Train and store one (condition, seed) run unless it is stored; returns the entry key.

    Runs in a joblib worker (a local process or a Dask worker): TensorFlow gets ``threads``
    threads; the data is read from the shared store.
    """
    if threads:
        models.limit_threads(threads)
    config = preset.lstm
    data = lstm_data(preset, condition=condition, store=store, data_dir=data_dir)
    entry = _entry(store, config, condition, seed, data.keys)
    if entry.exists():
        return entry.key

    def fill(folder: Path) -> dict:
        base = baselines(data.S_train, data.S_val, config=config)
        threshold = threshold_value(base, fraction=config.threshold)
        model, history = train_lstm(data.S_train, data.S_val, config=config, seed=seed,
                                    S_pretrain=data.S_pretrain, threshold=threshold, progress=progress)
        model.save(folder / "model.keras")
        history.to_csv(folder / "history.csv", index=False)
        pre, train = history[history["phase"] == "pretrain"], history[history["phase"] == "train"]
        segments = {name: 0 if S is None else len(cut_segments(S, window=config.window,
                                                                stride=config.segment_stride))
                    for name, S in (("train", data.S_train), ("val", data.S_val),
                                    ("pretrain", data.S_pretrain))}
        return {"condition": condition, "seed": int(seed), "threshold_at_training": threshold,
                "copy_baseline": base["copy"], "mean_baseline": base["mean"],
                "val_loss_start": float(train["val_loss"].iloc[0]),
                "val_loss_final": float(train["val_loss"].iloc[-1]),
                "best_val_loss": float(train["val_loss"].min()),
                "pretrain_steps": int(pre["step"].max()) if len(pre) else 0,
                "steps": int(train["step"].max()),
                "steps_per_epoch": segments["train"] // min(config.batch_size, segments["train"]),
                **models.clip_counts(data), **{f"n_{name}_segments": n for name, n in segments.items()},
                "pretrain_seconds": float(pre["seconds"].max()) if len(pre) else 0.0,
                "train_seconds": float(train["seconds"].max())}

    entry.write(fill, description=f"next-frame LSTM, pre-training {condition!r}, seed {seed}")
    return entry.key


def _seeds_conditions(config: LSTMConfig, seeds, conditions) -> tuple[tuple[int, ...], tuple[str, ...]]:
    seeds = _check_seeds(config.seeds if seeds is None else seeds)
    return seeds, _check_conditions(config.conditions if conditions is None else conditions)


def lstm_experiment(preset, *, seeds=None, conditions=None, store=None, n_jobs=None,
                    data_dir=None) -> pd.DataFrame:
    """Train (or load from the store) the next-frame LSTM for every condition and seed (Chapter 3).

    Parameters
    ----------
    preset : str or Preset
        ``"smoke"``, ``"book"``, ``"paper"`` or a :class:`~langlab.presets.Preset`; its
        ``lstm`` config (:class:`LSTMConfig`) sets the model, schedule and threshold.
    seeds, conditions : sequences, optional
        Default ``preset.lstm.seeds`` and ``preset.lstm.conditions``.
    store : Store, optional
    n_jobs : int, optional
        Parallel runs through joblib (default ``preset.lstm.n_jobs``; 1 runs them one after
        the other in this process). Each worker uses ``preset.lstm.threads`` TensorFlow threads.
    data_dir : path, optional
        A Common Voice download; default the embedded corpus.

    Returns
    -------
    pd.DataFrame
        One row per (condition, seed): ``condition``, ``seed``, ``threshold`` (validation MSE,
        :func:`threshold_value` of the run's baselines), ``steps_to_threshold``,
        ``epochs_to_threshold``, ``seconds_to_threshold``, ``censored`` (see
        :func:`time_to_threshold`; censored runs carry their budget), ``max_steps``, the
        fields of :data:`RUN_FIELDS` (baselines, losses, sizes, ``pretrain_seconds``,
        ``train_seconds``) and ``key`` (the store entry). Wall-clock columns have
        ``seconds`` in their names.
    """
    preset = as_preset(preset)
    config = preset.lstm
    seeds, conditions = _seeds_conditions(config, seeds, conditions)
    store = default_store(store)
    n_jobs = config.n_jobs if n_jobs is None else int(n_jobs)
    check(n_jobs >= 1 or n_jobs == -1, f"n_jobs must be a positive integer or -1, got {n_jobs}")
    keys = {c: lstm_data(preset, condition=c, store=store, data_dir=data_dir).keys for c in conditions}
    entries = {(c, s): _entry(store, config, c, s, keys[c]) for c in conditions for s in seeds}
    entries = models.compute_missing(entries, _train_unit, preset, n_jobs=n_jobs, threads=config.threads,
                                     desc="LSTM runs", store=store, data_dir=data_dir)
    rows = []
    for (c, s), entry in entries.items():
        check(entry.exists(), f"LSTM run {c}/seed {s} is missing from {store} after training", DataError)
        rows.append(_result_row(entry, config))
    return pd.DataFrame(rows)


def _result_row(entry, config: LSTMConfig) -> dict[str, Any]:
    m = entry.manifest()
    threshold = threshold_value({"copy": m["copy_baseline"], "mean": m["mean_baseline"]},
                                fraction=config.threshold)
    history = pd.read_csv(entry.path / "history.csv")
    return {"condition": m["condition"], "seed": int(m["seed"]), "threshold": threshold,
            **time_to_threshold(history, threshold=threshold, max_steps=config.max_steps),
            "max_steps": config.max_steps, **{k: m[k] for k in RUN_FIELDS}, "key": entry.key}


def retime(results: pd.DataFrame, histories: pd.DataFrame, *, threshold: float) -> pd.DataFrame:
    """:func:`lstm_experiment`'s table with the time to another threshold, without training.

    Parameters
    ----------
    results : pd.DataFrame
        :func:`lstm_experiment`'s table.
    histories : pd.DataFrame
        :func:`lstm_histories` of the same runs.
    threshold : float
        The new threshold as a fraction of the way from the mean-frame to the copy baseline
        (like :attr:`LSTMConfig.threshold`). Runs that stopped at their old threshold
        (``stop_at_threshold``) can only be timed to easier (smaller) ones.

    Returns
    -------
    pd.DataFrame
        A copy of ``results`` with ``threshold``, ``steps_to_threshold``,
        ``epochs_to_threshold``, ``seconds_to_threshold`` and ``censored`` recomputed.
    """
    _check_results(results, "steps_to_threshold")
    check({"condition", "seed", "phase", "step", "val_loss"} <= set(histories.columns),
          "histories needs lstm_histories' columns (condition, seed, phase, step, val_loss, ...)")
    out = results.copy()
    curves = dict(iter(histories.groupby(["condition", "seed"])))
    for i, run in out.iterrows():
        key = (run["condition"], run["seed"])
        check(key in curves, f"no history for run {key[0]}/seed {key[1]}", DataError)
        value = threshold_value({"copy": run["copy_baseline"], "mean": run["mean_baseline"]},
                                fraction=threshold)
        timed = time_to_threshold(curves[key], threshold=value, max_steps=int(run["max_steps"]))
        for column, v in {"threshold": value, **timed}.items():
            out.at[i, column] = v
    return out


def load_lstm(preset, *, condition: str, seed: int, store=None, data_dir=None):
    """The trained LSTM of one (condition, seed) from the store (trained first if missing).

    Returns a compiled ``keras.Model`` (see :func:`langlab.models.build_next_frame_lstm`).
    """
    import keras

    import langlab.layers  # noqa: F401  (registers the model's layers with Keras)
    preset = as_preset(preset)
    _check_conditions([condition])
    _check_seeds([seed])
    store = default_store(store)
    entry = _entry(store, preset.lstm, condition, seed,
                   lstm_data(preset, condition=condition, store=store, data_dir=data_dir).keys)
    if not entry.exists():
        _train_unit(preset, condition, int(seed), store=store, data_dir=data_dir,
                    threads=preset.lstm.threads if _in_worker() else None)
    return keras.models.load_model(entry.path / "model.keras")


def lstm_histories(preset, *, seeds=None, conditions=None, store=None, n_jobs=None,
                   data_dir=None) -> pd.DataFrame:
    """Loss curves of every (condition, seed) run: the :func:`train_lstm` history with
    ``condition`` and ``seed`` columns first. Missing runs are trained first
    (:func:`lstm_experiment`, same arguments)."""
    store = default_store(store)
    results = lstm_experiment(preset, seeds=seeds, conditions=conditions, store=store, n_jobs=n_jobs,
                              data_dir=data_dir)
    frames = [pd.read_csv(store.root / STAGE / key / "history.csv").assign(condition=c, seed=s)
              for c, s, key in results[["condition", "seed", "key"]].itertuples(index=False)]
    out = pd.concat(frames, ignore_index=True)
    return out[["condition", "seed"] + [k for k in out.columns if k not in ("condition", "seed")]]


# --------------------------------------------------------------------------------------------
# Statistics over seeds
# --------------------------------------------------------------------------------------------
def _check_results(results: pd.DataFrame, metric: str) -> None:
    check(isinstance(results, pd.DataFrame), f"results must be a DataFrame from lstm_experiment, "
          f"got {type(results).__name__}")
    missing = {"condition", "censored", metric} - set(results.columns)
    check(not missing, f"results lacks column(s) {sorted(missing)}; pass lstm_experiment's table")


def summarise(results: pd.DataFrame, *, metric: str = "steps_to_threshold",
              confidence: float = 0.95) -> pd.DataFrame:
    """Mean time to threshold per condition with a confidence interval over seeds.

    Parameters
    ----------
    results : pd.DataFrame
        :func:`lstm_experiment`'s table.
    metric : str
        ``"steps_to_threshold"`` (the default: optimizer steps, the unit that does not depend
        on the machine), ``"epochs_to_threshold"`` or ``"seconds_to_threshold"``.
    confidence : float
        Of the Student-t interval (:func:`langlab.stats.mean_ci`).

    Returns
    -------
    pd.DataFrame
        One row per condition, in the order of :data:`CONDITIONS`: ``n_runs``,
        ``n_censored``, ``mean``, ``ci_low``, ``ci_high``, ``median``, ``min``, ``max``.
        Censored runs count with their budget, so with any censored run the mean is a lower
        bound (the table says how many).
    """
    from langlab.stats import mean_ci
    _check_results(results, metric)
    rows = []
    for condition in [c for c in CONDITIONS if c in set(results["condition"])]:
        part = results[results["condition"] == condition]
        values = part[metric].astype(float).to_numpy()
        mean, low, high = mean_ci(values, confidence=confidence)
        rows.append({"condition": condition, "n_runs": len(part),
                     "n_censored": int(part["censored"].astype(bool).sum()), "mean": mean,
                     "ci_low": low, "ci_high": high, "median": float(np.median(values)),
                     "min": float(values.min()), "max": float(values.max())})
    return pd.DataFrame(rows)


#: Largest number of ways to split two samples for which Mann-Whitney p-values are exact.
EXACT_SPLITS = 200_000


def _mannwhitney_method(xa: np.ndarray, xb: np.ndarray):
    """Exact permutation p-values for small samples, the normal approximation for large ones.

    Steps to threshold tie (they are counted every ``eval_every`` steps), and with ties scipy's
    default falls back to the normal approximation: 5 against 5 runs in complete separation
    would read p = 0.0104 instead of the exact 2 / C(10, 5) = 0.0079. Enumerating every split
    handles ties exactly and is cheap for the seed counts of the presets (Chapter 3).
    """
    from scipy import stats as st
    if math.comb(len(xa) + len(xb), len(xa)) <= EXACT_SPLITS:
        return st.PermutationMethod(n_resamples=np.inf)
    return "asymptotic"


def compare(results: pd.DataFrame, *, pairs: Sequence[tuple[str, str]] = CLAIM_PAIRS,
            metric: str = "steps_to_threshold") -> pd.DataFrame:
    """Two-sided tests of "pre-training A and B reach the threshold equally fast".

    - **Mann-Whitney U** on the steps to threshold, censored runs set to the budget (the
      primary test; exact over every split of the runs for small samples, ties included).
      Every run has the same budget, so a censored run truly took longer than every run that
      reached the threshold and the ranks are right; only the order among censored runs is
      lost (they tie). This is Gehan's generalised Wilcoxon test for a common
      censoring time, and it assumes no distribution.
    - **Log-rank** (``scipy.stats.logrank``), the standard test for censored times, as a
      check; it weighs late differences more.

    Parameters
    ----------
    results : pd.DataFrame
        :func:`lstm_experiment`'s table.
    pairs : sequence of (str, str)
        Conditions to compare (default :data:`CLAIM_PAIRS`: Italian vs Japanese, each vs none).
    metric : str
        Column to compare (steps by default).

    Returns
    -------
    pd.DataFrame
        One row per pair: ``a``, ``b``, ``n_a``, ``n_b``, ``mean_a``, ``mean_b``,
        ``censored_a``, ``censored_b``, ``U`` (of ``a``), ``p_mannwhitney``, ``p_logrank``.
        P-values are NaN when a condition has no runs or all values are equal.
    """
    from scipy import stats as st
    _check_results(results, metric)
    rows = []
    for a, b in pairs:
        _check_conditions([a, b])
        A, B = (results[results["condition"] == c] for c in (a, b))
        check(len(A) >= 1 and len(B) >= 1, f"no runs of condition {a if not len(A) else b!r} in results")
        xa, xb = A[metric].astype(float).to_numpy(), B[metric].astype(float).to_numpy()
        ca, cb = A["censored"].astype(bool).to_numpy(), B["censored"].astype(bool).to_numpy()
        if np.ptp(np.concatenate([xa, xb])) == 0:
            U, p_mw, p_lr = float("nan"), float("nan"), float("nan")
        else:
            mw = st.mannwhitneyu(xa, xb, alternative="two-sided", method=_mannwhitney_method(xa, xb))
            U, p_mw = float(mw.statistic), float(mw.pvalue)
            try:
                lr = st.logrank(st.CensoredData(uncensored=xa[~ca], right=xa[ca]),
                                st.CensoredData(uncensored=xb[~cb], right=xb[cb]))
                p_lr = float(lr.pvalue)
            except (ValueError, ZeroDivisionError):
                p_lr = float("nan")
        rows.append({"a": a, "b": b, "n_a": len(xa), "n_b": len(xb), "mean_a": float(xa.mean()),
                     "mean_b": float(xb.mean()), "censored_a": int(ca.sum()), "censored_b": int(cb.sum()),
                     "U": U, "p_mannwhitney": p_mw, "p_logrank": p_lr})
    return pd.DataFrame(rows)


def learning_curves(histories: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Mean validation loss per condition and step with a t-interval over seeds.

    Parameters
    ----------
    histories : pd.DataFrame
        :func:`lstm_histories`' table.

    Returns
    -------
    pd.DataFrame
        ``condition``, ``step``, ``n_runs``, ``mean``, ``ci_low``, ``ci_high`` of
        ``val_loss`` over the Spanish-training rows (runs that stopped early contribute up to
        their last step).
    """
    from langlab.stats import mean_ci
    check({"condition", "phase", "step", "val_loss"} <= set(histories.columns),
          "histories needs columns condition, phase, step, val_loss (lstm_histories' table)")
    train = histories[histories["phase"] == "train"]
    rows = []
    for (condition, step), part in train.groupby(["condition", "step"], sort=False):
        mean, low, high = mean_ci(part["val_loss"].to_numpy(), confidence=confidence)
        rows.append({"condition": condition, "step": int(step), "n_runs": len(part),
                     "mean": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows).sort_values(["condition", "step"], kind="stable").reset_index(drop=True)
