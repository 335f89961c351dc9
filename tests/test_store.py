"""The artifact store: stable keys, atomic entries, resumable partial work."""
import dataclasses
import json

import numpy as np
import pytest

from langlab import stats
from langlab import store as st
from langlab.errors import DataError, ParameterError


@dataclasses.dataclass(frozen=True)
class Cfg:
    n_mels: int = 40
    fmax: float | None = None
    locales: tuple[str, ...] = ("es", "it")


def test_key_depends_on_config_inputs_and_code(tmp_path):
    store = st.Store(tmp_path)
    a = store.entry("features", config=Cfg())
    assert a.key == store.entry("features", config=Cfg()).key
    assert a.key != store.entry("features", config=Cfg(n_mels=64)).key
    assert a.key != store.entry("features", config=Cfg(), inputs=["abc"]).key
    assert a.key != store.entry("features", config=Cfg(), code=[stats.mean_ci]).key


def test_stable_hash_is_independent_of_dict_order():
    assert st.stable_hash({"a": 1, "b": 2}) == st.stable_hash({"b": 2, "a": 1})
    assert st.stable_hash(np.float64(0.5)) == st.stable_hash(0.5)


def test_unhashable_config_is_a_clear_error():
    with pytest.raises(ParameterError, match="cannot hash"):
        st.stable_hash(object())


def test_entry_is_written_atomically_with_manifest(tmp_path):
    entry = st.Store(tmp_path).entry("demo", config=Cfg())
    assert not entry.exists()
    with pytest.raises(DataError, match="not complete"):
        entry.manifest()

    def fill(folder):
        st.atomic_save_npy(folder / "x.npy", np.arange(3))
        return {"n": 3}

    path = entry.write(fill, description="three numbers")
    assert entry.exists() and path == entry.path
    manifest = entry.manifest()
    assert manifest["n"] == 3 and manifest["config"]["n_mels"] == 40
    assert manifest["config"]["__class__"] == "Cfg"
    np.testing.assert_array_equal(np.load(path / "x.npy"), np.arange(3))
    assert not list(path.parent.glob(".*.tmp")), "temporary folder left behind"


def test_failed_fill_leaves_no_entry(tmp_path):
    entry = st.Store(tmp_path).entry("demo", config=Cfg())

    def fill(folder):
        (folder / "half.txt").write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        entry.write(fill)
    assert not entry.exists()
    assert not entry.path.exists()
    assert not list(entry.path.parent.glob(".*.tmp"))


def test_partial_pieces_survive_until_entry_is_complete(tmp_path):
    entry = st.Store(tmp_path).entry("demo", config=Cfg())
    piece = entry.partial() / "shard-0.npy"
    st.atomic_save_npy(piece, np.ones(2))
    assert piece.exists()
    entry.write(lambda folder: None)
    assert not piece.parent.exists()


def test_entries_and_clear(tmp_path):
    store = st.Store(tmp_path)
    store.entry("a", config=Cfg()).write(lambda f: None)
    store.entry("b", config=Cfg()).write(lambda f: None)
    assert [e.stage for e in store.entries()] == ["a", "b"]
    store.clear("a")
    assert [e.stage for e in store.entries()] == ["b"]


def test_home_follows_environment(tmp_home):
    assert st.home() == tmp_home.resolve()
    assert st.Store().root == tmp_home.resolve() / "store"


def test_atomic_write_json_roundtrip(tmp_path):
    st.atomic_write_json(tmp_path / "x.json", {"cfg": Cfg(), "v": np.int64(3)})
    data = json.loads((tmp_path / "x.json").read_text())
    assert data["v"] == 3 and data["cfg"]["locales"] == ["es", "it"]


# --------------------------------------------------------------------------------------------
# Integrity: sizes and hashes in the manifest; damaged entries reported, moved aside, recomputed
# --------------------------------------------------------------------------------------------
def _numbers(folder):
    st.atomic_save_npy(folder / "x.npy", np.arange(1000, dtype=np.float32))
    (folder / "sub").mkdir()
    (folder / "sub" / "note.txt").write_text("hello")
    return {"n": 1000}


def test_manifest_records_every_file_size_and_hash(tmp_path):
    entry = st.Store(tmp_path).entry("demo", config=Cfg())
    entry.write(_numbers)
    files = entry.manifest()[st.FILES]
    assert set(files) == {"x.npy", "sub/note.txt"}
    assert files["x.npy"]["size"] == (entry.path / "x.npy").stat().st_size
    assert files["sub/note.txt"]["sha256"] == st.sha256_file(entry.path / "sub" / "note.txt")
    assert entry.problem(hashes=True) is None and entry.exists()
    log = (tmp_path / st.JOURNAL).read_text().splitlines()
    assert len(log) == 1 and f"demo/{entry.key}" in log[0]


def _damage_truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _damage_flip(path):
    data = bytearray(path.read_bytes())
    data[-7] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, expected", [
    (_damage_truncate, "x.npy has 2064 bytes, the manifest says 4128"),
    (_damage_flip, "x.npy has changed (its SHA-256 differs from the manifest's)"),
    (lambda path: path.unlink(), "x.npy is missing"),
])
def test_damaged_entry_is_reported_moved_aside_and_recomputed(tmp_path, capfd, damage, expected):
    store = st.Store(tmp_path)
    entry = store.entry("demo", config=Cfg())
    entry.write(_numbers)
    good = (entry.path / "x.npy").read_bytes()
    damage(entry.path / "x.npy")
    assert entry.problem(hashes=True) == expected
    with pytest.raises(DataError, match=f"store entry demo/{entry.key} is damaged: "):
        entry.require()
    capfd.readouterr()
    assert not entry.exists()  # never used
    err = capfd.readouterr().err
    assert err.count("\n") == 1, err  # one line, naming the entry and what is wrong
    assert err.startswith(f"langlab store: damaged entry demo/{entry.key}: {expected}; moved to ")
    moved = list((tmp_path / "demo" / st.DAMAGED).iterdir())
    assert len(moved) == 1 and moved[0].name.startswith(entry.key + "-")
    assert not entry.path.exists()
    entry.write(_numbers)  # computed again, the same bytes
    assert entry.exists() and (entry.path / "x.npy").read_bytes() == good


def test_unreadable_manifest_is_damage(tmp_path, capfd):
    entry = st.Store(tmp_path).entry("demo", config=Cfg())
    entry.write(_numbers)
    (entry.path / st.MANIFEST).write_text('{"stage": "demo", "fi')
    assert not entry.exists()
    assert "manifest.json is unreadable" in capfd.readouterr().err


def test_store_verify_checks_hashes_and_fixes(tmp_path, capfd):
    store = st.Store(tmp_path)
    a, b = (store.entry("demo", config=Cfg(n_mels=n)) for n in (1, 2))
    a.write(_numbers)
    b.write(_numbers)
    assert store.verify() == []
    _damage_flip(b.path / "x.npy")
    assert [(e.key, why) for e, why in store.verify()] == [(b.key, "x.npy has changed (its SHA-256 "
                                                             "differs from the manifest's)")]
    assert b.path.exists()  # only reported
    store.verify(fix=True)
    assert not b.path.exists() and a.exists() and store.verify() == []


def test_store_verify_command(tmp_path, capsys):
    from langlab.cli import main

    store = st.Store(tmp_path)
    entry = store.entry("demo", config=Cfg())
    entry.write(_numbers)
    assert main(["store", "verify", "--store", str(tmp_path)]) == 0
    assert "1 entries checked" in capsys.readouterr().out
    _damage_truncate(entry.path / "x.npy")
    assert main(["store", "verify", "--store", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"damaged: demo/{entry.key}: x.npy has 2064 bytes" in out and "--fix" in out
    assert main(["store", "verify", "--store", str(tmp_path), "--fix"]) == 0
    assert not entry.path.exists()


def test_manifest_without_file_record_is_taken_as_it_is(tmp_path):
    """Entries written before manifests recorded their files stay usable."""
    entry = st.Store(tmp_path).entry("demo", config=Cfg())
    entry.write(_numbers)
    manifest = entry.manifest()
    del manifest[st.FILES]
    st.atomic_write_json(entry.path / st.MANIFEST, manifest)
    assert entry.exists() and entry.problem(hashes=True) is None


# --------------------------------------------------------------------------------------------
# Locks: a second writer waits for the first and keeps its result
# --------------------------------------------------------------------------------------------
def test_second_writer_waits_and_reuses(tmp_path, capfd):
    import threading
    import time

    entry = st.Store(tmp_path).entry("demo", config=Cfg())
    calls = []

    def slow(folder):
        calls.append(threading.get_ident())
        time.sleep(1.0)
        return _numbers(folder)

    first = threading.Thread(target=entry.write, args=(slow,))
    first.start()
    time.sleep(0.3)
    entry.write(slow)  # waits for the first thread, then finds the entry complete
    first.join()
    assert len(calls) == 1 and entry.exists()
    assert f"waiting for demo/{entry.key}" in capfd.readouterr().err
    assert len((tmp_path / st.JOURNAL).read_text().splitlines()) == 1


def test_lock_is_reentrant(tmp_path):
    entry = st.Store(tmp_path).entry("demo", config=Cfg())
    with entry.lock():
        with entry.lock():
            entry.write(_numbers)
    assert entry.exists()
