"""How close the pre-training languages are to each other once low-passed (Chapter 3).

The hypothesis behind the original's design is that low-passed Italian resembles low-passed
Spanish more than Japanese does (same rhythm class). Before a pre-training effect can rank
languages by similarity, the corpus must show that ranking. Two measures, both on per-clip
summary statistics of the low-passed pre-training spectrograms (:func:`clip_statistics`:
band levels and their spread, frame-to-frame change, and the modulation spectrum of the
envelope, over each clip's real frames only, so padding length is no cue):

- **pairwise discrimination**: the balanced accuracy of a speaker-grouped, cross-validated
  linear probe (:mod:`langlab.probing`) telling two languages apart; 0.5 means they cannot be
  told apart, so *lower is more similar*;
- **centroid distance**: the distance between two languages' mean statistics (features
  standardised over all clips, divided by the square root of their number).

Intervals come from a bootstrap over speakers of the held-out predictions (every speaker of
the embedded corpus speaks every language, so one resample of speakers serves every pair and
the differences between pairs are paired). :func:`closeness` returns both measures per pair,
:func:`contrasts` the differences that decide whether Spanish and Italian are the closest pair.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from langlab.errors import DataError, check, check_int
from langlab.presets import as_preset

#: The pairs of pre-training languages, in display order.
PAIRS = (("es", "it"), ("es", "ja"), ("it", "ja"))
#: Modulation-frequency bands (Hz) of the envelope spectrum: syllable and mora rates lie
#: around 2-8 Hz.
MODULATION_BANDS = ((0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (4.0, 8.0), (8.0, 16.0))


def band_mask(config, *, factor: float = 2.0) -> np.ndarray:
    """The mel bands whose centre lies below ``factor`` times the low-pass cut-off of
    ``config`` (a :class:`~langlab.features.FeatureConfig`); above it a low-passed clip is
    near-empty."""
    import librosa
    check(config.lowpass_hz is not None, "band_mask needs low-passed features (lowpass_hz set)")
    centres = librosa.mel_frequencies(n_mels=config.n_mels + 2, fmin=config.fmin,
                                      fmax=config.fmax_hz)[1:-1]
    return centres <= factor * config.lowpass_hz


def clip_statistics(S, n_real, *, frame_seconds: float, bands=None) -> np.ndarray:
    """Spectro-temporal summary statistics of each clip over its first ``n_real`` frames.

    Parameters
    ----------
    S : np.ndarray [shape=(n_clips, n_mels, n_frames)]
        Scaled spectrograms.
    n_real : array-like of int [shape=(n_clips,)]
        Frames of each clip that hold audio (the rest is padding), at least 8.
    frame_seconds : float
        Hop between frames in seconds (for the modulation bands).
    bands : array-like of bool, optional
        Mel bands to use (default all; :func:`band_mask` for the low-passed ones).

    Returns
    -------
    np.ndarray [shape=(n_clips, 3 * n_bands + len(MODULATION_BANDS))]
        Per band: mean, standard deviation and mean absolute frame-to-frame change; then the
        share of the envelope's modulation power in each of :data:`MODULATION_BANDS`.
    """
    S = np.asarray(S, dtype=np.float64)
    check(S.ndim == 3, f"S must be [n_clips, n_mels, n_frames], got shape {S.shape}")
    n_real = np.asarray(n_real)
    check(n_real.shape == (S.shape[0],), f"n_real must hold one frame count per clip ({S.shape[0]}), "
          f"got shape {n_real.shape}")
    check(bool(np.all((n_real >= 8) & (n_real <= S.shape[2]))),
          f"n_real must lie in [8, {S.shape[2]}], got {n_real.min()}..{n_real.max()}")
    if bands is not None:
        S = S[:, np.asarray(bands, dtype=bool)]
    n_frames = S.shape[2]
    freqs = np.fft.rfftfreq(n_frames, d=frame_seconds)
    rows = []
    for clip, n in zip(S, n_real.astype(int)):
        x = clip[:, :n]
        envelope = x.mean(axis=0)
        power = np.abs(np.fft.rfft(envelope - envelope.mean(), n=n_frames)) ** 2
        shares = np.array([power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in MODULATION_BANDS])
        shares = shares / max(shares.sum(), 1e-12)
        rows.append(np.concatenate([x.mean(axis=1), x.std(axis=1),
                                    np.abs(np.diff(x, axis=1)).mean(axis=1), shares]))
    return np.asarray(rows)


def pretraining_statistics(preset, *, store=None, data_dir=None):
    """:func:`clip_statistics` of the low-passed pre-training clips of ``preset`` and their table.

    Returns
    -------
    X : np.ndarray [shape=(n_clips, n_features)]
    table : pd.DataFrame
        The clips' ``locale`` and ``client_id`` (speaker), in the order of ``X``.
    """
    from langlab import features
    preset = as_preset(preset)
    low = features.for_preset(preset, lowpass_hz=preset.lstm.pretrain_lowpass_hz, data_dir=data_dir,
                              store=store, progress=False)
    clips = low.where(role="pretrain")
    check(len(clips.table) >= 1, "no pre-training clips in the corpus", DataError)
    S = clips.scaled()
    n_frames = S.shape[2]
    n_real = np.clip(np.round((1 - clips.table["padding_fraction"].to_numpy()) * n_frames),
                     8, n_frames).astype(int)
    X = clip_statistics(S, n_real, frame_seconds=low.config.frame_seconds, bands=band_mask(low.config))
    return X, clips.table[["locale", "client_id"]].reset_index(drop=True)


def _oof_decisions(X, y, groups, *, n_splits: int, n_repeats: int, C: float, seed: int) -> np.ndarray:
    """Held-out decision values (n_repeats, n_clips) of a class-weighted linear probe over
    speaker-grouped folds, a new split per repeat."""
    from langlab.probing import grouped_splits
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC
    out = np.empty((n_repeats, len(y)))
    for r in range(n_repeats):
        for train, test in grouped_splits(y, groups, n_splits=n_splits, seed=seed + r):
            model = make_pipeline(StandardScaler(), LinearSVC(C=C, class_weight="balanced",
                                                              max_iter=20_000, random_state=seed))
            model.fit(X[train], y[train])
            out[r, test] = model.decision_function(X[test])
    return out


def _balanced(pred, y, weight):
    """Balanced accuracy of predictions ``pred`` (..., n) with clip weights (bootstrap counts)."""
    hits = (pred == y)
    per_class = [(hits[..., y == k] * weight[..., y == k]).sum(-1) / weight[..., y == k].sum(-1)
                 for k in (0, 1)]
    return (per_class[0] + per_class[1]) / 2


def _distance(X, weight):
    """Standardised distance between the weighted means of two languages' rows."""
    (Xa, Xb), (wa, wb) = X, weight
    ma = (wa[..., None] * Xa).sum(-2) / wa.sum(-1)[..., None]
    mb = (wb[..., None] * Xb).sum(-2) / wb.sum(-1)[..., None]
    return np.sqrt(((ma - mb) ** 2).mean(-1))


def closeness(X, table: pd.DataFrame, *, pairs=PAIRS, n_splits: int = 5, n_repeats: int = 5,
              n_boot: int = 2000, C: float = 0.1, confidence: float = 0.95,
              seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Pairwise discrimination and centroid distance of languages, with speaker-bootstrap intervals.

    Parameters
    ----------
    X : np.ndarray [shape=(n_clips, n_features)]
        Per-clip statistics (:func:`pretraining_statistics`).
    table : pd.DataFrame
        ``locale`` and ``client_id`` of each row of ``X``.
    pairs : sequence of (str, str)
    n_splits, n_repeats : int
        Speaker-grouped folds, and repetitions of the cross-validation with new folds (the
        balanced accuracy is the mean over repetitions).
    n_boot : int
        Bootstrap resamples of speakers (seeded).
    C : float
        Of the linear SVC (as :class:`langlab.probing.ProbeConfig`).

    Returns
    -------
    table : pd.DataFrame
        One row per pair: ``a``, ``b``, ``balanced_accuracy``, ``bacc_low``, ``bacc_high``,
        ``distance``, ``dist_low``, ``dist_high``.
    draws : dict
        ``{(a, b): (bacc draws, distance draws)}`` over the same speaker resamples, for
        :func:`contrasts`.
    """
    X = np.asarray(X, dtype=float)
    check(isinstance(table, pd.DataFrame) and {"locale", "client_id"} <= set(table.columns)
          and len(table) == len(X), "table must give locale and client_id for every row of X")
    for name, value, low in (("n_splits", n_splits, 2), ("n_repeats", n_repeats, 1), ("n_boot", n_boot, 10)):
        check_int(value, name, minimum=low)
    locales = table["locale"].to_numpy()
    for a, b in pairs:
        for c in (a, b):
            check(np.any(locales == c), f"no clips of locale {c!r} (there: {sorted(set(locales))})", DataError)
    Z = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)
    speakers = np.unique(table["client_id"].to_numpy())
    index = {s: i for i, s in enumerate(speakers)}
    spk = np.array([index[s] for s in table["client_id"]])
    rng = np.random.default_rng(seed)
    counts = np.stack([np.bincount(rng.integers(0, len(speakers), len(speakers)), minlength=len(speakers))
                       for _ in range(n_boot)])          # (n_boot, n_speakers): times drawn
    alpha = (1 - confidence) / 2
    rows, draws = [], {}
    for a, b in pairs:
        keep = np.isin(locales, [a, b])
        y = (locales[keep] == b).astype(int)
        g = table["client_id"].to_numpy()[keep]
        pred = (_oof_decisions(Z[keep], y, g, n_splits=n_splits, n_repeats=n_repeats, C=C,
                               seed=seed) > 0).astype(int)
        w_boot = counts[:, spk[keep]].astype(float)     # (n_boot, n_clips)
        bacc = _balanced(pred, y, np.ones(len(y))).mean()
        bacc_draws = np.stack([_balanced(p, y, w_boot) for p in pred]).mean(0)
        Za, Zb = Z[keep][y == 0], Z[keep][y == 1]
        dist = float(_distance((Za, Zb), (np.ones(len(Za)), np.ones(len(Zb)))))
        dist_draws = _distance((Za, Zb), (w_boot[:, y == 0], w_boot[:, y == 1]))
        draws[(a, b)] = (bacc_draws, dist_draws)
        rows.append({"a": a, "b": b, "balanced_accuracy": float(bacc),
                     "bacc_low": float(np.quantile(bacc_draws, alpha)),
                     "bacc_high": float(np.quantile(bacc_draws, 1 - alpha)),
                     "distance": dist, "dist_low": float(np.quantile(dist_draws, alpha)),
                     "dist_high": float(np.quantile(dist_draws, 1 - alpha))})
    return pd.DataFrame(rows), draws


def contrasts(table: pd.DataFrame, draws: dict, *, close=("es", "it"), confidence: float = 0.95) -> pd.DataFrame:
    """How much farther apart each other pair is than the ``close`` pair, with intervals.

    One row per other pair and measure: ``pair``, ``measure`` (``"balanced_accuracy"`` or
    ``"distance"``), ``difference`` (other pair minus ``close``; positive means the close pair
    is the more similar), ``low``, ``high`` (percentile intervals over the same speaker
    resamples).
    """
    close = tuple(close)
    check(close in draws, f"pair {close!r} is not among the measured pairs {list(draws)}")
    alpha = (1 - confidence) / 2
    by_pair = table.set_index(["a", "b"])
    rows = []
    for pair in [p for p in draws if p != close]:
        for k, (measure, column) in enumerate((("balanced_accuracy", "balanced_accuracy"),
                                               ("distance", "distance"))):
            diff = draws[pair][k] - draws[close][k]
            rows.append({"pair": f"{pair[0]}-{pair[1]}", "measure": measure,
                         "difference": float(by_pair.loc[pair, column] - by_pair.loc[close, column]),
                         "low": float(np.quantile(diff, alpha)), "high": float(np.quantile(diff, 1 - alpha))})
    return pd.DataFrame(rows)


def closest_pair_shown(contrast: pd.DataFrame, *, measure: str = "balanced_accuracy") -> bool:
    """Whether every other pair is shown farther apart than the close pair on ``measure``:
    every interval of :func:`contrasts` lies above zero."""
    part = contrast[contrast["measure"] == measure]
    check(len(part) >= 1, f"no contrasts of measure {measure!r}")
    return bool((part["low"] > 0).all())

