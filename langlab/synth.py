"""The embedded multilingual corpus: eSpeak NG speech in Common Voice's layout (Chapter 1).

The book must run offline, so it ships a generator instead of data. :func:`embedded_corpus`
writes a folder that looks exactly like a Common Voice release and is read by the same reader
(:mod:`langlab.corpus`) as a real download::

    <release>/<locale>/clips/common_voice_<locale>_<n>.mp3   48 kHz mono MP3
    <release>/<locale>/validated.tsv                         Common Voice's columns

**How a clip is made**

1. **Sentence.** A small grammar per language (a YAML *lexicon* in ``langlab/lexicon/``:
   templates such as ``"{subject} {action} {place} {time}."`` and lists of phrases for each
   slot) yields thousands of distinct, natural sentences; each clip reads a different one.
   Japanese is written in kana, because eSpeak NG has no kanji readings.
2. **Speaker.** ``n_speakers`` synthetic speakers, each with one set of voice parameters drawn
   from the distribution below, and *every speaker speaks every language* (one ``client_id``
   per speaker across locales, like a Common Voice contributor who records in several
   locales). Language is therefore not confounded with voice, microphone or room.
3. **Speech.** eSpeak NG (through :mod:`espeakng_loader` and ctypes) speaks the sentence with
   the speaker's voice at 22 050 Hz.
4. **Nuisance.** The speaker's room (a short random impulse response), level and noise floor,
   plus leading and trailing silence drawn for every clip; then resampling to 48 kHz and MP3.

**Voice and nuisance distributions** (:data:`VOICE_RANGES`, all uniform)

======================  ==========================================  ==========================
parameter               range                                       drawn per
======================  ==========================================  ==========================
gender                  female or male, 1:1                         speaker
variant                 eSpeak ``f1``-``f5`` or ``m1``-``m7``        speaker (within gender)
pitch                   25 to 75 (eSpeak's 0-100 scale)             speaker
pitch range             30 to 80 (eSpeak's 0-100 scale)             speaker
rate                    150 to 210 words per minute                 speaker
room: RT60              0.10 to 0.40 s                              speaker
room: reverb level      -22 to -10 dB relative to the direct sound  speaker
level (RMS)             -28 to -18 dBFS, then +-2 dB                speaker, then clip
noise (white)           SNR 25 to 45 dB                             speaker
leading silence         0.10 to 0.40 s                              clip
trailing silence        0.10 to 0.40 s                              clip
======================  ==========================================  ==========================

**Adding a language**

Write ``<code>.yml`` next to the shipped lexicons (or into a folder you pass as
``SynthConfig(lexicon_dir=...)``) with ``name``, ``voice`` (an eSpeak NG voice, e.g. ``fr``,
``pt``, ``de``), ``capitalize``, ``templates`` and ``slots``; then add ``<code>`` to
``SynthConfig.languages``. ``langlab/lexicon/en.yml`` is a worked example. Check the result
with :func:`sentences` and :func:`synthesize` before generating a corpus.

Synthesis runs in worker processes (eSpeak NG is not thread-safe), and every clip gets a
freshly loaded and seeded copy of the library (eSpeak NG keeps state between utterances).
Every clip therefore depends only on ``(seed, locale, clip index)``: the same configuration
gives a byte-identical ``validated.tsv`` and byte-identical MP3 files, whatever the number of
workers. The corpus is cached in the store and generated only once.
"""
from __future__ import annotations

import ctypes
import dataclasses
import functools
import hashlib
import io
import os
import shutil
import sys
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from langlab.errors import DataError, ParameterError, check, check_int, check_tuple, checked
from langlab.store import Store, atomic_write_bytes, default_store

__all__ = ["SynthConfig", "PRESETS", "VOICE_RANGES", "Lexicon", "load_lexicon", "languages",
           "sentences", "speakers", "synthesize", "write_corpus", "embedded_corpus",
           "TSV_COLUMNS", "STAGE"]

#: Store stage of a generated corpus.
STAGE = "synth"
#: Columns of ``validated.tsv``, as in recent Common Voice releases (in this order).
TSV_COLUMNS = ("client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes",
               "down_votes", "age", "gender", "accents", "variant", "locale", "segment")
#: Sample rates the MP3 encoder accepts.
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
#: LAME's compression level through libsndfile (0 best quality, 1 smallest). 0.75 gives about
#: 60 kbit/s, keeps everything below 13 kHz (above the 11 kHz the paper preset analyses; at 0.9
#: LAME cuts at 8 kHz) and encodes about 20 % faster than libsndfile's default.
MP3_COMPRESSION = 0.75
#: eSpeak NG's own output rate.
ESPEAK_SR = 22050
#: Where the shipped lexicons live.
LEXICON_DIR = Path(__file__).with_name("lexicon")

#: The distributions of voice and nuisance parameters (see the module docstring's table).
VOICE_RANGES: dict[str, Any] = {
    "female_variants": ("f1", "f2", "f3", "f4", "f5"),
    "male_variants": ("m1", "m2", "m3", "m4", "m5", "m6", "m7"),
    "ages": ("teens", "twenties", "thirties", "fourties", "fifties", "sixties"),
    "pitch": (25, 75),
    "pitch_range": (30, 80),
    "rate_wpm": (150, 210),
    "rt60_s": (0.10, 0.40),
    "reverb_db": (-22.0, -10.0),
    "level_dbfs": (-28.0, -18.0),
    "level_jitter_db": 2.0,
    "snr_db": (25.0, 45.0),
    "lead_silence_s": (0.10, 0.40),
    "trail_silence_s": (0.10, 0.40),
}


@dataclasses.dataclass(frozen=True)
class SynthConfig:
    """What the embedded corpus holds (Chapter 1).

    Parameters
    ----------
    languages : tuple of str
        Locale codes, each with a lexicon ``<code>.yml`` (shipped: ``es``, ``it``, ``ja``, ``en``).
    n_speakers : int
        Synthetic speakers; every one of them speaks every language.
    clips_per_language : int
        Clips per locale, spread evenly over the speakers (each reads distinct sentences).
    clips : tuple of (str, int) pairs
        Per-locale exceptions to ``clips_per_language``, e.g. ``(("es", 480),)``.
    seed : int
        Seed of speakers, sentences and nuisance. Same seed, same corpus.
    sample_rate : int
        Sample rate of the MP3 files in Hz (Common Voice: 48 000).
    release : str
        Name of the release folder.
    lexicon_dir : str or None
        A folder searched for ``<code>.yml`` before the shipped lexicons (to add languages).
    """

    languages: tuple[str, ...] = ("es", "it", "ja")
    n_speakers: int = 40
    clips_per_language: int = 400
    clips: tuple[tuple[str, int], ...] = ()
    seed: int = 0
    sample_rate: int = 48000
    release: str = "langlab-synth-1"
    lexicon_dir: str | None = None

    def n_clips(self, language: str) -> int:
        """Clips of ``language``: its entry in ``clips``, else ``clips_per_language``."""
        return dict(self.clips).get(language, self.clips_per_language)

    def __post_init__(self):
        checked(self, "languages", check_tuple, item=_check_code, min_len=1, unique=True)
        langs = self.languages
        for name in ("n_speakers", "clips_per_language"):
            checked(self, name, check_int, minimum=1)
        checked(self, "clips", check_tuple, item=lambda p, n: _check_clips_pair(p, n, langs))
        checked(self, "seed", check_int, minimum=0)
        checked(self, "sample_rate", check_int, minimum=1)
        check(self.sample_rate in MP3_RATES,
              f"sample_rate must be one the MP3 encoder accepts {MP3_RATES}, got {self.sample_rate!r}")
        check(bool(self.release) and "/" not in self.release and not self.release.startswith("."),
              f"release must be a plain folder name, got {self.release!r}")


def _check_code(code: Any, name: str) -> str:
    check(isinstance(code, str) and bool(code) and code.replace("-", "").replace("_", "").isalnum(),
          f"{name} must be a locale code of letters/digits (e.g. 'es', 'pt-BR'), got {code!r}")
    return code


def _check_clips_pair(pair: Any, name: str, languages: tuple[str, ...]) -> tuple[str, int]:
    check(isinstance(pair, (tuple, list)) and len(pair) == 2 and pair[0] in languages,
          f"{name} must be a (locale, count) pair with a locale of languages {languages}, got {pair!r}")
    return pair[0], check_int(pair[1], f"{name} count", minimum=1)


PRESETS = {
    # Tiny, for tests: 3 languages x 30 clips from 10 speakers, a few seconds to generate.
    "smoke": SynthConfig(n_speakers=10, clips_per_language=30),
    # Chapter 1 and the whole book: 40 speakers, each 12 Spanish, 9 Italian, 9 Japanese clips.
    "book": SynthConfig(n_speakers=40, clips_per_language=360, clips=(("es", 480),)),
    # Fallback for the paper preset when no Common Voice folder is given (a few minutes).
    "paper": SynthConfig(n_speakers=150, clips_per_language=2000, clips=(("es", 6000),)),
}


# --------------------------------------------------------------------------------------------
# Lexicons and sentences
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Lexicon:
    """A language's grammar: ``templates`` with ``{slot}`` fields and the ``slots``' phrases."""

    code: str
    name: str
    voice: str
    capitalize: bool
    templates: tuple[str, ...]
    slots: tuple[tuple[str, tuple[str, ...]], ...]
    source: str  # file it came from
    sha256: str  # of the file's bytes (part of the corpus's store key)

    def slot(self, name: str) -> tuple[str, ...]:
        return dict(self.slots)[name]

    def n_combinations(self) -> int:
        """How many sentences the grammar can produce (an upper bound on distinct ones)."""
        import string

        total = 0
        slots = dict(self.slots)
        for template in self.templates:
            n = 1
            for _, field, _, _ in string.Formatter().parse(template):
                if field:
                    n *= len(slots[field])
            total += n
        return total


def _lexicon_path(code: str, lexicon_dir: str | os.PathLike | None) -> Path:
    folders = ([Path(lexicon_dir)] if lexicon_dir else []) + [LEXICON_DIR]
    for folder in folders:
        if (folder / f"{code}.yml").exists():
            return folder / f"{code}.yml"
    raise ParameterError(f"no lexicon for language {code!r}: looked for {code}.yml in "
                         f"{', '.join(str(f) for f in folders)}; available: {', '.join(languages(lexicon_dir))}. "
                         "See langlab.synth's docstring, 'Adding a language'")


def languages(lexicon_dir: str | os.PathLike | None = None) -> list[str]:
    """Codes of the languages with a lexicon (shipped ones plus those in ``lexicon_dir``)."""
    folders = ([Path(lexicon_dir)] if lexicon_dir else []) + [LEXICON_DIR]
    return sorted({p.stem for f in folders if f.is_dir() for p in f.glob("*.yml")})


def load_lexicon(code: str, *, lexicon_dir: str | os.PathLike | None = None) -> Lexicon:
    """Read and check the lexicon of language ``code`` (see "Adding a language" above)."""
    path = _lexicon_path(code, lexicon_dir)
    return _read_lexicon(code, str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _read_lexicon(code: str, path: str, mtime_ns: int) -> Lexicon:
    import string

    import yaml

    path = Path(path)
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a valid UTF-8 YAML lexicon ({exc})") from exc
    check(isinstance(data, dict), f"{path}: expected a mapping with name, voice, templates, slots", DataError)
    missing = [k for k in ("voice", "templates", "slots") if k not in data]
    check(not missing, f"{path}: missing key(s) {missing}; expected name, voice, capitalize, templates, slots",
          DataError)
    templates = data["templates"]
    slots = data["slots"]
    check(isinstance(templates, list) and templates and all(isinstance(t, str) for t in templates),
          f"{path}: 'templates' must be a non-empty list of strings", DataError)
    check(isinstance(slots, dict) and all(isinstance(v, list) and v for v in slots.values()),
          f"{path}: 'slots' must map slot names to non-empty lists of phrases", DataError)
    for template in templates:
        for _, field, _, _ in string.Formatter().parse(template):
            check(field is None or field in slots,
                  f"{path}: template {template!r} uses slot {{{field}}} that 'slots' does not define",
                  DataError)
    return Lexicon(code=code, name=str(data.get("name", code)), voice=str(data["voice"]),
                   capitalize=bool(data.get("capitalize", True)), templates=tuple(templates),
                   slots=tuple((k, tuple(str(p) for p in v)) for k, v in slots.items()),
                   source=str(path), sha256=hashlib.sha256(raw).hexdigest())


def _capitalize(text: str) -> str:
    for i, ch in enumerate(text):
        if ch.isalpha():
            return text[:i] + ch.upper() + text[i + 1:]
    return text


def sentences(language: str, n: int, *, seed: int = 0,
              lexicon_dir: str | os.PathLike | None = None) -> list[str]:
    """``n`` distinct sentences of ``language`` from its grammar, in a seeded random order.

    Raises :class:`~langlab.errors.ParameterError` if the grammar cannot produce ``n`` distinct ones.
    """
    lex = load_lexicon(language, lexicon_dir=lexicon_dir)
    check(isinstance(n, (int, np.integer)) and n >= 0, f"n must be an integer >= 0, got {n!r}")
    capacity = lex.n_combinations()
    check(n <= capacity // 2,
          f"the {language!r} lexicon yields at most {capacity} sentences; {n} distinct ones need a "
          "larger lexicon (add phrases to its slots or templates)")
    rng = np.random.default_rng([seed, 1, zlib.crc32(language.encode())])
    slots = dict(lex.slots)
    seen: dict[str, None] = {}
    while len(seen) < n:
        template = lex.templates[rng.integers(len(lex.templates))]
        fields = {name: phrases[rng.integers(len(phrases))] for name, phrases in slots.items()}
        text = template.format(**fields)
        text = " ".join(text.split())
        if lex.capitalize:
            text = _capitalize(text)
        seen.setdefault(text)
    return list(seen)


# --------------------------------------------------------------------------------------------
# Speakers
# --------------------------------------------------------------------------------------------
def _client_id(seed: int, index: int) -> str:
    """A 128-hex-digit id like Common Voice's hashed ``client_id``."""
    return hashlib.sha512(f"langlab-synth:{seed}:{index}".encode()).hexdigest()


def speakers(config: SynthConfig | None = None) -> pd.DataFrame:
    """The synthetic speakers of ``config``: one row each, with their voice and nuisance params.

    Columns: ``client_id``, ``speaker`` (index), ``gender``, ``age``, ``variant``, ``pitch``,
    ``pitch_range``, ``rate_wpm``, ``rt60_s``, ``reverb_db``, ``level_dbfs``, ``snr_db``
    (ranges in :data:`VOICE_RANGES`). The same speakers for every language: the draw does not
    depend on ``config.languages``.
    """
    config = config or PRESETS["book"]
    r = VOICE_RANGES
    rng = np.random.default_rng([config.seed, 0])
    rows = []
    for i in range(config.n_speakers):
        female = bool(rng.integers(2))
        variants = r["female_variants"] if female else r["male_variants"]
        rows.append({
            "client_id": _client_id(config.seed, i),
            "speaker": i,
            "gender": "female_feminine" if female else "male_masculine",
            "age": r["ages"][rng.integers(len(r["ages"]))],
            "variant": variants[rng.integers(len(variants))],
            "pitch": int(rng.integers(r["pitch"][0], r["pitch"][1] + 1)),
            "pitch_range": int(rng.integers(r["pitch_range"][0], r["pitch_range"][1] + 1)),
            "rate_wpm": int(rng.integers(r["rate_wpm"][0], r["rate_wpm"][1] + 1)),
            "rt60_s": round(float(rng.uniform(*r["rt60_s"])), 4),
            "reverb_db": round(float(rng.uniform(*r["reverb_db"])), 2),
            "level_dbfs": round(float(rng.uniform(*r["level_dbfs"])), 2),
            "snr_db": round(float(rng.uniform(*r["snr_db"])), 2),
        })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# eSpeak NG (one engine per process; not thread-safe)
# --------------------------------------------------------------------------------------------
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
_ESPEAK_RATE, _ESPEAK_PITCH, _ESPEAK_RANGE = 1, 3, 4


class _Espeak:
    """eSpeak NG, loaded fresh for every utterance.

    The library keeps state between utterances in C static variables (the pitch-flutter index,
    the waveform phase, the echo buffer), so the same sentence twice in one process gives
    slightly different samples. To make every clip depend only on its own parameters, each
    utterance loads a private copy of the library (``dlopen``), initialises it, seeds its noise
    generator (``espeak_ng_SetRandSeed``; by default it is seeded from the clock), speaks, and
    unloads it again (``dlclose``), which resets all of that state: about 3 ms per clip.
    The library is not thread-safe; use processes, not threads, to run several at once.
    """

    _instance: "_Espeak | None" = None
    _pid: int = -1

    def __init__(self):
        import atexit
        import tempfile

        import espeakng_loader

        self._data = espeakng_loader.get_data_path().encode()
        folder = Path(tempfile.mkdtemp(prefix="langlab-espeak-"))
        self._so = folder / "libespeak-ng.so"
        shutil.copyfile(espeakng_loader.get_library_path(), self._so)
        atexit.register(shutil.rmtree, folder, True)
        self._chunks: list[np.ndarray] = []
        self._callback = _CALLBACK(self._collect)  # keep a reference: ctypes must not free it

    def _collect(self, wav, n, events):
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    @classmethod
    def get(cls) -> "_Espeak":
        if cls._instance is None or cls._pid != os.getpid():
            cls._instance, cls._pid = cls(), os.getpid()
        return cls._instance

    def _open(self):
        import _ctypes

        lib = ctypes.CDLL(str(self._so), mode=os.RTLD_LOCAL)
        lib.espeak_Initialize.restype = ctypes.c_int
        sr = lib.espeak_Initialize(2, 0, self._data, 0)  # 2 = AUDIO_OUTPUT_SYNCHRONOUS
        if sr != ESPEAK_SR:
            _ctypes.dlclose(lib._handle)
            raise DataError(f"eSpeak NG failed to initialise (returned {sr}, expected {ESPEAK_SR})")
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_SetSynthCallback(self._callback)
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed(1)  # its noise generator is seeded from the clock otherwise
        return lib

    def say(self, text: str, *, voice: str, pitch: int, pitch_range: int, rate_wpm: int) -> np.ndarray:
        """``text`` spoken by ``voice`` (e.g. ``"es+f3"``): float32 samples at 22 050 Hz."""
        import _ctypes

        lib = self._open()
        try:
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ParameterError(f"eSpeak NG has no voice {voice!r}; see espeak-ng-data/lang and voices/!v")
            lib.espeak_SetParameter(_ESPEAK_RATE, int(rate_wpm), 0)
            lib.espeak_SetParameter(_ESPEAK_PITCH, int(pitch), 0)
            lib.espeak_SetParameter(_ESPEAK_RANGE, int(pitch_range), 0)
            self._chunks = []
            data = text.encode("utf-8") + b"\0"
            buf = ctypes.create_string_buffer(data, len(data))
            lib.espeak_Synth(buf, len(data), 0, 0, 0, 1, None, None)  # 1 = espeakCHARS_UTF8
        finally:
            lib.espeak_Terminate()
            _ctypes.dlclose(lib._handle)
        y = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        self._chunks = []
        return y.astype(np.float32) / 32768.0


def _room_ir(speaker: dict, sr: int, seed: int) -> np.ndarray:
    """The speaker's room: a direct path plus an exponentially decaying noise tail."""
    rng = np.random.default_rng([seed, 3, int(speaker["speaker"])])
    rt60 = float(speaker["rt60_s"])
    n = int(rt60 * sr)
    t = np.arange(1, n) / sr
    tail = rng.standard_normal(n - 1) * np.exp(-6.9 * t / rt60)
    tail *= 10 ** (float(speaker["reverb_db"]) / 20) / np.sqrt(np.sum(tail ** 2))
    return np.concatenate([[1.0], tail]).astype(np.float32)


def synthesize(text: str, *, language: str, speaker: dict | pd.Series, sr: int = 48000,
               seed: int = 0, clip_seed: Sequence[int] = (0,), nuisance: bool = True,
               lexicon_dir: str | os.PathLike | None = None) -> np.ndarray:
    """Speak ``text`` in ``language`` with one synthetic speaker's voice (Chapter 1).

    Parameters
    ----------
    text : str
        The sentence (Japanese in kana).
    language : str
        Locale code with a lexicon (its ``voice`` picks the eSpeak NG language).
    speaker : dict or pandas.Series
        One row of :func:`speakers`.
    sr : int
        Output sample rate in Hz.
    seed : int
        The corpus seed (the room's impulse response depends on it and the speaker).
    clip_seed : sequence of int
        Seeds this clip's silences, level jitter and noise.
    nuisance : bool
        If False, return eSpeak's dry voice (resampled) without room, silence, level or noise.

    Returns
    -------
    y : np.ndarray [shape=(n_samples,)] float32
        The waveform at ``sr``, peak below 1.
    """
    import soxr
    from scipy.signal import fftconvolve

    speaker = dict(speaker)
    lex = load_lexicon(language, lexicon_dir=lexicon_dir)
    y = _Espeak.get().say(text, voice=f"{lex.voice}+{speaker['variant']}", pitch=speaker["pitch"],
                          pitch_range=speaker["pitch_range"], rate_wpm=speaker["rate_wpm"])
    check(y.size > 0, f"eSpeak NG produced no sound for {text!r} ({language})", DataError)
    if nuisance:
        y = fftconvolve(y, _room_ir(speaker, ESPEAK_SR, seed))[: y.size + int(0.1 * ESPEAK_SR)]
    y = soxr.resample(y.astype(np.float32), ESPEAK_SR, sr).astype(np.float32)
    if not nuisance:
        return np.clip(y, -0.99, 0.99)
    r = VOICE_RANGES
    rng = np.random.default_rng(list(clip_seed))
    lead = int(rng.uniform(*r["lead_silence_s"]) * sr)
    trail = int(rng.uniform(*r["trail_silence_s"]) * sr)
    level_db = float(speaker["level_dbfs"]) + rng.uniform(-r["level_jitter_db"], r["level_jitter_db"])
    rms = float(np.sqrt(np.mean(y ** 2))) or 1.0
    y = y * (10 ** (level_db / 20) / rms)
    y = np.concatenate([np.zeros(lead, np.float32), y, np.zeros(trail, np.float32)])
    noise_rms = 10 ** ((level_db - float(speaker["snr_db"])) / 20)
    y = y + noise_rms * rng.standard_normal(y.size).astype(np.float32)
    return np.clip(y, -0.99, 0.99).astype(np.float32)


# --------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------
def clip_plan(config: SynthConfig | None = None) -> pd.DataFrame:
    """Every clip of the corpus before synthesis: the ``validated.tsv`` rows plus ``speaker``.

    Deterministic in ``config`` alone (no audio involved), which is why the TSV is byte-identical
    for the same seed.
    """
    config = config or PRESETS["book"]
    spk = speakers(config)
    rows = []
    for code in config.languages:
        lang_seed = zlib.crc32(code.encode())
        n = config.n_clips(code)
        texts = sentences(code, n, seed=config.seed, lexicon_dir=config.lexicon_dir)
        rng = np.random.default_rng([config.seed, 4, lang_seed])
        order = np.concatenate([rng.permutation(config.n_speakers) for _ in range(-(-n // config.n_speakers))])
        for i, text in enumerate(texts):
            s = spk.iloc[int(order[i])]
            rows.append({
                "client_id": s["client_id"],
                "path": f"common_voice_{code}_{40_000_000 + i}.mp3",
                "sentence_id": hashlib.sha256(text.encode()).hexdigest(),
                "sentence": text,
                "sentence_domain": "",
                "up_votes": 2,
                "down_votes": 0,
                "age": s["age"],
                "gender": s["gender"],
                "accents": "",
                "variant": "",
                "locale": code,
                "segment": "",
                "speaker": int(s["speaker"]),
                "clip_index": i,
            })
    return pd.DataFrame(rows)


def _tsv_bytes(plan: pd.DataFrame) -> bytes:
    lines = ["\t".join(TSV_COLUMNS)]
    for row in plan[list(TSV_COLUMNS)].itertuples(index=False):
        fields = [str(v) for v in row]
        for f in fields:
            if "\t" in f or "\n" in f:
                raise DataError(f"field {f!r} holds a tab or newline; it cannot go into a TSV")
        lines.append("\t".join(fields))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _synth_chunk(jobs: list[dict], speaker_rows: dict[int, dict], *, seed: int, sr: int,
                 lexicon_dir: str | None) -> int:
    """Worker: synthesise and write the clips of ``jobs`` (skipping finished files)."""
    import soundfile as sf

    for job in jobs:
        out = Path(job["out"])
        if not out.exists():
            y = synthesize(job["sentence"], language=job["locale"], speaker=speaker_rows[job["speaker"]],
                           sr=sr, seed=seed, clip_seed=(seed, 2, zlib.crc32(job["locale"].encode()),
                                                         job["clip_index"]),
                           lexicon_dir=lexicon_dir)
            buf = io.BytesIO()
            sf.write(buf, y, sr, format="MP3", compression_level=MP3_COMPRESSION)
            atomic_write_bytes(out, buf.getvalue())
    return len(jobs)


def write_corpus(out_dir: str | os.PathLike, config: SynthConfig | None = None, *, n_jobs: int = 2,
                 progress: bool = True) -> dict:
    """Synthesise the corpus of ``config`` into ``out_dir/<config.release>/`` (Common Voice layout).

    Clips already present (from an interrupted run) are kept, so the call resumes. Returns a
    summary dict: ``release`` (the folder), ``clips``, ``seconds``, ``clips_per_second``.
    """
    import joblib
    from tqdm.auto import tqdm

    config = config or PRESETS["book"]
    check(isinstance(n_jobs, int) and (n_jobs >= 1 or n_jobs == -1),
          f"n_jobs must be a positive integer or -1, got {n_jobs!r}")
    started = time.perf_counter()
    for code in config.languages:  # fail early on a missing or broken lexicon
        load_lexicon(code, lexicon_dir=config.lexicon_dir)
    plan = clip_plan(config)
    release = Path(out_dir) / config.release
    spk = {int(r["speaker"]): r for r in speakers(config).to_dict("records")}
    jobs = [{"out": str(release / r.locale / "clips" / r.path), "sentence": r.sentence, "locale": r.locale,
             "speaker": int(r.speaker), "clip_index": int(r.clip_index)} for r in plan.itertuples()]
    for code in config.languages:
        (release / code / "clips").mkdir(parents=True, exist_ok=True)
    todo = [j for j in jobs if not Path(j["out"]).exists()]
    size = 16
    chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
    if chunks:
        bar = tqdm(total=len(todo), desc="synth", unit="clip", disable=not progress, file=sys.stderr)
        # Starting worker processes costs seconds: not worth it for a few dozen clips.
        workers = 1 if len(todo) < 100 else n_jobs
        parallel = joblib.Parallel(n_jobs=workers, prefer="processes", return_as="generator")
        for done in parallel(joblib.delayed(_synth_chunk)(chunk, spk, seed=config.seed, sr=config.sample_rate,
                                                          lexicon_dir=config.lexicon_dir) for chunk in chunks):
            bar.update(done)
        bar.close()
    for code in config.languages:
        atomic_write_bytes(release / code / "validated.tsv", _tsv_bytes(plan[plan["locale"] == code]))
    seconds = time.perf_counter() - started
    return {"release": str(release), "clips": len(jobs), "synthesized": len(todo),
            "seconds": round(seconds, 3), "clips_per_second": round(len(todo) / seconds, 2) if todo else None}


#: The compute roots of a corpus entry (part of its store key, :mod:`langlab.codeversion`).
ROOTS = (write_corpus,)


def _entry(config: SynthConfig, store: Store):
    lexicons = {code: load_lexicon(code, lexicon_dir=config.lexicon_dir).sha256 for code in config.languages}
    return store.entry(STAGE, config={"synth": config, "lexicons": lexicons}, code=ROOTS)


def embedded_corpus(config: SynthConfig | None = None, *, store: Store | None = None,
                    n_jobs: int = 2, progress: bool = True) -> Path:
    """The embedded corpus of ``config`` (default: the ``book`` preset's), generated once.

    Parameters
    ----------
    config : SynthConfig or None
        What to generate; ``get_preset(name).synth`` gives a preset's.
    store : Store or None
        Where the corpus is cached (an entry of stage ``"synth"``, keyed by the config, the
        lexicons and this module's code). An interrupted generation resumes.
    n_jobs : int
        Worker processes for synthesis.
    progress : bool
        A progress bar on stderr.

    Returns
    -------
    Path
        The release folder: ``<release>/<locale>/clips/*.mp3`` and ``<release>/<locale>/validated.tsv``.
    """
    config = config or PRESETS["book"]
    check(isinstance(config, SynthConfig), f"config must be a SynthConfig, got {type(config).__name__}")
    store = default_store(store)
    entry = _entry(config, store)
    if entry.exists():
        return entry.path / config.release
    with entry.lock():  # a second process waits for this one's corpus, then reuses it
        if entry.exists():  # another process finished the same corpus meanwhile
            return entry.path / config.release
        partial = entry.partial()
        summary = write_corpus(partial, config, n_jobs=n_jobs, progress=progress)

        def fill(tmp: Path) -> dict:
            release = partial / config.release
            n_files = sum(1 for _ in release.glob("*/clips/*.mp3")) if release.exists() else 0
            check(n_files == summary["clips"],
                  f"{release} holds {n_files} of {summary['clips']} clips (was it generated by two "
                  "processes at once?); run again to finish it", DataError)
            os.replace(release, tmp / config.release)
            return {"summary": {k: v for k, v in summary.items() if k != "release"}}

        entry.write(fill, description=f"embedded corpus: {', '.join(config.languages)}, "
                                      f"{config.n_speakers} speakers, "
                                      f"{', '.join(str(config.n_clips(c)) for c in config.languages)} clips")
    return entry.path / config.release


def synthesis_summary(config: SynthConfig | None = None, *, store: Store | None = None) -> dict:
    """The manifest summary of a generated corpus (clips, seconds, clips per second)."""
    entry = _entry(config or PRESETS["book"], default_store(store))
    return entry.manifest().get("summary", {})
