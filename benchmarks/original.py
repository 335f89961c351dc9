"""The original study's code, re-implemented faithfully as the baseline of the benchmarks.

One clip at a time, with the original's fixed parameters and its libraries (librosa, scipy,
pandas). :mod:`benchmarks.run` times langlab against these functions, and
``tests/test_features.py`` checks that the ``paper`` preset gives the same spectrograms as
:func:`original_mel` (Chapter 2).
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd


def original_mel(path: str | os.PathLike, *, lowpass: bool = True) -> np.ndarray:
    """The original study's per-clip preprocessing, re-implemented as a baseline (Chapter 2).

    One clip at a time with the original's fixed parameters: :func:`librosa.load` at 22 050 Hz
    mono, the first 5 s (:func:`librosa.util.fix_length`), optionally a 4th-order Butterworth
    low-pass at 500 Hz run forward and backward (``scipy.signal.filtfilt``), a mel spectrogram
    of 128 bands (``n_fft=2048``, ``hop_length=512``), then :func:`librosa.amplitude_to_db`
    with ``ref=np.min`` applied to that *power* spectrogram, as the original did. After min-max
    scaling the ``paper`` preset gives the same spectrograms (a test checks it); the benchmarks
    time :func:`langlab.features.extract` against a loop over this function.

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



def original_mel_loop(paths: list[str]) -> list[np.ndarray]:
    """The original's preprocessing, one clip after the other (low-passed at 500 Hz):
    :func:`original_mel`."""
    return [original_mel(p) for p in paths]


def original_assembly(spectrograms) -> np.ndarray:
    """The original's training-set assembly: min-max scale a spectrogram, append its frames
    to a pandas DataFrame with ``pd.concat``, repeat; then take the values."""
    df = pd.DataFrame()
    for S_db in spectrograms:
        S = (S_db - S_db.min()) / (S_db.max() - S_db.min())
        df = pd.concat([df, pd.DataFrame(S.T)], ignore_index=True)
    return df.to_numpy(dtype=np.float32)
