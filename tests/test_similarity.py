"""langlab.similarity: statistics over real frames only, the modulation spectrum of a known
envelope, closeness recovering a planted ordering, errors; the book corpus end to end."""
import numpy as np
import pandas as pd
import pytest

from langlab import similarity
from langlab.errors import DataError, ParameterError
from langlab.features import FeatureConfig


def test_clip_statistics_ignores_padding_and_finds_the_rhythm():
    frame = 0.016
    t = np.arange(188) * frame
    S = np.zeros((2, 3, 188))
    S[0] = 0.5 + 0.4 * np.sin(2 * np.pi * 3.0 * t)              # a 3 Hz envelope
    S[1] = 0.5 + 0.4 * np.sin(2 * np.pi * 6.0 * t)              # a 6 Hz envelope
    X = similarity.clip_statistics(S, [150, 150], frame_seconds=frame)
    assert X.shape == (2, 3 * 3 + len(similarity.MODULATION_BANDS))
    shares = X[:, -len(similarity.MODULATION_BANDS):]
    np.testing.assert_allclose(shares.sum(1), 1.0)
    assert shares[0].argmax() == 2 and shares[1].argmax() == 3   # 2-4 Hz and 4-8 Hz
    padded = S.copy()
    padded[:, :, 150:] = 0.0                                     # padding changes nothing
    np.testing.assert_allclose(similarity.clip_statistics(padded, [150, 150], frame_seconds=frame), X)
    banded = similarity.clip_statistics(S, [150, 150], frame_seconds=frame, bands=[True, False, False])
    assert banded.shape == (2, 3 + len(similarity.MODULATION_BANDS))


def test_clip_statistics_errors():
    with pytest.raises(ParameterError, match="n_mels, n_frames"):
        similarity.clip_statistics(np.zeros((3, 4)), [8, 8, 8], frame_seconds=0.01)
    with pytest.raises(ParameterError, match="one frame count per clip"):
        similarity.clip_statistics(np.zeros((3, 2, 20)), [8, 8], frame_seconds=0.01)
    with pytest.raises(ParameterError, match=r"n_real must lie in \[8, 20\]"):
        similarity.clip_statistics(np.zeros((2, 2, 20)), [8, 30], frame_seconds=0.01)


def test_band_mask_keeps_the_low_bands():
    config = FeatureConfig(lowpass_hz=500.0)
    mask = similarity.band_mask(config)
    assert mask[0] and not mask[-1] and mask.sum() < config.n_mels
    assert np.all(np.diff(mask.astype(int)) <= 0)                # a prefix of the bands
    with pytest.raises(ParameterError, match="low-passed"):
        similarity.band_mask(FeatureConfig())


def planted(shift_b=0.3, shift_c=2.0, n_speakers=12, per=4, seed=0):
    """Three languages: b close to a, c far; every speaker speaks all three."""
    rng = np.random.default_rng(seed)
    rows, X = [], []
    for s in range(n_speakers):
        voice = rng.normal(0, 0.5, 6)
        for locale, shift in (("a", 0.0), ("b", shift_b), ("c", shift_c)):
            for _ in range(per):
                X.append(voice + shift + rng.normal(0, 1, 6))
                rows.append({"locale": locale, "client_id": f"s{s}"})
    return np.array(X), pd.DataFrame(rows)


def test_closeness_recovers_a_planted_ordering():
    X, table = planted()
    pairs = (("a", "b"), ("a", "c"), ("b", "c"))
    res, draws = similarity.closeness(X, table, pairs=pairs, n_boot=300, n_repeats=2)
    assert list(res.columns) == ["a", "b", "balanced_accuracy", "bacc_low", "bacc_high",
                                 "distance", "dist_low", "dist_high"]
    assert (res["bacc_low"] <= res["balanced_accuracy"]).all() and (res["balanced_accuracy"] <= res["bacc_high"]).all()
    assert res.loc[0, "balanced_accuracy"] < 0.75 < res.loc[1, "balanced_accuracy"]
    contrast = similarity.contrasts(res, draws, close=("a", "b"))
    assert len(contrast) == 4 and (contrast["difference"] > 0).all()
    assert similarity.closest_pair_shown(contrast)
    assert similarity.closest_pair_shown(contrast, measure="distance")
    # the same seed gives the same numbers
    again, _ = similarity.closeness(X, table, pairs=pairs, n_boot=300, n_repeats=2)
    pd.testing.assert_frame_equal(res, again)


def test_closeness_when_all_are_alike():
    X, table = planted(shift_b=0.0, shift_c=0.0)
    pairs = (("a", "b"), ("a", "c"), ("b", "c"))
    res, draws = similarity.closeness(X, table, pairs=pairs, n_boot=300, n_repeats=2)
    assert (res["bacc_low"] < 0.5 + 0.1).all()
    assert not similarity.closest_pair_shown(similarity.contrasts(res, draws, close=("a", "b")))


def test_closeness_errors():
    X, table = planted()
    with pytest.raises(DataError, match="no clips of locale 'zz'"):
        similarity.closeness(X, table, pairs=(("a", "zz"),), n_boot=20)
    with pytest.raises(ParameterError, match="locale and client_id"):
        similarity.closeness(X, table.drop(columns="client_id"), n_boot=20)
    res, draws = similarity.closeness(X, table, pairs=(("a", "b"), ("a", "c")), n_boot=20, n_repeats=1)
    with pytest.raises(ParameterError, match="not among the measured pairs"):
        similarity.contrasts(res, draws, close=("b", "c"))


def test_book_corpus_statistics():
    """The book preset's low-passed pre-training clips: one row per clip, three languages."""
    X, table = similarity.pretraining_statistics("book")
    assert len(X) == len(table) and set(table["locale"]) == {"es", "it", "ja"}
    assert np.isfinite(X).all()
