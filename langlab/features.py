"""Mel spectrograms: the original's preprocessing, done fast, in a resumable store (Chapter 2).

Every clip goes through the same steps as in the original study, one frozen
:class:`FeatureConfig` holding every parameter:

1. **Fixed length.** Decode, mix down and resample to ``sr`` (:func:`langlab.audio.load_audio`),
   keep the first ``duration`` seconds and zero-pad shorter clips
   (:func:`langlab.audio.fix_length`). How much of each clip is padding is recorded
   (``padding_fraction``).
2. **Low-pass (optional).** A Butterworth low-pass of order ``lowpass_order`` at ``lowpass_hz``,
   as second-order sections, run forward and backward (:func:`lowpass`, zero phase, so the
   magnitude response is applied twice).
3. **Mel spectrogram.** Power STFT (Hann window ``n_fft``, hop ``hop_length``, centred frames
   padded with zeros, as :func:`librosa.stft`) times a mel filterbank computed once
   (:func:`mel_filterbank`, :func:`librosa.filters.mel`): ``S`` [n_mels, n_frames].
4. **Decibels.** ``S_db = 10 log10(S / ref)``, floored ``top_db`` below the clip's maximum
   (:func:`power_to_db`). With ``ref="min"`` (the original's ``ref=np.min``) the reference is
   the clip's own quietest bin, so every value is >= 0 dB *relative to that bin* and says
   nothing about how loud the clip was; the reference level is kept in the table
   (``ref_db``) so absolute levels can be recovered.
5. **Scaling for training** (:meth:`FeatureSet.scaled`): by default each spectrogram is
   min-max scaled to [0, 1] on its own, like the original; ``mode="global"`` maps one fixed dB
   range of the whole feature set to [0, 1] instead (see :func:`scale_global`, Chapter 2).

Silence
-------
The original meant to drop empty clips with a threshold on mean intensity, but the check had
no effect. Here a *frame* is silent when its level (Hann-weighted mean power of the unfiltered
waveform, in dB re full scale) is below ``silence_abs_db`` (digital silence, padding, very quiet
recordings) or within ``silence_margin_db`` of the clip's noise floor (the
``silence_floor_percentile`` percentile of the levels of its non-padding frames, so a clip of
room noise alone is silent throughout). A *clip* is silent (``is_silent``) when more than
``max_silent_fraction`` of its frames, padding included, are silent. The rule is computed before
the low-pass, so the full-band and low-passed feature sets flag the same clips.
:meth:`FeatureSet.where` leaves silent clips out unless asked.

The store
---------
:func:`extract` writes one store entry (stage ``"features"``) keyed by the clip table, the
config and this module's code: ``S_db.npy`` (float32 [n_clips, n_mels, n_frames], loaded
memory-mapped), ``table.csv`` (one row per clip, aligned with ``S_db``), ``skipped.csv`` and the
manifest (config, clip list, skipped clips with reasons, timings). Work is done in shards of
:data:`SHARD_SIZE` clips by joblib worker processes; each finished shard is saved atomically in
the entry's ``partial()`` folder, so an interrupted extraction resumes where it stopped and ends
byte-identical to an uninterrupted one.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from langlab.errors import DataError, LanglabError, ParameterError, check
from langlab.presets import as_preset
from langlab.store import Entry, Store, atomic_save_npy, atomic_write_json, default_store, stable_hash

__all__ = ["FeatureConfig", "PRESETS", "FeatureSet", "SHARD_SIZE", "STAGE", "check_audio",
           "lowpass_sos", "lowpass", "mel_filterbank", "stft_power", "melspectrogram",
           "power_to_db", "frame_levels", "silence", "waveform_features", "scale_minmax",
           "scale_global", "mel_band_edges", "mel_bands_below", "original_mel", "extract", "for_preset",
           "load"]

#: Store stage of a feature set.
STAGE = "features"
#: Clips per shard: the unit of parallel work, of progress and of resumption.
SHARD_SIZE = 32
#: Modules whose source is part of a feature entry's key.
CODE = ("langlab.features", "langlab.audio")
#: Columns :func:`extract` adds to the clip table.
FEATURE_COLUMNS = ("padding_fraction", "silent_fraction", "is_silent", "ref_db", "peak_db")
#: Largest float32 array (bytes) one STFT batch may create; bounds the memory of a worker.
_BATCH_BYTES = 16 * 2**20
#: Clips a worker turns into spectrograms at once (a constant: results must not depend on timing).
_CLIPS_PER_BATCH = 8


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)) \
        and math.isfinite(float(value))


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Every parameter of the mel pipeline (Chapter 2). Checked when created.

    Parameters
    ----------
    sr : int
        Sample rate in Hz the clips are resampled to (the original: 22 050).
    duration : float
        Seconds kept of every clip (the first ones; shorter clips are zero-padded).
    n_fft : int
        STFT window length in samples (Hann window); at most ``duration * sr``.
    hop_length : int
        Samples between frames, 1 <= ``hop_length`` <= ``n_fft``.
    n_mels : int
        Mel bands. Too many for ``n_fft`` leaves mel filters without any FFT bin: an error.
    fmin, fmax : float, float or None
        Lowest and highest frequency of the mel filterbank in Hz; ``fmax=None`` is ``sr / 2``.
    lowpass_hz : float or None
        Cut-off of the zero-phase Butterworth low-pass in Hz, below ``sr / 2``; None: full band.
    lowpass_order : int
        Order of the Butterworth filter (the original: 4). Run forward and backward, the
        magnitude response is squared (-6 dB at the cut-off, twice the roll-off).
    ref : "min", "max" or float
        dB reference: the clip's quietest bin (``"min"``, the original's ``ref=np.min``), its
        loudest (``"max"``: values <= 0 dB), or a fixed power.
    amin : float
        Powers below ``amin`` are taken as ``amin`` (``log10(0)`` is undefined).
    top_db : float or None
        Values more than ``top_db`` below the clip's maximum are raised to that floor; None: no
        floor.
    silence_abs_db : float
        A frame quieter than this (dB re full scale) is silent.
    silence_margin_db : float
        A frame within this many dB of the clip's noise floor is silent.
    silence_floor_percentile : float
        The noise floor is this percentile (0-100) of the levels of the clip's non-padding frames.
    max_silent_fraction : float
        A clip with more silent frames than this fraction (padding included) is silent.
    scaling : "clip" or "global"
        Default of :meth:`FeatureSet.scaled`: per-clip min-max (the original) or one dB range
        for the whole set. Not part of the store key (scaling happens when loading).

    Attributes
    ----------
    n_samples : int
        ``round(duration * sr)``, samples per fixed-length clip.
    n_frames : int
        ``1 + n_samples // hop_length``, frames per spectrogram (centred frames).
    """

    sr: int = 16000
    duration: float = 3.0
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 40
    fmin: float = 0.0
    fmax: float | None = None
    lowpass_hz: float | None = None
    lowpass_order: int = 4
    ref: str | float = "min"
    amin: float = 1e-10
    top_db: float | None = 80.0
    silence_abs_db: float = -60.0
    silence_margin_db: float = 6.0
    silence_floor_percentile: float = 5.0
    max_silent_fraction: float = 0.5
    scaling: str = "clip"

    def __post_init__(self):
        check(_is_int(self.sr) and self.sr > 0, f"sr must be a positive integer in Hz, got {self.sr!r}")
        check(_is_number(self.duration) and self.duration > 0,
              f"duration must be a positive number of seconds, got {self.duration!r}")
        n_samples = self.n_samples
        check(n_samples >= 1, f"duration={self.duration!r} s at sr={self.sr} gives no samples")
        check(_is_int(self.n_fft) and self.n_fft >= 2,
              f"n_fft must be an integer >= 2 (samples per STFT window), got {self.n_fft!r}")
        check(self.n_fft <= n_samples,
              f"n_fft={self.n_fft} is longer than the clip: duration={self.duration} s at sr={self.sr} "
              f"gives {n_samples} samples; use n_fft <= {n_samples} or a longer duration")
        check(_is_int(self.hop_length) and self.hop_length > 0,
              f"hop_length must be a positive integer (samples between frames), got {self.hop_length!r}")
        check(self.hop_length <= self.n_fft,
              f"hop_length={self.hop_length} is larger than n_fft={self.n_fft}: samples between windows "
              "would never be analysed; use hop_length <= n_fft")
        check(_is_int(self.n_mels) and self.n_mels >= 1, f"n_mels must be a positive integer, got {self.n_mels!r}")
        nyquist = self.sr / 2
        check(_is_number(self.fmin) and 0 <= self.fmin < nyquist,
              f"fmin must be >= 0 Hz and below the Nyquist frequency sr/2 = {nyquist:g} Hz, got {self.fmin!r}")
        check(self.fmax is None or (_is_number(self.fmax) and self.fmin < self.fmax <= nyquist),
              f"fmax must be None (= sr/2) or in ({self.fmin:g}, {nyquist:g}] Hz (above fmin, at most the "
              f"Nyquist frequency sr/2), got {self.fmax!r}")
        check(self.lowpass_hz is None or (_is_number(self.lowpass_hz) and 0 < self.lowpass_hz < nyquist),
              f"lowpass_hz must be None (full band) or a cut-off in Hz between 0 and the Nyquist frequency "
              f"sr/2 = {nyquist:g} Hz (exclusive), got {self.lowpass_hz!r}")
        check(_is_int(self.lowpass_order) and 1 <= self.lowpass_order <= 12,
              f"lowpass_order must be an integer from 1 to 12, got {self.lowpass_order!r}")
        check(self.ref in ("min", "max") or (_is_number(self.ref) and self.ref > 0),
              f"ref must be 'min', 'max' or a positive power, got {self.ref!r}")
        check(_is_number(self.amin) and self.amin > 0, f"amin must be a positive number, got {self.amin!r}")
        check(self.top_db is None or (_is_number(self.top_db) and self.top_db > 0),
              f"top_db must be None or a positive number of dB, got {self.top_db!r}")
        check(_is_number(self.silence_abs_db) and self.silence_abs_db <= 0,
              f"silence_abs_db must be a level in dB re full scale (<= 0), got {self.silence_abs_db!r}")
        check(_is_number(self.silence_margin_db) and self.silence_margin_db >= 0,
              f"silence_margin_db must be >= 0 dB, got {self.silence_margin_db!r}")
        check(_is_number(self.silence_floor_percentile) and 0 <= self.silence_floor_percentile <= 100,
              f"silence_floor_percentile must be in [0, 100], got {self.silence_floor_percentile!r}")
        check(_is_number(self.max_silent_fraction) and 0 < self.max_silent_fraction <= 1,
              f"max_silent_fraction must be in (0, 1], got {self.max_silent_fraction!r}")
        check(self.scaling in ("clip", "global"),
              f"scaling must be 'clip' (per-clip min-max) or 'global' (one dB range), got {self.scaling!r}")
        empty = _empty_mel_filters(self.sr, self.n_fft, self.n_mels, float(self.fmin), self.fmax_hz)
        if empty:
            best = _max_n_mels(self.sr, self.n_fft, float(self.fmin), self.fmax_hz)
            raise ParameterError(
                f"n_mels={self.n_mels} is too many for n_fft={self.n_fft} at sr={self.sr} Hz "
                f"({self.fmin:g}-{self.fmax_hz:g} Hz): {empty} mel filter(s) would contain no FFT bin "
                f"(bins are {self.sr / self.n_fft:.1f} Hz apart); use n_mels <= {best} or a larger n_fft")

    @property
    def n_samples(self) -> int:
        """Samples per fixed-length clip, ``round(duration * sr)``."""
        return int(round(float(self.duration) * int(self.sr)))

    @property
    def n_frames(self) -> int:
        """Frames per spectrogram, ``1 + n_samples // hop_length`` (centred frames, like librosa)."""
        return 1 + self.n_samples // self.hop_length

    @property
    def n_freqs(self) -> int:
        """FFT bins per frame, ``1 + n_fft // 2``."""
        return 1 + self.n_fft // 2

    @property
    def fmax_hz(self) -> float:
        """``fmax``, or ``sr / 2`` when it is None."""
        return float(self.fmax) if self.fmax is not None else self.sr / 2

    @property
    def frame_seconds(self) -> float:
        """Seconds between frames, ``hop_length / sr``."""
        return self.hop_length / self.sr

    def with_lowpass(self, lowpass_hz: float | None) -> "FeatureConfig":
        """The same config with another low-pass cut-off (None: full band)."""
        return dataclasses.replace(self, lowpass_hz=None if lowpass_hz is None else float(lowpass_hz))


@functools.lru_cache(maxsize=64)
def _mel_matrix(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    import librosa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa warns on empty filters; we raise instead
        fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    fb = np.ascontiguousarray(fb, dtype=np.float32)
    fb.setflags(write=False)
    return fb


def _empty_mel_filters(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> int:
    fb = _mel_matrix(int(sr), int(n_fft), int(n_mels), float(fmin), float(fmax))
    return int((fb.max(axis=1) <= 0).sum())


def _max_n_mels(sr: int, n_fft: int, fmin: float, fmax: float) -> int:
    lo, hi = 1, 1 + n_fft // 2  # more mel filters than FFT bins can never work
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _empty_mel_filters(sr, n_fft, mid, fmin, fmax):
            hi = mid - 1
        else:
            lo = mid
    return lo


PRESETS = {
    # Tiny, for tests: 8 kHz, 1.5 s, 16 ms hops, 20 mels: 20 x 94 spectrograms.
    "smoke": FeatureConfig(sr=8000, duration=1.5, n_fft=256, hop_length=128, n_mels=20),
    # The book: 16 kHz (telephone-wideband speech keeps everything below 8 kHz), the first 3 s
    # (the embedded corpus's clips last about 3.2 s, so little padding), 64 ms windows, 16 ms
    # hops, 40 mels: 40 x 188 spectrograms, about 7x fewer numbers than the paper's 128 x 216,
    # so that the LSTM chapter can train dozens of runs on a laptop CPU.
    "book": FeatureConfig(sr=16000, duration=3.0, n_fft=1024, hop_length=256, n_mels=40, fmax=8000.0),
    # The original study: 22 050 Hz, 5 s, n_fft 2048, hop 512 (23 ms), 128 mels up to sr/2, dB
    # re the clip's quietest bin. The original applied amplitude_to_db (20 log10, top_db 80) to a
    # *power* spectrogram, which keeps 40 dB of power range: top_db=40 on power dB gives the
    # same values after min-max scaling (S_db itself is half the original's numbers).
    "paper": FeatureConfig(sr=22050, duration=5.0, n_fft=2048, hop_length=512, n_mels=128, fmin=0.0,
                           fmax=11025.0, ref="min", top_db=40.0),
}
#: The original's low-pass: 500 Hz, order 4 (``PRESETS[name].with_lowpass(PAPER_LOWPASS_HZ)``).
PAPER_LOWPASS_HZ = 500.0


# --------------------------------------------------------------------------------------------
# Array-level steps (each works on one waveform [n] or a batch [..., n])
# --------------------------------------------------------------------------------------------
def check_audio(y: Any, *, name: str = "y") -> np.ndarray:
    """``y`` as a float32 array, after checking it is a finite floating-point waveform.

    Raises
    ------
    langlab.errors.ParameterError
        If ``y`` is not floating point (integer PCM must be scaled to [-1, 1] first), is empty,
        or holds NaN or infinite samples (the message says how many and where the first is).
    """
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.floating):
        raise ParameterError(f"{name} has dtype {y.dtype}; audio must be floating point in [-1, 1] "
                             f"(convert integer PCM first, e.g. y / 32768 for int16)")
    check(y.ndim >= 1 and y.shape[-1] > 0, f"{name} must hold at least one sample, got shape {y.shape}")
    finite = np.isfinite(y)
    if not finite.all():
        bad = np.flatnonzero(~finite.reshape(-1))
        first = np.unravel_index(bad[0], y.shape)
        raise ParameterError(f"{name} has {bad.size} non-finite sample(s) (NaN or inf), the first at "
                             f"index {tuple(int(i) for i in first) if y.ndim > 1 else int(first[0])} "
                             f"(value {y[first]}); audio must be finite")
    return y.astype(np.float32, copy=False)


def lowpass_sos(*, sr: int, cutoff_hz: float, order: int = 4) -> np.ndarray:
    """Butterworth low-pass as second-order sections ``[n_sections, 6]`` (Chapter 2)."""
    from scipy import signal

    check(_is_number(cutoff_hz) and 0 < cutoff_hz < sr / 2,
          f"cutoff_hz must be between 0 and the Nyquist frequency sr/2 = {sr / 2:g} Hz, got {cutoff_hz!r}")
    return signal.butter(int(order), float(cutoff_hz), btype="low", fs=sr, output="sos")


def lowpass(y: np.ndarray, *, sr: int, cutoff_hz: float, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth low-pass of ``y`` along its last axis (Chapter 2).

    The filter (order ``order``, second-order sections) runs forward and backward
    (:func:`scipy.signal.sosfiltfilt`), so there is no delay and the magnitude response is
    applied twice: -6 dB at ``cutoff_hz``, then falling about ``12 * order`` dB per octave.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)]
        Waveform(s), float.
    sr : int
        Sample rate in Hz.
    cutoff_hz : float
        Cut-off in Hz, below ``sr / 2`` (the original: 500).
    order : int
        Order of the Butterworth filter (the original: 4).

    Returns
    -------
    np.ndarray [shape=(..., n)] float32
    """
    from scipy import signal

    y = check_audio(y)
    sos = lowpass_sos(sr=sr, cutoff_hz=cutoff_hz, order=order)
    return signal.sosfiltfilt(sos, y, axis=-1).astype(np.float32)


def mel_filterbank(*, config: FeatureConfig) -> np.ndarray:
    """The mel filterbank ``[n_mels, 1 + n_fft // 2]`` (Slaney mel scale and area normalisation,
    :func:`librosa.filters.mel`), computed once per configuration (Chapter 2). Read-only."""
    return _mel_matrix(config.sr, config.n_fft, config.n_mels, float(config.fmin), config.fmax_hz)


@functools.lru_cache(maxsize=16)
def _hann(n_fft: int) -> np.ndarray:
    from scipy import signal

    w = signal.get_window("hann", n_fft, fftbins=True).astype(np.float32)  # periodic, as librosa
    w.setflags(write=False)
    return w


def _frames(y: np.ndarray, *, n_fft: int, hop_length: int) -> np.ndarray:
    """Centred frames ``[..., n_frames, n_fft]`` of ``y`` padded with n_fft // 2 zeros each side (a view)."""
    pad = [(0, 0)] * (y.ndim - 1) + [(n_fft // 2, n_fft // 2)]
    yp = np.pad(y, pad)
    return np.lib.stride_tricks.sliding_window_view(yp, n_fft, axis=-1)[..., ::hop_length, :]


def _rows_per_batch(n_frames: int, n_fft: int) -> int:
    return max(1, _BATCH_BYTES // (4 * n_frames * (n_fft + 2)))


def stft_power(y: np.ndarray, *, n_fft: int, hop_length: int) -> np.ndarray:
    """Power spectrogram ``|STFT|**2`` with a periodic Hann window and centred, zero-padded
    frames, as ``np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length)) ** 2``.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)]

    Returns
    -------
    S : np.ndarray [shape=(..., 1 + n_fft // 2, 1 + n // hop_length)] float32
    """
    from scipy import fft

    y = check_audio(y)
    frames = _frames(y, n_fft=n_fft, hop_length=hop_length) * _hann(n_fft)
    X = fft.rfft(frames, axis=-1)
    return np.swapaxes(X.real ** 2 + X.imag ** 2, -1, -2)


def _filter_blocks(fb: np.ndarray, *, group: int = 16) -> list[tuple[int, int, int, int, np.ndarray]]:
    """Split the filterbank ``[n_mels, n_freqs]`` into groups of ``group`` consecutive filters,
    each with the range of FFT bins where it is non-zero: ``(m0, m1, k0, k1, weights[k0:k1, m0:m1])``.
    Mel filters are narrow, so ``P @ fb.T`` by blocks costs a fraction of the dense product
    (the bins left out have weight exactly 0)."""
    blocks = []
    for m0 in range(0, fb.shape[0], group):
        m1 = min(m0 + group, fb.shape[0])
        nz = np.flatnonzero(fb[m0:m1].max(axis=0) > 0)
        k0, k1 = (int(nz[0]), int(nz[-1]) + 1) if len(nz) else (0, 1)
        blocks.append((m0, m1, k0, k1, np.ascontiguousarray(fb[m0:m1, k0:k1].T)))
    return blocks


def _mel_power(y2d: np.ndarray, *, n_fft: int, hop_length: int, fb: np.ndarray,
               n_active: np.ndarray | None = None) -> np.ndarray:
    """Mel power ``[b, n_mels, n_frames]`` of a batch ``[b, n]`` (float32), in memory-bounded steps.

    ``n_active[i]``: frames of row ``i`` that can hold a non-zero sample; later frames lie in
    zero padding, have zero power and are not transformed.
    """
    from scipy import fft

    b, n = y2d.shape
    n_frames = 1 + n // hop_length
    out = np.zeros((b, fb.shape[0], n_frames), dtype=np.float32)
    window = _hann(n_fft)
    step = _rows_per_batch(n_frames, n_fft)
    blocks = _filter_blocks(fb)
    for i in range(0, b, step):
        T = n_frames if n_active is None else int(max(n_active[i:i + step]))
        if T <= 0:
            continue
        frames = _frames(y2d[i:i + step], n_fft=n_fft, hop_length=hop_length)[:, :T] * window
        X = fft.rfft(frames, axis=-1)  # [b, T, F] complex64
        parts = X.view(np.float32)  # real and imaginary parts, interleaved
        np.square(parts, out=parts)
        P = parts[..., 0::2] + parts[..., 1::2]  # |X| ** 2, [b, T, n_freqs]
        P2 = P.reshape(-1, P.shape[-1])
        S = np.empty((P2.shape[0], fb.shape[0]), dtype=np.float32)
        for m0, m1, k0, k1, W in blocks:  # each group of filters only sees the bins it covers
            S[:, m0:m1] = P2[:, k0:k1] @ W
        out[i:i + step, :, :T] = np.swapaxes(S.reshape(P.shape[0], T, -1), -1, -2)
    return out


def melspectrogram(y: np.ndarray, *, config: FeatureConfig) -> np.ndarray:
    """Mel power spectrogram of ``y`` (no low-pass, no dB; Chapter 2).

    Equal (up to float32 rounding) to ``librosa.feature.melspectrogram(y=y, sr=config.sr,
    n_fft=config.n_fft, hop_length=config.hop_length, n_mels=config.n_mels, fmin=config.fmin,
    fmax=config.fmax_hz)``, but with the filterbank computed once and many clips at a time.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)]
        Waveform(s) at ``config.sr``, float.

    Returns
    -------
    S : np.ndarray [shape=(..., n_mels, 1 + n // hop_length)] float32
    """
    y = check_audio(y)
    S = _mel_power(y.reshape(-1, y.shape[-1]), n_fft=config.n_fft, hop_length=config.hop_length,
                   fb=mel_filterbank(config=config))
    return S.reshape(*y.shape[:-1], *S.shape[1:])


def power_to_db(S: np.ndarray, *, ref: str | float = "min", amin: float = 1e-10,
                top_db: float | None = 80.0) -> tuple[np.ndarray, np.ndarray]:
    """Power to decibels, one reference per spectrogram (Chapter 2).

    ``S_db = 10 log10(max(S, amin)) - 10 log10(max(ref, amin))``, then values more than
    ``top_db`` below the spectrogram's maximum are raised to that floor, like
    :func:`librosa.power_to_db`, applied to each ``[n_mels, n_frames]`` spectrogram of a batch.

    Parameters
    ----------
    S : np.ndarray [shape=(..., n_mels, n_frames)]
        Power (mel) spectrogram(s), >= 0.
    ref : "min", "max" or float
        ``"min"``: each spectrogram's quietest bin (the original's ``ref=np.min``), so every
        value is >= 0 dB relative to it; ``"max"``: its loudest bin (values <= 0 dB); a number:
        a fixed power, the same for all.
    amin : float
        Powers below ``amin`` count as ``amin``.
    top_db : float or None
        Floor this many dB below each spectrogram's maximum; None: no floor.

    Returns
    -------
    S_db : np.ndarray [shape=S.shape] float32
        Decibels re ``ref``.
    ref_db : np.ndarray [shape=S.shape[:-2]] float32
        ``10 log10(max(ref, amin))`` of each spectrogram: ``S_db + ref_db`` is dB re power 1.
    """
    S = np.asarray(S)
    check(S.ndim >= 2, f"S must be [..., n_mels, n_frames], got shape {S.shape}")
    check(not np.any(S < 0), "S must be a power spectrogram (>= 0); got negative values")
    log = 10.0 * np.log10(np.maximum(S, np.float32(amin), dtype=np.float32))
    if ref == "min":
        ref_db = log.min(axis=(-2, -1))
    elif ref == "max":
        ref_db = log.max(axis=(-2, -1))
    else:
        check(_is_number(ref) and ref > 0, f"ref must be 'min', 'max' or a positive power, got {ref!r}")
        ref_db = np.full(S.shape[:-2], 10.0 * np.log10(max(float(ref), amin)))
    S_db = log - ref_db[..., None, None]
    if top_db is not None:
        check(top_db > 0, f"top_db must be positive, got {top_db!r}")
        S_db = np.maximum(S_db, S_db.max(axis=(-2, -1), keepdims=True) - top_db)
    return S_db.astype(np.float32), np.asarray(ref_db, dtype=np.float32)


def frame_levels(y: np.ndarray, *, config: FeatureConfig) -> np.ndarray:
    """Level of every spectrogram frame in dB re full scale (Chapter 2, the silence rule).

    The mean power of the ``n_fft`` samples centred on each frame (the same frames as the
    spectrogram; the clip is taken as zero outside): a full-scale sine gives about -3 dB,
    digital silence ``10 log10(amin)``.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)]
        Waveform(s) at ``config.sr``.
    config : FeatureConfig
        Its ``n_fft``, ``hop_length`` and ``amin``.

    Returns
    -------
    levels_db : np.ndarray [shape=(..., 1 + n // hop_length)] float32
    """
    y = check_audio(y)
    return _frame_levels(y.reshape(-1, y.shape[-1]), config).reshape(*y.shape[:-1], -1)


def _frame_levels(y2d: np.ndarray, config: FeatureConfig) -> np.ndarray:
    b, n = y2d.shape
    hop, half = config.hop_length, config.n_fft // 2
    n_frames = 1 + n // hop
    t = np.arange(n_frames)
    if config.n_fft % (2 * hop) == 0:  # windows are whole hop-sized blocks: sum blocks, then windows
        k = half // hop
        n_blocks = -(-n // hop)
        sq = np.zeros((b, n_blocks * hop), dtype=np.float32)
        np.square(y2d, out=sq[:, :n])
        blocks = sq.reshape(b, n_blocks, hop).sum(axis=2, dtype=np.float64)
        cum = np.zeros((b, n_blocks + 1))
        np.cumsum(blocks, axis=1, out=cum[:, 1:])
        energy = cum[:, np.minimum(t + k, n_blocks)] - cum[:, np.maximum(t - k, 0)]
    else:
        cum = np.zeros((b, n + 1))
        np.cumsum(np.square(y2d, dtype=np.float64), axis=1, out=cum[:, 1:])
        centres = t * hop
        energy = cum[:, np.clip(centres - half + config.n_fft, 0, n)] - cum[:, np.clip(centres - half, 0, n)]
    power = np.maximum(energy / config.n_fft, config.amin)
    return (10.0 * np.log10(power)).astype(np.float32)


def silence(levels_db: np.ndarray, *, n_real: int | np.ndarray | None = None,
            config: FeatureConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The silence rule (see the module docstring; Chapter 2).

    Parameters
    ----------
    levels_db : np.ndarray [shape=(..., n_frames)]
        Frame levels from :func:`frame_levels`.
    n_real : int, array [shape=levels_db.shape[:-1]] or None
        Samples of real audio at the start of each clip (the rest is padding); None: no padding.
    config : FeatureConfig
        Its ``silence_*`` fields, ``max_silent_fraction``, ``hop_length`` and ``amin``.

    Returns
    -------
    silent : np.ndarray [shape=levels_db.shape] bool
        Which frames are silent.
    silent_fraction : np.ndarray [shape=levels_db.shape[:-1]] float
        Fraction of silent frames, padding included.
    is_silent : np.ndarray [shape=levels_db.shape[:-1]] bool
        ``silent_fraction > config.max_silent_fraction``.
    """
    levels = np.asarray(levels_db, dtype=np.float64)
    n_frames = levels.shape[-1]
    centres = np.arange(n_frames) * config.hop_length  # sample at the centre of each frame
    if n_real is None:
        real = np.ones(levels.shape, dtype=bool)
    else:
        real = centres < np.asarray(n_real)[..., None]
    real = np.broadcast_to(real, levels.shape)
    masked = np.where(real, levels, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-padding clips: no floor
        floor = np.nanpercentile(masked, config.silence_floor_percentile, axis=-1)
    floor = np.where(np.isfinite(floor), floor, 10.0 * np.log10(config.amin))
    silent = (levels < config.silence_abs_db) | (levels <= floor[..., None] + config.silence_margin_db) | ~real
    fraction = silent.mean(axis=-1)
    return silent, fraction, fraction > config.max_silent_fraction


def _tail_samples(sos: np.ndarray, *, tol: float = 1e-15) -> int:
    """Samples after which the filter's impulse response has decayed below ``tol`` (from its
    slowest pole), so zero-phase filtering may stop that far after a clip's last sample."""
    radius = max(float(np.max(np.abs(np.roots([1.0, a1, a2])))) for _, _, _, _, a1, a2 in sos)
    if radius >= 1.0:
        return 2**62
    return int(math.ceil(math.log(tol) / math.log(radius))) + 64


@functools.lru_cache(maxsize=16)
def _sosfiltfilt_setup(sos_bytes: bytes, n_sections: int) -> tuple[np.ndarray, np.ndarray, int]:
    from scipy import signal

    sos = np.frombuffer(sos_bytes, dtype=np.float64).reshape(n_sections, 6).copy()
    zi = signal.sosfilt_zi(sos)  # [n_sections, 2], the costly part of scipy's sosfiltfilt
    # scipy's default edge padding for sosfiltfilt
    padlen = 3 * (2 * n_sections + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum())))
    return sos, zi, padlen


def _sosfiltfilt(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``scipy.signal.sosfiltfilt(sos, x, axis=-1)`` for ``x`` [b, n] (same padding and initial
    conditions, same result), with the filter's steady state computed once, not per call."""
    from scipy import signal

    sos, zi, padlen = _sosfiltfilt_setup(np.ascontiguousarray(sos, dtype=np.float64).tobytes(), len(sos))
    x = np.asarray(x, dtype=np.float64)
    ext = np.concatenate([2 * x[:, :1] - x[:, padlen:0:-1], x, 2 * x[:, -1:] - x[:, -2:-padlen - 2:-1]], axis=1)
    z0 = zi[:, None, :] * ext[None, :, :1]  # [n_sections, b, 2]
    fwd, _ = signal.sosfilt(sos, ext, axis=-1, zi=z0)
    back = fwd[:, ::-1]
    bwd, _ = signal.sosfilt(sos, back, axis=-1, zi=zi[:, None, :] * back[None, :, :1])
    return bwd[:, ::-1][:, padlen:-padlen]


def _lowpass_rows(Y: np.ndarray, n_nonzero: np.ndarray, sos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sosfiltfilt`` of each row of ``Y`` [b, n] whose samples from ``n_nonzero`` on are zero.

    The filtered signal beyond ``n_nonzero + tail`` is below 1e-15 of the signal (see
    :func:`_tail_samples`), far under any power floor, so only that part is filtered and the
    rest stays exactly zero. Same result as filtering whole rows, minus the work on padding.
    Returns the filtered rows (float32) and their new non-zero lengths.
    """
    b, n = Y.shape
    padlen = _sosfiltfilt_setup(np.ascontiguousarray(sos, dtype=np.float64).tobytes(), len(sos))[2]
    ends = np.minimum(n_nonzero + _tail_samples(sos), n)
    ends = np.where(ends <= padlen + 1, n, ends)  # too short for sosfiltfilt's edge padding
    out = np.zeros((b, n), dtype=np.float32)
    full = np.flatnonzero(ends == n)
    if len(full):
        out[full] = _sosfiltfilt(sos, Y[full])
    for i in np.flatnonzero(ends < n):
        out[i, :ends[i]] = _sosfiltfilt(sos, Y[i:i + 1, :ends[i]])[0]
    return out, ends


def waveform_features(y: np.ndarray, *, config: FeatureConfig, n_real: int | Sequence[int] | None = None,
                      _fb: np.ndarray | None = None, _sos: np.ndarray | None = None
                      ) -> tuple[np.ndarray, pd.DataFrame]:
    """The whole pipeline after loading: fixed-length waveforms to ``S_db`` and the per-clip
    silence and level columns (Chapter 2).

    Parameters
    ----------
    y : np.ndarray [shape=(n_clips, config.n_samples)] or [shape=(config.n_samples,)]
        Fixed-length waveforms at ``config.sr`` (see :func:`langlab.audio.fix_length`).
    n_real : int, sequence of int or None
        Samples of real audio in each waveform (the rest is padding); None: all real.

    Returns
    -------
    S_db : np.ndarray [shape=(n_clips, n_mels, n_frames)] float32
        (without the first axis for a single waveform)
    info : pandas.DataFrame
        One row per clip: ``padding_fraction``, ``silent_fraction``, ``is_silent``, ``ref_db``
        (dB re power 1 of the reference), ``peak_db`` (the loudest bin, dB re power 1).
    """
    y = check_audio(y)
    single = y.ndim == 1
    Y = y[None] if single else y
    check(Y.ndim == 2 and Y.shape[1] == config.n_samples,
          f"y must be [n_clips, {config.n_samples}] (duration {config.duration} s at {config.sr} Hz), "
          f"got shape {y.shape}; cut or pad it with langlab.audio.fix_length")
    n = Y.shape[1]
    n_real = np.full(len(Y), n) if n_real is None else np.broadcast_to(np.asarray(n_real), (len(Y),))
    check(bool(np.all((n_real >= 0) & (n_real <= n))), f"n_real must be between 0 and {n}, got {n_real}")
    levels = _frame_levels(Y, config)
    _, fraction, is_silent = silence(levels, n_real=n_real, config=config)
    # Samples after n_real are zero padding (unless they are not: then use the whole row).
    n_nonzero = np.array([r if not np.any(row[r:]) else n for row, r in zip(Y, n_real)], dtype=np.int64)
    if config.lowpass_hz is not None:
        sos = _sos if _sos is not None else lowpass_sos(sr=config.sr, cutoff_hz=config.lowpass_hz,
                                                        order=config.lowpass_order)
        Y, n_nonzero = _lowpass_rows(Y, n_nonzero, sos)
    fb = _fb if _fb is not None else mel_filterbank(config=config)
    n_active = np.minimum(-(-(n_nonzero + config.n_fft // 2) // config.hop_length), config.n_frames)
    S = _mel_power(Y, n_fft=config.n_fft, hop_length=config.hop_length, fb=fb, n_active=n_active)
    S_db, ref_db = power_to_db(S, ref=config.ref, amin=config.amin, top_db=config.top_db)
    peak_db = ref_db + S_db.max(axis=(-2, -1))
    info = pd.DataFrame({"padding_fraction": 1.0 - n_real / n, "silent_fraction": fraction.astype(np.float64),
                         "is_silent": is_silent.astype(bool), "ref_db": ref_db.astype(np.float64),
                         "peak_db": peak_db.astype(np.float64)})
    return (S_db[0], info) if single else (S_db, info)


def scale_minmax(S_db: np.ndarray, *, time_major: bool = False) -> np.ndarray:
    """Min-max scale each spectrogram of ``S_db`` [n_clips, n_mels, n_frames] to [0, 1] on its
    own (the original's scaling). A constant spectrogram becomes all zeros.

    Parameters
    ----------
    S_db : np.ndarray [shape=(n_clips, n_mels, n_frames)] or [shape=(n_mels, n_frames)]
        May be a read-only memory map; it is not changed.
    time_major : bool
        Return ``[n_clips, n_frames, n_mels]`` (frames as rows, what a recurrent network reads;
        ``.reshape(-1, n_mels)`` then concatenates all clips along time without a copy).

    Returns
    -------
    np.ndarray float32
        A new array, ``[n_clips, n_mels, n_frames]`` or, with ``time_major``, ``[n_clips,
        n_frames, n_mels]``.
    """
    S_db = np.asarray(S_db)
    check(S_db.ndim in (2, 3), f"S_db must be [n_clips, n_mels, n_frames] or [n_mels, n_frames], "
                               f"got shape {S_db.shape}")
    single = S_db.ndim == 2
    src = S_db[None] if single else S_db
    n, n_mels, n_frames = src.shape
    out = np.empty((n, n_frames, n_mels) if time_major else src.shape, dtype=np.float32)
    step = max(1, 2**19 // max(1, n_mels * n_frames))  # a few MB at a time: each chunk stays in cache
    for i in range(0, n, step):
        chunk = np.array(src[i:i + step], dtype=np.float32)
        flat = chunk.reshape(len(chunk), -1)
        lo = flat.min(axis=1, keepdims=True)
        span = flat.max(axis=1, keepdims=True) - lo
        flat -= lo
        flat *= np.divide(1.0, span, out=np.zeros_like(span), where=span > 0)
        out[i:i + step] = chunk.transpose(0, 2, 1) if time_major else chunk
    return out[0] if single else out


def scale_global(S_db_abs: np.ndarray, *, db_range: tuple[float, float]) -> np.ndarray:
    """Map one fixed dB range ``(lo, hi)`` to [0, 1] for every spectrogram, clipping outside it.

    Unlike :func:`scale_minmax`, loud and quiet clips keep their difference, and a low-passed
    clip's empty upper bands stay near 0 instead of being stretched by the clip's own range
    (Chapter 2). ``S_db_abs`` must share one reference (e.g. dB re power 1:
    ``S_db + ref_db``, see :meth:`FeatureSet.scaled`).
    """
    lo, hi = (float(v) for v in db_range)
    check(hi > lo, f"db_range must be (lo, hi) with hi > lo, got {db_range!r}")
    S = (np.asarray(S_db_abs, dtype=np.float32) - np.float32(lo)) / np.float32(hi - lo)
    return np.clip(S, 0.0, 1.0, out=S)


def mel_band_edges(*, config: FeatureConfig) -> np.ndarray:
    """Frequencies (Hz) of the mel filters: ``[n_mels, 3]`` lower edge, centre, upper edge."""
    import librosa

    f = librosa.mel_frequencies(n_mels=config.n_mels + 2, fmin=config.fmin, fmax=config.fmax_hz)
    return np.stack([f[:-2], f[1:-1], f[2:]], axis=1)


def mel_bands_below(hz: float, *, config: FeatureConfig, edge: str = "centre") -> int:
    """How many mel bands lie below ``hz``: by their centre frequency (``edge="centre"``) or
    entirely (``edge="upper"``). The original: 19 of 128 bands have their centre below 500 Hz."""
    check(edge in ("centre", "upper"), f"edge must be 'centre' or 'upper', got {edge!r}")
    edges = mel_band_edges(config=config)
    return int((edges[:, 1 if edge == "centre" else 2] < hz).sum())


# --------------------------------------------------------------------------------------------
# The original's per-clip code, as a baseline
# --------------------------------------------------------------------------------------------
def original_mel(path: str | os.PathLike, *, lowpass: bool = True) -> np.ndarray:
    """The original study's per-clip preprocessing, re-implemented as a baseline (Chapter 2).

    One clip at a time with the original's fixed parameters: :func:`librosa.load` at 22 050 Hz
    mono, the first 5 s (:func:`librosa.util.fix_length`), optionally a 4th-order Butterworth
    low-pass at 500 Hz run forward and backward (``scipy.signal.filtfilt``), a mel spectrogram
    of 128 bands (``n_fft=2048``, ``hop_length=512``), then :func:`librosa.amplitude_to_db`
    with ``ref=np.min`` applied to that *power* spectrogram, as the original did. After min-max
    scaling the ``paper`` preset gives the same spectrograms (a test checks it); the benchmarks
    time :func:`extract` against a loop over this function.

    Parameters
    ----------
    path : str or os.PathLike
        An audio file that librosa can read.
    lowpass : bool
        Low-pass the clip first, like the original's pre-training clips.

    Returns
    -------
    S_db : np.ndarray [shape=(128, 216)]
        Decibels relative to the clip's quietest bin.
    """
    import librosa
    from scipy import signal

    sr = 22050
    y, _ = librosa.load(path, sr=sr)
    y = librosa.util.fix_length(y, size=5 * sr)
    if lowpass:
        b, a = signal.butter(4, 500, btype="low", fs=sr)
        y = signal.filtfilt(b, a, y)
    S = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=128, n_fft=2048, hop_length=512)
    return librosa.amplitude_to_db(S, ref=np.min)


# --------------------------------------------------------------------------------------------
# The feature set
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class FeatureSet:
    """Spectrograms of a clip table, aligned row by row (Chapter 2).

    Attributes
    ----------
    S_db : np.ndarray [shape=(n_clips, n_mels, n_frames)] float32
        dB spectrograms (a read-only memory map when loaded from the store).
    table : pandas.DataFrame
        One row per spectrogram: the clip table's columns (``path``, ``locale``, ``client_id``,
        ``role``, ...) plus ``padding_fraction``, ``silent_fraction``, ``is_silent``, ``ref_db``,
        ``peak_db``; index 0..n_clips-1.
    skipped : pandas.DataFrame
        ``path``, ``reason``: clips that could not be turned into spectrograms.
    config : FeatureConfig
        The parameters the spectrograms were computed with.
    key : str
        Store key (use ``inputs=[features.key]`` downstream).
    db_range : tuple of float or None
        The ``(lo, hi)`` range in dB re power 1 that ``scaled(mode="global")`` maps to [0, 1]:
        the whole entry's loudest bin and ``top_db`` below it, shared by every subset.
    path : Path or None
        The store entry's folder.
    """

    S_db: np.ndarray
    table: pd.DataFrame
    skipped: pd.DataFrame
    config: FeatureConfig
    key: str
    db_range: tuple[float, float] | None = None
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        return (f"FeatureSet({len(self)} clips, S_db {tuple(self.S_db.shape)}, "
                f"{int(self.table['is_silent'].sum()) if 'is_silent' in self.table else 0} silent, "
                f"{len(self.skipped)} skipped, key={self.key!r})")

    def where(self, *, role: str | Sequence[str] | None = None, locale: str | Sequence[str] | None = None,
              include_silent: bool = False) -> "FeatureSet":
        """The clips with the given role(s) and locale(s); silent clips are left out unless
        ``include_silent``. Rows keep their order; the result's index is 0..n-1."""
        keep = np.ones(len(self.table), dtype=bool)
        if role is not None:
            check("role" in self.table, "this feature set has no 'role' column (it was not made from Clips)")
            keep &= self.table["role"].isin([role] if isinstance(role, str) else list(role)).to_numpy()
        if locale is not None:
            keep &= self.table["locale"].isin([locale] if isinstance(locale, str) else list(locale)).to_numpy()
        if not include_silent and "is_silent" in self.table:
            keep &= ~self.table["is_silent"].to_numpy(dtype=bool)
        idx = np.flatnonzero(keep)
        if len(idx) == len(self.table):
            return self
        if len(idx) and idx[-1] - idx[0] + 1 == len(idx):  # contiguous: keep the memory map
            S = self.S_db[idx[0]: idx[-1] + 1]
        else:
            S = np.asarray(self.S_db[idx])
        return dataclasses.replace(self, S_db=S, table=self.table.iloc[idx].reset_index(drop=True))

    def scaled(self, *, mode: str | None = None, db_range: tuple[float, float] | None = None,
               time_major: bool = False) -> np.ndarray:
        """The spectrograms scaled to [0, 1] for training: float32 [n_clips, n_mels, n_frames]
        (``[n_clips, n_frames, n_mels]`` with ``time_major=True``).

        Parameters
        ----------
        mode : "clip", "global" or None
            ``"clip"``: each spectrogram min-max scaled on its own (the original; every clip
            spans exactly [0, 1] whatever its loudness or bandwidth). ``"global"``: absolute
            levels (``S_db + ref_db``) mapped through one range for all clips
            (:func:`scale_global`). None: ``config.scaling``.
        db_range : (lo, hi) or None
            For ``"global"``: the range; default :attr:`db_range` (the whole entry's).
        time_major : bool
            Frames as rows: ``[n_clips, n_frames, n_mels]``, what a recurrent network reads.
        """
        mode = mode or self.config.scaling
        check(mode in ("clip", "global"), f"mode must be 'clip' or 'global', got {mode!r}")
        if mode == "clip":
            return scale_minmax(self.S_db, time_major=time_major)
        rng = db_range or self.db_range
        check(rng is not None, "no db_range for global scaling; pass db_range=(lo, hi) in dB re power 1")
        ref = self.table["ref_db"].to_numpy(dtype=np.float32)[:, None, None]
        S = scale_global(np.asarray(self.S_db, dtype=np.float32) + ref, db_range=rng)
        return np.ascontiguousarray(S.transpose(0, 2, 1)) if time_major else S

    def manifest(self) -> dict:
        """The store entry's manifest (config, clip list, skipped clips, timings)."""
        import json

        check(self.path is not None, "this feature set is not stored")
        return json.loads((Path(self.path) / "manifest.json").read_text())


# --------------------------------------------------------------------------------------------
# Extraction into the store
# --------------------------------------------------------------------------------------------
def _load_clip(path: str, config: FeatureConfig) -> tuple[np.ndarray, int]:
    from langlab import audio

    y = audio.load_audio(path, sr=config.sr, duration=config.duration)
    try:
        check_audio(y, name="decoded audio")
    except ParameterError as exc:
        raise audio.AudioError(path, str(exc).replace("decoded audio ", "the decoded audio ")) from None
    y, n_padded = audio.fix_length(y, n_samples=config.n_samples)
    return y, config.n_samples - n_padded


def _extract_shard(paths: Sequence[str], config: FeatureConfig, fb: np.ndarray, sos: np.ndarray | None
                   ) -> tuple[np.ndarray, dict]:
    """Worker: spectrograms of the decodable clips of one shard, plus per-clip info."""
    from langlab import audio

    started = time.perf_counter()
    ys, n_real, ok, errors = [], [], [], []
    for i, path in enumerate(paths):
        try:
            y, n = _load_clip(path, config)
        except audio.AudioError as exc:
            errors.append([i, exc.reason])
            continue
        except LanglabError as exc:
            errors.append([i, str(exc)])
            continue
        ys.append(y)
        n_real.append(n)
        ok.append(i)
    loaded = time.perf_counter()
    if ys:
        from threadpoolctl import threadpool_limits

        S_db = np.empty((len(ys), config.n_mels, config.n_frames), dtype=np.float32)
        infos = []
        with threadpool_limits(limits=1):  # one BLAS thread: the same bits whatever the worker count
            for j in range(0, len(ys), _CLIPS_PER_BATCH):  # small batches: arrays stay small, memory is reused
                S_db[j:j + _CLIPS_PER_BATCH], part = waveform_features(
                    np.stack(ys[j:j + _CLIPS_PER_BATCH]), config=config, n_real=n_real[j:j + _CLIPS_PER_BATCH],
                    _fb=fb, _sos=sos)
                infos.append(part)
        info = pd.concat(infos, ignore_index=True)
    else:
        S_db = np.zeros((0, config.n_mels, config.n_frames), dtype=np.float32)
        info = pd.DataFrame({c: [] for c in FEATURE_COLUMNS})
    done = time.perf_counter()
    meta = {"rows": ok, "errors": errors, "info": {c: info[c].tolist() for c in FEATURE_COLUMNS},
            "load_seconds": loaded - started, "compute_seconds": done - loaded}
    return S_db, meta


def _table_source(clips_or_table) -> tuple[pd.DataFrame, Path | None, list[str], pd.DataFrame]:
    """(table, root, inputs, upstream skipped) of a Clips or a plain DataFrame."""
    if isinstance(clips_or_table, pd.DataFrame):
        table = clips_or_table
        check("path" in table.columns, "the clip table needs a 'path' column of audio files")
        return table.reset_index(drop=True), None, [], pd.DataFrame(columns=["path", "reason"])
    table = getattr(clips_or_table, "table", None)
    check(isinstance(table, pd.DataFrame) and "path" in table.columns,
          f"clips must be corpus.Clips or a DataFrame with a 'path' column, got {type(clips_or_table).__name__}")
    skipped = getattr(clips_or_table, "skipped", None)
    skipped = skipped[["path", "reason"]] if isinstance(skipped, pd.DataFrame) and len(skipped) \
        else pd.DataFrame(columns=["path", "reason"])
    root = getattr(clips_or_table, "root", None)
    return table.reset_index(drop=True), (Path(root) if root is not None else None), \
        [str(clips_or_table.key)], skipped


def _rel(path: str, root: Path | None) -> str:
    if root is None:
        return str(path)
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _selection_id(table: pd.DataFrame, root: Path | None) -> dict:
    """What identifies the selected clips: their paths (relative to the corpus root), plus file
    sizes and times when there is no corpus key to vouch for them."""
    rel = [_rel(p, root) for p in table["path"]]
    if root is not None:
        return {"clips": stable_hash(rel, 32), "n": len(rel)}
    stats = []
    for p in table["path"]:
        try:
            st = os.stat(p)
            stats.append([str(p), st.st_size, st.st_mtime_ns])
        except OSError:
            stats.append([str(p), -1, -1])
    return {"clips": stable_hash(stats, 32), "n": len(rel)}


def _store_config(config: FeatureConfig) -> FeatureConfig:
    """The config as it keys the store: scaling happens at load time, so it is left out."""
    return dataclasses.replace(config, scaling="clip")


def _column_types(table: pd.DataFrame) -> dict[str, str]:
    kinds = {}
    for col in table.columns:
        dtype = table[col].dtype
        if pd.api.types.is_bool_dtype(dtype):
            kinds[col] = "bool"
        elif pd.api.types.is_integer_dtype(dtype):
            kinds[col] = "int64"
        elif pd.api.types.is_float_dtype(dtype):
            kinds[col] = "float64"
        else:
            kinds[col] = "str"
    return kinds


def _read_table(file: Path, kinds: dict[str, str]) -> pd.DataFrame:
    df = pd.read_csv(file, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8")
    for col, kind in kinds.items():
        if col not in df:
            continue
        if kind == "bool":
            df[col] = df[col].map({"True": True, "False": False}).astype(bool)
        elif kind == "int64":
            df[col] = df[col].astype(np.int64)
        elif kind == "float64":
            df[col] = pd.to_numeric(df[col].replace("", "nan"), errors="coerce").astype(np.float64)
    return df


def _write_csv(file: Path, df: pd.DataFrame) -> None:
    df.to_csv(file, index=False, lineterminator="\n", encoding="utf-8")


def _layout(n_clips: int, selection: dict) -> dict:
    return {"shard_size": SHARD_SIZE, "n_clips": n_clips, "selection": selection}


def _shard_files(partial: Path, i: int) -> tuple[Path, Path]:
    return partial / f"shard_{i:05d}.npy", partial / f"shard_{i:05d}.json"


def _shard_done(partial: Path, i: int) -> bool:
    npy, meta = _shard_files(partial, i)
    return npy.exists() and meta.exists()  # meta is written last


def extract(clips_or_table, *, config: FeatureConfig, store: Store | None = None, n_jobs: int = 2,
            progress: bool = True) -> FeatureSet:
    """Mel spectrograms of every clip, computed once and kept in the store (Chapter 2).

    Parameters
    ----------
    clips_or_table : corpus.Clips or pandas.DataFrame
        The clips (all rows of ``clips.table``), or any table with a ``path`` column of audio
        files (other columns are carried along).
    config : FeatureConfig
        The parameters (e.g. ``features.PRESETS["book"]``).
    store : Store or None
        Where the entry lives (stage ``"features"``); None: the default store.
    n_jobs : int
        Worker processes (joblib; no backend is forced, so ``joblib.parallel_config(
        backend="dask")`` around the call sends the shards to a Dask cluster).
    progress : bool
        A progress bar over shards on stderr.

    Returns
    -------
    FeatureSet
        ``S_db`` memory-mapped from the store; ``table`` aligned with it (broken clips are in
        ``skipped`` with the reason instead).

    Notes
    -----
    Shards of :data:`SHARD_SIZE` clips are computed in parallel and saved as they finish; after
    an interruption (even ``kill -9``) the next call computes only the missing shards and
    assembles the same bytes as an uninterrupted run.
    """
    check(isinstance(config, FeatureConfig), f"config must be a FeatureConfig, got {type(config).__name__}")
    check(_is_int(n_jobs) and (n_jobs >= 1 or n_jobs == -1), f"n_jobs must be >= 1 or -1, got {n_jobs!r}")
    table, root, inputs, upstream_skipped = _table_source(clips_or_table)
    store = default_store(store)
    selection = _selection_id(table, root)
    entry = store.entry(STAGE, config={"features": _store_config(config), "selection": selection},
                        inputs=inputs, code=CODE)
    if not entry.exists():
        with entry.lock():  # a second process waits for this one's result, then reuses it
            if not entry.exists():
                _compute(entry, table, root, config, selection, n_jobs=n_jobs, progress=progress,
                         upstream_skipped=upstream_skipped)
    return load(entry.path, config=config, root=root)


class _ShardsGone(Exception):
    """Pieces vanished while assembling: another process finished the same entry (or cleaned up)."""


def _compute(entry, table: pd.DataFrame, root: Path | None, config: FeatureConfig, selection: dict, *,
             n_jobs: int, progress: bool, upstream_skipped: pd.DataFrame) -> None:
    """Compute the missing shards, then assemble the entry. Several processes may compute the same
    entry at once: pieces are written atomically and the first complete entry wins."""
    for _ in range(3):
        if entry.exists():
            return
        resumed, seconds = _compute_shards(entry, table, config, selection, n_jobs=n_jobs, progress=progress)
        if entry.exists():
            break
        try:
            _assemble(entry, table, root, config, resumed=resumed, seconds=seconds, n_jobs=n_jobs,
                      upstream_skipped=upstream_skipped)
            return
        except _ShardsGone:
            continue
    if entry.exists():
        import shutil

        shutil.rmtree(entry.path.parent / f"{entry.key}.partial", ignore_errors=True)
        return
    raise DataError(f"could not assemble feature entry {entry.path}: its pieces in {entry.key}.partial "
                    "keep disappearing (another process deleting them?)")


def _compute_shards(entry, table: pd.DataFrame, config: FeatureConfig, selection: dict, *, n_jobs: int,
                    progress: bool) -> tuple[int, float]:
    """Compute the shards not yet in ``entry.partial()``; returns (shards found done, seconds)."""
    import json

    import joblib
    from tqdm.auto import tqdm

    started = time.perf_counter()
    paths = [str(p) for p in table["path"]]
    n_shards = math.ceil(len(paths) / SHARD_SIZE)
    partial = entry.partial()
    layout = json.loads(json.dumps(_layout(len(paths), selection)))
    layout_file = partial / "layout.json"
    if layout_file.exists():
        try:
            same = json.loads(layout_file.read_text()) == layout
        except (ValueError, OSError):
            same = False
        if not same:  # pieces of a different sharding: start over
            for f in partial.iterdir():
                f.unlink(missing_ok=True)
    atomic_write_json(layout_file, layout)
    todo = [i for i in range(n_shards) if not _shard_done(partial, i)]
    resumed = n_shards - len(todo)
    fb = mel_filterbank(config=config)
    sos = None if config.lowpass_hz is None else lowpass_sos(sr=config.sr, cutoff_hz=config.lowpass_hz,
                                                             order=config.lowpass_order)
    jobs = 1 if len(todo) <= 1 else n_jobs
    tasks = (joblib.delayed(_extract_shard)(paths[i * SHARD_SIZE:(i + 1) * SHARD_SIZE], config, fb, sos)
             for i in todo)
    with tqdm(total=n_shards, initial=resumed, desc=f"features ({len(paths)} clips)", unit="shard",
              disable=not progress, file=sys.stderr) as bar:
        results = joblib.Parallel(n_jobs=jobs, prefer="processes", return_as="generator")(tasks)
        for i, (S_db, meta) in zip(todo, results):
            npy, meta_file = _shard_files(partial, i)
            atomic_save_npy(npy, S_db)
            atomic_write_json(meta_file, meta)  # written last: marks the shard done
            bar.update(1)
            if entry.exists():  # another process finished the same entry meanwhile
                break
    return resumed, time.perf_counter() - started


def _assemble(entry, table: pd.DataFrame, root: Path | None, config: FeatureConfig, *, resumed: int,
              seconds: float, n_jobs: int, upstream_skipped: pd.DataFrame) -> None:
    """Write the entry (one array, the table, the manifest) from the finished shards."""
    paths = [str(p) for p in table["path"]]
    n_shards = math.ceil(len(paths) / SHARD_SIZE)
    partial = entry.path.parent / f"{entry.key}.partial"
    computed = seconds

    def fill(tmp: Path) -> dict:
        import json

        try:
            metas = [json.loads(_shard_files(partial, i)[1].read_text()) for i in range(n_shards)]
        except FileNotFoundError as exc:
            raise _ShardsGone(str(exc)) from None
        n_ok = sum(len(m["rows"]) for m in metas)
        out = np.lib.format.open_memmap(tmp / "S_db.npy", mode="w+", dtype=np.float32,
                                        shape=(n_ok, config.n_mels, config.n_frames))
        rows, info, skipped, at = [], {c: [] for c in FEATURE_COLUMNS}, [], 0
        lo_hi = [np.inf, -np.inf]
        for i, meta in enumerate(metas):
            try:
                S = np.load(_shard_files(partial, i)[0])
            except FileNotFoundError as exc:
                raise _ShardsGone(str(exc)) from None
            out[at: at + len(S)] = S
            at += len(S)
            base = i * SHARD_SIZE
            rows += [base + r for r in meta["rows"]]
            for c in FEATURE_COLUMNS:
                info[c] += meta["info"][c]
            skipped += [{"path": paths[base + r], "reason": reason} for r, reason in meta["errors"]]
        out.flush()
        del out
        ft = table.iloc[rows].reset_index(drop=True)
        if root is not None:
            ft["path"] = [_rel(p, root) for p in ft["path"]]
        for c in FEATURE_COLUMNS:
            ft[c] = info[c]
        ft = ft.astype({"padding_fraction": np.float64, "silent_fraction": np.float64, "is_silent": bool,
                        "ref_db": np.float64, "peak_db": np.float64})
        _write_csv(tmp / "table.csv", ft)
        sk = pd.DataFrame(skipped, columns=["path", "reason"])
        _write_csv(tmp / "skipped.csv", sk.assign(path=[_rel(p, root) for p in sk["path"]]))
        if len(ft):
            peak = float(ft["peak_db"].max())
            lo_hi = [peak - float(config.top_db or 80.0), peak]
        load_s = sum(m["load_seconds"] for m in metas)
        compute_s = sum(m["compute_seconds"] for m in metas)
        return {
            "root": None if root is None else str(root),
            "n_clips": n_ok, "shape": [n_ok, config.n_mels, config.n_frames], "dtype": "float32",
            "columns": _column_types(ft),
            "clips": list(ft["path"]),
            "skipped": sk.to_dict(orient="records"),
            "upstream_skipped": upstream_skipped.assign(
                path=[_rel(str(p), root) for p in upstream_skipped["path"]]).to_dict(orient="records"),
            "n_silent": int(ft["is_silent"].sum()) if len(ft) else 0,
            "db_range": lo_hi if len(ft) else None,
            "shard_size": SHARD_SIZE, "n_shards": n_shards, "shards_resumed": resumed,
            "n_jobs": n_jobs,
            "timings": {"extract_seconds": round(computed, 3),
                        "worker_load_seconds": round(load_s, 3),
                        "worker_compute_seconds": round(compute_s, 3),
                        "clips_per_second": round(len(paths) / computed, 1) if computed > 0 else None},
        }

    band = "full band" if config.lowpass_hz is None else f"low-passed at {config.lowpass_hz:g} Hz"
    entry.write(fill, description=f"mel spectrograms ({config.n_mels} x {config.n_frames}, {band}) "
                                  f"of {len(paths)} clips")


def load(path: str | os.PathLike, *, config: FeatureConfig | None = None, root: str | os.PathLike | None = None
         ) -> FeatureSet:
    """A stored feature set from its entry folder (``S_db`` memory-mapped, read-only).

    Parameters
    ----------
    path : path-like
        The entry folder (``FeatureSet.path``), holding ``manifest.json``.
    config : FeatureConfig or None
        The config to attach (its ``scaling`` may differ from the stored one); None rebuilds it
        from the manifest.
    root : path-like or None
        Corpus root the stored relative clip paths are joined to; None: the manifest's root.
    """
    import json

    path = Path(path)
    manifest_file = path / "manifest.json"
    check(manifest_file.exists(), f"{path} is not a complete feature entry (no manifest.json)", DataError)
    Entry.at(path).require()  # every file of the manifest, at its recorded size (and hash if small)
    manifest = json.loads(manifest_file.read_text())
    if config is None:
        cfg = {k: v for k, v in manifest["config"]["features"].items() if k != "__class__"}
        config = FeatureConfig(**cfg)
    S_db = np.load(path / "S_db.npy", mmap_mode="r")
    table = _read_table(path / "table.csv", manifest["columns"])
    skipped = _read_table(path / "skipped.csv", {})
    base = Path(root) if root is not None else (Path(manifest["root"]) if manifest.get("root") else None)
    if base is not None:
        prefix = str(base) + os.sep
        for df in (table, skipped):
            rel = ~df["path"].str.startswith(os.sep) if len(df) else df["path"].astype(bool)
            df.loc[rel, "path"] = prefix + df.loc[rel, "path"]
    check(S_db.shape[0] == len(table), f"{path}: S_db has {S_db.shape[0]} rows but table.csv {len(table)}",
          DataError)
    db_range = tuple(manifest["db_range"]) if manifest.get("db_range") else None
    return FeatureSet(S_db=S_db, table=table, skipped=skipped, config=config, key=path.name,
                      db_range=db_range, path=path)


def for_preset(preset, *, lowpass_hz: float | None = None, data_dir: str | os.PathLike | None = None,
               store: Store | None = None, n_jobs: int = 2, progress: bool = True) -> FeatureSet:
    """The features of a preset's corpus: every clip with a role other than ``unused`` (Chapter 2).

    Parameters
    ----------
    preset : Preset or str
        Its ``features`` config (and ``corpus``/``synth`` configs for :func:`langlab.corpus.prepare`).
    lowpass_hz : float or None
        Low-pass cut-off (e.g. 500 for the pre-training clips); None: ``preset.features`` as is.
    data_dir : path-like or None
        A Common Voice folder; None: the embedded corpus.
    store : Store or None
        The store of the corpus table and the features; None: the default store.
    n_jobs : int
        Worker processes.

    Returns
    -------
    FeatureSet
    """
    from langlab import corpus

    preset = as_preset(preset)
    config = preset.features
    check(isinstance(config, FeatureConfig), f"preset.features must be a FeatureConfig, got {type(config).__name__}")
    if lowpass_hz is not None:
        config = config.with_lowpass(lowpass_hz)
    store = default_store(store)
    clips = corpus.prepare(preset, data_dir=data_dir, store=store)
    used = clips.table[clips.table["role"] != "unused"].reset_index(drop=True)
    return extract(dataclasses.replace(clips, table=used), config=config, store=store, n_jobs=n_jobs,
                   progress=progress)


# --------------------------------------------------------------------------------------------
# Command line: langlab features CV_DIR --preset book [--lowpass HZ] [--out DIR]
# --------------------------------------------------------------------------------------------
def _cli_features(args: argparse.Namespace) -> int:
    import shutil

    from langlab.presets import get_preset

    check(args.lowpass is None or args.lowpass > 0, f"--lowpass must be a positive frequency in Hz, got {args.lowpass}")
    check(args.jobs >= 1, f"--jobs must be >= 1, got {args.jobs}")
    preset = get_preset(args.preset)
    store = Store(args.store) if args.store else None
    fs = for_preset(preset, lowpass_hz=args.lowpass, data_dir=args.cv_dir, store=store, n_jobs=args.jobs,
                    progress=not args.quiet)
    m = fs.manifest()
    band = "full band" if fs.config.lowpass_hz is None else f"low-passed at {fs.config.lowpass_hz:g} Hz"
    print(f"{len(fs)} spectrograms {fs.config.n_mels} mels x {fs.config.n_frames} frames ({band}), "
          f"{int(fs.table['is_silent'].sum())} silent (excluded by default), {len(fs.skipped)} skipped")
    print(f"store entry: {fs.path}")
    if m.get("shards_resumed"):
        print(f"resumed {m['shards_resumed']} of {m['n_shards']} shards from an interrupted run")
    silent = fs.table[fs.table["is_silent"]]
    for row in silent.itertuples():
        print(f"  silent: {row.path} ({100 * row.silent_fraction:.0f} % silent frames, "
              f"{100 * row.padding_fraction:.0f} % padding)")
    upstream = m.get("upstream_skipped") or []
    if upstream:
        print(f"{len(upstream)} file(s) the corpus reader could not use:")
        for row in upstream:
            print(f"  skipped: {row['path']}: {row['reason']}")
    if len(fs.skipped):
        print(f"{len(fs.skipped)} clip(s) that could not be turned into spectrograms:")
    for row in fs.skipped.itertuples():
        print(f"  skipped: {row.path}: {row.reason}")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("S_db.npy", "table.csv", "skipped.csv", "manifest.json"):
            src = Path(fs.path) / name
            if src.exists():
                shutil.copyfile(src, out / name)
        fs.table.to_csv(out / "table.csv", index=False, lineterminator="\n")  # absolute paths
        print(f"wrote {out / 'S_db.npy'} (float32 {list(fs.S_db.shape)}), table.csv, skipped.csv, manifest.json")
    return 0


def add_cli(subparsers) -> None:
    """Add ``langlab features``."""
    p = subparsers.add_parser(
        "features", help="mel spectrograms of a Common Voice folder (or the embedded corpus), cached",
        description="Compute the mel spectrograms of a preset's clips (every role but 'unused') into the "
                    "store, with a progress bar; a rerun reuses them and an interrupted run resumes. "
                    "Broken clips are listed by file name with the reason (Chapter 2).")
    p.add_argument("cv_dir", metavar="CV_DIR", nargs="?", default=None,
                   help="a Common Voice release or locale folder (default: the embedded corpus)")
    p.add_argument("--preset", choices=("smoke", "book", "paper"), default="book",
                   help="feature and corpus parameters (default: book)")
    p.add_argument("--lowpass", type=float, default=None, metavar="HZ",
                   help="low-pass cut-off in Hz (the original: 500); default full band")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="also copy S_db.npy, table.csv, skipped.csv and manifest.json into DIR")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--store", default=None, metavar="DIR", help="store folder (default $LANGLAB_HOME/store)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cli_features)
