"""Paired comparisons over seeds: the effect, its interval, an exact test and the smallest
effect the design could detect (Chapter 6; Chapters 3-5 use it for their comparisons).

A seed fixes a run's initial weights and its Spanish batch order in every condition, so two
conditions' runs are *paired* by seed and their difference per seed is the unit of evidence:

- :func:`paired_effect`: for aligned ``a`` and ``b``, the mean of ``a - b`` with its Student-t
  interval, the Hodges-Lehmann estimate, the exact two-sided sign-flip permutation p and the
  minimum detectable effect (:func:`min_detectable`);
- :func:`paired_table`: one such row per pair of conditions of a results table, with Holm's
  adjustment over the pairs (one family of the analysis plan, :mod:`langlab.plan`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize as _opt
from scipy import stats as _st

from langlab.errors import check

#: Largest number of pairs for which the sign-flip p enumerates all ``2**n`` flips; above it,
#: :data:`N_RANDOM_FLIPS` seeded random flips (still deterministic).
EXACT_MAX = 22
N_RANDOM_FLIPS = 200_000


@dataclass(frozen=True)
class PairedEffect:
    """A paired comparison ``a - b`` (:func:`paired_effect`).

    ``n`` pairs; ``mean`` difference with its t-interval ``(low, high)``; ``hodges_lehmann``
    (median of the Walsh averages); ``p`` (exact sign-flip, two-sided); ``mde`` (the smallest
    ``|mean difference|`` detectable with the stated power, :func:`min_detectable`).
    """

    n: int
    mean: float
    low: float
    high: float
    hodges_lehmann: float
    p: float
    mde: float


def _level(value, name):
    check(isinstance(value, (int, float, np.floating)) and 0 < float(value) < 1,
          f"{name} must lie in (0, 1), got {value!r}")
    return float(value)


def sign_flip_p(d) -> float:
    """Two-sided sign-flip permutation p of the mean of the differences ``d``.

    Under "no difference" each difference's sign is a fair coin; p is the share of the ``2**n``
    sign patterns whose ``|sum|`` is at least the observed one (exact up to
    :data:`EXACT_MAX` pairs, else :data:`N_RANDOM_FLIPS` seeded random patterns). With
    every difference on one side, ``p = 2 / 2**n``: 5 seeds cannot go below 1/16.
    """
    d = np.asarray(d, dtype=float)
    observed = abs(d.sum())
    tol = 1e-9 * max(1.0, float(np.abs(d).sum()))
    if d.size <= EXACT_MAX:
        sums = np.zeros(1)
        for x in d:                      # all 2**n signed sums, doubling per difference
            sums = np.concatenate([sums + x, sums - x])
        return float(np.mean(np.abs(sums) >= observed - tol))
    rng = np.random.default_rng(0)
    signs = rng.choice([-1.0, 1.0], size=(N_RANDOM_FLIPS, d.size))
    hits = int(np.sum(np.abs(signs @ d) >= observed - tol))
    return (hits + 1) / (N_RANDOM_FLIPS + 1)


def hodges_lehmann(d) -> float:
    """The Hodges-Lehmann estimate of a paired shift: the median of the Walsh averages
    ``(d_i + d_j) / 2`` over ``i <= j``."""
    d = np.asarray(d, dtype=float)
    i, j = np.triu_indices(d.size)
    return float(np.median((d[i] + d[j]) / 2))


def t_power(effect: float, *, n: int, sd: float, alpha: float) -> float:
    """Power of the two-sided one-sample t-test of the differences at ``alpha`` for a true
    mean difference ``effect`` (the noncentral t distribution)."""
    df = n - 1
    crit = _st.t.ppf(1 - alpha / 2, df)
    nc = abs(effect) * np.sqrt(n) / sd
    return float(_st.nct.sf(crit, df, nc) + _st.nct.cdf(-crit, df, nc))


def min_detectable(*, n: int, sd: float, power: float = 0.8, alpha: float = 0.05) -> float:
    """The smallest ``|mean difference|`` detected with probability ``power`` by a two-sided
    paired test at ``alpha``, for ``n`` pairs whose differences have standard deviation ``sd``.

    Exact under normal differences: the noncentral-t power of the one-sample t-test
    (:func:`t_power`) solved for the effect. It is ``inf`` when the exact sign-flip test cannot
    reject at all (``2 / 2**n >= alpha``: 5 pairs or fewer at 0.05), NaN below 2 pairs, and 0
    when every difference is the same (``sd = 0``). It is a little larger than the normal-theory
    shortcut ``(t(1 - alpha/2) + t(power)) * sd / sqrt(n)``.
    """
    power, alpha = _level(power, "power"), _level(alpha, "alpha")
    if n < 2 or not np.isfinite(sd):
        return float("nan")
    if 2.0 / 2 ** n >= alpha:
        return float("inf")
    if sd == 0:
        return 0.0
    hi = 2 * mde_approx(n=n, sd=sd, power=power, alpha=alpha)   # power there is near 1
    return float(_opt.brentq(lambda e: t_power(e, n=n, sd=sd, alpha=alpha) - power, 0.0, hi,
                             xtol=1e-12 * sd, rtol=1e-10))


def mde_approx(*, n: int, sd: float, power: float = 0.8, alpha: float = 0.05) -> float:
    """The normal-theory shortcut ``(t(1 - alpha/2) + t(power)) * sd / sqrt(n)`` (df = n - 1)
    for :func:`min_detectable` (which solves the noncentral t exactly)."""
    df = n - 1
    return float((_st.t.ppf(1 - alpha / 2, df) + _st.t.ppf(power, df)) * sd / np.sqrt(n))


def paired_effect(a, b, *, confidence: float = 0.95, power: float = 0.8,
                  alpha: float = 0.05) -> PairedEffect:
    """The paired difference ``a - b`` over seeds: estimate, interval, exact test, sensitivity.

    Parameters
    ----------
    a, b : array-like or pd.Series
        One value per seed, aligned (same order). Two :class:`pandas.Series` are aligned by
        their index (the seeds); seeds in one but not the other are an error naming them.
    confidence : float
        Of the Student-t interval of the mean difference.
    power, alpha : float
        Of the minimum detectable effect (:func:`min_detectable`).

    Returns
    -------
    PairedEffect
        With fewer than 2 pairs the interval, p and mde are NaN.
    """
    confidence = _level(confidence, "confidence")
    _level(power, "power"), _level(alpha, "alpha")
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        only_a, only_b = a.index.difference(b.index), b.index.difference(a.index)
        check(not len(only_a) and not len(only_b),
              f"a and b must hold the same seeds: only in a {list(only_a)}, only in b {list(only_b)}")
        check(a.index.is_unique and b.index.is_unique,
              f"seeds repeat in a or b: {list(a.index[a.index.duplicated()])}"
              f"{list(b.index[b.index.duplicated()])}")
        b = b.loc[a.index]
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    check(xa.ndim == 1 and xb.ndim == 1, f"a and b must be 1-d, got shapes {xa.shape} and {xb.shape}")
    check(xa.size == xb.size, f"a and b must be aligned by seed: {xa.size} values against {xb.size}")
    check(xa.size >= 1, "paired_effect needs at least one pair, got none")
    d = xa - xb
    bad = np.flatnonzero(~np.isfinite(d))
    check(not bad.size, f"differences must be finite; positions {bad.tolist()} are not")
    n = int(d.size)
    mean = float(d.mean())
    hl = hodges_lehmann(d)
    if n < 2:
        nan = float("nan")
        return PairedEffect(n, mean, nan, nan, hl, nan, nan)
    sd = float(d.std(ddof=1))
    half = float(_st.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n))
    return PairedEffect(n=n, mean=mean, low=mean - half, high=mean + half, hodges_lehmann=hl,
                        p=sign_flip_p(d), mde=min_detectable(n=n, sd=sd, power=power, alpha=alpha))


def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values in the input's order (:func:`langlab.verdicts.holm`)."""
    from langlab.verdicts import holm as _holm
    return _holm(p_values)


def paired_table(results: pd.DataFrame, *, metric: str, pairs, by: str = "seed",
                 condition: str = "condition", transform=None, confidence: float = 0.95,
                 power: float = 0.8, alpha: float = 0.05) -> pd.DataFrame:
    """One :func:`paired_effect` row per pair of conditions of a results table, Holm over them.

    Parameters
    ----------
    results : pd.DataFrame
        One row per run, with columns ``condition``, ``by`` and ``metric`` (e.g.
        :func:`langlab.training.lstm_experiment`'s table of one dose).
    metric : str
        The column compared (e.g. :data:`langlab.plan.PRIMARY_ENDPOINT`).
    pairs : sequence of (str, str)
        Conditions ``(a, b)``; each row is ``a - b``. Holm's adjustment runs over these pairs,
        so pass one family of the plan at a time.
    by : str
        The pairing column (the seed).
    transform : callable, optional
        Applied to the metric first (``np.log`` for the plan's log-ratio effects).

    Returns
    -------
    pd.DataFrame
        Columns ``a, b, n, mean, low, high, hl, p, p_holm, mde``.
    """
    check(isinstance(results, pd.DataFrame), f"results must be a DataFrame, got {type(results).__name__}")
    missing = {condition, by, metric} - set(results.columns)
    check(not missing, f"results lacks column(s) {sorted(missing)}")
    pairs = [tuple(p) for p in pairs]
    check(len(pairs) >= 1 and all(len(p) == 2 for p in pairs),
          f"pairs must be a non-empty sequence of (a, b) conditions, got {pairs!r}")
    rows = []
    for a, b in pairs:
        series = {}
        for c in (a, b):
            part = results[results[condition] == c]
            check(len(part) >= 1, f"no runs of condition {c!r} in results "
                  f"(conditions there: {sorted(map(str, results[condition].unique()))})")
            dup = part[by][part[by].duplicated()].tolist()
            check(not dup, f"condition {c!r} has several runs of {by} {dup}; pass one dose/preset at a time")
            values = part.set_index(by)[metric].astype(float)
            series[c] = transform(values) if transform is not None else values
        A, B = series[a], series[b]
        only_a, only_b = A.index.difference(B.index), B.index.difference(A.index)
        gaps = [f"{by} {list(only)} only in {c!r}" for only, c in ((only_a, a), (only_b, b)) if len(only)]
        check(not gaps, f"{a!r} and {b!r} are not paired by {by}: " + "; ".join(gaps))
        e = paired_effect(A, B, confidence=confidence, power=power, alpha=alpha)
        rows.append({"a": a, "b": b, "n": e.n, "mean": e.mean, "low": e.low, "high": e.high,
                     "hl": e.hodges_lehmann, "p": e.p, "mde": e.mde})
    table = pd.DataFrame(rows)
    table.insert(table.columns.get_loc("p") + 1, "p_holm", holm(table["p"].to_numpy()))
    return table
