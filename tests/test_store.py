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
