"""The site as a reader sees it: every page of the built book in headless Chromium.

The built HTML (``_build/html``, or ``$LANGLAB_SITE_DIR``) is served on a free localhost port and
each page is loaded in Debian's ``chromium``, driven through the Chrome DevTools Protocol over
``--remote-debugging-pipe`` (standard library only: no driver, no extra package). The tests fail
on

- console errors: uncaught JavaScript exceptions, ``console.error`` calls, local resources that
  fail to load,
- resources loaded from the internet (all hosts but localhost are blocked): the book must read
  offline,
- images that did not load (``naturalWidth == 0``),
- empty glue: ``{glue:text}`` roles that rendered empty or not at all (a missing glue key renders
  *nothing*, so the roles in the page's source are counted against the rendered ones), and
  unrendered ``{glue`` / ``[glue]`` text outside code,
- error output: cell tracebacks, docutils error messages, unresolved cross-references,
- formulas that MathJax did not typeset (MathJax is served with the site, so this works
  offline), TeX errors and undefined macros,
- exercises: fewer than two on a chapter (a page whose source is a notebook), labels that are
  not ``<page>-ex<N>``, numbers that do not name the chapter ("Exercise 3.1" in
  ``03_lstm``), solutions missing, shown unfolded, or whose code shows no output,
- broken internal links: a link to a missing file or to an anchor that the target page lacks,
- an API reference entry (function or class) without a link back to a chapter.

A screenshot of the Introduction and of one results chapter is kept in ``_build/screenshots``
(next to the ``html`` folder; ``$LANGLAB_SCREENSHOT_DIR`` overrides) together with
``site-report.json``, the findings of every page.

Without a built site the tests skip ("run make book first"), without Chromium too; with
``LANGLAB_REQUIRE_BROWSER=1`` (set by ``.ci/run`` after the book build) both are failures.
"""
from __future__ import annotations

import base64
import dataclasses
import fcntl
import functools
import html.parser
import json
import os
import queue
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import time
import urllib.parse
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.browser

REQUIRE = os.environ.get("LANGLAB_REQUIRE_BROWSER") == "1"
#: Results chapters, in order of preference, for the second screenshot.
RESULTS_PAGES = ("06_discussion.html", "03_lstm.html", "04_probing.html", "05_autoencoder.html",
                 "02_spectrograms.html", "01_data.html")
#: Folders of the build that hold assets, not pages.
ASSET_DIRS = {"_static", "_sources", "_images", "_downloads", "reports", "_panels_static"}
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--mute-audio", "--hide-scrollbars", "--window-size=1280,900",
    # Offline and deterministic: every host except localhost fails to resolve at once.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)
COMMAND_TIMEOUT = 60.0  # s, one DevTools command
LOAD_TIMEOUT = 30.0     # s, one page until its load event


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


# --------------------------------------------------------------------------------------------
# Chrome DevTools Protocol over a pipe: Chromium reads commands from fd 3 and writes to fd 4,
# one JSON message per NUL-terminated record.
# --------------------------------------------------------------------------------------------
class Browser:
    """A headless Chromium with one tab, driven synchronously."""

    def __init__(self, executable: str):
        self._profile = tempfile.TemporaryDirectory(prefix="langlab-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # Move the child's ends above 10 so that dup2 onto 3 and 4 cannot clobber them.
        child_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_child_r)
        os.close(from_child_w)

        def wire_fds():  # runs in the child between fork and exec
            os.dup2(child_r, 3)
            os.dup2(child_w, 4)

        self._log = open(Path(self._profile.name) / "chromium.log", "wb")
        self.process = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile.name}",
             "--remote-debugging-pipe", "about:blank"],
            preexec_fn=wire_fds, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=self._log)
        os.close(child_r)
        os.close(child_w)
        self._messages: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._next_id = 0
        self.events: list[dict] = []
        self.version = self.send("Browser.getVersion")["product"]
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=self.session)
        self.send("Page.setLifecycleEventsEnabled", session=self.session, enabled=True)

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_child, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                self._messages.put(None)
                return
            buffer += chunk
            *records, buffer = buffer.split(b"\0")
            for record in records:
                self._messages.put(json.loads(record))

    def _next_message(self, deadline: float) -> dict | None:
        """The next message from Chromium, or None at the deadline."""
        try:
            message = self._messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if message is None:
            raise RuntimeError(f"Chromium exited (code {self.process.poll()}); "
                               f"log: {self._log.name}")
        return message

    def send(self, method: str, *, session: str | None = None, **params) -> dict:
        """Run one DevTools command; events that arrive meanwhile go to ``self.events``."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while True:
            reply = self._next_message(deadline)
            if reply is None:
                raise TimeoutError(f"no reply to {method} within {COMMAND_TIMEOUT:.0f} s")
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, predicate, *, timeout: float) -> bool:
        """Collect events until one satisfies ``predicate`` (True) or ``timeout`` s pass (False)."""
        if any(predicate(e) for e in self.events):
            return True
        deadline = time.monotonic() + timeout
        while (message := self._next_message(deadline)) is not None:
            self.events.append(message)
            if predicate(message):
                return True
        return False

    def drain(self) -> None:
        while not self._messages.empty():
            message = self._messages.get_nowait()
            if message is not None:
                self.events.append(message)

    def evaluate(self, expression: str):
        """Value of a JavaScript expression (awaited if it is a promise)."""
        result = self.send("Runtime.evaluate", session=self.session, expression=expression,
                           awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def goto(self, url: str) -> None:
        """Load ``url``; return after its load event and (at most 5 s more) network idle."""
        self.events = []
        frame = self.send("Page.navigate", session=self.session, url=url)
        if frame.get("errorText"):
            raise RuntimeError(f"{url}: {frame['errorText']}")
        loader = frame.get("loaderId")

        def lifecycle(name):
            return lambda e: (e.get("method") == "Page.lifecycleEvent"
                              and e["params"]["name"] == name
                              and e["params"].get("loaderId") in (loader, None))

        if not self.wait_for(lifecycle("load"), timeout=LOAD_TIMEOUT):
            raise TimeoutError(f"{url} did not finish loading within {LOAD_TIMEOUT:.0f} s")
        self.wait_for(lifecycle("networkIdle"), timeout=5.0)
        self.drain()

    def screenshot(self, path: Path, *, width: int = 1280, max_height: int = 8000) -> tuple[int, int]:
        """Full-page PNG (cut at ``max_height`` px); returns its (width, height)."""
        height = int(self.evaluate("document.documentElement.scrollHeight") or 900)
        height = max(300, min(height, max_height))
        # A viewport as tall as the page: no scrolling, no sticky headers drawn twice.
        self.send("Emulation.setDeviceMetricsOverride", session=self.session, width=width,
                  height=height, deviceScaleFactor=1, mobile=False)
        try:
            self.evaluate("new Promise(done => requestAnimationFrame(() => "
                          "requestAnimationFrame(done)))")
            data = self.send("Page.captureScreenshot", session=self.session, format="png",
                             clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
        finally:
            self.send("Emulation.clearDeviceMetricsOverride", session=self.session)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return width, height

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                self.send("Browser.close")
                self.process.wait(timeout=15)
        except Exception:  # noqa: BLE001 - closing must not hide the test's own result
            pass
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=15)
            for fd in (self._to_child, self._from_child):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._log.close()
            self._profile.cleanup()


# --------------------------------------------------------------------------------------------
# Serving the site
# --------------------------------------------------------------------------------------------
class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


class SiteServer:
    """``directory`` on http://127.0.0.1:<free port>/, served from a thread."""

    def __init__(self, directory: Path):
        handler = functools.partial(QuietHandler, directory=str(directory))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------------------------
# What is checked on each page
# --------------------------------------------------------------------------------------------
#: Runs in the page after its load event; returns the DOM findings as JSON.
PAGE_PROBE = r"""
(async () => {
  // Sphinx writes TeX into span.math / div.math; MathJax replaces it by an mjx-container.
  async function mathFindings(root) {
    const formulas = Array.from(root.querySelectorAll('span.math, div.math'));
    const startup = window.MathJax && window.MathJax.startup;
    if (formulas.length && startup && startup.promise) {
      await Promise.race([startup.promise, new Promise(done => setTimeout(done, 20000))]);
    }
    return {
      formulas: formulas.length,
      mathjaxLoaded: Boolean(startup && startup.promise),
      unrenderedMath: formulas.filter(el => !el.querySelector('mjx-container')).map(text),
      mathErrors: Array.from(root.querySelectorAll('mjx-merror'))
                       .map(el => el.getAttribute('data-mjx-error') || 'TeX error')
        // An undefined macro is no error for MathJax: it shows the name in red (the
        // assistive MathML copy, when present, holds that name as text).
        .concat(Array.from(root.querySelectorAll('mjx-container mjx-mtext[style*="color: red"]'))
                .map(el => 'undefined macro ' + text(el.closest('mjx-container')
                  .querySelector('mjx-assistive-mml mtext[mathcolor="red"]') || el))),
    };
  }
  const imgs = Array.from(document.images);
  imgs.forEach(img => { if (img.loading === 'lazy') img.loading = 'eager'; });
  await Promise.all(imgs.filter(img => !img.complete).map(img => new Promise(done => {
    img.addEventListener('load', done); img.addEventListener('error', done);
    setTimeout(done, 10000);
  })));
  const local = url => url.startsWith(location.origin);
  const text = el => (el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 200);
  const root = document.querySelector('article') || document.body;
  const proseHits = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest('pre, code, script, style, textarea, .highlight')) continue;
    const value = node.nodeValue;
    for (const needle of ['{glue', '[glue]']) {
      if (value.includes(needle)) proseHits.push(value.trim().slice(0, 200));
    }
  }
  return {
    title: document.title,
    missingImages: imgs.filter(img => local(img.currentSrc || img.src) && img.naturalWidth === 0)
                       .map(img => img.getAttribute('src')),
    pasted: Array.from(document.querySelectorAll('.pasted-text')).map(el => el.textContent),
    glueText: proseHits,
    errorOutputs: Array.from(document.querySelectorAll(
        '.output.traceback, .output.error, div.cell_output .traceback, .system-message, .problematic'
      )).map(text),
    unresolvedRefs: Array.from(document.querySelectorAll(
        '.xref.std-ref, .xref.std-numref, .xref.std-doc, .xref.myst, .xref.std-term'
      )).filter(el => !el.closest('a')).map(text),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    ...(await mathFindings(root)),
    exercises: Array.from(root.querySelectorAll('div.exercise')).map(el => el.id),
    exerciseNumbers: Array.from(root.querySelectorAll('div.exercise .caption-number'))
                          .map(el => text(el)),
    solutions: Array.from(root.querySelectorAll('div.solution')).map(el => {
      const body = el.querySelector('section') || el.lastElementChild;
      return {id: el.id, title: text(el.querySelector('.admonition-title') || el),
              // sphinx-togglebutton folds by visibility: hidden and zero height
              folded: Boolean(body) && (!body.checkVisibility({visibilityProperty: true})
                                        || body.getBoundingClientRect().height === 0),
              cells: el.querySelectorAll('.cell').length,
              outputs: el.querySelectorAll('.cell_output').length};
    }),
  };
})()
"""


@dataclasses.dataclass
class PageReport:
    page: str
    console_errors: list[str] = dataclasses.field(default_factory=list)
    external_failures: list[str] = dataclasses.field(default_factory=list)
    missing_images: list[str] = dataclasses.field(default_factory=list)
    empty_glue: list[str] = dataclasses.field(default_factory=list)
    error_outputs: list[str] = dataclasses.field(default_factory=list)
    formulas: int = 0
    math_errors: list[str] = dataclasses.field(default_factory=list)
    notebook: bool = False
    exercises: list[str] = dataclasses.field(default_factory=list)
    exercise_problems: list[str] = dataclasses.field(default_factory=list)
    links: list[str] = dataclasses.field(default_factory=list)
    broken_links: list[str] = dataclasses.field(default_factory=list)


def console_findings(events: list[dict], origin: str) -> tuple[list[str], list[str]]:
    """(errors, failed external resources) among a page's DevTools events."""
    errors, external = [], []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            description = details.get("exception", {}).get("description") or details.get("text")
            errors.append(f"uncaught exception: {description}".splitlines()[0][:300])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            errors.append(f"console.{params['type']}: {args}"[:300])
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            url = entry.get("url", "")
            if url == f"{origin}/favicon.ico":
                continue  # requested by the browser itself, not by the page
            if entry.get("source") == "network" and url and not url.startswith(origin):
                external.append(f"{url} ({entry['text']})")
            else:
                errors.append(f"{entry['text']} {url}".strip()[:300])
    return errors, external


class IdCollector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.refresh: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("id", "name"):
            if attrs.get(name):
                self.ids.add(attrs[name])
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
    """Why ``url`` (absolute, as the browser resolved it) is broken, or None if fine/external."""
    if not url.startswith(origin + "/"):
        return None  # external, mailto:, javascript:, data:
    parts = urllib.parse.urlsplit(url)
    relative = urllib.parse.unquote(parts.path).lstrip("/")
    target = (site / relative).resolve()
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
            name = token.info[1:].split("}", 1)[0]
            if name not in LITERAL_DIRECTIVES:
                count += count_glue_text_roles(token.content)
    return count


#: Exercises every chapter (every page that is a notebook) must have at least.
MIN_EXERCISES = 2


def exercise_problems(stem: str, exercises: list[str], solutions: list[dict], *,
                      notebook: bool, numbers: list[str] = ()) -> list[str]:
    """What is wrong with a page's exercises: too few (on a chapter), labels not
    ``<page>-ex<N>``, numbers that do not name the chapter (``03_lstm``: "Exercise 3.1"),
    solutions missing, shown unfolded, or with code that produced no output."""
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


def inspect_page(browser: Browser, url: str, *, page: str, origin: str, site: Path) -> PageReport:
    browser.goto(url)
    found = browser.evaluate(PAGE_PROBE)
    browser.drain()
    report = PageReport(page)
    report.console_errors, report.external_failures = console_findings(browser.events, origin)
    report.missing_images = found["missingImages"]
    report.empty_glue = [f"unrendered glue text: {t!r}" for t in found["glueText"]]
    empty = sum(1 for text in found["pasted"] if not text.strip())
    if empty:
        report.empty_glue.append(f"{empty} glued value(s) rendered empty")
    source = site / "_sources" / Path(page).with_suffix(".md")
    if source.is_file():
        expected = count_glue_text_roles(source.read_text())
        if len(found["pasted"]) < expected:
            report.empty_glue.append(f"{expected} {{glue:text}} roles in the source, only "
                                     f"{len(found['pasted'])} rendered (a missing glue key "
                                     "renders nothing)")
    report.error_outputs = ([f"error output: {t!r}" for t in found["errorOutputs"]]
                            + [f"unresolved reference: {t!r}" for t in found["unresolvedRefs"]])
    report.notebook = source.is_file() and "format_name: myst" in source.read_text()
    report.exercises = found["exercises"]
    report.exercise_problems = exercise_problems(Path(page).stem, found["exercises"],
                                                 found["solutions"], notebook=report.notebook,
                                                 numbers=found["exerciseNumbers"])
    report.formulas = found["formulas"]
    if found["formulas"] and not found["mathjaxLoaded"]:
        report.math_errors.append(f"{found['formulas']} formula(s), but MathJax did not load")
    elif found["unrenderedMath"]:
        report.math_errors.append(f"{len(found['unrenderedMath'])} of {found['formulas']} "
                                  f"formula(s) not rendered, e.g. {found['unrenderedMath'][0]!r}")
    report.math_errors += [f"TeX error: {e!r}" for e in found["mathErrors"]]
    report.links = sorted(set(found["links"]))
    report.broken_links = [why for link in report.links
                           if (why := check_link(link, origin=origin, site=site))]
    return report


def site_pages(site: Path) -> tuple[list[str], dict[str, str]]:
    """(pages to load, {redirect page: its target}) of a built site, as paths relative to it."""
    pages, redirects = [], {}
    for path in sorted(site.rglob("*.html")):
        relative = path.relative_to(site)
        if relative.parts[0] in ASSET_DIRS:
            continue
        refresh = parse_html(path).refresh
        if refresh is not None:
            redirects[relative.as_posix()] = refresh
        else:
            pages.append(relative.as_posix())
    return pages, redirects


def check_site(site: Path, executable: str, *, screenshots: dict[str, Path] | None = None
               ) -> dict[str, PageReport]:
    """Load every page of the built ``site`` in Chromium; {page: findings}."""
    pages, redirects = site_pages(site)
    server = SiteServer(site)
    browser = Browser(executable)
    reports: dict[str, PageReport] = {}
    try:
        for page, target in redirects.items():
            report = PageReport(page, links=[urllib.parse.urljoin(f"{server.origin}/{page}", target)])
            report.broken_links = [why for link in report.links
                                   if (why := check_link(link, origin=server.origin, site=site))]
            reports[page] = report
        for page in pages:
            url = f"{server.origin}/{urllib.parse.quote(page)}"
            reports[page] = inspect_page(browser, url, page=page, origin=server.origin, site=site)
            if screenshots and page in screenshots:
                browser.screenshot(screenshots[page])
    finally:
        browser.close()
        server.close()
    return reports


def mathjax_files() -> Path:
    """The MathJax copy that the book serves (the ``sphinx-mathjax-offline`` package's)."""
    import importlib.util

    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    assert spec and spec.submodule_search_locations, "sphinx-mathjax-offline is not installed"
    folder = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"
    assert (folder / "tex-chtml.js").is_file(), f"no tex-chtml.js in {folder}"
    return folder


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


# --------------------------------------------------------------------------------------------
# Fixtures and tests
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chromium() -> str:
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
def screenshot_dir(site) -> Path:
    return Path(os.environ.get("LANGLAB_SCREENSHOT_DIR") or site.parent / "screenshots")


@pytest.fixture(scope="module")
def screenshot_plan(site, screenshot_dir) -> dict[str, Path]:
    plan = {"intro.html": screenshot_dir / "intro.png"}
    results = next((p for p in RESULTS_PAGES if (site / p).is_file()), None)
    if results:
        plan[results] = screenshot_dir / Path(results).with_suffix(".png").name
    return plan


@pytest.fixture(scope="module")
def reports(site, chromium, screenshot_dir, screenshot_plan) -> dict[str, PageReport]:
    started = time.monotonic()
    found = check_site(site, chromium, screenshots=screenshot_plan)
    screenshot_dir.mkdir(parents=True, exist_ok=True)
    summary = {"site": str(site), "seconds": round(time.monotonic() - started, 1),
               "pages": {page: dataclasses.asdict(r) for page, r in found.items()}}
    for page in summary["pages"].values():
        page["links"] = len(page["links"])
    (screenshot_dir / "site-report.json").write_text(json.dumps(summary, indent=2) + "\n")
    return found


def problems(reports: dict[str, PageReport], field: str) -> str:
    lines = [f"{page}: {item}" for page, report in reports.items()
             for item in getattr(report, field)]
    return "\n".join(lines)


def test_site_has_the_book_pages(reports, site):
    pages = set(reports)
    assert "intro.html" in pages, f"no intro.html in {site}"
    assert "references.html" in pages, f"no references.html in {site}"
    assert any(r.links for r in reports.values())


def test_no_console_errors(reports):
    assert not problems(reports, "console_errors"), (
        "JavaScript errors in the browser console:\n" + problems(reports, "console_errors"))


def test_images_load(reports):
    assert not problems(reports, "missing_images"), (
        "images that did not load:\n" + problems(reports, "missing_images"))


def test_glue_rendered(reports):
    assert not problems(reports, "empty_glue"), (
        "glued numbers missing from the pages:\n" + problems(reports, "empty_glue"))


def test_no_error_output(reports):
    assert not problems(reports, "error_outputs"), (
        "pages that show errors:\n" + problems(reports, "error_outputs"))


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
    cited: dict[str, set[str]] = {}
    for source in (site / "_sources").glob("*.md"):
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", source.read_text()):
            for key in group.split(","):
                cited.setdefault(key.strip(), set()).add(source.stem)
    assert not set(REQUIRED_WORKS) - keys, f"missing from references.bib: {set(REQUIRED_WORKS) - keys}"
    uncited = sorted(keys - set(cited))
    assert not uncited, f"references.bib entries that no page cites: {uncited}"
    assert (site / "references.html").is_file()


def test_no_network_needed(reports):
    """Pages load nothing from the internet (blocked here), so the book reads offline."""
    assert not problems(reports, "external_failures"), (
        "resources loaded from outside the site:\n" + problems(reports, "external_failures"))


def test_internal_links(reports):
    assert not problems(reports, "broken_links"), (
        "broken internal links:\n" + problems(reports, "broken_links"))


def test_screenshots(reports, screenshot_plan):
    for page, path in screenshot_plan.items():
        assert page in reports, f"{page} was not loaded"
        width, height = png_size(path)
        assert width == 1280 and height >= 300, f"{path}: unexpected size {width}x{height}"
        assert path.stat().st_size > 10_000, f"{path} looks blank ({path.stat().st_size} bytes)"


# A page with one of each problem: proves that the checks above can fail.
BAD_PAGE = """<!doctype html><html><head><title>bad</title></head><body><article>
<p>Good <span class="pasted-text">1.5</span>, empty <span class="pasted-text"> </span>,
raw {glue:text}`x:.1f` and [glue].</p>
<pre>{glue:text} inside code is fine</pre>
<img src="_images/missing.png"><img src="ok.svg"><img src="https://example.org/x.png">
<div class="cell_output"><div class="output traceback">ZeroDivisionError: division by zero</div></div>
<p><span class="xref std std-ref">nolabel</span></p>
<a href="other.html">ok</a> <a href="other.html#there">ok</a> <a href="#here">self</a>
<a href="gone.html">gone</a> <a href="other.html#nowhere">bad anchor</a>
<a href="https://example.org/">external</a>
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
#: A chapter (its source is a notebook) with one exercise, badly labelled, its solution unfolded
#: and its code without output.
EXERCISE_PAGE = """<!doctype html><html><head><title>ch</title></head><body><article>
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


def test_checker_catches_each_problem(tmp_path, chromium):
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
    (site / "_static").mkdir()
    (site / "_static" / "mathjax").symlink_to(mathjax_files())
    (site / "_sources" / "other.md").write_text(
        "# Other\n\nA {glue:text}`a:.1f` and {glue:text}`b`.\n\n```{exercise}\n"
        "Also {glue:text}`c`.\n```\n\n```python\n{glue:text}`not_a_role`\n```\n")
    assert count_glue_text_roles((site / "_sources" / "other.md").read_text()) == 3

    found = check_site(site, chromium)
    bad, other, index = found["bad.html"], found["other.html"], found["index.html"]
    errors = " ".join(bad.console_errors)
    assert "boom" in errors and "undefined_function" in errors
    assert "_images/missing.png" in " ".join(bad.console_errors + bad.missing_images)
    assert bad.missing_images == ["_images/missing.png"]
    assert len(bad.empty_glue) == 3  # '{glue', '[glue]' and one empty value
    assert any("ZeroDivisionError" in e for e in bad.error_outputs)
    assert any("nolabel" in e for e in bad.error_outputs)
    broken = " ".join(bad.broken_links)
    assert "gone.html" in broken and "#nowhere" in broken and "#here" in broken
    assert len(bad.broken_links) == 3
    assert "3 {glue:text} roles in the source, only 0 rendered" in " ".join(other.empty_glue)
    assert not other.console_errors and not other.broken_links
    assert index.broken_links and "nowhere.html" in index.broken_links[0]
    assert any("example.org/x.png" in e for e in bad.external_failures), bad.external_failures
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
