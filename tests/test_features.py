"""langlab.features and langlab.feature_store: parameter checks, the paper preset against the
original's loop, the store (reuse, broken clips, kill -9 and resume), the CLI."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from langlab import codeversion, dsp, feature_store, features
from langlab.errors import ParameterError
from langlab.features import FeatureConfig
from langlab.store import Store
from synthetic import SMALL, speechlike

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("changes, match", [
    ({"n_fft": 100_000}, r"n_fft=100000 is longer than the clip.*48000 samples"),
    ({"hop_length": 0}, r"hop_length must be an integer >= 1, got 0"),
    ({"hop_length": -256}, r"hop_length.*got -256"),
    ({"hop_length": 2048}, r"hop_length=2048 is larger than n_fft=1024"),
    ({"lowpass_hz": 8000.0}, r"lowpass_hz must be a finite number in Hz.*in \(0, 8000.0\), got 8000.0"),
    ({"lowpass_hz": 12000}, r"lowpass_hz.*got 12000"),
    ({"lowpass_hz": 0}, r"lowpass_hz.*got 0"),
    ({"n_mels": 400}, r"n_mels=400 is too many for n_fft=1024.*use n_mels <= \d+"),
    ({"n_mels": 128, "n_fft": 256, "hop_length": 128}, r"n_mels=128 is too many for n_fft=256"),
    ({"fmax": 9000.0}, r"fmax.*got 9000"),
    ({"fmin": 8000.0}, r"fmin.*got 8000"),
    ({"sr": 16000.5}, r"sr must be an integer >= 1, got 16000.5"),
    ({"duration": 0}, r"duration must be a finite number in s > 0, got 0"),
    ({"lowpass_order": 0}, r"lowpass_order.*got 0"),
    ({"ref": "median"}, r"ref \('min', 'max' or a power\) must be a finite number > 0, got 'median'"),
    ({"top_db": -3}, r"top_db.*got -3"),
    ({"max_silent_fraction": 1.5}, r"max_silent_fraction.*1.5"),
    ({"scaling": "zscore"}, r"scaling \('clip'.*must be one of 'clip', 'global', got 'zscore'"),
])
def test_bad_parameters_name_the_value(changes, match):
    with pytest.raises(ParameterError, match=match):
        FeatureConfig(**changes)


def test_presets_shapes():
    paper, book, smoke = (features.PRESETS[n] for n in ("paper", "book", "smoke"))
    assert (paper.sr, paper.n_mels, paper.n_fft, paper.hop_length, paper.n_samples) == (22050, 128, 2048, 512, 110250)
    assert paper.n_frames == 216 and paper.fmax_hz == 11025 and paper.ref == "min"
    assert book.n_frames == 188 and book.n_mels == 40
    assert smoke.n_mels * smoke.n_frames < book.n_mels * book.n_frames
    assert all(c.lowpass_hz is None for c in (paper, book, smoke))
    assert book.with_lowpass(500).lowpass_hz == 500.0 and book.with_lowpass(500) != book


def test_preset_gathered_by_get_preset():
    from langlab.presets import get_preset

    assert get_preset("book").features == features.PRESETS["book"]


# --------------------------------------------------------------------------------------------
# The paper preset against the original's per-clip code
# --------------------------------------------------------------------------------------------
def original_features(path, *, lowpass):
    """The original study's per-clip code (``benchmarks/original.py``), min-max scaled."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from benchmarks.original import original_mel

    S_db = original_mel(path, lowpass=lowpass)
    return (S_db - S_db.min()) / (S_db.max() - S_db.min())


@pytest.mark.parametrize("lowpass", [False, True])
def test_paper_preset_reproduces_the_original(tmp_path, lowpass):
    path = tmp_path / "clip.wav"
    sf.write(path, speechlike(48000, 3.2, seed=4, noise_db=-50), 48000)
    config = features.PRESETS["paper"].with_lowpass(500 if lowpass else None)
    y, n_real = feature_store._load_clip(str(path), config)
    S_db, info = dsp.waveform_features(y, config=config, n_real=n_real)
    assert S_db.shape == (128, 216)
    np.testing.assert_allclose(dsp.scale_minmax(S_db), original_features(path, lowpass=lowpass), atol=2e-4)
    assert info["padding_fraction"][0] == pytest.approx(1 - 3.2 / 5, abs=1e-3)


# --------------------------------------------------------------------------------------------
# Extraction into the store
# --------------------------------------------------------------------------------------------
def write_clips(folder: Path, n: int = 10, *, seed: int = 0) -> pd.DataFrame:
    """``n`` speech-like clips (WAV and MP3, 48 kHz) plus broken and silent ones, as a clip table."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        fmt = "MP3" if i % 5 == 0 else "WAV"
        path = folder / f"clip_{i:02d}.{'mp3' if fmt == 'MP3' else 'wav'}"
        sf.write(path, speechlike(48000, 0.8 + 0.1 * (i % 5), seed=seed + i, noise_db=-55), 48000, format=fmt)
        rows.append({"path": str(path), "locale": ["es", "it", "ja"][i % 3], "role": ["train", "probe"][i % 2]})
    sf.write(folder / "silent.wav", np.zeros(48000, np.float32), 48000)
    rows.append({"path": str(folder / "silent.wav"), "locale": "es", "role": "train"})
    (folder / "empty.mp3").write_bytes(b"")
    (folder / "text.mp3").write_text("not audio\n" * 40)
    nan = speechlike(48000, 0.5)
    nan[100] = np.nan
    sf.write(folder / "nan.wav", nan, 48000, subtype="FLOAT")
    for name in ("empty.mp3", "text.mp3", "nan.wav", "missing.wav"):
        rows.append({"path": str(folder / name), "locale": "it", "role": "probe"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def clip_table(tmp_path_factory):
    return write_clips(tmp_path_factory.mktemp("clips"))


def test_extract_table_broken_clips_and_reuse(clip_table, tmp_path, monkeypatch):
    store = Store(tmp_path / "store")
    fs = features.extract(clip_table, config=SMALL, store=store, n_jobs=1, progress=False)
    assert fs.S_db.shape == (11, SMALL.n_mels, SMALL.n_frames) and fs.S_db.dtype == np.float32
    assert isinstance(fs.S_db, np.memmap) and not fs.S_db.flags.writeable
    assert list(fs.table["path"]) == list(clip_table["path"][:11])  # aligned, broken ones left out
    reasons = dict(zip(fs.skipped["path"].map(lambda p: Path(p).name), fs.skipped["reason"]))
    assert set(reasons) == {"empty.mp3", "text.mp3", "nan.wav", "missing.wav"}
    assert "empty" in reasons["empty.mp3"] and "missing" in reasons["missing.wav"]
    assert "non-finite" in reasons["nan.wav"] and "not decodable" in reasons["text.mp3"]
    silent = fs.table.set_index(fs.table["path"].map(lambda p: Path(p).name))["is_silent"]
    assert silent["silent.wav"] and not silent.drop("silent.wav").any()
    assert fs.table["padding_fraction"].between(0, 1).all() and fs.table["padding_fraction"].max() > 0
    m = fs.manifest()
    assert m["n_clips"] == 11 and len(m["skipped"]) == 4 and len(m["clips"]) == 11 and m["n_silent"] == 1
    assert m["config"]["features"]["n_mels"] == SMALL.n_mels and "extract_seconds" in m["timings"]
    # a rerun finds the entry and computes nothing
    monkeypatch.setattr(feature_store, "_extract_shard", lambda *a, **k: pytest.fail("recomputed a stored shard"))
    again = features.extract(clip_table, config=SMALL, store=store, n_jobs=1, progress=False)
    assert again.key == fs.key and np.array_equal(again.S_db, fs.S_db)
    pd.testing.assert_frame_equal(again.table, fs.table)


def test_where_and_scaled(clip_table, tmp_path):
    fs = features.extract(clip_table, config=SMALL, store=Store(tmp_path / "s"), n_jobs=1, progress=False)
    train = fs.where(role="train")
    assert len(train) == 5 and not train.table["is_silent"].any()  # silent.wav excluded
    assert len(fs.where(role="train", include_silent=True)) == 6
    assert set(fs.where(locale=["es", "it"]).table["locale"]) == {"es", "it"}
    assert len(fs.where()) == 10 and train.S_db.shape[0] == len(train.table)
    np.testing.assert_array_equal(train.S_db, fs.S_db[np.flatnonzero((fs.table["role"] == "train")
                                                                     & ~fs.table["is_silent"])])
    S = train.scaled()
    assert S.dtype == np.float32 and S.min() == 0 and S.max() == 1
    G = train.scaled(mode="global")
    assert 0 <= G.min() and G.max() <= 1 and fs.db_range[1] - fs.db_range[0] == SMALL.top_db
    assert G.max() < 1 or train.table["peak_db"].max() == fs.db_range[1]


def test_store_key(clip_table, tmp_path):
    store = Store(tmp_path / "store")
    table = clip_table.iloc[:3]
    full = features.extract(table, config=SMALL, store=store, n_jobs=1, progress=False)
    low = features.extract(table, config=SMALL.with_lowpass(500), store=store, n_jobs=1, progress=False)
    glob = features.extract(table, config=SMALL.__class__(**{**SMALL.__dict__, "scaling": "global"}),
                            store=store, n_jobs=1, progress=False)
    assert low.key != full.key and glob.key == full.key and glob.config.scaling == "global"
    assert low.manifest()["config"]["features"]["lowpass_hz"] == 500
    # the low-passed spectrograms lose their upper bands (less energy above the cut-off)
    upper = dsp.mel_band_edges(config=SMALL)[:, 0] > 1000
    assert (low.S_db[:, upper] + low.table["ref_db"].to_numpy()[:, None, None]).mean() \
        < (full.S_db[:, upper] + full.table["ref_db"].to_numpy()[:, None, None]).mean() - 20
    # same silence flags before and after the low-pass (computed on the full-band waveform)
    pd.testing.assert_series_equal(low.table["is_silent"], full.table["is_silent"])


def test_threading_backend_gives_the_same_bytes(clip_table, tmp_path, monkeypatch):
    import joblib

    monkeypatch.setattr(features, "SHARD_SIZE", 3)
    table = clip_table.iloc[:9]
    a = features.extract(table, config=SMALL, store=Store(tmp_path / "a"), n_jobs=1, progress=False)
    with joblib.parallel_config(backend="threading"):
        b = features.extract(table, config=SMALL, store=Store(tmp_path / "b"), n_jobs=2, progress=False)
    assert a.manifest()["n_shards"] == 3
    for name in ("S_db.npy", "table.csv", "skipped.csv"):
        assert (a.path / name).read_bytes() == (b.path / name).read_bytes()


@pytest.mark.slow
def test_worker_processes_give_the_same_bytes(clip_table, tmp_path, monkeypatch):
    monkeypatch.setattr(features, "SHARD_SIZE", 4)
    a = features.extract(clip_table, config=SMALL, store=Store(tmp_path / "a"), n_jobs=1, progress=False)
    b = features.extract(clip_table, config=SMALL, store=Store(tmp_path / "b"), n_jobs=2, progress=False)
    for name in ("S_db.npy", "table.csv", "skipped.csv"):
        assert (a.path / name).read_bytes() == (b.path / name).read_bytes()


@pytest.mark.slow
def test_dask_backend_gives_the_same_bytes(clip_table, tmp_path, monkeypatch):
    import joblib

    distributed = pytest.importorskip("dask.distributed")
    monkeypatch.setattr(features, "SHARD_SIZE", 4)
    a = features.extract(clip_table, config=SMALL, store=Store(tmp_path / "a"), n_jobs=1, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        with joblib.parallel_config(backend="dask"):
            b = features.extract(clip_table, config=SMALL, store=Store(tmp_path / "b"), n_jobs=2, progress=False)
    for name in ("S_db.npy", "table.csv", "skipped.csv"):
        assert (a.path / name).read_bytes() == (b.path / name).read_bytes()


def test_bad_input_to_extract(tmp_path):
    with pytest.raises(ParameterError, match="FeatureConfig"):
        features.extract(pd.DataFrame({"path": []}), config={"sr": 16000}, store=Store(tmp_path))
    with pytest.raises(ParameterError, match="'path' column"):
        features.extract(pd.DataFrame({"file": ["a.wav"]}), config=SMALL, store=Store(tmp_path))
    with pytest.raises(ParameterError, match="n_jobs"):
        features.extract(pd.DataFrame({"path": []}), config=SMALL, store=Store(tmp_path), n_jobs=0)


KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    import pandas as pd
    from langlab import codeversion, feature_store, features
    from langlab.store import Store
    features.SHARD_SIZE = 2
    codeversion.code_version(feature_store.compute)  # the key's code part, before the patch
    inner = feature_store._extract_shard
    def slow(*args, **kwargs):
        time.sleep(0.4)
        return inner(*args, **kwargs)
    feature_store._extract_shard = slow
    table = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
    features.extract(table, config=features.FeatureConfig(**{config}), store=Store(sys.argv[2]), n_jobs=1,
                     progress=False)
""")


@pytest.mark.slow
def test_kill_and_resume_is_byte_identical(clip_table, tmp_path, monkeypatch):
    table = clip_table.iloc[:10]
    table_file = tmp_path / "table.csv"
    table.to_csv(table_file, index=False)
    table = pd.read_csv(table_file, dtype=str, keep_default_na=False)
    script = tmp_path / "extract.py"
    script.write_text(KILL_SCRIPT.replace("{config}", repr(dict(SMALL.__dict__))))
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(table_file), str(killed)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            done = list((killed / "features").glob("*.partial/shard_*.json"))
            if len(done) >= 2 or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"finished before it could be killed: {proc.stderr.read().decode()[-2000:]}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert not list((killed / "features").glob("*/manifest.json"))  # no entry: it was interrupted
    n_before = len(list((killed / "features").glob("*.partial/shard_*.json")))
    assert 2 <= n_before < 5

    monkeypatch.setattr(features, "SHARD_SIZE", 2)
    codeversion.code_version(feature_store.compute)  # the key's code part, before the patch below
    calls = []
    inner = feature_store._extract_shard
    monkeypatch.setattr(feature_store, "_extract_shard", lambda *a: calls.append(a[0]) or inner(*a))
    resumed = features.extract(table, config=SMALL, store=Store(killed), n_jobs=1, progress=False)
    assert len(calls) == 5 - n_before  # only the missing shards were computed
    assert resumed.manifest()["shards_resumed"] == n_before
    assert not list((killed / "features").glob("*.partial"))  # pieces cleaned up
    fresh = features.extract(table, config=SMALL, store=Store(tmp_path / "fresh"), n_jobs=1, progress=False)
    assert fresh.key == resumed.key
    for name in ("S_db.npy", "table.csv", "skipped.csv"):
        assert (resumed.path / name).read_bytes() == (fresh.path / name).read_bytes(), name
    assert json.loads((resumed.path / "manifest.json").read_text())["clips"] == fresh.manifest()["clips"]


# --------------------------------------------------------------------------------------------
# The smoke corpus, for_preset and the command line
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smoke_store(tmp_path_factory):
    return Store(tmp_path_factory.mktemp("smoke-store"))


@pytest.mark.slow
def test_for_preset_smoke(smoke_store):
    from langlab import corpus
    from langlab.presets import get_preset

    preset = get_preset("smoke")
    fs = features.for_preset(preset, store=smoke_store, progress=False)
    clips = corpus.prepare(preset, store=smoke_store)
    used = clips.table[clips.table["role"] != "unused"]
    assert len(fs) + len(fs.skipped) == len(used)
    assert fs.S_db.shape == (len(fs), preset.features.n_mels, preset.features.n_frames)
    assert set(fs.table["role"]) == {"train", "val", "pretrain", "probe"}
    assert {"padding_fraction", "is_silent", "client_id", "sentence"} <= set(fs.table.columns)
    assert all(Path(p).exists() for p in fs.table["path"])
    low = features.for_preset(preset, lowpass_hz=500, store=smoke_store, progress=False)
    assert low.key != fs.key and low.config.lowpass_hz == 500 and low.S_db.shape == fs.S_db.shape
    assert features.for_preset("smoke", store=smoke_store, progress=False).key == fs.key


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "langlab.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


@pytest.mark.slow
def test_cli_features(smoke_store, tmp_path):
    import shutil

    from langlab import synth
    from langlab.presets import get_preset

    out = tmp_path / "out"
    done = run_cli("features", "--preset", "smoke", "--store", str(smoke_store.root), "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "spectrograms 20 mels x 94 frames (full band)" in done.stdout
    S = np.load(out / "S_db.npy", mmap_mode="r")
    table = pd.read_csv(out / "table.csv")
    assert S.shape[0] == len(table) and Path(table["path"][0]).is_absolute()
    assert json.loads((out / "manifest.json").read_text())["stage"] == "features"
    # a "real" folder with two broken clips: both reported by file name, the rest computed
    release = tmp_path / "cv"
    shutil.copytree(synth.embedded_corpus(get_preset("smoke").synth, store=smoke_store), release)
    names = pd.read_csv(release / "es" / "validated.tsv", sep="\t")["path"].tolist()
    (release / "es" / "clips" / names[0]).write_bytes(b"")
    nan = speechlike(48000, 1.0)
    nan[10] = np.nan
    sf.write(release / "es" / "clips" / names[1], nan, 48000, subtype="FLOAT", format="WAV")
    done = run_cli("features", str(release), "--preset", "smoke", "--lowpass", "500", "--store",
                   str(smoke_store.root), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "(low-passed at 500 Hz)" in done.stdout
    assert f"{names[0]}: empty file" in done.stdout
    assert f"{names[1]}: " in done.stdout and "non-finite" in done.stdout


def test_cli_bad_input(tmp_path):
    done = run_cli("features", str(tmp_path / "nowhere"), "--preset", "smoke", "--quiet",
                   env={"LANGLAB_HOME": str(tmp_path / "home")})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("langlab features: error:") and "nowhere" in done.stderr
    done = run_cli("features", "--preset", "smoke", "--lowpass", "-5", env={"LANGLAB_HOME": str(tmp_path / "home")})
    assert done.returncode == 2 and "--lowpass" in done.stderr
