"""Chapter 4's experiment: the LSTM's states probed for language, every condition and seed.

For each trained run (:func:`langlab.training.lstm_experiment`) the frozen LSTM hears the first
:func:`state_frames` frames of every probe clip (:func:`langlab.probing.probe_clips`); its final
states are probed with :func:`langlab.probing.probe_table`, beside the untrained network and the
no-network baselines (:data:`INPUT_REPRESENTATIONS`: statistics of the whole clip and of exactly
the frames the network reads, the last frames it hears, and clip duration, silence and level
only), and for what else they encode (speaker identity, duration and level:
:func:`langlab.probing.other_targets_table`). Each (condition, seed) is a unit of
:mod:`langlab.runs` (:data:`SPEC`): the states of the missing units are read in this process
(one state view, each network's weights loaded into it), then their probes fan out.

- :func:`lstm_probe_experiment`: the whole table; :func:`probe_states`: one unit's stored states;
- :func:`checkpoint_probe_experiment`: the same probe on the states kept during training
  (:func:`langlab.training.load_checkpoints`: at initialisation, after pre-training, at the
  Spanish checkpoints and at the end; :data:`CHECKPOINT_SPEC`);
- :func:`learned_information`: trained minus untrained, paired by seed, with intervals;
  :func:`claim_rows`: the verdicts on the original's claims about the states
  (:func:`langlab.verdicts.judge`); :func:`lstm_claims`: those rows of a preset, for Chapter 6;
- :func:`state_frames`, :func:`untrained_lstm`: what the LSTM hears, and the untrained baseline.
"""
from __future__ import annotations

import dataclasses
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from langlab import runs
from langlab.errors import DataError, check
from langlab.plan import PROBE_METRIC
from langlab.presets import as_preset
from langlab.probing import (INPUT, PROBES, TASKS, UNTRAINED, ProbeConfig, other_targets_table, probe,
                             probe_clips, probe_table, task_labels)
from langlab.representations import last_frames, mel_stats, nuisance, read_states

#: Store stage of one (condition, seed) unit of :func:`lstm_probe_experiment`.
STAGE = "lstm_probes"
#: Store stage of one (condition, seed) unit of :func:`checkpoint_probe_experiment`.
CHECKPOINT_STAGE = "lstm_checkpoint_probes"
#: The pre-training conditions Chapter 4 probes (Chapter 3's main dose; the shuffled,
#: reversed and noise controls and the other doses are left to Chapter 3's learning curves).
CONDITIONS = ("none", "es", "it", "ja")
#: The representations of a network unit; the permutation test runs on :data:`PERMUTED`.
STATE_REPRESENTATIONS = ("h", "c", "h_pooled")
PERMUTED = ("h", "c")
#: The representations of the no-network unit (``condition="input"``): per-band mean and
#: spread of the whole clip (``mel_stats``) and of exactly the frames the LSTM reads
#: (``window_stats``), the last frame it hears (``last_frame``) and the last
#: :data:`LAST_FRAMES` (``last_frames``), and clip duration, silent fraction and level only
#: (``nuisance``, :func:`langlab.representations.nuisance`).
INPUT_REPRESENTATIONS = ("mel_stats", "window_stats", "last_frame", "last_frames", "nuisance")
#: Frames of the ``last_frames`` baseline.
LAST_FRAMES = 5
#: Representations whose speaker identity and nuisance properties are decoded too.
DECODED = ("h", "c", "window_stats")
#: The clip properties decoded from the representations (:func:`langlab.probing.decode`).
NUISANCE_TARGETS = ("duration", "level")


def state_frames(preset, n_frames: int) -> int:
    """Frames of each probe clip the LSTM hears before its states are read (Chapter 4):
    ``preset.probing.n_frames`` or, when that is None, the length of the input sequences the
    LSTM was trained on (``window - shift``); never more than the clip's ``n_frames``."""
    preset = as_preset(preset)
    wanted = preset.probing.n_frames
    if wanted is None:
        wanted = preset.lstm.window - preset.lstm.shift
    return int(min(wanted, n_frames))


def untrained_lstm(preset, *, seed: int, n_mels: int):
    """The LSTM of ``preset`` with the initial weights of training seed ``seed``, never trained
    (every condition's run of that seed starts from these weights)."""
    from langlab import models, training

    preset = as_preset(preset)
    models.set_seed(int(seed))
    return training.build_for(preset.lstm, n_mels=n_mels, seed=int(seed))


def probed_conditions(preset) -> tuple[str, ...]:
    """The pre-training conditions probed by default: those of :data:`CONDITIONS` that
    ``preset`` trains (Chapter 4's; pass ``conditions=`` to probe others)."""
    preset = as_preset(preset)
    return tuple(c for c in CONDITIONS if c in preset.lstm.conditions)


def input_representations(S, table, *, n_frames: int) -> dict[str, np.ndarray]:
    """The no-network baselines of :data:`INPUT_REPRESENTATIONS` for clips ``S`` (scaled,
    ``[n_clips, n_mels, n_frames]``) and their ``table`` rows; ``n_frames``: frames the LSTM
    reads (:func:`state_frames`)."""
    return {"mel_stats": mel_stats(S), "window_stats": mel_stats(S, n_frames=n_frames),
            "last_frame": last_frames(S, n_frames=n_frames, k=1),
            "last_frames": last_frames(S, n_frames=n_frames, k=min(LAST_FRAMES, n_frames)),
            "nuisance": nuisance(S, table, n_frames=n_frames)}


def _unit_key(preset, condition: str, seed: int) -> dict[str, Any]:
    """The config in the store key of one unit (a trained run's config is in its input key)."""
    key = {"probing": preset.probing, "condition": condition, "seed": int(seed),
           "n_frames": state_frames(preset, preset.features.n_frames)}
    if condition == UNTRAINED:
        key["lstm"] = preset.lstm.training_fields()
    return key


def _probe_unit(representations, locales, groups, *, config: ProbeConfig, seed: int,
                permute: Sequence[str], nuisance_targets: dict | None = None) -> pd.DataFrame:
    """One unit's rows: :func:`~langlab.probing.probe_table` of each representation (for those
    in ``permute`` every probe on the binary task, with a permutation test; the linear probe
    alone otherwise), then
    :func:`~langlab.probing.other_targets_table` of those in :data:`DECODED`."""
    parts = []
    for name, X in representations.items():
        cfg = config if name in permute else dataclasses.replace(config, n_permutations=0)
        for task in TASKS:  # the controls and baselines on the original's binary task only
            probes = PROBES if name in permute and task == "binary" else ("linear",)
            parts.append(probe_table({name: X}, locales, groups, config=cfg, seed=config.seed + seed,
                                     tasks=(task,), probes=probes))
    table = pd.concat(parts, ignore_index=True)
    order = {name: i for i, name in enumerate(representations)}
    table = table.sort_values(["task", "representation"], key=lambda col: col.map(
        order if col.name == "representation" else {t: i for i, t in enumerate(TASKS)}),
        kind="stable").reset_index(drop=True)
    decoded = {name: X for name, X in representations.items() if name in DECODED}
    if decoded:
        other = other_targets_table(decoded, locales, groups, config=config, nuisance=nuisance_targets,
                                    seed=config.seed + seed)
        table = pd.concat([table, other], ignore_index=True)
    return table


def _lstm_weights(preset, condition: str, seed: int, *, store, data_dir, n_mels: int) -> list:
    """Weights of a trained run (read from its store entry) or of the untrained network."""
    from langlab import training

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras: the optimizer's state is not restored
        if condition == UNTRAINED:
            return untrained_lstm(preset, seed=seed, n_mels=n_mels).get_weights()
        return training.load_lstm(preset, condition=condition, seed=seed, store=store,
                                  data_dir=data_dir).get_weights()


class _Reader:
    """One state view of the preset's LSTM, built on first use; each network's weights are
    loaded into it (:func:`langlab.representations.read_states`)."""

    def __init__(self, preset, n_mels: int):
        self.preset, self.n_mels, self.template, self.view = preset, n_mels, None, None

    def __call__(self, weights, S, *, n_frames: int, pooled: bool) -> dict[str, np.ndarray]:
        if self.view is None:
            from langlab import models

            self.template = untrained_lstm(self.preset, seed=0, n_mels=self.n_mels)
            self.view = models.state_model(self.template, sequences=True)
        self.template.set_weights(weights)
        states = read_states(self.view, S, pooled=True, n_frames=n_frames)
        return states if pooled else {k: states[k] for k in ("h", "c")}


def _probe_inputs(preset, *, store, data_dir):
    """The balanced probe clips: scaled spectrograms, their table rows and the frames read."""
    fs, keep = probe_clips(preset, store=store, data_dir=data_dir)
    S = np.asarray(fs.scaled(), dtype=np.float32)[keep]
    return S, fs.table.reset_index(drop=True).iloc[keep].reset_index(drop=True), state_frames(preset, S.shape[2])


def _read_all_states(preset, entries, *, store, data_dir, progress: bool) -> dict:
    """The representations of the missing units, read in this process (one state view, each
    network's weights loaded into it) before their probes fan out."""
    S, table, n_frames = _probe_inputs(preset, store=store, data_dir=data_dir)
    from tqdm.auto import tqdm

    out, reader = {}, _Reader(preset, S.shape[1])
    for c, s in tqdm(list(entries), desc="LSTM states", file=sys.stderr, disable=not progress):
        if c == INPUT:
            out[(c, s)] = input_representations(S, table, n_frames=n_frames)
            continue
        weights = _lstm_weights(preset, c, s, store=store, data_dir=data_dir, n_mels=S.shape[1])
        out[(c, s)] = reader(weights, S, n_frames=n_frames, pooled=True)
    return out


def _nuisance_targets(S, table, n_frames) -> dict[str, np.ndarray]:
    values = nuisance(S, table, n_frames=n_frames)
    from langlab.representations import NUISANCE

    return {name: values[:, NUISANCE.index(name)] for name in NUISANCE_TARGETS}


def _fill(preset, condition: str, seed: int, folder: Path, *, store, data_dir, prepared) -> dict:
    """Probe one unit's representations (``prepared``) and write rows, states and clips."""
    from threadpoolctl import threadpool_limits

    S, table, n_frames = _probe_inputs(preset, store=store, data_dir=data_dir)
    with threadpool_limits(limits=1):  # small products: BLAS threads only fight (6x slower on a busy machine)
        result = _probe_unit(prepared, table["locale"].to_numpy(), table["client_id"].to_numpy(),
                             config=preset.probing, seed=seed, permute=PERMUTED,
                             nuisance_targets=_nuisance_targets(S, table, n_frames))
    result.insert(0, "seed", seed)
    result.insert(0, "condition", condition)
    result["n_frames"] = n_frames
    result.to_csv(folder / "results.csv", index=False)
    np.savez(folder / "states.npz", **prepared)
    table[["path", "locale", "client_id"]].to_csv(folder / "clips.csv", index=False)
    return {"condition": condition, "seed": seed, "n_clips": int(len(table)),
            "representations": list(prepared)}


def _read_results(preset, entry) -> pd.DataFrame:
    return runs.read_table(entry.path / "results.csv")


#: The probes of the LSTM's states as units of :mod:`langlab.runs`.
SPEC = runs.ModelSpec(name="LSTM probes", stage=STAGE, config="lstm", fill=_fill, result=_read_results,
                      description="probes of {condition!r}, seed {seed}", key=_unit_key,
                      prepare=_read_all_states, roots=(_fill, _read_all_states))


def lstm_probe_experiment(preset, *, seeds=None, conditions=None, store=None, data_dir=None,
                          n_jobs: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Probe the LSTM's states for language, every pre-training condition and seed (Chapter 4).

    For each trained run (:func:`langlab.training.lstm_experiment`) the frozen LSTM hears the
    first :func:`state_frames` frames of every probe clip (:func:`~langlab.probing.probe_clips`) from zero
    states; its final hidden state ``h``, final cell state ``c`` and its time-averaged hidden
    state ``h_pooled`` are probed with :func:`~langlab.probing.probe_table` (binary and 3-way tasks, all probes
    and controls, permutation tests of ``h`` and ``c`` for ``config.permutation_tasks``), and
    for speaker identity, duration and level (:func:`~langlab.probing.other_targets_table`,
    tasks ``speaker``, ``duration``, ``level``). Baseline rows:

    - ``condition="untrained"``: the same architecture with the seed's initial weights;
    - ``condition="input"``: no network, the representations of :data:`INPUT_REPRESENTATIONS`
      (:func:`input_representations`), each through the linear probe.

    ``h`` and ``c`` get every probe of :data:`~langlab.probing.PROBES` on the binary task;
    everything else is the linear probe alone. ``h``, ``c`` and ``window_stats``
    (:data:`DECODED`) are also probed for the speaker and decoded for duration and level.

    Every row of seed ``s`` uses the splits and permutations of seed ``config.seed + s``. Each
    (condition, seed) unit is a store entry (stage ``lstm_probes``, inputs: the probe features
    and the trained run), holding its rows and its states, so a rebuild recomputes nothing.
    The units run through :mod:`langlab.runs`; the states are read in this process first.

    Parameters
    ----------
    preset : str or Preset
    seeds, conditions : sequences, optional
        Default ``preset.lstm.seeds`` and :func:`probed_conditions` (the conditions of
        :data:`CONDITIONS` that the preset trains).
    store : Store, optional
    data_dir : path, optional
        A Common Voice download; default the embedded corpus.
    n_jobs : int, optional
        Units probed in parallel (joblib; default 1). Missing LSTM runs are trained first,
        with ``n_jobs`` passed to :func:`langlab.training.lstm_experiment`.
    progress : bool
        Progress bars on stderr.

    Returns
    -------
    pd.DataFrame
        ``condition``, ``seed``, then the columns of :func:`~langlab.probing.probe_table` and
        :func:`~langlab.probing.other_targets_table` (``r2`` for the nuisance rows), plus
        ``n_frames``.
    """
    return _run(preset, seeds=seeds, conditions=conditions, store=store, data_dir=data_dir,
                n_jobs=n_jobs, progress=progress)[0]


def _run(preset, *, seeds, conditions, store, data_dir, n_jobs, progress=True) -> tuple[pd.DataFrame, dict]:
    from langlab import training
    from langlab.store import default_store

    preset = as_preset(preset)
    if n_jobs is not None:
        runs.check_jobs(n_jobs)
    store = default_store(store)
    seeds = runs.check_seeds(preset.lstm.seeds if seeds is None else seeds)
    conditions = tuple(probed_conditions(preset) if conditions is None else conditions)
    fs, _ = probe_clips(preset, store=store, data_dir=data_dir)
    inputs = {}
    if conditions:
        trained = runs.model_entries(training.SPEC, preset, seeds=seeds, conditions=conditions, store=store,
                                     data_dir=data_dir, n_jobs=n_jobs, progress=progress)
        inputs.update({unit: [fs.key, run.key] for unit, run in trained.items()})
    inputs.update({(UNTRAINED, s): [fs.key] for s in seeds})
    inputs.update({(INPUT, s): [fs.key] for s in seeds})
    entries = {(c, s): runs.entry(SPEC, preset, c, s, store=store, inputs=keys) for (c, s), keys in inputs.items()}
    runs.compute(SPEC, preset, entries, store=store, data_dir=data_dir, n_jobs=n_jobs or 1, threads=None,
                 progress=progress)
    return runs.table(SPEC, preset, entries), entries


def probe_states(preset, *, condition: str, seed: int, store=None, data_dir=None,
                 ) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """The stored representations of one unit of :func:`lstm_probe_experiment` (running it for
    that unit if needed) and its clip table (``path``, ``locale``, ``client_id``), row-aligned.
    ``condition`` is a pre-training condition, ``"untrained"`` or ``"input"``."""
    preset = as_preset(preset)
    network = condition not in (UNTRAINED, INPUT)
    _, entries = _run(preset, seeds=[seed], conditions=[condition] if network else [], store=store,
                      data_dir=data_dir, n_jobs=None, progress=False)
    entry = entries[(condition, int(seed))]
    with np.load(entry.path / "states.npz") as data:
        states = {k: data[k] for k in data.files}
    return states, pd.read_csv(entry.path / "clips.csv")


# --------------------------------------------------------------------------------------------
# Probes across training: the states kept at checkpoints
# --------------------------------------------------------------------------------------------
#: The representations probed at every checkpoint (binary task, linear probe, no permutations).
CHECKPOINT_REPRESENTATIONS = ("h", "c")


def _checkpoint_steps(preset, condition: str, seed: int, names, *, store, data_dir) -> dict[str, int]:
    """Spanish steps of each kept checkpoint: 0 for ``init`` and ``pretrained``, ``N`` for
    ``step_N``, the run's last step for ``final``."""
    from langlab import training

    entry = runs.ensure(training.SPEC, preset, condition=condition, seed=seed, store=store, data_dir=data_dir)
    history = pd.read_csv(entry.path / "history.csv")
    last = int(history.loc[history["phase"] == "train", "step"].max())
    return {name: (0 if name in ("init", "pretrained") else last if name == "final"
                   else int(name.split("_", 1)[1])) for name in names}


def _read_checkpoint_states(preset, entries, *, store, data_dir, progress: bool) -> dict:
    """The final ``h`` and ``c`` of every kept checkpoint of the missing units' runs."""
    from tqdm.auto import tqdm

    from langlab import training

    S, _, n_frames = _probe_inputs(preset, store=store, data_dir=data_dir)
    out, reader = {}, _Reader(preset, S.shape[1])
    for c, s in tqdm(list(entries), desc="LSTM checkpoints", file=sys.stderr, disable=not progress):
        kept = training.load_checkpoints(preset, condition=c, seed=s, store=store, data_dir=data_dir)
        steps = _checkpoint_steps(preset, c, s, kept, store=store, data_dir=data_dir)
        out[(c, s)] = {name: (steps[name], reader(weights, S, n_frames=n_frames, pooled=False))
                       for name, weights in kept.items()}
    return out


def _fill_checkpoints(preset, condition: str, seed: int, folder: Path, *, store, data_dir, prepared) -> dict:
    """Probe the states of every checkpoint of one run (``prepared``); write the rows."""
    _, table, n_frames = _probe_inputs(preset, store=store, data_dir=data_dir)
    y, _ = task_labels(table["locale"].to_numpy(), task="binary")
    groups = table["client_id"].to_numpy()
    config = dataclasses.replace(preset.probing, n_permutations=0)
    from threadpoolctl import threadpool_limits

    rows = []
    for order, (name, (step, states)) in enumerate(prepared.items()):
        for rep in CHECKPOINT_REPRESENTATIONS:
            with threadpool_limits(limits=1):
                result = probe(states[rep], y, groups, config=config, seed=config.seed + seed)
            rows.append({"condition": condition, "seed": seed, "checkpoint": name, "order": order,
                         "step": step, "representation": rep, "task": "binary",
                         "balanced_accuracy": result["balanced_accuracy"], "auc": result["auc"],
                         "accuracy": result["accuracy"], "n_frames": n_frames})
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)
    return {"condition": condition, "seed": seed, "checkpoints": list(prepared)}


def _checkpoint_key(preset, condition: str, seed: int) -> dict[str, Any]:
    return {"probing": preset.probing, "condition": condition, "seed": int(seed),
            "n_frames": state_frames(preset, preset.features.n_frames),
            "checkpoints": list(preset.lstm.checkpoints)}


#: The probes of the states kept during training, as units of :mod:`langlab.runs`.
CHECKPOINT_SPEC = runs.ModelSpec(
    name="LSTM checkpoint probes", stage=CHECKPOINT_STAGE, config="lstm", fill=_fill_checkpoints,
    result=_read_results, description="probes of {condition!r}, seed {seed}, across training",
    key=_checkpoint_key, prepare=_read_checkpoint_states, roots=(_fill_checkpoints, _read_checkpoint_states))


def checkpoint_probe_experiment(preset, *, seeds=None, conditions=None, store=None, data_dir=None,
                                n_jobs: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Probe the LSTM's states across training (Chapter 4, "Probes across training").

    For every (condition, seed) run, the weights kept by :func:`langlab.training.load_checkpoints`
    (``init``: before anything, the untrained network; ``pretrained``: after pre-training,
    before any Spanish, equal to ``init`` for ``"none"``; ``step_<N>`` at each Spanish
    checkpoint of ``preset.lstm.checkpoints``; ``final``) are loaded in turn, the states
    ``h`` and ``c`` read as in :func:`lstm_probe_experiment`, and each probed for Spanish vs
    the rest (linear probe, speaker-grouped, no permutation test; the splits of seed
    ``config.seed + seed``). Each (condition, seed) is one store entry (stage
    ``lstm_checkpoint_probes``), so a rebuild recomputes nothing.

    Parameters
    ----------
    preset : str or Preset
    seeds, conditions : sequences, optional
        Default ``preset.lstm.seeds`` and :func:`probed_conditions`.
    store, data_dir, n_jobs, progress
        As :func:`lstm_probe_experiment`.

    Returns
    -------
    pd.DataFrame
        ``condition``, ``seed``, ``checkpoint``, ``order`` (0 for ``init``, counting up),
        ``step`` (Spanish steps: 0 for ``init`` and ``pretrained``), ``representation``,
        ``task``, ``balanced_accuracy``, ``auc``, ``accuracy``, ``n_frames``.
    """
    from langlab import training
    from langlab.store import default_store

    preset = as_preset(preset)
    if n_jobs is not None:
        runs.check_jobs(n_jobs)
    store = default_store(store)
    seeds = runs.check_seeds(preset.lstm.seeds if seeds is None else seeds)
    conditions = tuple(probed_conditions(preset) if conditions is None else conditions)
    fs, _ = probe_clips(preset, store=store, data_dir=data_dir)
    trained = runs.model_entries(training.SPEC, preset, seeds=seeds, conditions=conditions, store=store,
                                 data_dir=data_dir, n_jobs=n_jobs, progress=progress)
    entries = {unit: runs.entry(CHECKPOINT_SPEC, preset, *unit, store=store, inputs=[fs.key, run.key])
               for unit, run in trained.items()}
    runs.compute(CHECKPOINT_SPEC, preset, entries, store=store, data_dir=data_dir, n_jobs=n_jobs or 1,
                 threads=None, progress=progress)
    return runs.table(CHECKPOINT_SPEC, preset, entries)


# --------------------------------------------------------------------------------------------
# Learned information and the verdicts on the states (Chapter 4; Chapter 6 reads claim_rows)
# --------------------------------------------------------------------------------------------
def _scores(results: pd.DataFrame, *, metric: str, task: str = "binary", probe_name: str = "linear"
            ) -> pd.DataFrame:
    """``metric`` of one probe and task as a table: rows (representation, seed), columns
    condition."""
    check(metric in results.columns, f"metric {metric!r} is not a column of the results; columns are "
          f"{list(results.columns)}")
    part = results[(results["task"] == task) & (results["probe"] == probe_name)]
    check(len(part) > 0, f"the results hold no {probe_name!r} probe of task {task!r}", DataError)
    return part.pivot_table(index=["representation", "seed"], columns="condition", values=metric)


def learned_information(results: pd.DataFrame, *, conditions: Sequence[str] = CONDITIONS,
                        representations: Sequence[str] = ("h", "c"), metric: str = "balanced_accuracy",
                        task: str = "binary") -> pd.DataFrame:
    """What training put into the states: trained minus untrained probe scores, paired by seed.

    For each representation and pre-training condition (and ``"all"``: the mean over
    ``conditions`` per seed), :func:`langlab.paired.paired_effect` of the trained network's
    score minus the untrained network's (the same seed's initial weights, the same splits),
    beside the trained score's margin over chance (the same function against a constant
    chance). Chance is :data:`langlab.plan.CHANCE` (0.5 for balanced accuracy and AUC).

    Parameters
    ----------
    results : pd.DataFrame
        :func:`lstm_probe_experiment`'s table (with ``"untrained"`` rows).
    conditions, representations : sequences of str
    metric : {"balanced_accuracy", "auc", "accuracy"}
    task : str

    Returns
    -------
    pd.DataFrame
        One row per (representation, condition): ``representation``, ``condition``,
        ``metric``, ``n``, ``trained``, ``untrained`` (means over seeds), ``above_chance``,
        ``above_chance_low``, ``above_chance_high``, ``above_chance_mde``, ``above_chance_p`` and
        ``learned``, ``learned_low``,
        ``learned_high``, ``learned_p``, ``learned_mde``.
    """
    from langlab.paired import paired_effect
    from langlab.plan import CHANCE

    wide = _scores(results, metric=metric, task=task)
    missing = [c for c in [*conditions, UNTRAINED] if c not in wide.columns]
    check(not missing, f"the results lack the conditions {missing}", DataError)
    rows = []
    for rep in representations:
        check(rep in wide.index.get_level_values(0), f"the results lack representation {rep!r}", DataError)
        part = wide.loc[rep]
        for condition in [*conditions, "all"]:
            trained = part[list(conditions)].mean(axis=1) if condition == "all" else part[condition]
            both = pd.concat([trained, part[UNTRAINED]], axis=1).dropna()
            learned = paired_effect(both.iloc[:, 0], both.iloc[:, 1])
            above = paired_effect(trained.dropna().to_numpy(), np.full(trained.notna().sum(), CHANCE))
            rows.append({"representation": rep, "condition": condition, "metric": metric, "n": learned.n,
                         "trained": float(trained.mean()), "untrained": float(part[UNTRAINED].mean()),
                         "above_chance": above.mean, "above_chance_low": above.low,
                         "above_chance_high": above.high, "above_chance_mde": above.mde,
                         "above_chance_p": above.p,
                         "learned": learned.mean,
                         "learned_low": learned.low, "learned_high": learned.high, "learned_p": learned.p,
                         "learned_mde": learned.mde})
    return pd.DataFrame(rows)


def pretraining_effects(results: pd.DataFrame, *, conditions: Sequence[str] = CONDITIONS[1:],
                        reference: str = "none", representations: Sequence[str] = ("h", "c"),
                        metric: str = "balanced_accuracy", task: str = "binary") -> pd.DataFrame:
    """Each pre-training condition's probe score minus ``reference``'s, paired by seed
    (:func:`langlab.paired.paired_effect`): ``representation``, ``condition``, ``metric``,
    ``n``, ``mean``, ``low``, ``high``, ``p``, ``mde``."""
    from langlab.paired import paired_effect

    wide = _scores(results, metric=metric, task=task)
    rows = []
    for rep in representations:
        part = wide.loc[rep]
        for condition in conditions:
            both = part[[condition, reference]].dropna()
            e = paired_effect(both[condition], both[reference])
            rows.append({"representation": rep, "condition": condition, "metric": metric, "n": e.n,
                         "mean": e.mean, "low": e.low, "high": e.high, "p": e.p, "mde": e.mde})
    return pd.DataFrame(rows)


#: The probe score the claims are judged on (:data:`langlab.plan.PROBE_METRIC`): ROC AUC of
#: the binary task's linear probe, which does not depend on where a threshold sits (chance
#: 0.5); the same as Chapter 5's (:data:`langlab.autoencoder.CLAIM_METRIC`).
CLAIM_METRIC = PROBE_METRIC
#: The columns of :func:`claim_rows` (Chapter 5's :func:`langlab.autoencoder.claim_rows` has the
#: same, without ``kind``).
CLAIM_COLUMNS = ("name", "claim", "kind", "metric", "n", "estimate", "low", "high", "mde", "p", "null",
                 "claimed", "verdict", "reason")
_METRIC_WORDS = {"auc": "ROC AUC", "balanced_accuracy": "balanced accuracy", "accuracy": "accuracy"}


def claim_rows(results: pd.DataFrame, *, conditions: Sequence[str] = CONDITIONS,
               metric: str = CLAIM_METRIC, task: str = "binary") -> pd.DataFrame:
    """The verdicts on what the original claimed about the LSTM's states (Chapter 4; Chapter 6's
    table reads these rows).

    Per state (``h``, ``c``), on the ``task`` probe's ``metric``, each seed's score averaged
    over ``conditions``:

    - ``lstm_<state>_above_chance`` (kind *above chance*, "the states separate Spanish from the
      rest"): the score against :data:`~langlab.plan.CHANCE`, judged against chance plus
      :data:`~langlab.plan.MIN_ABOVE_CHANCE`;
    - ``lstm_<state>_learned`` (kind *put there by training*): trained minus untrained, paired
      by seed, judged against :data:`~langlab.plan.MIN_LEARNED`;

    and per pre-training condition ``c`` other than ``"none"``, ``lstm_<state>_pretraining_<c>``
    (kind *no effect of pre-training*, the original's claim): ``c`` minus ``"none"``, paired by
    seed, judged for equivalence within :data:`~langlab.plan.DELTA`. Every verdict is
    :func:`langlab.verdicts.judge`'s (or ``judge_equivalence``'s) on the 95 % interval
    (:func:`langlab.paired.paired_effect`).

    Parameters
    ----------
    results : pd.DataFrame
        :func:`lstm_probe_experiment`'s table, with ``"untrained"`` rows.
    conditions : sequence of str
    metric : {"auc", "balanced_accuracy", "accuracy"}
    task : str

    Returns
    -------
    pd.DataFrame
        Columns :data:`CLAIM_COLUMNS`. ``estimate`` is the score itself for *above chance*
        (``null`` = chance) and a paired difference for the others (``null`` = 0); ``claimed``
        is the effect judged against; all as proportions (not percent). ``p``: the exact
        sign-flip p of the paired comparison (:func:`langlab.paired.paired_effect`).
    """
    from langlab import plan
    from langlab.verdicts import judge, judge_equivalence

    learned = learned_information(results, conditions=conditions, metric=metric, task=task)
    what = f"{_METRIC_WORDS.get(metric, metric)} of the linear probe ({task})"
    rows = []
    for _, r in learned[learned["condition"] == "all"].iterrows():
        rep = r["representation"]
        low, high = plan.CHANCE + r["above_chance_low"], plan.CHANCE + r["above_chance_high"]
        claimed = plan.CHANCE + plan.MIN_ABOVE_CHANCE
        v = judge(low, high, claimed=claimed, null=plan.CHANCE, scale=100, unit=" %")
        rows.append({"name": f"lstm_{rep}_above_chance",
                     "claim": f"the LSTM's {rep} separates Spanish from the rest", "kind": "above chance",
                     "metric": f"{what}, mean over pre-training conditions", "n": int(r["n"]),
                     "estimate": r["trained"], "low": low, "high": high, "mde": r["above_chance_mde"],
                     "p": r["above_chance_p"],
                     "null": plan.CHANCE, "claimed": claimed, "verdict": v.label, "reason": v.reason})
        v = judge(r["learned_low"], r["learned_high"], claimed=plan.MIN_LEARNED, scale=100, unit=" pp")
        rows.append({"name": f"lstm_{rep}_learned", "claim": f"training put that information into {rep}",
                     "kind": "put there by training",
                     "metric": f"{what}: trained minus untrained network, paired by seed", "n": int(r["n"]),
                     "estimate": r["learned"], "low": r["learned_low"], "high": r["learned_high"],
                     "mde": r["learned_mde"], "p": r["learned_p"], "null": 0.0, "claimed": plan.MIN_LEARNED,
                     "verdict": v.label,
                     "reason": v.reason})
    effects = pretraining_effects(results, conditions=[c for c in conditions if c != "none"], metric=metric,
                                  task=task)
    for _, e in effects.iterrows():
        v = judge_equivalence(e["low"], e["high"], margin=plan.DELTA, scale=100, unit=" pp")
        rows.append({"name": f"lstm_{e['representation']}_pretraining_{e['condition']}",
                     "claim": f"pre-training on {e['condition']!r} does not change what a probe reads "
                              f"from {e['representation']}", "kind": "no effect of pre-training",
                     "metric": f"{what}: {e['condition']} minus none, paired by seed", "n": int(e["n"]),
                     "estimate": e["mean"], "low": e["low"], "high": e["high"], "mde": e["mde"], "p": e["p"],
                     "null": 0.0, "claimed": 0.0, "verdict": v.label, "reason": v.reason})
    return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))


def lstm_claims(preset, *, conditions: Sequence[str] | None = None, metric: str = CLAIM_METRIC, store=None,
                data_dir=None, progress: bool = False) -> pd.DataFrame:
    """The LSTM's claim rows for Chapter 6: :func:`claim_rows` of the stored probes of
    ``preset`` (:func:`lstm_probe_experiment` of ``conditions``, default
    :func:`probed_conditions`; trained and probed first where missing)."""
    conditions = probed_conditions(preset) if conditions is None else tuple(conditions)
    results = lstm_probe_experiment(preset, conditions=conditions, store=store, data_dir=data_dir,
                                    progress=progress)
    return claim_rows(results, conditions=conditions, metric=metric)
