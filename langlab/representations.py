"""What the probes read: a clip's representation without a network and inside the LSTM (Chapter 4).

- :func:`mel_stats`: the no-network baseline, per-band mean and spread of the spectrogram;
- :func:`lstm_states`: the frozen LSTM's final hidden and cell states after a clip;
- :func:`read_states`: the same through a compiled state view that is reused across networks.
"""
from __future__ import annotations

import numpy as np

from langlab.errors import check


def mel_stats(S) -> np.ndarray:
    """The no-network baseline: per-band mean and standard deviation over time.

    Parameters
    ----------
    S : np.ndarray [shape=(n_clips, n_mels, n_frames)]
        Scaled spectrograms (``FeatureSet.scaled()``).

    Returns
    -------
    np.ndarray [shape=(n_clips, 2 * n_mels), dtype=float32]
    """
    S = np.asarray(S, dtype=np.float32)
    check(S.ndim == 3, f"S must be [n_clips, n_mels, n_frames], got shape {S.shape}")
    return np.concatenate([S.mean(axis=2), S.std(axis=2)], axis=1).astype(np.float32)


def lstm_states(model, S, *, pooled: bool = False, n_frames: int | None = None,
                batch_size: int = 64) -> dict[str, np.ndarray]:
    """Final hidden and cell states of the (frozen) LSTM after it has heard each clip.

    Each clip's first ``n_frames`` frames are fed as one sequence, from zero initial states;
    the states after the last frame are the clip's representation (Chapter 4).

    Parameters
    ----------
    model : keras.Model
        A next-frame LSTM (:func:`langlab.models.build_next_frame_lstm`), trained or not.
    S : np.ndarray [shape=(n_clips, n_mels, n_frames)]
        Scaled spectrograms, as the model was trained on.
    pooled : bool
        Also return ``h_pooled``: the hidden state averaged over all time steps.
    n_frames : int, optional
        Frames fed per clip (default: all of them).

    Returns
    -------
    dict of np.ndarray [shape=(n_clips, units), dtype=float32]
        ``h``, ``c`` and, with ``pooled=True``, ``h_pooled``.
    """
    from langlab import models

    return read_states(models.state_model(model, sequences=pooled), S, pooled=pooled,
                       n_frames=n_frames, batch_size=batch_size)


def read_states(reader, S, *, pooled: bool, n_frames: int | None, batch_size: int = 64
                ) -> dict[str, np.ndarray]:
    """Run a :func:`langlab.models.state_model` view over the clips (compiled ``predict``):
    :func:`lstm_states` for a reader built once, into which each network's weights are loaded."""
    S = np.asarray(S, dtype=np.float32)
    check(S.ndim == 3, f"S must be [n_clips, n_mels, n_frames], got shape {S.shape}")
    if n_frames is not None:
        check(isinstance(n_frames, (int, np.integer)) and n_frames >= 1,
              f"n_frames must be an integer >= 1, got {n_frames!r}")
        S = S[:, :, :n_frames]
    x = np.ascontiguousarray(np.transpose(S, (0, 2, 1)))  # [n_clips, n_frames, n_mels]
    outputs = reader.predict(x, batch_size=batch_size, verbose=0)
    if pooled:
        seq, h, c = outputs
        states = {"h": h, "c": c, "h_pooled": np.asarray(seq).mean(axis=1)}
    else:
        h, c = outputs
        states = {"h": h, "c": c}
    return {k: np.asarray(v, dtype=np.float32) for k, v in states.items()}
