"""Speech rhythm of the embedded corpus: vocalic and consonantal intervals (Chapter 1).

The hypothesis the book tests is about rhythm classes: Spanish and Italian are called
syllable-timed, Japanese mora-timed, English stress-timed. Whether eSpeak NG's voices differ in
rhythm the way recorded speech does is measured here with the standard interval metrics.

**Where the durations come from.** eSpeak NG reports a *phoneme event* (the phoneme's mnemonic
and its position in the audio) when every phoneme starts; :func:`phoneme_events` switches these
on (``espeak_ng_SetPhonemeEvents``) in the same engine, voice and speaking rate that make the
corpus (:mod:`langlab.synth`), so the events describe exactly the corpus's speech (the samples
are identical). A phoneme lasts from its event to the next event of any kind.

**Segmentation rule** (:func:`intervals`)

- *Vowel or consonant* is eSpeak NG's own phoneme class, read from its phoneme table
  (``espeak-ng-data/phontab``, the table of the voice's language and the tables it includes):
  type ``vowel`` (this includes diphthongs) is vocalic; liquids (eSpeak counts the glides
  /j/ and /w/ among them), nasals, stops and fricatives, voiced or not, are consonantal.
  Zero-length symbols (stress and length marks) carry no time.
- eSpeak NG's *pause phonemes* (``_``, ``_:``, ``_|``, ...) are not intervals: a pause ends the
  current interval, and the next interval starts a new *stretch*. Pauses at the start and end
  of an utterance are dropped.
- The short silence eSpeak NG inserts before some phonemes (a stop's closure, a gap at a word
  boundary; it lies between a word event and the next phoneme event) is counted with the
  phoneme that follows it, as a phonetician counts a stop's closure with the stop.
- Neighbouring phonemes of one class merge into one interval (a consonant cluster is one
  consonantal interval). A phoneme that eSpeak NG gives no time (e.g. a linking glide) neither
  forms nor splits an interval.

**Metrics** (:func:`metrics`, one utterance; durations in seconds unless stated)

- ``percent_v`` (%V): vocalic share of the utterance's vocalic plus consonantal time, in %;
  ``delta_c`` and ``delta_v`` (deltaC, deltaV): the standard deviation (n - 1) of the
  consonantal and vocalic interval durations, in centiseconds as in
  Ramus, Nespor & Mehler (1999).
- ``varco_c`` = 100 deltaC / mean consonantal interval, and ``varco_v`` likewise for vowels
  (Dellwo 2006 for VarcoC; White & Mattys 2007 for VarcoV): deltaC and deltaV normalised for
  speaking rate.
- ``npvi_v`` (vocalic normalised pairwise variability index) = 100 x mean over successive
  vocalic intervals of ``|d_k - d_k+1| / ((d_k + d_k+1) / 2)``; ``rpvi_c`` (intervocalic raw
  PVI) = mean ``|d_k - d_k+1|`` over successive consonantal intervals, in ms
  (Grabe & Low 2002). A pair never spans a pause (both intervals lie in one stretch).

:func:`corpus_rhythm` measures the corpus's sentences and speakers (cached in the store);
:func:`language_summary` averages per language with intervals over speakers;
:data:`PUBLISHED` holds the published values they are compared with.
"""
from __future__ import annotations

import ctypes
import functools
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from langlab.errors import DataError, ParameterError, check
from langlab.store import Store, default_store

__all__ = ["PUBLISHED", "METRICS", "phoneme_classes", "phoneme_events", "intervals", "metrics",
           "utterance_metrics", "corpus_rhythm", "language_summary", "STAGE"]

#: Store stage of the measured corpus.
STAGE = "rhythm"
#: The metrics of :func:`metrics`, in display order, with their units.
METRICS = {"percent_v": "%", "delta_c": "cs", "delta_v": "cs", "varco_c": "", "varco_v": "",
           "npvi_v": "", "rpvi_c": "ms"}

#: Published values for the languages of the book: ``percent_v`` (%) and ``delta_c`` (cs) of
#: Ramus, Nespor & Mehler (1999), Cognition 73(3), Table 1 (four speakers x five sentences per
#: language), as quoted in this project's issue 15. ``verified`` says whether they were checked
#: against the paper itself; they were not (its table was not available to the authors of this
#: module), so the book shows them as quoted. Grabe & Low's (2002) nPVI/rPVI values could not
#: be checked either and are left out rather than typed from memory.
PUBLISHED = pd.DataFrame(
    [("en", 40.1, 5.35), ("es", 43.8, 4.74), ("it", 45.2, 4.81), ("ja", 53.1, 3.56)],
    columns=["language", "percent_v", "delta_c"]).assign(
        source="Ramus et al. 1999, Table 1 (as quoted, unverified)", verified=False)

# eSpeak NG's phoneme types (phoneme.h).
_PH_PAUSE, _PH_STRESS, _PH_VOWEL, _PH_VIRTUAL = 0, 1, 2, 9
_PH_CONSONANTS = {3: "liquid", 4: "stop", 5: "voiced stop", 6: "fricative", 7: "voiced fricative",
                  8: "nasal"}
_EV_WORD, _EV_END, _EV_PHONEME = 1, 5, 7
VOWEL, CONSONANT, PAUSE, SILENT = "V", "C", "pause", "none"


# --------------------------------------------------------------------------------------------
# eSpeak NG's phoneme classes
# --------------------------------------------------------------------------------------------
def _data_path() -> Path:
    import espeakng_loader

    return Path(espeakng_loader.get_data_path())


@functools.lru_cache(maxsize=1)
def _phoneme_tables() -> tuple[list[str], dict[str, tuple[int, dict[str, int]]]]:
    """eSpeak NG's ``phontab``: table name -> (index of the table it includes, mnemonic -> type)."""
    path = _data_path() / "phontab"
    raw = path.read_bytes()
    names: list[str] = []
    tables: dict[str, tuple[int, dict[str, int]]] = {}
    try:
        pos = 4
        for _ in range(raw[0]):
            n_phonemes, includes = raw[pos], raw[pos + 1]
            pos += 4
            name = raw[pos:pos + 32].split(b"\0")[0].decode("ascii")
            pos += 32
            types = {}
            for _ in range(n_phonemes):
                mnemonic, _, _, _, ph_type = struct.unpack_from("<IIHBB", raw, pos)
                pos += 16  # sizeof(PHONEME_TAB)
                text = mnemonic.to_bytes(4, "little").rstrip(b"\0").decode("latin-1")
                if text:
                    types[text] = ph_type
            names.append(name)
            tables[name] = (includes, types)
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not an eSpeak NG phoneme table file ({exc})") from exc
    check(pos == len(raw), f"{path}: {len(raw) - pos} bytes left after the phoneme tables; "
          "not the format this reader expects (eSpeak NG 1.52's)", DataError)
    return names, tables


@functools.lru_cache(maxsize=64)
def _table_name(voice: str) -> str:
    """The phoneme table eSpeak NG uses for ``voice`` (its voice file's ``phonemes`` or language)."""
    names, _ = _phoneme_tables()
    files = [p for p in (_data_path() / "lang").rglob(voice) if p.is_file()]
    candidates = []
    if files:
        lines = [line.split() for line in files[0].read_text(encoding="utf-8").splitlines()]
        candidates += [words[1] for words in lines if len(words) > 1 and words[0] == "phonemes"]
        candidates += [words[1] for words in lines if len(words) > 1 and words[0] == "language"][:1]
    candidates += [voice]
    candidates += [c.split("-")[0] for c in candidates]
    for name in candidates:
        if name in names:
            return name
    raise ParameterError(f"no eSpeak NG phoneme table for voice {voice!r} (tried {candidates})")


def phoneme_classes(language: str, *, lexicon_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """eSpeak NG mnemonic -> ``"V"``, ``"C"``, ``"pause"`` or ``"none"`` for ``language`` (Chapter 1).

    Read from eSpeak NG's phoneme table of the language's voice and the tables it includes
    (a language's own entry overrides an included one): vowels (eSpeak's type ``vowel``) are
    ``"V"``; liquids, nasals, stops and fricatives ``"C"``; pause phonemes ``"pause"``;
    stress and length marks, which carry no sound, ``"none"``.
    """
    from langlab.synth import load_lexicon

    return dict(_voice_classes(load_lexicon(language, lexicon_dir=lexicon_dir).voice))


@functools.lru_cache(maxsize=64)
def _voice_classes(voice: str) -> dict[str, str]:
    names, tables = _phoneme_tables()
    chain, name = [], _table_name(voice)
    while True:
        chain.append(name)
        includes = tables[name][0]
        if includes == 0 or len(chain) > len(names):
            break
        name = names[includes - 1]
    types: dict[str, int] = {}
    for name in reversed(chain):
        types.update(tables[name][1])
    kinds = {}
    for mnemonic, ph_type in types.items():
        if ph_type == _PH_VOWEL:
            kinds[mnemonic] = VOWEL
        elif ph_type in _PH_CONSONANTS:
            kinds[mnemonic] = CONSONANT
        elif ph_type == _PH_PAUSE:
            kinds[mnemonic] = PAUSE
        else:
            kinds[mnemonic] = SILENT
    return kinds


# --------------------------------------------------------------------------------------------
# Phoneme events
# --------------------------------------------------------------------------------------------
class _Event(ctypes.Structure):
    """``espeak_EVENT`` of speak_lib.h."""

    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


def _engine_class():
    from langlab.synth import _Espeak

    class _EventEspeak(_Espeak):
        """The corpus's engine with phoneme events switched on (the audio is unchanged)."""

        _instance = None
        _pid = -1

        def __init__(self):
            super().__init__()
            self.events: list[tuple[int, int, str]] = []

        def _open(self):
            lib = super()._open()
            lib.espeak_ng_SetPhonemeEvents.argtypes = [ctypes.c_int, ctypes.c_int]
            lib.espeak_ng_SetPhonemeEvents(1, 0)  # mnemonics, not IPA
            return lib

        def _collect(self, wav, n, events):
            super()._collect(wav, n, events)
            if events:
                array = ctypes.cast(events, ctypes.POINTER(_Event))
                i = 0
                while array[i].type != 0:  # espeakEVENT_LIST_TERMINATED
                    ev = array[i]
                    name = ev.id.decode("utf-8", "replace") if ev.type == _EV_PHONEME else ""
                    self.events.append((int(ev.type), int(ev.sample), name))
                    i += 1
            return 0

    return _EventEspeak


@functools.lru_cache(maxsize=1)
def _engine():
    return _engine_class()


def _speak(text: str, *, voice: str, speaker: dict) -> tuple[np.ndarray, list[tuple[int, int, str]]]:
    engine = _engine().get()
    engine.events = []
    y = engine.say(text, voice=voice, pitch=speaker["pitch"], pitch_range=speaker["pitch_range"],
                   rate_wpm=speaker["rate_wpm"])
    events, engine.events = engine.events, []
    return y, events


def phoneme_events(text: str, *, language: str, speaker: dict | pd.Series,
                   lexicon_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """The phonemes of ``text`` as eSpeak NG speaks it for the corpus, with their times (Chapter 1).

    Parameters
    ----------
    text : str
        The sentence (Japanese in kana).
    language : str
        Locale code with a lexicon (:func:`langlab.synth.load_lexicon`).
    speaker : dict or pandas.Series
        One row of :func:`langlab.synth.speakers` (voice variant, pitch, range, rate).

    Returns
    -------
    pandas.DataFrame
        One row per phoneme: ``phoneme`` (eSpeak's mnemonic without stress marks), ``kind``
        (``"V"``, ``"C"``, ``"pause"`` or ``"none"``, :func:`phoneme_classes`), ``start`` and
        ``end`` in seconds; silence eSpeak inserts before a phoneme belongs to that phoneme.
    """
    return pd.DataFrame(_event_rows(text, language=language, speaker=speaker, lexicon_dir=lexicon_dir),
                        columns=["phoneme", "kind", "start", "end"])


def _event_rows(text: str, *, language: str, speaker, lexicon_dir) -> list[list]:
    """:func:`phoneme_events` as a list of [phoneme, kind, start, end] rows."""
    from langlab.synth import ESPEAK_SR, load_lexicon

    speaker = dict(speaker)
    lex = load_lexicon(language, lexicon_dir=lexicon_dir)
    classes = _voice_classes(lex.voice)
    y, events = _speak(text, voice=f"{lex.voice}+{speaker['variant']}", speaker=speaker)
    check(y.size > 0 and any(t == _EV_PHONEME for t, _, _ in events),
          f"eSpeak NG produced no phonemes for {text!r} ({language})", DataError)
    rows: list[list] = []  # [phoneme, kind, start, end] in samples
    pending_start = None  # a word event: silence up to the next phoneme belongs to that phoneme
    for ev_type, sample, name in events:
        if ev_type == _EV_WORD:
            pending_start = sample if pending_start is None else pending_start
            if rows and rows[-1][3] is None:
                rows[-1][3] = sample
        elif ev_type == _EV_PHONEME:
            if rows and rows[-1][3] is None:
                rows[-1][3] = sample
            mnemonic = name.lstrip("',")
            kind = classes.get(mnemonic)
            if kind is None:
                raise DataError(f"eSpeak NG reported phoneme {name!r} for {text!r} ({language}), "
                                f"which its phoneme table for voice {lex.voice!r} does not list")
            start = sample if pending_start is None else min(pending_start, sample)
            pending_start = None
            rows.append([mnemonic, kind, start, None])
        elif ev_type == _EV_END and rows and rows[-1][3] is None:
            rows[-1][3] = sample
    if rows and rows[-1][3] is None:
        rows[-1][3] = y.size
    return [[p, k, start / ESPEAK_SR, end / ESPEAK_SR] for p, k, start, end in rows]


# --------------------------------------------------------------------------------------------
# Intervals and metrics
# --------------------------------------------------------------------------------------------
def intervals(events: pd.DataFrame) -> pd.DataFrame:
    """Vocalic and consonantal intervals of one utterance (Chapter 1; rule in the module docstring).

    Parameters
    ----------
    events : pandas.DataFrame
        Rows in time order with ``kind`` (``"V"``, ``"C"``, ``"pause"`` or ``"none"``) and either
        ``duration`` (s) or ``start`` and ``end`` (s), e.g. :func:`phoneme_events`.

    Returns
    -------
    pandas.DataFrame
        One row per interval: ``kind`` (``"V"`` or ``"C"``), ``duration`` (s) and ``stretch``
        (0, 1, ...: the pause-free stretch it lies in).
    """
    check(isinstance(events, pd.DataFrame) and "kind" in events.columns,
          "events must be a DataFrame with a 'kind' column (V, C, pause, none)")
    if "duration" in events.columns:
        durations = events["duration"].to_numpy(dtype=float)
    else:
        check({"start", "end"} <= set(events.columns), "events need 'duration' or 'start' and 'end'")
        durations = (events["end"] - events["start"]).to_numpy(dtype=float)
    kinds = events["kind"].to_numpy()
    bad = sorted({str(k) for k in kinds} - {VOWEL, CONSONANT, PAUSE, SILENT})
    check(not bad, f"event kinds must be V, C, pause or none; got {bad}")
    check(bool(np.all(np.isfinite(durations))) and bool(np.all(durations >= 0)),
          "event durations must be finite and >= 0")
    return pd.DataFrame(_segment(kinds, durations), columns=["kind", "duration", "stretch"]).astype(
        {"duration": float, "stretch": int})


def _segment(kinds, durations) -> list[list]:
    """The rule of :func:`intervals` on plain sequences: a list of [kind, duration, stretch]."""
    out: list[list] = []
    stretch, after_pause = 0, False
    for kind, duration in zip(kinds, durations):
        if duration == 0 and kind in (VOWEL, CONSONANT):
            continue  # a phoneme that takes no time neither forms nor splits an interval
        if kind == SILENT:
            if out and not after_pause:
                out[-1][1] += duration  # a mark with time (rare): it belongs to what it marks
            continue
        if kind == PAUSE:
            after_pause = bool(out)
            continue
        if after_pause:
            stretch, after_pause = stretch + 1, False
        if out and out[-1][0] == kind and out[-1][2] == stretch:
            out[-1][1] += duration
        else:
            out.append([kind, float(duration), stretch])
    return out


def _pairs(kinds: np.ndarray, durations: np.ndarray, stretches: np.ndarray,
           kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Successive intervals of ``kind`` within one stretch: (earlier, later) durations."""
    mask = kinds == kind
    d, st = durations[mask], stretches[mask]
    same = st[:-1] == st[1:]
    return d[:-1][same], d[1:][same]


def metrics(table: pd.DataFrame) -> dict[str, float]:
    """%V, deltaC, deltaV, VarcoC, VarcoV, vocalic nPVI and intervocalic rPVI of one utterance.

    Parameters
    ----------
    table : pandas.DataFrame
        Its intervals, as :func:`intervals` returns them (``kind``, ``duration`` in s, ``stretch``).

    Returns
    -------
    dict
        ``percent_v`` (%), ``delta_c`` and ``delta_v`` (cs), ``varco_c``, ``varco_v``,
        ``npvi_v``, ``rpvi_c`` (ms), ``n_v`` and ``n_c`` (interval counts). A metric that needs
        more intervals than there are (two for a deviation or a pair) is NaN.
    """
    check(isinstance(table, pd.DataFrame) and {"kind", "duration", "stretch"} <= set(table.columns),
          "metrics needs the intervals of one utterance (kind, duration, stretch), see intervals()")
    return _metrics(table["kind"].to_numpy(), table["duration"].to_numpy(dtype=float),
                    table["stretch"].to_numpy())


def _metrics(kinds: np.ndarray, durations: np.ndarray, stretches: np.ndarray) -> dict[str, float]:
    v, c = durations[kinds == VOWEL], durations[kinds == CONSONANT]
    check(v.size + c.size > 0 and v.sum() + c.sum() > 0, "the utterance has no vocalic or consonantal time")
    nan = float("nan")
    sd_v = float(np.std(v, ddof=1)) if v.size > 1 else nan
    sd_c = float(np.std(c, ddof=1)) if c.size > 1 else nan
    v1, v2 = _pairs(kinds, durations, stretches, VOWEL)
    c1, c2 = _pairs(kinds, durations, stretches, CONSONANT)
    return {
        "percent_v": float(100 * v.sum() / (v.sum() + c.sum())),
        "delta_c": 100 * sd_c,
        "delta_v": 100 * sd_v,
        "varco_c": float(100 * sd_c / c.mean()) if c.size > 1 else nan,
        "varco_v": float(100 * sd_v / v.mean()) if v.size > 1 else nan,
        "npvi_v": float(100 * np.mean(np.abs(v1 - v2) / ((v1 + v2) / 2))) if v1.size else nan,
        "rpvi_c": float(1000 * np.mean(np.abs(c1 - c2))) if c1.size else nan,
        "n_v": int(v.size), "n_c": int(c.size),
    }


def utterance_metrics(events: pd.DataFrame) -> pd.DataFrame:
    """:func:`metrics` of every utterance of an events table with ``language``, ``speaker``,
    ``utterance`` columns (as :func:`corpus_rhythm` returns): one row per utterance."""
    keys = ["language", "speaker", "utterance"]
    missing = [k for k in keys if k not in events.columns]
    check(not missing, f"events need the columns {keys}; missing {missing}")
    kinds = events["kind"].to_numpy()
    durations = (events["end"] - events["start"]).to_numpy(dtype=float)
    rows = []
    for key, index in events.groupby(keys, sort=False).indices.items():
        segments = _segment(kinds[index], durations[index])
        check(bool(segments), f"utterance {key} has no vocalic or consonantal interval", DataError)
        k, d, st = (np.array(x) for x in zip(*segments))
        rows.append({**dict(zip(keys, key)), **_metrics(k, d.astype(float), st)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------
def _measure(config, languages: tuple[str, ...], per_speaker: int) -> pd.DataFrame:
    """Phoneme events of ``per_speaker`` sentences of every speaker in every language."""
    from langlab.synth import clip_plan, speakers

    plan = clip_plan(config)
    voices = {int(r["speaker"]): r for r in speakers(config).to_dict("records")}
    rows = []
    for code in languages:
        lines = plan[plan["locale"] == code]
        for line in lines.groupby("speaker", sort=True).head(per_speaker).itertuples():
            speaker, utterance = int(line.speaker), int(line.clip_index)
            rows += [[code, speaker, utterance, *event] for event in
                     _event_rows(line.sentence, language=code, speaker=voices[speaker],
                                 lexicon_dir=config.lexicon_dir)]
    return pd.DataFrame(rows, columns=["language", "speaker", "utterance", "phoneme", "kind", "start", "end"])


#: The compute roots of a rhythm entry (part of its store key, :mod:`langlab.codeversion`).
ROOTS = (_measure,)


def corpus_rhythm(config=None, *, languages: tuple[str, ...] = ("es", "it", "ja", "en"),
                  per_speaker: int = 3, store: Store | None = None) -> pd.DataFrame:
    """Phoneme events of the corpus's sentences and speakers, measured once (Chapter 1).

    Parameters
    ----------
    config : langlab.synth.SynthConfig or None
        The corpus (default: the ``book`` preset's). Its speakers read their own sentences of
        the corpus; a language not in ``config.languages`` (English for the book) is read by
        the same speakers from its own grammar, as if it were part of the corpus.
    languages : tuple of str
        Languages to measure.
    per_speaker : int
        Sentences per speaker and language (the first ones of each speaker in the corpus).
    store : Store or None
        Where the events table is cached (stage ``"rhythm"``).

    Returns
    -------
    pandas.DataFrame
        :func:`phoneme_events` rows with ``language``, ``speaker`` and ``utterance`` (the clip
        index in the corpus) in front; :func:`utterance_metrics` turns it into metrics.
    """
    import dataclasses

    from langlab.synth import PRESETS, SynthConfig, load_lexicon

    config = config or PRESETS["book"]
    check(isinstance(config, SynthConfig), f"config must be a SynthConfig, got {type(config).__name__}")
    check(isinstance(languages, tuple) and len(languages) > 0 and all(isinstance(c, str) for c in languages),
          f"languages must be a non-empty tuple of locale codes, got {languages!r}")
    check(isinstance(per_speaker, int) and not isinstance(per_speaker, bool) and per_speaker >= 1,
          f"per_speaker must be an int >= 1, got {per_speaker!r}")
    wanted = config.languages + tuple(c for c in languages if c not in config.languages)
    measured = dataclasses.replace(config, languages=wanted)
    lexicons = {code: load_lexicon(code, lexicon_dir=config.lexicon_dir).sha256 for code in languages}
    store = default_store(store)
    entry = store.entry(STAGE, config={"synth": measured, "languages": list(languages),
                                       "per_speaker": per_speaker, "lexicons": lexicons}, code=ROOTS)
    if not entry.exists():
        def fill(tmp: Path) -> dict:
            table = _measure(measured, tuple(languages), per_speaker)
            table.to_csv(tmp / "events.csv.gz", index=False, float_format="%.6f")
            return {"utterances": int(table.groupby(["language", "utterance"]).ngroups)}

        entry.write(fill, description=f"rhythm: phoneme events of {', '.join(languages)}, "
                                      f"{per_speaker} sentences per speaker")
    return pd.read_csv(entry.path / "events.csv.gz", keep_default_na=False,
                       dtype={"language": str, "phoneme": str, "kind": str})


def language_summary(per_utterance: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per language and metric: the mean over speakers and its interval (Chapter 1).

    Every speaker's utterances are averaged first; the mean and the interval is Student's t over those
    speaker means (a speaker's rate moves all of their utterances together, so speakers, not
    utterances, are the independent units).

    Returns
    -------
    pandas.DataFrame
        Columns ``language``, ``metric``, ``mean``, ``ci_low``, ``ci_high``, ``n_speakers``,
        ``n_utterances``.
    """
    from langlab.stats import mean_ci

    missing = [k for k in ["language", "speaker", *METRICS] if k not in per_utterance.columns]
    check(not missing, f"per_utterance needs the columns of utterance_metrics(); missing {missing}")
    rows = []
    for language, group in per_utterance.groupby("language", sort=False):
        speaker_means = group.groupby("speaker")[list(METRICS)].mean()
        for metric in METRICS:
            mean, low, high = mean_ci(speaker_means[metric].dropna(), confidence=confidence)
            rows.append({"language": language, "metric": metric, "mean": mean,
                         "ci_low": low, "ci_high": high, "n_speakers": int(len(speaker_means)),
                         "n_utterances": int(len(group))})
    return pd.DataFrame(rows)
