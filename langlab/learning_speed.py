"""How fast runs learn, over seeds: time to threshold per condition, tests between conditions,
mean learning curves (Chapter 3; the Discussion weighs them).

- :func:`summarise`: mean time to threshold per condition with a 95 % t-interval over seeds;
- :func:`compare`: the direct tests of the original's claim (Mann-Whitney U, exact for small
  samples, and log-rank for the censored times);
- :func:`learning_curves`: mean validation loss per step with a t-interval over seeds;
- :func:`arm_effects`: every arm of Chapter 3's design against no pre-training, paired by seed
  (the dose-response figure).

Their inputs are the tables of :func:`langlab.training.lstm_experiment` and
:func:`langlab.training.lstm_histories`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from langlab.errors import check
from langlab.pretraining import check_conditions, names

#: Comparisons of :func:`compare` by default: the original's claim (Italian pre-training helps
#: more than Japanese) and each against no pre-training.
CLAIM_PAIRS = (("it", "ja"), ("it", "none"), ("ja", "none"))


def check_results(results: pd.DataFrame, metric: str) -> None:
    """:class:`ParameterError` unless ``results`` is a table like :func:`~langlab.training.lstm_experiment`'s with
    ``condition``, ``censored`` and ``metric`` columns."""
    check(isinstance(results, pd.DataFrame), f"results must be a DataFrame from lstm_experiment, "
          f"got {type(results).__name__}")
    missing = {"condition", "censored", metric} - set(results.columns)
    check(not missing, f"results lacks column(s) {sorted(missing)}; pass lstm_experiment's table")


def summarise(results: pd.DataFrame, *, metric: str = "steps_to_threshold",
              confidence: float = 0.95) -> pd.DataFrame:
    """Mean time to threshold per condition with a confidence interval over seeds.

    Parameters
    ----------
    results : pd.DataFrame
        :func:`~langlab.training.lstm_experiment`'s table.
    metric : str
        ``"steps_to_threshold"`` (the default: optimizer steps, the unit that does not depend
        on the machine), ``"epochs_to_threshold"`` or ``"seconds_to_threshold"``.
    confidence : float
        Of the Student-t interval (:func:`langlab.stats.mean_ci`).

    Returns
    -------
    pd.DataFrame
        One row per condition, in the order of :func:`langlab.pretraining.names`: ``n_runs``,
        ``n_censored``, ``mean``, ``ci_low``, ``ci_high``, ``median``, ``min``, ``max``.
        Censored runs count with their budget, so with any censored run the mean is a lower
        bound (the table says how many).
    """
    from langlab.stats import mean_ci
    check_results(results, metric)
    rows = []
    for condition in [c for c in names() if c in set(results["condition"])]:
        part = results[results["condition"] == condition]
        values = part[metric].astype(float).to_numpy()
        mean, low, high = mean_ci(values, confidence=confidence)
        rows.append({"condition": condition, "n_runs": len(part),
                     "n_censored": int(part["censored"].astype(bool).sum()), "mean": mean,
                     "ci_low": low, "ci_high": high, "median": float(np.median(values)),
                     "min": float(values.min()), "max": float(values.max())})
    return pd.DataFrame(rows)


#: Largest number of ways to split two samples for which Mann-Whitney p-values are exact.
EXACT_SPLITS = 200_000


def _mannwhitney_method(xa: np.ndarray, xb: np.ndarray):
    """Exact permutation p-values for small samples, the normal approximation for large ones.

    Steps to threshold tie (they are counted every ``eval_every`` steps), and with ties scipy's
    default falls back to the normal approximation: 5 against 5 runs in complete separation
    would read p = 0.0104 instead of the exact 2 / C(10, 5) = 0.0079. Enumerating every split
    handles ties exactly and is cheap for the seed counts of the presets (Chapter 3).
    """
    from scipy import stats as st
    if math.comb(len(xa) + len(xb), len(xa)) <= EXACT_SPLITS:
        return st.PermutationMethod(n_resamples=np.inf)
    return "asymptotic"


def compare(results: pd.DataFrame, *, pairs: Sequence[tuple[str, str]] = CLAIM_PAIRS,
            metric: str = "steps_to_threshold") -> pd.DataFrame:
    """Two-sided tests of "pre-training A and B reach the threshold equally fast".

    - **Mann-Whitney U** on the steps to threshold, censored runs set to the budget (the
      primary test; exact over every split of the runs for small samples, ties included).
      Every run has the same budget, so a censored run truly took longer than every run that
      reached the threshold and the ranks are right; only the order among censored runs is
      lost (they tie). This is Gehan's generalised Wilcoxon test for a common
      censoring time, and it assumes no distribution.
    - **Log-rank** (``scipy.stats.logrank``), the standard test for censored times, as a
      check; it weighs late differences more.

    Parameters
    ----------
    results : pd.DataFrame
        :func:`~langlab.training.lstm_experiment`'s table.
    pairs : sequence of (str, str)
        Conditions to compare (default :data:`CLAIM_PAIRS`: Italian vs Japanese, each vs none).
    metric : str
        Column to compare (steps by default).

    Returns
    -------
    pd.DataFrame
        One row per pair: ``a``, ``b``, ``n_a``, ``n_b``, ``mean_a``, ``mean_b``,
        ``censored_a``, ``censored_b``, ``U`` (of ``a``), ``p_mannwhitney``, ``p_logrank``.
        P-values are NaN when a condition has no runs or all values are equal.
    """
    from scipy import stats as st
    check_results(results, metric)
    rows = []
    for a, b in pairs:
        check_conditions([a, b])
        A, B = (results[results["condition"] == c] for c in (a, b))
        check(len(A) >= 1 and len(B) >= 1, f"no runs of condition {a if not len(A) else b!r} in results")
        xa, xb = A[metric].astype(float).to_numpy(), B[metric].astype(float).to_numpy()
        ca, cb = A["censored"].astype(bool).to_numpy(), B["censored"].astype(bool).to_numpy()
        if np.ptp(np.concatenate([xa, xb])) == 0:
            U, p_mw, p_lr = float("nan"), float("nan"), float("nan")
        else:
            mw = st.mannwhitneyu(xa, xb, alternative="two-sided", method=_mannwhitney_method(xa, xb))
            U, p_mw = float(mw.statistic), float(mw.pvalue)
            try:
                lr = st.logrank(st.CensoredData(uncensored=xa[~ca], right=xa[ca]),
                                st.CensoredData(uncensored=xb[~cb], right=xb[cb]))
                p_lr = float(lr.pvalue)
            except (ValueError, ZeroDivisionError):
                p_lr = float("nan")
        rows.append({"a": a, "b": b, "n_a": len(xa), "n_b": len(xb), "mean_a": float(xa.mean()),
                     "mean_b": float(xb.mean()), "censored_a": int(ca.sum()), "censored_b": int(cb.sum()),
                     "U": U, "p_mannwhitney": p_mw, "p_logrank": p_lr})
    return pd.DataFrame(rows)


def learning_curves(histories: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Mean validation loss per condition and step with a t-interval over seeds.

    Parameters
    ----------
    histories : pd.DataFrame
        :func:`~langlab.training.lstm_histories`' table.

    Returns
    -------
    pd.DataFrame
        ``condition``, ``step``, ``n_runs``, ``mean``, ``ci_low``, ``ci_high`` of
        ``val_loss`` over the Spanish-training rows (runs that stopped early contribute up to
        their last step).
    """
    from langlab.stats import mean_ci
    check({"condition", "phase", "step", "val_loss"} <= set(histories.columns),
          "histories needs columns condition, phase, step, val_loss (lstm_histories' table)")
    train = histories[histories["phase"] == "train"]
    rows = []
    for (condition, step), part in train.groupby(["condition", "step"], sort=False):
        mean, low, high = mean_ci(part["val_loss"].to_numpy(), confidence=confidence)
        rows.append({"condition": condition, "step": int(step), "n_runs": len(part),
                     "mean": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows).sort_values(["condition", "step"], kind="stable").reset_index(drop=True)


def arm_effects(results: pd.DataFrame, *, metric: str = "val_loss_auc", reference: str = "none",
                confidence: float = 0.95, power: float = 0.8, alpha: float = 0.05) -> pd.DataFrame:
    """Each arm of a design against the ``reference`` arm, paired by seed, as a relative change.

    For every arm of :func:`langlab.training.design_experiment`'s table the paired difference
    of ``log(metric)`` against the reference's runs of the same seeds
    (:func:`langlab.paired.paired_effect`), turned into a relative change ``exp(d) - 1``
    (negative: the arm's endpoint is lower, i.e. it learns faster when lower is better).

    Parameters
    ----------
    results : pd.DataFrame
        ``design_experiment``'s table (columns ``arm``, ``condition``, ``pretrain_epochs``,
        ``pretrain_steps``, ``reset_optimizer``, ``seed`` and ``metric``).
    metric : str
        A positive endpoint (default the primary, ``val_loss_auc``).
    reference : str
        The arm every other is set against.
    confidence, power, alpha : float
        As :func:`langlab.paired.paired_effect`.

    Returns
    -------
    pd.DataFrame
        One row per arm other than ``reference``, in the table's order: ``arm``, ``condition``,
        ``pretrain_epochs``, ``pretrain_steps``, ``reset_optimizer``, ``n``, ``relative``,
        ``low``, ``high`` (relative change and its interval), ``p`` (exact sign-flip) and
        ``mde`` (the smallest relative reduction the seeds could detect).
    """
    from langlab.paired import paired_effect
    needed = {"arm", "condition", "pretrain_epochs", "pretrain_steps", "reset_optimizer", "seed", metric}
    check(isinstance(results, pd.DataFrame) and needed <= set(results.columns),
          f"results must be design_experiment's table with columns {sorted(needed)}")
    values = results[metric].astype(float)
    check(bool((values > 0).all()), f"{metric} must be positive to compare on the log scale")
    base = results[results["arm"] == reference].set_index("seed")[metric].astype(float)
    check(len(base) >= 1, f"no runs of the reference arm {reference!r}")
    rows = []
    for arm, part in results[results["arm"] != reference].groupby("arm", sort=False):
        own = part.set_index("seed")[metric].astype(float)
        e = paired_effect(np.log(own), np.log(base), confidence=confidence, power=power,
                          alpha=alpha)
        first = part.iloc[0]
        rows.append({"arm": arm, "condition": first["condition"], "pretrain_epochs": int(first["pretrain_epochs"]),
                     "pretrain_steps": int(first["pretrain_steps"]),
                     "reset_optimizer": bool(first["reset_optimizer"]), "n": e.n,
                     "relative": math.expm1(e.mean), "low": math.expm1(e.low), "high": math.expm1(e.high),
                     "p": e.p, "mde": -math.expm1(-e.mde)})
    return pd.DataFrame(rows)
