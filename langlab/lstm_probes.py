"""Chapter 4's experiment: the LSTM's states probed for language, every condition and seed.

For each trained run (:func:`langlab.training.lstm_experiment`) the frozen LSTM hears the first
:func:`state_frames` frames of every probe clip (:func:`langlab.probing.probe_clips`); its final
states are probed with :func:`langlab.probing.probe_table`, beside the untrained network and the
no-network baseline. Each (condition, seed) is a unit of :mod:`langlab.runs` (:data:`SPEC`): the
states of the missing units are read in this process (one compiled state view, each network's
weights loaded into it), then their probes fan out.

- :func:`lstm_probe_experiment`: the whole table; :func:`probe_states`: one unit's stored states;
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
from langlab.presets import as_preset
from langlab.probing import INPUT, TASKS, UNTRAINED, ProbeConfig, probe_clips, probe_table
from langlab.representations import mel_stats, read_states

#: Store stage of one (condition, seed) unit of :func:`lstm_probe_experiment`.
STAGE = "lstm_probes"
#: The representations of a network unit; the permutation test runs on the first two.
STATE_REPRESENTATIONS = ("h", "c", "h_pooled")


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


def _unit_key(preset, condition: str, seed: int) -> dict[str, Any]:
    """The config in the store key of one unit (a trained run's config is in its input key)."""
    key = {"probing": preset.probing, "condition": condition, "seed": int(seed),
           "n_frames": state_frames(preset, preset.features.n_frames)}
    if condition == UNTRAINED:
        key["lstm"] = preset.lstm.training_fields()
    return key


def _probe_unit(representations, locales, groups, *, config: ProbeConfig, seed: int,
                permute: Sequence[str]) -> pd.DataFrame:
    """probe_table of one unit; representations not in ``permute`` get no permutation test."""
    parts = []
    for name, X in representations.items():
        cfg = config if name in permute else dataclasses.replace(config, n_permutations=0)
        parts.append(probe_table({name: X}, locales, groups, config=cfg, seed=config.seed + seed))
    table = pd.concat(parts, ignore_index=True)
    order = {name: i for i, name in enumerate(representations)}
    return table.sort_values(["task", "representation"], key=lambda col: col.map(
        order if col.name == "representation" else {t: i for i, t in enumerate(TASKS)}),
        kind="stable").reset_index(drop=True)


def _lstm_weights(preset, condition: str, seed: int, *, store, data_dir, n_mels: int) -> list:
    """Weights of a trained run (read from its store entry) or of the untrained network."""
    from langlab import training

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras: the optimizer's state is not restored
        if condition == UNTRAINED:
            return untrained_lstm(preset, seed=seed, n_mels=n_mels).get_weights()
        return training.load_lstm(preset, condition=condition, seed=seed, store=store,
                                  data_dir=data_dir).get_weights()


def _read_all_states(preset, entries, *, store, data_dir, progress: bool) -> dict:
    """The representations of the missing units, read in this process (one compiled state view,
    each network's weights loaded into it) before their probes fan out."""
    fs, keep = probe_clips(preset, store=store, data_dir=data_dir)
    n_frames = state_frames(preset, fs.config.n_frames)
    S = np.asarray(fs.scaled(), dtype=np.float32)[keep]
    from tqdm.auto import tqdm

    out, reader = {}, None
    for c, s in tqdm(list(entries), desc="LSTM states", file=sys.stderr, disable=not progress):
        if c == INPUT:
            out[(c, s)] = {"mel_stats": mel_stats(S)}
            continue
        weights = _lstm_weights(preset, c, s, store=store, data_dir=data_dir, n_mels=S.shape[1])
        if reader is None:
            from langlab import models

            template = untrained_lstm(preset, seed=0, n_mels=S.shape[1])
            reader = models.state_model(template, sequences=True)
        template.set_weights(weights)
        out[(c, s)] = read_states(reader, S, pooled=True, n_frames=n_frames)
    return out


def _fill(preset, condition: str, seed: int, folder: Path, *, store, data_dir, prepared) -> dict:
    """Probe one unit's representations (``prepared``) and write rows, states and clips."""
    fs, keep = probe_clips(preset, store=store, data_dir=data_dir)
    table = fs.table.reset_index(drop=True).iloc[keep]
    result = _probe_unit(prepared, table["locale"].to_numpy(), table["client_id"].to_numpy(),
                         config=preset.probing, seed=seed, permute=tuple(prepared))
    result.insert(0, "seed", seed)
    result.insert(0, "condition", condition)
    result["n_frames"] = state_frames(preset, fs.config.n_frames)
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
    and controls, permutation tests for ``config.permutation_tasks``). Baseline rows:

    - ``condition="untrained"``: the same architecture with the seed's initial weights;
    - ``condition="input"``, ``representation="mel_stats"``: no network (:func:`~langlab.representations.mel_stats`).

    Every row of seed ``s`` uses the splits and permutations of seed ``config.seed + s``. Each
    (condition, seed) unit is a store entry (stage ``lstm_probes``, inputs: the probe features
    and the trained run), holding its rows and its states, so a rebuild recomputes nothing.
    The units run through :mod:`langlab.runs`; the states are read in this process first.

    Parameters
    ----------
    preset : str or Preset
    seeds, conditions : sequences, optional
        Default ``preset.lstm.seeds`` and ``preset.lstm.conditions``.
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
        ``condition``, ``seed``, then the columns of :func:`~langlab.probing.probe_table`, plus ``n_frames``.
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
    conditions = tuple(preset.lstm.conditions if conditions is None else conditions)
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
