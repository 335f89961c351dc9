"""langlab.corpus: the Common Voice reader on generated and hand-made folders, every bad-input
kind, and the speaker-disjoint splits."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from langlab import corpus
from langlab.errors import DataError, ParameterError
from langlab.presets import get_preset
from langlab.store import Store

HEADER = "client_id\tpath\tsentence_id\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\tsegment"


def tone(sr, seconds, channels=1, amp=0.2):
    t = np.arange(int(sr * seconds)) / sr
    y = (amp * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return np.stack([y] * channels, axis=1) if channels > 1 else y


def write_locale(folder, rows, *, header=HEADER):
    (folder / "clips").mkdir(parents=True, exist_ok=True)
    lines = [header] + ["\t".join(r) for r in rows]
    (folder / "validated.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def row(speaker, name, sentence, locale):
    return (speaker, name, "sid", sentence, "2", "0", "", "", "", locale, "")


@pytest.fixture(scope="module")
def cv_dir(tmp_path_factory):
    """A hand-made release: good clips, every awkward kind and every broken kind."""
    root = tmp_path_factory.mktemp("cv") / "cv-corpus-test"
    es, it = root / "es", root / "it"
    rows_es = []
    _mk(es)
    for i in range(6):
        name = f"good_{i}.mp3"
        sf.write(es / "clips" / name, tone(48000, 1.0 + 0.1 * i), 48000, format="MP3")
        rows_es.append(row(f"spk{i % 3}", name, f'Ella dijo "hola" {i}.', "es"))
    awkward = {
        "stereo.mp3": (tone(48000, 1.0, channels=2), 48000, "MP3"),
        "long.mp3": (tone(48000, 30.0), 48000, "MP3"),
        "short.mp3": (tone(48000, 0.03), 48000, "MP3"),
        "silence.mp3": (np.zeros(48000, np.float32), 48000, "MP3"),
        "wav_inside.mp3": (tone(16000, 1.0), 16000, "WAV"),
        "rate44.mp3": (tone(44100, 1.0), 44100, "MP3"),
    }
    for name, (y, sr, fmt) in awkward.items():
        sf.write(es / "clips" / name, y, sr, format=fmt)
        rows_es.append(row("spk_awk", name, "Una frase rara.", "es"))
    (es / "clips" / "empty.mp3").write_bytes(b"")
    (es / "clips" / "text.mp3").write_text("<html>not audio</html>\n" * 20)
    (es / "clips" / "corrupt.mp3").write_bytes(np.random.default_rng(1).integers(0, 256, 3000, np.uint8).tobytes())
    for name in ("missing.mp3", "empty.mp3", "text.mp3", "corrupt.mp3"):
        rows_es.append(row("spk_bad", name, "Rota.", "es"))
    rows_es.append(row("spk0", "good_0.mp3", "Duplicada.", "es"))  # the same clip listed twice
    rows_es.append(row("", "good_1.mp3", "Sin hablante.", "es"))   # no speaker
    write_locale(es, rows_es)
    rows_it = []
    _mk(it)
    for i in range(3):
        sf.write(it / "clips" / f"it_{i}.mp3", tone(48000, 1.0), 48000, format="MP3")
        rows_it.append(row(f"spk{i}", f"it_{i}.mp3", f"Frase {i}.", ""))  # locale from the folder
    write_locale(it, rows_it)
    (root / "README.txt").write_text("not a locale")
    return root


def _mk(folder):
    (folder / "clips").mkdir(parents=True, exist_ok=True)
    return folder / "clips"


@pytest.fixture(scope="module")
def read(cv_dir):
    return corpus.read_corpus(cv_dir)


def test_reader_reads_good_and_awkward_clips(read):
    table, skipped = read
    assert set(table["locale"]) == {"es", "it"}
    assert len(table[table["locale"] == "it"]) == 3  # locale filled from the folder name
    names = set(table["path"].map(lambda p: p.rsplit("/", 1)[1]))
    assert {f"good_{i}.mp3" for i in range(6)} <= names
    assert {"stereo.mp3", "long.mp3", "short.mp3", "silence.mp3", "wav_inside.mp3", "rate44.mp3"} <= names
    assert table["path"].map(lambda p: p.startswith("/")).all()
    for col in corpus.TABLE_COLUMNS[:-1]:
        assert col in table.columns
    assert table["duration"].dtype == float


@pytest.mark.parametrize("name, flag", [
    ("stereo.mp3", "stereo"), ("long.mp3", "long"), ("short.mp3", "short"),
    ("wav_inside.mp3", "other_format"), ("wav_inside.mp3", "other_rate"), ("rate44.mp3", "other_rate"),
])
def test_awkward_clips_are_flagged(read, name, flag):
    table, _ = read
    flags = table.loc[table["path"].str.endswith("/" + name), "flags"].item()
    assert flag in flags.split(";")


def test_plain_clips_are_not_flagged(read):
    table, _ = read
    assert (table.loc[table["path"].str.contains("good_"), "flags"] == "").all()
    assert table.loc[table["path"].str.endswith("silence.mp3"), "flags"].item() == ""


def test_long_clip_duration_is_read(read):
    table, _ = read
    assert table.loc[table["path"].str.endswith("long.mp3"), "duration"].item() == pytest.approx(30.0, abs=0.05)


@pytest.mark.parametrize("name, reason", [
    ("missing.mp3", "missing file"), ("empty.mp3", "empty file"), ("text.mp3", "not decodable"),
    ("corrupt.mp3", "not decodable"), ("good_0.mp3", "duplicate row"), ("good_1.mp3", "empty client_id"),
])
def test_broken_clips_are_skipped_with_reason(read, name, reason):
    _, skipped = read
    hits = skipped[skipped["path"].str.endswith("/" + name) & skipped["reason"].str.contains(reason)]
    assert len(hits) == 1, skipped


def test_quotes_in_sentences_are_kept(read):
    table, _ = read
    assert 'Ella dijo "hola" 0.' in set(table["sentence"])


def test_single_locale_folder(cv_dir):
    table, skipped = corpus.read_corpus(cv_dir / "it")
    assert len(table) == 3 and set(table["locale"]) == {"it"} and skipped.empty


def test_max_clips_per_locale_is_a_seeded_subset(cv_dir):
    a, _ = corpus.read_corpus(cv_dir, locales=["es"], max_clips_per_locale=5, seed=1)
    b, _ = corpus.read_corpus(cv_dir, locales=["es"], max_clips_per_locale=5, seed=1)
    assert len(a) <= 5 and a.equals(b)


def test_old_accent_column_and_paths_without_extension(tmp_path):
    folder = tmp_path / "fr"
    _mk(folder)
    sf.write(folder / "clips" / "a.mp3", tone(48000, 1.0), 48000, format="MP3")
    write_locale(folder, [("s1", "a", "Bonjour.", "m", "fr")], header="client_id\tpath\tsentence\taccent\tlocale")
    table, skipped = corpus.read_corpus(folder)
    assert len(table) == 1 and "accents" in table.columns and table["path"][0].endswith("a.mp3")


# --- folders and TSVs that are not a corpus: clear DataError naming the file -----------------
@pytest.mark.parametrize("content, match", [
    (b"", "is empty"),
    (b"\xff\xfe\x00\x01garbage\x00\x9c" * 50, "not a readable Common Voice TSV"),
    (HEADER.encode() + b"\n" + b"\t".join([b"x"] * 14) + b"\n", "not a readable Common Voice TSV"),
    (b"client_id\tsentence\nabc\thola\n", "lacks column\\(s\\) path"),
    (b"path,client_id,sentence\na.mp3,x,hola\n", "lacks column"),
])
def test_garbled_tsv(tmp_path, content, match):
    folder = tmp_path / "es"
    _mk(folder)
    (folder / "validated.tsv").write_bytes(content)
    with pytest.raises(DataError, match=match) as info:
        corpus.read_corpus(tmp_path)
    assert "validated.tsv" in str(info.value)


def test_missing_folder_and_locales(tmp_path, cv_dir):
    with pytest.raises(DataError, match="does not exist"):
        corpus.read_corpus(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no validated.tsv"):
        corpus.read_corpus(tmp_path)
    with pytest.raises(DataError, match="locale folder 'ja' missing"):
        corpus.read_corpus(cv_dir, locales=["es", "ja"])
    (tmp_path / "ja" / "clips").mkdir(parents=True)
    with pytest.raises(DataError, match="ja/validated.tsv missing"):
        corpus.find_locales(tmp_path, locales=["ja"])
    with pytest.raises(DataError, match="test.tsv"):
        corpus.read_corpus(cv_dir, tsv="test.tsv")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        corpus.read_corpus(tmp_path / "file.txt")


# --- splits on the generated smoke corpus -----------------------------------------------------
@pytest.fixture(scope="module")
def smoke_store(tmp_path_factory):
    return Store(tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module")
def smoke(smoke_store):
    return corpus.prepare(get_preset("smoke"), store=smoke_store)


def test_prepare_contract(smoke):
    t = smoke.table
    assert list(t.columns[:len(corpus.TABLE_COLUMNS)]) == list(corpus.TABLE_COLUMNS)
    assert set(t["role"]) <= set(corpus.ROLES)
    assert t["path"].map(lambda p: p.startswith(str(smoke.root))).all()
    assert smoke.skipped.empty and list(smoke.skipped.columns[:2]) == ["path", "reason"]
    assert (t["sample_rate"] == 48000).all() and (t["channels"] == 1).all() and (t["flags"] == "").all()
    assert t["duration"].between(1.5, 7).all()
    assert len(smoke.key) == 16


def test_roles_sizes_and_equal_counts(smoke):
    cfg = corpus.PRESETS["smoke"]
    counts = smoke.split_counts()
    assert (counts.loc["probe", ["es", "it", "ja"]] == cfg.n_probe).all()
    assert (counts.loc["pretrain", ["es", "it", "ja"]] == cfg.n_pretrain).all()
    assert counts.loc["val", "es"] == cfg.n_val and counts.loc["val", ["it", "ja"]].sum() == 0
    assert counts.loc["train", "es"] >= 8 and counts.loc["train", ["it", "ja"]].sum() == 0


def test_roles_are_speaker_disjoint(smoke):
    t = smoke.table
    speakers = {r: set(t.loc[t["role"] == r, "client_id"]) for r in ("train", "val", "pretrain", "probe")}
    assert not speakers["probe"] & (speakers["train"] | speakers["val"] | speakers["pretrain"])
    assert not speakers["val"] & (speakers["train"] | speakers["pretrain"])
    for code in ("es", "it", "ja"):
        probe = t[(t["role"] == "probe") & (t["locale"] == code)]
        assert probe["client_id"].nunique() >= corpus.PRESETS["smoke"].min_probe_speakers


def test_main_locale_roles_are_sentence_disjoint(smoke):
    t = smoke.table[smoke.table["locale"] == "es"]
    sets = {r: set(t.loc[t["role"] == r, "sentence"]) for r in ("train", "val", "pretrain", "probe")}
    for a in sets:
        for b in sets:
            if a < b:
                assert not sets[a] & sets[b], (a, b)


def test_prepare_is_cached_and_deterministic(smoke, smoke_store):
    again = corpus.prepare("smoke", store=smoke_store)
    assert again.key == smoke.key
    pd.testing.assert_frame_equal(again.table, smoke.table)
    roles = corpus.assign_roles(smoke.table, config=corpus.PRESETS["smoke"])
    assert roles.equals(smoke.table["role"].rename(None)) or (roles.values == smoke.table["role"].values).all()
    reseeded = corpus.assign_roles(smoke.table, config=corpus.CorpusConfig(
        **{**corpus.PRESETS["smoke"].__dict__, "seed": 1}))
    assert (reseeded.values != smoke.table["role"].values).any()


def test_roles_do_not_depend_on_row_order(smoke):
    cfg = corpus.PRESETS["smoke"]
    shuffled = smoke.table.sample(frac=1.0, random_state=0)
    roles = corpus.assign_roles(shuffled, config=cfg)
    assert (roles.sort_index().values == smoke.table["role"].values).all()


def test_prepare_reads_a_folder_like_the_embedded_corpus(smoke, smoke_store):
    clips = corpus.prepare("smoke", data_dir=smoke.root, store=smoke_store)
    assert clips.key != smoke.key
    assert (clips.table["role"].values == smoke.table["role"].values).all()
    assert clips.where(role="probe", locale="it").shape[0] == corpus.PRESETS["smoke"].n_probe


def test_too_small_corpus_says_what_to_lower(smoke):
    cfg = corpus.CorpusConfig(n_probe=50, min_probe_speakers=3)
    with pytest.raises(DataError, match="corpus too small.*n_probe"):
        corpus.assign_roles(smoke.table, config=cfg)
    cfg = corpus.CorpusConfig(n_val=6, min_val_speakers=2, n_pretrain=40, n_probe=9, min_probe_speakers=3)
    with pytest.raises(DataError, match="n_pretrain"):
        corpus.assign_roles(smoke.table, config=cfg)


def test_where_rejects_unknown_roles(smoke):
    with pytest.raises(ParameterError, match="unknown role"):
        smoke.where(role="test")


@pytest.mark.parametrize("bad", [
    {"locales": ()}, {"main_locale": "fr"}, {"tsv": "validated.csv"}, {"n_probe": 0},
    {"max_clips_per_locale": 0}, {"min_duration": -1.0}, {"max_duration": 0.0}, {"n_train": 0},
])
def test_config_validation(bad):
    with pytest.raises(ParameterError):
        corpus.CorpusConfig(**bad)


def test_summary(smoke):
    s = smoke.summary().set_index("locale")
    assert (s["clips"] == 30).all() and (s["speakers"] == 10).all()
    assert s["hours"].sum() == pytest.approx(smoke.table["duration"].sum() / 3600)


# --- langlab info -------------------------------------------------------------------------------
def test_cli_info_lists_locales_and_every_broken_clip(cv_dir):
    out = subprocess.run([sys.executable, "-m", "langlab.cli", "info", str(cv_dir), "--quiet"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "es" in text and "it" in text and "hours" in text and "speakers" in text
    for name, reason in [("missing.mp3", "missing file"), ("empty.mp3", "empty file"),
                         ("text.mp3", "not decodable"), ("corrupt.mp3", "not decodable")]:
        assert any(name in line and reason in line for line in text.splitlines()), (name, text)
    assert any("long.mp3" in line and "long" in line.split(":")[-1] for line in text.splitlines())


def test_cli_info_on_generated_corpus(smoke):
    out = subprocess.run([sys.executable, "-m", "langlab.cli", "info", str(smoke.root), "--quiet"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "total: 90 clips, 10 speakers" in out.stdout and "skipped clips" not in out.stdout


def test_cli_info_bad_folder_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "langlab.cli", "info", str(tmp_path / "nope")],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "does not exist" in out.stderr and "Traceback" not in out.stderr


def test_single_locale_folder_takes_its_locale_from_the_tsv(cv_dir, tmp_path):
    import shutil

    folder = tmp_path / "cv-spanish"
    shutil.copytree(cv_dir / "es", folder)
    assert list(corpus.find_locales(folder)) == ["es"]
    table, _ = corpus.read_corpus(folder, locales=["es"])
    assert (table["locale"] == "es").all() and len(table) > 6


def test_cli_info_caps_the_flagged_list_but_not_the_broken_one(cv_dir, monkeypatch, capsys):
    from langlab import cli

    monkeypatch.setattr(corpus, "FLAGGED_SHOWN", 2)
    assert cli.main(["info", str(cv_dir), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "and 3 more (--all lists them all)" in text and "stereo 1" in text
    assert sum("not decodable" in line for line in text.splitlines()) == 2
    assert cli.main(["info", str(cv_dir), "--quiet", "--all"]) == 0
    assert "more (--all" not in capsys.readouterr().out


def test_summary_lists_locales_without_clips(tmp_path):
    folder = tmp_path / "gl"
    _mk(folder)
    write_locale(folder, [])
    table, skipped = corpus.read_corpus(folder)
    assert corpus.summarize(table, skipped)["locale"].tolist() == ["gl"]


def test_a_folder_holding_one_release_is_that_release(tmp_path, cv_dir):
    """`langlab synth OUT` writes OUT/<release>/<locale>/: OUT itself must then read."""
    import shutil
    out = tmp_path / "out"
    shutil.copytree(cv_dir, out / "cv-synthetic-1")
    assert corpus.release_folder(out) == (out / "cv-synthetic-1").resolve()
    assert corpus.find_locales(out) == corpus.find_locales(out / "cv-synthetic-1")
    assert corpus.release_folder(cv_dir) == cv_dir.resolve()
    shutil.copytree(cv_dir, out / "cv-synthetic-2")
    with pytest.raises(DataError, match=r"holds 2 release folders \(cv-synthetic-1, cv-synthetic-2\)"):
        corpus.find_locales(out)
