"""Exceptions with messages that name the bad value and what would be right.

Input checks raise these, never bare ``assert`` (which vanishes under ``python -O``). The
``check_*`` helpers are the one convention every config class validates its fields with.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np


class LanglabError(Exception):
    """Base class of every error langlab raises on purpose."""


class ParameterError(LanglabError, ValueError):
    """A parameter has a value that cannot work, e.g. ``hop_length=0``.

    The message names the parameter, the value given and what was expected.
    """


class DataError(LanglabError):
    """Input data (a corpus folder, a TSV, an audio file) is missing or malformed.

    The message names the file and what was expected in it.
    """


def check(condition: bool, message: str, error: type[LanglabError] = ParameterError) -> None:
    """Raise ``error(message)`` unless ``condition`` holds."""
    if not condition:
        raise error(message)


# --------------------------------------------------------------------------------------------
# One validation convention for every config class: a bool is not a number; numpy integers
# and floats are. Each helper returns the value as a plain Python object.
# --------------------------------------------------------------------------------------------
def _is_integer(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _range_text(minimum: float | None, maximum: float | None, *, open_low: bool = False,
                open_high: bool = False) -> str:
    if minimum is not None and maximum is not None:
        return f"in {'(' if open_low else '['}{minimum}, {maximum}{')' if open_high else ']'}"
    if minimum is not None:
        return f"{'>' if open_low else '>='} {minimum}"
    if maximum is not None:
        return f"{'<' if open_high else '<='} {maximum}"
    return ""


def check_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None,
              also: tuple = ()) -> int:
    """``value`` as an int: a Python or numpy integer (not a bool) in ``[minimum, maximum]``,
    or one of the special values ``also`` (such as ``-1`` for "all cores")."""
    if _is_integer(value) and int(value) in also:
        return int(value)
    ok = _is_integer(value) and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if not ok:
        wanted = " ".join(filter(None, ["an integer", _range_text(minimum, maximum)]))
        special = f" or {' or '.join(map(repr, also))}" if also else ""
        raise ParameterError(f"{name} must be {wanted}{special}, got {value!r}")
    return int(value)


def check_number(value: Any, name: str, *, minimum: float | None = None, maximum: float | None = None,
                 open_low: bool = False, open_high: bool = False, unit: str = "") -> float:
    """``value`` as a float: a finite Python or numpy real number (not a bool) between
    ``minimum`` and ``maximum`` (excluded where ``open_low``/``open_high``)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)) \
        and np.isfinite(value)
    if ok and minimum is not None:
        ok = value > minimum if open_low else value >= minimum
    if ok and maximum is not None:
        ok = value < maximum if open_high else value <= maximum
    if not ok:
        wanted = " ".join(filter(None, ["a finite number", unit and f"in {unit}",
                                        _range_text(minimum, maximum, open_low=open_low, open_high=open_high)]))
        raise ParameterError(f"{name} must be {wanted}, got {value!r}")
    return float(value)


def check_bool(value: Any, name: str) -> bool:
    """``value`` as a bool: ``True``/``False`` (or a numpy bool), nothing else."""
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(value: Any, name: str, choices: Iterable) -> Any:
    """``value`` itself if it is one of ``choices``."""
    choices = tuple(choices)
    if not any(value == c and type(value) is type(c) for c in choices):  # noqa: E721 (1 != True)
        raise ParameterError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_tuple(value: Any, name: str, *, item: Callable[[Any, str], Any] | None = None,
                min_len: int = 0, unique: bool = False) -> tuple:
    """``value`` as a tuple (a tuple or list), each element passed through ``item(element,
    f"{name}[i]")``; at least ``min_len`` elements, no repeats when ``unique``."""
    if not isinstance(value, (tuple, list)):
        raise ParameterError(f"{name} must be a tuple, got {value!r}")
    items = tuple(item(v, f"{name}[{i}]") if item else v for i, v in enumerate(value))
    if len(items) < min_len:
        raise ParameterError(f"{name} needs at least {min_len} element(s), got {value!r}")
    if unique and len(set(items)) != len(items):
        raise ParameterError(f"{name} has repeated elements: {value!r}")
    return items


def checked(config: Any, name: str, checker: Callable[..., Any], **kwargs: Any) -> None:
    """Check field ``name`` of a frozen config with ``checker(value, name, **kwargs)`` and keep
    the plain value it returns (``np.int64(3)`` becomes ``3``): how a config's
    ``__post_init__`` validates each field."""
    object.__setattr__(config, name, checker(getattr(config, name), name, **kwargs))
