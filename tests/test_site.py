"""The site as a reader sees it: every page of the built book in headless Chromium.

The built HTML (``_build/html`` or ``$LANGLAB_SITE_DIR``) is served on localhost; Playwright
drives the system ``chromium`` (``executable_path``, nothing downloaded) and refuses and counts
every request to another host. Each page is probed by ``site_probe.js``. The tests fail on console
errors, network loads, images that did not load or have neither alt text nor a caption, tables
wider than the content column, printed floats with more than 6 significant digits, missing
glue, error output, untypeset math, exercises (at least two a chapter, labelled and numbered by
chapter, solutions folded and executed), broken internal links, links to an unset or
placeholder host, repository or launch buttons without ``$LANGLAB_REPOSITORY``, and a chapter
whose ``.ipynb`` download is missing, invalid (``nbformat.validate``) or without outputs.
``test_checker_catches_each_problem`` shows each check failing on ``site_fixture/``.

Screenshots and ``site-report.json`` go to ``_build/screenshots`` (``$LANGLAB_SCREENSHOT_DIR``).
Without a built site or Chromium the tests skip; with ``LANGLAB_REQUIRE_BROWSER=1`` they fail.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import shutil
import struct
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
from printbook import CHROMIUM_ARGS, find_chromium, serve  # noqa: E402 - the PDF's browser setup
REQUIRE = os.environ.get("LANGLAB_REQUIRE_BROWSER") == "1"
pytestmark = pytest.mark.browser  # needs the built site (make book); .ci/run runs it after the build
#: Results chapters, in order of preference, for the second screenshot.
RESULTS_PAGES = ("06_discussion.html", "03_lstm.html", "04_probing.html", "05_autoencoder.html",
                 "02_spectrograms.html", "01_data.html")
#: Folders of the build that hold assets, not pages.
ASSET_DIRS = {"_static", "_sources", "_images", "_downloads", "reports", "_panels_static"}
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


#: Runs in the page after its load event; returns the DOM findings.
PAGE_PROBE = (Path(__file__).with_name("site_probe.js").read_text()
              .replace("%REPOSITORY_BUTTONS%", json.dumps(REPOSITORY_BUTTONS)))


@dataclasses.dataclass
class PageReport:
    page: str
    console_errors: list[str] = dataclasses.field(default_factory=list)
    external_requests: list[str] = dataclasses.field(default_factory=list)
    missing_images: list[str] = dataclasses.field(default_factory=list)
    undescribed_images: list[str] = dataclasses.field(default_factory=list)
    wide_tables: list[str] = dataclasses.field(default_factory=list)
    long_floats: list[str] = dataclasses.field(default_factory=list)
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


@functools.lru_cache(maxsize=None)
def anchors(path: Path) -> tuple[set[str], str | None]:
    """(ids and names of a page, its ``<meta http-equiv="refresh">`` target or None)."""
    text = path.read_text(errors="replace")
    refresh = re.search(r'<meta http-equiv="refresh" content="[^"]*url=([^"]+)"', text, re.I)
    return set(re.findall(r'\s(?:id|name)="([^"]+)"', text)), refresh and refresh.group(1).strip()


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
    if fragment and target.suffix == ".html" and fragment not in anchors(target)[0]:
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
    the chapter (``03_lstm``: "Exercise 3.1") or, on the introduction and the appendices, that
    could clash with a chapter's (they are "Exercise 0.1", "Exercise A.1", see
    ``book/_ext/sitefixes.py``), solutions missing, unfolded or without output."""
    found = []
    chapter = re.match(r"(\d+)_", stem)
    if chapter:
        found += [f"{number!r} does not name chapter {int(chapter.group(1))}" for number in numbers
                  if not re.fullmatch(rf"Exercise {int(chapter.group(1))}\.\d+", number)]
    else:
        found += [f"{number!r} could be a chapter's number (use 0.N or A.N)" for number in numbers
                  if not re.fullmatch(r"Exercise (0|[A-Z])\.\d+", number)]
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
                        wide_tables=found["wideTables"],
                        long_floats=sorted(set(found["longFloats"])),
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
        if (refresh := anchors(path)[1]) is not None:
            redirects[relative.as_posix()] = refresh
        else:
            pages.append(relative.as_posix())
    return pages, redirects


def check_site(site: Path, executable: str, *, screenshots: dict[str, Path] | None = None,
               repository: str = "") -> tuple[dict[str, PageReport], dict[str, bytes]]:
    """Load every page of ``site`` in Chromium: ({page: findings}, {page: its notebook download})."""
    from playwright.sync_api import sync_playwright

    pages, redirects = site_pages(site)
    reports: dict[str, PageReport] = {}
    notebooks: dict[str, bytes] = {}
    events: dict[str, list] = {"errors": [], "external": []}
    with serve(site) as origin, sync_playwright() as pw:
        def route(route):  # the site loads; anything else is counted and refused
            if route.request.url.startswith((origin + "/", "data:", "blob:")):
                return route.continue_()
            events["external"].append(route.request.url)
            return route.abort()

        def response(res):
            if res.status >= 400 and res.url.startswith(origin) and not res.url.endswith("/favicon.ico"):
                events["errors"].append(f"HTTP {res.status}: {res.url}")

        for name, target in redirects.items():
            link = urllib.parse.urljoin(f"{origin}/{name}", target)
            reports[name] = PageReport(name, links=[link], broken_links=[
                why for why in [check_link(link, origin=origin, site=site)] if why])
        browser = pw.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
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
                reports[name] = inspect_page(page, f"{origin}/{urllib.parse.quote(name)}",
                                             name=name, origin=origin, site=site, events=events,
                                             repository=repository)
                if reports[name].notebook_download:  # follow the link as a reader would
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
    try:
        import playwright  # noqa: F401
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install playwright)")
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


def test_site_has_the_book_pages(reports, site):
    assert {"intro.html", "references.html"} <= set(reports), f"book pages missing in {site}"
    assert any(r.links for r in reports.values())


@pytest.mark.parametrize("field, what", [
    ("console_errors", "JavaScript errors in the browser console"),
    ("external_requests", "resources requested from outside the site (the book must read offline)"),
    ("missing_images", "images that did not load"),
    ("undescribed_images", "images without alt text or a caption"),
    ("wide_tables", "tables wider than the content column (at 1280 px)"),
    ("long_floats", "printed floats with more than 6 significant digits"),
    ("empty_glue", "glued numbers missing from the pages"),
    ("error_outputs", "pages that show errors"),
    ("broken_links", "broken internal links"),
    ("placeholder_links", "links to an unset or placeholder place"),
])
def test_no_problems(reports, field, what):
    assert not problems(reports, field), f"{what}:\n" + problems(reports, field)


def test_exercises(reports):
    """At least two exercises a chapter, labelled by chapter, solutions folded and executed."""
    chapters = {page: len(r.exercises) for page, r in reports.items() if r.notebook}
    assert chapters, "no chapter pages (notebooks) found"
    assert not problems(reports, "exercise_problems"), (
        f"exercises per chapter {chapters}; problems:\n" + problems(reports, "exercise_problems"))


def test_math_renders(reports):
    """Formulas are typeset by the MathJax copy served with the site (no network needed)."""
    assert sum(r.formulas for r in reports.values()) > 0, "no formulas found in the book"
    assert not problems(reports, "math_errors"), (
        "formulas that did not render:\n" + problems(reports, "math_errors"))


def test_every_chapter_offers_its_executed_notebook(checked):
    """The .ipynb link on each chapter leads to a valid notebook that has its outputs."""
    reports, notebooks = checked
    chapters = [page for page, r in reports.items() if r.notebook]
    assert len(chapters) >= 6, chapters
    found = [p for page in chapters for p in notebook_problems(page, notebooks.get(page))]
    assert not found, "\n".join(found)


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


def mathjax_files() -> Path:
    """The MathJax copy that the book serves (the ``sphinx-mathjax-offline`` package's)."""
    import importlib.util

    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    assert spec and spec.submodule_search_locations, "sphinx-mathjax-offline is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"


def test_checker_catches_each_problem(tmp_path, chromium):
    import nbformat

    site = tmp_path / "html"
    shutil.copytree(Path(__file__).with_name("site_fixture"), site)
    unexecuted = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(unexecuted, site / "_sources" / "07_ch.ipynb")
    (site / "_static").mkdir()
    (site / "_static" / "mathjax").symlink_to(mathjax_files())
    assert count_glue_text_roles((site / "_sources" / "other.md").read_text()) == 3

    found, notebooks = check_site(site, chromium)
    bad, other, index = found["bad.html"], found["other.html"], found["index.html"]
    errors = " ".join(bad.console_errors)
    assert "boom" in errors and "undefined_function" in errors and "missing.png" in errors
    assert bad.missing_images == ["_images/missing.png"]
    assert bad.undescribed_images == ["ok.svg"]  # the file name as alt text does not count
    assert len(bad.wide_tables) == 1 and "a wide table" in bad.wide_tables[0], bad.wide_tables
    assert bad.long_floats == ["0.12345678901234566", "18.46153"], bad.long_floats
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


def test_unnumbered_pages_number_exercises_apart_from_the_chapters():
    """The introduction's and appendices' exercises are 0.N and A.N, never a bare N."""
    ok = exercise_problems("appendix_x", ["appendix_x-ex1"], [], notebook=False,
                           numbers=["Exercise B.1"])
    assert ok == ["1 exercises but 0 solutions"]
    assert not exercise_problems("intro", [], [], notebook=False, numbers=["Exercise 0.2"])
    clash = exercise_problems("intro", [], [], notebook=False, numbers=["Exercise 1"])
    assert clash == ["'Exercise 1' could be a chapter's number (use 0.N or A.N)"]
