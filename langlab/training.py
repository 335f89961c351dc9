"""Pre-training and training the next-frame LSTM, and the time it takes to learn (Chapter 3).

The original study pre-trained its LSTM for one epoch on 500 Hz low-passed speech of one
language, then trained it on full-band Spanish until a loss threshold, and compared the
wall-clock time to that threshold across pre-training languages, one run each. Here:

- :func:`cut_segments`: training segments that never straddle two clips.
- :func:`baselines`: the "copy the last frame" and "predict the mean frame" predictors, the
  two reference points of the loss threshold (:func:`threshold_value`).
- :func:`train_lstm`: one run on arrays: optional pre-training, then Spanish training for a
  budget of optimizer steps with the held-out validation loss every ``eval_every`` steps.
- :func:`val_loss_auc`: the primary endpoint, the mean validation loss over the fixed Spanish
  budget (never censored).
- :func:`time_to_threshold`: steps, epochs and seconds until the validation loss first falls
  to the threshold; a run that never gets there is *censored* at its budget, never dropped.
- :data:`SPEC`, :func:`lstm_experiment`: the LSTM as a model of :mod:`langlab.runs`, which
  trains every (pre-training condition, seed) of a preset, in parallel through joblib, each run
  one store entry (model, history, kept weights, timings), so a rebuild trains nothing.
  :func:`load_lstm`, :func:`load_checkpoints` and :func:`lstm_histories` read single runs, their
  weights along the way and loss curves.
- :func:`retime`: the same runs timed to another threshold, without training.
- :class:`Design`, :data:`DESIGNS`, :func:`design_experiment`: Chapter 3's grid of arms
  (pre-training condition x dose x optimizer reset) over paired seeds, each (dose, reset) group
  one :func:`lstm_experiment`, in one tidy table; :func:`design_steps` and
  :func:`step_seconds` give its cost without training.

The pre-training data of each condition is :mod:`langlab.pretraining`'s; the statistics over
seeds (means, tests, learning curves) are :mod:`langlab.learning_speed`'s.

TensorFlow is imported only inside functions, so ``import langlab.training`` stays cheap.
"""
from __future__ import annotations

import dataclasses
import itertools
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from langlab import models, runs
from langlab.errors import DataError, check, check_int, check_number, check_tuple, checked
from langlab.pretraining import CONDITIONS, NONE, check_conditions
from langlab.learning_speed import check_results

#: Low-pass cut-off of the pre-training clips, Hz (the original's 500 Hz).
PRETRAIN_LOWPASS_HZ = 500.0
#: Store stage of one trained (condition, seed) run.
STAGE = "lstm"


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
        Epochs over the pre-training clips (the protocol: 1): the *dose* of pre-training.
    reset_optimizer : bool
        Re-initialise Adam's state (moment estimates and step count) after pre-training, so
        that only the weights carry over into Spanish training (the ablation of Chapter 3).
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
        Stop a run when it reaches the threshold (saves time). Without it, every run uses its
        whole budget, which gives complete learning curves, a complete ``val_loss_auc`` and
        lets the threshold change without retraining.
    checkpoints : tuple of int
        Spanish-training steps (1 to ``max_steps``, increasing) after which the run's weights
        are kept in its store entry, beside those at ``"init"``, ``"pretrained"`` and
        ``"final"`` (:func:`load_checkpoints`).
    seeds : tuple of int
        Seeds of each condition (initial weights, batch order).
    conditions : tuple of str
        Pre-training conditions: names registered in :mod:`langlab.pretraining` (default
        :data:`langlab.pretraining.CONDITIONS`).
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
    reset_optimizer: bool = False
    pretrain_lowpass_hz: float = PRETRAIN_LOWPASS_HZ
    max_steps: int = 2000
    eval_every: int = 10
    threshold: float = 1.0
    stop_at_threshold: bool = False
    checkpoints: tuple[int, ...] = ()
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    conditions: tuple[str, ...] = CONDITIONS
    noise_seed: int = 0
    threads: int = 1
    n_jobs: int = 2

    def __post_init__(self):
        for name in ("units", "window", "shift", "batch_size", "decay_steps", "max_steps", "eval_every",
                     "threads"):
            checked(self, name, check_int, minimum=1)
        check(self.window > self.shift,
              f"window ({self.window} frames) must be longer than shift ({self.shift}): each "
              "segment gives window - shift input frames")
        if self.stride is not None:
            checked(self, "stride", check_int, minimum=1)
        check_number(self.learning_rate, "learning_rate", minimum=0, maximum=1, open_low=True, open_high=True)
        check_number(self.decay_rate, "decay_rate", minimum=0, maximum=1, open_low=True)
        checked(self, "pretrain_epochs", check_int, minimum=0)
        for name in ("reset_optimizer", "stop_at_threshold"):
            check(isinstance(getattr(self, name), bool), f"{name} must be True or False, got {getattr(self, name)!r}")
        check(not isinstance(self.checkpoints, (str, int)), f"checkpoints must be a sequence of steps, got {self.checkpoints!r}")
        object.__setattr__(self, "checkpoints", check_tuple(
            tuple(self.checkpoints), "checkpoints", item=lambda v, name: check_int(v, name, minimum=1, maximum=self.max_steps),
            unique=True))
        check(list(self.checkpoints) == sorted(self.checkpoints),
              f"checkpoints must be increasing Spanish steps, got {self.checkpoints!r}")
        check_number(self.pretrain_lowpass_hz, "pretrain_lowpass_hz", minimum=0, open_low=True, unit="Hz")
        check_number(self.threshold, "threshold (0: mean-frame baseline, 1: copy baseline)", minimum=0,
                     maximum=2, open_low=True, open_high=True)
        checked(self, "seeds", lambda v, name: runs.check_seeds(v))
        check(isinstance(self.conditions, tuple), f"conditions must be a tuple, got {self.conditions!r}")
        check_conditions(self.conditions)
        checked(self, "noise_seed", check_int, minimum=0)
        checked(self, "n_jobs", check_int, minimum=1, also=(-1,))

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
                        checkpoints=(10, 20), seeds=(0, 1), learning_rate=1e-2),
    # Sized for Chapter 3 on a 2-core CPU (step cost measured in the chapter): a budget of 120
    # Spanish steps, the threshold 0.9 of the way from the mean-frame to the copy baseline
    # (reached within it); the design (DESIGNS) runs 10 seeds; this preset's own runs are the
    # design's largest dose (32 epochs), which later chapters probe.
    "book": LSTMConfig(units=64, window=94, batch_size=32, max_steps=120, eval_every=10, threshold=0.9,
                       checkpoints=(10, 40, 80), learning_rate=1e-2, decay_steps=10_000,
                       pretrain_epochs=32, seeds=tuple(range(10))),
    # The original's sizes: 250 units, 216-frame windows, batch 64, Adam 1e-2 decaying by 0.9
    # every 10 000 steps; every run keeps its whole budget (the primary endpoint needs it).
    "paper": LSTMConfig(units=250, window=216, batch_size=64, max_steps=1000, eval_every=10,
                        checkpoints=(50, 200, 500), seeds=(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
}


# --------------------------------------------------------------------------------------------
# The design of Chapter 3: which (condition, dose, reset) arms, over which seeds
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Design:
    """The grid of Chapter 3's experiment (one per preset, :data:`DESIGNS`).

    Every *arm* is a pre-training condition at a dose (``pretrain_epochs``), with or without
    the optimizer reset, run for every seed; ``"none"`` is one arm whatever the dose. A seed
    fixes the initial weights and the Spanish batch order in every arm, so arms are paired by
    seed.

    Parameters
    ----------
    doses : tuple of int
        Pre-training epochs of the dose factor (increasing).
    dose_conditions : tuple of str
        Conditions run at every dose.
    controls : tuple of str
        Conditions run at the largest dose only (the dose the verdicts read,
        :data:`langlab.plan.JUDGED_DOSE`).
    reset_conditions : tuple of str
        Conditions also run with ``reset_optimizer=True`` at ``reset_dose``.
    reset_dose : int or None
        The ablation's dose (None: the largest).
    seeds : tuple of int
        Seeds of every arm.
    """

    doses: tuple[int, ...]
    dose_conditions: tuple[str, ...]
    controls: tuple[str, ...]
    reset_conditions: tuple[str, ...]
    seeds: tuple[int, ...]
    reset_dose: int | None = None

    def __post_init__(self):
        check_tuple(self.doses, "doses", item=lambda v, name: check_int(v, name, minimum=1), min_len=1,
                    unique=True)
        check(list(self.doses) == sorted(self.doses), f"doses must increase, got {self.doses!r}")
        for name in ("dose_conditions", "controls", "reset_conditions"):
            check(isinstance(getattr(self, name), tuple), f"{name} must be a tuple, got {getattr(self, name)!r}")
            if getattr(self, name):
                check_conditions(getattr(self, name))
            check(NONE not in getattr(self, name), f"{name}: {NONE!r} is always one arm of its own")
        checked(self, "seeds", lambda v, name: runs.check_seeds(v))
        check(self.reset_dose is None or self.reset_dose in self.doses,
              f"reset_dose must be one of the doses {self.doses}, got {self.reset_dose!r}")

    @property
    def top_dose(self) -> int:
        """The largest dose (the controls' and, by default, the reset's)."""
        return self.doses[-1]

    def arms(self) -> pd.DataFrame:
        """One row per arm: ``arm`` (a label such as ``"it x32"`` or ``"it x32 reset"``),
        ``condition``, ``pretrain_epochs`` (0 for ``"none"``) and ``reset_optimizer``."""
        reset_dose = self.top_dose if self.reset_dose is None else self.reset_dose
        cells = [(NONE, 0, False)]
        cells += [(c, d, False) for d in self.doses for c in self.dose_conditions]
        cells += [(c, self.top_dose, False) for c in self.controls if c not in self.dose_conditions]
        cells += [(c, reset_dose, True) for c in self.reset_conditions]
        return pd.DataFrame([{"arm": arm_label(c, d, r), "condition": c, "pretrain_epochs": d,
                              "reset_optimizer": r} for c, d, r in dict.fromkeys(cells)])


def arm_label(condition: str, epochs: int, reset: bool) -> str:
    """``"none"``, ``"it x8"`` or ``"it x8 reset"``: an arm of a :class:`Design`."""
    if condition == NONE:
        return NONE
    return f"{condition} x{int(epochs)}" + (" reset" if reset else "")


#: The design of each preset. ``book``: the dose factor (1, 8, 32 epochs) for the three
#: languages, the controls (noise, shuffled, reversed) at the largest dose, the reset for
#: Italian at the largest dose, 10 seeds. ``paper``: every condition at every dose and the reset
#: for every language. ``smoke``: the same shapes, tiny.
DESIGNS = {
    "smoke": Design(doses=(1, 2), dose_conditions=("it",), controls=("shuffled", "reversed"),
                    reset_conditions=("it",), seeds=(0, 1)),
    "book": Design(doses=(1, 8, 32), dose_conditions=("es", "it", "ja"),
                   controls=("noise", "shuffled", "reversed"), reset_conditions=("it",),
                   seeds=tuple(range(10))),
    "paper": Design(doses=(1, 8, 32), dose_conditions=("es", "it", "ja", "noise", "shuffled", "reversed"),
                    controls=(), reset_conditions=("es", "it", "ja"), seeds=tuple(range(10))),
}


def design(preset) -> Design:
    """The :class:`Design` of ``preset`` (by its name, :data:`DESIGNS`)."""
    from langlab.presets import as_preset
    preset = as_preset(preset)
    check(preset.name in DESIGNS, f"no design for preset {preset.name!r}; designs: {sorted(DESIGNS)}")
    return DESIGNS[preset.name]


def arm_preset(preset, *, pretrain_epochs: int, reset_optimizer: bool = False):
    """``preset`` with the LSTM's dose and reset replaced: the preset of one arm (its store keys
    follow; 0 epochs, the ``"none"`` arm, keeps the preset's dose, which does not change a run
    without pre-training)."""
    from langlab.presets import as_preset
    preset = as_preset(preset)
    check_int(pretrain_epochs, "pretrain_epochs", minimum=0)
    lstm = dataclasses.replace(preset.lstm, pretrain_epochs=int(pretrain_epochs) or preset.lstm.pretrain_epochs,
                               reset_optimizer=bool(reset_optimizer))
    return preset.replace(lstm=lstm)


def _design_groups(preset, grid: Design):
    """The arms grouped by (dose, reset): one preset each with its conditions (``"none"`` goes
    with the first dose's group)."""
    arms = grid.arms()
    first = arms[arms["condition"] != NONE].iloc[0]
    arms.loc[arms["condition"] == NONE, ["pretrain_epochs", "reset_optimizer"]] = \
        [first["pretrain_epochs"], first["reset_optimizer"]]
    for (epochs, reset), part in arms.groupby(["pretrain_epochs", "reset_optimizer"], sort=False):
        yield arm_preset(preset, pretrain_epochs=int(epochs), reset_optimizer=bool(reset)), list(part["condition"])


def design_steps(preset, *, pretrain_steps_per_epoch: int | None = None) -> pd.DataFrame:
    """The optimizer steps of every arm of the preset's :class:`Design`, without training: what
    the grid costs (Chapter 3 multiplies it by a measured step time).

    Parameters
    ----------
    preset : str or Preset
    pretrain_steps_per_epoch : int or None
        Optimizer steps of one pre-training epoch; None: computed from the preset's sizes
        (``corpus.n_pretrain`` clips of ``features.n_frames`` frames cut into
        ``lstm.window``-frame segments, ``lstm.batch_size`` a step), as :func:`train_lstm`
        would on a corpus that fills the preset's counts.

    Returns
    -------
    pd.DataFrame
        :meth:`Design.arms` with ``runs`` (seeds), ``pretrain_steps`` and ``spanish_steps``
        per run, and ``steps`` (all runs of the arm).
    """
    from langlab.presets import as_preset
    preset = as_preset(preset)
    config, grid = preset.lstm, design(preset)
    if pretrain_steps_per_epoch is None:
        per_clip = max(0, (preset.features.n_frames - config.window) // config.segment_stride + 1)
        segments = preset.corpus.n_pretrain * per_clip
        pretrain_steps_per_epoch = segments // min(config.batch_size, segments) if segments else 0
    check_int(pretrain_steps_per_epoch, "pretrain_steps_per_epoch", minimum=0)
    arms = grid.arms()
    arms["runs"] = len(grid.seeds)
    arms["pretrain_steps"] = arms["pretrain_epochs"] * int(pretrain_steps_per_epoch)
    arms["spanish_steps"] = config.max_steps
    arms["steps"] = arms["runs"] * (arms["pretrain_steps"] + arms["spanish_steps"])
    return arms


def step_seconds(config: LSTMConfig, *, n_mels: int, steps: int = 20, threads: int = 1) -> float:
    """Seconds of one optimizer step of ``config``'s model (``batch_size`` segments of
    ``window`` frames) with ``threads`` TensorFlow threads: the fastest of ``steps`` timed steps
    after a traced warm-up, the step least disturbed by other work on a shared machine. The unit
    of :func:`design_steps`' cost (Chapter 3); call it through
    :func:`langlab.runs.run_in_worker` to time it with the workers' thread count."""
    check(isinstance(config, LSTMConfig), f"config must be an LSTMConfig, got {type(config).__name__}")
    check_int(steps, "steps", minimum=1)
    models.limit_threads(threads)
    model = build_for(config, n_mels=n_mels, seed=0)
    x = np.random.default_rng(0).random((config.batch_size, config.window - config.shift, n_mels),
                                        dtype=np.float32)
    for _ in range(3):
        model.train_on_batch(x, x)
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        model.train_on_batch(x, x)
        times.append(time.perf_counter() - started)
    return float(np.min(times))


#: The first columns of :func:`design_experiment`'s table.
DESIGN_COLUMNS = ("arm", "condition", "pretrain_epochs", "pretrain_steps", "reset_optimizer", "seed",
                  "val_loss_auc", "steps_to_threshold", "censored")


def design_experiment(preset, *, seeds=None, conditions=None, store=None, n_jobs=None, data_dir=None,
                      progress: bool = True, histories: bool = False):
    """Train (or load from the store) every arm and seed of the preset's :class:`Design`
    (Chapter 3).

    Each (dose, reset) group of arms runs as one :func:`lstm_experiment` of its preset
    (:func:`arm_preset`), so the runs are ordinary store entries: a rerun trains nothing, and
    the dose-1 runs are the preset's own (those later chapters probe).

    Parameters
    ----------
    preset : str or Preset
    seeds : sequence of int, optional
        Default: the design's.
    conditions : sequence of str, optional
        Only the arms of these conditions (``langlab run --conditions``); default: every arm.
    store, n_jobs, data_dir, progress
        As :func:`lstm_experiment`.
    histories : bool
        Also return the loss curves (:func:`lstm_histories` with the design's columns).

    Returns
    -------
    pd.DataFrame
        One tidy row per (arm, seed): :data:`DESIGN_COLUMNS` first (``pretrain_steps`` is the
        dose in optimizer steps), then every other column of :func:`lstm_experiment`.
        With ``histories=True``, ``(results, curves)``.
    """
    from langlab.presets import as_preset
    preset = as_preset(preset)
    grid = design(preset)
    seeds = grid.seeds if seeds is None else runs.check_seeds(seeds)
    wanted = None if conditions is None else check_conditions(conditions)
    tables, curves = [], []
    for arm_p, group in _design_groups(preset, grid):
        group = [c for c in group if wanted is None or c in wanted]
        if not group:
            continue
        kwargs = dict(seeds=seeds, conditions=group, store=store, n_jobs=n_jobs, data_dir=data_dir,
                      progress=progress)
        table = lstm_experiment(arm_p, **kwargs)
        tables.append(table)
        if histories:
            h = lstm_histories(arm_p, **kwargs)
            tag = table[["condition", "seed", "pretrain_epochs", "reset_optimizer"]]
            curves.append(h.merge(tag, on=["condition", "seed"], how="left"))
    check(len(tables) >= 1, f"the design of preset {preset.name!r} has no arm of the conditions {wanted}")
    out = pd.concat(tables, ignore_index=True)
    out.insert(0, "arm", [arm_label(c, e, r) for c, e, r in
                          zip(out["condition"], out["pretrain_epochs"], out["reset_optimizer"])])
    out = out[list(DESIGN_COLUMNS) + [c for c in out.columns if c not in DESIGN_COLUMNS]]
    if not histories:
        return out
    h = pd.concat(curves, ignore_index=True)
    h.insert(0, "arm", [arm_label(c, e, r) for c, e, r in
                        zip(h["condition"], h["pretrain_epochs"], h["reset_optimizer"])])
    return out, h


def build_for(config: LSTMConfig, *, n_mels: int, seed: int | None = None):
    """:func:`langlab.models.build_next_frame_lstm` with the sizes of ``config``."""
    return models.build_next_frame_lstm(n_mels=n_mels, units=config.units,
                                        learning_rate=config.learning_rate,
                                        decay_steps=config.decay_steps, decay_rate=config.decay_rate,
                                        seed=seed)


# --------------------------------------------------------------------------------------------
# Segments, pairs, baselines
# --------------------------------------------------------------------------------------------
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
    S = models.check_spectrograms(S, "S")
    check_int(window, "window", minimum=1)
    stride = window if stride is None else stride
    check_int(stride, "stride", minimum=1)
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
               threshold: float | None = None, progress: bool = False, weights: dict | None = None):
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
    weights : dict or None
        If given, filled with copies of the weights (``model.get_weights()`` lists) at
        ``"init"`` (before anything), ``"pretrained"`` (after pre-training, before any Spanish
        step; equal to ``"init"`` without pre-training), ``"step_<N>"`` after Spanish step N
        for each N of ``config.checkpoints`` the run reaches, and ``"final"``.

    Returns
    -------
    model : keras.Model
        The trained model (:func:`langlab.models.build_next_frame_lstm`). With
        ``config.reset_optimizer`` Adam's state is zeroed between the two phases.
    history : pd.DataFrame
        One row per evaluation: ``phase`` ("pretrain" after each pre-training epoch, "train"
        every ``eval_every`` steps from step 0, the state after pre-training), ``step``
        (optimizer steps within the phase), ``epoch`` (``step`` in epochs of the phase's
        data), ``seconds`` (wall clock of the phase's optimizer steps so far, evaluations
        excluded), ``loss`` (mean training-batch MSE since the previous row; NaN at step 0)
        and ``val_loss`` (MSE on all validation pairs).
    """
    check(isinstance(config, LSTMConfig), f"config must be an LSTMConfig (preset.lstm), got {type(config).__name__}")
    S_train = models.check_spectrograms(S_train, "S_train")
    n_mels = S_train.shape[1]
    S_val = models.check_spectrograms(S_val, "S_val", n_mels=n_mels)
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

    keep = weights if weights is not None else {}
    keep["init"] = model.get_weights()
    if S_pretrain is not None and config.pretrain_epochs:
        S_pretrain = models.check_spectrograms(S_pretrain, "S_pretrain", n_mels=n_mels)
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
        if config.reset_optimizer:
            _reset_optimizer(model)
    keep["pretrained"] = model.get_weights()
    marks = set(config.checkpoints)

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
        if step in marks:
            keep[f"step_{step}"] = model.get_weights()
        if step % config.eval_every == 0 or step == config.max_steps:
            row("train", step, per_epoch, seconds, losses)
            losses = []
            if config.stop_at_threshold and threshold is not None and rows[-1]["val_loss"] <= threshold:
                break
    if bar is not None:
        bar.close()
    keep["final"] = model.get_weights()
    # The caller's own copy of the trained weights and optimizer state.
    fresh.set_weights(keep["final"])
    fresh.optimizer.build(fresh.trainable_variables)
    for mine, warm in zip(fresh.optimizer.variables, model.optimizer.variables):
        mine.assign(warm)
    return fresh, pd.DataFrame(rows)


def _reset_optimizer(model) -> None:
    """Zero Adam's moment estimates and step count (the learning rate, if a variable, stays):
    the ``reset_optimizer`` ablation."""
    learning_rate = getattr(model.optimizer, "_learning_rate", None)
    for variable in model.optimizer.variables:
        if variable is not learning_rate:
            variable.assign(np.zeros(variable.shape, dtype=variable.dtype))


def _warm_model(fresh, config: LSTMConfig, *, batch: tuple[int, ...]):
    """A compiled model with the seeded initial weights of ``fresh`` whose training step is
    already traced, so that no run's clock includes TensorFlow's tracing (a second or two,
    which would otherwise land in the first phase of each run: Spanish training for ``none``,
    pre-training for the others).

    The first call in a thread traces a spare model with one step on zeros
    (:func:`langlab.models.warm_model`); every call then resets it to ``fresh``'s weights and a
    zeroed Adam state (step count 0). Training it equals training ``fresh`` itself (a test
    checks it); later runs of the same architecture in the same process reuse it.
    """
    def traced():
        model = build_for(config, n_mels=batch[-1])
        zeros = np.zeros(batch, dtype=np.float32)
        model.train_on_batch(zeros, zeros)
        model.predict_on_batch(zeros)
        return model

    key = ("lstm", tuple(fresh.input_shape), config.units, config.learning_rate, config.decay_steps,
           config.decay_rate, tuple(batch))
    return models.reset_model(models.warm_model(key, traced), fresh)


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


def val_loss_auc(history: pd.DataFrame, *, max_steps: int) -> float:
    """The primary endpoint of Chapter 3: the mean validation loss over the Spanish budget.

    The area under the validation-loss curve from step 0 (the state after pre-training) to
    ``max_steps`` by the trapezoid rule over the evaluation points, divided by ``max_steps``:
    the loss a run had on average while it learned. Every run has the same budget, so the
    endpoint uses the whole curve and is never censored (lower is faster learning). A run that
    stopped early (``stop_at_threshold``) keeps its last loss to the end of the budget.

    Parameters
    ----------
    history : pd.DataFrame
        From :func:`train_lstm` (only ``phase == "train"`` rows are used; they start at step 0).
    max_steps : int
        The budget.
    """
    check_int(max_steps, "max_steps", minimum=1)
    train = history[history["phase"] == "train"].sort_values("step")
    check(len(train) >= 1 and int(train["step"].iloc[0]) == 0,
          "history needs 'train' rows starting at step 0 (train_lstm's history)", DataError)
    steps = train["step"].to_numpy(dtype=float)
    loss = train["val_loss"].to_numpy(dtype=float)
    keep = steps <= max_steps
    steps, loss = steps[keep], loss[keep]
    if steps[-1] < max_steps:
        steps, loss = np.append(steps, max_steps), np.append(loss, loss[-1])
    return float(np.sum(np.diff(steps) * (loss[1:] + loss[:-1]) / 2) / max_steps)


def _bar(total, desc):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, file=sys.stderr, leave=False)


# --------------------------------------------------------------------------------------------
# The experiment: every (condition, seed) of a preset, one store entry each (langlab.runs)
# --------------------------------------------------------------------------------------------
#: File of a run's store entry holding its kept weights (:func:`load_checkpoints`).
CHECKPOINTS_FILE = "checkpoints.npz"
_SEP = "__"

#: Per-run numbers kept in each entry's manifest.
RUN_FIELDS = ("copy_baseline", "mean_baseline", "val_loss_start", "val_loss_final", "best_val_loss",
              "pretrain_steps", "steps", "steps_per_epoch", "n_train", "n_val", "n_pretrain",
              "n_train_segments", "n_val_segments", "n_pretrain_segments", "pretrain_seconds",
              "train_seconds")


def _fill(preset, condition: str, seed: int, folder: Path, *, store, data_dir, prepared=None) -> dict:
    """Train one (condition, seed) run and write its model and history into ``folder``."""
    config = preset.lstm
    data = runs.run_data(preset, condition=condition, store=store, data_dir=data_dir)
    base = baselines(data.S_train, data.S_val, config=config)
    threshold = threshold_value(base, fraction=config.threshold)
    weights: dict[str, list[np.ndarray]] = {}
    model, history = train_lstm(data.S_train, data.S_val, config=config, seed=seed,
                                S_pretrain=data.S_pretrain, threshold=threshold, weights=weights)
    model.save(folder / "model.keras")
    history.to_csv(folder / "history.csv", index=False)
    np.savez(folder / CHECKPOINTS_FILE, **{f"{name}{_SEP}{i}": w for name, ws in weights.items()
                                           for i, w in enumerate(ws)})
    pre, train = history[history["phase"] == "pretrain"], history[history["phase"] == "train"]
    segments = {name: 0 if S is None else len(cut_segments(S, window=config.window,
                                                            stride=config.segment_stride))
                for name, S in (("train", data.S_train), ("val", data.S_val),
                                ("pretrain", data.S_pretrain))}
    pretrained = condition != NONE and config.pretrain_epochs > 0
    return {"condition": condition, "seed": int(seed), "threshold_at_training": threshold,
            "pretrain_epochs": config.pretrain_epochs if pretrained else 0,
            "reset_optimizer": config.reset_optimizer and pretrained,
            "copy_baseline": base["copy"], "mean_baseline": base["mean"],
            "val_loss_start": float(train["val_loss"].iloc[0]),
            "val_loss_final": float(train["val_loss"].iloc[-1]),
            "best_val_loss": float(train["val_loss"].min()),
            "pretrain_steps": int(pre["step"].max()) if len(pre) else 0,
            "steps": int(train["step"].max()),
            "steps_per_epoch": segments["train"] // min(config.batch_size, segments["train"]),
            **runs.clip_counts(data), **{f"n_{name}_segments": n for name, n in segments.items()},
            "pretrain_seconds": float(pre["seconds"].max()) if len(pre) else 0.0,
            "train_seconds": float(train["seconds"].max())}


def _result_row(preset, entry) -> dict[str, Any]:
    config = preset.lstm
    m = entry.manifest()
    threshold = threshold_value({"copy": m["copy_baseline"], "mean": m["mean_baseline"]},
                                fraction=config.threshold)
    history = pd.read_csv(entry.path / "history.csv")
    return {"condition": m["condition"], "seed": int(m["seed"]), "threshold": threshold,
            "val_loss_auc": val_loss_auc(history, max_steps=config.max_steps),
            **time_to_threshold(history, threshold=threshold, max_steps=config.max_steps),
            "max_steps": config.max_steps, "pretrain_epochs": m["pretrain_epochs"],
            "reset_optimizer": bool(m["reset_optimizer"]), **{k: m[k] for k in RUN_FIELDS}, "key": entry.key}


def _key(preset, condition: str, seed: int) -> dict[str, Any]:
    """A run's config in its store key: :meth:`LSTMConfig.training_fields`, the condition and
    the seed. Without pre-training the dose, the reset and the low-pass change nothing, so every
    dose of a design shares its ``"none"`` runs."""
    fields = preset.lstm.training_fields()
    if condition == NONE or not fields["pretrain_epochs"]:
        fields.update(pretrain_epochs=0, reset_optimizer=False, pretrain_lowpass_hz=None)
    return {"lstm": fields, "condition": condition, "seed": int(seed)}


#: The next-frame LSTM as a model of :mod:`langlab.runs`.
SPEC = runs.ModelSpec(name="LSTM runs", stage=STAGE, config="lstm", fill=_fill, result=_result_row,
                      description="next-frame LSTM, pre-training {condition!r}, seed {seed}",
                      inputs=runs.data_keys, key=_key, roots=(_fill,))


def lstm_experiment(preset, *, seeds=None, conditions=None, store=None, n_jobs=None,
                    data_dir=None, progress: bool = True) -> pd.DataFrame:
    """Train (or load from the store) the next-frame LSTM for every condition and seed (Chapter 3).

    :func:`langlab.runs.experiment` of :data:`SPEC`: the parameters are described there; the
    preset's ``lstm`` config (:class:`LSTMConfig`) sets the model, schedule, threshold, seeds,
    conditions, ``n_jobs`` and the TensorFlow ``threads`` of each worker.

    Returns
    -------
    pd.DataFrame
        One row per (condition, seed): ``condition``, ``seed``, ``threshold`` (validation MSE,
        :func:`threshold_value` of the run's baselines), ``val_loss_auc`` (the primary
        endpoint, :func:`val_loss_auc`), ``steps_to_threshold``,
        ``epochs_to_threshold``, ``seconds_to_threshold``, ``censored`` (see
        :func:`time_to_threshold`; censored runs carry their budget), ``max_steps``,
        ``pretrain_epochs`` and ``reset_optimizer`` (the dose and the ablation; 0 and False
        for runs without pre-training), the
        fields of :data:`RUN_FIELDS` (baselines, losses, sizes, ``pretrain_seconds``,
        ``train_seconds``) and ``key`` (the store entry). Wall-clock columns have
        ``seconds`` in their names.
    """
    return runs.experiment(SPEC, preset, seeds=seeds, conditions=conditions, store=store, n_jobs=n_jobs,
                           data_dir=data_dir, progress=progress)


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
    check_results(results, "steps_to_threshold")
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
    entry = runs.ensure(SPEC, preset, condition=condition, seed=seed, store=store, data_dir=data_dir)
    return keras.models.load_model(entry.path / "model.keras")


def load_checkpoints(preset, *, condition: str, seed: int, store=None,
                     data_dir=None) -> dict[str, list[np.ndarray]]:
    """The weights one (condition, seed) run kept, from the store (trained first if missing).

    Returns
    -------
    dict of str to list of np.ndarray
        ``"init"``, ``"pretrained"``, ``"step_<N>"`` for each step of ``preset.lstm.checkpoints``
        the run reached, and ``"final"``, in that order; each a list that loads into
        :func:`build_for` (``model.set_weights(...)``).
    """
    entry = runs.ensure(SPEC, preset, condition=condition, seed=seed, store=store, data_dir=data_dir)
    file = entry.path / CHECKPOINTS_FILE
    check(file.exists(), f"{file} is missing: the entry was written before checkpoints were kept", DataError)
    found: dict[str, dict[int, np.ndarray]] = {}
    with np.load(file) as saved:
        for key in saved.files:
            name, index = key.rsplit(_SEP, 1)
            found.setdefault(name, {})[int(index)] = saved[key]
    order = ["init", "pretrained", *sorted((n for n in found if n.startswith("step_")),
                                           key=lambda n: int(n.split("_")[1])), "final"]
    return {name: [found[name][i] for i in sorted(found[name])] for name in order if name in found}


def lstm_histories(preset, *, seeds=None, conditions=None, store=None, n_jobs=None,
                   data_dir=None, progress: bool = True) -> pd.DataFrame:
    """Loss curves of every (condition, seed) run: the :func:`train_lstm` history with
    ``condition`` and ``seed`` columns first. Missing runs are trained first
    (:func:`lstm_experiment`, same arguments)."""
    return runs.histories(SPEC, preset, seeds=seeds, conditions=conditions, store=store, n_jobs=n_jobs,
                          data_dir=data_dir, progress=progress)
