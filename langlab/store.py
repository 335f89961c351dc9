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

Integrity: the manifest records every file's size and SHA-256. :meth:`Entry.exists` checks the
sizes every time (and the hashes of entries up to :data:`CHEAP_HASH_BYTES`, once a process); a
damaged entry (a truncated, changed or missing file) is reported in one line on stderr, moved
aside to ``<stage>/.damaged/`` and computed again, never used. ``langlab store verify [--fix]``
checks every hash. Concurrency: :meth:`Entry.write` holds a per-entry file lock
(:mod:`filelock`), so a second process asking for an entry that a first one is computing waits
for it and then reuses it; work done before ``write`` is guarded with :meth:`Entry.lock`.
A store that cannot be written (a read-only folder, a full disk) gives a one-line
:class:`~langlab.errors.DataError` naming the folder, and nothing half-written is ever complete.

The root is ``$LANGLAB_HOME/store``; without ``LANGLAB_HOME`` it is ``.langlab/store`` in the
source checkout (or ``~/.cache/langlab/store`` for an installed package). Clear it with
``make clean-store`` or by deleting the folder.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import json
import os
import platform
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from langlab import __version__
from langlab.errors import DataError, ParameterError

MANIFEST = "manifest.json"
#: Manifest field with ``{relative path: {"size": bytes, "sha256": hex}}`` of every other file.
FILES = "files"
#: Entries up to this many bytes have their hashes checked (once per process and file version)
#: whenever :meth:`Entry.exists` looks at them; larger ones only their sizes (hashes on demand).
CHEAP_HASH_BYTES = 64 * 2**20
#: Folder (inside a stage) that damaged entries are moved to.
DAMAGED = ".damaged"
#: Folder (inside a stage) of the per-entry lock files.
LOCKS = ".locks"
#: One line per entry whose ``fill`` ran: time, stage/key, host:pid, seconds (in the store root).
JOURNAL = "computed.log"
#: ``OSError`` numbers that mean "this folder cannot be written" (read-only, no space, ...).
WRITE_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


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


def report(message: str) -> None:
    """One line on stderr, ``langlab store: <message>`` (damaged entries, waiting for a lock)."""
    print(f"langlab store: {message}", file=sys.stderr, flush=True)


def write_error(exc: OSError, folder: Path) -> DataError:
    """The one-line error for a store (or output) folder that cannot be written."""
    what = exc.strerror or type(exc).__name__
    hint = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space",
            errno.EFBIG: "free some space"}.get(exc.errno, "make it writable")
    return DataError(f"cannot write to {folder}: {what}; {hint}, or put the store elsewhere "
                     "(LANGLAB_HOME or --store)")


@contextlib.contextmanager
def _writing(folder: Path):
    """Turn a write failure (read-only folder, full disk) into :func:`write_error`."""
    try:
        yield
    except OSError as exc:
        if exc.errno in WRITE_ERRNOS:
            raise write_error(exc, folder) from None
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (never a torn file)."""
    path = Path(path)
    with _writing(path.parent):
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
    with _writing(path.parent):
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


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: ``(path, inode, size, mtime_ns) -> sha256`` of files hashed in this process.
_HASHED: dict[tuple, str] = {}


def _cached_sha256(path: Path, st: os.stat_result) -> str:
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _HASHED:
        _HASHED[key] = sha256_file(path)
    return _HASHED[key]


def file_record(folder: Path) -> dict[str, dict]:
    """``{relative path: {"size", "sha256"}}`` of every file under ``folder`` but the manifest."""
    folder = Path(folder)
    record = {}
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = file.relative_to(folder).as_posix()
        if rel != MANIFEST:
            record[rel] = {"size": file.stat().st_size, "sha256": sha256_file(file)}
    return record


def check_files(folder: Path, record: dict[str, dict], *, hashes: bool | None = None) -> str | None:
    """What is wrong with the files of ``folder`` against their manifest ``record``, or None.

    Sizes are always checked; hashes when ``hashes`` is True, or when it is None and the files
    total at most :data:`CHEAP_HASH_BYTES` (each file version hashed once per process).
    """
    folder = Path(folder)
    stats = {}
    for rel, want in record.items():
        try:
            st = (folder / rel).stat()
        except FileNotFoundError:
            return f"{rel} is missing"
        if st.st_size != want["size"]:
            return f"{rel} has {st.st_size} bytes, the manifest says {want['size']}"
        stats[rel] = st
    if hashes is None:
        hashes = sum(w["size"] for w in record.values()) <= CHEAP_HASH_BYTES
    if hashes:
        for rel, want in record.items():
            if _cached_sha256(folder / rel, stats[rel]) != want["sha256"]:
                return f"{rel} has changed (its SHA-256 differs from the manifest's)"
    return None


#: File locks of this process, one per lock file (so that :meth:`Entry.lock` is re-entrant).
_LOCKS: dict[str, Any] = {}
_LOCKS_GUARD = threading.Lock()


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

    @classmethod
    def at(cls, path: str | os.PathLike) -> "Entry":
        """The entry whose folder is ``path`` (``<root>/<stage>/<key>``)."""
        path = Path(path)
        return cls(path.parent.parent, path.parent.name, path.name)

    def exists(self) -> bool:
        """True when the entry is complete (its manifest was written last, atomically) and
        undamaged (:meth:`problem`). A damaged entry is reported in one line on stderr and moved
        aside (:meth:`quarantine`), so the caller computes it again; the answer is then False."""
        if not (self.path / MANIFEST).exists():
            return False
        problem = self.problem()
        if problem is None:
            return True
        self.quarantine(problem)
        return False

    def problem(self, *, hashes: bool | None = None) -> str | None:
        """What is wrong with this complete entry, or None: an unreadable manifest, a missing
        file, a file of another size, or (``hashes=True``, or None for small entries, see
        :func:`check_files`) a file whose content changed. Entries written before manifests
        recorded their files are taken as they are."""
        try:
            manifest = json.loads((self.path / MANIFEST).read_text())
        except FileNotFoundError:
            return f"{MANIFEST} is missing"
        except (OSError, ValueError) as exc:
            return f"{MANIFEST} is unreadable ({type(exc).__name__})"
        if not isinstance(manifest, dict):
            return f"{MANIFEST} is not a JSON object"
        record = manifest.get(FILES)
        if record is None:
            return None
        return check_files(self.path, record, hashes=hashes)

    def require(self) -> None:
        """:class:`DataError` naming the entry and what is wrong unless it is complete and
        undamaged (for readers handed a folder, such as :func:`langlab.features.load`)."""
        if not (self.path / MANIFEST).exists():
            raise DataError(f"store entry {self.stage}/{self.key} is not complete: "
                            f"{self.path / MANIFEST} missing")
        problem = self.problem()
        if problem is not None:
            raise DataError(f"store entry {self.stage}/{self.key} is damaged: {problem} "
                            f"({self.path}); delete it and compute it again")

    def quarantine(self, problem: str) -> Path | None:
        """Move this damaged entry to ``<stage>/.damaged/<key>-<time>`` and say so in one line.
        Returns where it went (None if another process moved it first)."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = self.root / self.stage / DAMAGED / f"{self.key}-{stamp}-{os.getpid()}"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.path, target)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise DataError(f"store entry {self.stage}/{self.key} is damaged ({problem}) and cannot "
                            f"be moved aside: {exc.strerror}; delete {self.path}") from None
        report(f"damaged entry {self.stage}/{self.key}: {problem}; moved to {target}, "
               "computing it again")
        return target

    def manifest(self) -> dict:
        """The entry's manifest; :class:`DataError` if the entry is not complete."""
        file = self.path / MANIFEST
        if not file.exists():
            raise DataError(f"store entry {self.stage}/{self.key} is not complete: {file} missing")
        return json.loads(file.read_text())

    def partial(self) -> Path:
        """Folder for the pieces of an unfinished computation (kept across interruptions)."""
        folder = self.root / self.stage / f"{self.key}.partial"
        with _writing(self.root):
            folder.mkdir(parents=True, exist_ok=True)
        return folder

    @contextlib.contextmanager
    def lock(self):
        """Hold this entry's file lock (``<stage>/.locks/<key>.lock``) inside the block.

        Another process (or thread) asking for the same lock waits until it is released; a
        killed holder releases it (the operating system drops the lock with the process).
        Re-entrant within a thread. Guard work that computes an entry *before* :meth:`write`
        with it (and check :meth:`exists` again inside): the second process then reuses the
        first one's result instead of computing it too.
        """
        from filelock import FileLock, Timeout

        file = self.root / self.stage / LOCKS / f"{self.key}.lock"
        with _writing(self.root):
            file.parent.mkdir(parents=True, exist_ok=True)
        with _LOCKS_GUARD:
            lock = _LOCKS.setdefault(str(file), FileLock(str(file), thread_local=True))
        with _writing(self.root):
            try:
                lock.acquire(timeout=0)
            except Timeout:
                report(f"waiting for {self.stage}/{self.key} (another process is computing it)")
                lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def write(self, fill: Callable[[Path], dict | None], *, description: str = "") -> Path:
        """Create the entry: ``fill(folder)`` writes files into a temporary folder and may return
        extra manifest fields (timings, counts, skipped items); then the folder is renamed into
        place, its manifest (with every file's size and SHA-256) written last.

        Holds the entry's :meth:`lock`: when another process is writing the same entry, this one
        waits for it and keeps its result without calling ``fill``. A folder that cannot be
        written gives a one-line :class:`DataError` naming it."""
        with self.lock():
            if self.exists():  # another process finished it while we waited
                return self.path
            with _writing(self.root):
                tmp = self.path.parent / f".{self.key}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
                tmp.mkdir()
                try:
                    started = time.time()
                    extra = fill(tmp) or {}
                    seconds = round(time.time() - started, 3)
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
                        "seconds": seconds,
                        **to_jsonable(extra),
                        FILES: file_record(tmp),
                    }
                    atomic_write_json(tmp / MANIFEST, manifest)
                    if (self.path / MANIFEST).exists():
                        shutil.rmtree(tmp)
                    else:
                        if self.path.exists():  # a stale, manifest-less folder: replace it
                            shutil.rmtree(self.path)
                        os.replace(tmp, self.path)
                        self._journal(seconds)
                except BaseException:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise
        shutil.rmtree(self.root / self.stage / f"{self.key}.partial", ignore_errors=True)
        return self.path

    def _journal(self, seconds: float) -> None:
        """Append ``time, stage/key, host:pid, seconds`` to the store's :data:`JOURNAL`."""
        line = (f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')}\t{self.stage}/{self.key}\t"
                f"{socket.gethostname()}:{os.getpid()}\t{seconds}\n")
        fd = os.open(self.root / JOURNAL, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


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

    def verify(self, stage: str | None = None, *, fix: bool = False) -> list[tuple[Entry, str]]:
        """Check every file hash of every complete entry (``langlab store verify``).

        Returns ``(entry, problem)`` for each damaged one; with ``fix=True`` they are moved aside
        (:meth:`Entry.quarantine`), so the next run computes them again.
        """
        damaged = []
        for entry in self.entries(stage):
            problem = entry.problem(hashes=True)
            if problem is not None:
                damaged.append((entry, problem))
                if fix:
                    entry.quarantine(problem)
        return damaged


def default_store(store: Store | str | os.PathLike | None = None) -> Store:
    """``store`` as a :class:`Store` (``None`` gives the default one)."""
    return store if isinstance(store, Store) else Store(store)


# --------------------------------------------------------------------------------------------
# Command line: langlab store verify
# --------------------------------------------------------------------------------------------
