"""The sharded, resumable computation of one feature entry (Chapter 2).

:func:`langlab.features.extract` creates the store entry; :func:`compute` fills it. Work is done
in shards of ``shard_size`` clips by joblib worker processes (no backend is forced, so
``joblib.parallel_config(backend="dask")`` sends them to a Dask cluster). Each finished shard is
saved atomically in the entry's ``partial()`` folder (its JSON file written last marks it done),
so an interrupted extraction resumes where it stopped. When every shard is there, they are
assembled into the entry: ``S_db.npy`` (float32 [n_clips, n_mels, n_frames]), ``table.csv`` (one
row per clip, aligned with ``S_db``), ``skipped.csv`` and the manifest (config, clip list,
skipped clips with reasons, timings), byte-identical to an uninterrupted run whatever the
number of workers.
"""
from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from langlab.dsp import check_audio, lowpass_sos, mel_filterbank, waveform_features
from langlab.errors import DataError, LanglabError, ParameterError, check
from langlab.store import atomic_save_npy, atomic_write_json, stable_hash

if TYPE_CHECKING:
    from langlab.features import FeatureConfig

__all__ = ["FEATURE_COLUMNS", "table_source", "selection_id", "compute", "read_table"]

#: Columns :func:`compute` adds to the clip table (from :func:`langlab.dsp.waveform_features`).
FEATURE_COLUMNS = ("padding_fraction", "silent_fraction", "is_silent", "ref_db", "peak_db")
#: Clips a worker turns into spectrograms at once (a constant: results must not depend on timing).
_CLIPS_PER_BATCH = 8


def _load_clip(path: str, config: FeatureConfig) -> tuple[np.ndarray, int]:
    from langlab import audio

    y = audio.load_audio(path, sr=config.sr, duration=config.duration)
    try:
        check_audio(y, name="decoded audio")
    except ParameterError as exc:
        raise audio.AudioError(path, str(exc).replace("decoded audio ", "the decoded audio ")) from None
    y, n_padded = audio.fix_length(y, n_samples=config.n_samples)
    return y, config.n_samples - n_padded


def _extract_shard(paths: Sequence[str], config: FeatureConfig, fb: np.ndarray, sos: np.ndarray | None
                   ) -> tuple[np.ndarray, dict]:
    """Worker: spectrograms of the decodable clips of one shard, plus per-clip info."""
    from langlab import audio

    started = time.perf_counter()
    ys, n_real, ok, errors = [], [], [], []
    for i, path in enumerate(paths):
        try:
            y, n = _load_clip(path, config)
        except audio.AudioError as exc:
            errors.append([i, exc.reason])
            continue
        except LanglabError as exc:
            errors.append([i, str(exc)])
            continue
        ys.append(y)
        n_real.append(n)
        ok.append(i)
    loaded = time.perf_counter()
    if ys:
        from threadpoolctl import threadpool_limits

        S_db = np.empty((len(ys), config.n_mels, config.n_frames), dtype=np.float32)
        infos = []
        with threadpool_limits(limits=1):  # one BLAS thread: the same bits whatever the worker count
            for j in range(0, len(ys), _CLIPS_PER_BATCH):  # small batches: arrays stay small, memory is reused
                S_db[j:j + _CLIPS_PER_BATCH], part = waveform_features(
                    np.stack(ys[j:j + _CLIPS_PER_BATCH]), config=config, n_real=n_real[j:j + _CLIPS_PER_BATCH],
                    _fb=fb, _sos=sos)
                infos.append(part)
        info = pd.concat(infos, ignore_index=True)
    else:
        S_db = np.zeros((0, config.n_mels, config.n_frames), dtype=np.float32)
        info = pd.DataFrame({c: [] for c in FEATURE_COLUMNS})
    done = time.perf_counter()
    meta = {"rows": ok, "errors": errors, "info": {c: info[c].tolist() for c in FEATURE_COLUMNS},
            "load_seconds": loaded - started, "compute_seconds": done - loaded}
    return S_db, meta


def table_source(clips_or_table) -> tuple[pd.DataFrame, Path | None, list[str], pd.DataFrame]:
    """(table, root, inputs, upstream skipped) of a Clips or a plain DataFrame."""
    if isinstance(clips_or_table, pd.DataFrame):
        table = clips_or_table
        check("path" in table.columns, "the clip table needs a 'path' column of audio files")
        return table.reset_index(drop=True), None, [], pd.DataFrame(columns=["path", "reason"])
    table = getattr(clips_or_table, "table", None)
    check(isinstance(table, pd.DataFrame) and "path" in table.columns,
          f"clips must be corpus.Clips or a DataFrame with a 'path' column, got {type(clips_or_table).__name__}")
    skipped = getattr(clips_or_table, "skipped", None)
    skipped = skipped[["path", "reason"]] if isinstance(skipped, pd.DataFrame) and len(skipped) \
        else pd.DataFrame(columns=["path", "reason"])
    root = getattr(clips_or_table, "root", None)
    return table.reset_index(drop=True), (Path(root) if root is not None else None), \
        [str(clips_or_table.key)], skipped


def _rel(path: str, root: Path | None) -> str:
    if root is None:
        return str(path)
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


def selection_id(table: pd.DataFrame, root: Path | None) -> dict:
    """What identifies the selected clips: their paths (relative to the corpus root), plus file
    sizes and times when there is no corpus key to vouch for them."""
    rel = [_rel(p, root) for p in table["path"]]
    if root is not None:
        return {"clips": stable_hash(rel, 32), "n": len(rel)}
    stats = []
    for p in table["path"]:
        try:
            st = os.stat(p)
            stats.append([str(p), st.st_size, st.st_mtime_ns])
        except OSError:
            stats.append([str(p), -1, -1])
    return {"clips": stable_hash(stats, 32), "n": len(rel)}


def _column_types(table: pd.DataFrame) -> dict[str, str]:
    kinds = {}
    for col in table.columns:
        dtype = table[col].dtype
        if pd.api.types.is_bool_dtype(dtype):
            kinds[col] = "bool"
        elif pd.api.types.is_integer_dtype(dtype):
            kinds[col] = "int64"
        elif pd.api.types.is_float_dtype(dtype):
            kinds[col] = "float64"
        else:
            kinds[col] = "str"
    return kinds


def read_table(file: Path, kinds: dict[str, str]) -> pd.DataFrame:
    """A CSV of the entry, every column read as text, then ``kinds`` (``{column: "bool" | "int64" |
    "float64" | "str"}``, as written in the manifest's ``columns``) restored."""
    df = pd.read_csv(file, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8")
    for col, kind in kinds.items():
        if col not in df:
            continue
        if kind == "bool":
            df[col] = df[col].map({"True": True, "False": False}).astype(bool)
        elif kind == "int64":
            df[col] = df[col].astype(np.int64)
        elif kind == "float64":
            df[col] = pd.to_numeric(df[col].replace("", "nan"), errors="coerce").astype(np.float64)
    return df


def _write_csv(file: Path, df: pd.DataFrame) -> None:
    df.to_csv(file, index=False, lineterminator="\n", encoding="utf-8")


def _layout(n_clips: int, selection: dict, shard_size: int) -> dict:
    return {"shard_size": shard_size, "n_clips": n_clips, "selection": selection}


def _shard_files(partial: Path, i: int) -> tuple[Path, Path]:
    return partial / f"shard_{i:05d}.npy", partial / f"shard_{i:05d}.json"


def _shard_done(partial: Path, i: int) -> bool:
    npy, meta = _shard_files(partial, i)
    return npy.exists() and meta.exists()  # meta is written last



class _ShardsGone(Exception):
    """Pieces vanished while assembling: another process finished the same entry (or cleaned up)."""


def compute(entry, table: pd.DataFrame, root: Path | None, config: FeatureConfig, selection: dict, *,
            shard_size: int, n_jobs: int, progress: bool, upstream_skipped: pd.DataFrame) -> None:
    """Compute the missing shards of ``entry``, then assemble it. Several processes may compute the
    same entry at once: pieces are written atomically and the first complete entry wins.

    Parameters
    ----------
    entry : langlab.store.Entry
        The entry to fill (stage ``"features"``).
    table : pandas.DataFrame
        The clip table (a ``path`` column of audio files), index 0..n-1.
    root : Path or None
        Corpus root: stored clip paths are relative to it.
    config : FeatureConfig
    selection : dict
        What identifies the clips (:func:`selection_id`); a partial folder of another selection
        or shard size is started over.
    shard_size : int
        Clips per shard.
    n_jobs : int
        Worker processes.
    progress : bool
        A progress bar over shards on stderr.
    upstream_skipped : pandas.DataFrame
        ``path``, ``reason``: clips the corpus reader left out, kept in the manifest.
    """
    for _ in range(3):
        if entry.exists():
            return
        resumed, seconds = _compute_shards(entry, table, config, selection, shard_size=shard_size,
                                           n_jobs=n_jobs, progress=progress)
        if entry.exists():
            break
        try:
            _assemble(entry, table, root, config, shard_size=shard_size, resumed=resumed, seconds=seconds,
                      n_jobs=n_jobs, upstream_skipped=upstream_skipped)
            return
        except _ShardsGone:
            continue
    if entry.exists():
        import shutil

        shutil.rmtree(entry.path.parent / f"{entry.key}.partial", ignore_errors=True)
        return
    raise DataError(f"could not assemble feature entry {entry.path}: its pieces in {entry.key}.partial "
                    "keep disappearing (another process deleting them?)")


def _compute_shards(entry, table: pd.DataFrame, config: FeatureConfig, selection: dict, *, shard_size: int,
                    n_jobs: int, progress: bool) -> tuple[int, float]:
    """Compute the shards not yet in ``entry.partial()``; returns (shards found done, seconds)."""
    import json

    import joblib
    from tqdm.auto import tqdm

    started = time.perf_counter()
    paths = [str(p) for p in table["path"]]
    n_shards = math.ceil(len(paths) / shard_size)
    partial = entry.partial()
    layout = json.loads(json.dumps(_layout(len(paths), selection, shard_size)))
    layout_file = partial / "layout.json"
    if layout_file.exists():
        try:
            same = json.loads(layout_file.read_text()) == layout
        except (ValueError, OSError):
            same = False
        if not same:  # pieces of a different sharding: start over
            for f in partial.iterdir():
                f.unlink(missing_ok=True)
    atomic_write_json(layout_file, layout)
    todo = [i for i in range(n_shards) if not _shard_done(partial, i)]
    resumed = n_shards - len(todo)
    fb = mel_filterbank(config=config)
    sos = None if config.lowpass_hz is None else lowpass_sos(sr=config.sr, cutoff_hz=config.lowpass_hz,
                                                             order=config.lowpass_order)
    jobs = 1 if len(todo) <= 1 else n_jobs
    tasks = (joblib.delayed(_extract_shard)(paths[i * shard_size:(i + 1) * shard_size], config, fb, sos)
             for i in todo)
    with tqdm(total=n_shards, initial=resumed, desc=f"features ({len(paths)} clips)", unit="shard",
              disable=not progress, file=sys.stderr) as bar:
        results = joblib.Parallel(n_jobs=jobs, prefer="processes", return_as="generator")(tasks)
        for i, (S_db, meta) in zip(todo, results):
            npy, meta_file = _shard_files(partial, i)
            atomic_save_npy(npy, S_db)
            atomic_write_json(meta_file, meta)  # written last: marks the shard done
            bar.update(1)
            if entry.exists():  # another process finished the same entry meanwhile
                break
    return resumed, time.perf_counter() - started


def _assemble(entry, table: pd.DataFrame, root: Path | None, config: FeatureConfig, *, shard_size: int, resumed: int,
              seconds: float, n_jobs: int, upstream_skipped: pd.DataFrame) -> None:
    """Write the entry (one array, the table, the manifest) from the finished shards."""
    paths = [str(p) for p in table["path"]]
    n_shards = math.ceil(len(paths) / shard_size)
    partial = entry.path.parent / f"{entry.key}.partial"
    computed = seconds

    def fill(tmp: Path) -> dict:
        import json

        try:
            metas = [json.loads(_shard_files(partial, i)[1].read_text()) for i in range(n_shards)]
        except FileNotFoundError as exc:
            raise _ShardsGone(str(exc)) from None
        n_ok = sum(len(m["rows"]) for m in metas)
        out = np.lib.format.open_memmap(tmp / "S_db.npy", mode="w+", dtype=np.float32,
                                        shape=(n_ok, config.n_mels, config.n_frames))
        rows, info, skipped, at = [], {c: [] for c in FEATURE_COLUMNS}, [], 0
        lo_hi = [np.inf, -np.inf]
        for i, meta in enumerate(metas):
            try:
                S = np.load(_shard_files(partial, i)[0])
            except FileNotFoundError as exc:
                raise _ShardsGone(str(exc)) from None
            out[at: at + len(S)] = S
            at += len(S)
            base = i * shard_size
            rows += [base + r for r in meta["rows"]]
            for c in FEATURE_COLUMNS:
                info[c] += meta["info"][c]
            skipped += [{"path": paths[base + r], "reason": reason} for r, reason in meta["errors"]]
        out.flush()
        del out
        ft = table.iloc[rows].reset_index(drop=True)
        if root is not None:
            ft["path"] = [_rel(p, root) for p in ft["path"]]
        for c in FEATURE_COLUMNS:
            ft[c] = info[c]
        ft = ft.astype({"padding_fraction": np.float64, "silent_fraction": np.float64, "is_silent": bool,
                        "ref_db": np.float64, "peak_db": np.float64})
        _write_csv(tmp / "table.csv", ft)
        sk = pd.DataFrame(skipped, columns=["path", "reason"])
        _write_csv(tmp / "skipped.csv", sk.assign(path=[_rel(p, root) for p in sk["path"]]))
        if len(ft):
            peak = float(ft["peak_db"].max())
            lo_hi = [peak - float(config.top_db or 80.0), peak]
        load_s = sum(m["load_seconds"] for m in metas)
        compute_s = sum(m["compute_seconds"] for m in metas)
        return {
            "root": None if root is None else str(root),
            "n_clips": n_ok, "shape": [n_ok, config.n_mels, config.n_frames], "dtype": "float32",
            "columns": _column_types(ft),
            "clips": list(ft["path"]),
            "skipped": sk.to_dict(orient="records"),
            "upstream_skipped": upstream_skipped.assign(
                path=[_rel(str(p), root) for p in upstream_skipped["path"]]).to_dict(orient="records"),
            "n_silent": int(ft["is_silent"].sum()) if len(ft) else 0,
            "db_range": lo_hi if len(ft) else None,
            "shard_size": shard_size, "n_shards": n_shards, "shards_resumed": resumed,
            "n_jobs": n_jobs,
            "timings": {"extract_seconds": round(computed, 3),
                        "worker_load_seconds": round(load_s, 3),
                        "worker_compute_seconds": round(compute_s, 3),
                        "clips_per_second": round(len(paths) / computed, 1) if computed > 0 else None},
        }

    band = "full band" if config.lowpass_hz is None else f"low-passed at {config.lowpass_hz:g} Hz"
    entry.write(fill, description=f"mel spectrograms ({config.n_mels} x {config.n_frames}, {band}) "
                                  f"of {len(paths)} clips")
