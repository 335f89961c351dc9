"""The stated rules that turn the chapters' results into verdicts on the original's claims.

The vocabulary (Chapter 6; the same on every page) has exactly four words, :data:`LABELS`,
given by :func:`judge` from an interval of a signed effect, the effect claimed and the null:

- *reproduced*: the interval excludes the null on the claimed side;
- *contradicted*: it excludes the null on the opposite side;
- *not reproduced*: it excludes an effect the size of the claimed one (and is not reproduced);
- *inconclusive*: it still holds both the null and the claimed effect.

Where the original gave a magnitude, :func:`judge_magnitude` judges it separately; a claim of
*no difference* is judged by :func:`judge_equivalence` against a margin. A NaN or reversed
interval is a :class:`~langlab.errors.ParameterError`, never a label: an effect that could not
be computed has no verdict. The levels and margins come from :mod:`langlab.plan`.

Besides: :func:`holm` (Holm's adjustment inside a family of comparisons) and
:func:`all_overlap` (whether intervals share a point; Chapter 5).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from langlab.errors import ParameterError
from langlab.plan import ALPHA, CHANCE, CONFIDENCE, DELTA  # noqa: F401  (their home is the plan)

REPRODUCED, CONTRADICTED, NOT_REPRODUCED = "reproduced", "contradicted", "not reproduced"
INCONCLUSIVE = "inconclusive"
#: The four verdicts, the only words any page uses for a claim.
LABELS = (REPRODUCED, CONTRADICTED, NOT_REPRODUCED, INCONCLUSIVE)
#: Not a verdict: the design could not test the claim (e.g. a model not trained to its
#: stopping rule at book scale); a page says why and how it would be tested.
NOT_TESTED = "not tested"


@dataclass(frozen=True)
class Verdict:
    """A verdict: one of :data:`LABELS` and the reason for it, in words."""

    label: str
    reason: str

    def __str__(self) -> str:
        return self.label


def _interval(low, high, claimed, null):
    values = {"low": low, "high": high, "claimed": claimed, "null": null}
    for name, value in values.items():
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ParameterError(f"{name} must be a number, got {value!r}") from None
        if not math.isfinite(value):
            raise ParameterError(f"{name} is {value}: an interval that could not be computed "
                                 f"has no verdict (low={low}, high={high}, claimed={claimed})")
        values[name] = value
    if values["low"] > values["high"]:
        raise ParameterError(f"interval low {low} lies above high {high}")
    if values["claimed"] == values["null"]:
        raise ParameterError(f"claimed effect {claimed} equals the null {null}: no direction to judge")
    return values["low"], values["high"], values["claimed"], values["null"]


def _fmt(x: float, scale: float = 1.0, unit: str = "") -> str:
    return f"{scale * x:.3g}{unit}"


def judge(low: float, high: float, *, claimed: float, null: float = 0.0, scale: float = 1.0,
          unit: str = "") -> Verdict:
    """The verdict on a claimed effect from the interval ``[low, high]`` of the estimated one.

    Parameters
    ----------
    low, high : float
        The interval (closed: a bound equal to the null or the claim holds it). A degenerate
        interval (``low == high``) is a point and is judged like any other.
    claimed : float
        The signed effect claimed: the original's, or the plan's minimum effect of interest
        where it gave only a direction (:mod:`langlab.plan`). Its sign is the claimed side.
    null : float
        The effect of "no difference" (0 for differences, chance for a probe's score).
    scale, unit : float, str
        How the reason writes numbers (``scale=100, unit=" %"`` for fractions shown in %);
        they do not change the verdict.

    Returns
    -------
    Verdict
        *reproduced* if the interval excludes ``null`` on the claimed side; *contradicted* if
        on the other side; *not reproduced* if it holds ``null`` but excludes ``claimed``;
        *inconclusive* if it holds both.

    Raises
    ------
    ParameterError
        For a NaN or infinite value, ``low > high`` or ``claimed == null``.
    """
    low, high, claimed, null = _interval(low, high, claimed, null)
    f = lambda x: _fmt(x, scale, unit)  # noqa: E731
    up = claimed > null
    interval = f"[{f(low)}, {f(high)}]"
    if (low > null) if up else (high < null):
        return Verdict(REPRODUCED, f"the interval {interval} excludes {f(null)} on the claimed side")
    if (high < null) if up else (low > null):
        return Verdict(CONTRADICTED, f"the interval {interval} excludes {f(null)} on the side "
                       "opposite to the claim")
    if not low <= claimed <= high:
        return Verdict(NOT_REPRODUCED, f"the interval {interval} holds {f(null)} and excludes "
                       f"the claimed {f(claimed)}")
    return Verdict(INCONCLUSIVE, f"the interval {interval} holds both {f(null)} and the "
                   f"claimed {f(claimed)}")


def judge_magnitude(low: float, high: float, *, claimed: float, null: float = 0.0,
                    scale: float = 1.0, unit: str = "") -> Verdict:
    """The verdict on a claimed *magnitude* (e.g. the original's 64 % reduction), judged
    apart from its direction.

    *reproduced* if the interval holds ``claimed`` and excludes ``null``; *contradicted* if it
    lies wholly on the side of ``null`` opposite to the claim; *not reproduced* if it excludes
    ``claimed`` otherwise (too small, or larger than claimed); *inconclusive* if it holds both
    ``null`` and ``claimed``. Errors and ``scale``/``unit`` as :func:`judge`.
    """
    low, high, claimed, null = _interval(low, high, claimed, null)
    f = lambda x: _fmt(x, scale, unit)  # noqa: E731
    up = claimed > null
    interval = f"[{f(low)}, {f(high)}]"
    holds_claim, holds_null = low <= claimed <= high, low <= null <= high
    if (high < null) if up else (low > null):
        return Verdict(CONTRADICTED, f"the interval {interval} lies on the side of {f(null)} "
                       f"opposite to the claimed {f(claimed)}")
    if holds_claim and not holds_null:
        return Verdict(REPRODUCED, f"the interval {interval} holds the claimed {f(claimed)} "
                       f"and excludes {f(null)}")
    if holds_claim:
        return Verdict(INCONCLUSIVE, f"the interval {interval} holds both {f(null)} and the "
                       f"claimed {f(claimed)}")
    beyond = (low > claimed) if up else (high < claimed)
    return Verdict(NOT_REPRODUCED, f"the interval {interval} excludes the claimed {f(claimed)}"
                   + (" (the effect is larger)" if beyond else " (the effect is smaller)"))


def judge_equivalence(low: float, high: float, *, margin: float, null: float = 0.0,
                      scale: float = 1.0, unit: str = "") -> Verdict:
    """The verdict on a claim of *no difference*, within ``null +- margin``.

    *reproduced* if the interval lies strictly inside the margin (an effect that matters is
    excluded); *contradicted* if it lies wholly outside it on one side (an effect larger than
    the margin is shown); *not reproduced* if it excludes ``null`` but reaches past the
    margin; *inconclusive* otherwise (it holds ``null`` and reaches past the margin).
    """
    if not (isinstance(margin, (int, float, np.floating)) and math.isfinite(margin) and margin > 0):
        raise ParameterError(f"margin must be a positive number, got {margin!r}")
    low, high, _, null = _interval(low, high, null + margin, null)
    f = lambda x: _fmt(x, scale, unit)  # noqa: E731
    interval = f"[{f(low)}, {f(high)}]"
    band = f"{f(null)} ± {f(margin)}"
    if null - margin < low and high < null + margin:
        return Verdict(REPRODUCED, f"the interval {interval} lies inside {band}")
    if low >= null + margin or high <= null - margin:
        return Verdict(CONTRADICTED, f"the interval {interval} lies outside {band}")
    if low > null or high < null:
        return Verdict(NOT_REPRODUCED, f"the interval {interval} excludes {f(null)} and reaches "
                       f"past {band}")
    return Verdict(INCONCLUSIVE, f"the interval {interval} holds {f(null)} and reaches past {band}")


def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values (family-wise error over comparisons), in the input's order.

    The i-th smallest of m p-values is multiplied by m - i (i from 0), made non-decreasing
    and capped at 1 (Holm 1979; Chapter 6).
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise ParameterError(f"holm needs a 1-d sequence of p-values, got shape {p.shape}")
    order = np.argsort(p)
    factors = len(p) - np.arange(len(p))
    adjusted = np.maximum.accumulate(factors * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def all_overlap(intervals) -> bool:
    """Whether one value lies inside every interval ``(low, high)`` (Chapter 5).

    Intervals that all share a point cannot tell their conditions apart at their level.
    """
    intervals = list(intervals)
    if not intervals:
        raise ParameterError("all_overlap needs at least one (low, high) interval, got none")
    lows, highs = zip(*intervals)
    return max(lows) <= min(highs)
