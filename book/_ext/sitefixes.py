"""Small fixes to the Jupyter Book 1 stack's HTML: a clean browser console (checked by
``tests/test_site.py``) and numbers that name their chapter. Loaded through
``sphinx: local_extensions`` in ``_config.yml``.

1. Sphinx 7.4 adds every inline ``<script>`` twice (the registry copy has filename ``''``, the
   first copy ``None``, so they do not compare equal; fixed upstream in sphinx-doc/sphinx#13402,
   Sphinx 8.2, which Jupyter Book 1 cannot use). sphinx-thebe's inline script declares
   ``const THEBE_JS_URL``, so its second copy is a ``SyntaxError`` on every page. We drop
   the duplicates of each page's script list.
2. pydata-sphinx-theme writes ``data-mode=""`` when no ``default_mode`` is configured and then
   logs ``Got invalid theme mode`` on a reader's first visit. We set the template variable
   ``default_mode`` to ``auto`` (the behaviour it falls back to anyway) unless
   ``html_context`` chose one.
3. Without numbered chapters Sphinx numbers exercises and figures through the whole book
   ("Exercise 16" in Chapter 6). We number them per page instead, prefixed by the chapter's
   number (``06_discussion``: "Exercise 6.1", "Fig. 6.1"), by 0 on the introduction (the root
   page: "Exercise 0.1") and by the appendix's letter on the appendices, lettered A, B, ... in
   table-of-contents order ("Exercise A.1"; their titles say "Appendix A: ..."), so no two
   items of the book share a number. Cross-references use the same numbers.
4. myst-nb's execution-statistics table (``{nb-exec-table}``) marks each page with an emoji,
   which shows as an empty box where no emoji font is installed (Debian's Chromium in CI); we
   write "ok" / "failed" instead.
5. Tables made with pandas' ``Styler`` carry no class the theme styles: ``static/langlab.css``
   gives their cells some room.
6. The single-page build (``make pdf``): Sphinx looks up node visitors by builder name first and
   falls back to the ``html`` ones only when no extension registered any for ``singlehtml``.
   One does, so myst-nb's hidden-cell node (registered for ``html`` only) has no visitor there
   and the build fails; the ``singlehtml`` builder gets every ``html`` visitor it lacks.
"""
from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"

#: myst-nb's status marks in the execution-statistics table, as words.
STATUS_WORDS = {"\u2705": "ok", "\u274c": "failed"}


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        attributes = tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items()))
        key = (getattr(script, "filename", script) or "", getattr(script, "priority", 0), attributes)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # the builder restores its own list after each page


def _theme_default_mode(app, config):
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")
    config.html_context = context


def _in_toc_order(env) -> list[str]:
    """Every page below the root page, in table-of-contents order."""
    order: list[str] = []

    def walk(docname):
        for child in env.toctree_includes.get(docname, []):
            if child not in order:
                order.append(child)
                walk(child)

    walk(env.config.root_doc)
    return order


def page_prefixes(env) -> dict[str, int | str]:
    """The number or letter that numbers a page's items: ``03_lstm`` 3, the root page 0,
    appendices (pages named ``appendix_*``) A, B, ... in table-of-contents order."""
    prefixes: dict[str, int | str] = {env.config.root_doc: 0}
    appendices = [d for d in _in_toc_order(env) if d.rsplit("/", 1)[-1].startswith("appendix")]
    prefixes.update({d: chr(ord("A") + i) for i, d in enumerate(appendices)})
    for docname in env.found_docs:
        if chapter := re.match(r"(\d+)_", docname.rsplit("/", 1)[-1]):
            prefixes[docname] = int(chapter.group(1))
    return prefixes


def _number_by_chapter(app, env):
    """Renumber every enumerable item (exercise, figure, table, ...) per page, after Sphinx
    assigned book-wide numbers (``env.toc_fignumbers``), keeping the document order."""
    prefixes = page_prefixes(env)
    for docname, prefix in prefixes.items():
        title = env.titles[docname].astext() if docname in env.titles else ""
        named = re.match(r"Appendix ([A-Z])\b", title)
        if isinstance(prefix, str) and (not named or named.group(1) != prefix):
            logger.warning(f"{docname}: the title {title!r} should start with 'Appendix {prefix}:' "
                           "(its letter in table-of-contents order numbers its exercises)",
                           location=docname)
    for docname, by_type in env.toc_fignumbers.items():
        prefix = prefixes.get(docname)
        for numbers in by_type.values():
            for k, node_id in enumerate(sorted(numbers, key=numbers.__getitem__), start=1):
                numbers[node_id] = (prefix, k) if prefix is not None else (k,)
    return []


def _status_words(app, doctree, docname):
    for table in doctree.findall(nodes.table):
        for text in list(table.findall(nodes.Text)):
            if text.astext().strip() in STATUS_WORDS:
                text.parent.replace(text, nodes.Text(STATUS_WORDS[text.astext().strip()]))


def _add_static(app, config):
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def _singlehtml_visitors(app):
    handlers = app.registry.translation_handlers
    if app.builder.name == "singlehtml" and "singlehtml" in handlers:
        for node, visitors in handlers.get("html", {}).items():
            handlers["singlehtml"].setdefault(node, visitors)


def setup(app):
    app.connect("config-inited", _theme_default_mode)
    app.connect("config-inited", _add_static)
    app.add_css_file("langlab.css")
    app.connect("html-page-context", _drop_duplicate_scripts)
    # After Sphinx's own figure numbering (a handler of the same event, priority 500).
    app.connect("env-get-updated", _number_by_chapter, priority=900)
    app.connect("doctree-resolved", _status_words)
    app.connect("builder-inited", _singlehtml_visitors)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
