"""The site as a reader sees it: every page of the built book in headless Chromium.

The built HTML (``_build/html``, or ``$LANGLAB_SITE_DIR``) is served on a free localhost port;
Playwright drives Debian's ``chromium`` (``executable_path``: no browser is downloaded). Every
request to another host is refused and counted: the book must read offline. The tests fail on

- console errors: uncaught exceptions, ``console.error``, local resources that fail to load;
- network loads from outside the site;
- images that did not load, and content images without alt text or a caption (an alt text that
  is only the file name does not count);
- empty glue: ``{glue:text}`` roles that rendered empty or not at all (counted against the
  page's source), unrendered ``{glue`` / ``[glue]`` text; tracebacks, docutils errors and
  unresolved cross-references;
- formulas that MathJax did not typeset, TeX errors and undefined macros;
- exercises: fewer than two a chapter, labels not ``<page>-ex<N>``, numbers that do not name the
  chapter, solutions missing, unfolded or without executed output;
- links: internal links to missing files or anchors, links to an unset or placeholder host,
  and repository or launch buttons unless ``$LANGLAB_REPOSITORY`` gave the repository
  (``book/_ext/readerlinks.py``);
- executed notebooks: every chapter offers its ``.ipynb``; the test follows the link, validates
  the file with ``nbformat`` and checks that it has outputs.

Screenshots of the Introduction and of one results chapter, and ``site-report.json`` with every
page's findings, go to ``_build/screenshots`` (``$LANGLAB_SCREENSHOT_DIR``). Without a built site
or Chromium the tests skip; with ``LANGLAB_REQUIRE_BROWSER=1`` (``.ci/run``) they fail instead.
"""
from __future__ import annotations

import dataclasses
import functools
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUIRE = os.environ.get("LANGLAB_REQUIRE_BROWSER") == "1"
#: Results chapters, in order of preference, for the second screenshot.
RESULTS_PAGES = ("06_discussion.html", "03_lstm.html", "04_probing.html", "05_autoencoder.html",
                 "02_spectrograms.html", "01_data.html")
#: Folders of the build that hold assets, not pages.
ASSET_DIRS = {"_static", "_sources", "_images", "_downloads", "reports", "_panels_static"}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
#: Hosts that stand for "fill in later", and repositories that are not this book's.
PLACEHOLDER_HOSTS = {"example.com", "example.org", "example.net", "none", "null", "undefined",
                     "localhost", "your-domain.com", "host"}
PLACEHOLDER_URLS = ("https://github.com/langlab/langlab", "https://github.com/OWNER/",
                    "https://github.com/executablebooks/jupyter-book")
#: The theme's repository and launch buttons (``book/_ext/readerlinks.py``).
REPOSITORY_BUTTONS = ("a.btn-source-repository-button, a.btn-source-issues-button, "
                      "a.btn-source-edit-button, a.btn-source-file-button, "
                      ".dropdown-launch-buttons a")
LOAD_TIMEOUT_MS = 60_000


def unavailable(reason: str):
    """Skip, or fail when CI requires the browser check (LANGLAB_REQUIRE_BROWSER=1)."""
    if REQUIRE:
        pytest.fail(f"{reason} (LANGLAB_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


def site_dir() -> Path:
    return Path(os.environ.get("LANGLAB_SITE_DIR") or ROOT / "_build" / "html").resolve()


def find_chromium() -> str | None:
    for candidate in (os.environ.get("LANGLAB_CHROMIUM"), shutil.which("chromium"),
                      shutil.which("chromium-browser"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class SiteServer:
    """``directory`` on http://127.0.0.1:<free port>/, served from a thread."""

    def __init__(self, directory: Path):
        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                         functools.partial(Quiet, directory=str(directory)))
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


#: Runs in the page after its load event; returns the DOM findings.
PAGE_PROBE = r"""
async () => {
  const text = el => (el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 200);
  const root = document.querySelector('article') || document.body;
  const imgs = Array.from(document.images);
  imgs.forEach(img => { if (img.loading === 'lazy') img.loading = 'eager'; });
  await Promise.all(imgs.filter(img => !img.complete).map(img => new Promise(done => {
    img.addEventListener('load', done); img.addEventListener('error', done);
    setTimeout(done, 10000);
  })));
  // Sphinx writes TeX into span.math / div.math; MathJax replaces it by an mjx-container.
  const formulas = Array.from(root.querySelectorAll('span.math, div.math'));
  const startup = window.MathJax && window.MathJax.startup;
  if (formulas.length && startup && startup.promise) {
    await Promise.race([startup.promise, new Promise(done => setTimeout(done, 20000))]);
  }
  const proseGlue = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest('pre, code, script, style, textarea, .highlight')) continue;
    for (const needle of ['{glue', '[glue]'])
      if (node.nodeValue.includes(needle)) proseGlue.push(node.nodeValue.trim().slice(0, 200));
  }
  const described = img => {
    const alt = (img.getAttribute('alt') || '').trim();
    const caption = img.closest('figure') && img.closest('figure').querySelector('figcaption');
    return (caption && text(caption)) || (alt && !/(^|\/)[^\/\s]+\.(png|svg|jpe?g|gif)$/i.test(alt));
  };
  return {
    missingImages: imgs.filter(img => (img.currentSrc || img.src).startsWith(location.origin)
                                      && img.naturalWidth === 0).map(img => img.getAttribute('src')),
    undescribedImages: Array.from(root.querySelectorAll('img')).filter(img => !described(img))
                            .map(img => img.getAttribute('src')),
    pasted: Array.from(document.querySelectorAll('.pasted-text')).map(el => el.textContent),
    proseGlue,
    errorOutputs: Array.from(document.querySelectorAll('.output.traceback, .output.error, '
        + 'div.cell_output .traceback, .system-message, .problematic')).map(text),
    unresolvedRefs: Array.from(document.querySelectorAll('.xref.std-ref, .xref.std-numref, '
        + '.xref.std-doc, .xref.myst, .xref.std-term')).filter(el => !el.closest('a')).map(text),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    repositoryButtons: Array.from(document.querySelectorAll(%REPOSITORY_BUTTONS%)).map(a => a.href),
    notebookDownload: (document.querySelector('a.btn-download-notebook-button') || {}).href || null,
    formulas: formulas.length,
    mathjaxLoaded: Boolean(startup && startup.promise),
    unrenderedMath: formulas.filter(el => !el.querySelector('mjx-container')).map(text),
    // A TeX error renders as mjx-merror; an undefined macro shows its name in red.
    mathErrors: Array.from(root.querySelectorAll('mjx-merror'))
        .map(el => el.getAttribute('data-mjx-error') || 'TeX error')
        .concat(Array.from(root.querySelectorAll('mjx-container mjx-mtext[style*="color: red"]'))
        .map(el => 'undefined macro ' + text(el.closest('mjx-container')
          .querySelector('mjx-assistive-mml mtext[mathcolor="red"]') || el))),
    exercises: Array.from(root.querySelectorAll('div.exercise')).map(el => el.id),
    exerciseNumbers: Array.from(root.querySelectorAll('div.exercise .caption-number')).map(text),
    solutions: Array.from(root.querySelectorAll('div.solution')).map(el => {
      const body = el.querySelector('section') || el.lastElementChild;
      return {title: text(el.querySelector('.admonition-title') || el),
              // sphinx-togglebutton folds by visibility: hidden and zero height
              folded: Boolean(body) && (!body.checkVisibility({visibilityProperty: true})
                                        || body.getBoundingClientRect().height === 0),
              cells: el.querySelectorAll('.cell').length,
              outputs: el.querySelectorAll('.cell_output').length};
    }),
  };
}
""".replace("%REPOSITORY_BUTTONS%", json.dumps(REPOSITORY_BUTTONS))


@dataclasses.dataclass
class PageReport:
    page: str
    console_errors: list[str] = dataclasses.field(default_factory=list)
    external_requests: list[str] = dataclasses.field(default_factory=list)
    missing_images: list[str] = dataclasses.field(default_factory=list)
    undescribed_images: list[str] = dataclasses.field(default_factory=list)
    empty_glue: list[str] = dataclasses.field(default_factory=list)
    error_outputs: list[str] = dataclasses.field(default_factory=list)
    formulas: int = 0
    math_errors: list[str] = dataclasses.field(default_factory=list)
    notebook: bool = False
    notebook_download: str | None = None
    exercises: list[str] = dataclasses.field(default_factory=list)
    exercise_problems: list[str] = dataclasses.field(default_factory=list)
    links: list[str] = dataclasses.field(default_factory=list)
    broken_links: list[str] = dataclasses.field(default_factory=list)
    placeholder_links: list[str] = dataclasses.field(default_factory=list)


class IdCollector(html.parser.HTMLParser):
    """Anchors of a page and its ``<meta http-equiv="refresh">`` target."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.refresh: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.ids.update(attrs[name] for name in ("id", "name") if attrs.get(name))
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "refresh":
            content = attrs.get("content") or ""
            if "url=" in content.lower():
                self.refresh = content[content.lower().index("url=") + 4:].strip()


@functools.lru_cache(maxsize=None)
def parse_html(path: Path) -> IdCollector:
    collector = IdCollector()
    collector.feed(path.read_text(errors="replace"))
    return collector


def check_link(url: str, *, origin: str, site: Path) -> str | None:
    """Why an internal ``url`` (absolute, as the browser resolved it) is broken, or None."""
    if not url.startswith(origin + "/"):
        return None  # external, mailto:, javascript:, data:
    parts = urllib.parse.urlsplit(url)
    target = (site / urllib.parse.unquote(parts.path).lstrip("/")).resolve()
    if target.is_dir():
        target = target / "index.html"
    if site not in target.parents and target != site:
        return f"{url}: points outside the site"
    if not target.is_file():
        return f"{url}: no such file {target.relative_to(site)}"
    fragment = urllib.parse.unquote(parts.fragment)
    if fragment and target.suffix == ".html" and fragment not in parse_html(target).ids:
        return f"{url}: no anchor #{fragment} in {target.relative_to(site)}"
    return None


def placeholder_link(url: str, *, origin: str, repository: str) -> str | None:
    """Why ``url`` leads to an unset or placeholder place, or None."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or url.startswith(origin + "/"):
        return None
    host = (parts.hostname or "").lower()
    if not host:
        return f"{url}: no host"
    if host in PLACEHOLDER_HOSTS or host.endswith((".example", ".invalid", ".test")) or (
            host == "127.0.0.1"):
        return f"{url}: placeholder host {host}"
    if any(url.startswith(p) for p in PLACEHOLDER_URLS) and not (
            repository and url.startswith(repository)):
        return f"{url}: placeholder repository"
    return None


def repository_problems(buttons: list[str], *, repository: str) -> list[str]:
    """Repository and launch buttons: none without a repository, else all pointing to it."""
    if not repository:
        return [f"{href}: repository/launch button, but LANGLAB_REPOSITORY is unset"
                for href in buttons]
    owner_name = repository.split("/", 3)[-1]
    return [f"{href}: does not lead to {repository}" for href in buttons
            if not (href.startswith(repository) or owner_name in urllib.parse.unquote(href))]


@functools.lru_cache(maxsize=1)
def _markdown_parser():
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    config = MdParserConfig(enable_extensions={"colon_fence", "dollarmath", "amsmath", "deflist"})
    return create_md_parser(config, RendererHTML)


#: Directives whose body is not MyST markdown.
LITERAL_DIRECTIVES = {"code-cell", "code", "code-block", "sourcecode", "eval-rst", "math",
                      "raw", "literalinclude", "bibliography", "nb-exec-table"}


def count_glue_text_roles(source: str) -> int:
    """Number of ``{glue:text}`` roles in MyST ``source`` (code and literal blocks excluded)."""
    count = 0
    for token in _markdown_parser().parse(source):
        if token.type == "inline":
            count += sum(1 for child in token.children or []
                         if child.type == "myst_role" and child.meta.get("name") == "glue:text")
        elif token.type in ("fence", "colon_fence") and token.info.startswith("{"):
            if token.info[1:].split("}", 1)[0] not in LITERAL_DIRECTIVES:
                count += count_glue_text_roles(token.content)
    return count


#: Exercises every chapter (every page that is a notebook) must have at least.
MIN_EXERCISES = 2


def exercise_problems(stem: str, exercises: list[str], solutions: list[dict], *,
                      notebook: bool, numbers: list[str] = ()) -> list[str]:
    """Too few exercises (on a chapter), labels not ``<page>-ex<N>``, numbers that do not name
    the chapter (``03_lstm``: "Exercise 3.1"), solutions missing, unfolded or without output."""
    found = []
    chapter = re.match(r"(\d+)_", stem)
    if chapter:
        found += [f"{number!r} does not name chapter {int(chapter.group(1))}" for number in numbers
                  if not re.fullmatch(rf"Exercise {int(chapter.group(1))}\.\d+", number)]
    if notebook and len(exercises) < MIN_EXERCISES:
        found.append(f"{len(exercises)} exercise(s), a chapter needs at least {MIN_EXERCISES}")
    found += [f"exercise label {label!r} is not {stem}-ex<N>" for label in exercises
              if not re.fullmatch(rf"{re.escape(stem)}-ex\d+", label)]
    if len(solutions) < len(exercises):
        found.append(f"{len(exercises)} exercises but {len(solutions)} solutions")
    for solution in solutions:
        if not solution["folded"]:
            found.append(f"{solution['title']!r} is shown unfolded")
        if solution["cells"] and not solution["outputs"]:
            found.append(f"{solution['title']!r}: its code shows no output (not executed?)")
    return found


def inspect_page(page, url: str, *, name: str, origin: str, site: Path, events: dict,
                 repository: str) -> PageReport:
    """Load ``url`` in the Playwright ``page`` and report what is wrong with it."""
    events.update(errors=[], external=[])
    page.goto(url, wait_until="load", timeout=LOAD_TIMEOUT_MS)
    try:
        page.wait_for_load_state("networkidle", timeout=5000)
    except Exception:  # noqa: BLE001 - a page that keeps polling is judged on what it loaded
        pass
    found = page.evaluate(PAGE_PROBE)
    report = PageReport(name, console_errors=events["errors"],
                        external_requests=sorted(set(events["external"])),
                        missing_images=found["missingImages"],
                        undescribed_images=found["undescribedImages"],
                        formulas=found["formulas"], exercises=found["exercises"],
                        notebook_download=found["notebookDownload"],
                        links=sorted(set(found["links"])))
    report.empty_glue = [f"unrendered glue text: {t!r}" for t in found["proseGlue"]]
    if empty := sum(1 for value in found["pasted"] if not value.strip()):
        report.empty_glue.append(f"{empty} glued value(s) rendered empty")
    source = site / "_sources" / Path(name).with_suffix(".md")
    if source.is_file():
        expected = count_glue_text_roles(source.read_text())
        if len(found["pasted"]) < expected:
            report.empty_glue.append(f"{expected} {{glue:text}} roles in the source, only "
                                     f"{len(found['pasted'])} rendered (a missing glue key "
                                     "renders nothing)")
    report.error_outputs = ([f"error output: {t!r}" for t in found["errorOutputs"]]
                            + [f"unresolved reference: {t!r}" for t in found["unresolvedRefs"]])
    report.notebook = source.is_file() and "format_name: myst" in source.read_text()
    report.exercise_problems = exercise_problems(Path(name).stem, found["exercises"],
                                                 found["solutions"], notebook=report.notebook,
                                                 numbers=found["exerciseNumbers"])
    if found["formulas"] and not found["mathjaxLoaded"]:
        report.math_errors.append(f"{found['formulas']} formula(s), but MathJax did not load")
    elif found["unrenderedMath"]:
        report.math_errors.append(f"{len(found['unrenderedMath'])} of {found['formulas']} "
                                  f"formula(s) not rendered, e.g. {found['unrenderedMath'][0]!r}")
    report.math_errors += [f"TeX error: {e!r}" for e in found["mathErrors"]]
    report.broken_links = [why for link in report.links
                           if (why := check_link(link, origin=origin, site=site))]
    report.placeholder_links = [why for link in report.links if (why := placeholder_link(
        link, origin=origin, repository=repository))]
    report.placeholder_links += repository_problems(found["repositoryButtons"],
                                                    repository=repository)
    return report


def site_pages(site: Path) -> tuple[list[str], dict[str, str]]:
    """(pages to load, {redirect page: its target}) of a built site, relative to it."""
    pages, redirects = [], {}
    for path in sorted(site.rglob("*.html")):
        relative = path.relative_to(site)
        if relative.parts[0] in ASSET_DIRS:
            continue
        if (refresh := parse_html(path).refresh) is not None:
            redirects[relative.as_posix()] = refresh
        else:
            pages.append(relative.as_posix())
    return pages, redirects


def check_site(site: Path, executable: str, *, screenshots: dict[str, Path] | None = None,
               repository: str = "") -> tuple[dict[str, PageReport], dict[str, bytes]]:
    """Load every page of ``site`` in Chromium: ({page: findings}, {page: its notebook download})."""
    from playwright.sync_api import sync_playwright

    pages, redirects = site_pages(site)
    server = SiteServer(site)
    origin = server.origin
    reports: dict[str, PageReport] = {}
    notebooks: dict[str, bytes] = {}
    events: dict[str, list] = {"errors": [], "external": []}

    def route(route):
        url = route.request.url
        if url.startswith((origin + "/", "data:", "blob:")):
            return route.continue_()
        events["external"].append(url)
        return route.abort()

    def response(res):
        if res.status >= 400 and res.url.startswith(origin) and not res.url.endswith("/favicon.ico"):
            events["errors"].append(f"HTTP {res.status}: {res.url}")

    try:
        for name, target in redirects.items():
            link = urllib.parse.urljoin(f"{origin}/{name}", target)
            reports[name] = PageReport(name, links=[link], broken_links=[
                why for why in [check_link(link, origin=origin, site=site)] if why])
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.route("**/*", route)
                page.on("pageerror", lambda exc: events["errors"].append(
                    f"uncaught exception: {exc}".splitlines()[0][:300]))
                page.on("console", lambda msg: events["errors"].append(
                    f"console.{msg.type}: {msg.text}"[:300]) if msg.type in ("error", "assert") else None)
                page.on("response", response)
                page.on("requestfailed", lambda req: events["errors"].append(
                    f"{req.failure}: {req.url}") if req.url.startswith(origin) else None)
                for name in pages:
                    url = f"{origin}/{urllib.parse.quote(name)}"
                    reports[name] = inspect_page(page, url, name=name, origin=origin, site=site,
                                                 events=events, repository=repository)
                    if reports[name].notebook_download:
                        fetched = page.request.get(reports[name].notebook_download)
                        if fetched.ok:
                            notebooks[name] = fetched.body()
                    if screenshots and name in screenshots:
                        height = min(8000, page.evaluate("document.documentElement.scrollHeight"))
                        screenshots[name].parent.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(screenshots[name]), full_page=True,
                                        clip={"x": 0, "y": 0, "width": 1280, "height": height})
            finally:
                browser.close()
    finally:
        server.close()
    return reports, notebooks


def notebook_problems(name: str, data: bytes | None) -> list[str]:
    """What is wrong with a chapter's downloaded notebook: missing, invalid, or no outputs."""
    import nbformat

    if data is None:
        return [f"{name}: no .ipynb download on the page, or the link is broken"]
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # noqa: BLE001 - any reason the file does not open is a finding
        return [f"{name}: the downloaded notebook is not valid: {error}".splitlines()[0]]
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    with_output = [cell for cell in code if cell.get("outputs")]
    if not code or not with_output:
        return [f"{name}: the downloaded notebook has {len(code)} code cells, "
                f"{len(with_output)} with outputs (not the executed notebook?)"]
    return []


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


# --------------------------------------------------------------------------------------------
# Fixtures and tests
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chromium() -> str:
    pytest.importorskip("playwright", reason="Playwright for Python is not installed")
    executable = find_chromium()
    if executable is None:
        unavailable("headless Chromium not found (apt-get install chromium)")
    return executable


@pytest.fixture(scope="module")
def site() -> Path:
    folder = site_dir()
    if not (folder / "index.html").is_file():
        unavailable(f"no built book in {folder}: run make book first")
    return folder


@pytest.fixture(scope="module")
def screenshot_plan(site) -> dict[str, Path]:
    folder = Path(os.environ.get("LANGLAB_SCREENSHOT_DIR") or site.parent / "screenshots")
    plan = {"intro.html": folder / "intro.png"}
    if results := next((p for p in RESULTS_PAGES if (site / p).is_file()), None):
        plan[results] = folder / Path(results).with_suffix(".png").name
    return plan


@pytest.fixture(scope="module")
def checked(site, chromium, screenshot_plan):
    started = time.monotonic()
    reports, notebooks = check_site(site, chromium, screenshots=screenshot_plan,
                                    repository=os.environ.get("LANGLAB_REPOSITORY", "").rstrip("/"))
    summary = {"site": str(site), "seconds": round(time.monotonic() - started, 1),
               "pages": {page: {**dataclasses.asdict(r), "links": len(r.links)}
                         for page, r in reports.items()}}
    folder = next(iter(screenshot_plan.values())).parent
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "site-report.json").write_text(json.dumps(summary, indent=2) + "\n")
    return reports, notebooks


@pytest.fixture(scope="module")
def reports(checked) -> dict[str, PageReport]:
    return checked[0]


def problems(reports: dict[str, PageReport], field: str) -> str:
    return "\n".join(f"{page}: {item}" for page, report in reports.items()
                     for item in getattr(report, field))


@pytest.mark.browser
def test_site_has_the_book_pages(reports, site):
    assert {"intro.html", "references.html"} <= set(reports), f"book pages missing in {site}"
    assert any(r.links for r in reports.values())


@pytest.mark.browser
@pytest.mark.parametrize("field, what", [
    ("console_errors", "JavaScript errors in the browser console"),
    ("external_requests", "resources requested from outside the site (the book must read offline)"),
    ("missing_images", "images that did not load"),
    ("undescribed_images", "images without alt text or a caption"),
    ("empty_glue", "glued numbers missing from the pages"),
    ("error_outputs", "pages that show errors"),
    ("broken_links", "broken internal links"),
    ("placeholder_links", "links to an unset or placeholder place"),
])
def test_no_problems(reports, field, what):
    assert not problems(reports, field), f"{what}:\n" + problems(reports, field)


@pytest.mark.browser
def test_exercises(reports):
    """At least two exercises a chapter, labelled by chapter, solutions folded and executed."""
    chapters = {page: len(r.exercises) for page, r in reports.items() if r.notebook}
    assert chapters, "no chapter pages (notebooks) found"
    assert not problems(reports, "exercise_problems"), (
        f"exercises per chapter {chapters}; problems:\n" + problems(reports, "exercise_problems"))


@pytest.mark.browser
def test_math_renders(reports):
    """Formulas are typeset by the MathJax copy served with the site (no network needed)."""
    assert sum(r.formulas for r in reports.values()) > 0, "no formulas found in the book"
    assert not problems(reports, "math_errors"), (
        "formulas that did not render:\n" + problems(reports, "math_errors"))


@pytest.mark.browser
def test_every_chapter_offers_its_executed_notebook(checked):
    """The .ipynb link on each chapter leads to a valid notebook that has its outputs."""
    reports, notebooks = checked
    chapters = [page for page, r in reports.items() if r.notebook]
    assert len(chapters) >= 6, chapters
    found = [p for page in chapters for p in notebook_problems(page, notebooks.get(page))]
    assert not found, "\n".join(found)


@pytest.mark.browser
def test_screenshots(reports, screenshot_plan):
    for page, path in screenshot_plan.items():
        assert page in reports, f"{page} was not loaded"
        width, height = png_size(path)
        assert width == 1280 and height >= 300, f"{path}: unexpected size {width}x{height}"
        assert path.stat().st_size > 10_000, f"{path} looks blank ({path.stat().st_size} bytes)"


def test_api_reference_points_to_chapters(site):
    """Every function and class of the API reference links back to a page of the book."""
    page = site / "appendix_api.html"
    assert page.is_file(), f"no API reference in {site}"
    text = page.read_text()
    entries = list(re.finditer(r'<dl class="py (\w+)">\s*<dt class="sig sig-object py" '
                               r'id="(langlab\.\w+\.\w+)"', text))
    bounds = [m.start() for m in entries] + [len(text)]
    objects = [(m.group(2), m.start(), end) for m, end in zip(entries, bounds[1:])
               if m.group(1) in ("function", "class", "exception")]
    assert len(objects) > 20, f"only {len(objects)} documented functions and classes in {page}"
    missing = [name for name, start, end in objects
               if not re.search(r'In the book:</strong>[^<]*<a class="reference internal" '
                                r'href="[^"#]+\.html"', text[start:end])]
    assert not missing, "API entries without a link to a chapter:\n" + "\n".join(missing)


#: Works the book must cite where it uses them (issue 8): the data, the study it reproduces,
#: autoregressive predictive coding, probing methodology, the infant rhythm-class studies.
REQUIRED_WORKS = ("ardila2020commonvoice", "original_study", "chung2019apc",
                  "hewitt2019control", "belinkov2022probing", "nazzi1998", "ramus1999")


def test_references_are_cited(site):
    """Every entry of references.bib is cited by some page, the required works included."""
    keys = set(re.findall(r"^@\w+\{([^,\s]+),", (ROOT / "book" / "references.bib").read_text(),
                          flags=re.M))
    cited = {key.strip() for source in (site / "_sources").glob("*.md")
             for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", source.read_text())
             for key in group.split(",")}
    assert not set(REQUIRED_WORKS) - keys, f"missing from references.bib: {set(REQUIRED_WORKS) - keys}"
    assert not sorted(keys - cited), f"references.bib entries that no page cites: {sorted(keys - cited)}"
    assert (site / "references.html").is_file()


# --------------------------------------------------------------------------------------------
# The checks can fail: a small site with one of each problem.
# --------------------------------------------------------------------------------------------
BAD_PAGE = """<!doctype html><html><head><title>bad</title></head><body><article>
<p>Good <span class="pasted-text">1.5</span>, empty <span class="pasted-text"> </span>,
raw {glue:text}`x:.1f` and [glue].</p>
<pre>{glue:text} inside code is fine</pre>
<img src="_images/missing.png" alt="a plot"><img src="ok.svg" alt="ok.svg">
<figure><img src="ok.svg"><figcaption>A caption</figcaption></figure>
<img src="https://example.org/x.png" alt="remote">
<div class="cell_output"><div class="output traceback">ZeroDivisionError: division by zero</div></div>
<p><span class="xref std std-ref">nolabel</span></p>
<a href="other.html">ok</a> <a href="other.html#there">ok</a> <a href="#here">self</a>
<a href="gone.html">gone</a> <a href="other.html#nowhere">bad anchor</a>
<a href="https://doi.org/10.1000/1">external</a> <a href="https://github.com/langlab/langlab">repo</a>
<a class="btn btn-source-repository-button" href="https://github.com/someone/book">repo button</a>
<p>A formula <span class="math notranslate nohighlight">\\(x^2\\)</span> and no MathJax.</p>
<script>console.error("boom"); undefined_function();</script>
</article></body></html>
"""
#: MathJax from the package the book uses: one formula that renders, two with TeX errors.
MATH_PAGE = """<!doctype html><html><head><title>math</title>
<script defer src="_static/mathjax/tex-chtml.js"></script></head><body><article>
<p>Fine <span class="math notranslate nohighlight">\\(h_t = o_t \\odot \\tanh(c_t)\\)</span>.</p>
<div class="math notranslate nohighlight">\\[\\nosuchmacro{x}\\]</div>
<div class="math notranslate nohighlight">\\[x^2^3\\]</div>
</article></body></html>
"""
#: A chapter with one exercise, badly labelled, its solution unfolded, its code without output,
#: and a notebook download whose notebook has no outputs.
EXERCISE_PAGE = """<!doctype html><html><head><title>ch</title></head><body><article>
<a class="btn-download-notebook-button" href="_sources/07_ch.ipynb">.ipynb</a>
<div class="exercise admonition" id="other-ex1"><p class="admonition-title">
<span class="caption-number">Exercise 1 </span></p>
<section><p>Do it.</p></section></div>
<div class="solution dropdown admonition" id="ch-solution-1">
<p class="admonition-title">Solution to Exercise 1</p><section>
<div class="cell"><div class="cell_input"><pre>x = 1</pre></div></div></section></div>
</article></body></html>
"""
OK_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
          '<rect width="10" height="10"/></svg>')


def mathjax_files() -> Path:
    """The MathJax copy that the book serves (the ``sphinx-mathjax-offline`` package's)."""
    import importlib.util

    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    assert spec and spec.submodule_search_locations, "sphinx-mathjax-offline is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"


@pytest.mark.browser
def test_checker_catches_each_problem(tmp_path, chromium):
    import nbformat

    site = tmp_path / "html"
    (site / "_sources").mkdir(parents=True)
    (site / "bad.html").write_text(BAD_PAGE)
    (site / "ok.svg").write_text(OK_SVG)
    (site / "other.html").write_text('<html><body><p id="there">fine</p></body></html>')
    (site / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=nowhere.html" />')
    (site / "math.html").write_text(MATH_PAGE)
    (site / "07_ch.html").write_text(EXERCISE_PAGE)
    (site / "_sources" / "07_ch.md").write_text("---\njupytext:\n  text_representation:\n"
                                             "    format_name: myst\n---\n# Ch\n")
    unexecuted = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(unexecuted, site / "_sources" / "07_ch.ipynb")
    (site / "_static").mkdir()
    (site / "_static" / "mathjax").symlink_to(mathjax_files())
    (site / "_sources" / "other.md").write_text(
        "# Other\n\nA {glue:text}`a:.1f` and {glue:text}`b`.\n\n```{exercise}\n"
        "Also {glue:text}`c`.\n```\n\n```python\n{glue:text}`not_a_role`\n```\n")
    assert count_glue_text_roles((site / "_sources" / "other.md").read_text()) == 3

    found, notebooks = check_site(site, chromium)
    bad, other, index = found["bad.html"], found["other.html"], found["index.html"]
    errors = " ".join(bad.console_errors)
    assert "boom" in errors and "undefined_function" in errors and "missing.png" in errors
    assert bad.missing_images == ["_images/missing.png"]
    assert bad.undescribed_images == ["ok.svg"]  # the file name as alt text does not count
    assert bad.external_requests == ["https://example.org/x.png"]
    assert len(bad.empty_glue) == 3  # '{glue', '[glue]' and one empty value
    assert any("ZeroDivisionError" in e for e in bad.error_outputs)
    assert any("nolabel" in e for e in bad.error_outputs)
    broken = " ".join(bad.broken_links)
    assert len(bad.broken_links) == 3
    assert "gone.html" in broken and "#nowhere" in broken and "#here" in broken
    placeholders = " | ".join(bad.placeholder_links)
    assert len(bad.placeholder_links) == 2, placeholders
    assert "github.com/langlab/langlab" in placeholders and "LANGLAB_REPOSITORY is unset" in placeholders
    assert "3 {glue:text} roles in the source, only 0 rendered" in " ".join(other.empty_glue)
    assert not other.console_errors and not other.broken_links
    assert index.broken_links and "nowhere.html" in index.broken_links[0]
    assert bad.formulas == 1 and "MathJax did not load" in " ".join(bad.math_errors)
    math = found["math.html"]
    assert math.formulas == 3 and not math.console_errors, math
    errors = " ".join(math.math_errors)
    assert len(math.math_errors) == 2 and "nosuchmacro" in errors and "Double exponent" in errors
    chapter = found["07_ch.html"]
    assert chapter.notebook and not other.notebook and not other.exercise_problems
    exercise_errors = " | ".join(chapter.exercise_problems)
    assert len(chapter.exercise_problems) == 5, exercise_errors
    for expected in ("at least 2", "'other-ex1' is not 07_ch-ex<N>", "unfolded", "no output",
                     "'Exercise 1' does not name chapter 7"):
        assert expected in exercise_errors, exercise_errors
    assert "0 with outputs" in " ".join(notebook_problems("07_ch.html", notebooks["07_ch.html"]))
    assert "no .ipynb download" in notebook_problems("other.html", notebooks.get("other.html"))[0]
    assert not repository_problems(["https://github.com/o/book/issues/new?title=x",
                                    "https://mybinder.org/v2/gh/o/book/main?urlpath=x"],
                                   repository="https://github.com/o/book")


# --------------------------------------------------------------------------------------------
# The repository setting, on a one-page book built by Sphinx with the book's extensions.
# --------------------------------------------------------------------------------------------
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


def build_one_page(tmp_path: Path, *, repository: str | None) -> str:
    """Build a one-page notebook book with the theme and book/_ext/readerlinks.py; its HTML."""
    source = tmp_path / "src"
    source.mkdir(parents=True)
    (source / "index.md").write_text(ONE_PAGE)
    (source / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
        "extensions = ['myst_nb', 'readerlinks']\n"
        "html_theme = 'sphinx_book_theme'\n"
        "nb_execution_mode = 'force'\n"
        "html_theme_options = {'path_to_docs': 'book', 'repository_branch': 'main',\n"
        "    'launch_buttons': {'binderhub_url': 'https://mybinder.org'}}\n")
    env = {k: v for k, v in os.environ.items() if k != "LANGLAB_REPOSITORY"}
    if repository is not None:
        env["LANGLAB_REPOSITORY"] = repository
    done = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", "html", str(source),
                           str(tmp_path / "_build" / "html")], env=env, capture_output=True,
                          text=True, timeout=600)
    if repository is not None and "not a repository URL" in done.stderr:
        return done.stderr
    assert done.returncode == 0, done.stderr[-3000:]
    return (tmp_path / "_build" / "html" / "index.html").read_text()


@pytest.mark.slow
def test_repository_buttons_only_with_a_repository(tmp_path):
    default = build_one_page(tmp_path / "default", repository=None)
    assert "btn-source-repository-button" not in default and "mybinder" not in default
    assert "github.com" not in default
    assert 'btn-download-notebook-button' in default  # the executed notebook, without launch buttons
    notebook = tmp_path / "default" / "_build" / "html" / "_sources" / "index.ipynb"
    assert notebook_problems("index", notebook.read_bytes()) == []
    assert "jupytext" not in json.loads(notebook.read_text())["metadata"]
    url = "https://github.com/someone/langlab-book"
    given = build_one_page(tmp_path / "given", repository=url)
    for button in ("btn-source-repository-button", "btn-source-issues-button",
                   "btn-source-edit-button"):
        assert button in given, button
    assert f'href="{url}"' in given and "https://mybinder.org/v2/gh/someone/langlab-book/main" in given
    assert "not a repository URL" in build_one_page(tmp_path / "bad", repository="github.com/x")
