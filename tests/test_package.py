"""The package imports cheaply, has a version, and the console script answers."""
import subprocess
import sys

import pytest

import langlab
from langlab.errors import DataError, ParameterError, check


def test_version_is_pep440():
    major, minor, patch = langlab.__version__.split(".")
    assert (int(major), int(minor), int(patch)) >= (0, 1, 0)


def test_import_does_not_load_tensorflow():
    code = "import sys, langlab, langlab.store, langlab.presets; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_console_script_version():
    out = subprocess.run([sys.executable, "-m", "langlab.cli", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"langlab {langlab.__version__}"


def test_check_raises_named_error():
    check(True, "fine")
    with pytest.raises(ParameterError, match="hop_length"):
        check(False, "hop_length must be > 0, got 0")
    with pytest.raises(DataError, match="validated.tsv"):
        check(False, "validated.tsv missing", DataError)


def test_as_preset_accepts_names_and_presets_and_names_a_wrong_value():
    from langlab.errors import ParameterError
    from langlab.presets import as_preset, get_preset

    book = get_preset("book")
    assert as_preset(book) is book
    assert as_preset("smoke") == get_preset("smoke")
    with pytest.raises(ParameterError, match="preset must be a preset name or a Preset, got 3"):
        as_preset(3)
    with pytest.raises(ParameterError, match="unknown preset 'huge'"):
        as_preset("huge")


def test_claim_stops_a_chapter_whose_text_no_longer_matches():
    from langlab.buildcheck import claim

    claim(0.62 > 0.5, "above chance")  # holds: nothing happens
    with pytest.raises(AssertionError, match="no longer matches its numbers: above chance"):
        claim(0.48 > 0.5, "above chance")


@pytest.mark.parametrize("where", ["package docstring", "README", "API appendix"])
def test_every_module_is_listed(where, root):
    """The package docstring, the README's module table and the API reference name every module."""
    modules = sorted(p.stem for p in (root / "langlab").glob("*.py") if p.stem != "__init__")
    text = {"package docstring": langlab.__doc__,
            "README": (root / "README.md").read_text(),
            "API appendix": (root / "book" / "appendix_api.md").read_text()}[where]
    missing = [m for m in modules if f"langlab.{m}" not in text]
    assert not missing, f"{where} does not name {missing}"
