"""The runner of (model, condition, seed) units and the pre-training registry: units computed
only when missing, in this process or in workers, result rows read back from the store, seeds
and conditions checked alike for every model, and a new condition written as one function."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from langlab import runs, training
from langlab.errors import ParameterError
from langlab.presets import get_preset
from langlab.store import Store


def _toy_fill(preset, condition, seed, folder, *, store, data_dir, prepared):
    """A unit: its value, what was prepared for it and whether TensorFlow threads were set."""
    (folder / "value.txt").write_text(str(seed * 2))
    return {"condition": condition, "seed": seed, "value": seed * 2, "prepared": prepared}


def _toy_result(preset, entry):
    m = entry.manifest()
    return {"condition": m["condition"], "seed": m["seed"], "value": m["value"], "prepared": m["prepared"]}


def _toy_key(preset, condition, seed):
    return {"condition": condition, "seed": seed}


def _toy_prepare(preset, entries, *, store, data_dir, progress):
    return {unit: f"prepared {unit[0]}" for unit in entries}


TOY = runs.ModelSpec(name="toy units", stage="toy", config="lstm", fill=_toy_fill, result=_toy_result,
                     description="toy {condition!r}, seed {seed}", key=_toy_key, roots=(_toy_fill,))


def _entries(spec, store, units):
    preset = get_preset("smoke")
    return preset, {u: runs.entry(spec, preset, *u, store=store, inputs=[]) for u in units}


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_compute_runs_only_the_missing_units(tmp_path, n_jobs):
    import joblib

    store = Store(tmp_path)
    preset, entries = _entries(TOY, store, [("none", 0), ("none", 1), ("it", 0)])
    runs.compute(TOY, preset, {("none", 1): entries[("none", 1)]}, store=store, progress=False)
    before = entries[("none", 1)].manifest()["created"]
    with joblib.parallel_config(backend="threading"):  # the runner forces no backend
        runs.compute(TOY, preset, entries, store=store, n_jobs=n_jobs, progress=False)
    assert all(e.exists() for e in entries.values())
    assert entries[("none", 1)].manifest()["created"] == before  # stored before: not recomputed
    table = runs.table(TOY, preset, entries)
    assert list(table.itertuples(index=False, name=None)) == [
        ("none", 0, 0, None), ("none", 1, 2, None), ("it", 0, 0, None)]
    assert entries[("it", 0)].manifest()["description"] == "toy 'it', seed 0"


def test_prepare_runs_in_this_process_for_the_missing_units_only(tmp_path):
    store = Store(tmp_path)
    spec = dataclasses.replace(TOY, prepare=_toy_prepare)
    preset, entries = _entries(spec, store, [("none", 0), ("es", 0)])
    runs.compute(spec, preset, {("none", 0): entries[("none", 0)]}, store=store, progress=False)
    runs.compute(spec, preset, entries, store=store, progress=False)
    assert list(runs.table(spec, preset, entries)["prepared"]) == ["prepared none", "prepared es"]


def test_nothing_stored_to_compute_starts_no_workers(tmp_path, monkeypatch):
    store = Store(tmp_path)
    preset, entries = _entries(TOY, store, [("none", 0)])
    runs.compute(TOY, preset, entries, store=store, progress=False)
    monkeypatch.setattr(runs, "parallel", lambda n_jobs: pytest.fail("started workers"))
    runs.compute(TOY, preset, entries, store=store, n_jobs=2, progress=False)


def test_progress_bar_only_when_asked(tmp_path, capsys):
    store = Store(tmp_path)
    preset, entries = _entries(TOY, store, [("none", 0), ("none", 1)])
    runs.compute(TOY, preset, {("none", 0): entries[("none", 0)]}, store=store, progress=False)
    assert capsys.readouterr().err == ""
    runs.compute(TOY, preset, entries, store=store, progress=True)
    assert "toy units" in capsys.readouterr().err


def test_entries_differ_by_unit_inputs_and_code(tmp_path):
    store = Store(tmp_path)
    preset = get_preset("smoke")
    a = runs.entry(TOY, preset, "none", 0, store=store, inputs=[])
    assert a.key == runs.entry(TOY, preset, "none", 0, store=store, inputs=[]).key
    assert a.key != runs.entry(TOY, preset, "none", 1, store=store, inputs=[]).key
    assert a.key != runs.entry(TOY, preset, "none", 0, store=store, inputs=["abc"]).key
    other = dataclasses.replace(TOY, roots=(_toy_result,))
    assert a.key != runs.entry(other, preset, "none", 0, store=store, inputs=[]).key


@pytest.mark.parametrize("seeds", [(0, 1), [np.int64(0), np.int32(3)], (np.uint8(2),)])
def test_seeds_accept_python_and_numpy_integers(seeds):
    assert runs.check_seeds(seeds) == tuple(int(s) for s in seeds)
    config = training.PRESETS["smoke"]
    from langlab import autoencoder
    for cls in (type(config), autoencoder.AutoencoderConfig):
        assert cls(seeds=tuple(seeds)).seeds == tuple(seeds)


@pytest.mark.parametrize("seeds", [(True, 1), (0, 0), (), (-1,), (1.0,), 3, "01"])
def test_seeds_refuse_bools_repeats_and_non_integers(seeds):
    from langlab import autoencoder
    with pytest.raises(ParameterError, match="seeds"):
        runs.check_seeds(seeds)
    for cls in (training.LSTMConfig, autoencoder.AutoencoderConfig):
        with pytest.raises(ParameterError, match="seeds"):
            cls(seeds=seeds)


@pytest.mark.parametrize("n_jobs", [0, -2, True, 1.5])
def test_bad_n_jobs(n_jobs):
    with pytest.raises(ParameterError, match="n_jobs"):
        runs.check_jobs(n_jobs)


def test_read_table_keeps_none_and_empty_notes(tmp_path):
    file = tmp_path / "t.csv"
    pd.DataFrame({"condition": ["none", "NA"], "p_value": [0.5, None], "note": ["", "x"]}).to_csv(file, index=False)
    table = runs.read_table(file)
    assert list(table["condition"]) == ["none", "NA"] and list(table["note"]) == ["", "x"]
    assert np.isnan(table["p_value"].iloc[1])


def test_clip_counts():
    data = runs.RunData(S_train=np.zeros((5, 2, 3)), S_val=np.zeros((2, 2, 3)), S_pretrain=None,
                        features=None, keys=())
    assert runs.clip_counts(data) == {"n_train": 5, "n_val": 2, "n_pretrain": 0}


def _pid_fill(preset, condition, seed, folder, *, store, data_dir, prepared):
    """A unit that records the process and the TensorFlow thread count it ran with."""
    import os
    return {"condition": condition, "seed": seed, "value": 0, "prepared": prepared, "pid": os.getpid(),
            "threads": os.environ.get("TF_NUM_INTRAOP_THREADS")}


def test_units_run_in_a_worker_with_the_fixed_thread_count_even_with_one_job(tmp_path):
    """Results must not depend on scheduling: never in this process, whose TensorFlow may have
    started with another thread count (Reproducibility appendix)."""
    import os

    spec = dataclasses.replace(TOY, fill=_pid_fill, roots=(_pid_fill,))
    store = Store(tmp_path)
    preset, entries = _entries(spec, store, [("none", 0), ("none", 1)])
    runs.compute(spec, preset, entries, store=store, n_jobs=1, threads=1, progress=False)
    manifests = [e.manifest() for e in entries.values()]
    pids = {m["pid"] for m in manifests}
    assert len(pids) == 1 and os.getpid() not in pids  # one worker, one unit after the other
    assert {m["threads"] for m in manifests} == {"1"}


def test_one_job_then_two_jobs_share_joblibs_worker_pool(tmp_path):
    """A unit run alone (n_jobs=1, or runs.ensure) and then a Parallel(n_jobs=2) fan-out in one
    process: both through joblib's executor (loky's bare one broke the next Parallel)."""
    store = Store(tmp_path)
    preset, entries = _entries(TOY, store, [("none", 0), ("none", 1), ("it", 0), ("it", 1)])
    first = dict(list(entries.items())[:1])
    runs.compute(TOY, preset, first, store=store, n_jobs=1, threads=1, progress=False)
    runs.compute(TOY, preset, entries, store=store, n_jobs=2, threads=1, progress=False)
    assert all(e.exists() for e in entries.values())
