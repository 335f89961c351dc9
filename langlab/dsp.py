"""The array steps of the mel pipeline: low-pass, STFT, mel filterbank, decibels, frame levels,
the silence rule, scaling (Chapter 2).

Pure functions on waveforms ``y`` [..., n] and spectrograms ``S`` [..., n_mels, n_frames]; the
parameters come as keywords or from a :class:`langlab.features.FeatureConfig` (``config=``).
:func:`waveform_features` chains them for fixed-length clips, in the order of
:mod:`langlab.features`: silence rule (on the unfiltered waveform), low-pass, mel power, dB.

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
"""
from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from langlab.errors import ParameterError, check, check_number

if TYPE_CHECKING:
    from langlab.features import FeatureConfig

__all__ = ["check_audio", "lowpass_sos", "lowpass", "mel_filterbank", "empty_mel_filters", "max_n_mels",
           "stft_power", "melspectrogram", "power_to_db", "frame_levels", "silence", "waveform_features",
           "scale_minmax", "scale_global", "mel_band_edges", "mel_bands_below"]

#: Largest float32 array (bytes) one STFT batch may create; bounds the memory of a worker.
_BATCH_BYTES = 16 * 2**20


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

    check_number(cutoff_hz, "cutoff_hz", minimum=0, maximum=sr / 2, open_low=True, open_high=True,
                 unit="Hz (below the Nyquist frequency sr/2)")
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


@functools.lru_cache(maxsize=64)
def _mel_matrix(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    import librosa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa warns on empty filters; we raise instead
        fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    fb = np.ascontiguousarray(fb, dtype=np.float32)
    fb.setflags(write=False)
    return fb


def empty_mel_filters(*, sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> int:
    """How many of the mel filters (:func:`librosa.filters.mel`) contain no FFT bin at all."""
    fb = _mel_matrix(int(sr), int(n_fft), int(n_mels), float(fmin), float(fmax))
    return int((fb.max(axis=1) <= 0).sum())


def max_n_mels(*, sr: int, n_fft: int, fmin: float, fmax: float) -> int:
    """The most mel filters ``n_fft`` can hold at ``sr`` without an empty one."""
    lo, hi = 1, 1 + n_fft // 2  # more mel filters than FFT bins can never work
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if empty_mel_filters(sr=sr, n_fft=n_fft, n_mels=mid, fmin=fmin, fmax=fmax):
            hi = mid - 1
        else:
            lo = mid
    return lo


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
        check_number(ref, "ref ('min', 'max' or a positive power)", minimum=0, open_low=True)
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
    ``S_db + ref_db``, see :meth:`langlab.features.FeatureSet.scaled`).
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
