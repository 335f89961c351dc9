"""langlab.audio: decoding by content, resampling, mixing down, fixed length, clear errors."""
import pickle

import numpy as np
import pytest
import soundfile as sf

from langlab import audio
from langlab.errors import DataError, ParameterError


def tone(sr, seconds, *, channels=1, freq=440.0, amp=0.3):
    t = np.arange(int(sr * seconds)) / sr
    y = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([y] * channels, axis=1) if channels > 1 else y


@pytest.fixture
def files(tmp_path):
    out = {}
    out["mp3"] = tmp_path / "clip.mp3"
    sf.write(out["mp3"], tone(48000, 1.0), 48000, format="MP3")
    out["stereo"] = tmp_path / "stereo.mp3"
    sf.write(out["stereo"], tone(48000, 1.0, channels=2), 48000, format="MP3")
    out["wav_as_mp3"] = tmp_path / "wav_inside.mp3"
    sf.write(out["wav_as_mp3"], tone(16000, 0.5), 16000, format="WAV")
    out["rate44"] = tmp_path / "rate44.wav"
    sf.write(out["rate44"], tone(44100, 0.5), 44100)
    out["empty"] = tmp_path / "empty.mp3"
    out["empty"].write_bytes(b"")
    out["text"] = tmp_path / "text.mp3"
    out["text"].write_text("this is not audio\n" * 50)
    out["noise"] = tmp_path / "noise.mp3"
    out["noise"].write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    return out


def test_load_mp3_resamples_to_sr(files):
    y = audio.load_audio(files["mp3"], sr=16000)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 16000) < 200  # MP3 encoder delay/padding is a few ms
    assert 0.15 < float(np.sqrt(np.mean(y ** 2))) < 0.25  # a 0.3 amplitude sine has RMS 0.21


def test_stereo_is_mixed_down_or_kept(files):
    y = audio.load_audio(files["stereo"], sr=16000)
    assert y.ndim == 1
    y2 = audio.load_audio(files["stereo"], sr=16000, mono=False)
    assert y2.shape[0] == 2 and y2.shape[1] == y.shape[0]


@pytest.mark.parametrize("name, sr_file", [("wav_as_mp3", 16000), ("rate44", 44100)])
def test_other_formats_and_rates(files, name, sr_file):
    info = audio.probe(files[name])
    assert info.sample_rate == sr_file
    y = audio.load_audio(files[name], sr=22050)
    assert abs(len(y) - int(0.5 * 22050)) <= 2


def test_wav_behind_mp3_name_is_found_by_content(files):
    assert audio.probe(files["wav_as_mp3"]).format == "WAV"
    assert audio.probe(files["mp3"]).format == "MP3"


def test_duration_reads_only_the_start(files):
    y = audio.load_audio(files["mp3"], sr=16000, duration=0.25)
    assert len(y) == 4000


@pytest.mark.parametrize("name, reason", [("empty", "empty file"), ("text", "not decodable"),
                                          ("noise", "not decodable")])
def test_broken_files_raise_audio_error_naming_the_file(files, name, reason):
    with pytest.raises(audio.AudioError, match=reason) as info:
        audio.load_audio(files[name], sr=16000)
    assert files[name].name in str(info.value)
    assert isinstance(info.value, DataError)
    with pytest.raises(audio.AudioError, match=reason):
        audio.probe(files[name])


def test_missing_file(tmp_path):
    with pytest.raises(audio.AudioError, match="missing file"):
        audio.load_audio(tmp_path / "nope.mp3", sr=16000)


def test_audio_error_pickles():
    err = pickle.loads(pickle.dumps(audio.AudioError("/x/a.mp3", "empty file (0 bytes)")))
    assert err.path == "/x/a.mp3" and err.reason == "empty file (0 bytes)" and "a.mp3" in str(err)


@pytest.mark.parametrize("bad", [{"sr": 0}, {"sr": -16000}, {"sr": 16000.5}, {"sr": 16000, "duration": 0}])
def test_bad_parameters(files, bad):
    with pytest.raises(ParameterError):
        audio.load_audio(files["mp3"], **bad)


@pytest.mark.parametrize("n, n_samples, padded", [(10, 16, 6), (16, 16, 0), (20, 16, 0), (0, 5, 5)])
def test_fix_length(n, n_samples, padded):
    y = np.arange(1, n + 1, dtype=np.float32)
    y_fixed, n_padded = audio.fix_length(y, n_samples=n_samples)
    assert y_fixed.shape == (n_samples,) and y_fixed.dtype == np.float32
    assert n_padded == padded
    assert np.array_equal(y_fixed[: min(n, n_samples)], y[:n_samples])
    assert not y_fixed[min(n, n_samples):].any()


def test_fix_length_batch_and_errors():
    y_fixed, n_padded = audio.fix_length(np.ones((3, 4)), n_samples=6)
    assert y_fixed.shape == (3, 6) and n_padded == 2
    with pytest.raises(ParameterError, match="n_samples"):
        audio.fix_length(np.ones(3), n_samples=0)
