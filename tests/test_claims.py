"""langlab.claims: the plan applied to results tables with planted effects, every claim's
verdict, the dose rule, probe claims, seeds needed."""
import numpy as np
import pandas as pd
import pytest

from langlab import claims, paired, plan, verdicts
from langlab.errors import ParameterError


def runs(effects, *, n_seeds=10, doses=(1, 8), sd=0.01, seed=0):
    """An lstm_experiment-like table: val_loss_auc = base * (1 + effect) per condition, with
    seed-level variation shared across conditions (the pairing) and a little noise."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.9, 1.1, n_seeds)
    rows = []
    for s in range(n_seeds):
        rows.append({"condition": "none", "seed": s, "val_loss_auc": base[s],
                     "steps_to_threshold": 400 * base[s], "censored": False,
                     "pretrain_epochs": 0, "reset_optimizer": False})
        for dose in doses:
            for reset in (False, True) if dose == doses[-1] else (False,):
                for c, effect in effects.items():
                    factor = (1 + effect * dose / doses[-1]) * (1 + rng.normal(0, sd))
                    rows.append({"condition": c, "seed": s, "val_loss_auc": base[s] * factor,
                                 "steps_to_threshold": 400 * base[s] * factor ** 10,
                                 "censored": False, "pretrain_epochs": dose, "reset_optimizer": reset})
    return pd.DataFrame(rows)


def test_judged_runs_takes_the_largest_dose_without_reset():
    table = runs({"it": -0.1})
    judged = claims.judged_runs(table)
    assert set(judged["pretrain_epochs"]) == {0, 8} and not judged["reset_optimizer"].any()
    assert len(judged) == 20
    assert set(claims.judged_runs(table, dose=1)["pretrain_epochs"]) == {0, 1}
    with pytest.raises(ParameterError, match=r"doses there: \[1, 8\]"):
        claims.judged_runs(table, dose=4)


def test_speed_claims_planted():
    table = claims.judged_runs(runs({"es": -0.2, "it": -0.1, "ja": 0.0, "noise": 0.1}))
    result = claims.speed_claims(table)
    assert list(result.columns) == list(claims.COLUMNS)
    got = result.set_index("comparison")["verdict"].to_dict()
    assert got["it vs none"] == "reproduced"           # 10 % faster, tight
    assert got["it vs ja"] == "reproduced"
    assert got["es vs it"] == "reproduced"
    assert got["speech vs noise"] == "reproduced"        # speech: geometric mean of es, it, ja
    row = result.set_index("comparison").loc["it vs none"]
    assert row["estimate"] == pytest.approx(-0.1, abs=0.01)
    assert row["low"] < row["estimate"] < row["high"]
    assert row["claimed"] == pytest.approx(-plan.MIN_RELATIVE_EFFECT)
    assert 0 < row["mde"] < 0.05 and row["p"] == pytest.approx(2 / 2 ** 10)
    # Holm inside the family "speech vs none" (es, it, ja): it's p_holm is at least its p
    assert row["p_holm"] >= row["p"]
    # shuffled / reversed were not run: left out, and listed
    assert "speech vs shuffled" not in got
    assert any("shuffled" in text for text in claims.untested(table))


def test_with_speech_is_the_geometric_mean_of_the_languages():
    table = claims.judged_runs(runs({"es": -0.2, "it": -0.1, "ja": 0.0}))
    out = claims.with_speech(table, metrics=["val_loss_auc"])
    speech = out[out["condition"] == "speech"].set_index("seed")["val_loss_auc"]
    langs = table[table["condition"].isin(["es", "it", "ja"])].pivot_table(
        index="seed", columns="condition", values="val_loss_auc")
    np.testing.assert_allclose(speech, np.exp(np.log(langs).mean(axis=1)))
    assert bool(out.loc[out["condition"] == "speech", "censored"].any()) is False
    short = table[~((table["condition"] == "ja") & (table["seed"] == 3))]
    assert 3 not in set(claims.with_speech(short, metrics=["val_loss_auc"]).query("condition == 'speech'")["seed"])
    no_ja = table[table["condition"] != "ja"]
    assert claims.with_speech(no_ja, metrics=["val_loss_auc"]) is no_ja


def test_speed_claims_other_verdicts():
    # Italian *slower* than none: contradicted; ja = it: ordering not reproduced (tight zero)
    table = claims.judged_runs(runs({"it": 0.1, "ja": 0.1, "es": 0.0}, sd=0.001))
    got = claims.speed_claims(table).set_index("comparison")["verdict"].to_dict()
    assert got["it vs none"] == "contradicted"
    assert got["it vs ja"] == "not reproduced"
    # very noisy, few seeds: inconclusive
    noisy = claims.judged_runs(runs({"it": -0.05, "ja": 0.0}, n_seeds=6, sd=0.2))
    assert claims.speed_claims(noisy).set_index("comparison").loc["it vs ja", "verdict"] == "inconclusive"


def test_magnitude_claims():
    effect = (1 - plan.ORIGINAL_REDUCTION) ** 0.1 - 1     # steps x (1 + effect)**10: 63.75 % fewer
    m = claims.magnitude_claims(claims.judged_runs(runs({"it": effect})))
    assert len(m) == 1
    row = m.iloc[0]
    assert row["estimate"] == pytest.approx(plan.ORIGINAL_REDUCTION, abs=0.03)
    assert row["claimed"] == pytest.approx(plan.ORIGINAL_REDUCTION)
    assert row["verdict"] == "reproduced" and row["n_censored"] == 0
    small = claims.magnitude_claims(claims.judged_runs(runs({"it": -0.01})))
    assert small.iloc[0]["verdict"] == "not reproduced" and "smaller" in small.iloc[0]["reason"]


def chapter_rows(prefix, *, shift=0.0):
    """Claim rows like lstm_probes.claim_rows / autoencoder.claim_rows, judged by verdicts."""
    rows = [{"name": f"{prefix}above_chance", "n": 10, "estimate": 0.62, "low": 0.6, "high": 0.64,
             "mde": 0.02, "null": 0.5, "claimed": 0.55},
            {"name": f"{prefix}learned", "n": 10, "estimate": -0.03, "low": -0.05, "high": -0.01,
             "mde": 0.02, "null": 0.0, "claimed": 0.03}]
    rows += [{"name": f"{prefix}pretraining_{c}", "n": 10, "estimate": e + shift, "low": e + shift - 0.02,
              "high": e + shift + 0.02, "mde": 0.03, "null": 0.0, "claimed": 0.0}
             for c, e in (("es", 0.0), ("it", 0.01))]
    for r in rows:
        rule = (verdicts.judge_equivalence(r["low"], r["high"], margin=plan.DELTA) if r["claimed"] == 0
                else verdicts.judge(r["low"], r["high"], claimed=r["claimed"], null=r["null"]))
        r.update(verdict=rule.label, reason=rule.reason, claim=f"claim {r['name']}")
    return pd.DataFrame(rows)


def test_fold_probe_claims():
    folded = claims.fold_probe_claims(chapter_rows("lstm_h_"), prefix="lstm_h_", key="h", label="LSTM h states")
    assert list(folded.columns) == list(claims.COLUMNS)
    got = dict(zip(folded["name"], folded["verdict"]))
    assert got == {"h_above_chance": "reproduced", "h_learned": "contradicted",
                   "h_no_pretraining_effect": "reproduced"}
    row = folded.set_index("name").loc["h_no_pretraining_effect"]
    assert (row["low"], row["high"], row["estimate"]) == pytest.approx((-0.02, 0.03, 0.01))
    moved = claims.fold_probe_claims(chapter_rows("ae_", shift=0.1), prefix="ae_", key="latent", label="code")
    assert moved.set_index("name").loc["latent_no_pretraining_effect", "verdict"] == "contradicted"
    with pytest.raises(ParameterError, match="no claim row lstm_c_above_chance"):
        claims.fold_probe_claims(chapter_rows("lstm_h_"), prefix="lstm_c_", key="c", label="c")


def test_combine_equivalence():
    V = verdicts.Verdict
    ok, no, out, unsure = (V("reproduced", "a"), V("not reproduced", "b"), V("contradicted", "c"),
                           V("inconclusive", "d"))
    assert claims.combine_equivalence([ok, ok], conditions=["x", "y"]).label == "reproduced"
    assert claims.combine_equivalence([ok, unsure], conditions=["x", "y"]).label == "inconclusive"
    assert claims.combine_equivalence([unsure, no], conditions=["x", "y"]).label == "not reproduced"
    v = claims.combine_equivalence([no, out], conditions=["x", "y"])
    assert v.label == "contradicted" and v.reason.startswith("y:")


def test_pairs_needed():
    n = claims.pairs_needed(0.5, sd=1.0)
    assert paired.min_detectable(n=n, sd=1.0) <= 0.5 < paired.min_detectable(n=n - 1, sd=1.0)
    assert claims.pairs_needed(100.0, sd=1.0) == 6     # the sign-flip floor at alpha 0.05
    assert claims.pairs_needed(1e-6, sd=1.0, max_n=50) is None
    with pytest.raises(ParameterError, match="non-zero"):
        claims.pairs_needed(0.0, sd=1.0)


def test_fold_equivalence():
    rows = pd.DataFrame({"condition": ["es", "it"], "n": [10, 9], "estimate": [0.01, -0.03],
                         "low": [-0.02, -0.07], "high": [0.04, 0.01], "mde": [0.03, 0.05],
                         "p": [0.4, 0.2], "verdict": ["reproduced", "inconclusive"],
                         "reason": ["inside", "reaches past"]})
    row = claims.fold_equivalence(rows, claim="no change", name="x")
    assert row["verdict"] == "inconclusive" and row["reason"].startswith("it:")
    assert (row["estimate"], row["low"], row["high"], row["mde"], row["n"]) == (-0.03, -0.07, 0.04, 0.05, 9)
    assert row["p_holm"] == pytest.approx(0.4)             # Holm of (0.4, 0.2): 0.4, 0.4
    assert set(row) == set(claims.COLUMNS)
    with pytest.raises(ParameterError, match="at least one"):
        claims.fold_equivalence(rows.iloc[:0], claim="x", name="x")


def test_combine_equivalence_passes_not_tested_on():
    V = verdicts.Verdict
    v = claims.combine_equivalence([V("reproduced", "a"), V(verdicts.NOT_TESTED, "budget")],
                                   conditions=["x", "y"])
    assert (v.label, v.reason) == (verdicts.NOT_TESTED, "budget")


def test_five_seeds_detect_nothing():
    """With 5 pairs the exact test cannot reach 0.05: the detectable effect is infinite."""
    table = claims.judged_runs(runs({"it": -0.1, "ja": 0.0}, n_seeds=5))
    result = claims.speed_claims(table).set_index("comparison")
    assert np.isinf(result.loc["it vs none", "mde"])
    assert np.isinf(claims.magnitude_claims(table).iloc[0]["mde"])


def probe_results(reps, conditions, *, n_seeds=6, seed=0):
    """A probe table like lstm_probe_experiment's / ae_probe_experiment's (linear binary rows)."""
    rng = np.random.default_rng(seed)
    rows = []
    for rep in reps:
        for c in conditions:
            for s in range(n_seeds):
                v = 0.65 + (0.05 if c == "untrained" else 0.0) + rng.normal(0, 0.01)
                rows.append({"condition": c, "seed": s, "representation": rep, "task": "binary",
                             "probe": "linear", "auc": v, "balanced_accuracy": v - 0.02})
    return pd.DataFrame(rows)


def test_fold_reads_the_chapters_claim_rows():
    """The schemas of Chapters 4 and 5's claim rows fold into the claims table."""
    from langlab import autoencoder, lstm_probes

    lstm = lstm_probes.claim_rows(probe_results(["h", "c"], ["none", "es", "it", "ja", "untrained"]),
                                  conditions=("none", "es", "it", "ja"))
    for rep in ("h", "c"):
        folded = claims.fold_probe_claims(lstm, prefix=f"lstm_{rep}_", key=rep, label=f"LSTM's {rep}")
        assert list(folded["name"]) == [f"{rep}_above_chance", f"{rep}_learned", f"{rep}_no_pretraining_effect"]
        assert set(folded["verdict"]) <= set(verdicts.LABELS)
        assert folded.set_index("name").loc[f"{rep}_learned", "verdict"] == "contradicted"
    ae_rows = autoencoder.claim_rows(probe_results(["latent"], ["none", "it", "untrained"]),
                                     pd.DataFrame({"seed": range(6), "stop_reason": ["plateau"] * 6}))
    folded = claims.fold_probe_claims(ae_rows, prefix="ae_", key="latent", label="autoencoder's code")
    assert len(folded) == 3 and set(folded["verdict"]) <= set(verdicts.LABELS)
