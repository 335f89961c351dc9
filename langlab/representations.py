"""What the probes read: a clip's representation without a network and inside the LSTM (Chapter 4).

- :func:`mel_stats`: the no-network baseline, per-band mean and spread of the spectrogram (of
  the whole clip, or with ``n_frames`` of exactly the frames the LSTM reads);
- :func:`last_frames`: the last frame(s) the LSTM hears before its states are read;
- :func:`nuisance`: clip duration, silent fraction and level only (:data:`NUISANCE`), the
  baseline that no language model should need;
- :func:`lstm_states`: the frozen LSTM's final hidden and cell states after a clip;
- :func:`read_states`: the same through a state view that is reused across networks.
"""
from __future__ import annotations

import numpy as np

from langlab.errors import check


#: The columns of :func:`nuisance`, in order.
NUISANCE = ("duration", "silent_fraction", "level")


def _spectrograms(S, n_frames: int | None = None) -> np.ndarray:
    S = np.asarray(S, dtype=np.float32)
    check(S.ndim == 3, f"S must be [n_clips, n_mels, n_frames], got shape {S.shape}")
    if n_frames is not None:
        check(isinstance(n_frames, (int, np.integer)) and 1 <= n_frames <= S.shape[2],
              f"n_frames must be an integer in [1, {S.shape[2]}] (the clips' frames), got {n_frames!r}")
        S = S[:, :, :n_frames]
    return S


def mel_stats(S, *, n_frames: int | None = None) -> np.ndarray:
    """The no-network baseline: per-band mean and standard deviation over time.

    Parameters
    ----------
    S : np.ndarray [shape=(n_clips, n_mels, n_frames)]
        Scaled spectrograms (``FeatureSet.scaled()``).
    n_frames : int, optional
        Only each clip's first ``n_frames`` frames: exactly what the LSTM reads before its
        states are probed (:func:`langlab.lstm_probes.state_frames`). Default: all frames.

    Returns
    -------
    np.ndarray [shape=(n_clips, 2 * n_mels), dtype=float32]
    """
    S = _spectrograms(S, n_frames)
    return np.concatenate([S.mean(axis=2), S.std(axis=2)], axis=1).astype(np.float32)


def last_frames(S, *, n_frames: int, k: int = 1) -> np.ndarray:
    """The last ``k`` frames the LSTM hears (frames ``n_frames - k`` to ``n_frames - 1``), side
    by side: what a network that only remembered its most recent input would know.

    Returns
    -------
    np.ndarray [shape=(n_clips, k * n_mels), dtype=float32]
        Band values of the oldest of the ``k`` frames first.
    """
    S = _spectrograms(S, n_frames)
    check(isinstance(k, (int, np.integer)) and 1 <= k <= S.shape[2],
          f"k must be an integer in [1, n_frames={S.shape[2]}], got {k!r}")
    last = S[:, :, S.shape[2] - k:]
    return np.ascontiguousarray(last.transpose(0, 2, 1).reshape(len(S), -1), dtype=np.float32)


def nuisance(S, table, *, n_frames: int | None = None) -> np.ndarray:
    """Clip properties that say nothing about a language's sounds (:data:`NUISANCE`).

    ``duration``: the recording's length in seconds (the table's ``duration``, before the cut
    to the clip length); ``silent_fraction``: the share of the clip's frames that Chapter 2's
    silence rule calls silent (the table's); ``level``: the mean of the scaled spectrogram over
    the frames read (``n_frames``), the loudness the network hears.

    Parameters
    ----------
    S : np.ndarray [shape=(n_clips, n_mels, n_frames)]
        Scaled spectrograms.
    table : pd.DataFrame
        The clips' rows (``FeatureSet.table``), aligned with ``S``.
    n_frames : int, optional
        Frames read per clip (default all).

    Returns
    -------
    np.ndarray [shape=(n_clips, 3), dtype=float32]
    """
    S = _spectrograms(S, n_frames)
    for column in NUISANCE[:2]:
        check(column in table.columns, f"the clip table needs a {column!r} column (FeatureSet.table)")
    check(len(table) == len(S), f"the table has {len(table)} rows for {len(S)} spectrograms")
    return np.stack([table["duration"].to_numpy(dtype=np.float32),
                     table["silent_fraction"].to_numpy(dtype=np.float32),
                     S.mean(axis=(1, 2))], axis=1).astype(np.float32)


def lstm_states(model, S, *, pooled: bool = False, n_frames: int | None = None,
                batch_size: int = 512) -> dict[str, np.ndarray]:
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


def read_states(reader, S, *, pooled: bool, n_frames: int | None, batch_size: int = 512
                ) -> dict[str, np.ndarray]:
    """Run a :func:`langlab.models.state_model` view over the clips, ``batch_size`` clips per
    call: :func:`lstm_states` for a reader built once, into which each network's weights are
    loaded. (A direct call; Keras' ``predict`` costs several times as much on a few hundred
    clips.)"""
    S = np.asarray(S, dtype=np.float32)
    check(S.ndim == 3, f"S must be [n_clips, n_mels, n_frames], got shape {S.shape}")
    if n_frames is not None:
        check(isinstance(n_frames, (int, np.integer)) and n_frames >= 1,
              f"n_frames must be an integer >= 1, got {n_frames!r}")
        S = S[:, :, :n_frames]
    x = np.ascontiguousarray(np.transpose(S, (0, 2, 1)))  # [n_clips, n_frames, n_mels]
    parts = [reader(x[i:i + batch_size], training=False) for i in range(0, len(x), batch_size)]
    outputs = [np.concatenate([np.asarray(part[j]) for part in parts]) for j in range(len(parts[0]))]
    if pooled:
        seq, h, c = outputs
        states = {"h": h, "c": c, "h_pooled": np.asarray(seq).mean(axis=1)}
    else:
        h, c = outputs
        states = {"h": h, "c": c}
    return {k: np.asarray(v, dtype=np.float32) for k, v in states.items()}
