"""Every config class of every preset follows one validation convention (langlab.errors):
numpy integers are integers (and are kept as plain ints), a bool is not a number."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from langlab.errors import ParameterError
from langlab.presets import PRESET_NAMES, get_preset


def _int_fields():
    cases = []
    for preset in PRESET_NAMES:
        for stage, config in get_preset(preset).stages:
            for field in dataclasses.fields(config):
                value = getattr(config, field.name)
                if isinstance(value, int) and not isinstance(value, bool):
                    cases.append(pytest.param(config, field.name, id=f"{preset}-{stage}-{field.name}"))
    return cases


@pytest.mark.parametrize("config, name", _int_fields())
def test_numpy_integers_are_accepted_and_kept_as_int(config, name):
    value = getattr(config, name)
    changed = dataclasses.replace(config, **{name: np.int64(value)})
    assert getattr(changed, name) == value and type(getattr(changed, name)) is int
    assert changed == config


@pytest.mark.parametrize("config, name", _int_fields())
def test_a_bool_is_not_an_integer(config, name):
    with pytest.raises(ParameterError, match=rf"{name}.* got (True|False)"):
        dataclasses.replace(config, **{name: bool(getattr(config, name) == 1) or True})
