"""Store keys follow the code that computes (langlab.codeversion): both directions."""
from __future__ import annotations

import importlib
import sys
import textwrap
import uuid

import pytest

from langlab import codeversion
from langlab.errors import ParameterError

BASE = {
    "maths.py": '''
        """Compute helpers."""
        SCALE = 3
        UNUSED = 7


        def double(x):
            """Twice x."""
            return 2 * x  # the factor


        def plot(x):
            return f"plot of {x}"
        ''',
    "stage.py": '''
        from PKG import maths
        from PKG.maths import SCALE


        def compute(x):
            """The stage's compute root."""
            return maths.double(x) * SCALE


        def describe(x):
            return maths.plot(x)
        ''',
}


def _version(tmp_path, files: dict[str, str], root: str = "compute") -> str:
    """code_version of ``stage.<root>`` in a fresh package written from ``files``."""
    pkg = f"cvpkg_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / pkg
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text).replace("PKG", pkg))
    sys.path.insert(0, str(tmp_path))
    try:
        stage = importlib.import_module(f"{pkg}.stage")
        return codeversion.code_version(getattr(stage, root), packages=(pkg,))
    finally:
        sys.path.remove(str(tmp_path))


def _edit(name: str, old: str, new: str) -> dict[str, str]:
    files = dict(BASE)
    assert old in files[name], old
    files[name] = files[name].replace(old, new)
    return files


@pytest.mark.parametrize("name, old, new", [
    ("maths.py", '"""Twice x."""', '"""Two times x, as the Chapter 3 explains."""'),
    ("maths.py", "# the factor", "# a comment that says something else"),
    ("maths.py", "return 2 * x", "return (2\n                    * x)"),
    ("maths.py", 'return f"plot of {x}"', 'return f"a different plot of {x}"'),
    ("maths.py", "UNUSED = 7", "UNUSED = 8"),
    ("stage.py", '"""The stage\'s compute root."""', ""),
    ("stage.py", "return maths.plot(x)", "return maths.plot(x) + '!'"),
], ids=["docstring", "comment", "layout", "plot", "unused-constant", "root-docstring", "presentation"])
def test_edits_that_compute_nothing_keep_the_version(tmp_path, name, old, new):
    assert _version(tmp_path, _edit(name, old, new)) == _version(tmp_path, BASE)


@pytest.mark.parametrize("name, old, new", [
    ("maths.py", "return 2 * x", "return 2.0 * x"),
    ("maths.py", "SCALE = 3", "SCALE = 4"),
    ("stage.py", "return maths.double(x) * SCALE", "return maths.double(x) * SCALE + 1"),
], ids=["callee", "constant", "root"])
def test_edits_that_change_a_result_change_the_version(tmp_path, name, old, new):
    assert _version(tmp_path, _edit(name, old, new)) != _version(tmp_path, BASE)


def test_a_function_moved_to_another_module_keeps_the_version(tmp_path):
    moved = {
        "maths.py": BASE["maths.py"].replace('''def double(x):
            """Twice x."""
            return 2 * x  # the factor''', "").replace("SCALE = 3", "from PKG.more import double\n        SCALE = 3"),
        "more.py": '''
            def double(x):
                return 2 * x
            ''',
        "stage.py": BASE["stage.py"],
    }
    assert _version(tmp_path, moved) == _version(tmp_path, BASE)


def test_presentation_is_not_in_the_closure(tmp_path):
    assert _version(tmp_path, BASE, root="describe") != _version(tmp_path, BASE)


def test_roots_must_be_functions():
    with pytest.raises(ParameterError, match="function or class"):
        codeversion.code_version("langlab.training")
    with pytest.raises(ParameterError, match="at least one"):
        codeversion.code_version()


def test_docstrings_and_comments_are_not_in_the_normalized_source():
    text = codeversion.normalized_source(codeversion.code_version)
    assert "Examples" not in text and "#" not in text and "def code_version" in text


# --- the real package: a docstring edit everywhere keeps every stage's key; a compute edit
# --- changes exactly the stages it reaches --------------------------------------------------
STAGE_VERSIONS = '''
import json
from langlab import autoencoder, codeversion, corpus, features, lstm_probes, pretraining, synth, training
roots = {"synth": synth.ROOTS, "corpus": corpus.ROOTS, "features": features.ROOTS, "lstm": training.SPEC.roots,
         "autoencoder": autoencoder.SPEC.roots, "lstm_probes": lstm_probes.SPEC.roots,
         "ae_probes": autoencoder.PROBE_SPEC.roots,
         **{f"pretrain-{c}": pretraining.roots(c) for c in pretraining.names() if pretraining.roots(c)}}
print(json.dumps({stage: codeversion.code_version(*fns) for stage, fns in roots.items()}))
'''


def _package_versions(package_parent) -> dict[str, str]:
    import json
    import os
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(package_parent), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", STAGE_VERSIONS], env=env, capture_output=True, text=True,
                          cwd=package_parent, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _copy_package(tmp_path, name: str):
    import shutil
    from pathlib import Path

    import langlab
    parent = tmp_path / name
    shutil.copytree(Path(langlab.__file__).parent, parent / "langlab",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return parent


def _edit_docstrings(file) -> None:
    """Prefix every docstring of ``file`` with 'Edited. ' and add a comment line at the end."""
    import ast

    lines = file.read_text().splitlines(keepends=True)
    for node in ast.walk(ast.parse("".join(lines))):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            value = body[0].value
            line = lines[value.lineno - 1]
            col = value.col_offset
            while line[col] in "rbuRBU":
                col += 1
            quotes = 3 if line[col:col + 3] in ('"""', "\'\'\'") else 1
            col += quotes
            lines[value.lineno - 1] = line[:col] + "Edited. " + line[col:]
    file.write_text("".join(lines) + "# a comment that changes nothing\n")


@pytest.mark.slow
def test_package_docstring_edits_keep_every_stage_key_and_compute_edits_change_theirs(tmp_path):
    from pathlib import Path

    original = _package_versions(_copy_package(tmp_path, "original"))
    assert {"synth", "corpus", "features", "lstm", "autoencoder", "lstm_probes", "ae_probes"} <= set(original)

    edited = _copy_package(tmp_path, "docstrings")
    for file in sorted(Path(edited / "langlab").glob("*.py")):
        _edit_docstrings(file)
    assert _package_versions(edited) == original

    changed = _copy_package(tmp_path, "compute")
    training_py = changed / "langlab" / "training.py"
    text = training_py.read_text()
    assert text.count("def train_lstm(") == 1
    training_py.write_text(text.replace("def train_lstm(", "def _unused():\n    return 0\n\n\ndef train_lstm(", 1)
                           .replace("    check_int(window, \"window\", minimum=1)", "    check_int(window, \"window\", minimum=2)", 1))
    after = _package_versions(changed)
    moved = {stage for stage in original if after[stage] != original[stage]}
    # the LSTM probes read trained LSTMs: their keys follow through the LSTM entries' keys
    assert moved == {"lstm"}
