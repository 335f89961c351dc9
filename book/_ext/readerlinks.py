"""What readers take away from the site, and links that lead somewhere. Loaded through
``sphinx: local_extensions`` in ``_config.yml``; checked by ``tests/test_site.py``.

1. **Repository buttons only for a real repository.** The environment variable
   ``LANGLAB_REPOSITORY`` (read when the book is built, e.g.
   ``LANGLAB_REPOSITORY=https://github.com/OWNER/langlab make book``) gives the repository URL.
   When it is set, every page gets the theme's repository, "open issue" and "edit" buttons and,
   on chapters, the launch buttons configured under ``launch_buttons`` in ``_config.yml``
   (Binder). When it is unset (the default) the site has none of them, and no link to a
   repository that may not exist.
2. **The executed notebook on every chapter.** sphinx-book-theme offers a page's ``.ipynb`` in
   its download menu only when a launch button is configured (its launch-button code sets
   ``ipynb_source``). We set ``ipynb_source`` for every page that is a notebook and write the
   executed notebook next to the page sources: myst-nb's copy in ``_build/jupyter_execute``
   with the outputs of its execution-cache entry (myst-nb's copy lacks them when they came from
   the cache), without the jupytext pairing metadata, so it opens in Jupyter as a plain
   notebook.
3. **The book as a PDF.** ``make pdf`` prints the book and copies the PDF into the site as
   ``langlab.pdf`` (:data:`PDF_NAME`); a build that finds it there adds "Whole book (.pdf)" to
   every page's download menu. A site without the PDF has no such entry, so the link cannot
   lead nowhere. (The setting is an ``html`` config value: its change rewrites every page.)
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

#: Environment variable that gives the repository URL.
REPOSITORY_VARIABLE = "LANGLAB_REPOSITORY"
#: ``https://host/owner/name``, without a trailing ``.git`` or slash.
REPOSITORY_PATTERN = re.compile(r"https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d+)?/[\w.-]+/[\w.-]+")
#: Theme options of the buttons that need the repository.
REPOSITORY_BUTTONS = ("use_repository_button", "use_issues_button", "use_edit_page_button")
#: Launch-button settings that make the theme draw a launch button.
LAUNCH_KEYS = ("binderhub_url", "jupyterhub_url", "colab_url", "deepnote_url", "jupyterlite_url")
#: File name of the book's PDF in the site (``make pdf`` copies it there).
PDF_NAME = "langlab.pdf"
#: File in the doctree folder (not published): the repository setting of the last page build.
STAMP = "langlab-repository"
#: Builders that write one page per document (the executed notebooks are offered there).
PAGE_BUILDERS = ("html", "dirhtml")


def repository_url() -> str:
    """The repository URL from ``$LANGLAB_REPOSITORY``, or "" when it is unset or empty."""
    url = os.environ.get(REPOSITORY_VARIABLE, "").strip().rstrip("/").removesuffix(".git")
    if url and not REPOSITORY_PATTERN.fullmatch(url):
        raise ExtensionError(f"{REPOSITORY_VARIABLE}={url!r} is not a repository URL: expected "
                             "https://HOST/OWNER/NAME, e.g. https://github.com/OWNER/langlab")
    return url


def _configure_repository(app, config) -> None:
    url = repository_url()
    options = dict(config.html_theme_options or {})
    launch = dict(options.get("launch_buttons") or {})
    options["repository_url"] = url
    for button in REPOSITORY_BUTTONS:
        options[button] = bool(url)
    if not url:
        launch.update({key: "" for key in LAUNCH_KEYS}, thebe=False)
    options["launch_buttons"] = launch
    config.html_theme_options = options


def _forget_stale_module_pages(app) -> None:
    """sphinx.ext.viewcode rewrites a module's source page only when the module changed: when
    the repository setting changed since the last build, drop those pages so that they are
    written again with the buttons of this build."""
    stamp = Path(app.doctreedir) / STAMP
    if app.builder.name in PAGE_BUILDERS and (
            not stamp.is_file() or stamp.read_text() != repository_url()):
        shutil.rmtree(Path(app.outdir) / "_modules", ignore_errors=True)


def _find_pdf(app, config) -> None:
    config.langlab_pdf = PDF_NAME if (Path(app.outdir) / PDF_NAME).is_file() else ""


def _is_notebook(app, pagename: str) -> bool:
    return "kernelspec" in app.env.metadata.get(pagename, {})


def _executed_notebook(app, pagename: str) -> Path:
    return Path(app.env.mystnb_config.output_folder) / f"{pagename}.ipynb"


def _offer_notebook(app, pagename, templatename, context, doctree) -> None:
    """Set ``ipynb_source`` before the theme builds the download menu (priority 501)."""
    if (app.builder.name in PAGE_BUILDERS and doctree is not None and _is_notebook(app, pagename)
            and _executed_notebook(app, pagename).is_file()):
        context["ipynb_source"] = f"{pagename}.ipynb"


def _offer_pdf(app, pagename, templatename, context, doctree) -> None:
    """Add the book's PDF to the download menu the theme built (priority 501)."""
    if not app.config.langlab_pdf:
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            group["buttons"].append({
                "type": "link", "url": context["pathto"](app.config.langlab_pdf, 1),
                "text": "Whole book (.pdf)", "tooltip": "Download the whole book as a PDF",
                "icon": "fas fa-book", "label": "download-book-pdf-button"})


def _with_outputs(app, notebook):
    """``notebook`` with the outputs of its execution-cache entry. myst-nb writes the notebook
    it parsed to ``jupyter_execute``: with outputs when it executed it in this build, without
    when it took the outputs from the cache (it merges them into a copy)."""
    config = app.env.mystnb_config
    if config.execution_mode != "cache":
        return notebook
    from jupyter_cache import get_cache

    try:
        return get_cache(config.execution_cache_path).merge_match_into_notebook(notebook)[1]
    except KeyError:  # not in the cache (e.g. its execution failed): as myst-nb wrote it
        return notebook


def _copy_notebooks(app, exception) -> None:
    """Write every executed chapter notebook to ``_sources`` (after the theme's own copies)."""
    if exception is not None or app.builder.name not in PAGE_BUILDERS:
        return
    (Path(app.doctreedir) / STAMP).write_text(repository_url())
    import nbformat

    for pagename in sorted(app.env.found_docs):
        if not _is_notebook(app, pagename):
            continue
        source = _executed_notebook(app, pagename)
        if not source.is_file():
            LOGGER.warning(f"no executed notebook for {pagename} at {source}: its page offers "
                           "no .ipynb download", type="langlab", subtype="notebook")
            continue
        notebook = _with_outputs(app, nbformat.read(source, as_version=4))
        notebook.metadata.pop("jupytext", None)
        target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target)


def setup(app):
    app.add_config_value("langlab_pdf", "", "html")
    app.connect("config-inited", _configure_repository)
    app.connect("config-inited", _find_pdf)
    app.connect("builder-inited", _forget_stale_module_pages)
    app.connect("html-page-context", _offer_notebook, priority=500)
    app.connect("html-page-context", _offer_pdf, priority=502)
    app.connect("build-finished", _copy_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
