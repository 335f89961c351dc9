"""Pre-training conditions: what a network hears before Spanish (Chapter 3; Chapter 5 reuses them).

The original study pre-trained on 500 Hz low-passed speech of one language. A *condition* here is
one function from the low-passed clips of the ``pretrain`` role to the scaled spectrograms that
the network is pre-trained on, registered under its name with :func:`register`:

- ``"es"``, ``"it"``, ``"ja"``: the low-passed clips of that language, as they are;
- ``"noise"``: the no-language control, speech-shaped noise (:func:`noise_waveforms`) with the
  long-term average spectrum of all pre-training speech, low-passed like it. It is slow to make,
  so it is kept in the store (``stored=True``);
- ``"shuffled"`` and ``"reversed"``: the temporal controls, made from a balanced mix of the
  three languages' low-passed clips (:func:`mixed_clips`: as many clips as one language has,
  taken from each language in turn). ``shuffled`` puts each clip's frames in a random order
  (:func:`shuffle_frames`: the same spectra, no temporal order); ``reversed`` plays each clip
  backwards (:func:`reverse_frames`: the same spectra and local continuity, the rhythm and
  melody running the wrong way);
- ``"none"`` is the absence of pre-training and has no function.

The presets run :data:`CONDITIONS` (the original's languages, the noise control and none);
:data:`DESIGN_CONDITIONS` adds the two temporal controls (Chapter 3's design).

A new condition is one more registered function, e.g.::

    @register("es_reversed")
    def time_reversed_spanish(clips, *, seed):
        return clips.where(locale="es").scaled()[:, :, ::-1]

after which every stage function accepts ``conditions=[..., "es_reversed"]``.
:func:`pretrain_spectrograms` gives a condition's spectrograms and the store key they come from.
"""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from langlab.errors import DataError, check
from langlab.presets import as_preset
from langlab.store import atomic_save_npy, default_store

#: The condition without pre-training.
NONE = "none"
#: Store stage of the spectrograms of conditions registered with ``stored=True``.
STAGE = "pretrain"


@dataclasses.dataclass(frozen=True)
class Condition:
    """One registered pre-training condition (see :func:`register`)."""

    name: str
    make: Callable[..., np.ndarray]
    stored: bool = False
    description: str = ""


_REGISTRY: dict[str, Condition] = {}


def register(name: str, *, stored: bool = False, description: str = ""):
    """Decorator: register ``function(clips, *, seed) -> S`` as the pre-training condition ``name``.

    ``clips`` is the :class:`~langlab.features.FeatureSet` of the ``pretrain`` role, low-passed
    at ``preset.lstm.pretrain_lowpass_hz`` (silent clips left out, all languages); ``seed`` is
    ``preset.lstm.noise_seed``. The function returns scaled spectrograms, float32
    ``[n_clips, n_mels, n_frames]`` in [0, 1]. ``stored=True`` keeps the result in the store
    (for conditions that are slow to make).
    """
    check(isinstance(name, str) and name and name != NONE and "/" not in name,
          f"a pre-training condition needs a plain name other than {NONE!r}, got {name!r}")

    def decorate(function: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        _REGISTRY[name] = Condition(name, function, stored, description or (function.__doc__ or "").strip())
        return function

    return decorate


def unregister(name: str) -> None:
    """Remove a registered condition (tests register toy conditions and remove them again)."""
    _REGISTRY.pop(name, None)


def definition(name: str) -> Condition | None:
    """The registered condition ``name`` (None for ``"none"`` or an unknown name): what a worker
    process needs to know a condition registered in this one (:func:`adopt`)."""
    return _REGISTRY.get(name)


def adopt(condition: Condition | None) -> None:
    """Register ``condition`` in this process unless it knows the name already: a worker gets
    the conditions registered in the process that sent it the unit (a notebook, a test)."""
    if condition is not None and condition.name not in _REGISTRY:
        _REGISTRY[condition.name] = condition


def names() -> tuple[str, ...]:
    """Every known condition: ``"none"`` and the registered ones, in registration order."""
    return (NONE, *_REGISTRY)


def check_conditions(conditions: Sequence[str]) -> tuple[str, ...]:
    """``conditions`` as a tuple of distinct known names (:class:`ParameterError` otherwise)."""
    check(not isinstance(conditions, str), f"conditions must be a sequence of names, got {conditions!r}")
    conditions = tuple(conditions)
    check(len(conditions) >= 1, "conditions must name at least one pre-training condition")
    unknown = [c for c in conditions if c not in names()]
    check(not unknown, f"unknown pre-training condition(s) {unknown}; expected some of {names()}")
    check(len(set(conditions)) == len(conditions), f"conditions repeat: {conditions!r}")
    return conditions


def roots(condition: str) -> tuple[Callable, ...]:
    """The function that computes ``condition``'s data (none for ``"none"`` and other names):
    part of the code of every unit pre-trained on it."""
    found = _REGISTRY.get(condition)
    return (found.make,) if found else ()


def pretrain_lowpass_hz(preset) -> float:
    """Low-pass cut-off (Hz) of the pre-training clips of ``preset`` (``preset.lstm``)."""
    return float(as_preset(preset).lstm.pretrain_lowpass_hz)


# --------------------------------------------------------------------------------------------
# The conditions
# --------------------------------------------------------------------------------------------
def _language(locale: str) -> Callable[..., np.ndarray]:
    def language(clips, *, seed: int) -> np.ndarray:
        fs = clips.where(locale=locale)
        check(len(fs.table) >= 1, f"no pre-training clips of locale {locale!r} in the corpus", DataError)
        return np.asarray(fs.scaled(), dtype=np.float32)

    language.__name__ = language.__qualname__ = f"language_{locale}"
    language.__doc__ = f"The low-passed pre-training clips of {locale!r}."
    return language


for _locale in ("es", "it", "ja"):
    register(_locale)(_language(_locale))


def noise_waveforms(waveforms: Sequence[np.ndarray], *, n_clips: int, n_samples: int,
                    seed: int) -> list[np.ndarray]:
    """Speech-shaped noise: ``n_clips`` waveforms with the long-term average spectrum of
    ``waveforms`` (Chapter 3's no-language control).

    The long-term average power spectrum (LTAS) is the mean over the speech clips of their
    power spectra (each clip's own length, zero-padded to ``n_samples``). Each noise clip is
    seeded white Gaussian noise filtered to that spectrum, then cut to the length and scaled to
    the RMS level of one speech clip (taken in turn), so the noise has speech's spectrum, level
    and duration but no syllables, rhythm or melody: nothing of a language.

    Parameters
    ----------
    waveforms : sequence of np.ndarray [shape=(n,)]
        Speech clips at one sample rate (e.g. the pre-training clips of all languages).
    n_clips : int
        Noise clips to make.
    n_samples : int
        Length of every noise clip (the feature duration in samples); speech clips longer
        than that are cut.
    seed : int

    Returns
    -------
    list of np.ndarray [shape=(n_samples,)] float32
        Zero after each template clip's own length (like padded speech).
    """
    for name, value in (("n_clips", n_clips), ("n_samples", n_samples)):
        check(isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1,
              f"{name} must be a positive integer, got {value!r}")
    check(len(waveforms) >= 1, "noise_waveforms needs at least one speech clip")
    clips = [np.asarray(y, dtype=np.float64)[:n_samples] for y in waveforms]
    check(all(y.ndim == 1 and y.size >= 2 for y in clips), "waveforms must be 1-d clips of >= 2 samples")
    power = np.mean([np.abs(np.fft.rfft(y, n=n_samples)) ** 2 / y.size for y in clips], axis=0)
    gain = np.sqrt(power)
    rng = np.random.default_rng([int(seed), 77])
    out = []
    for i in range(n_clips):
        template = clips[i % len(clips)]
        noise = np.fft.irfft(np.fft.rfft(rng.standard_normal(n_samples)) * gain, n=n_samples)
        noise = noise[:template.size]
        rms_t, rms_n = np.sqrt(np.mean(template ** 2)), np.sqrt(np.mean(noise ** 2))
        y = np.zeros(n_samples)
        y[:template.size] = noise * (rms_t / rms_n if rms_n > 0 else 0.0)
        out.append(y.astype(np.float32))
    return out


@register("noise", stored=True, description="low-passed speech-shaped noise (the no-language control)")
def speech_shaped_noise(clips, *, seed: int) -> np.ndarray:
    """As many noise clips as one language has pre-training clips, each :func:`noise_waveforms`
    shaped after all the pre-training clips, then low-passed and turned into a scaled mel
    spectrogram exactly like the speech clips (:func:`langlab.dsp.waveform_features`,
    :meth:`~langlab.features.FeatureSet.scaled`)."""
    from langlab import audio, dsp
    table = clips.table.reset_index(drop=True)
    check(len(table) >= 1, "no pre-training clips to shape the noise after", DataError)
    n_clips = int(table["locale"].value_counts().max())
    fc = clips.config
    speech = [audio.load_audio(p, sr=fc.sr, duration=fc.duration) for p in table["path"]]
    y = noise_waveforms(speech, n_clips=n_clips, n_samples=fc.n_samples, seed=seed)
    n_real = [len(speech[i % len(speech)][:fc.n_samples]) for i in range(n_clips)]
    S_db, info = dsp.waveform_features(np.stack(y), config=fc, n_real=n_real)
    # Scaled by the speech clips' own rule (FeatureSet.scaled), whatever config.scaling says.
    noise = dataclasses.replace(clips, S_db=S_db, table=info, skipped=clips.skipped.iloc[:0], path=None)
    return noise.scaled()


#: The conditions of the presets: no pre-training, each language, the noise control.
CONDITIONS = names()


def real_frames(clips) -> np.ndarray:
    """Frames of each clip of the feature set ``clips`` that hold its audio, not the zero
    padding after it (from the table's ``padding_fraction``; at least 1)."""
    n_frames = clips.S_db.shape[2]
    fraction = clips.table["padding_fraction"].to_numpy(dtype=float) if "padding_fraction" in clips.table \
        else np.zeros(len(clips.table))
    return np.clip(np.round((1.0 - fraction) * n_frames), 1, n_frames).astype(int)


def mixed_clips(clips) -> tuple[np.ndarray, np.ndarray]:
    """A balanced mix of the pre-training languages: as many clips as the largest language has,
    taken from each language in turn (its first clip, then each other language's first, then
    the second ones, ...), so the mix matches one language's dose and holds every language
    about equally.

    Returns
    -------
    S : np.ndarray [shape=(n, n_mels, n_frames)] float32
        The scaled spectrograms (:meth:`~langlab.features.FeatureSet.scaled`).
    n_real : np.ndarray [shape=(n,)] int
        Frames of each that hold audio (:func:`real_frames`).
    """
    table = clips.table.reset_index(drop=True)
    check(len(table) >= 1, "no pre-training clips to mix", DataError)
    by_locale = [np.flatnonzero(table["locale"].to_numpy() == loc) for loc in sorted(set(table["locale"]))]
    n = max(len(rows) for rows in by_locale)
    order = [int(rows[i]) for i in range(n) for rows in by_locale if i < len(rows)][:n]
    S = np.asarray(clips.scaled(), dtype=np.float32)
    return S[order], real_frames(clips)[order]


def shuffle_frames(S: np.ndarray, *, n_real, seed: int) -> np.ndarray:
    """Each clip with its first ``n_real`` frames in a random order (seeded per clip) and its
    padding left at the end: every frame, hence the spectrum, kept; all temporal order gone."""
    out = np.array(S, dtype=np.float32, copy=True)
    for clip, n, i in zip(out, _check_real(S, n_real), itertools.count()):
        clip[:, :n] = clip[:, np.random.default_rng([int(seed), 78, i]).permutation(n)]
    return out


def reverse_frames(S: np.ndarray, *, n_real) -> np.ndarray:
    """Each clip's first ``n_real`` frames in reverse order, its padding left at the end: the
    clip played backwards (frame by frame; a frame's own spectrum does not depend on the
    direction of time)."""
    out = np.array(S, dtype=np.float32, copy=True)
    for clip, n in zip(out, _check_real(S, n_real)):
        clip[:, :n] = clip[:, :n][:, ::-1].copy()
    return out


def _check_real(S: np.ndarray, n_real) -> np.ndarray:
    n_real = np.asarray(n_real)
    check(np.ndim(S) == 3, f"S must be spectrograms [n_clips, n_mels, n_frames], got shape {np.shape(S)}")
    check(n_real.shape == (len(S),) and np.issubdtype(n_real.dtype, np.integer)
          and bool(np.all((n_real >= 0) & (n_real <= np.shape(S)[2]))),
          f"n_real must give each of the {len(S)} clips a frame count in [0, {np.shape(S)[2]}], got {n_real!r}")
    return n_real.astype(int)


@register("shuffled", description="low-passed speech of the three languages with each clip's frames in random order")
def shuffled_speech(clips, *, seed: int) -> np.ndarray:
    """The balanced mix of the low-passed languages (:func:`mixed_clips`), each clip's frames
    shuffled (:func:`shuffle_frames`): the spectra of speech without its temporal order."""
    S, n_real = mixed_clips(clips)
    return shuffle_frames(S, n_real=n_real, seed=seed)


@register("reversed", description="low-passed speech of the three languages played backwards")
def reversed_speech(clips, *, seed: int) -> np.ndarray:
    """The balanced mix of the low-passed languages (:func:`mixed_clips`), each clip played
    backwards (:func:`reverse_frames`): speech's spectra and local continuity, its rhythm and
    melody reversed."""
    S, n_real = mixed_clips(clips)
    return reverse_frames(S, n_real=n_real)


#: Chapter 3's design: the presets' conditions and the two temporal controls.
DESIGN_CONDITIONS = (*CONDITIONS, "shuffled", "reversed")


# --------------------------------------------------------------------------------------------
# A condition's data
# --------------------------------------------------------------------------------------------
def pretrain_spectrograms(preset, *, condition: str, store=None, data_dir=None,
                          progress: bool = True) -> tuple[np.ndarray, str]:
    """Scaled pre-training spectrograms of one condition and the store key they come from.

    The registered function of ``condition`` applied to the ``pretrain`` clips low-passed at
    ``preset.lstm.pretrain_lowpass_hz`` (see :func:`register`); the LSTM (Chapter 3) and the
    autoencoder (Chapter 5) pre-train on the same data.

    Returns
    -------
    S : np.ndarray [shape=(n_clips, n_mels, n_frames)] float32 in [0, 1]
    key : str
        The low-passed features' key, or for a stored condition its own entry's.
    """
    from langlab import features
    preset = as_preset(preset)
    check(condition != NONE, f"condition {NONE!r} has no pre-training data")
    check_conditions([condition])
    found = _REGISTRY[condition]
    store = default_store(store)
    config = preset.lstm
    low = features.for_preset(preset, lowpass_hz=config.pretrain_lowpass_hz, data_dir=data_dir,
                              store=store, progress=progress)
    if not found.stored:
        return found.make(low.where(role="pretrain"), seed=config.noise_seed), low.key
    from langlab.runs import new_entry
    entry = new_entry(store, STAGE, config={"condition": condition, "lowpass_hz": config.pretrain_lowpass_hz,
                                            "seed": config.noise_seed},
                      inputs=[low.key], roots=(found.make,))
    if not entry.exists():
        clips = low.where(role="pretrain")
        S = found.make(clips, seed=config.noise_seed)

        def fill(folder: Path) -> dict:
            atomic_save_npy(folder / "S.npy", np.asarray(S, dtype=np.float32))
            return {"n_clips": len(S), "n_speech_clips": len(clips.table)}

        entry.write(fill, description=found.description or f"pre-training data of {condition!r}")
    return np.load(entry.path / "S.npy"), entry.key


def pretrain_key(preset, *, condition: str, store=None, data_dir=None) -> str:
    """The store key :func:`pretrain_spectrograms` returns, without loading the spectrograms of
    a condition that is not stored."""
    from langlab import features
    preset = as_preset(preset)
    check_conditions([condition])
    if _REGISTRY[condition].stored:
        return pretrain_spectrograms(preset, condition=condition, store=store, data_dir=data_dir)[1]
    return features.for_preset(preset, lowpass_hz=preset.lstm.pretrain_lowpass_hz, data_dir=data_dir,
                               store=default_store(store)).key
