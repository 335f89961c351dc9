"""Quiet by default: library noise kept off a ``langlab`` user's terminal (Real-data appendix).

TensorFlow prints C++ log lines (``E0000 00:00:... NodeDef mentions attribute ...``, the oneDNN
and CPU-feature notes) and ``tf.function`` retracing warnings; libmpg123, inside libsndfile,
prints notes such as ``Note: Hit end of (available) data during resync.`` straight to the C
``stderr`` while decoding a damaged MP3. None of it is a problem the user can act on, and it
looks like failure. :func:`quiet` (used by :func:`langlab.cli.main` unless ``--verbose``):

- sets ``TF_CPP_MIN_LOG_LEVEL=3`` before TensorFlow is imported (worker processes inherit it);
- sets :data:`QUIET_ENV` so that TensorFlow's Python logger is set to errors only wherever
  langlab imports TensorFlow (:func:`tensorflow_logging`), in workers too;
- routes file descriptor 2 through a filter (:class:`StderrFilter`) that drops exactly the
  lines matching :data:`NOISE` and passes everything else through at once (progress bars,
  langlab's own warnings about broken clips or censored runs, errors). Worker processes
  started from the command inherit the filtered descriptor.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import sys
import threading
from collections.abc import Iterator

#: Environment variable set by :func:`quiet` (``"1"``); worker processes read it.
QUIET_ENV = "LANGLAB_QUIET"

#: Library noise: from a match to the end of its line is dropped (a match may follow a progress
#: bar's partial line, which is kept). Bytes.
NOISE = re.compile(
    rb"[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./+-]+:\d+\] "       # absl / TensorFlow C++ log line
    rb"|WARNING: All log messages before absl::InitializeLog[(][)] is called"
    rb"|To enable the following instructions: .* rebuild TensorFlow"
    rb"|WARNING:tensorflow:.*retracing"                                # tf.function retracing
    rb"|(?<![^\r\]])(?:Note|Warning): "                                # libmpg123 notes and warnings
    rb"|\[[^\]\n]*libmpg123[^\]\n]*\] ")
#: Seconds an incomplete line (a progress bar's update) waits for the rest of its line.
PARTIAL_WAIT = 0.1
_END = b"\x00langlab-quiet-flush\x00"


def _clean(line: bytes) -> bytes:
    """``line`` (ending in a newline or not) without its noise; b"" if nothing else is left."""
    match = NOISE.search(line)
    if match is None:
        return line
    kept = line[:match.start()]
    return kept if kept.strip(b"\r") else b""


class StderrFilter:
    """Route file descriptor 2 through a pipe; a thread forwards everything to the real stderr
    except :data:`NOISE`. An incomplete line (a progress bar's ``\\r`` update) is forwarded
    after :data:`PARTIAL_WAIT` seconds without the rest of it."""

    def __init__(self):
        self._saved: int | None = None
        self._flushed = threading.Event()

    def start(self) -> None:
        sys.stderr.flush()
        self._saved = os.dup(2)
        read, write = os.pipe()
        os.dup2(write, 2)
        os.close(write)
        threading.Thread(target=self._pump, args=(read, self._saved), daemon=True,
                         name="langlab-stderr-filter").start()

    def _pump(self, read: int, out: int) -> None:
        held = b""
        while True:
            ready, _, _ = select.select([read], [], [], PARTIAL_WAIT if held else None)
            if not ready:  # the rest of the line is not coming soon: forward what is clean
                match = NOISE.search(held)
                cut = match.start() if match else len(held)
                _write_all(out, held[:cut])
                held = held[cut:]
                continue
            try:
                chunk = os.read(read, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            held += chunk
            if _END in held:
                held = held.replace(_END, b"")
                lines = held.split(b"\n")
                held = lines.pop()
                _write_all(out, b"".join(_clean(line + b"\n") for line in lines) + _clean(held))
                held = b""
                self._flushed.set()
                continue
            *lines, held = held.split(b"\n")
            if lines:
                _write_all(out, b"".join(_clean(line + b"\n") for line in lines))
        _write_all(out, _clean(held))
        self._flushed.set()

    def stop(self) -> None:
        """Forward what is still in the pipe, then give file descriptor 2 back."""
        if self._saved is None:
            return
        sys.stderr.flush()
        self._flushed.clear()
        with contextlib.suppress(OSError):
            os.write(2, _END)
        self._flushed.wait(timeout=5)
        os.dup2(self._saved, 2)  # worker processes still alive keep writing into the pipe
        self._saved = None


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            n = os.write(fd, data)
        except OSError:
            return
        data = data[n:]


def tensorflow_logging() -> None:
    """TensorFlow's Python logger to errors only when :data:`QUIET_ENV` is set (no retracing
    warnings). Called wherever langlab imports TensorFlow, so it holds in worker processes."""
    if os.environ.get(QUIET_ENV) == "1":
        logging.getLogger("tensorflow").setLevel(logging.ERROR)


@contextlib.contextmanager
def quiet(verbose: bool = False) -> Iterator[None]:
    """Inside: no TensorFlow log lines, retracing warnings or decoder notes on stderr (see the
    module docstring); ``verbose=True`` changes nothing."""
    if verbose:
        os.environ.pop(QUIET_ENV, None)
        yield
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ[QUIET_ENV] = "1"
    tensorflow_logging()
    filt = StderrFilter()
    try:
        filt.start()
    except OSError:  # no file descriptor 2 to filter (a detached process): nothing to hide
        yield
        return
    try:
        yield
    finally:
        filt.stop()
