"""What the chapters repeat: glue a dict of values, labels and colours, "mean [low, high]", rows.

Every chapter of the book computes results with the pipeline's functions, shows them, and then
glues the numbers its prose quotes (with MyST-NB's ``glue:text`` role). The few helpers that serve that last
step in every chapter live here, so that a chapter's hidden cells hold names and values only:

- :func:`glue_all` glues a dict of values at once, as plain Python numbers, and
  :func:`glue_markdown` a dict of phrases as Markdown;
- :data:`CONDITION_LABELS`, :func:`condition_labels`, :data:`REPRESENTATION_LABELS`,
  :func:`palette` and :func:`representation_palette`: one name and one colour per language,
  pre-training condition and representation, the same in every table and figure, with
  :func:`closest_pair` to check that the colours stay apart for colour-blind readers;
- :func:`player`, :func:`common_gain` and :func:`level_dbfs`: audio players that keep the
  clips' levels;
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
    "noise": "noise control", "shuffled": "frames shuffled", "reversed": "played backwards",
    "en": "English", "untrained": "untrained", "input": "no network",
}
#: Display name of every probe language.
LANGUAGE_LABELS: dict[str, str] = {"es": "Spanish", "it": "Italian", "ja": "Japanese"}
#: Display name of every probed representation (Chapters 4 to 6).
REPRESENTATION_LABELS: dict[str, str] = {
    "h": "LSTM h", "c": "LSTM c", "h_pooled": "LSTM h, averaged over time",
    "latent": "autoencoder latent", "mel_stats": "band mean and spread (no network)",
    "spectrogram": "spectrogram (no network)",
}


def condition_labels(**overrides: str) -> dict[str, str]:
    """Condition -> display name, with a chapter's own wording for some (Chapters 3 to 6).

    ``condition_labels(untrained="untrained encoder")`` keeps every other name of
    :data:`CONDITION_LABELS`.
    """
    for key, value in overrides.items():
        if not isinstance(value, str):
            raise ParameterError(f"the label of condition {key!r} must be a str, got {value!r}")
    return {**CONDITION_LABELS, **overrides}


#: One colour per pre-training condition and language, the same in every figure of the book
#: (hex). Languages take Okabe and Ito's colour-blind-safe colours (Spanish blue and Japanese
#: vermilion, far apart for every kind of colour vision); the controls and the baselines take
#: colours that name no language: black for no pre-training, greys for what holds no language
#: or no training, brown for the input itself. :func:`palette` gives them as RGB.
CONDITION_COLOURS: dict[str, str] = {
    "none": "#000000",       # no pre-training
    "es": "#0072B2",         # Spanish: blue
    "it": "#009E73",         # Italian: bluish green
    "ja": "#D55E00",         # Japanese: vermilion
    "en": "#CC79A7",         # English (Chapter 1's rhythm): reddish purple
    "noise": "#225555",      # speech-shaped noise: dark slate
    "shuffled": "#CCBB44",   # frames of speech in random order: olive
    "reversed": "#56B4E9",   # speech played backwards: sky blue
    "untrained": "#BBBBBB",  # a network with its initial weights: light grey
    "input": "#8C564B",      # no network, the spectrogram's own statistics: brown
}
#: One colour per kind of representation probed (Chapters 4 to 6), none of them a language's.
#: ``h_pooled`` is drawn in ``h``'s colour (it is ``h``, averaged); ``mel_stats`` and
#: ``untrained`` keep the colours of the baselines they are (``input``, ``untrained``).
REPRESENTATION_COLOURS: dict[str, str] = {
    "h": "#AA3377",          # LSTM hidden state: wine
    "c": "#332288",          # LSTM cell state: indigo
    "h_pooled": "#AA3377",
    "latent": "#663333",     # autoencoder latent: dark red-brown
    "mel_stats": CONDITION_COLOURS["input"],
    "spectrogram": "#777777",
    "untrained": CONDITION_COLOURS["untrained"],
}
#: Colours for conditions the book does not list (registered in a notebook or a test), given
#: out in order of first use; none is a colour above.
SPARE_COLOURS: tuple[str, ...] = ("#EE7733", "#6A3D9A", "#FB9A99", "#B2DF8A", "#A6CEE3", "#CC3311")
_spare_given: dict[str, str] = {}


def rgb(colour: str) -> tuple[float, float, float]:
    """``"#0072B2"`` -> ``(0.0, 0.447, 0.698)``: a hex colour as matplotlib's RGB triple."""
    text = str(colour).lstrip("#")
    if len(text) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in text):
        raise ParameterError(f"a colour must be written #RRGGBB, got {colour!r}")
    return tuple(int(text[i:i + 2], 16) / 255 for i in (0, 2, 4))


def palette(conditions=None) -> dict[str, tuple[float, float, float]]:
    """Condition or language -> RGB colour, the same in every figure (Chapters 1 to 6).

    Colours come from :data:`CONDITION_COLOURS`; ``palette()`` gives all of them. A
    condition the book does not list gets the next of :data:`SPARE_COLOURS` and keeps it for
    the rest of the session, so it never takes another condition's colour.
    """
    if conditions is None:
        return {name: rgb(colour) for name, colour in CONDITION_COLOURS.items()}
    table = {}
    for condition in conditions:
        name = str(condition)
        if name in CONDITION_COLOURS:
            table[name] = rgb(CONDITION_COLOURS[name])
            continue
        if name not in _spare_given:
            if len(_spare_given) == len(SPARE_COLOURS):
                raise ParameterError(
                    f"no colour left for condition {name!r}: the book's conditions are "
                    f"{sorted(CONDITION_COLOURS)}, and the spare colours went to "
                    f"{sorted(_spare_given)}; add it to langlab.book.CONDITION_COLOURS")
            _spare_given[name] = SPARE_COLOURS[len(_spare_given)]
        table[name] = rgb(_spare_given[name])
    return table


def representation_palette(representations=None) -> dict[str, tuple[float, float, float]]:
    """Representation kind -> RGB colour (``"h"``, ``"c"``, ``"latent"``, ...; Chapters 4 to 6).

    No representation takes a language's colour (see :data:`REPRESENTATION_COLOURS`).
    """
    names = list(REPRESENTATION_COLOURS) if representations is None else list(representations)
    unknown = [name for name in names if name not in REPRESENTATION_COLOURS]
    if unknown:
        raise ParameterError(f"no colour for representation(s) {unknown}; the book's are "
                             f"{list(REPRESENTATION_COLOURS)}")
    return {name: rgb(REPRESENTATION_COLOURS[name]) for name in names}


#: Colour vision as simulated by Machado, Oliveira and Fernandes (2009) at full severity
#: (linear-RGB matrices): people without working L (protan), M (deutan) or S (tritan) cones.
VISION: dict[str, np.ndarray] = {
    "normal": np.eye(3),
    "protan": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                        [-0.003882, -0.048116, 1.051998]]),
    "deutan": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                        [-0.011820, 0.042940, 0.968881]]),
    "tritan": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                        [0.004733, 0.691367, 0.303900]]),
}


def _linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _lab(linear: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of linear sRGB."""
    to_xyz = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                       [0.0193339, 0.1191920, 0.9503041]])
    xyz = linear @ to_xyz.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                     200 * (f[..., 1] - f[..., 2])], axis=-1)


def lab(colours, *, vision: str = "normal") -> np.ndarray:
    """CIELAB coordinates of hex or RGB ``colours`` as seen with ``vision`` (see :data:`VISION`)."""
    if vision not in VISION:
        raise ParameterError(f"vision must be one of {list(VISION)}, got {vision!r}")
    srgb = np.array([rgb(c) if isinstance(c, str) else tuple(c)[:3] for c in colours], float)
    seen = np.clip(_linear(srgb) @ VISION[vision].T, 0.0, 1.0)
    return _lab(seen)


def delta_e(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference of CIELAB colours (broadcast; about 1 = just noticeable)."""
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, float), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, float), -1, 0)
    c_mean7 = ((np.hypot(a1, b1) + np.hypot(a2, b2)) / 2) ** 7
    g = 0.5 * (1 - np.sqrt(c_mean7 / (c_mean7 + 25.0 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    chroma0 = c1p * c2p == 0
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(chroma0, 0.0, dh)
    dL, dC = L2 - L1, c2p - c1p
    dH = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    L_mean, c_mean = (L1 + L2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_mean = np.where(chroma0, h_sum, np.where(np.abs(h1p - h2p) <= 180, h_sum / 2,
                                               np.where(h_sum < 360, (h_sum + 360) / 2,
                                                        (h_sum - 360) / 2)))
    t = (1 - 0.17 * np.cos(np.radians(h_mean - 30)) + 0.24 * np.cos(np.radians(2 * h_mean))
         + 0.32 * np.cos(np.radians(3 * h_mean + 6)) - 0.20 * np.cos(np.radians(4 * h_mean - 63)))
    s_L = 1 + 0.015 * (L_mean - 50) ** 2 / np.sqrt(20 + (L_mean - 50) ** 2)
    s_C, s_H = 1 + 0.045 * c_mean, 1 + 0.015 * c_mean * t
    rotation = (-np.sin(np.radians(60 * np.exp(-(((h_mean - 275) / 25) ** 2))))
                * 2 * np.sqrt(c_mean ** 7 / (c_mean ** 7 + 25.0 ** 7)))
    return np.sqrt((dL / s_L) ** 2 + (dC / s_C) ** 2 + (dH / s_H) ** 2
                   + rotation * (dC / s_C) * (dH / s_H))


def closest_pair(colours: Mapping[str, Any], *, others: Mapping[str, Any] | None = None
                 ) -> tuple[float, str, str, str]:
    """The least distinct pair of ``colours`` for any kind of colour vision (:data:`VISION`).

    Returns ``(CIEDE2000 difference, name, name, vision)``. With ``others``, only pairs of
    one colour of ``colours`` and one of ``others`` count. Used by the tests of the palette.
    """
    names = list(colours)
    second = names if others is None else list(others)
    values = {**dict(colours), **dict(others or {})}
    worst = (math.inf, "", "", "")
    for vision in VISION:
        lab_of = dict(zip(values, lab(list(values.values()), vision=vision)))
        for i, a in enumerate(names):
            for b in (second[i + 1:] if others is None else second):
                if a == b:
                    continue
                d = float(delta_e(lab_of[a], lab_of[b]))
                if d < worst[0]:
                    worst = (d, a, b, vision)
    return worst


def level_dbfs(y) -> float:
    """RMS level of a signal in dB re full scale (a full-scale sine is -3 dBFS; silence -inf)."""
    y = np.asarray(y, dtype=float)
    if y.size == 0:
        raise ParameterError("level_dbfs needs a signal with samples, got an empty one")
    rms = float(np.sqrt(np.mean(y ** 2)))
    return 20 * math.log10(rms) if rms > 0 else -math.inf


def common_gain(signals, *, headroom_db: float = 1.0) -> float:
    """The one gain in dB that plays every signal of ``signals`` without clipping (Chapters 1, 2).

    0 dB when the loudest peak is already ``headroom_db`` below full scale; otherwise the
    (negative) gain that brings it there. Played with one gain, clips keep their levels
    relative to each other, which a player that normalises every clip to its own peak hides.
    """
    peaks = [float(np.max(np.abs(np.asarray(y, dtype=float)))) for y in signals if np.size(y)]
    if not peaks:
        raise ParameterError("common_gain needs at least one signal with samples")
    if headroom_db < 0:
        raise ParameterError(f"headroom_db must be >= 0, got {headroom_db!r}")
    loudest = max(peaks)
    if not np.isfinite(loudest):
        raise ParameterError("a signal holds NaN or infinite samples")
    limit = 10 ** (-headroom_db / 20)
    return 0.0 if loudest <= limit else 20 * math.log10(limit / loudest)


def player(y, *, sr: int, gain_db: float = 0.0):
    """An audio player that plays ``y`` at its own level times ``gain_db`` (Chapters 1 and 2).

    IPython's ``Audio`` scales every clip to full scale by default, so a quiet clip and a loud
    one sound alike; here nothing is normalised (``normalize=False``), and a signal that the
    gain would push beyond full scale raises :class:`~langlab.errors.ParameterError` instead
    of being clipped (pick the gain with :func:`common_gain`).
    """
    from IPython.display import Audio

    y = np.asarray(y, dtype=float)
    if y.ndim != 1 or y.size == 0:
        raise ParameterError(f"player needs a 1-D signal with samples, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ParameterError("player got NaN or infinite samples")
    scaled = y * 10 ** (gain_db / 20)
    peak = float(np.max(np.abs(scaled)))
    if peak > 1.0:
        raise ParameterError(f"the signal peaks at {peak:.3f} of full scale with gain {gain_db:+.1f} dB; "
                             f"lower the gain to {gain_db + 20 * math.log10(1 / peak):+.1f} dB or "
                             "less (see langlab.book.common_gain)")
    return Audio(scaled, rate=int(sr), normalize=False)


def mel_image(ax, S, *, features, cmap: str = "magma", vmin: float = 0.0, vmax: float = 1.0):
    """Draw the mel spectrogram ``S`` (``[n_mels, n_frames]``) on ``ax`` with its frequency axis
    in Hz on a mel scale and time in seconds, as every chapter's spectrogram figures do
    (Chapters 2-5). ``features`` is the :class:`langlab.features.FeatureConfig` that made ``S``.
    Returns the image, for a colourbar."""
    import librosa.display

    S = np.asarray(S)
    if S.ndim != 2 or S.shape[0] != features.n_mels:
        raise ParameterError(f"mel_image needs a [n_mels={features.n_mels}, n_frames] array, "
                             f"got shape {S.shape}")
    image = librosa.display.specshow(S, sr=features.sr, hop_length=features.hop_length,
                                     fmin=features.fmin, fmax=features.fmax_hz, x_axis="time",
                                     y_axis="mel", ax=ax, cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set(xlabel="time (s)", ylabel="frequency (Hz, mel scale)")
    return image


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
