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

Earlier rules, from p-values rather than intervals against a claimed effect, kept for the
exercises and callers that use them:

- :func:`judge_faster`: a claim "A reaches the threshold in fewer steps than B", from a
  two-sided test's p-value and the two means;
- :func:`judge_separable`: "a representation tells Spanish from the rest", from the
  confidence intervals of a probe's balanced accuracy in every condition;
- :func:`judge_no_effect`: "pre-training does not change the probe", from Holm-adjusted
  paired tests (:func:`holm`) and the intervals of the paired differences.

The paired statistics they read (:func:`separability`, :func:`pretraining_effects`) and the
sample-size estimate of the Discussion's last section (:func:`seeds_needed`) are here too.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _st

from langlab.errors import ParameterError
from langlab.stats import mean_ci

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


def judge_faster(mean_a: float, mean_b: float, p: float, *, alpha: float = ALPHA) -> str:
    """Claim 'A reaches the threshold in fewer steps than B' (Chapter 6).

    *reproduced* when the test rejects (``p < alpha``) and A's mean is the smaller,
    *contradicted* when it rejects the other way, *not reproduced* otherwise (also for a NaN
    ``p``, which rejects nothing).
    """
    if p < alpha:
        return REPRODUCED if mean_a < mean_b else CONTRADICTED
    return NOT_REPRODUCED


def judge_separable(ci_lows, ci_highs, *, chance: float = CHANCE, delta: float = DELTA) -> str:
    """Claim 'it tells Spanish from the rest', in every condition (Chapter 6).

    *reproduced* when every interval's low end lies above ``chance``; *contradicted* when every
    interval's high end lies below ``chance + delta`` (at chance, up to the margin);
    *not reproduced* otherwise. A NaN bound satisfies neither, so it gives *not reproduced*.
    """
    if all(low > chance for low in ci_lows):
        return REPRODUCED
    if all(high < chance + delta for high in ci_highs):
        return CONTRADICTED
    return NOT_REPRODUCED


def judge_no_effect(p_values, ci_lows, ci_highs, *, alpha: float = ALPHA,
                    delta: float = DELTA) -> str:
    """Claim 'pre-training does not change the probe' (vs no pre-training; Chapter 6).

    *contradicted* when the smallest Holm-adjusted p-value lies below ``alpha``; *reproduced*
    when, besides, every difference's interval lies within ``(-delta, delta)``;
    *not reproduced* (inconclusive) otherwise. The smallest adjusted p-value is Python's
    ``min`` over :func:`holm`'s output, as the book has always computed it.
    """
    if min(holm(p_values)) < alpha:
        return CONTRADICTED
    bounds = zip(ci_lows, ci_highs)
    if all(-delta < low and high < delta for low, high in bounds):
        return REPRODUCED
    return NOT_REPRODUCED


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


def faster_word(mean_a: float, mean_b: float, p: float, *, alpha: float = ALPHA) -> str:
    """'sooner than', 'later than' or 'no differently from': :func:`judge_faster`'s rule in words."""
    if p < alpha:
        return "sooner than" if mean_a < mean_b else "later than"
    return "no differently from"


def linear_binary(table: pd.DataFrame, representation: str) -> pd.DataFrame:
    """Per-seed balanced accuracy of the linear probe on the binary task (seed x condition)."""
    part = table[(table["representation"] == representation) & (table["task"] == "binary")
                 & (table["probe"] == "linear")]
    return part.pivot_table(index="seed", columns="condition", values="balanced_accuracy")


def separability(table: pd.DataFrame, representation: str, *, conditions,
                 confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Mean and interval over seeds of the linear binary probe, one row per condition."""
    scores = linear_binary(table, representation)
    rows = []
    for condition in [c for c in conditions if c in scores]:
        mean, low, high = mean_ci(scores[condition].dropna(), confidence=confidence)
        rows.append({"condition": condition, "mean": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows).set_index("condition")


def pretraining_effects(table: pd.DataFrame, representation: str, *, conditions,
                        confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Each condition minus none, paired by seed (a seed's probes share their splits).

    Columns: ``difference`` (mean over seeds), ``ci_low``, ``ci_high``, ``p`` (paired
    t-test; NaN when every seed gives the same difference, where the test is undefined) and
    ``p_holm`` (:func:`holm` over the conditions).
    """
    scores = linear_binary(table, representation)
    rows = []
    for condition in [c for c in conditions if c != "none" and c in scores]:
        pair = scores[["none", condition]].dropna()
        diff = pair[condition] - pair["none"]
        mean, low, high = mean_ci(diff, confidence=confidence)
        p = float(_st.ttest_rel(pair[condition], pair["none"]).pvalue) if diff.std() > 0 else np.nan
        rows.append({"condition": condition, "difference": mean, "ci_low": low,
                     "ci_high": high, "p": p})
    effects = pd.DataFrame(rows).set_index("condition")
    effects["p_holm"] = holm(effects["p"])
    return effects


def largest_effect(effects: pd.DataFrame) -> pd.Series:
    """The row of ``effects`` (:func:`pretraining_effects`, maybe several concatenated) with
    the largest absolute difference from none."""
    rows = effects.reset_index(drop=True)
    return rows.iloc[int(rows["difference"].abs().to_numpy().argmax())]


def baseline_mean(table: pd.DataFrame, condition: str, representation: str) -> float:
    """Mean balanced accuracy (%) of the linear binary probe for one condition and
    representation (an untrained network, the input), NaN when there is no such row."""
    part = table[(table["condition"] == condition) & (table["representation"] == representation)
                 & (table["task"] == "binary") & (table["probe"] == "linear")]
    return float(100 * part["balanced_accuracy"].mean()) if len(part) else float("nan")


def against(value: float, low: float, high: float) -> str:
    """Where a baseline's ``value`` lies relative to the trained networks' range [low, high]."""
    if value > high:
        return "more than any trained network"
    if value < low:
        return "less than any trained network"
    return "within the range of the trained networks"


def all_overlap(intervals) -> bool:
    """Whether one value lies inside every interval ``(low, high)`` (Chapter 5).

    Intervals that all share a point cannot tell their conditions apart at their level.
    """
    intervals = list(intervals)
    if not intervals:
        raise ParameterError("all_overlap needs at least one (low, high) interval, got none")
    lows, highs = zip(*intervals)
    return max(lows) <= min(highs)


def seeds_needed(difference: float, *, sd: float, alpha: float = ALPHA,
                 power: float = 0.8) -> int | None:
    """Runs per condition a two-sided two-sample test needs to detect ``difference``.

    The normal approximation ``2 * ((z(1 - alpha/2) + z(power)) * sd / difference)**2``,
    rounded up and at least 2; ``None`` for a difference <= 0 (Chapter 6).
    """
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ParameterError(f"alpha and power must lie in (0, 1), got {alpha} and {power}")
    if difference <= 0:
        return None
    z = _st.norm.ppf(1 - alpha / 2) + _st.norm.ppf(power)
    return max(2, int(math.ceil(2 * (z * sd / difference) ** 2)))
