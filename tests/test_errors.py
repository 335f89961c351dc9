"""One validation convention (langlab.errors.check_*): a bool is not a number, numpy numbers are."""
import numpy as np
import pytest

from langlab.errors import (ParameterError, check_bool, check_choice, check_int, check_number,
                            check_tuple)


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), np.uint8(3)])
def test_integers_of_every_kind_pass_as_int(value):
    out = check_int(value, "units", minimum=1)
    assert out == 3 and type(out) is int


@pytest.mark.parametrize("value, message", [
    (True, r"units must be an integer >= 1, got True"),
    (np.True_, r"units must be an integer >= 1"),
    (2.0, r"got 2.0"),
    ("2", r"got '2'"),
    (0, r"units must be an integer >= 1, got 0"),
])
def test_int_rejects_bools_floats_and_out_of_range(value, message):
    with pytest.raises(ParameterError, match=message):
        check_int(value, "units", minimum=1)


def test_int_special_values_and_ranges():
    assert check_int(-1, "n_jobs", minimum=1, also=(-1,)) == -1
    with pytest.raises(ParameterError, match=r"n_jobs must be an integer >= 1 or -1, got -2"):
        check_int(-2, "n_jobs", minimum=1, also=(-1,))
    with pytest.raises(ParameterError, match=r"in \[0, 3\]"):
        check_int(4, "k", minimum=0, maximum=3)


@pytest.mark.parametrize("value", [0.5, np.float32(0.5), np.float64(0.5), 1, np.int64(1)])
def test_numbers_of_every_kind_pass_as_float(value):
    out = check_number(value, "rate", minimum=0, maximum=1, open_low=True)
    assert type(out) is float


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), 0, "0.5", None])
def test_number_rejects_bools_non_finite_and_open_bounds(value):
    with pytest.raises(ParameterError, match=r"rate must be a finite number in Hz in \(0, 1\]"):
        check_number(value, "rate", minimum=0, maximum=1, open_low=True, unit="Hz")


def test_bool_choice_and_tuple():
    assert check_bool(np.bool_(True), "flag") is True
    with pytest.raises(ParameterError, match="flag must be True or False, got 1"):
        check_bool(1, "flag")
    assert check_choice("es", "locale", ("es", "it")) == "es"
    with pytest.raises(ParameterError, match=r"locale must be one of 'es', 'it', got 'fr'"):
        check_choice("fr", "locale", ("es", "it"))
    with pytest.raises(ParameterError, match="one of 1, 2, got True"):
        check_choice(True, "k", (1, 2))
    assert check_tuple([np.int64(1), 2], "seeds", item=check_int) == (1, 2)
    with pytest.raises(ParameterError, match=r"seeds\[1\] must be an integer, got True"):
        check_tuple((1, True), "seeds", item=check_int)
    with pytest.raises(ParameterError, match="seeds has repeated elements"):
        check_tuple((1, 1), "seeds", unique=True)
    with pytest.raises(ParameterError, match="at least 1 element"):
        check_tuple((), "seeds", min_len=1)
    with pytest.raises(ParameterError, match="seeds must be a tuple, got 3"):
        check_tuple(3, "seeds")
