"""The claims judged: the analysis plan (:mod:`langlab.plan`) applied to the chapters' results
by the verdict rules (:mod:`langlab.verdicts`) (Chapter 6).

- :func:`judged_runs`: the LSTM runs the verdicts read (no pre-training and the plan's dose);
- :func:`speed_claims`: every claim of :data:`langlab.plan.CLAIMS` on the primary endpoint,
  paired by seed, Holm inside each family, with the smallest detectable effect and the verdict;
- :func:`magnitude_claims`: the original's claimed magnitude (64 % less time to threshold),
  judged on the endpoint it was measured on;
- :func:`fold_probe_claims`: a representation's claims from Chapters 4-5 (above chance, put
  there by training, unchanged by pre-training) in the same table;
- :func:`pairs_needed`: how many paired seeds an effect of a given size would need.

Every table has the columns of :data:`COLUMNS`; effects on the speed endpoints are relative
changes (``-0.05``: 5 % lower, that is faster), probe effects are ROC AUC or its differences
(fractions).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from langlab import plan
from langlab.errors import check
from langlab.paired import min_detectable, paired_table
from langlab.verdicts import holm, judge, judge_magnitude

#: Columns of every claims table.
COLUMNS = ("name", "claim", "source", "comparison", "n", "estimate", "low", "high", "mde", "null",
           "claimed", "p", "p_holm", "verdict", "reason")


def judged_runs(results: pd.DataFrame, *, dose: int | None = None) -> pd.DataFrame:
    """The runs the speed verdicts read: every ``"none"`` run and the pre-trained runs of
    ``dose`` epochs without the optimizer reset (default: the largest dose in ``results``,
    :data:`langlab.plan.JUDGED_DOSE`)."""
    check(isinstance(results, pd.DataFrame) and "condition" in results,
          "results must be lstm_experiment's table (a DataFrame with a condition column)")
    if "pretrain_epochs" not in results:
        return results
    reset = results["reset_optimizer"].astype(bool) if "reset_optimizer" in results else False
    trained = results[(results["condition"] != "none") & ~reset]
    check(len(trained) >= 1, "results hold no pre-trained runs without the optimizer reset")
    dose = int(trained["pretrain_epochs"].max()) if dose is None else int(dose)
    doses = sorted(int(d) for d in trained["pretrain_epochs"].unique())
    check(dose in doses, f"no runs of dose {dose} pre-training epochs; doses there: {doses}")
    keep = (results["condition"] == "none") | ((results["pretrain_epochs"] == dose) & ~reset)
    return results[keep]


def _relative(x: float) -> float:
    return math.expm1(x)


def _reduction(mde: float) -> float:
    """The smallest detectable log-scale effect as a relative reduction (inf and NaN kept)."""
    return -math.expm1(-mde) if math.isfinite(mde) else mde


def with_speech(results: pd.DataFrame, *, metrics, languages=plan.SPEECH_LANGUAGES,
                name: str = plan.SPEECH_REFERENCE, by: str = "seed") -> pd.DataFrame:
    """``results`` with one more row per seed, condition ``name``: the geometric mean of each
    of ``metrics`` over ``languages`` (the speech counterpart of the controls made from a
    balanced mix of them; :data:`langlab.plan.SPEECH_REFERENCE`). Seeds that lack one of the
    languages get no row; without all the languages ``results`` comes back unchanged."""
    present = set(results["condition"])
    if name in present or not set(languages) <= present:
        return results
    part = results[results["condition"].isin(languages)]
    counts = part.groupby(by)["condition"].nunique()
    complete = counts.index[counts == len(languages)]
    part = part[part[by].isin(complete)]
    logs = part[[by, *metrics]].assign(**{m: np.log(part[m].astype(float)) for m in metrics})
    speech = np.exp(logs.groupby(by)[list(metrics)].mean()).reset_index().assign(condition=name)
    if "censored" in results:
        speech["censored"] = part.groupby(by)["censored"].any().reindex(speech[by]).to_numpy()
    return pd.concat([results, speech], ignore_index=True)


def speed_claims(results: pd.DataFrame, *, claims=plan.CLAIMS, families=plan.FAMILIES,
                 confidence: float = plan.CONFIDENCE, power: float = plan.POWER,
                 alpha: float = plan.ALPHA) -> pd.DataFrame:
    """Every claim on the learning-speed endpoint, judged (Chapter 6).

    Each family of ``families`` is one :func:`langlab.paired.paired_table` of the log endpoint
    (Holm inside it) over the pairs whose conditions are in ``results``; a claim whose
    conditions were not run is left out (the caller can list them with :func:`untested`).
    ``estimate``, ``low``, ``high`` and ``claimed`` are relative changes of a against b;
    ``mde`` is the smallest detectable relative *reduction* (``1 - exp(-mde)`` of the log
    scale); the verdict is :func:`langlab.verdicts.judge` of the interval against ``claimed``.
    """
    results = with_speech(results, metrics=sorted({c.endpoint for c in claims}))
    present = set(results["condition"])
    by_pair = {}
    for pairs in families.values():
        run = [p for p in pairs if set(p) <= present]
        if not run:
            continue
        for claim_endpoint in {c.endpoint for c in claims if c.pair in run}:
            table = paired_table(results, metric=claim_endpoint, pairs=run, transform=np.log,
                                 confidence=confidence, power=power, alpha=alpha)
            for _, row in table.iterrows():
                by_pair[(row["a"], row["b"], claim_endpoint)] = row
    rows = []
    for c in claims:
        row = by_pair.get((*c.pair, c.endpoint))
        if row is None:
            continue
        low, high, claimed = _relative(row["low"]), _relative(row["high"]), _relative(c.claimed)
        verdict = judge(low, high, claimed=claimed, scale=100, unit=" %")
        rows.append({"name": c.name, "claim": c.text, "source": c.source,
                     "comparison": f"{c.pair[0]} vs {c.pair[1]}",
                     "n": int(row["n"]), "estimate": _relative(row["mean"]), "low": low, "high": high,
                     "mde": _reduction(row["mde"]), "null": 0.0, "claimed": claimed, "p": row["p"],
                     "p_holm": row["p_holm"], "verdict": verdict.label, "reason": verdict.reason})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def untested(results: pd.DataFrame, *, claims=plan.CLAIMS) -> list[str]:
    """The claims of ``claims`` whose conditions ``results`` does not hold (``"speech"`` counts
    as held when its languages are)."""
    present = set(with_speech(results, metrics=[])["condition"])
    return [c.text for c in claims if not set(c.pair) <= present]


def magnitude_claims(results: pd.DataFrame, *, claims=plan.CLAIMS,
                     endpoint: str = plan.SECONDARY_ENDPOINT, confidence: float = plan.CONFIDENCE,
                     power: float = plan.POWER, alpha: float = plan.ALPHA) -> pd.DataFrame:
    """The claimed magnitudes (``Claim.magnitude``, a relative reduction) judged on ``endpoint``
    (the original measured time to threshold) by :func:`langlab.verdicts.judge_magnitude`.

    The reduction of a against b is ``1 - exp(mean log(a / b))`` over seeds, its interval the
    transformed t-interval; censored runs count with their budget, which shrinks a reduction
    when a's runs are censored and inflates it when b's are (the ``n_censored`` column).
    """
    rows = []
    for c in claims:
        if c.magnitude is None or not set(c.pair) <= set(results["condition"]):
            continue
        row = paired_table(results, metric=endpoint, pairs=[c.pair], transform=np.log,
                           confidence=confidence, power=power, alpha=alpha).iloc[0]
        low, high = -math.expm1(row["high"]), -math.expm1(row["low"])
        verdict = judge_magnitude(low, high, claimed=c.magnitude, scale=100, unit=" %")
        censored = (int(results.loc[results["condition"].isin(c.pair), "censored"].astype(bool).sum())
                    if "censored" in results else 0)
        rows.append({"name": f"{c.name}_magnitude",
                     "claim": f"{c.text}: by {100 * c.magnitude:.0f} % ({endpoint})",
                     "source": c.source, "comparison": f"{c.pair[0]} vs {c.pair[1]}",
                     "n": int(row["n"]), "estimate": -math.expm1(row["mean"]), "low": low,
                     "high": high, "mde": _reduction(row["mde"]), "null": 0.0, "claimed": c.magnitude,
                     "p": row["p"], "p_holm": row["p"], "verdict": verdict.label,
                     "reason": verdict.reason, "n_censored": censored})
    return pd.DataFrame(rows, columns=[*COLUMNS, "n_censored"])


def fold_probe_claims(rows: pd.DataFrame, *, prefix: str, key: str, label: str) -> pd.DataFrame:
    """One representation's probe claims in the claims table's shape (Chapter 6).

    ``rows`` are a chapter's claim rows (:func:`langlab.lstm_probes.claim_rows`,
    :func:`langlab.autoencoder.claim_rows`: ``name``, ``claim``, ``n``, ``estimate``, ``low``,
    ``high``, ``mde``, ``null``, ``claimed``, ``verdict``, ``reason``); those named
    ``<prefix>above_chance`` and ``<prefix>learned`` are kept with their claim's words, renamed
    ``<key>_...``, and the per-condition rows ``<prefix>pretraining_<condition>`` are folded
    into one ``<key>_no_pretraining_effect`` row by :func:`fold_equivalence`. ``label`` names
    the representation in that claim ("LSTM's h").
    """
    missing = {"name", "claim", "n", "estimate", "low", "high", "mde", "null", "claimed", "verdict",
               "reason"} - set(rows.columns)
    check(not missing, f"claim rows lack column(s) {sorted(missing)}")
    by_name = rows.set_index("name")
    out = []
    for suffix, source, comparison in (("above_chance", "original", "mean over conditions vs chance"),
                                       ("learned", "design", "trained vs untrained")):
        check(f"{prefix}{suffix}" in by_name.index, f"no claim row {prefix}{suffix!s} among {list(by_name.index)}")
        r = by_name.loc[f"{prefix}{suffix}"]
        out.append({"name": f"{key}_{suffix}", "claim": r["claim"], "source": source, "comparison": comparison,
                    "n": int(r["n"]), "estimate": r["estimate"], "low": r["low"], "high": r["high"],
                    "mde": r["mde"], "null": r["null"], "claimed": r["claimed"],
                    "p": r.get("p", np.nan), "p_holm": np.nan, "verdict": r["verdict"], "reason": r["reason"]})
    start = f"{prefix}pretraining_"
    per_condition = rows[rows["name"].str.startswith(start)]
    if len(per_condition):
        per_condition = per_condition.assign(condition=per_condition["name"].str.removeprefix(start))
        if "p" not in per_condition:
            per_condition = per_condition.assign(p=np.nan)
        out.append(fold_equivalence(per_condition, claim=f"pre-training does not change what a probe "
                                    f"reads from the {label}",
                                    name=f"{key}_no_pretraining_effect"))
    return pd.DataFrame(out, columns=list(COLUMNS))


def fold_equivalence(effects: pd.DataFrame, *, claim: str, name: str, source: str = "original") -> dict:
    """One claims-table row for "no difference in any condition" from one row per condition
    (columns ``condition``, ``n``, ``estimate``, ``low``, ``high``, ``mde``, ``p``,
    ``verdict``, ``reason``; e.g. each condition minus none, judged by
    :func:`langlab.verdicts.judge_equivalence`): the verdict by :func:`combine_equivalence`,
    ``estimate`` the largest absolute difference, ``low``/``high`` the extremes over
    conditions, ``p_holm`` the smallest Holm-adjusted p."""
    from langlab.verdicts import Verdict
    check(len(effects) >= 1, "fold_equivalence needs at least one condition's row")
    v = combine_equivalence([Verdict(r["verdict"], r["reason"]) for _, r in effects.iterrows()],
                            conditions=[str(c) for c in effects["condition"]])
    worst = effects.iloc[int(effects["estimate"].abs().to_numpy().argmax())]
    p = effects["p"].to_numpy(dtype=float) if "p" in effects else np.full(len(effects), np.nan)
    return {"name": name, "claim": claim, "source": source, "comparison": "each condition vs none",
            "n": int(effects["n"].min()), "estimate": float(worst["estimate"]),
            "low": float(effects["low"].min()), "high": float(effects["high"].max()),
            "mde": float(effects["mde"].max()), "null": 0.0, "claimed": plan.DELTA,
            "p": float(np.nanmin(p)) if np.isfinite(p).any() else np.nan,
            "p_holm": float(holm(p).min()) if np.isfinite(p).all() else np.nan,
            "verdict": v.label, "reason": v.reason}


def combine_equivalence(verdicts, *, conditions):
    """One verdict on "no difference in any condition" from each condition's
    :func:`langlab.verdicts.judge_equivalence`: *contradicted* if any is, else *not
    reproduced* if any is, else *reproduced* if all are, else *inconclusive*; the reason
    names the conditions that decided it. A label outside the four (a claim *not tested*)
    is passed on as it is."""
    from langlab.verdicts import (CONTRADICTED, INCONCLUSIVE, LABELS, NOT_REPRODUCED, REPRODUCED,
                                  Verdict)
    verdicts, conditions = list(verdicts), list(conditions)
    check(len(verdicts) == len(conditions) >= 1, "one verdict per condition, at least one")
    untested = [v for v in verdicts if v.label not in LABELS]     # e.g. "not tested"
    if untested:
        return Verdict(untested[0].label, untested[0].reason)
    for label in (CONTRADICTED, NOT_REPRODUCED):
        hit = [c for c, v in zip(conditions, verdicts) if v.label == label]
        if hit:
            first = verdicts[conditions.index(hit[0])]
            return Verdict(label, f"{', '.join(hit)}: {first.reason}")
    if all(v.label == REPRODUCED for v in verdicts):
        band = verdicts[0].reason.rsplit(" inside ", 1)[-1]
        return Verdict(REPRODUCED, f"every condition's interval ({', '.join(conditions)}) lies "
                       f"inside {band}")
    hit = [c for c, v in zip(conditions, verdicts) if v.label == INCONCLUSIVE]
    first = verdicts[conditions.index(hit[0])]
    return Verdict(INCONCLUSIVE, f"{', '.join(hit)}: {first.reason}")


def pairs_needed(effect: float, *, sd: float, power: float = plan.POWER, alpha: float = plan.ALPHA,
                 max_n: int = 1000) -> int | None:
    """The fewest paired seeds whose :func:`langlab.paired.min_detectable` effect is at most
    ``|effect|`` for differences of standard deviation ``sd`` (never fewer than the exact
    sign-flip test needs to reach ``alpha`` at all); ``None`` if more than ``max_n``."""
    check(np.isfinite(effect) and effect != 0, f"effect must be a non-zero number, got {effect!r}")
    check(np.isfinite(sd) and sd >= 0, f"sd must be a number >= 0, got {sd!r}")
    for n in range(2, max_n + 1):
        if min_detectable(n=n, sd=sd, power=power, alpha=alpha) <= abs(effect):
            return n
    return None
