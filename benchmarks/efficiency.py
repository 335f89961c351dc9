"""Benchmark ``training efficiency``: each model's training step against this machine's
one-thread matrix-multiply rate, and against today's layer stacks (issue 18).

In one process with one thread (OpenBLAS and TensorFlow): the float32 GEMM rate of numpy
(``2048 x 2048`` by ``2048 x 2048``), then, for the next-frame LSTM and the autoencoder at the
``book`` and ``paper`` presets' sizes, training steps of the package's model and of the layer
stack it replaced (``baseline_models.py``), in turns, each side's best of ``--repeat`` timings.
FLOPs per step come from :mod:`langlab.flops` (the layer shapes; the same count for both sides,
so the GFLOP/s of a side is its effective rate). Both sides start from the same seeded weights;
their first training losses must agree before any speed is reported. One line per model and
size::

    autoencoder paper: 41% of GEMM peak (38.5 GFLOP/s vs 94.0 GFLOP/s); baseline 19% ...

The paper-size autoencoder runs a tenth of its batch per step (as the Real-data appendix does).

Run alone with ``.venv/bin/python benchmarks/efficiency.py [--repeat R] [--only lstm|autoencoder]``;
``benchmarks/run.py`` prints its lines (through a subprocess that has one thread, at least 5
timings per side: the machine may be shared).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def gemm_rate(*, n: int = 2048, repeat: int = 3) -> float:
    """Best float32 GFLOP/s of numpy's ``n x n`` matrix product (this process's BLAS threads)."""
    import numpy as np

    from langlab.flops import gemm_flops

    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    a @ b
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return gemm_flops(n) / best / 1e9


def _cases(only: str | None):
    """``(name, build ours, build baseline, x, y, flops per step, steps per timing)``."""
    import numpy as np

    import baseline_models
    from langlab import autoencoder, flops, models
    from langlab.presets import get_preset

    rng = np.random.default_rng(0)
    cases = []
    for preset in ("book", "paper"):
        F, L = get_preset(preset).features, get_preset(preset).lstm
        T = L.window - L.shift
        x = rng.random((L.batch_size, T, F.n_mels), dtype=np.float32)
        y = rng.random((L.batch_size, T, F.n_mels), dtype=np.float32)
        count = flops.step_flops(flops.lstm_layers(n_mels=F.n_mels, units=L.units, time_steps=T,
                                                   batch=L.batch_size))
        kwargs = dict(n_mels=F.n_mels, units=L.units, learning_rate=L.learning_rate,
                      decay_steps=L.decay_steps, decay_rate=L.decay_rate, seed=0)
        cases.append((f"LSTM {preset}", lambda kw=kwargs: models.build_next_frame_lstm(**kw),
                      lambda kw=kwargs: baseline_models.baseline_lstm(**kw), x, y, count,
                      10 if preset == "book" else 2, f"{L.batch_size}-segment"))
    for preset in ("book", "paper"):
        F, A = get_preset(preset).features, get_preset(preset).autoencoder
        batch = A.batch_size if preset == "book" else A.batch_size // 10
        S = rng.random((batch, F.n_mels, F.n_frames), dtype=np.float32)
        count = flops.step_flops(flops.autoencoder_layers(
            n_mels=F.n_mels, n_frames=F.n_frames, filters=A.filters, kernel_size=A.kernel_size,
            latent_dim=A.latent_dim, batch=batch))
        kwargs = dict(n_mels=F.n_mels, n_frames=F.n_frames, filters=A.filters, kernel_size=A.kernel_size,
                      latent_dim=A.latent_dim, learning_rate=A.learning_rate, seed=0)
        cases.append((f"autoencoder {preset}", lambda kw=kwargs: autoencoder.build_autoencoder(**kw),
                      lambda kw=kwargs: baseline_models.baseline_autoencoder(**kw), S, S, count,
                      10 if preset == "book" else 1, f"{batch}-clip"))
    return [c for c in cases if only is None or only.lower() in c[0].lower()]


def measure(*, repeat: int = 2, only: str | None = None) -> list[str]:
    """The benchmark's lines (see the module docstring); needs one thread set up already."""
    import numpy as np

    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    peak = gemm_rate()
    lines = []
    for name, build_ours, build_base, x, y, count, steps, unit in _cases(only):
        sides = {"ours": build_ours(), "baseline": build_base()}
        first = {side: float(model.train_on_batch(x, y)) for side, model in sides.items()}  # traces
        if not np.isclose(first["ours"], first["baseline"], rtol=1e-3):
            raise RuntimeError(f"{name}: first training losses differ: {first}")
        best = {side: float("inf") for side in sides}
        for _ in range(repeat):
            for side, model in sides.items():
                started = time.perf_counter()
                for _ in range(steps):
                    model.train_on_batch(x, y)
                best[side] = min(best[side], (time.perf_counter() - started) / steps)
        peak = max(peak, gemm_rate(repeat=1))
        rate = {side: count / seconds / 1e9 for side, seconds in best.items()}
        lines.append(
            f"{name}: {100 * rate['ours'] / peak:.0f}% of GEMM peak ({rate['ours']:.1f} GFLOP/s vs "
            f"{peak:.1f} GFLOP/s); baseline {100 * rate['baseline'] / peak:.0f}% "
            f"({rate['baseline']:.1f} GFLOP/s); step rate {best['baseline'] / best['ours']:.2f}x "
            f"(ours {best['ours'] * 1e3:.0f} ms vs baseline {best['baseline'] * 1e3:.0f} ms per "
            f"{unit} step, {count / 1e9:.2f} GFLOP)")
        del sides
    return lines


def training_efficiency(ctx=None) -> str:
    """``benchmarks/run.py``'s comparison: :func:`measure` in a subprocess with one thread."""
    repeat = max(5, getattr(ctx, "repeat", 2) or 2)
    env = {**os.environ, **ONE_THREAD}
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--repeat", str(repeat)],
                          env=env, capture_output=True, text=True, cwd=str(ROOT))
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks/efficiency.py failed:\n{done.stderr[-3000:]}")
    lines = done.stdout.strip().splitlines()
    if ctx is not None and hasattr(ctx, "results"):
        ctx.results["efficiency"] = lines
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timings per side, in turns; the best counts")
    parser.add_argument("--only", default=None, help="only the models whose name contains this")
    args = parser.parse_args(argv)
    missing = {k: v for k, v in ONE_THREAD.items() if os.environ.get(k) != v}
    if missing:  # thread settings must be in place before numpy and TensorFlow load
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **ONE_THREAD})
    for text in measure(repeat=max(1, args.repeat), only=args.only):
        print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
