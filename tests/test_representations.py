"""What the probes read, from langlab.representations (Chapter 4): mel statistics and the
LSTM's final states."""
from __future__ import annotations

import numpy as np
import pytest

from langlab import models, representations
from langlab.errors import ParameterError


def test_mel_stats():
    S = np.random.default_rng(0).random((5, 8, 20)).astype(np.float32)
    stats = representations.mel_stats(S)
    assert stats.shape == (5, 16) and stats.dtype == np.float32
    assert np.allclose(stats[:, :8], S.mean(axis=2))
    assert np.allclose(stats[:, 8:], S.std(axis=2))
    with pytest.raises(ParameterError, match="n_clips, n_mels, n_frames"):
        representations.mel_stats(S[0])


@pytest.fixture(scope="module")
def lstm():
    return models.build_next_frame_lstm(n_mels=8, units=6, seed=0)


def test_lstm_states_are_the_final_states(lstm):
    S = np.random.default_rng(1).random((5, 8, 20)).astype(np.float32)
    states = representations.lstm_states(lstm, S, pooled=True, n_frames=12)
    assert set(states) == {"h", "c", "h_pooled"}
    assert all(v.shape == (5, 6) and v.dtype == np.float32 for v in states.values())
    seq, h, c = (np.asarray(v) for v in models.state_model(lstm, sequences=True)(
        np.transpose(S[:, :, :12], (0, 2, 1))))
    np.testing.assert_allclose(states["h"], h, atol=1e-6)
    np.testing.assert_allclose(states["c"], c, atol=1e-6)
    np.testing.assert_allclose(states["h_pooled"], seq.mean(axis=1), atol=1e-6)
    plain = representations.lstm_states(lstm, S[:, :, :12])
    assert set(plain) == {"h", "c"}
    np.testing.assert_allclose(plain["h"], states["h"], atol=1e-6)


def test_read_states_reuses_one_reader_for_other_weights(lstm):
    """Loading another network's weights into one compiled reader reads that network."""
    S = np.random.default_rng(2).random((4, 8, 10)).astype(np.float32)
    other = models.build_next_frame_lstm(n_mels=8, units=6, seed=1)
    template = models.build_next_frame_lstm(n_mels=8, units=6, seed=0)
    reader = models.state_model(template, sequences=True)
    template.set_weights(other.get_weights())
    read = representations.read_states(reader, S, pooled=True, n_frames=None)
    expected = representations.lstm_states(other, S, pooled=True)
    for name in ("h", "c", "h_pooled"):
        np.testing.assert_allclose(read[name], expected[name], atol=1e-6)
    assert not np.allclose(read["h"], representations.lstm_states(lstm, S)["h"])


@pytest.mark.parametrize("kwargs, match", [({"n_frames": 0}, "n_frames"),
                                           ({"n_frames": 2.5}, "n_frames")])
def test_lstm_states_rejects_bad_input(lstm, kwargs, match):
    S = np.zeros((2, 8, 10), dtype=np.float32)
    with pytest.raises(ParameterError, match=match):
        representations.lstm_states(lstm, S, **kwargs)
    with pytest.raises(ParameterError, match="n_clips, n_mels, n_frames"):
        representations.lstm_states(lstm, S[0])
