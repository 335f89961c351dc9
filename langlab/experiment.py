"""The whole experiment from the command line: ``langlab run`` (Real-data appendix).

``langlab run --preset book|paper|smoke`` runs every stage of the book in order and writes the
results tables (CSV and JSON) and the main figures (PNG) into one output folder:

1. corpus selection and speaker-disjoint splits (:func:`langlab.corpus.prepare`, Chapter 1),
2. mel spectrograms, full band and low-passed (:func:`langlab.features.for_preset`, Chapter 2),
3. the next-frame LSTM for every (pre-training condition, seed), and Chapter 3's design of doses,
   controls and the optimizer reset with its claims judged (:mod:`langlab.training`,
   :mod:`langlab.claims`, Chapter 3),
4. probes of its hidden and cell states (:func:`langlab.lstm_probes.lstm_probe_experiment`, Chapter 4),
5. the convolutional autoencoder and its latent probes (:mod:`langlab.autoencoder`, Chapter 5).

It calls the *same* functions as the chapters, with the same store, so that after
``langlab run --preset book`` building the book trains nothing, and a chapter run first saves
the command that work. Because every stage result is a store entry written atomically, the run
is resumable: kill it at any point (even ``kill -9``), start it again, and it continues from the
finished entries. The results files are written at the end, atomically; wall-clock times go to
``timings.json`` only, so the results files of two runs with the same configuration are equal
(:mod:`langlab.run_output`).

Independent units (the (condition, seed) trainings) run through :mod:`langlab.runs`; with
``scheduler="tcp://host:8786"`` joblib's Dask backend sends them to a ``dask.distributed``
cluster whose workers share the store folder (and the data folder) with this machine.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from langlab import __version__, pretraining
from langlab.errors import DataError, ParameterError, check
from langlab.presets import PRESET_NAMES, Preset, get_preset
from langlab.run_output import RUN_FILE, check_out, run_info, write_results
from langlab.store import Store, atomic_write_json

#: Seconds to wait for a Dask scheduler before giving up.
SCHEDULER_TIMEOUT = 10.0


# --------------------------------------------------------------------------------------------
# Bookkeeping: which store entries a stage computed and which it found
# --------------------------------------------------------------------------------------------
class RecordingStore(Store):
    """A :class:`~langlab.store.Store` that remembers every entry asked for and whether it was
    complete at that moment (``touched["stage/key"] -> existed``).

    Stage functions receive it as ``store=``; it pickles as a plain :class:`Store`, so workers
    of a pool or cluster get an ordinary store (the units they compute show up as new complete
    entries, see :func:`_run_stage`).
    """

    def __init__(self, root: str | os.PathLike | None = None):
        super().__init__(root)
        self.touched: dict[str, bool] = {}

    def entry(self, stage: str, **kwargs: Any):
        entry = super().entry(stage, **kwargs)
        self.touched.setdefault(f"{entry.stage}/{entry.key}", entry.exists())
        return entry

    def __reduce__(self):
        return (Store, (str(self.root),))

    def complete(self) -> set[str]:
        """``"stage/key"`` of every complete entry in the store now."""
        return {f"{p.parent.parent.name}/{p.parent.name}" for p in self.root.glob("*/*/manifest.json")}


@dataclasses.dataclass
class StageReport:
    """What one stage did: units run or reused, store entries computed or reused, skips, time."""

    name: str
    label: str = ""  # progress-bar label, e.g. "[3/6] lstm"
    units: int = 0
    ran: int = 0
    reused: int = 0
    entries_computed: int = 0
    entries_reused: int = 0
    skipped: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    status: str = "pending"  # "done", "skipped" or "failed"

    def as_dict(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "label"}


@dataclasses.dataclass
class RunSummary:
    """The outcome of :func:`run_experiment`: one :class:`StageReport` a stage, the files written."""

    preset: str
    out: Path
    stages: list[StageReport]
    files: list[str]
    seconds: float
    n_jobs: int
    scheduler: str | None = None

    def stage(self, name: str) -> StageReport:
        for report in self.stages:
            if report.name == name:
                return report
        raise KeyError(name)

    @property
    def entries_reused(self) -> int:
        return sum(r.entries_reused for r in self.stages)

    @property
    def entries_computed(self) -> int:
        return sum(r.entries_computed for r in self.stages)

    def text(self) -> str:
        """The summary printed at the end of ``langlab run``."""
        where = f"Dask cluster {self.scheduler}" if self.scheduler else f"{_count(self.n_jobs, 'local worker')}"
        lines = [f"langlab run --preset {self.preset}: finished in {_duration(self.seconds)} on {where}",
                 f"{'stage':<18}{'units':>6}{'ran':>6}{'reused':>8}{'entries new/reused':>20}"
                 f"{'time':>13}  status"]
        for r in self.stages:
            lines.append(f"{r.name:<18}{r.units:>6}{r.ran:>6}{r.reused:>8}"
                         f"{f'{r.entries_computed}/{r.entries_reused}':>20}{_duration(r.seconds):>13}"
                         f"  {r.status}")
        for r in self.stages:
            for why in r.skipped:
                lines.append(f"  skipped in {r.name}: {why}")
            for note in r.notes:
                lines.append(f"  {r.name}: {note}")
        lines.append(f"results ({len(self.files)} files) in {self.out}")
        return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    """``"1 clip"``, ``"2 clips"``: a count with its noun in the right number (the run log)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# --------------------------------------------------------------------------------------------
# Progress: a bar per stage that counts the stage's store entries as they complete
# --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _progress_bar(ctx: "_Context", label: str, *, store_stages: Sequence[str], expected: int) -> Iterator[None]:
    """A tqdm bar for one stage. The stage functions fan their (condition, seed) units out
    themselves (joblib, locally or on Dask); the bar counts the units' store entries: those the
    stage asked for (:class:`RecordingStore`) that are complete, polled twice a second. Works
    for units finishing in other processes or on other machines (the store is shared)."""
    import threading

    from tqdm.auto import tqdm

    stages = tuple(f"{s}/" for s in store_stages)
    stop = threading.Event()
    bar = tqdm(total=max(expected, 1), desc=label, unit="unit" if stages else "stage", file=sys.stderr,
               disable=not ctx.progress, dynamic_ncols=True)

    def count() -> tuple[int, int]:
        keys = [k for k in tuple(ctx.store.touched) if k.startswith(stages)]
        return len(keys), sum((ctx.store.root / k / "manifest.json").exists() for k in keys)

    def poll() -> None:
        while not stop.wait(0.5):
            asked, done = count()
            bar.total = max(bar.total, asked)
            if done != bar.n:
                bar.n = done
                bar.refresh()

    thread = threading.Thread(target=poll, daemon=True) if stages and ctx.progress else None
    if thread:
        thread.start()
    try:
        yield
        if stages:
            asked, done = count()
            bar.total = max(asked, 1)
            bar.n = done
        else:
            bar.n = bar.total
        bar.refresh()
    finally:
        stop.set()
        if thread:
            thread.join()
        bar.close()


@contextlib.contextmanager
def _backend(scheduler: str | None, *, store: Store, data_dir: Path | None,
             timeout: float = SCHEDULER_TIMEOUT) -> Iterator[Any]:
    """Inside: joblib runs on the Dask cluster at ``scheduler`` (or locally when ``None``).

    Raises :class:`ParameterError` with one clear line when the scheduler cannot be reached,
    has no workers, or its workers run another langlab or cannot see the store.
    """
    if scheduler is None:
        yield None
        return
    import joblib
    try:
        from dask.distributed import Client
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise ParameterError(f"--scheduler needs dask.distributed ({exc}); "
                             "pip install 'dask[distributed]'") from None
    quiet = [logging.getLogger(n) for n in ("distributed", "distributed.client", "distributed.comm",
                                            "distributed.core", "tornado", "asyncio")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.CRITICAL)
    try:
        try:
            client = Client(scheduler, timeout=timeout)
        except Exception as exc:  # OSError, TimeoutError, ValueError (bad address), ...
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if isinstance(exc, ValueError):
                raise ParameterError(f"--scheduler {scheduler!r} is not a scheduler address "
                                     f"({reason}); expected e.g. tcp://10.0.0.5:8786") from None
            raise ParameterError(
                f"cannot reach the Dask scheduler at {scheduler!r} within {timeout:g} s ({reason}); "
                "start one with `dask scheduler` (and workers with `dask worker ADDRESS`), "
                "or leave out --scheduler to run on this machine") from None
    finally:
        for lg, level in zip(quiet, levels):
            lg.setLevel(level)
    try:
        _check_workers(client, scheduler, store=store, data_dir=data_dir, timeout=timeout)
        with joblib.parallel_config(backend="dask"):
            yield client
    finally:
        client.close()


def _worker_view(store_root: str, data_dir: str | None) -> dict:
    """Run on each Dask worker: its langlab version and whether it sees the store and data."""
    import langlab
    store = Path(store_root)
    probe = store / f".worker-check-{os.getpid()}"
    try:
        store.mkdir(parents=True, exist_ok=True)
        probe.write_text("ok")
        writable = True
        probe.unlink()
    except OSError:
        writable = False
    return {"version": langlab.__version__, "store": writable,
            "data": data_dir is None or Path(data_dir).is_dir()}


def _check_workers(client: Any, scheduler: str, *, store: Store, data_dir: Path | None,
                   timeout: float) -> None:
    try:
        client.wait_for_workers(1, timeout=timeout)
    except Exception:
        raise ParameterError(f"the Dask scheduler at {scheduler!r} has no workers; start some with "
                             f"`dask worker {scheduler}` on machines that share the store folder "
                             f"{store.root}") from None
    threads = {w: info.get("nthreads", 1) for w, info in client.scheduler_info()["workers"].items()}
    crowded = {w: n for w, n in threads.items() if n != 1}
    if crowded:
        worker, n = next(iter(crowded.items()))
        raise ParameterError(
            f"Dask worker {worker} runs {n} threads; langlab needs one thread per worker process "
            "(two trainings in one process share TensorFlow's random state, so results would "
            f"not be reproducible): start workers with `dask worker {scheduler} --nthreads 1 "
            "--nworkers N`")
    views = client.run(_worker_view, str(store.root), str(data_dir) if data_dir else None)
    for worker, view in views.items():
        check(view["version"] == __version__,
              f"Dask worker {worker} runs langlab {view['version']}, this is {__version__}; "
              "install the same langlab on every worker")
        check(view["store"], f"Dask worker {worker} cannot write the store folder {store.root}; "
              "put the store on a filesystem every worker shares (LANGLAB_HOME or --store)")
        check(view["data"], f"Dask worker {worker} cannot see the data folder {data_dir}; "
              "put it on a filesystem every worker shares, at the same path")


# --------------------------------------------------------------------------------------------
# The stages
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class _Context:
    preset: Preset
    data_dir: Path | None
    seeds: tuple[int, ...] | None
    conditions: tuple[str, ...] | None
    store: RecordingStore
    n_jobs: int
    progress: bool
    tables: dict[str, Any] = dataclasses.field(default_factory=dict)
    timings: dict[str, Any] = dataclasses.field(default_factory=dict)
    figures: dict[str, bytes] = dataclasses.field(default_factory=dict)
    seen: set[str] = dataclasses.field(default_factory=set)


def _stage_corpus(ctx: _Context, report: StageReport) -> None:
    from langlab import corpus
    clips = corpus.prepare(ctx.preset, data_dir=ctx.data_dir, store=ctx.store, n_jobs=ctx.n_jobs,
                           progress=ctx.progress)
    ctx.tables["corpus"] = clips.summary()
    ctx.tables["splits"] = clips.split_counts().rename_axis("role").reset_index()
    if len(clips.skipped):
        for reason, n in clips.skipped["reason"].value_counts().sort_index().items():
            report.skipped.append(f"{_count(n, 'clip')}: {reason}")
        ctx.tables["skipped_clips"] = clips.skipped.sort_values(["path"]).reset_index(drop=True)
    report.notes.append(f"{len(clips.table)} usable clips, {clips.table['client_id'].nunique()} "
                        f"speakers in {clips.root}")


def _stage_features(ctx: _Context, report: StageReport) -> None:
    import pandas as pd

    from langlab import features
    rows = []
    for lowpass_hz in (None, pretraining.pretrain_lowpass_hz(ctx.preset)):
        fs = features.for_preset(ctx.preset, lowpass_hz=lowpass_hz, data_dir=ctx.data_dir, store=ctx.store,
                                 n_jobs=ctx.n_jobs, progress=ctx.progress)
        table = fs.table
        silent = int(table["is_silent"].sum()) if "is_silent" in table else 0
        rows.append({"lowpass_hz": lowpass_hz, "clips": len(table), "silent": silent,
                     "skipped": len(fs.skipped), "n_mels": int(fs.S_db.shape[1]),
                     "n_frames": int(fs.S_db.shape[2])})
        band = f"low-passed at {lowpass_hz:g} Hz" if lowpass_hz else "full band"
        if silent:
            report.skipped.append(f"{_count(silent, 'silent clip')} ({band}) left out of training and probes")
        if len(fs.skipped):
            for reason, n in fs.skipped["reason"].value_counts().sort_index().items():
                report.skipped.append(f"{_count(n, 'clip')} ({band}): {reason}")
    # The pre-training data of every condition (the noise control is made here), once, before
    # the (condition, seed) units fan out and would each make it.
    for condition in ctx.conditions or tuple(ctx.preset.lstm.conditions):
        if condition != pretraining.NONE:
            pretraining.pretrain_spectrograms(ctx.preset, condition=condition, data_dir=ctx.data_dir,
                                              store=ctx.store, progress=ctx.progress)
    ctx.tables["features"] = pd.DataFrame(rows)


def _grid(ctx: _Context, config: Any) -> dict[str, Any]:
    """The seeds and conditions of a model stage: the run's (``--seeds``, ``--conditions``) or
    the config's, as stage-function keywords."""
    return {"seeds": list(ctx.seeds or config.seeds), "conditions": list(ctx.conditions or config.conditions)}


def _stage_lstm(ctx: _Context, report: StageReport) -> None:
    from langlab import learning_speed, training
    grid = _grid(ctx, ctx.preset.lstm)
    report.units = len(grid["seeds"]) * len(grid["conditions"])
    kwargs = dict(data_dir=ctx.data_dir, store=ctx.store, n_jobs=ctx.n_jobs, progress=ctx.progress, **grid)
    table = training.lstm_experiment(ctx.preset, **kwargs)
    _censored_note(report, table)
    ctx.tables["lstm_training"] = table
    ctx.tables["lstm_summary"] = learning_speed.summarise(table)
    pairs = [(a, b) for a, b in learning_speed.CLAIM_PAIRS
             if a in grid["conditions"] and b in grid["conditions"]]
    if pairs and len(grid["seeds"]) >= 2:
        ctx.tables["lstm_tests"] = learning_speed.compare(table, pairs=pairs)
    elif pairs:
        report.skipped.append("tests between conditions: one seed per condition gives no spread")
    ctx.tables["lstm_curves"] = learning_speed.learning_curves(training.lstm_histories(ctx.preset, **kwargs))
    # Chapter 3's design (doses, controls, the optimizer reset; training.DESIGNS), limited to the
    # run's --seeds and --conditions; its dose-1 runs are the ones above.
    design = training.design_experiment(ctx.preset, seeds=ctx.seeds, conditions=ctx.conditions,
                                        data_dir=ctx.data_dir, store=ctx.store, n_jobs=ctx.n_jobs,
                                        progress=ctx.progress)
    ctx.tables["lstm_design"] = design
    report.units = len(set(table["key"]) | set(design["key"]))
    if design["seed"].nunique() >= 2:
        from langlab import claims
        ctx.tables["lstm_claims"] = claims.speed_claims(claims.judged_runs(design))


def _probe_summary(ctx: _Context, report: StageReport, name: str) -> None:
    """``<name>_summary``: mean and CI over seeds of every probe (``probing.summarize``); probes
    without a score (e.g. a control task that cannot be split) are reported as skipped."""
    from langlab import probing
    table = ctx.tables[name]
    if not len(table):
        return
    unscored = table["balanced_accuracy"].isna()
    if "r2" in table:  # decoding rows (probing.other_targets_table) carry R^2, not accuracy
        unscored &= table["r2"].isna()
    if unscored.any():
        reasons = [r for r in sorted(set(table.loc[unscored, "note"].astype(str))) if r]
        probes = sorted(set(table.loc[unscored, "probe"]))
        report.skipped.append(f"{int(unscored.sum())} probe row(s) without a score"
                              f"{' (' + ', '.join(probes) + ')' if probes else ''}"
                              f"{', e.g. ' + reasons[0] if reasons else ''}")
    ctx.tables[f"{name}_summary"] = probing.summarize(table[~unscored])


def _probes(ctx: _Context, report: StageReport, experiment: Callable[..., Any], name: str) -> None:
    """Run the probe experiment ``experiment`` into ``ctx.tables[name]``, then its summary
    (:func:`_probe_summary`)."""
    ctx.tables[name] = experiment(ctx.preset, data_dir=ctx.data_dir, store=ctx.store,
                                  seeds=None if ctx.seeds is None else list(ctx.seeds),
                                  conditions=None if ctx.conditions is None else list(ctx.conditions),
                                  n_jobs=ctx.n_jobs, progress=ctx.progress)
    _probe_summary(ctx, report, name)


def _stage_lstm_probes(ctx: _Context, report: StageReport) -> None:
    from langlab.lstm_probes import lstm_probe_experiment
    _probes(ctx, report, lstm_probe_experiment, "lstm_probes")


def _stage_ae_probes(ctx: _Context, report: StageReport) -> None:
    from langlab.autoencoder import ae_probe_experiment
    _probes(ctx, report, ae_probe_experiment, "ae_probes")


def _stage_autoencoder(ctx: _Context, report: StageReport) -> None:
    from langlab import autoencoder
    grid = _grid(ctx, ctx.preset.autoencoder)
    report.units = len(grid["seeds"]) * len(grid["conditions"])
    ctx.tables["ae_training"] = autoencoder.ae_experiment(ctx.preset, data_dir=ctx.data_dir, store=ctx.store,
                                                          n_jobs=ctx.n_jobs, progress=ctx.progress, **grid)


def _censored_note(report: StageReport, table: Any) -> None:
    n = int(table["censored"].astype(bool).sum())
    if n:
        report.notes.append(f"{n} of {_count(len(table), 'run')} did not reach the loss threshold "
                            "(censored at the step limit)")


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of :func:`run_experiment`."""

    name: str
    run: Callable[[_Context, StageReport], None]
    after: tuple[str, ...] = ()  # stages whose results it needs
    units: tuple[str, ...] = ()  # store stages whose entries are its units (none: one unit)


#: The stages, in order.
STAGES: tuple[Stage, ...] = (
    Stage("corpus", _stage_corpus, (), ("synth", "corpus")),
    Stage("features", _stage_features, ("corpus",), ("features", pretraining.STAGE)),
    Stage("lstm", _stage_lstm, ("features",), ("lstm",)),
    Stage("lstm probes", _stage_lstm_probes, ("lstm",), ("lstm_probes",)),
    Stage("autoencoder", _stage_autoencoder, ("features",), ("autoencoder",)),
    Stage("autoencoder probes", _stage_ae_probes, ("autoencoder",), ("autoencoder-probe",)),
)


def _run_stage(ctx: _Context, stage: Stage, *, label: str, done: set[str]) -> StageReport:
    """Run one stage and report what it computed and what it found in the store."""
    report = StageReport(stage.name, label=label)
    waiting = [name for name in stage.after if name not in done]
    if waiting:
        report.status = "skipped"
        report.skipped.append(f"needs the results of stage(s) {', '.join(waiting)}")
        return report
    before = ctx.store.complete()
    ctx.store.touched.clear()
    started = time.perf_counter()
    with _progress_bar(ctx, label, store_stages=stage.units, expected=0):
        stage.run(ctx, report)
    report.seconds = round(time.perf_counter() - started, 3)
    after = ctx.store.complete()
    # Computed: complete now, not before (whichever process wrote it). Reused: asked for by
    # the stage (in this process) and complete before. Entries of earlier stages count once.
    computed = (after - before) - ctx.seen
    reused = {k for k, existed in ctx.store.touched.items() if existed and k in before} - ctx.seen
    report.entries_computed, report.entries_reused = len(computed), len(reused)
    if stage.units:
        mine = tuple(f"{s}/" for s in stage.units)
        report.ran = sum(1 for k in computed if k.startswith(mine))
        report.reused = sum(1 for k in reused if k.startswith(mine))
        report.units = max(report.units, report.ran + report.reused)
    else:
        report.units = 1
        report.ran, report.reused = (1, 0) if computed else (0, 1)
    ctx.seen |= computed | reused
    report.status = "done"
    return report


# --------------------------------------------------------------------------------------------
# The experiment
# --------------------------------------------------------------------------------------------
def default_out(preset: str) -> Path:
    """Default output folder: ``langlab-results/<preset>`` in the current folder."""
    return Path("langlab-results") / preset


def resolve(preset: str, *, data_dir: str | os.PathLike | None = None, seeds: int | None = None,
            conditions: Sequence[str] | None = None) -> tuple[Preset, Path | None,
                                                             tuple[int, ...] | None,
                                                             tuple[str, ...] | None]:
    """Check the run's parameters and return ``(preset, data_dir, seeds, conditions)``.

    Raises :class:`ParameterError` naming the bad value (unknown preset, ``seeds < 1``, unknown
    condition, a data folder that does not exist).
    """
    check(isinstance(preset, str) and preset in PRESET_NAMES,
          f"unknown preset {preset!r}; expected one of {', '.join(PRESET_NAMES)}")
    config = get_preset(preset)
    seed_tuple = None
    if seeds is not None:
        check(isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1,
              f"--seeds must be a whole number >= 1, got {seeds!r}")
        seed_tuple = tuple(range(seeds))
    cond_tuple = None
    if conditions is not None:
        cond_tuple = tuple(dict.fromkeys(conditions))
        check(len(cond_tuple) > 0, "--conditions needs at least one condition")
        known = pretraining.names()
        bad = [c for c in cond_tuple if c not in known]
        check(not bad, f"unknown condition(s) {', '.join(map(repr, bad))}; expected some of "
              f"{', '.join(known)}")
    data = None
    if data_dir is not None:
        data = Path(data_dir).expanduser().resolve()
        check(data.is_dir(), f"--data {data_dir} is not a folder; give the folder of a Common Voice "
              "download (with <locale>/validated.tsv and <locale>/clips/)", DataError)
        from langlab.corpus import find_locales
        find_locales(data, tsv=config.corpus.tsv, locales=config.corpus.locales)  # early
    return config, data, seed_tuple, cond_tuple


def run_experiment(preset: str = "smoke", *, data_dir: str | os.PathLike | None = None,
                   out: str | os.PathLike | None = None, seeds: int | None = None,
                   conditions: Sequence[str] | None = None, scheduler: str | None = None,
                   n_jobs: int | None = None, store: Store | str | os.PathLike | None = None,
                   progress: bool = True, scheduler_timeout: float = SCHEDULER_TIMEOUT) -> RunSummary:
    """Run the whole experiment of the book and write its results into ``out``.

    Parameters
    ----------
    preset : {"smoke", "book", "paper"}
        Stage configurations (:mod:`langlab.presets`).
    data_dir : path, optional
        A Common Voice download (``<locale>/validated.tsv``, ``<locale>/clips/``); without it the
        embedded synthetic corpus of the preset is generated and used (Chapter 1).
    out : path, optional
        Output folder (default ``langlab-results/<preset>``). It keeps a ``run.json`` naming the
        preset and configuration; a folder holding another configuration's results is refused.
    seeds : int, optional
        Number of seeds (``0 .. seeds-1``) per condition; default: the preset's.
    conditions : sequence of str, optional
        Pre-training conditions (a subset of :data:`langlab.training.CONDITIONS`); default: all.
    scheduler : str, optional
        Address of a ``dask.distributed`` scheduler (``tcp://host:8786``): the independent units
        run on its workers through joblib's Dask backend. Workers must share the store folder.
    n_jobs : int, optional
        Parallel units: local joblib workers (``-1``: one a core); default 2 locally and every
        worker of the cluster with ``scheduler``.
    store : Store or path, optional
        The artifact store (default ``$LANGLAB_HOME/store``), shared with the book.
    progress : bool
        Show a tqdm bar per stage on stderr.

    Returns
    -------
    RunSummary
        What ran, what was reused from the store, what was skipped and why, seconds per stage.
    """
    started = time.perf_counter()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ log lines, also in workers
    config, data, seed_tuple, cond_tuple = resolve(preset, data_dir=data_dir, seeds=seeds,
                                                   conditions=conditions)
    if n_jobs is None:
        n_jobs = -1 if scheduler else 2
    check(isinstance(n_jobs, int) and (n_jobs >= 1 or n_jobs == -1),
          f"--jobs must be a whole number >= 1 (or -1 for all cores), got {n_jobs!r}")
    out_dir = Path(out) if out is not None else default_out(preset)
    info = run_info(config, data_dir=data, seeds=seed_tuple, conditions=cond_tuple)
    check_out(out_dir, info)
    root = store.root if isinstance(store, Store) else store
    recording = RecordingStore(root)
    reports: list[StageReport] = []
    ctx = _Context(config, data, seed_tuple, cond_tuple, recording,
                   n_jobs=n_jobs, progress=progress)
    with _backend(scheduler, store=recording, data_dir=data, timeout=scheduler_timeout):
        done: set[str] = set()
        for i, stage in enumerate(STAGES, 1):
            reports.append(_run_stage(ctx, stage, label=f"[{i}/{len(STAGES)}] {stage.name}", done=done))
            if reports[-1].status == "done":
                done.add(stage.name)
            if stage.name == "corpus" and reports[-1].status == "done":
                out_dir.mkdir(parents=True, exist_ok=True)
                # Claim the folder as soon as the data is known to be good.
                atomic_write_json(out_dir / RUN_FILE, {**info, "complete": False})
    seconds = time.perf_counter() - started
    timings = {"seconds": round(seconds, 3), "n_jobs": ctx.n_jobs, "scheduler": scheduler,
               "stages": [r.as_dict() for r in reports], **ctx.timings}
    files = write_results(out_dir, ctx.tables, info, timings=timings)
    return RunSummary(preset, out_dir, reports, sorted(files), seconds, ctx.n_jobs, scheduler)
