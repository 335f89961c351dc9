"""langlab.verdicts: every branch of the four-word vocabulary, Holm against a hand computation,
edge cases."""
import numpy as np
import pytest

from langlab import verdicts
from langlab.errors import ParameterError


def test_holm_hand_computed():
    # sorted: 0.01 x 4 = 0.04, 0.02 x 3 = 0.06, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> 0.06 (monotone)
    p = [0.03, 0.01, 0.04, 0.02]
    np.testing.assert_allclose(verdicts.holm(p), [0.06, 0.04, 0.06, 0.06])
    # capped at 1, and never below a smaller p-value's adjusted value
    np.testing.assert_allclose(verdicts.holm([0.5, 0.6]), [1.0, 1.0])  # 2 x 0.5, then monotone


def test_holm_agrees_with_statsmodels_formula():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.2, size=7)
    order = np.argsort(p)
    m = len(p)
    expected = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * p[i])
        expected[i] = min(running, 1.0)
    np.testing.assert_allclose(verdicts.holm(p), expected)


def test_holm_edge_cases():
    assert verdicts.holm([]).shape == (0,)
    np.testing.assert_allclose(verdicts.holm([0.2]), [0.2])
    assert np.isnan(verdicts.holm([np.nan, 0.01])[0])
    with pytest.raises(ParameterError, match="1-d"):
        verdicts.holm([[0.1, 0.2]])


def test_all_overlap():
    assert verdicts.all_overlap([(0.1, 0.5), (0.4, 0.9), (0.45, 0.6)])
    assert verdicts.all_overlap([(0.1, 0.5), (0.5, 0.9)])           # touching counts
    assert not verdicts.all_overlap([(0.1, 0.3), (0.4, 0.9)])
    assert not verdicts.all_overlap([(0.1, 0.5), (0.2, 0.6), (0.55, 0.7)])
    with pytest.raises(ParameterError, match="at least one"):
        verdicts.all_overlap([])


# ------------------------------------------------------------------------------------------
# The four-word vocabulary (judge, judge_magnitude, judge_equivalence)
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("low, high, claimed, expected", [
    (0.1, 0.3, 0.2, "reproduced"),           # excludes 0 on the claimed (positive) side
    (0.01, 0.02, 0.2, "reproduced"),         # ... even when it also excludes the claim
    (-0.3, -0.1, 0.2, "contradicted"),
    (-0.1, 0.1, 0.2, "not reproduced"),      # holds 0, excludes 0.2
    (-0.1, 0.3, 0.2, "inconclusive"),        # holds both
    (-0.3, -0.1, -0.2, "reproduced"),        # a negative claim (lower = faster)
    (0.1, 0.3, -0.2, "contradicted"),
    (-0.1, 0.1, -0.2, "not reproduced"),
    (-0.3, 0.1, -0.2, "inconclusive"),
    (0.0, 0.3, 0.2, "inconclusive"),         # closed interval: a bound at 0 holds 0
    (-0.1, 0.2, 0.2, "inconclusive"),        # a bound at the claim holds it
    (0.0, 0.0, 0.2, "not reproduced"),       # degenerate interval at the null
    (0.2, 0.2, 0.2, "reproduced"),           # degenerate interval at the claim
    (-0.5, -0.5, 0.2, "contradicted"),
])
def test_judge_every_branch(low, high, claimed, expected):
    v = verdicts.judge(low, high, claimed=claimed)
    assert v.label == expected and str(v) == expected
    assert v.label in verdicts.LABELS and v.reason


def test_judge_null_other_than_zero():
    # probe scores: null = chance 0.5, claimed = chance + 0.05
    assert verdicts.judge(0.52, 0.6, claimed=0.55, null=0.5).label == "reproduced"
    assert verdicts.judge(0.45, 0.53, claimed=0.55, null=0.5).label == "not reproduced"
    assert verdicts.judge(0.42, 0.48, claimed=0.55, null=0.5).label == "contradicted"
    assert verdicts.judge(0.45, 0.6, claimed=0.55, null=0.5).label == "inconclusive"


@pytest.mark.parametrize("low, high, claimed, null, match", [
    (float("nan"), 0.1, 0.2, 0.0, "low is nan"),
    (0.0, float("inf"), 0.2, 0.0, "high is inf"),
    (0.0, 0.1, float("nan"), 0.0, "claimed is nan"),
    (0.3, 0.1, 0.2, 0.0, "lies above high"),
    (0.0, 0.1, 0.0, 0.0, "equals the null"),
    ("a", 0.1, 0.2, 0.0, "low must be a number"),
])
def test_judge_refuses_what_cannot_be_judged(low, high, claimed, null, match):
    for rule in (verdicts.judge, verdicts.judge_magnitude):
        with pytest.raises(ParameterError, match=match):
            rule(low, high, claimed=claimed, null=null)


@pytest.mark.parametrize("low, high, expected, words", [
    (0.5, 0.7, "reproduced", "holds the claimed"),       # 64 % inside, 0 outside
    (0.1, 0.3, "not reproduced", "smaller"),             # a real but smaller reduction
    (0.7, 0.9, "not reproduced", "larger"),
    (-0.1, 0.2, "not reproduced", "smaller"),            # holds 0, excludes 64 %
    (-0.1, 0.8, "inconclusive", "holds both"),
    (-0.4, -0.1, "contradicted", "opposite"),
    (0.6375, 0.6375, "reproduced", "holds the claimed"),  # degenerate, at the claim
])
def test_judge_magnitude_every_branch(low, high, expected, words):
    v = verdicts.judge_magnitude(low, high, claimed=0.6375)
    assert v.label == expected and words in v.reason


def test_judge_magnitude_negative_claim():
    assert verdicts.judge_magnitude(-0.7, -0.5, claimed=-0.6).label == "reproduced"
    assert verdicts.judge_magnitude(-0.9, -0.7, claimed=-0.6).label == "not reproduced"
    assert verdicts.judge_magnitude(0.1, 0.2, claimed=-0.6).label == "contradicted"


@pytest.mark.parametrize("low, high, expected", [
    (-0.02, 0.03, "reproduced"),
    (0.06, 0.10, "contradicted"),
    (-0.12, -0.05, "contradicted"),          # touching the margin from outside
    (0.01, 0.08, "not reproduced"),          # an effect, of undetermined size
    (-0.08, 0.02, "inconclusive"),
    (-0.05, 0.01, "inconclusive"),           # a bound on the margin is not inside it
])
def test_judge_equivalence_every_branch(low, high, expected):
    assert verdicts.judge_equivalence(low, high, margin=0.05).label == expected


def test_judge_equivalence_errors():
    with pytest.raises(ParameterError, match="margin"):
        verdicts.judge_equivalence(-0.1, 0.1, margin=0)
    with pytest.raises(ParameterError, match="low is nan"):
        verdicts.judge_equivalence(float("nan"), 0.1, margin=0.05)


def test_reasons_in_the_reader_s_units():
    v = verdicts.judge(-0.0231, 0.0053, claimed=-0.05, scale=100, unit=" %")
    assert v.reason == "the interval [-2.31 %, 0.53 %] holds 0 % and excludes the claimed -5 %"
    assert v.label == verdicts.judge(-0.0231, 0.0053, claimed=-0.05).label
    m = verdicts.judge_magnitude(0.5, 0.7, claimed=0.6375, scale=100, unit=" %")
    assert m.reason == "the interval [50 %, 70 %] holds the claimed 63.7 % and excludes 0 %"
    e = verdicts.judge_equivalence(-0.01, 0.02, margin=0.05, scale=100, unit=" pp")
    assert e.reason == "the interval [-1 pp, 2 pp] lies inside 0 pp ± 5 pp"
