"""Shared fixtures. Tests never touch the user's store: LANGLAB_HOME points to a temporary folder
unless a test asks for the real one (the chapter tests use the project's own store)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tmp_home(tmp_path, monkeypatch):
    """A fresh, empty LANGLAB_HOME for one test."""
    home = tmp_path / "langlab-home"
    monkeypatch.setenv("LANGLAB_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def pytest_configure(config):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Worker processes (loky) unpickle functions defined in test modules: let them import those.
    tests = str(Path(__file__).resolve().parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")]))


@pytest.fixture(scope="session")
def smoke_store(tmp_path_factory):
    """One store for the whole test session, so the smoke corpus and its features are generated
    once (about 10 s) and shared by every test that needs real smoke data. Tests must not write
    anything into it that another test could trip over: use ``tmp_home`` for that."""
    from langlab.store import Store

    return Store(tmp_path_factory.mktemp("smoke-store"))
