"""The PDF of the whole book (``make pdf``), read back with poppler-utils.

Every chapter and appendix title is in it, no formula is left as TeX (``$...$``, ``\\(``) and no
``{glue`` role unrendered; math is typeset in MathJax's fonts, the Japanese examples in a CJK
font, the exercises carry chapter numbers, the bibliography is there, figures are embedded and
the page count is plausible for the book (``<pdf>.json``, written by ``book/_ext/printbook.py``,
says which fonts Chromium drew the Japanese with). Skips without ``_build/pdf/langlab.pdf`` (or
``$LANGLAB_PDF``) or pdftotext; with ``LANGLAB_REQUIRE_BROWSER=1`` (``.ci/run``) fails instead.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
REQUIRE = os.environ.get("LANGLAB_REQUIRE_BROWSER") == "1"
pytestmark = pytest.mark.browser  # runs with the site check, after make pdf

#: Pages per book page (chapter or appendix) the PDF must have at least, and at most in all.
MIN_PAGES_PER_CHAPTER, MAX_PAGES = 2, 1500


def unavailable(reason: str):
    if REQUIRE:
        pytest.fail(f"{reason} (LANGLAB_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


def poppler(tool: str, *args: str) -> str:
    if shutil.which(tool) is None:
        unavailable(f"{tool} not found (apt-get install poppler-utils)")
    return subprocess.run([tool, *args], capture_output=True, text=True, check=True,
                          timeout=300).stdout


def book_pages() -> list[str]:
    """The files of ``_toc.yml`` in order, root first."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]


def title(page: str) -> str:
    source = (ROOT / "book" / f"{page}.md").read_text()
    return re.search(r"^# (.+)$", source, flags=re.M).group(1).strip()


def squash(text: str) -> str:
    """Text with line breaks, hyphenation at line ends and repeated spaces undone."""
    return re.sub(r"\s+", " ", re.sub(r"-\n(?=[a-z])", "", text)).replace("\u2019", "'")


@pytest.fixture(scope="module")
def pdf() -> Path:
    path = Path(os.environ.get("LANGLAB_PDF") or ROOT / "_build" / "pdf" / "langlab.pdf")
    if not path.is_file():
        unavailable(f"no {path}: run make pdf first")
    return path


@pytest.fixture(scope="module")
def text(pdf) -> str:
    return poppler("pdftotext", "-enc", "UTF-8", str(pdf), "-")


def test_every_chapter_and_appendix_title_is_there(text):
    flat = squash(text)
    missing = [title(page) for page in book_pages() if title(page) not in flat]
    assert not missing, f"titles missing from the PDF: {missing}"


def test_page_count_is_plausible(pdf):
    pages = int(re.search(r"^Pages:\s+(\d+)", poppler("pdfinfo", str(pdf)), re.M).group(1))
    assert MIN_PAGES_PER_CHAPTER * len(book_pages()) <= pages <= MAX_PAGES, pages


def test_no_tex_or_glue_left(text):
    flat = squash(text)
    tex = re.findall(r"\$[^$\s][^$]{0,60}\$|\\\(.{0,40}|\\\[.{0,40}|\\begin\{", flat)
    glue = re.findall(r".{0,40}(?:\{glue|\[glue\]).{0,40}", flat)
    assert not tex, f"formulas left as TeX: {tex[:5]}"
    assert not glue, f"glue roles left unrendered: {glue[:5]}"


def test_math_and_japanese_are_typeset(pdf, text):
    """printbook.py refuses to print untypeset math or Japanese without a CJK font; its report
    beside the PDF says what it found."""
    report = json.loads(pdf.with_suffix(".json").read_text())
    assert report["formulas"] > 20, report
    assert report["japanese"] and any(re.search(r"CJK|JP", f) for f in report["japanese_fonts"]), report
    assert re.search(r"[\u3040-\u30ff]", text), "no kana in the PDF's text"
    assert report["chapters"] == len(book_pages()) - 1, report  # every page after the root


def test_exercises_are_numbered_by_chapter(text):
    flat = squash(text)
    for page in book_pages():
        chapter = re.match(r"(\d+)_", page)
        if chapter and "{exercise}" in (ROOT / "book" / f"{page}.md").read_text():
            assert f"Exercise {int(chapter.group(1))}.1" in flat, f"no Exercise {int(chapter.group(1))}.1"


def test_bibliography_and_figures_are_there(pdf, text):
    flat = squash(text)
    assert "Ardila" in flat and "Common Voice" in flat, "the bibliography is missing"
    images = poppler("pdfimages", "-list", str(pdf)).splitlines()[2:]
    assert len(images) >= 10, f"only {len(images)} images embedded"
