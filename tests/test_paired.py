"""langlab.paired: known answers, scipy cross-checks, the detectable effect by simulation,
clear errors for runs that are not paired; langlab.plan's declared structure."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from langlab import paired, plan, verdicts
from langlab.errors import ParameterError


def test_all_positive_five_pairs():
    e = paired.paired_effect([3, 4, 5, 6, 7], [1, 1, 1, 1, 1])
    assert e.n == 5 and e.mean == 4.0
    assert e.p == pytest.approx(2 / 32)            # only all-plus and all-minus are as extreme
    assert math.isinf(e.mde)                       # 5 pairs cannot reach p < 0.05
    assert e.hodges_lehmann == 4.0


def test_sign_flip_matches_scipy_permutation_test():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.3, 1, 9), rng.normal(0, 1, 9)
    ref = st.permutation_test((a, b), lambda x, y, axis: np.mean(x - y, axis=axis),
                              permutation_type="samples", n_resamples=np.inf,
                              alternative="two-sided")
    assert paired.paired_effect(a, b).p == pytest.approx(ref.pvalue)


def test_sign_flip_on_ranks_is_exact_wilcoxon():
    d = np.array([0.4, -1.3, 2.2, 0.9, 1.7, -0.2, 3.1, 1.1])
    signed_ranks = np.sign(d) * st.rankdata(np.abs(d))
    assert paired.sign_flip_p(signed_ranks) == pytest.approx(st.wilcoxon(d, method="exact").pvalue)


def test_interval_is_the_t_interval():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=10), rng.normal(size=10)
    ci = st.ttest_1samp(a - b, 0).confidence_interval(0.9)
    e = paired.paired_effect(a, b, confidence=0.9)
    assert (e.low, e.high) == pytest.approx((ci.low, ci.high))
    assert e.mean == pytest.approx(np.mean(a - b))


def test_hodges_lehmann_walsh_averages():
    assert paired.hodges_lehmann([1, 2, 3]) == 2.0          # 1, 1.5, 2, 2, 2.5, 3
    assert paired.hodges_lehmann([0, 0, 10]) == 2.5         # 0, 0, 0, 5, 5, 10
    assert paired.paired_effect([0, 0, 10], [0, 0, 0]).hodges_lehmann == 2.5


def test_identical_differences():
    e = paired.paired_effect([2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4, 5, 6, 7])
    assert (e.low, e.high) == (1.0, 1.0) and e.mde == 0.0 and e.p == pytest.approx(2 / 128)
    z = paired.paired_effect([1, 2, 3], [1, 2, 3])
    assert z.p == 1.0 and z.mean == 0.0


def test_one_pair_has_no_spread():
    e = paired.paired_effect([2.0], [1.0])
    assert e.mean == 1.0 and all(math.isnan(x) for x in (e.low, e.high, e.p, e.mde))


def test_mde_has_the_stated_power():
    n, sd = 10, 2.0
    mde = paired.min_detectable(n=n, sd=sd, power=0.8, alpha=0.05)
    assert paired.t_power(mde, n=n, sd=sd, alpha=0.05) == pytest.approx(0.8, abs=1e-6)
    # the shortcut (t_crit + t_power) * sd / sqrt(n) is close and a little smaller
    approx = paired.mde_approx(n=n, sd=sd)
    assert approx < mde < 1.05 * approx
    # simulation: t-tests of normal differences with mean mde reject about 80 % of the time
    rng = np.random.default_rng(0)
    d = rng.normal(mde, sd, size=(20_000, n))
    rejected = st.ttest_1samp(d, 0, axis=1).pvalue < 0.05
    assert rejected.mean() == pytest.approx(0.8, abs=0.015)


def test_mde_scales_and_edges():
    assert paired.min_detectable(n=10, sd=4.0) == pytest.approx(2 * paired.min_detectable(n=10, sd=2.0))
    assert math.isinf(paired.min_detectable(n=5, sd=1.0))
    assert math.isfinite(paired.min_detectable(n=6, sd=1.0))       # 2/64 < 0.05
    assert math.isnan(paired.min_detectable(n=1, sd=1.0))
    with pytest.raises(ParameterError, match="power"):
        paired.min_detectable(n=10, sd=1.0, power=1.0)


def test_many_pairs_are_deterministic():
    rng = np.random.default_rng(2)
    d = rng.normal(0.2, 1, 25)
    p1, p2 = paired.sign_flip_p(d), paired.sign_flip_p(d)
    assert p1 == p2 and 0 < p1 <= 1
    assert p1 == pytest.approx(st.ttest_1samp(d, 0).pvalue, abs=0.05)


def test_errors_for_unaligned_input():
    with pytest.raises(ParameterError, match="aligned"):
        paired.paired_effect([1, 2, 3], [1, 2])
    with pytest.raises(ParameterError, match="positions \\[1\\]"):
        paired.paired_effect([1, np.nan, 3], [1, 2, 3])
    with pytest.raises(ParameterError, match=r"only in a \[3\], only in b \[7\]"):
        paired.paired_effect(pd.Series([1.0, 2, 3], index=[1, 2, 3]),
                             pd.Series([1.0, 2, 3], index=[1, 2, 7]))
    with pytest.raises(ParameterError, match="confidence"):
        paired.paired_effect([1, 2], [0, 0], confidence=95)


def test_series_are_aligned_by_seed():
    a = pd.Series([1.0, 2.0, 3.0], index=[0, 1, 2])
    b = pd.Series([0.5, 0.0, 1.0], index=[2, 0, 1])       # another order
    assert paired.paired_effect(a, b).mean == pytest.approx(np.mean([1.0, 1.0, 2.5]))


def results_table(values):
    return pd.DataFrame([{"condition": c, "seed": s, "val_loss_auc": v}
                         for c, vs in values.items() for s, v in enumerate(vs)])


def test_paired_table_rows_and_holm():
    rng = np.random.default_rng(4)
    none = rng.uniform(1, 2, 8)
    results = results_table({"none": none, "it": none - 0.1 - rng.uniform(0, 0.05, 8),
                             "ja": none + rng.normal(0, 0.1, 8)})
    table = paired.paired_table(results, metric="val_loss_auc", pairs=[("it", "none"), ("ja", "none")])
    assert list(table.columns) == ["a", "b", "n", "mean", "low", "high", "hl", "p", "p_holm", "mde"]
    assert table.loc[0, "p"] == pytest.approx(2 / 256) and table.loc[0, "mean"] < 0
    np.testing.assert_allclose(table["p_holm"], verdicts.holm(table["p"]))
    logged = paired.paired_table(results, metric="val_loss_auc", pairs=[("it", "none")], transform=np.log)
    e = paired.paired_effect(np.log(results[results.condition == "it"].val_loss_auc.to_numpy()),
                             np.log(none))
    assert logged.loc[0, "mean"] == pytest.approx(e.mean)


def test_paired_table_names_missing_seeds():
    results = results_table({"none": [1, 2, 3, 4], "it": [1, 2, 3, 4]})
    results = results[~((results.condition == "it") & (results.seed == 2))]
    with pytest.raises(ParameterError, match=r"not paired by seed: seed \[2\] only in 'none'$"):
        paired.paired_table(results, metric="val_loss_auc", pairs=[("it", "none")])
    with pytest.raises(ParameterError, match="no runs of condition 'ja'"):
        paired.paired_table(results, metric="val_loss_auc", pairs=[("ja", "none")])
    doubled = pd.concat([results, results])
    with pytest.raises(ParameterError, match="several runs"):
        paired.paired_table(doubled, metric="val_loss_auc", pairs=[("it", "none")])
    with pytest.raises(ParameterError, match="lacks column"):
        paired.paired_table(results, metric="steps", pairs=[("it", "none")])


def test_plan_is_consistent():
    assert plan.PRIMARY_ENDPOINT == "val_loss_auc" and plan.SECONDARY_ENDPOINT == "steps_to_threshold"
    assert plan.ORIGINAL_REDUCTION == pytest.approx(1 - 58 / 160)
    assert 0 < plan.ALPHA < 1 and 0 < plan.POWER < 1 and 0 < plan.CONFIDENCE < 1
    every_pair = [p for pairs in plan.FAMILIES.values() for p in pairs]
    assert len(every_pair) == len(set(every_pair))          # a comparison in one family only
    for claim in plan.CLAIMS:
        assert plan.family_of(claim.pair) in plan.FAMILIES
        assert claim.claimed < 0                            # lower endpoint = faster: 'helps'
        assert claim.endpoint == plan.PRIMARY_ENDPOINT
    assert plan.log_effect(-plan.MIN_RELATIVE_EFFECT) == pytest.approx(math.log(0.95))
    with pytest.raises(KeyError):
        plan.family_of(("none", "it"))
    # the verdict module's constants are the plan's
    assert (verdicts.ALPHA, verdicts.DELTA, verdicts.CHANCE, verdicts.CONFIDENCE) == (
        plan.ALPHA, plan.DELTA, plan.CHANCE, plan.CONFIDENCE)
