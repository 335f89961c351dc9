"""langlab.dsp: the array steps against librosa and scipy, audio checks, the silence rule,
scaling, mel band edges."""
import numpy as np
import pytest

from langlab import dsp, features
from langlab.errors import ParameterError
from synthetic import SMALL, speechlike


def test_mel_bands_below_500_hz():
    # the original: "only about 19 of the 128 mel bands lie below 500 Hz"
    assert dsp.mel_bands_below(500, config=features.PRESETS["paper"]) == 19
    edges = dsp.mel_band_edges(config=features.PRESETS["book"])
    assert edges.shape == (40, 3) and np.all(np.diff(edges, axis=1) > 0)
    assert dsp.mel_bands_below(500, config=features.PRESETS["book"], edge="upper") \
        <= dsp.mel_bands_below(500, config=features.PRESETS["book"])


def test_empty_mel_filters_and_max_n_mels():
    best = dsp.max_n_mels(sr=16000, n_fft=1024, fmin=0.0, fmax=8000.0)
    assert dsp.empty_mel_filters(sr=16000, n_fft=1024, n_mels=best, fmin=0.0, fmax=8000.0) == 0
    assert dsp.empty_mel_filters(sr=16000, n_fft=1024, n_mels=best + 1, fmin=0.0, fmax=8000.0) > 0
    with pytest.raises(ParameterError, match=f"use n_mels <= {best}"):
        features.FeatureConfig(n_mels=best + 1)


# --------------------------------------------------------------------------------------------
# Array-level steps
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("y, match", [
    (np.array([0.0, np.nan, 0.5], dtype=np.float32), r"1 non-finite sample.*index 1.*nan"),
    (np.array([0.0, 0.1, np.inf]), r"non-finite.*index 2.*inf"),
    (np.arange(10, dtype=np.int16), r"dtype int16.*floating point.*32768"),
    (np.zeros(0, dtype=np.float32), r"at least one sample"),
])
def test_bad_audio_is_named(y, match):
    with pytest.raises(ParameterError, match=match):
        dsp.check_audio(y)
    with pytest.raises(ParameterError, match=match):
        dsp.melspectrogram(y, config=SMALL)


@pytest.mark.parametrize("name", ["smoke", "book"])
def test_melspectrogram_equals_librosa(name):
    import librosa

    config = features.PRESETS[name]
    y = 0.1 * np.random.default_rng(1).standard_normal(config.n_samples).astype(np.float32)
    ours = dsp.melspectrogram(y, config=config)
    ref = librosa.feature.melspectrogram(y=y, sr=config.sr, n_fft=config.n_fft, hop_length=config.hop_length,
                                         n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax_hz)
    assert ours.shape == ref.shape == (config.n_mels, config.n_frames) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-6 * ref.max())
    batch = dsp.melspectrogram(np.stack([y, y[::-1].copy()]), config=config)
    np.testing.assert_allclose(batch[0], ours, rtol=1e-6)


def test_stft_power_equals_librosa():
    import librosa

    y = np.random.default_rng(2).standard_normal(5000).astype(np.float32)
    ours = dsp.stft_power(y, n_fft=512, hop_length=160)
    ref = np.abs(librosa.stft(y, n_fft=512, hop_length=160)) ** 2
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("ref, lib_ref", [("min", np.min), ("max", np.max), (1.0, 1.0)])
@pytest.mark.parametrize("top_db", [80.0, None])
def test_power_to_db_equals_librosa(ref, lib_ref, top_db):
    import librosa

    S = np.random.default_rng(3).random((2, 16, 30)) ** 8
    S[0, 0, :5] = 0.0  # exact zeros, as in padding
    S_db, ref_db = dsp.power_to_db(S, ref=ref, top_db=top_db)
    for i in range(2):
        np.testing.assert_allclose(S_db[i], librosa.power_to_db(S[i], ref=lib_ref, top_db=top_db), atol=1e-3)
    if top_db is None:  # S_db + ref_db is dB re power 1
        np.testing.assert_allclose(S_db + ref_db[:, None, None], 10 * np.log10(np.maximum(S, 1e-10)), atol=1e-3)
    if ref == "min":
        assert S_db.min() >= 0  # every bin >= 0 dB re the quietest one


def test_lowpass_zero_phase_and_response():
    sr = 16000
    t = np.arange(sr) / sr
    low, high = np.sin(2 * np.pi * 150 * t), np.sin(2 * np.pi * 3000 * t)
    y = dsp.lowpass((low + high).astype(np.float32), sr=sr, cutoff_hz=500)
    mid = slice(2000, -2000)
    np.testing.assert_allclose(y[mid], low[mid], atol=0.02)  # passband kept, no delay (zero phase)
    from scipy import signal

    sos = dsp.lowpass_sos(sr=sr, cutoff_hz=500, order=4)
    assert sos.shape == (2, 6)
    _, h = signal.sosfreqz(sos, worN=[500.0], fs=sr)
    assert 20 * np.log10(np.abs(h[0]) ** 2) == pytest.approx(-6.02, abs=0.05)  # twice -3 dB
    with pytest.raises(ParameterError, match="cutoff_hz.*Nyquist.*8000"):
        dsp.lowpass(y, sr=sr, cutoff_hz=8000)


# --------------------------------------------------------------------------------------------
# Silence and scaling
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, silent", [
    ("speech", False), ("zeros", True), ("room_noise", True), ("quiet", True), ("short_speech", True),
])
def test_silence_rule(kind, silent):
    config = SMALL
    n = config.n_samples
    rng = np.random.default_rng(5)
    n_real = n
    if kind == "speech":
        y = speechlike(config.sr, 1.0, noise_db=-55, lead=0.05, trail=0.05)
    elif kind == "zeros":
        y = np.zeros(n, np.float32)
    elif kind == "room_noise":  # a recording with nobody speaking: loud enough, but only noise
        y = (0.01 * rng.standard_normal(n)).astype(np.float32)
    elif kind == "quiet":  # below the absolute threshold
        y = speechlike(config.sr, 1.0, level=1e-4, noise_db=-90)
    else:  # 0.3 s of speech, then zero padding
        y, pad = __import__("langlab.audio", fromlist=["fix_length"]).fix_length(
            speechlike(config.sr, 0.3, lead=0.02, trail=0.02, noise_db=-55), n_samples=n)
        n_real = n - pad
    _, info = dsp.waveform_features(y, config=config, n_real=n_real)
    assert bool(info["is_silent"][0]) is silent, info.to_dict("records")
    if kind == "speech":
        assert info["silent_fraction"][0] < 0.4


def test_silence_counts_padding():
    levels = np.full((1, 10), -20.0)
    levels[0, :3] = -40.0  # quiet start
    silent, fraction, is_silent = dsp.silence(levels, n_real=5 * SMALL.hop_length, config=SMALL)
    assert silent[0, 5:].all() and fraction[0] == pytest.approx(0.8) and is_silent[0]


def test_scaling():
    rng = np.random.default_rng(6)
    S_db = rng.normal(40, 10, size=(3, 4, 5)).astype(np.float32)
    S_db[2] = 7.0
    S = dsp.scale_minmax(S_db)
    assert S.dtype == np.float32 and S.shape == S_db.shape
    assert np.allclose(S[:2].min(axis=(1, 2)), 0) and np.allclose(S[:2].max(axis=(1, 2)), 1)
    assert np.all(S[2] == 0)  # constant: zeros, not NaN
    G = dsp.scale_global(S_db, db_range=(30.0, 50.0))
    assert G.min() == 0 and G.max() == 1
    np.testing.assert_allclose(G[S_db == np.clip(S_db, 30, 50)], (S_db[S_db == np.clip(S_db, 30, 50)] - 30) / 20,
                               atol=1e-6)
    with pytest.raises(ParameterError, match="db_range"):
        dsp.scale_global(S_db, db_range=(5, 5))
