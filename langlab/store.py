"""Content-addressed, atomic artifact store (taught in the Reproducibility appendix).

Every expensive result (a generated corpus, a feature set, a trained model, a probe table) is an
*entry* of the store, kept under ``<root>/<stage>/<key>/``. The key is a hash of

- the stage's frozen config object (all its fields),
- the keys of the entries it was computed from (``inputs``), and
- the *code version*: a hash of the functions that compute it and of everything of the package
  they reach (:mod:`langlab.codeversion`; docstrings, comments, plots and statistics that no
  compute function reaches do not count),

so that a change of parameter, input or code gives a new key, and an unchanged one finds the old
result. An entry is complete exactly when its ``manifest.json`` exists; it is written into a
temporary folder and renamed into place, so a killed process never leaves a half entry that
looks complete. Work that is long enough to be interrupted writes its pieces into
:meth:`Entry.partial` (each piece atomically, see :func:`atomic_save_npy`) and resumes from them.

The root is ``$LANGLAB_HOME/store``; without ``LANGLAB_HOME`` it is ``.langlab/store`` in the
source checkout (or ``~/.cache/langlab/store`` for an installed package). Clear it with
``make clean-store`` or by deleting the folder.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from langlab import __version__
from langlab.errors import DataError, ParameterError

MANIFEST = "manifest.json"


def home() -> Path:
    """Folder for everything langlab generates: ``$LANGLAB_HOME``, else ``.langlab`` in the checkout."""
    env = os.environ.get("LANGLAB_HOME")
    if env:
        return Path(env).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").exists() and (checkout / "langlab").is_dir():
        return checkout / ".langlab"
    return Path.home() / ".cache" / "langlab"


def to_jsonable(obj: Any) -> Any:
    """Turn configs (frozen dataclasses), paths, tuples and NumPy scalars into plain JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return {"__class__": type(obj).__name__, **fields}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise ParameterError(f"cannot hash {obj!r} of type {type(obj).__name__} into a store key; "
                         "use numbers, strings, tuples, paths or frozen dataclasses")


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hex digest of ``obj``'s canonical JSON form: equal configs give equal hashes across runs."""
    text = json.dumps(to_jsonable(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _code_key(code: tuple) -> str:
    """The code part of a key: :func:`langlab.codeversion.code_version` of the compute functions
    (and what they reach; docstrings, comments and presentation left out)."""
    if not code:
        return __version__
    from langlab.codeversion import code_version
    return code_version(*code)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (never a torn file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write_bytes(path, (json.dumps(to_jsonable(obj), indent=2, sort_keys=True) + "\n").encode())


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(array))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclasses.dataclass(frozen=True)
class Entry:
    """One artifact of the store: ``<root>/<stage>/<key>/`` plus its manifest."""

    root: Path
    stage: str
    key: str
    config: Any = None
    inputs: tuple[str, ...] = ()
    code: str = ""

    @property
    def path(self) -> Path:
        return self.root / self.stage / self.key

    def exists(self) -> bool:
        """True when the entry is complete (its manifest was written last, atomically)."""
        return (self.path / MANIFEST).exists()

    def manifest(self) -> dict:
        """The entry's manifest; :class:`DataError` if the entry is not complete."""
        file = self.path / MANIFEST
        if not file.exists():
            raise DataError(f"store entry {self.stage}/{self.key} is not complete: {file} missing")
        return json.loads(file.read_text())

    def partial(self) -> Path:
        """Folder for the pieces of an unfinished computation (kept across interruptions)."""
        folder = self.root / self.stage / f"{self.key}.partial"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def write(self, fill: Callable[[Path], dict | None], *, description: str = "") -> Path:
        """Create the entry: ``fill(folder)`` writes files into a temporary folder and may return
        extra manifest fields (timings, counts, skipped items); then the folder is renamed into
        place. If another process finished the same entry meanwhile, its result is kept."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.parent / f".{self.key}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.mkdir()
        try:
            started = time.time()
            extra = fill(tmp) or {}
            manifest = {
                "stage": self.stage,
                "key": self.key,
                "description": description,
                "config": to_jsonable(self.config),
                "inputs": list(self.inputs),
                "code_version": self.code,
                "langlab_version": __version__,
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "seconds": round(time.time() - started, 3),
                **to_jsonable(extra),
            }
            atomic_write_json(tmp / MANIFEST, manifest)
            if self.exists():
                shutil.rmtree(tmp)
            else:
                if self.path.exists():  # a stale, manifest-less folder: replace it
                    shutil.rmtree(self.path)
                os.replace(tmp, self.path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(self.root / self.stage / f"{self.key}.partial", ignore_errors=True)
        return self.path


class Store:
    """The artifact store rooted at ``root`` (default: ``home() / "store"``)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser().resolve() if root is not None else home() / "store"

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    def entry(self, stage: str, *, config: Any, inputs: Sequence[str] = (),
              code: Iterable[Callable] = ()) -> Entry:
        """The entry for ``stage`` computed with ``config`` from ``inputs`` by the ``code``
        functions (its compute roots)."""
        if not stage or "/" in stage or stage.startswith("."):
            raise ParameterError(f"stage name {stage!r} must be a plain folder name")
        version = _code_key(tuple(code))
        key = stable_hash({"stage": stage, "config": config, "inputs": list(inputs), "code": version})
        return Entry(self.root, stage, key, config=config, inputs=tuple(inputs), code=version)

    def entries(self, stage: str | None = None) -> list[Entry]:
        """Complete entries, of one stage or of all."""
        stages = [stage] if stage else sorted(p.name for p in self.root.glob("*") if p.is_dir())
        found = []
        for name in stages:
            for manifest in sorted((self.root / name).glob(f"*/{MANIFEST}")):
                found.append(Entry(self.root, name, manifest.parent.name))
        return found

    def clear(self, stage: str | None = None) -> None:
        """Delete one stage's entries, or the whole store."""
        target = self.root / stage if stage else self.root
        shutil.rmtree(target, ignore_errors=True)


def default_store(store: Store | str | os.PathLike | None = None) -> Store:
    """``store`` as a :class:`Store` (``None`` gives the default one)."""
    return store if isinstance(store, Store) else Store(store)
