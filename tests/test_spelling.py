"""The spell check of the book (issue 19): codespell's list of common misspellings over every
page, the package, the tests and the benchmarks. Words that are right here although codespell
knows them as misspellings are listed in ``book/spelling-words.txt``, one a line, each for a
reason: ``fourties`` is Common Voice's own spelling of an age bucket in ``validated.tsv`` (the
reader must match it), ``meu`` is Portuguese ("my") in a test lexicon.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from codespell_lib import main as codespell

ROOT = Path(__file__).resolve().parents[1]
WORDS = ROOT / "book" / "spelling-words.txt"
#: What is checked: the pages and their extensions, the package, tests, benchmarks, README, CI.
CHECKED = ["book", "langlab", "tests", "benchmarks", "README.md", "Makefile", ".ci"]
#: Not prose: the bibliography's titles are quoted as published; binary or generated files.
SKIP = "*.bib,*.png,*.mp3,*.wav,*.npy,*.npz,*.ipynb,*.json,*.lock,*.pyc,lexicon"


def spelling_errors(paths, capsys) -> tuple[int, str]:
    """codespell's exit status and its report for ``paths``, with the book's word list."""
    status = codespell("--ignore-words", str(WORDS), "--skip", SKIP, *map(str, paths))
    return status, capsys.readouterr().out


def test_book_and_package_are_spelled_right(capsys):
    status, report = spelling_errors([ROOT / p for p in CHECKED], capsys)
    assert status == 0, f"misspellings (fix them, or list a word that is right in {WORDS}):\n{report}"


def test_the_check_finds_a_misspelling(tmp_path, capsys):
    typo = "rec" + "ieve"  # spelled apart so that this file passes its own check
    page = tmp_path / "page.md"
    page.write_text(f"The networks {typo} the spectrograms.\n")
    status, report = spelling_errors([page], capsys)
    assert status != 0 and typo in report


@pytest.mark.parametrize("word", [w for w in WORDS.read_text().split() if w])
def test_listed_words_are_needed(word, tmp_path, capsys):
    """Every listed word is one codespell would flag, so the list does not hide typos by habit."""
    probe = tmp_path / "probe.md"
    probe.write_text(f"{word}\n")
    status = codespell("--skip", SKIP, str(probe))
    capsys.readouterr()
    assert status != 0, f"{word!r} is not a misspelling codespell knows; drop it from {WORDS}"
