"""Benchmark ``experiment fan-out``: wall time of the whole smoke experiment (``langlab run``)
with 2 local joblib workers against 1, each on a fresh, empty store (so both compute everything:
corpus, features, every (condition, seed) training, probes).

Run alone with ``.venv/bin/python benchmarks/fanout.py``; ``benchmarks/run.py`` prints its line.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_seconds(*, n_jobs: int, preset: str = "smoke") -> float:
    """Wall-clock seconds of ``langlab run --preset PRESET --n-jobs N`` on a fresh store."""
    with tempfile.TemporaryDirectory(prefix=f"langlab-fanout-{n_jobs}-") as tmp:
        env = {**os.environ, "LANGLAB_HOME": str(Path(tmp) / "home"), "TF_CPP_MIN_LOG_LEVEL": "2"}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "langlab.cli", "run", "--preset", preset,
                               "--n-jobs", str(n_jobs), "--out", str(Path(tmp) / "out"), "--quiet"],
                              env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"langlab run --n-jobs {n_jobs} failed:\n{done.stderr[-2000:]}")
    return seconds


def experiment_fanout(*, preset: str = "smoke") -> str:
    """The line ``experiment fan-out: <ratio>x (2 workers Ns vs 1 worker Ms)``."""
    one = run_seconds(n_jobs=1, preset=preset)
    two = run_seconds(n_jobs=2, preset=preset)
    return (f"experiment fan-out: {one / two:.2f}x (2 workers {two:.0f} s vs 1 worker {one:.0f} s, "
            f"langlab run --preset {preset}, fresh store each)")


if __name__ == "__main__":
    print(experiment_fanout())
