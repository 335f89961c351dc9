"""Benchmark ``experiment fan-out``: wall time of the whole smoke experiment (``langlab run``)
with 2 local joblib workers against 1, each on a fresh, empty store (so both compute everything:
corpus, features, every (condition, seed) training, probes).

Run alone with ``.venv/bin/python benchmarks/fanout.py [PRESET]``; ``benchmarks/run.py`` prints
its line. On the smoke preset every unit is a second or two of compute, so the fixed cost of a
worker process (starting it, importing TensorFlow, tracing the graphs once more) dominates and
one worker wins; the fan-out pays off when units are long (book, paper). Both runs train every
unit in worker processes with the preset's fixed TensorFlow thread count
(:func:`langlab.runs.compute`), so their results files are identical byte for byte.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_seconds(*, n_jobs: int, preset: str = "smoke") -> tuple[float, dict[str, bytes]]:
    """Wall-clock seconds of ``langlab run --preset PRESET --jobs N`` on a fresh store, and
    the results files it wrote (``{file name: bytes}``, all but the wall-clock ``timings.json``)."""
    with tempfile.TemporaryDirectory(prefix=f"langlab-fanout-{n_jobs}-") as tmp:
        env = {**os.environ, "LANGLAB_HOME": str(Path(tmp) / "home"), "TF_CPP_MIN_LOG_LEVEL": "2"}
        out = Path(tmp) / "out"
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "langlab.cli", "run", "--preset", preset,
                               "--jobs", str(n_jobs), "--out", str(out), "--quiet"],
                              env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"langlab run --jobs {n_jobs} failed:\n{done.stderr[-2000:]}")
        tables = {p.name: p.read_bytes() for p in sorted(out.iterdir())
                  if p.is_file() and p.name != "timings.json"}  # every results file, as bytes
    return seconds, tables


def experiment_fanout(ctx=None, *, preset: str = "smoke") -> str:
    """The line ``experiment fan-out: <ratio>x (2 workers Ns vs 1 worker Ms)``.

    ``ctx`` is ``benchmarks/run.py``'s shared Context (its ``n_jobs``, default 2, is the number
    of workers compared with 1); the comparison needs nothing else from it. Also checks that
    both runs wrote the same results tables (the fan-out changes the speed, not the numbers).
    """
    workers = getattr(ctx, "n_jobs", 2) or 2
    one, tables_one = run_seconds(n_jobs=1, preset=preset)
    many, tables_many = run_seconds(n_jobs=workers, preset=preset)
    differ = sorted(n for n in set(tables_one) | set(tables_many)
                    if tables_one.get(n) != tables_many.get(n))
    same = "same results" if not differ else f"results differ in {', '.join(differ)}"
    if ctx is not None and hasattr(ctx, "results"):
        ctx.results["fanout"] = {"one_seconds": one, "many_seconds": many, "workers": workers,
                                 "same_results": tables_one == tables_many}
    return (f"experiment fan-out: {one / many:.2f}x ({workers} workers {many:.0f} s vs 1 worker "
            f"{one:.0f} s; langlab run --preset {preset}, fresh store each, {same})")


if __name__ == "__main__":
    print(experiment_fanout(preset=sys.argv[1] if len(sys.argv) > 1 else "smoke"))
