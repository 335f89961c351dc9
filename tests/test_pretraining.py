"""The pre-training conditions (Chapter 3): the registry, the noise control, and a new
condition written as one function and run through the runner at the smoke preset."""
from __future__ import annotations

import numpy as np
import pytest

from langlab import learning_speed, pretraining, training
from langlab.errors import ParameterError
from langlab.presets import get_preset


def test_the_presets_conditions_are_registered():
    assert pretraining.CONDITIONS == ("none", "es", "it", "ja", "noise")
    assert pretraining.names()[:7] == pretraining.DESIGN_CONDITIONS == (*pretraining.CONDITIONS, "shuffled",
                                                                        "reversed")
    assert pretraining.roots("none") == () and len(pretraining.roots("noise")) == 1


@pytest.mark.parametrize("conditions, match", [("none", "sequence"), ((), "at least one"),
                                               (("es", "es"), "repeat"), (("es", "fr"), r"unknown .*\['fr'\]")])
def test_check_conditions(conditions, match):
    with pytest.raises(ParameterError, match=match):
        pretraining.check_conditions(conditions)


@pytest.mark.parametrize("name", ["none", "", "a/b", 3])
def test_register_refuses_bad_names(name):
    with pytest.raises(ParameterError, match="plain name"):
        pretraining.register(name)


@pytest.fixture
def reversed_spanish():
    """A toy condition, written as the next issue will write its conditions: one function."""

    @pretraining.register("toy_reversed")
    def time_reversed_spanish(clips, *, seed):
        """Low-passed Spanish pre-training clips played backwards."""
        return np.ascontiguousarray(clips.where(locale="es").scaled()[:, :, ::-1])

    yield "toy_reversed"
    pretraining.unregister("toy_reversed")


def test_unknown_until_registered(reversed_spanish):
    assert reversed_spanish in pretraining.names()
    pretraining.unregister(reversed_spanish)
    with pytest.raises(ParameterError, match="unknown pre-training condition"):
        training.LSTMConfig(conditions=("none", reversed_spanish))


@pytest.mark.slow
def test_a_registered_condition_runs_through_the_runner(reversed_spanish, smoke_store):
    preset = get_preset("smoke")
    S, key = pretraining.pretrain_spectrograms(preset, condition=reversed_spanish, store=smoke_store)
    es, es_key = pretraining.pretrain_spectrograms(preset, condition="es", store=smoke_store)
    np.testing.assert_array_equal(S, es[:, :, ::-1])
    assert key == es_key == pretraining.pretrain_key(preset, condition="es", store=smoke_store)
    results = training.lstm_experiment(preset, conditions=["none", reversed_spanish], seeds=[0],
                                       store=smoke_store, n_jobs=1, progress=False)
    assert list(results["condition"]) == ["none", reversed_spanish]
    row = results.set_index("condition").loc[reversed_spanish]
    assert row["n_pretrain"] == len(S) and row["pretrain_steps"] > 0
    summary = learning_speed.summarise(results)
    assert list(summary["condition"]) == ["none", reversed_spanish]


@pytest.mark.slow
def test_a_stored_condition_is_made_once(smoke_store):
    @pretraining.register("toy_stored", stored=True)
    def quiet_italian(clips, *, seed):
        return clips.where(locale="it").scaled() * 0.5

    try:
        preset = get_preset("smoke")
        S, key = pretraining.pretrain_spectrograms(preset, condition="toy_stored", store=smoke_store)
        made = (smoke_store.root / pretraining.STAGE / key / "S.npy").stat().st_mtime_ns
        again, key2 = pretraining.pretrain_spectrograms(preset, condition="toy_stored", store=smoke_store)
        assert key == key2 and (smoke_store.root / pretraining.STAGE / key / "S.npy").stat().st_mtime_ns == made
        np.testing.assert_array_equal(S, again)
        assert pretraining.pretrain_key(preset, condition="toy_stored", store=smoke_store) == key
    finally:
        pretraining.unregister("toy_stored")


def test_pretrain_spectrograms_refuses_none(smoke_store):
    with pytest.raises(ParameterError, match="no pre-training data"):
        pretraining.pretrain_spectrograms("smoke", condition="none", store=smoke_store)


def test_noise_has_the_speech_spectrum_level_and_length():
    rng = np.random.default_rng(0)
    t = np.arange(4000) / 8000
    speech = [np.sin(2 * np.pi * 300 * t[:n]) * (1 + 0.5 * np.sin(2 * np.pi * 4 * t[:n])) * a
              + 0.01 * rng.normal(size=n) for n, a in ((4000, 0.5), (3000, 0.1))]
    noise = pretraining.noise_waveforms(speech, n_clips=4, n_samples=4000, seed=1)
    assert len(noise) == 4 and all(y.shape == (4000,) and y.dtype == np.float32 for y in noise)
    assert np.all(noise[1][3000:] == 0) and np.any(noise[1][:3000] != 0)  # the template's length
    for y, template in zip(noise, speech * 2):
        n = len(template)
        assert np.sqrt(np.mean(y[:n] ** 2)) == pytest.approx(np.sqrt(np.mean(template ** 2)), rel=1e-4)
    spectrum = np.abs(np.fft.rfft(noise[0])) ** 2
    f = np.fft.rfftfreq(4000, 1 / 8000)
    assert spectrum[(f > 250) & (f < 350)].sum() / spectrum.sum() > 0.9  # the energy stays near 300 Hz
    again = pretraining.noise_waveforms(speech, n_clips=4, n_samples=4000, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(noise, again))


# --------------------------------------------------------------------------------------------
# The temporal controls: frames shuffled, clips played backwards
# --------------------------------------------------------------------------------------------
def _ramps(n_clips=3, n_mels=4, n_frames=10):
    """Clips whose frame t holds t + 1 in every band (0 is padding after each clip's end)."""
    S = np.zeros((n_clips, n_mels, n_frames), dtype=np.float32)
    n_real = np.array([10, 7, 1])[:n_clips]
    for i, n in enumerate(n_real):
        S[i, :, :n] = np.arange(1, n + 1)
    return S, n_real


def test_shuffle_frames_keeps_every_frame_and_the_padding():
    S, n_real = _ramps()
    out = pretraining.shuffle_frames(S, n_real=n_real, seed=0)
    assert out.dtype == np.float32 and out.shape == S.shape
    for clip, orig, n in zip(out, S, n_real):
        assert sorted(clip[0, :n]) == sorted(orig[0, :n]) and np.all(clip[:, n:] == 0)
        assert np.all(clip == clip[0])  # whole frames move, bands stay together
    assert not np.array_equal(out[0], S[0])
    np.testing.assert_array_equal(out, pretraining.shuffle_frames(S, n_real=n_real, seed=0))
    assert not np.array_equal(out, pretraining.shuffle_frames(S, n_real=n_real, seed=1))
    assert np.array_equal(S[0, 0], np.arange(1, 11))  # the input is left alone


def test_reverse_frames_plays_each_clip_backwards_before_its_padding():
    S, n_real = _ramps()
    out = pretraining.reverse_frames(S, n_real=n_real)
    np.testing.assert_array_equal(out[0, 1], np.arange(10, 0, -1))
    np.testing.assert_array_equal(out[1, 2], [7, 6, 5, 4, 3, 2, 1, 0, 0, 0])
    np.testing.assert_array_equal(out[2], S[2])
    np.testing.assert_array_equal(pretraining.reverse_frames(out, n_real=n_real), S)


@pytest.mark.parametrize("n_real", [[10, 7], [10, 7, 11], [10, 7, -1], [1.0, 2.0, 3.0]])
def test_temporal_controls_refuse_bad_frame_counts(n_real):
    S, _ = _ramps()
    with pytest.raises(ParameterError, match="n_real"):
        pretraining.reverse_frames(S, n_real=np.array(n_real))


@pytest.mark.slow
def test_shuffled_and_reversed_are_a_balanced_mix_of_the_languages(smoke_store):
    preset = get_preset("smoke")
    from langlab import features
    low = features.for_preset(preset, lowpass_hz=preset.lstm.pretrain_lowpass_hz, store=smoke_store)
    clips = low.where(role="pretrain")
    mix, n_real = pretraining.mixed_clips(clips)
    per_language = clips.table["locale"].value_counts()
    assert len(mix) == per_language.max() and set(per_language.index) == {"es", "it", "ja"}
    S_all = clips.scaled()
    firsts = [S_all[np.flatnonzero(clips.table["locale"] == loc)[0]] for loc in ("es", "it", "ja")]
    for i, first in enumerate(firsts):  # each language's first clip, in turn
        np.testing.assert_array_equal(mix[i], first)
    shuffled, key = pretraining.pretrain_spectrograms(preset, condition="shuffled", store=smoke_store)
    backwards, _ = pretraining.pretrain_spectrograms(preset, condition="reversed", store=smoke_store)
    assert key == pretraining.pretrain_key(preset, condition="es", store=smoke_store)  # made on the fly
    np.testing.assert_array_equal(backwards, pretraining.reverse_frames(mix, n_real=n_real))
    np.testing.assert_array_equal(shuffled, pretraining.shuffle_frames(mix, n_real=n_real,
                                                                       seed=preset.lstm.noise_seed))
    # the same spectra: every clip's frames, sorted, are those of the clip in the mix
    np.testing.assert_array_equal(np.sort(shuffled, axis=2), np.sort(mix, axis=2))
    np.testing.assert_array_equal(np.sort(backwards, axis=2), np.sort(mix, axis=2))
    results = training.lstm_experiment(preset, conditions=["shuffled", "reversed"], seeds=[0],
                                       store=smoke_store, n_jobs=1, progress=False)
    assert (results["n_pretrain"] == len(mix)).all() and (results["pretrain_steps"] > 0).all()
