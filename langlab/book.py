"""What the chapters repeat: glue a dict of values, labels and colours, "mean [low, high]", rows.

Every chapter of the book computes results with the pipeline's functions, shows them, and then
glues the numbers its prose quotes (with MyST-NB's ``glue:text`` role). The few helpers that serve that last
step in every chapter live here, so that a chapter's hidden cells hold names and values only:

- :func:`glue_all` glues a dict of values at once, as plain Python numbers, and
  :func:`glue_markdown` a dict of phrases as Markdown;
- :data:`CONDITION_LABELS`, :func:`condition_labels`, :func:`palette` and
  :data:`REPRESENTATION_LABELS`: one name and one colour per pre-training condition and
  representation, the same in every table and figure;
- :func:`ci_text` and :func:`row_ci_text`: "mean [low, high]" with a stated number of decimals;
- :func:`select` and :func:`select_one`: the rows of a results table where columns have given
  values (Chapters 4 to 6).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from langlab.errors import DataError, ParameterError

#: Display name of every pre-training condition and baseline "condition" of the results tables.
CONDITION_LABELS: dict[str, str] = {
    "none": "none", "es": "Spanish", "it": "Italian", "ja": "Japanese",
    "noise": "noise control", "untrained": "untrained", "input": "no network",
}
#: Display name of every probe language.
LANGUAGE_LABELS: dict[str, str] = {"es": "Spanish", "it": "Italian", "ja": "Japanese"}
#: Display name of every probed representation (Chapters 4 to 6).
REPRESENTATION_LABELS: dict[str, str] = {
    "h": "LSTM h", "c": "LSTM c", "h_pooled": "LSTM h, averaged over time",
    "latent": "autoencoder latent", "mel_stats": "band mean and spread (no network)",
    "spectrogram": "spectrogram (no network)",
}
#: Order of the colours: a condition keeps its colour in every figure of the book.
_COLOUR_ORDER = ("none", "es", "it", "ja", "noise", "untrained", "input")


def condition_labels(**overrides: str) -> dict[str, str]:
    """Condition -> display name, with a chapter's own wording for some (Chapters 3 to 6).

    ``condition_labels(untrained="untrained encoder")`` keeps every other name of
    :data:`CONDITION_LABELS`.
    """
    for key, value in overrides.items():
        if not isinstance(value, str):
            raise ParameterError(f"the label of condition {key!r} must be a str, got {value!r}")
    return {**CONDITION_LABELS, **overrides}


def palette(conditions=None) -> dict[str, tuple[float, float, float]]:
    """Condition -> RGB colour from seaborn's colour-blind palette (Chapters 3 and 4).

    A known condition has the same colour whatever else is plotted (``none`` is the palette's
    first colour, ``es`` its second, ...); conditions not in the book's list follow in the
    order given.
    """
    import seaborn as sns

    names = list(_COLOUR_ORDER)
    for condition in conditions or ():
        if condition not in names:
            names.append(str(condition))
    colours = sns.color_palette("colorblind", len(names))
    table = {name: tuple(float(v) for v in colour) for name, colour in zip(names, colours)}
    return {c: table[c] for c in conditions} if conditions is not None else table


def plain(value: Any) -> Any:
    """A numpy scalar as the Python number it holds (``np.float64(0.5)`` -> ``0.5``).

    Anything else is returned as it is. A glued numpy scalar would render as
    ``np.float64(0.5)``, which a ``glue:text`` role with a format such as ``:.2f`` cannot format.
    """
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def glue_all(values: Mapping[str, Any], *, prefix: str = "") -> None:
    """Glue every ``name: value`` of ``values`` for the prose, not displayed (every chapter).

    Numpy scalars become Python numbers first (:func:`plain`); names get ``prefix`` in front.
    """
    from myst_nb import glue

    if not isinstance(values, Mapping):
        raise ParameterError(f"glue_all needs a dict of name: value, got {type(values).__name__}")
    for name, value in values.items():
        if not isinstance(name, str) or not name:
            raise ParameterError(f"glue names must be non-empty strings, got {name!r}")
        glue(f"{prefix}{name}", plain(value), display=False)


def glue_markdown(values: Mapping[str, str], *, prefix: str = "") -> None:
    """Glue every ``name: text`` as Markdown, for the ``glue:md`` role (Chapter 3).

    A computed phrase glued this way reads as part of the sentence around it.
    """
    from IPython.display import Markdown

    if not isinstance(values, Mapping):
        raise ParameterError(f"glue_markdown needs a dict of name: text, got {type(values).__name__}")
    for name, text in values.items():
        if not isinstance(text, str):
            raise ParameterError(f"glue_markdown needs text for {name!r}, got {text!r}")
    glue_all({name: Markdown(text) for name, text in values.items()}, prefix=prefix)


def ci_text(mean: float, low: float, high: float, *, decimals: int = 1, percent: bool = False,
            signed: bool = False) -> str:
    """``"mean [low, high]"`` with ``decimals`` digits, e.g. ``"61.2 [57.3, 65.1]"`` (Chapters 3-6).

    ``percent=True`` multiplies by 100 first (a fraction shown in %); ``signed=True`` writes
    a sign on every number (differences: ``"+1.2 [-0.4, +2.8]"``). Without an interval
    (``low`` or ``high`` NaN, e.g. one seed) only the mean is written.
    """
    if isinstance(decimals, bool) or not isinstance(decimals, (int, np.integer)) or decimals < 0:
        raise ParameterError(f"decimals must be an int >= 0, got {decimals!r}")
    scale = 100.0 if percent else 1.0
    spec = f"{'+' if signed else ''}.{int(decimals)}f"
    numbers = [scale * float(v) for v in (mean, low, high)]
    if math.isnan(numbers[1]) or math.isnan(numbers[2]):
        return f"{numbers[0]:{spec}}"
    return f"{numbers[0]:{spec}} [{numbers[1]:{spec}}, {numbers[2]:{spec}}]"


def row_ci_text(row: Mapping[str, float] | pd.Series, *, decimals: int = 1, percent: bool = False,
                signed: bool = False) -> str:
    """:func:`ci_text` of a summary row with ``mean``, ``ci_low`` and ``ci_high`` entries."""
    missing = [key for key in ("mean", "ci_low", "ci_high") if key not in row]
    if missing:
        raise ParameterError(f"row_ci_text needs a row with mean, ci_low and ci_high; "
                             f"missing {missing}")
    return ci_text(row["mean"], row["ci_low"], row["ci_high"], decimals=decimals, percent=percent,
                   signed=signed)


def select(table: pd.DataFrame, **where: Any) -> pd.DataFrame:
    """The rows of ``table`` whose columns have the given values (Chapters 4 to 6).

    ``select(results, condition="none", task="binary")``; a list, tuple or set as a value
    matches any of its members: ``select(results, representation=["h", "c"])``.
    """
    mask = np.ones(len(table), dtype=bool)
    for column, value in where.items():
        if column not in table.columns:
            raise ParameterError(f"the table has no column {column!r}; it has "
                                 f"{list(table.columns)}")
        if isinstance(value, (list, tuple, set, frozenset)):
            mask &= table[column].isin(list(value)).to_numpy()
        else:
            mask &= (table[column] == value).to_numpy()
    return table[mask]


def select_one(table: pd.DataFrame, **where: Any) -> pd.Series:
    """The one row of ``table`` where the columns have the given values (see :func:`select`).

    Raises :class:`~langlab.errors.DataError` when no row or more than one row matches.
    """
    rows = select(table, **where)
    if len(rows) != 1:
        raise DataError(f"expected one row with {where}, found {len(rows)}")
    return rows.iloc[0]
