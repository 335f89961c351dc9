"""One runner for the (model, condition, seed) units of every experiment (Chapters 3 to 5).

An experiment is a grid of *units*: a pre-training condition and a training seed (or a
baseline such as ``"untrained"`` and a seed). Each unit is one store entry, so a rebuild
computes nothing, an interrupted run resumes, and only missing units run:

- with ``n_jobs=1`` one after the other in this process, under a progress bar;
- otherwise through :func:`parallel`: local loky worker processes, or a ``dask.distributed``
  cluster inside ``joblib.parallel_config(backend="dask")`` (the appendix "Running on real
  Common Voice"). Each worker limits TensorFlow to the config's ``threads``.

A model plugs in as a :class:`ModelSpec`: its store stage, the preset field of its config, how
to compute one unit into a folder (``fill``) and how to read one back as result rows
(``result``). The LSTM (:data:`langlab.training.SPEC`), the autoencoder
(:data:`langlab.autoencoder.SPEC`) and the probes of both are such specs; :func:`experiment`
runs a model's grid and :func:`histories` reads its loss curves. A third model is one more spec
(its config, with ``seeds``, ``conditions``, ``n_jobs``, ``threads`` and ``training_fields()``,
a field of the presets)::

    def fill(preset, condition, seed, folder, *, store, data_dir, prepared):
        data = run_data(preset, condition=condition, store=store, data_dir=data_dir)
        model, history = train_gru(data.S_train, data.S_val, S_pretrain=data.S_pretrain, ...)
        history.to_csv(folder / "history.csv", index=False)
        return {"condition": condition, "seed": seed, "val_loss": history["val_loss"].iloc[-1]}

    def row(preset, entry):
        return entry.manifest()

    SPEC = ModelSpec(name="GRU runs", stage="gru", config="gru", fill=fill, result=row,
                     description="GRU, pre-training {condition!r}, seed {seed}",
                     inputs=data_keys, roots=(fill,))
    table = experiment(SPEC, "book")
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from langlab.errors import DataError, check, check_int, check_tuple
from langlab.presets import as_preset
from langlab.store import Entry, Store, default_store

#: A unit of an experiment: ``(condition, seed)``.
Unit = tuple[str, int]


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """How one model (or one probe of a model) plugs into the runner.

    Parameters
    ----------
    name : str
        Label of the progress bar and of error messages, e.g. ``"LSTM runs"``.
    stage : str
        Store stage of a unit.
    config : str
        Field of the preset whose config gives ``seeds``, ``conditions``, ``n_jobs`` and
        ``threads`` (``"lstm"``, ``"autoencoder"``).
    fill : callable
        ``fill(preset, condition, seed, folder, *, store, data_dir, prepared)`` computes one
        unit, writes its files into ``folder`` and returns the manifest's extra fields.
    result : callable
        ``result(preset, entry)``: a complete unit as a dict (one result row) or a DataFrame.
    description : str
        The entry's description, formatted with ``condition`` and ``seed``.
    inputs : callable, optional
        ``inputs(preset, condition, *, store, data_dir)``: store keys a condition's units are
        computed from (the model specs'; probe experiments give each unit's inputs).
    key : callable, optional
        ``key(preset, condition, seed)``: the unit's config in its store key. Default: the
        config's ``training_fields()``, the condition and the seed.
    prepare : callable, optional
        ``prepare(preset, entries, *, store, data_dir, progress) -> {unit: prepared}``: work on
        the missing units done in this process before they fan out (``prepared`` of ``fill``).
    roots : tuple of callables
        The functions that compute a unit (its code, part of the store key).
    """

    name: str
    stage: str
    config: str
    fill: Callable[..., dict | None]
    result: Callable[..., Any]
    description: str
    inputs: Callable[..., tuple[str, ...]] | None = None
    key: Callable[..., dict] | None = None
    prepare: Callable[..., dict] | None = None
    roots: tuple[Callable, ...] = ()


# --------------------------------------------------------------------------------------------
# Units and their store entries
# --------------------------------------------------------------------------------------------
def check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    """``seeds`` as a tuple of distinct ints >= 0; Python and NumPy integers are accepted, bools
    are not."""
    check(not isinstance(seeds, (str, int, np.integer)), f"seeds must be a sequence of integers, got {seeds!r}")
    return check_tuple(tuple(seeds), "seeds", item=lambda s, name: check_int(s, name, minimum=0),
                       min_len=1, unique=True)


def check_jobs(n_jobs: Any) -> int:
    """``n_jobs`` as an int: a positive number of workers or -1 (one a core)."""
    return check_int(n_jobs, "n_jobs", minimum=1, also=(-1,))


def units(config: Any, *, seeds=None, conditions=None) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The seeds and conditions of an experiment: the arguments, checked, or the config's."""
    from langlab.pretraining import check_conditions
    seeds = check_seeds(config.seeds if seeds is None else seeds)
    return seeds, check_conditions(config.conditions if conditions is None else conditions)


def new_entry(store: Store, stage: str, *, config: Any, inputs: Sequence[str] = (),
              roots: Sequence[Callable] = ()) -> Entry:
    """The store entry of ``stage`` computed with ``config`` from ``inputs`` by the functions
    ``roots``: every entry of an experiment is made here."""
    # code: compute roots (Store.entry hashes them and what they call, langlab.codeversion)
    return store.entry(stage, config=config, inputs=list(inputs), code=tuple(roots))


def entry(spec: ModelSpec, preset, condition: str, seed: int, *, store: Store,
          inputs: Sequence[str]) -> Entry:
    """The store entry of one unit of ``spec``."""
    from langlab.pretraining import roots
    if spec.key is not None:
        config = spec.key(preset, condition, int(seed))
    else:
        config = {spec.config: getattr(preset, spec.config).training_fields(), "condition": condition,
                  "seed": int(seed)}
    return new_entry(store, spec.stage, config=config, inputs=inputs, roots=spec.roots + roots(condition))


# --------------------------------------------------------------------------------------------
# Computing the missing units
# --------------------------------------------------------------------------------------------
def in_worker() -> bool:
    """True in a pool or cluster worker process (loky, multiprocessing, Dask nanny)."""
    return multiprocessing.parent_process() is not None


def parallel(n_jobs: int):
    """A :class:`joblib.Parallel` with ``n_jobs`` workers on whatever backend is active.

    No backend is forced: loky worker processes by default, a ``dask.distributed`` cluster
    inside ``joblib.parallel_config(backend="dask")`` (Chapter 3, "Running the experiment";
    the appendix "Running on real Common Voice", "On a cluster").
    """
    import joblib
    return joblib.Parallel(n_jobs=n_jobs)


def _compute_unit(spec: ModelSpec, preset, unit: Unit, entry: Entry, *, store: Store, data_dir,
                  threads: int | None, prepared: Any = None, condition: Any = None) -> None:
    """Compute and store one unit unless it is stored (in a worker process, see :func:`compute`);
    ``condition`` is the unit's registered pre-training condition, made known to the worker."""
    from langlab import pretraining
    pretraining.adopt(condition)
    if entry.exists():
        return
    if threads:
        from langlab.models import limit_threads
        limit_threads(threads)
    condition, seed = unit
    entry.write(lambda folder: spec.fill(preset, condition, seed, folder, store=store, data_dir=data_dir,
                                         prepared=prepared),
                description=spec.description.format(condition=condition, seed=seed))


def run_in_worker(function: Callable, *args: Any, threads: int, **kwargs: Any) -> Any:
    """``function(*args, threads=threads, **kwargs)`` in a worker process: this one if it is a
    pool or cluster worker already (whose TensorFlow has ``threads`` threads), else the one
    process of a reusable loky pool (started once, kept for the next unit). The result does not
    depend on the caller's TensorFlow thread count (appendix "Reproducibility")."""
    if in_worker():
        return function(*args, threads=threads, **kwargs)
    # joblib's own loky executor: the one joblib.Parallel reuses (loky's plain reusable executor
    # lacks joblib's temp-folder manager, and a later Parallel(n_jobs=2) would fail on it)
    from joblib.executor import get_memmapping_executor
    return get_memmapping_executor(1).submit(function, *args, threads=threads, **kwargs).result()


def compute(spec: ModelSpec, preset, entries: Mapping[Unit, Entry], *, store: Store, data_dir=None,
            n_jobs: int = 1, threads: int | None = None, progress: bool = True) -> None:
    """Compute the units of ``entries`` whose store entries are missing.

    Every unit runs in a worker process whose TensorFlow uses ``threads`` threads (None: 1),
    never in this process, so that a unit gives the same bits however it is scheduled:
    TensorFlow's CPU kernels add up in an order that depends on the thread count, and this
    process's count is whatever it was when TensorFlow started here. With ``n_jobs=1`` the
    units run one after the other in one worker (:func:`run_in_worker`), under a progress bar;
    otherwise through :func:`parallel`. When every entry is stored nothing runs and no worker
    starts.
    """
    missing = [unit for unit, e in entries.items() if not e.exists()]
    if missing:
        prepared = (spec.prepare(preset, {u: entries[u] for u in missing}, store=store, data_dir=data_dir,
                                 progress=progress) if spec.prepare else {})
        from langlab.pretraining import definition
        kwargs = dict(store=store, data_dir=data_dir)
        threads = int(threads or 1)
        if n_jobs == 1:
            from tqdm.auto import tqdm
            for unit in tqdm(missing, desc=spec.name, file=sys.stderr, disable=not progress):
                run_in_worker(_compute_unit, spec, preset, unit, entries[unit], threads=threads,
                              prepared=prepared.get(unit), condition=definition(unit[0]), **kwargs)
        else:
            from joblib import delayed
            parallel(n_jobs)(delayed(_compute_unit)(spec, preset, unit, entries[unit], threads=threads,
                                                    prepared=prepared.get(unit), condition=definition(unit[0]),
                                                    **kwargs)
                             for unit in missing)
    for (condition, seed), e in entries.items():
        check(e.exists(), f"{spec.name}: {condition}/seed {seed} is missing from {store} after computing",
              DataError)


def table(spec: ModelSpec, preset, entries: Mapping[Unit, Entry]) -> pd.DataFrame:
    """The result rows of complete units, in the order of ``entries`` (read from the store, so
    the same table whether the units were computed or reused)."""
    results = [spec.result(preset, e) for e in entries.values()]
    if results and isinstance(results[0], pd.DataFrame):
        return pd.concat(results, ignore_index=True)
    return pd.DataFrame(results)


def read_table(file: Path) -> pd.DataFrame:
    """A unit's CSV table; only empty fields are missing values (a condition called ``"none"``
    stays a string) and an empty ``note`` is ``""``."""
    found = pd.read_csv(file, keep_default_na=False, na_values=[""])
    if "note" in found:
        found["note"] = found["note"].fillna("")
    return found


# --------------------------------------------------------------------------------------------
# A model's experiment
# --------------------------------------------------------------------------------------------
def model_entries(spec: ModelSpec, preset, *, seeds=None, conditions=None, store=None, n_jobs=None,
                  data_dir=None, progress: bool = True) -> dict[Unit, Entry]:
    """The complete entries of every (condition, seed) of a model (computing missing ones)."""
    preset = as_preset(preset)
    config = getattr(preset, spec.config)
    seeds, conditions = units(config, seeds=seeds, conditions=conditions)
    store = default_store(store)
    n_jobs = check_jobs(config.n_jobs if n_jobs is None else n_jobs)
    keys = {c: spec.inputs(preset, c, store=store, data_dir=data_dir) for c in conditions}
    entries = {(c, s): entry(spec, preset, c, s, store=store, inputs=keys[c]) for c in conditions for s in seeds}
    compute(spec, preset, entries, store=store, data_dir=data_dir, n_jobs=n_jobs, threads=config.threads,
            progress=progress)
    return entries


def experiment(spec: ModelSpec, preset, **kwargs: Any) -> pd.DataFrame:
    """Train (or load from the store) a model for every condition and seed: one result row a
    unit (``spec.result``), in the order conditions x seeds.

    Parameters
    ----------
    spec : ModelSpec
        The model (:data:`langlab.training.SPEC`, :data:`langlab.autoencoder.SPEC`, ...).
    preset : str or Preset
        ``"smoke"``, ``"book"``, ``"paper"`` or a :class:`~langlab.presets.Preset`; its
        ``spec.config`` field holds the model's config.
    seeds, conditions : sequences, optional
        Default: the config's ``seeds`` and ``conditions``.
    store : Store, optional
        The artifact store (default: the project's).
    n_jobs : int, optional
        Parallel units through joblib (default: the config's ``n_jobs``; 1 runs them one after
        the other in this process). Each worker uses the config's ``threads`` TensorFlow threads.
    data_dir : path, optional
        A Common Voice download; default the embedded corpus.
    progress : bool
        A progress bar over the units computed in this process (stderr).
    """
    preset = as_preset(preset)
    return table(spec, preset, model_entries(spec, preset, **kwargs))


def histories(spec: ModelSpec, preset, **kwargs: Any) -> pd.DataFrame:
    """Loss curves of every (condition, seed) unit: each unit's ``history.csv`` with
    ``condition`` and ``seed`` columns first (missing units are computed first, as in
    :func:`experiment`)."""
    entries = model_entries(spec, preset, **kwargs)
    frames = [pd.read_csv(e.path / "history.csv").assign(condition=c, seed=s) for (c, s), e in entries.items()]
    out = pd.concat(frames, ignore_index=True)
    return out[["condition", "seed"] + [k for k in out.columns if k not in ("condition", "seed")]]


def ensure(spec: ModelSpec, preset, *, condition: str, seed: int, store=None, data_dir=None) -> Entry:
    """The complete entry of one unit of a model, computed in a worker process if missing."""
    from langlab.pretraining import check_conditions
    preset = as_preset(preset)
    check_conditions([condition])
    (seed,) = check_seeds([seed])
    store = default_store(store)
    found = entry(spec, preset, condition, seed, store=store,
                  inputs=spec.inputs(preset, condition, store=store, data_dir=data_dir))
    if not found.exists():
        from langlab.pretraining import definition
        run_in_worker(_compute_unit, spec, preset, (condition, seed), found, store=store, data_dir=data_dir,
                      threads=getattr(preset, spec.config).threads, condition=definition(condition))
    return found


# --------------------------------------------------------------------------------------------
# The data of a training unit
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RunData:
    """Scaled spectrograms of one pre-training condition (from :func:`run_data`).

    ``S_train``/``S_val``: full-band Spanish (roles ``train``/``val``); ``S_pretrain``: the
    condition's pre-training clips (None for ``"none"``); ``features``: the full-band feature
    set they come from; ``keys``: store keys of the inputs.
    """

    S_train: np.ndarray
    S_val: np.ndarray
    S_pretrain: np.ndarray | None
    features: Any
    keys: tuple[str, ...]


def data_keys(preset, condition: str, *, store: Store, data_dir=None) -> tuple[str, ...]:
    """Store keys of a training unit's inputs: the features and the pre-training data."""
    from langlab import features, pretraining
    keys = [features.for_preset(preset, data_dir=data_dir, store=store).key]
    if condition != pretraining.NONE:
        keys.append(pretraining.pretrain_key(preset, condition=condition, store=store, data_dir=data_dir))
    return tuple(keys)


def run_data(preset, *, condition: str, store=None, data_dir=None) -> RunData:
    """The data one (condition, seed) unit trains on (see :class:`RunData`)."""
    from langlab import features, pretraining
    preset = as_preset(preset)
    pretraining.check_conditions([condition])
    store = default_store(store)
    full = features.for_preset(preset, data_dir=data_dir, store=store)
    train, val = full.where(role="train"), full.where(role="val")
    check(len(train.table) >= 1 and len(val.table) >= 1,
          f"the corpus needs Spanish 'train' and 'val' clips, got {len(train.table)} and {len(val.table)}",
          DataError)
    keys = [full.key]
    S_pretrain = None
    if condition != pretraining.NONE:
        S_pretrain, key = pretraining.pretrain_spectrograms(preset, condition=condition, store=store,
                                                            data_dir=data_dir)
        keys.append(key)
    return RunData(S_train=np.asarray(train.scaled(), dtype=np.float32),
                   S_val=np.asarray(val.scaled(), dtype=np.float32),
                   S_pretrain=S_pretrain, features=full, keys=tuple(keys))


def clip_counts(data: RunData) -> dict[str, int]:
    """``n_train``, ``n_val`` and ``n_pretrain``: clips of a unit's data (no pre-training clips
    count 0), for its manifest."""
    return {f"n_{name}": 0 if S is None else len(S)
            for name, S in (("train", data.S_train), ("val", data.S_val), ("pretrain", data.S_pretrain))}
