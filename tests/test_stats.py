"""langlab.stats.mean_ci: the Student-t interval over seeds used in Chapters 3-5."""
import numpy as np
import pytest
from scipy import stats

from langlab.errors import ParameterError
from langlab.stats import mean_ci


def test_mean_ci_matches_scipy_t_interval():
    values = [0.56, 0.58, 0.55, 0.61, 0.57]
    mean, low, high = mean_ci(values)
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert mean == pytest.approx(np.mean(values)) and (low, high) == pytest.approx((lo, hi))


def test_mean_ci_ignores_nan_and_gives_no_interval_for_one_value():
    assert mean_ci([0.5, np.nan, 0.7])[0] == pytest.approx(0.6)
    mean, low, high = mean_ci([0.5])
    assert mean == 0.5 and np.isnan(low) and np.isnan(high)


@pytest.mark.parametrize("values, confidence, match", [
    ([np.nan], 0.95, "at least one finite value"),
    ([1, 2], 1.0, "confidence must lie in"),
])
def test_mean_ci_rejects_bad_input(values, confidence, match):
    with pytest.raises(ParameterError, match=match):
        mean_ci(values, confidence=confidence)
