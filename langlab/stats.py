"""Small statistics used across chapters: confidence intervals over seeds (Chapters 3-5).

For a bootstrap interval use :func:`scipy.stats.bootstrap` (the Reproducibility appendix).
"""
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

