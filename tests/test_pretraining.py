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
    assert pretraining.names()[:5] == pretraining.CONDITIONS
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
