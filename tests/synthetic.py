"""Synthetic test signals shared by the feature tests (test_dsp.py, test_features.py)."""
import numpy as np

from langlab.features import FeatureConfig

#: A small, fast feature config: 1 s at 8 kHz, 16 mels x 63 frames.
SMALL = FeatureConfig(sr=8000, duration=1.0, n_fft=256, hop_length=128, n_mels=16)


def speechlike(sr, seconds, *, seed=0, level=0.1, noise_db=-70.0, lead=0.1, trail=0.1):
    """Syllable-rate bursts of a harmonic tone (pitch wobbling) between silences, plus white noise."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    f0 = 120 + 40 * rng.random() + 10 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t + 6 * rng.random())) ** 2  # syllables
    envelope[(t < lead) | (t > seconds - trail)] = 0
    y = level * voice * envelope / 2 + 10 ** (noise_db / 20) * rng.standard_normal(n)
    return y.astype(np.float32)
