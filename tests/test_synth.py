"""langlab.synth: lexicons, speakers shared across languages, deterministic Common Voice layout."""
import csv
import dataclasses
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from langlab import synth
from langlab.errors import DataError, ParameterError
from langlab.store import Store

TINY = synth.SynthConfig(languages=("es", "ja"), n_speakers=2, clips_per_language=3, seed=3)


@pytest.mark.parametrize("language", ["es", "it", "ja", "en"])
def test_sentences_are_distinct_and_deterministic(language):
    first = synth.sentences(language, 300, seed=1)
    assert len(first) == len(set(first)) == 300
    assert first == synth.sentences(language, 300, seed=1)
    assert first != synth.sentences(language, 300, seed=2)
    assert all("\t" not in s and "\n" not in s and s.strip() == s for s in first)


@pytest.mark.parametrize("language", ["es", "it", "ja"])
def test_book_languages_have_thousands_of_sentences(language):
    assert synth.load_lexicon(language).n_combinations() >= 5000


def test_japanese_is_written_in_kana_only():
    for sentence in synth.sentences("ja", 200):
        for ch in sentence:
            name = unicodedata.name(ch)
            assert name.startswith(("HIRAGANA", "KATAKANA", "IDEOGRAPHIC FULL STOP")), (ch, name, sentence)


def test_too_many_sentences_is_a_parameter_error():
    with pytest.raises(ParameterError, match="larger lexicon"):
        synth.sentences("en", 10 ** 6)


def test_unknown_language_names_the_lexicon_folder():
    with pytest.raises(ParameterError, match="no lexicon for language 'xx'"):
        synth.load_lexicon("xx")


def test_speakers_do_not_depend_on_languages():
    a = synth.speakers(synth.SynthConfig(languages=("es",), n_speakers=5))
    b = synth.speakers(synth.SynthConfig(languages=("it", "ja"), n_speakers=5))
    pd.testing.assert_frame_equal(a, b)
    assert a["client_id"].str.fullmatch(r"[0-9a-f]{128}").all()
    r = synth.VOICE_RANGES
    assert a["pitch"].between(*r["pitch"]).all() and a["rate_wpm"].between(*r["rate_wpm"]).all()


def test_every_speaker_speaks_every_language():
    plan = synth.clip_plan(synth.PRESETS["book"])
    per_language = plan.groupby("locale")["client_id"].apply(set)
    assert per_language["es"] == per_language["it"] == per_language["ja"]
    assert len(per_language["es"]) == 40
    counts = plan.groupby(["locale", "client_id"]).size()
    assert counts.loc["it"].min() == counts.loc["it"].max() == 9
    assert counts.loc["es"].min() == counts.loc["es"].max() == 12


def test_synthesize_is_deterministic_and_speaker_dependent():
    spk = synth.speakers(TINY)
    text = synth.sentences("es", 1)[0]
    y1 = synth.synthesize(text, language="es", speaker=spk.iloc[0], clip_seed=(1,))
    synth.synthesize("Otra frase.", language="es", speaker=spk.iloc[1], clip_seed=(2,))
    y2 = synth.synthesize(text, language="es", speaker=spk.iloc[0], clip_seed=(1,))
    y3 = synth.synthesize(text, language="es", speaker=spk.iloc[1], clip_seed=(1,))
    assert y1.dtype == np.float32 and np.array_equal(y1, y2)
    assert not (len(y1) == len(y3) and np.array_equal(y1, y3))
    assert 1.0 < len(y1) / 48000 < 8.0 and np.abs(y1).max() < 1


def test_nuisance_adds_silence_and_noise():
    spk = synth.speakers(TINY).iloc[0]
    dry = synth.synthesize("Hola.", language="es", speaker=spk, nuisance=False)
    wet = synth.synthesize("Hola.", language="es", speaker=spk, clip_seed=(5,))
    lead = synth.VOICE_RANGES["lead_silence_s"]
    assert len(wet) > len(dry) + 2 * lead[0] * 48000 * 0.9
    assert np.abs(wet[:100]).max() > 0  # noise floor, never digital silence


def read_tsv(path):
    return pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)


def test_write_corpus_layout_and_determinism(tmp_path):
    s1 = synth.write_corpus(tmp_path / "a", TINY, n_jobs=1, progress=False)
    release = Path(s1["release"])
    assert release == tmp_path / "a" / TINY.release and s1["clips"] == 6
    for code in TINY.languages:
        tsv = read_tsv(release / code / "validated.tsv")
        assert tuple(tsv.columns) == synth.TSV_COLUMNS
        assert len(tsv) == 3 and (tsv["locale"] == code).all()
        for name in tsv["path"]:
            info = sf.info(str(release / code / "clips" / name))
            assert (info.samplerate, info.channels, info.format) == (48000, 1, "MP3")
    # a second run, in a separate process through the CLI, gives the same bytes
    out = subprocess.run([sys.executable, "-m", "langlab.cli", "synth", str(tmp_path / "b"), "--languages",
                          "es,ja", "--clips-per-language", "3", "--speakers", "2", "--seed", "3", "--quiet"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "wrote 6 clips" in out.stdout
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) == 8
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_write_corpus_resumes(tmp_path):
    s1 = synth.write_corpus(tmp_path, TINY, n_jobs=1, progress=False)
    clip = next(Path(s1["release"]).rglob("*.mp3"))
    before = clip.read_bytes()
    clip.unlink()
    s2 = synth.write_corpus(tmp_path, TINY, n_jobs=1, progress=False)
    assert s2["synthesized"] == 1 and clip.read_bytes() == before


def test_embedded_corpus_is_cached(tmp_path, monkeypatch):
    store = Store(tmp_path / "store")
    release = synth.embedded_corpus(TINY, store=store, n_jobs=1)
    assert (release / "es" / "validated.tsv").exists()
    assert synth.synthesis_summary(TINY, store=store)["clips"] == 6
    monkeypatch.setattr(synth, "write_corpus", lambda *a, **k: pytest.fail("regenerated"))
    assert synth.embedded_corpus(TINY, store=store) == release
    other = dataclasses.replace(TINY, seed=4)
    with pytest.raises(pytest.fail.Exception):
        synth.embedded_corpus(other, store=store)


ENGLISH_LIKE = """\
name: Portuguese
voice: pt
capitalize: true
templates:
  - "{subject} {action} {place}."
slots:
  subject: [a minha irmã, o professor, o meu avô, a vizinha, o médico, a menina]
  action: [compra pão, lê um livro, escreve uma carta, bebe café, prepara o jantar, canta uma canção]
  place: [no mercado, em casa, no jardim, na praça, na escola, no parque]
"""


def test_adding_languages_en_shipped_and_pt_from_a_lexicon_dir(tmp_path):
    (tmp_path / "lex").mkdir()
    (tmp_path / "lex" / "pt.yml").write_text(ENGLISH_LIKE, encoding="utf-8")
    config = synth.SynthConfig(languages=("en", "pt"), n_speakers=2, clips_per_language=4,
                               lexicon_dir=str(tmp_path / "lex"))
    assert {"en", "pt", "es"} <= set(synth.languages(tmp_path / "lex"))
    summary = synth.write_corpus(tmp_path / "out", config, n_jobs=1, progress=False)
    for code in ("en", "pt"):
        tsv = read_tsv(Path(summary["release"]) / code / "validated.tsv")
        assert len(tsv) == 4 and (tsv["locale"] == code).all()
    assert "Portuguese" == synth.load_lexicon("pt", lexicon_dir=tmp_path / "lex").name


@pytest.mark.parametrize("text, match", [
    ("voice: pt\ntemplates: ['{who} fala.']\nslots: {someone: [ele]}\n", "does not define"),
    ("voice: pt\nslots: {who: [ele]}\n", "missing key"),
    ("- just a list\n", "expected a mapping"),
    ("voice: [unclosed\n", "not a valid UTF-8 YAML"),
])
def test_broken_lexicon_is_a_data_error(tmp_path, text, match):
    (tmp_path / "pt.yml").write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=match):
        synth.load_lexicon("pt", lexicon_dir=tmp_path)


@pytest.mark.parametrize("bad", [
    {"languages": ()}, {"languages": ("es", "es")}, {"languages": "es"}, {"n_speakers": 0},
    {"clips_per_language": 0}, {"seed": -1}, {"sample_rate": 44000}, {"release": "a/b"},
    {"clips": (("fr", 3),)},
])
def test_config_validation(bad):
    with pytest.raises(ParameterError):
        synth.SynthConfig(**bad)


def test_presets_are_sized_as_documented():
    smoke, book = synth.PRESETS["smoke"], synth.PRESETS["book"]
    assert smoke.languages == book.languages == ("es", "it", "ja")
    assert sum(smoke.n_clips(c) for c in smoke.languages) <= 100
    assert book.n_speakers == 40 and [book.n_clips(c) for c in book.languages] == [480, 360, 360]


def test_cli_synth_reports_bad_input(tmp_path):
    out = subprocess.run([sys.executable, "-m", "langlab.cli", "synth", str(tmp_path), "--languages", "xx",
                          "--quiet"], capture_output=True, text=True)
    assert out.returncode == 2 and "no lexicon for language 'xx'" in out.stderr
    assert "Traceback" not in out.stderr
