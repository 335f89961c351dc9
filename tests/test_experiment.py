"""``langlab run``: bad invocations, the output-folder guard, reuse bookkeeping, a whole smoke run,
and results identical byte for byte however the work is scheduled (one worker, two, a Dask
cluster, kill -9 and resume, two runs sharing one store) or healed (damaged store entries);
a read-only store is one clear line."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from langlab import experiment as ex
from langlab import run_output as ro
from langlab.errors import DataError, ParameterError
from langlab.store import Store, atomic_write_json

ROOT = Path(__file__).resolve().parents[1]


def langlab_run(*args: str, home: Path, timeout: float = 1800, **popen) -> subprocess.CompletedProcess:
    """``langlab run ARGS`` in a subprocess with its own LANGLAB_HOME."""
    env = {**os.environ, "LANGLAB_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-m", "langlab.cli", "run", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, **popen)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def results_files(out: Path) -> dict[str, bytes]:
    """Every file of an output folder but ``timings.json`` (wall-clock values), as bytes."""
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())
            if p.is_file() and p.name != ro.TIMINGS_FILE}


def assert_same_results(out: Path, reference: Path) -> None:
    got, want = results_files(out), results_files(reference)
    assert sorted(got) == sorted(want)
    differ = [name for name in want if got[name] != want[name]]
    assert not differ, f"results differ from the reference run in {differ}"


#: What library noise looks like (TensorFlow's C++ log lines and notes, retracing warnings,
#: libmpg123's notes); none of it may reach a command-line user (langlab.quiet).
NOISE = re.compile(r"^[IWEF]\d{4} \d\d:|oneDNN|absl::|retracing|WARNING:tensorflow|^Note: |^Warning: ")


def noise_lines(stderr: str) -> list[str]:
    """Lines (and progress-bar updates) of ``stderr`` that are library noise."""
    return [line for line in re.split(r"[\r\n]", stderr) if NOISE.search(line)]


def messages(stderr: str) -> list[str]:
    """Lines of ``stderr`` that are not progress bars (tqdm's ``\\r`` updates and their ends)."""
    return [line for line in stderr.splitlines() if line.strip() and "\r" not in line
            and not re.search(r"\|[^|]*\| *\d+/\d+ \[", line)]


def results_content(out: Path) -> dict:
    """Every results table (CSV and JSON) of an output folder, for comparing two runs."""
    found = {p.name: p.read_text() for p in sorted(out.glob("*.csv"))}
    found[ro.RESULTS_FILE] = json.loads((out / ro.RESULTS_FILE).read_text())
    return found


# --- bad invocations: one line on stderr, exit code 2, no traceback ---------------------------
def _not_common_voice(tmp_path: Path) -> list[str]:
    folder = tmp_path / "not-cv"
    (folder / "es").mkdir(parents=True)
    (folder / "es" / "notes.txt").write_text("no validated.tsv here")
    return ["--data", str(folder)]


def _other_preset_out(tmp_path: Path) -> list[str]:
    out = tmp_path / "out"
    atomic_write_json(out / ro.RUN_FILE, {"preset": "book", "config_hash": "0123456789abcdef"})
    return ["--out", str(out)]


BAD = {
    "unknown preset": (lambda tmp: ["--preset", "nope"], r"--preset: invalid choice: 'nope'"),
    "data is not a folder": (lambda tmp: ["--data", str(tmp / "missing")], r"corpus folder .*missing does not exist"),
    "data is not Common Voice": (_not_common_voice, r"validated\.tsv|Common Voice"),
    "unreachable scheduler": (lambda tmp: ["--scheduler", f"tcp://127.0.0.1:{free_port()}",
                                           "--scheduler-timeout", "1"],
                              r"cannot reach the Dask scheduler at .*dask scheduler"),
    "bad scheduler address": (lambda tmp: ["--scheduler", "nonsense"], r"not a scheduler address"),
    "out holds another preset": (_other_preset_out,
                                 r"holds results of preset 'book'.*use another --out or delete it"),
    "seeds not a number": (lambda tmp: ["--seeds", "two"], r"--seeds: expected a whole number >= 1, got 'two'"),
    "zero seeds": (lambda tmp: ["--seeds", "0"], r"--seeds: expected a whole number >= 1, got '0'"),
    "zero jobs": (lambda tmp: ["--jobs", "0"], r"--jobs: expected a whole number >= 1 or -1, got '0'"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_invocation_is_one_clear_line(case, tmp_path):
    make_args, pattern = BAD[case]
    args = ["--preset", "smoke", "--out", str(tmp_path / "results"), *make_args(tmp_path)]
    done = langlab_run(*args, home=tmp_path / "home", timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert lines[0].startswith("langlab run: error: ")
    assert re.search(pattern, lines[0]), lines[0]
    assert done.stdout == ""


def test_unknown_condition_is_refused():
    with pytest.raises(ParameterError, match=r"unknown condition\(s\) 'latin'"):
        ex.resolve("smoke", conditions=["es", "latin"])


# --- the output folder guard --------------------------------------------------------------------
def test_out_folder_accepts_same_config_and_refuses_others(tmp_path):
    preset = ex.get_preset("smoke")
    info = ro.run_info(preset, data_dir=None, seeds=(0, 1), conditions=None)
    out = tmp_path / "out"
    ro.check_out(out, info)  # a new folder is fine
    atomic_write_json(out / ro.RUN_FILE, info)
    ro.check_out(out, info)  # the same configuration again: resume / overwrite
    other_seeds = ro.run_info(preset, data_dir=None, seeds=(0, 1, 2), conditions=None)
    with pytest.raises(ParameterError, match=r"preset 'smoke' with other seeds.*delete it"):
        ro.check_out(out, other_seeds)
    book = ro.run_info(ex.get_preset("book"), data_dir=None, seeds=None, conditions=None)
    with pytest.raises(ParameterError, match=r"holds results of preset 'smoke'"):
        ro.check_out(out, book)
    (out / ro.RUN_FILE).write_text("{not json")
    with pytest.raises(DataError, match="unreadable run.json"):
        ro.check_out(out, info)


def test_out_folder_with_foreign_results_or_a_file_is_refused(tmp_path):
    info = ro.run_info(ex.get_preset("smoke"), data_dir=None, seeds=None, conditions=None)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ParameterError, match="is a file"):
        ro.check_out(tmp_path / "file", info)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ro.RESULTS_FILE).write_text("{}")
    with pytest.raises(ParameterError, match="without a run.json"):
        ro.check_out(tmp_path / "out", info)


def test_config_hash_is_stable_and_sensitive():
    preset = ex.get_preset("smoke")
    a = ro.run_info(preset, data_dir=None, seeds=None, conditions=None)
    assert a == ro.run_info(ex.get_preset("smoke"), data_dir=None, seeds=None, conditions=None)
    for change in ({"seeds": (0,)}, {"conditions": ("es",)}, {"data_dir": Path("/cv")}):
        kwargs = {"data_dir": None, "seeds": None, "conditions": None, **change}
        assert ro.run_info(preset, **kwargs)["config_hash"] != a["config_hash"]


# --- bookkeeping: wall-clock columns, reuse counting, joblib fan-out ----------------------------
def test_wall_clock_columns_go_to_timings():
    table = pd.DataFrame({"condition": ["none", "es"], "seed": [0, 0], "steps_to_threshold": [40, 30],
                          "seconds_to_threshold": [12.5, 9.1], "train_seconds": [20.0, 19.0]})
    results, wall = ro.split_wall_clock(table)
    assert list(results.columns) == ["condition", "seed", "steps_to_threshold"]
    assert list(wall.columns) == ["condition", "seed", "seconds_to_threshold", "train_seconds"]
    same, none = ro.split_wall_clock(results)
    assert none is None and same is results


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    value: int


def toy_unit(value: int, *, store) -> str:
    """A unit as the stage functions write them: compute a store entry unless it exists."""
    entry = store.entry("toy", config=ToyConfig(value))
    if not entry.exists():
        entry.write(lambda folder: {"value": value})
    return entry.key


def toy_experiment(values, *, store, n_jobs: int) -> list[str]:
    """A stage function as training.lstm_experiment is written: entries asked for here, the
    missing ones computed through joblib (in worker processes when n_jobs > 1)."""
    import joblib
    missing = [v for v in values if not store.entry("toy", config=ToyConfig(v)).exists()]
    joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(toy_unit)(v, store=store) for v in missing)
    return [toy_unit(v, store=store) for v in values]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_stage_report_counts_computed_then_reused(n_jobs, tmp_path):
    values = (1, 2, 3)
    stage = ex.Stage("toy", lambda ctx, report: toy_experiment(values, store=ctx.store, n_jobs=n_jobs),
                     units=("toy",))
    ctx = ex._Context(ex.get_preset("smoke"), None, None, None, ex.RecordingStore(tmp_path / "store"),
                      n_jobs=n_jobs, progress=False)
    first = ex._run_stage(ctx, stage, label="[1/1] toy", done=set())
    assert (first.units, first.ran, first.reused) == (3, 3, 0)
    assert (first.entries_computed, first.entries_reused) == (3, 0)
    ctx.seen.clear()
    again = ex._run_stage(ctx, stage, label="[1/1] toy", done=set())
    assert (again.units, again.ran, again.reused) == (3, 0, 3)
    assert (again.entries_computed, again.entries_reused) == (0, 3)
    assert again.status == "done"


def test_stage_without_its_inputs_is_skipped_with_a_reason(tmp_path):
    ctx = ex._Context(ex.get_preset("smoke"), None, None, None, ex.RecordingStore(tmp_path),
                      n_jobs=1, progress=False)
    waiting = ex.Stage("probes", lambda ctx, report: None, after=("lstm",))
    report = ex._run_stage(ctx, waiting, label="x", done={"corpus"})
    assert report.status == "skipped" and "needs the results of stage(s) lstm" in report.skipped[0]


def test_recording_store_pickles_as_a_plain_store(tmp_path):
    import pickle
    store = ex.RecordingStore(tmp_path)
    store.entry("toy", config=ToyConfig(1))
    clone = pickle.loads(pickle.dumps(store))
    assert type(clone) is Store and clone.root == store.root
    assert list(store.touched.values()) == [False]


def test_summary_text_names_every_stage_and_skip():
    reports = [ex.StageReport("corpus", units=2, reused=2, entries_reused=2, seconds=0.4, status="done"),
               ex.StageReport("lstm", units=4, ran=3, reused=1, entries_computed=3, entries_reused=1,
                              seconds=75.0, status="done", notes=["1 of 4 run(s) did not reach"]),
               ex.StageReport("autoencoder", status="skipped", skipped=["needs the results of x"])]
    text = ex.RunSummary("smoke", Path("out"), reports, ["run.json"], 80.0, 2).text()
    assert "finished in 1 min 20 s on 2 local workers" in text
    assert ex._count(1, "clip") == "1 clip" and ex._count(3, "silent clip") == "3 silent clips"
    for line in ("corpus", "lstm", "autoencoder", "skipped in autoencoder: needs the results of x",
                 "lstm: 1 of 4 run(s) did not reach", "1 min 15 s"):
        assert line in text, line


# --- whole runs (slow): resume after kill -9, a Dask cluster, a re-run that reuses everything ---
#: Two conditions, the preset's 2 seeds: 4 LSTM and 4 autoencoder runs (about 2 minutes).
SMOKE = ["--preset", "smoke", "--conditions", "none,it", "--jobs", "2"]


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """One uninterrupted smoke run: its home, output folder and stdout."""
    base = tmp_path_factory.mktemp("reference")
    out = base / "out"
    done = langlab_run(*SMOKE, "--out", str(out), home=base / "home")
    assert done.returncode == 0, done.stderr[-3000:]
    return base / "home", out, done.stdout


@pytest.mark.slow
def test_smoke_run_writes_results_and_rerun_reuses_everything(reference_run):
    home, out, stdout = reference_run
    run = json.loads((out / ro.RUN_FILE).read_text())
    assert run["preset"] == "smoke" and run["complete"]
    for name in run["files"]:
        assert (out / name).is_file(), name
    assert (out / "lstm_training.csv").is_file() and (out / "lstm_probes.csv").is_file()
    assert list(out.glob("*.png")), "no figures written"
    results = json.loads((out / ro.RESULTS_FILE).read_text())
    for records in results["tables"].values():
        for row in records:
            assert not any(ro.WALL_CLOCK.search(column) for column in row), row
    timings = json.loads((out / ro.TIMINGS_FILE).read_text())
    assert timings["seconds"] > 0 and len(timings["stages"]) == len(ex.STAGES)
    assert "finished in" in stdout
    before = results_content(out)
    again = langlab_run(*SMOKE, "--out", str(out), home=home)
    assert again.returncode == 0, again.stderr[-3000:]
    stages = json.loads((out / ro.TIMINGS_FILE).read_text())["stages"]
    assert sum(s["entries_computed"] for s in stages) == 0, stages
    assert sum(s["ran"] for s in stages) == 0, stages
    assert results_content(out) == before


@pytest.mark.slow
def test_smoke_run_writes_the_design_and_its_claims(reference_run):
    """The lstm stage also runs Chapter 3's design, limited to the run's conditions, and judges
    the plan's claims on its largest dose."""
    import pandas as pd

    from langlab import training
    _, out, _ = reference_run
    design = pd.read_csv(out / "lstm_design.csv", keep_default_na=False)
    assert list(design.columns[:len(training.DESIGN_COLUMNS)]) == list(training.DESIGN_COLUMNS)
    assert set(design["condition"]) == {"none", "it"} and set(design["arm"]) == {"none", "it x1", "it x2",
                                                                                 "it x2 reset"}
    assert len(design) == 4 * len(training.DESIGNS["smoke"].seeds)
    training_runs = pd.read_csv(out / "lstm_training.csv", keep_default_na=False)
    assert set(training_runs["key"]) <= set(design["key"])  # the dose-1 arms are the same runs
    claims = pd.read_csv(out / "lstm_claims.csv", keep_default_na=False)
    assert list(claims["name"]) == ["it_vs_none"]
    assert claims["verdict"].iloc[0] in {"reproduced", "contradicted", "not reproduced", "inconclusive"}


@pytest.mark.slow
def test_chapter_functions_find_everything_after_a_run(reference_run, monkeypatch):
    """The book's chapters call these functions with the default store: after `langlab run`
    they compute nothing (here with the run's two conditions; the book uses all five)."""
    from langlab import autoencoder, lstm_probes, training
    home, _, _ = reference_run
    monkeypatch.setenv("LANGLAB_HOME", str(home))
    store = Store()
    before = {f"{e.stage}/{e.key}" for e in store.entries()}
    conditions = ["none", "it"]
    runs = training.lstm_experiment("smoke", conditions=conditions)
    lstm_probes.lstm_probe_experiment("smoke", conditions=conditions)
    autoencoder.ae_experiment("smoke", conditions=conditions)
    autoencoder.ae_probe_experiment("smoke", conditions=conditions)
    assert {f"{e.stage}/{e.key}" for e in store.entries()} == before
    assert len(runs) == 4


@pytest.mark.slow
def test_kill_9_then_resume_redoes_nothing_and_matches(reference_run, tmp_path):
    _, reference_out, _ = reference_run
    home, out = tmp_path / "home", tmp_path / "out"
    env = {**os.environ, "LANGLAB_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "langlab.cli", "run", *SMOKE, "--out", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    store = Store(home / "store")
    deadline = time.time() + 1200
    try:
        # Wait until at least one training (a model entry) is finished, then kill everything.
        while time.time() < deadline and proc.poll() is None:
            trained = store.entries("lstm")
            if trained:
                break
            time.sleep(0.5)
        assert proc.poll() is None, "the run finished before it could be killed; smoke is too small"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finished_before = {f"{e.stage}/{e.key}" for e in store.entries()}
    assert finished_before
    assert not (out / ro.RESULTS_FILE).exists()
    resumed = langlab_run(*SMOKE, "--out", str(out), "--quiet", home=home)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "%|" not in resumed.stderr, resumed.stderr[-3000:]  # --quiet: no progress bar at all
    timings = json.loads((out / ro.TIMINGS_FILE).read_text())
    reused = sum(s["entries_reused"] for s in timings["stages"])
    # Every entry finished before the kill is reused, none is computed again.
    assert reused >= len(finished_before), (reused, finished_before)
    recomputed = {f"{e.stage}/{e.key}" for e in store.entries()} - finished_before
    assert sum(s["entries_computed"] for s in timings["stages"]) == len(recomputed)
    assert_same_results(out, reference_out)


@pytest.mark.slow
def test_dask_cluster_gives_the_same_results(reference_run, tmp_path, tmp_home):
    distributed = pytest.importorskip("dask.distributed")
    _, reference_out, _ = reference_run
    # Workers inherit LANGLAB_HOME from this process (tmp_home): they never see the project store.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster:
        done = langlab_run(*SMOKE[:-2], "--scheduler", cluster.scheduler_address,
                           "--out", str(tmp_path / "out"), home=tmp_home)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"on Dask cluster {cluster.scheduler_address}" in done.stdout
    timings = json.loads((tmp_path / "out" / ro.TIMINGS_FILE).read_text())
    assert timings["scheduler"] == cluster.scheduler_address
    assert_same_results(tmp_path / "out", reference_out)


@pytest.mark.slow
def test_one_worker_gives_the_same_results_and_a_quiet_stderr(reference_run, tmp_path):
    """``--jobs 1`` (units one after the other) against the reference's two workers; stderr
    holds progress bars and nothing else: no TensorFlow log lines, retracing warnings or
    decoder notes."""
    _, reference_out, _ = reference_run
    done = langlab_run(*SMOKE[:-2], "--jobs", "1", "--quiet", "--out", str(tmp_path / "out"),
                       home=tmp_path / "home")
    assert done.returncode == 0, done.stderr[-3000:]
    assert noise_lines(done.stderr) == [] and messages(done.stderr) == [], done.stderr[-3000:]
    assert_same_results(tmp_path / "out", reference_out)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.slow
def test_damaged_entries_are_reported_healed_and_give_the_same_results(reference_run, tmp_path):
    """A truncated array (what a full disk or an interrupted copy leaves), a flipped byte and a
    missing file: each reported in one line, moved aside, computed again; same results."""
    import shutil

    home, reference_out, _ = reference_run
    shutil.copytree(home, tmp_path / "home")
    store = Store(tmp_path / "home" / "store")
    features = max((e for e in store.entries("features")),
                   key=lambda e: (e.path / "S_db.npy").stat().st_size)
    lstm, ae = store.entries("lstm")[0], store.entries("autoencoder")[0]
    _truncate(features.path / "S_db.npy")
    _flip_byte(lstm.path / "model.keras")
    (ae.path / "history.csv").unlink()
    done = langlab_run(*SMOKE, "--quiet", "--out", str(tmp_path / "out"), home=tmp_path / "home")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = messages(done.stderr)
    assert len(lines) == 3, done.stderr  # one line a damaged entry, nothing else
    assert noise_lines(done.stderr) == []
    size = (features.path / "S_db.npy").stat().st_size  # recomputed: the full size again
    expected = {f"features/{features.key}": f"S_db.npy has {size // 2} bytes, the manifest says {size}",
                f"lstm/{lstm.key}": "model.keras has changed (its SHA-256 differs from the manifest's)",
                f"autoencoder/{ae.key}": "history.csv is missing"}
    for name, problem in expected.items():
        assert any(line.startswith(f"langlab store: damaged entry {name}: {problem}; moved to ")
                   for line in lines), (name, done.stderr)
    for entry in (features, lstm, ae):
        assert entry.exists() and entry.problem(hashes=True) is None
        assert len(list((entry.path.parent / ".damaged").iterdir())) == 1
    assert_same_results(tmp_path / "out", reference_out)


@pytest.mark.slow
def test_two_runs_on_one_store_compute_each_entry_once(reference_run, tmp_path):
    """Two ``langlab run`` processes started together on one empty store: every entry is written
    by one of them (the other waits for it and reuses it; corpus, features and every training
    are computed once, see ``Entry.lock``), and both write the same results."""
    _, reference_out, _ = reference_run
    store = tmp_path / "store"
    env = {**os.environ, "LANGLAB_HOME": str(tmp_path / "home")}
    procs = [subprocess.Popen([sys.executable, "-m", "langlab.cli", "run", *SMOKE, "--quiet",
                               "--store", str(store), "--out", str(tmp_path / f"out{i}")],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outputs = [p.communicate(timeout=2400) for p in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
        for line in messages(err):  # the only message: waiting for the other process
            if "A worker stopped while some jobs were given" in line or "warnings.warn(" in line:
                continue  # loky restarting a worker of the crowded machine (the run goes on)
            assert line.startswith("langlab store: waiting for "), line
        assert noise_lines(err) == []
    computed = [line.split("\t")[1] for line in (store / "computed.log").read_text().splitlines()]
    assert computed and len(computed) == len(set(computed)), sorted(computed)
    assert set(computed) == {f"{e.stage}/{e.key}" for e in Store(store).entries()}
    assert_same_results(tmp_path / "out0", reference_out)
    assert_same_results(tmp_path / "out1", reference_out)


def test_read_only_store_is_one_clear_line(tmp_path):
    """A store folder that cannot be written: one line naming it, exit code 2, nothing written.
    Permissions do not bind root, so as root the folder is made immutable (``chattr +i``)."""
    import errno
    import shutil

    store = tmp_path / "store"
    store.mkdir()
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(store)]).returncode:
            pytest.skip("running as root on a filesystem without chattr +i")
        why = os.strerror(errno.EPERM)
    else:
        os.chmod(store, 0o555)
        why = os.strerror(errno.EACCES)
    try:
        done = langlab_run("--preset", "smoke", "--quiet", "--store", str(store),
                           "--out", str(tmp_path / "out"), home=tmp_path / "home", timeout=600)
        assert done.returncode == 2, done.stderr[-3000:]
        assert done.stderr == (f"langlab run: error: cannot write to {store}: {why}; make it "
                               "writable, or put the store elsewhere (LANGLAB_HOME or --store)\n")
        assert list(store.iterdir()) == []
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(store)])
        os.chmod(store, 0o755)
