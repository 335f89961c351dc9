"""The locked environment: ``requirements.lock`` beside what is running (Reproducibility appendix).

``pyproject.toml`` declares a version *range* for each direct dependency; ``requirements.lock``
pins the whole dependency tree to exact versions with their hashes (``make lock``, with uv), and
``make venv`` installs exactly that. :func:`lock_table` sets the locked version of every package
beside the one this interpreter runs and flags each difference; :func:`range_problems` says which
locked versions a declared range does not allow (a test runs it on the checkout's files).
"""
from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from langlab.errors import DataError, check

#: Name of the lock file in the checkout.
LOCK_FILE = "requirements.lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def canonical(name: str) -> str:
    """A distribution name in its normalised form (PEP 503: ``Foo_Bar`` -> ``foo-bar``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def default_lock() -> Path:
    """``requirements.lock`` of the checkout this package runs from."""
    return Path(__file__).resolve().parents[1] / LOCK_FILE


def read_lock(path: str | Path | None = None) -> dict[str, str]:
    """``{canonical name: version}`` of every ``name==version`` line of a lock file.

    Raises :class:`DataError` naming the file if it is missing or pins nothing.
    """
    path = Path(path) if path is not None else default_lock()
    check(path.is_file(), f"{path}: no lock file (create it with `make lock`)", DataError)
    pins = {}
    for line in path.read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[canonical(match.group(1))] = match.group(2)
    check(bool(pins), f"{path}: no 'name==version' lines; expected a pip-compile/uv lock file", DataError)
    return pins


def running_version(name: str) -> str | None:
    """The installed version of distribution ``name`` in this interpreter, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def lock_table(path: str | Path | None = None) -> pd.DataFrame:
    """Every locked package with its locked and running versions.

    Returns
    -------
    pd.DataFrame
        ``package``, ``locked``, ``running`` (``"not installed"`` if absent) and ``same``
        (``"yes"`` or ``"DIFFERS"``), sorted by package; differences first.
    """
    rows = []
    for name, locked in sorted(read_lock(path).items()):
        running = running_version(name)
        rows.append({"package": name, "locked": locked, "running": running or "not installed",
                     "same": "yes" if running == locked else "DIFFERS"})
    table = pd.DataFrame(rows, columns=["package", "locked", "running", "same"])
    return table.sort_values(["same", "package"], key=lambda c: c.map({"DIFFERS": 0, "yes": 1})
                             if c.name == "same" else c, kind="stable").reset_index(drop=True)


def range_problems(requirements: Iterable[str], pins: dict[str, str]) -> list[str]:
    """What is wrong between declared ``requirements`` (``"numpy>=1.26,<3"``...) and a lock's
    ``pins``: a requirement the lock lacks, or a locked version outside its range."""
    from packaging.requirements import Requirement

    problems = []
    for line in requirements:
        req = Requirement(line)
        name = canonical(req.name)
        if name not in pins:
            problems.append(f"{req.name} is declared ({line}) but not in the lock")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{req.name}=={pins[name]} in the lock is outside the declared range {line}")
    return problems
