"""book/_ext/readerlinks.py on a one-page notebook book built by Sphinx with the book's theme:
repository and launch buttons only with ``$LANGLAB_REPOSITORY``, the executed ``.ipynb``
download without them. (The whole site is checked in a browser by test_site.py.)"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
ONE_PAGE = """---
jupytext:
  text_representation:
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
# One page

```{code-cell} python
print(1 + 1)
```
"""
CONF = f"""import sys
sys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})
extensions = ['myst_nb', 'readerlinks']
html_theme = 'sphinx_book_theme'
nb_execution_mode = 'force'
html_theme_options = {{'path_to_docs': 'book', 'repository_branch': 'main',
                      'launch_buttons': {{'binderhub_url': 'https://mybinder.org'}}}}
"""


def build(folder: Path, *, repository: str | None) -> subprocess.CompletedProcess:
    """Build the one-page book in ``folder`` (``src`` -> ``_build/html``)."""
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "index.md").write_text(ONE_PAGE)
    (folder / "src" / "conf.py").write_text(CONF)
    env = {k: v for k, v in os.environ.items() if k != "LANGLAB_REPOSITORY"}
    if repository is not None:
        env["LANGLAB_REPOSITORY"] = repository
    return subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", "html", str(folder / "src"),
                           str(folder / "_build" / "html")], env=env, capture_output=True,
                          text=True, timeout=600)


def page(folder: Path, *, repository: str | None) -> str:
    done = build(folder, repository=repository)
    assert done.returncode == 0, done.stderr[-3000:]
    return (folder / "_build" / "html" / "index.html").read_text()


@pytest.mark.slow
def test_default_build_has_no_repository_buttons_but_the_executed_notebook(tmp_path):
    html = page(tmp_path, repository=None)
    assert "btn-source-repository-button" not in html and "mybinder" not in html
    assert "github.com" not in html
    assert 'href="_sources/index.ipynb"' in html and "btn-download-notebook-button" in html
    notebook = nbformat.read(tmp_path / "_build" / "html" / "_sources" / "index.ipynb", as_version=4)
    nbformat.validate(notebook)
    assert [cell.outputs[0]["text"] for cell in notebook.cells if cell.cell_type == "code"] == ["2\n"]
    assert "jupytext" not in notebook.metadata  # opens in Jupyter as a plain notebook


@pytest.mark.slow
def test_repository_setting_gives_every_button(tmp_path):
    url = "https://github.com/someone/langlab-book"
    html = page(tmp_path, repository=url + "/")
    for button in ("btn-source-repository-button", "btn-source-issues-button",
                   "btn-source-edit-button"):
        assert button in html, button
    assert f'href="{url}"' in html and "https://mybinder.org/v2/gh/someone/langlab-book/main" in html
    assert f"{url}/edit/main/book/index.md" in html


@pytest.mark.slow
def test_a_malformed_repository_is_refused_by_name(tmp_path):
    done = build(tmp_path, repository="github.com/someone/book")
    assert done.returncode != 0
    assert "LANGLAB_REPOSITORY='github.com/someone/book' is not a repository URL" in done.stderr


@pytest.mark.slow
def test_the_pdf_is_offered_only_when_the_site_has_it(tmp_path):
    (tmp_path / "_build" / "html").mkdir(parents=True)
    (tmp_path / "_build" / "html" / "langlab.pdf").write_bytes(b"%PDF-1.4\n")
    html = page(tmp_path, repository=None)
    assert 'href="langlab.pdf"' in html and "Whole book (.pdf)" in html
    assert "Whole book" not in page(tmp_path / "without", repository=None)
