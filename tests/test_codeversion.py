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
