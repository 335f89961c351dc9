"""Every chapter in _toc.yml executes top to bottom in a fresh kernel (the book as a test).

Chapters use the project's own store (.langlab), so results computed here are reused by the
book build. Each chapter's execution time is written to _build/chapter-times.json.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def toc_files() -> list[str]:
    """Chapter files in _toc.yml order (the root first)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def chapter_path(name: str) -> Path:
    for suffix in ("", ".md", ".ipynb"):
        if (BOOK / f"{name}{suffix}").is_file():
            return BOOK / f"{name}{suffix}"
    raise FileNotFoundError(f"_toc.yml names {name!r}, but book/{name}.md does not exist")


def test_toc_entries_exist():
    for name in toc_files():
        chapter_path(name)


def test_code_chapters_have_jupytext_header():
    for name in toc_files():
        text = chapter_path(name).read_text()
        if "```{code-cell}" in text:
            assert text.startswith("---\njupytext:"), f"{name}: code cells but no jupytext header"


@pytest.mark.slow
@pytest.mark.parametrize("name", toc_files())
def test_chapter_executes(name):
    path = chapter_path(name)
    notebook = jupytext.read(path)
    if not any(cell.cell_type == "code" for cell in notebook.cells):
        pytest.skip(f"{name} has no code cells")
    client = NotebookClient(notebook, timeout=1800, kernel_name="python3",
                            resources={"metadata": {"path": str(BOOK)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    errors = [out for cell in notebook.cells if cell.cell_type == "code"
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors, f"{name}: {errors[0]['ename']}: {errors[0]['evalue']}"
    times_file = ROOT / "_build" / "chapter-times.json"
    times_file.parent.mkdir(exist_ok=True)
    times = json.loads(times_file.read_text()) if times_file.exists() else {}
    times[name] = round(seconds, 1)
    times_file.write_text(json.dumps(times, indent=2))
    print(f"{name}: executed in {seconds:.1f} s")
    nbformat.validate(notebook)
