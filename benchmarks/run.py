"""Side-by-side speed comparisons against the original study's approach (``make bench``).

Each comparison is a function in :data:`COMPARISONS` that takes the shared :class:`Context`
(the same clips for everybody) and returns one line of the form::

    mel extraction: 4.8x (ours 205 clips/s vs baseline 43 clips/s)

Both sides run in this process on the same clips, each warmed up first (librosa's numba
functions compile on first use; joblib's worker processes start on first use), in turns, and
each side's best of ``--repeat`` runs counts (the machine may be shared). Each comparison
checks that both sides computed the same numbers before it reports a speed.

- ``mel extraction``: :func:`langlab.features.extract` with the paper preset low-passed at
  500 Hz (2 worker processes, shards written to a fresh store) against the original per-clip
  loop (:func:`original.original_mel_loop` over :func:`original.original_mel`, a faithful
  re-implementation of the original's code, in ``benchmarks/original.py``).
- ``dataset assembly``: loading stored spectrograms (the paper preset's 128 x 216, of every
  usable clip of the book corpus) into one training array (memory-mapped ``S_db.npy``,
  per-clip min-max scaling, frames concatenated along time) against the original's growing
  pandas DataFrame (:func:`original.original_assembly`), which copies everything it holds at every
  append and so slows down with the number of clips.

Run ``.venv/bin/python benchmarks/run.py [--clips N] [--repeat R] [--only NAME]``. Add a comparison by
appending a function to :data:`COMPARISONS`.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from original import original_assembly, original_mel_loop  # noqa: E402  (benchmarks/original.py)


@dataclasses.dataclass
class Context:
    """What the comparisons share: the clip paths, a scratch folder, results passed along."""

    n_clips: int = 256
    n_jobs: int = 2
    repeat: int = 2
    workdir: Path = dataclasses.field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="langlab-bench-")))
    _clips: list[str] | None = None
    results: dict = dataclasses.field(default_factory=dict)

    def all_clips(self) -> list[str]:
        """Every usable clip (role other than ``unused``) of the book's embedded corpus, the
        three languages interleaved so that every shard holds all of them."""
        if self._clips is None:
            from langlab import corpus

            table = corpus.prepare("book").table
            table = table[table["role"] != "unused"]
            order = table.groupby("locale").cumcount().sort_values(kind="stable").index
            self._clips = table.loc[order, "path"].tolist()
        return self._clips

    def clips(self) -> list[str]:
        """8 clips for warm-up, then ``n_clips`` clips to time."""
        paths = self.all_clips()
        if len(paths) < self.n_clips + 8:
            raise SystemExit(f"the book corpus has only {len(paths)} usable clips; use --clips "
                             f"{len(paths) - 8} or fewer")
        return paths[: self.n_clips + 8]


def line(name: str, ours: float, baseline: float, unit: str = "clips/s") -> str:
    """``name: <ratio>x (ours <a> <unit> vs baseline <b> <unit>)``."""
    return f"{name}: {ours / baseline:.1f}x (ours {ours:.0f} {unit} vs baseline {baseline:.0f} {unit})"


# --------------------------------------------------------------------------------------------
# Comparisons
# --------------------------------------------------------------------------------------------
def _paper_lowpass():
    from langlab import features

    return features.PRESETS["paper"].with_lowpass(features.PAPER_LOWPASS_HZ)


def mel_extraction(ctx: Context) -> str:
    """Ours: ``features.extract`` (paper preset, 500 Hz low-pass, ``n_jobs`` workers, a fresh
    store each time); baseline: :func:`original_mel_loop`. Same clips; both warmed up on
    others; each side's best of ``ctx.repeat`` runs, taken in turns."""
    from langlab import features
    from langlab.store import Store

    paths = ctx.clips()
    warm, timed = paths[:8], paths[8:]
    config = _paper_lowpass()
    original_mel_loop(warm[:3])  # numba compilation, file cache
    saved_shard = features.SHARD_SIZE
    try:
        features.SHARD_SIZE = 4  # warm-up: start the workers with two small shards
        features.extract(pd.DataFrame({"path": warm}), config=config, store=Store(ctx.workdir / "warm"),
                         n_jobs=ctx.n_jobs, progress=False)
    finally:
        features.SHARD_SIZE = saved_shard
    t_base, t_ours = [], []
    for k in range(ctx.repeat):
        started = time.perf_counter()
        baseline = original_mel_loop(timed)
        t_base.append(time.perf_counter() - started)
        started = time.perf_counter()
        fs = features.extract(pd.DataFrame({"path": timed}), config=config, store=Store(ctx.workdir / f"mel{k}"),
                              n_jobs=ctx.n_jobs, progress=False)
        t_ours.append(time.perf_counter() - started)

    ours_scaled = fs.scaled()
    base_scaled = np.stack([(S - S.min()) / (S.max() - S.min()) for S in baseline]).astype(np.float32)
    diff = float(np.abs(ours_scaled - base_scaled).max())
    if diff > 1e-3:
        raise RuntimeError(f"mel extraction: ours and the original differ by {diff:.3g} after scaling")
    ctx.results["mel"] = {"ours_seconds": t_ours, "baseline_seconds": t_base, "max_abs_diff": diff}
    return line("mel extraction", len(timed) / min(t_ours), len(timed) / min(t_base))


def dataset_assembly(ctx: Context) -> str:
    """Ours: load a stored feature entry (paper preset: 128 x 216 spectrograms of every usable
    clip of the book corpus, memory-mapped) and build the training array of scaled frames;
    baseline: :func:`original_assembly` on the same spectrograms, handed to it in memory."""
    from langlab import features
    from langlab.store import Store

    paths = ctx.all_clips()
    fs = features.extract(pd.DataFrame({"path": paths}), config=features.PRESETS["paper"],
                          store=Store(ctx.workdir / "store"), n_jobs=ctx.n_jobs, progress=False)
    spectrograms = [np.array(S) for S in fs.S_db]
    original_assembly(spectrograms[:4])
    features.load(fs.path).scaled(time_major=True)  # warm-up (imports, page cache)
    t_base, t_ours = [], []
    for _ in range(ctx.repeat):
        started = time.perf_counter()
        base = original_assembly(spectrograms)
        t_base.append(time.perf_counter() - started)
        started = time.perf_counter()
        ours = features.load(fs.path).scaled(time_major=True).reshape(-1, fs.config.n_mels)
        t_ours.append(time.perf_counter() - started)
    if ours.shape != base.shape or not np.allclose(ours, base, atol=1e-6):
        raise RuntimeError("dataset assembly: ours and the original's arrays differ")
    n = len(spectrograms)
    ctx.results["assembly"] = {"ours_seconds": t_ours, "baseline_seconds": t_base, "n_clips": n,
                               "shape": list(fs.S_db.shape)}
    return line("dataset assembly", n / min(t_ours), n / min(t_base))


from fanout import experiment_fanout  # noqa: E402  (benchmarks/fanout.py: `langlab run`, issue 9)
from efficiency import training_efficiency  # noqa: E402  (benchmarks/efficiency.py, issue 18)

#: The comparisons ``run.py`` prints, in order: functions ``Context -> str`` (one line each).
COMPARISONS: list[Callable[[Context], str]] = [mel_extraction, dataset_assembly, experiment_fanout,
                                               training_efficiency]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=256, help="clips per comparison (default 256)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for ours (default 2)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per side; the best counts (default 2)")
    parser.add_argument("--only", default=None, help="run only the comparisons whose name contains this")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    ctx = Context(n_clips=args.clips, n_jobs=args.jobs, repeat=max(1, args.repeat))
    try:
        for comparison in COMPARISONS:
            if args.only and args.only.replace(" ", "_") not in comparison.__name__:
                continue
            print(comparison(ctx), flush=True)
    finally:
        import shutil

        shutil.rmtree(ctx.workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
