"""Quiet by default: library noise is kept off stderr, real messages pass (langlab.quiet).

Whole ``langlab run`` processes are checked in tests/test_experiment.py (a ``--quiet`` run prints
nothing on stderr but real messages); here the filter itself and ``langlab info`` on a damaged
MP3, whose decoder notes come from C code writing straight to file descriptor 2.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf

from langlab.quiet import _clean

TF_LINE = (b"E0000 00:00:1732871234.123456   12345 meta_optimizer.cc:966] NodeDef mentions attribute "
           b"use_unbounded_threadpool which is not in the op definition\n")
NOISE_LINES = [
    TF_LINE,
    b"I0000 00:00:1795970629.244349   13139 port.cc:153] oneDNN custom operations are on.\n",
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with "
    b"the appropriate compiler flags.\n",
    b"WARNING:tensorflow:5 out of the last 28 calls to <function f> triggered tf.function retracing. "
    b"Tracing is expensive\n",
    b"Note: Hit end of (available) data during resync.\n",
    b"Warning: Xing stream size off by more than 1%, fuzzy seeking may be even more fuzzy\n",
    b"[src/libmpg123/layer3.c:INT123_do_layer3():1844] error: part2_3_length (3360) too large\n",
]
REAL_LINES = [
    b"langlab store: damaged entry features/abc: S_db.npy has 10 bytes, the manifest says 20; ...\n",
    b"langlab run: error: cannot write to /x/store: Permission denied; make it writable, ...\n",
    b"/x/langlab/corpus.py:12: UserWarning: 2 clip(s) could not be decoded\n",
    b"  lstm: 10 of 10 run(s) did not reach the loss threshold (censored at the step limit)\n",
    b"\rclip headers:  50%|#####     | 15/30 [00:01<00:01, 9.9clip/s]",
]


@pytest.mark.parametrize("line", NOISE_LINES)
def test_noise_lines_are_dropped(line):
    assert _clean(line) == b""


@pytest.mark.parametrize("line", REAL_LINES)
def test_real_lines_pass(line):
    assert _clean(line) == line


def test_noise_after_a_progress_bar_keeps_the_bar():
    bar = b"\rclip headers:   0%|          | 0/30 [00:00<?, ?clip/s]"
    assert _clean(bar + b"Warning: Xing stream size off by more than 1%\n") == bar
    assert _clean(bar + TF_LINE) == bar


SCRIPT = textwrap.dedent("""
    import os, subprocess, sys
    from langlab.quiet import quiet
    with quiet(verbose=sys.argv[1] == "verbose"):
        os.write(2, {tf!r})                           # C code writing to fd 2 in this process
        subprocess.run([sys.executable, "-c",          # ... and in a child (a worker) process
                        "import os; os.write(2, " + repr({note!r}) + ")"])
        print("real warning: 2 clips could not be decoded", file=sys.stderr)
        print("stdout stays", flush=True)
        print("last line", file=sys.stderr)
""")


@pytest.mark.parametrize("verbose", [False, True])
def test_filter_covers_this_process_and_its_children(verbose):
    script = SCRIPT.format(tf=TF_LINE, note=b"Note: Trying to resync...\n")
    done = subprocess.run([sys.executable, "-c", script, "verbose" if verbose else "quiet"],
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"stdout stays\n"
    real = b"real warning: 2 clips could not be decoded\nlast line\n"
    if verbose:
        assert TF_LINE in done.stderr and b"Note: Trying to resync" in done.stderr
    else:
        assert done.stderr == real


@pytest.fixture(scope="module")
def damaged_mp3_folder(tmp_path_factory):
    """A Common Voice-style locale folder of three MP3 clips, one cut to half its length (what
    an interrupted download leaves; libmpg123 prints notes about it while reading)."""
    root = tmp_path_factory.mktemp("cv") / "es"
    (root / "clips").mkdir(parents=True)
    sr = 48_000
    t = np.arange(3 * sr) / sr
    rows = ["client_id\tpath\tsentence\tup_votes\tdown_votes\tlocale"]
    for i in range(3):
        y = (0.2 * np.sin(2 * np.pi * (200 + 50 * i) * t)).astype(np.float32)
        sf.write(root / "clips" / f"c{i}.mp3", y, sr, format="MP3")
        rows.append(f"spk{i}\tc{i}.mp3\tuna frase {i}\t2\t0\tes")
    damaged = root / "clips" / "c0.mp3"
    data = damaged.read_bytes()
    damaged.write_bytes(data[: len(data) // 2])
    (root / "validated.tsv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.parametrize("verbose", [False, True])
def test_info_hides_decoder_notes_unless_verbose(damaged_mp3_folder, verbose):
    args = ["--verbose"] if verbose else []
    done = subprocess.run([sys.executable, "-m", "langlab.cli", "info", str(damaged_mp3_folder), *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"})
    assert done.returncode == 0, done.stderr
    assert "3 clips" in done.stdout
    decoder = [line for line in done.stderr.replace("\r", "\n").splitlines()
               if "Warning: " in line or "Note: " in line or "libmpg123" in line]
    if verbose:
        assert decoder, "the damaged clip should make libmpg123 speak (or this test shows nothing)"
    else:
        assert decoder == [], done.stderr
