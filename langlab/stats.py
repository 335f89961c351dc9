"""Small statistics used across chapters: confidence intervals over seeds (Chapters 3-5)."""
from __future__ import annotations

import numpy as np
from scipy import stats as _st

from langlab.errors import ParameterError


def mean_ci(values, *, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval ``(mean, low, high)`` of ``values`` (e.g. one per seed).

    With one value the interval is ``(nan, nan)``: one run gives no spread.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ParameterError("mean_ci needs at least one finite value, got none")
    if not 0 < confidence < 1:
        raise ParameterError(f"confidence must lie in (0, 1), got {confidence}")
    mean = float(x.mean())
    if x.size == 1:
        return mean, float("nan"), float("nan")
    half = float(_st.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return mean, mean - half, mean + half


def bootstrap_ci(values, *, statistic=np.mean, confidence: float = 0.95, n_resamples: int = 10_000,
                 seed: int = 0) -> tuple[float, float, float]:
    """Statistic and percentile-bootstrap interval ``(value, low, high)``, seeded."""
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        raise ParameterError(f"bootstrap_ci needs at least 2 values, got {x.size}")
    rng = np.random.default_rng(seed)
    resampled = statistic(x[rng.integers(0, x.size, size=(n_resamples, x.size))], axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(resampled, [alpha, 1 - alpha])
    return float(statistic(x)), float(low), float(high)
