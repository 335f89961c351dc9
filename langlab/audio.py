"""Decoding audio files into fixed-length mono waveforms (Chapters 1 and 2).

Common Voice clips are MP3 files at 48 kHz, but a real download also holds awkward ones: stereo
files, WAV data behind an ``.mp3`` name, other sample rates, clips of 30 s or of a few
milliseconds. Everything here decodes by *content* with :mod:`soundfile` (libsndfile, which reads
MP3 as well), mixes down to mono, and resamples with :mod:`soxr`, so all of those read the same
way. A file that cannot be decoded raises :class:`AudioError`, which names the file and the reason.

- :func:`probe`: sample rate, channels, frames and format from the header only (cheap; used by
  :mod:`langlab.corpus` to learn every clip's duration).
- :func:`load_audio`: the waveform ``y`` as float32 at the sample rate ``sr`` you ask for.
- :func:`fix_length`: cut or zero-pad ``y`` to a fixed number of samples, like the original's
  "first 5 s of every clip".
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import numpy as np

from langlab.errors import DataError, check

__all__ = ["AudioError", "AudioInfo", "probe", "load_audio", "fix_length"]


class AudioError(DataError):
    """An audio file is missing, empty or cannot be decoded. The message names the file.

    Attributes ``path`` and ``reason`` hold the two parts of the message separately.
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.path, self.reason))


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    """What the header of an audio file says (see :func:`probe`).

    Attributes
    ----------
    sample_rate : int
        Samples per second and channel, in Hz.
    channels : int
        1 for mono, 2 for stereo, ...
    frames : int
        Samples per channel.
    format : str
        Container found by content, e.g. ``"MP3"``, ``"WAV"``, ``"FLAC"``.
    """

    sample_rate: int
    channels: int
    frames: int
    format: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioError(path, "missing file")
    if path.is_dir():
        raise AudioError(path, "is a folder, expected an audio file")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")


def probe(path: str | os.PathLike) -> AudioInfo:
    """Read the header of an audio file, without decoding it.

    Parameters
    ----------
    path : str or path-like
        Any format libsndfile reads (MP3, WAV, FLAC, OGG, ...); found by content, not by name.

    Returns
    -------
    AudioInfo

    Raises
    ------
    AudioError
        If the file is missing, empty, not audio or holds no samples.
    """
    import soundfile as sf

    path = Path(path)
    _check_file(path)
    try:
        info = sf.info(str(path))
    except Exception as exc:  # libsndfile's errors carry the useful text
        raise AudioError(path, f"not decodable audio ({_reason(exc)})") from exc
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioError(path, "no audio frames in the file")
    return AudioInfo(sample_rate=int(info.samplerate), channels=int(info.channels),
                     frames=int(info.frames), format=str(info.format))


def _reason(exc: Exception) -> str:
    """libsndfile's message without the file name it repeats ("Error opening 'x': ...")."""
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    if "': " in text:
        text = text.rsplit("': ", 1)[1]
    if "does not exist" in text:  # what libsndfile says of an existing file it cannot parse
        text = "format not recognised"
    return text.strip()[-200:] or type(exc).__name__


def load_audio(path: str | os.PathLike, *, sr: int, mono: bool = True,
               duration: float | None = None) -> np.ndarray:
    """Decode an audio file and resample it to ``sr``.

    Parameters
    ----------
    path : str or path-like
        The audio file; its format is found by content (WAV bytes behind an ``.mp3`` name work).
    sr : int
        Target sample rate in Hz (the original study: 22 050; the book: 16 000).
    mono : bool
        Mix all channels down to one by averaging (default). If False, keep the channels.
    duration : float or None
        Read only the first ``duration`` seconds (faster for long clips); None reads all.

    Returns
    -------
    y : np.ndarray [shape=(n_samples,)] float32
        The waveform in [-1, 1]; ``[shape=(n_channels, n_samples)]`` if ``mono=False``.

    Raises
    ------
    AudioError
        If the file is missing, empty or cannot be decoded (the message names the file).
    langlab.errors.ParameterError
        If ``sr`` or ``duration`` is not positive.

    See Also
    --------
    fix_length : cut or pad the result to a fixed length (Chapter 2).
    """
    import soundfile as sf

    check(isinstance(sr, (int, np.integer)) and sr > 0, f"sr must be a positive integer in Hz, got {sr!r}")
    check(duration is None or duration > 0, f"duration must be > 0 seconds or None, got {duration!r}")
    path = Path(path)
    _check_file(path)
    try:
        with sf.SoundFile(str(path)) as fh:
            sr_file = int(fh.samplerate)
            frames = -1 if duration is None else int(math.ceil(duration * sr_file))
            data = fh.read(frames=frames, dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(path, f"not decodable audio ({_reason(exc)})") from exc
    y = data.T  # [channels, n]
    if mono:
        y = y.mean(axis=0) if y.shape[0] > 1 else y[0]
    if sr_file != sr and y.shape[-1] > 0:
        import soxr

        if y.ndim == 1:
            y = soxr.resample(y, sr_file, sr)
        else:
            y = soxr.resample(y.T, sr_file, sr).T
    if duration is not None:
        y = y[..., : int(round(duration * sr))]
    return np.ascontiguousarray(y, dtype=np.float32)


def fix_length(y: np.ndarray, *, n_samples: int) -> tuple[np.ndarray, int]:
    """Cut ``y`` to its first ``n_samples`` or zero-pad it at the end (Chapter 2).

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)]
        Waveform(s); the last axis is time.
    n_samples : int
        Target length, e.g. ``5 * sr`` for the original's 5 s clips.

    Returns
    -------
    y_fixed : np.ndarray [shape=(..., n_samples)]
        Same dtype as ``y``.
    n_padded : int
        How many zeros were appended (0 if ``y`` was cut or already long enough).
    """
    check(isinstance(n_samples, (int, np.integer)) and n_samples > 0,
          f"n_samples must be a positive integer, got {n_samples!r}")
    y = np.asarray(y)
    check(y.ndim >= 1, f"y must have a time axis, got shape {y.shape}")
    n = y.shape[-1]
    if n >= n_samples:
        return y[..., :n_samples], 0
    pad = [(0, 0)] * (y.ndim - 1) + [(0, int(n_samples) - n)]
    return np.pad(y, pad), int(n_samples) - n
