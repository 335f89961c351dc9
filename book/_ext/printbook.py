"""Print the book's single-page HTML to one PDF with the system Chromium (``make pdf``).

``jupyter-book build book --builder singlehtml`` writes the whole book as one page (reusing
the execution cache of ``make book``). This script serves that folder on localhost, loads the
page in headless Chromium through Playwright (the system browser through ``executable_path``:
nothing is downloaded; every request to another host is refused), waits until MathJax has
typeset every formula and every image has loaded, opens folded solutions and hidden cells as
the theme does for printing, starts each chapter on a new page, and prints an A4 PDF with page
numbers and a bookmark outline. What it checked goes to ``<pdf>.json`` beside it (formulas,
chapters, the fonts Chromium drew the Japanese text with; read by ``tests/test_pdf.py``).

    python book/_ext/printbook.py _build/singlehtml _build/pdf/langlab.pdf

Fails (exit 1, one line naming what is wrong) when a formula is not typeset, an image did not
load, or the page shows a JavaScript error.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import shutil
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Iterator
from pathlib import Path

#: Flags for Chromium on a closed network, as root, without a display.
CHROMIUM_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--mute-audio", "--hide-scrollbars",
    # Offline and deterministic: every host except localhost fails to resolve at once.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)
#: Requested but not needed for print: the browser's icon, and the search index that the theme
#: links on every page but the single-page builder does not write.
IGNORED_404 = ("/favicon.ico", "/searchindex.js")
TIMEOUT_MS = 300_000  # loading, typesetting or printing the whole book
#: Families that draw kana (fonts-noto-cjk and the usual alternatives).
CJK_FONT = re.compile(r"CJK|Noto (Sans|Serif) JP|Droid Sans Fallback|IPA|Takao|VL Gothic")

#: Print layout: only the book's text, each chapter on a new page, solutions and cells unfolded.
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
@media print {
  .bd-header, .bd-header-article, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer,
  .bd-footer-article, .bd-footer-content, .prev-next-area, .header-article-items, .skip-link,
  button.toggle-button, .headerlink, #pst-back-to-top, .search-button-field {
    display: none !important; }
  .bd-main, .bd-content, .bd-article-container, .bd-article, .bd-page-width, .bd-container,
  .bd-container__inner { max-width: none !important; width: 100% !important;
    flex: 1 1 auto !important; padding: 0 !important; margin: 0 !important; }
  body { font-size: 10.5pt; }
  /* Sphinx's single page marks where each page of the book starts with <span id="document-*"> */
  span[id^="document-"] + section { break-before: page; }
  h1, h2, h3 { break-after: avoid; }
  figure, img, table, .cell_output, div.math, mjx-container[display="true"] { break-inside: avoid; }
  .admonition.toggle-hidden .admonition-title ~ * { height: auto !important; opacity: 1 !important;
    visibility: visible !important; margin: revert !important; }
  details { display: block; }
  audio, video { display: none !important; }
  details > summary { display: none !important; }  /* "Show code cell source": opened anyway */
  /* Wide result tables: smaller type, cells may wrap, so no column is cut at the margin. */
  .cell_output table, table.dataframe { font-size: 7.5pt; max-width: 100%; }
  .cell_output td, .cell_output th { overflow-wrap: anywhere; padding: 0.15em 0.3em !important; }
  pre, div.highlight pre { white-space: pre-wrap !important; word-break: break-word; }
  a[href]::after { content: none !important; }
}
"""

#: Runs in the page: waits for images and MathJax, opens what is folded; returns the findings.
PREPARE = r"""
async () => {
  const text = el => (el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 120);
  const imgs = Array.from(document.images);
  imgs.forEach(img => { if (img.loading === 'lazy') img.loading = 'eager'; });
  await Promise.all(imgs.filter(img => !img.complete).map(img => new Promise(done => {
    img.addEventListener('load', done); img.addEventListener('error', done);
  })));
  const formulas = Array.from(document.querySelectorAll('span.math, div.math'));
  const startup = window.MathJax && window.MathJax.startup;
  if (formulas.length && startup && startup.promise) await startup.promise;
  // The theme's own print preparation (sphinx-togglebutton opens folded admonitions), then
  // every <details> (hidden cells) open.
  window.dispatchEvent(new Event('beforeprint'));
  document.querySelectorAll('details').forEach(el => { el.open = true; });
  await document.fonts.ready;
  await new Promise(done => setTimeout(done, 500));  // toggle transitions
  return {
    formulas: formulas.length,
    mathjax: Boolean(startup && startup.promise),
    unrendered: formulas.filter(el => !el.querySelector('mjx-container')).map(text),
    mathErrors: Array.from(document.querySelectorAll('mjx-merror')).map(text),
    brokenImages: imgs.filter(img => img.naturalWidth === 0).map(img => img.getAttribute('src')),
    chapters: document.querySelectorAll('span[id^="document-"]').length,
    // Elements with Japanese text, marked for the font check (CSS.getPlatformFontsForNode).
    japanese: (() => {
      const marked = new Set();
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      while (walker.nextNode() && marked.size < 50) {
        const node = walker.currentNode;
        if (/[\u3040-\u30ff]/.test(node.nodeValue)) marked.add(node.parentElement);
      }
      marked.forEach(el => el.setAttribute('data-print-ja', ''));
      return marked.size;
    })(),
  };
}
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


def find_chromium() -> str | None:
    """The system Chromium: ``$LANGLAB_CHROMIUM``, ``chromium`` or ``chromium-browser``."""
    for candidate in (os.environ.get("LANGLAB_CHROMIUM"), shutil.which("chromium"),
                      shutil.which("chromium-browser"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on a free localhost port from a thread; yields its origin URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def japanese_fonts(page) -> list[str]:
    """The system fonts Chromium draws the marked Japanese text with (DevTools CSS domain)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    nodes = cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": "[data-print-ja]"})
    families = set()
    for node in nodes["nodeIds"]:
        for font in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]:
            families.add(font["familyName"])
    cdp.detach()
    return sorted(families)


def start_page(site: Path) -> str:
    """The single page: ``index.html``, or the page it redirects to (Jupyter Book's root)."""
    refresh = re.search(r'http-equiv="refresh" content="[^"]*url=([^"]+)"',
                        (site / "index.html").read_text(), flags=re.I)
    return refresh.group(1).strip() if refresh else "index.html"


def print_book(site: Path, pdf: Path, *, chromium: str | None = None,
               title: str = "What a network hears first") -> dict:
    """Print ``site/index.html`` (a single-page build) to ``pdf``; returns the page findings.

    Raises
    ------
    RuntimeError
        When a formula is not typeset, an image did not load or the page logs an error.
    """
    from playwright.sync_api import sync_playwright

    site = Path(site).resolve()
    if not (site / "index.html").is_file():
        raise FileNotFoundError(f"{site / 'index.html'} does not exist: build the single page "
                                "first (jupyter-book build book --builder singlehtml)")
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("no Chromium found (apt-get install chromium, or set "
                                "LANGLAB_CHROMIUM to its path)")
    errors: list[str] = []
    # Playwright gives the browser a fresh temporary profile.
    with serve(site) as origin, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            page.set_default_timeout(TIMEOUT_MS)
            page.route("**/*", lambda route: route.continue_()
                       if route.request.url.startswith((origin + "/", "data:", "blob:"))
                       else route.abort())
            page.on("pageerror", lambda exc: errors.append(f"uncaught exception: {exc}"))
            page.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}")
                    if msg.type == "error" and "Failed to load resource" not in msg.text else None)
            page.on("response", lambda res: errors.append(f"HTTP {res.status}: {res.url}")
                    if res.status >= 400 and not res.url.endswith(IGNORED_404) else None)
            page.goto(f"{origin}/{start_page(site)}", wait_until="load")
            page.add_style_tag(content=PRINT_CSS)
            found = page.evaluate(PREPARE)
            found["japanese_fonts"] = japanese_fonts(page)
            problems = list(errors)
            if found["formulas"] and not found["mathjax"]:
                problems.append(f"{found['formulas']} formulas but MathJax did not load")
            problems += [f"formula not typeset: {t!r}" for t in found["unrendered"]]
            problems += [f"TeX error: {t!r}" for t in found["mathErrors"]]
            problems += [f"image did not load: {src}" for src in found["brokenImages"]]
            if found["japanese"] and not any(CJK_FONT.search(f) for f in found["japanese_fonts"]):
                problems.append(f"Japanese text is drawn in {found['japanese_fonts']}, no CJK font "
                                "(apt-get install fonts-noto-cjk)")
            if problems:
                raise RuntimeError("; ".join(problems[:5]) + (
                    f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
            pdf.parent.mkdir(parents=True, exist_ok=True)
            partial = pdf.with_name(pdf.name + ".partial")
            page.emulate_media(media="print")
            page.pdf(path=str(partial), format="A4", print_background=True,
                     prefer_css_page_size=True, outline=True, tagged=True,
                     display_header_footer=True, header_template="<span></span>",
                     footer_template=(
                         '<div style="font-size:8px;width:100%;text-align:center;'
                         f'color:#555">{title} &middot; <span class="pageNumber"></span>'
                         ' / <span class="totalPages"></span></div>'))
            partial.replace(pdf)  # atomic: a killed print leaves no truncated PDF
            return found
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="the single-page build (_build/singlehtml)")
    parser.add_argument("pdf", type=Path, help="the PDF to write")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        found = print_book(args.site, args.pdf)
    except (RuntimeError, FileNotFoundError) as error:
        print(f"printbook: {error}", file=sys.stderr)
        return 1
    report = {"pdf": args.pdf.name, "seconds": round(time.monotonic() - started, 1),
              **{key: found[key] for key in ("formulas", "chapters", "japanese", "japanese_fonts")}}
    args.pdf.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"printbook: {args.pdf} ({args.pdf.stat().st_size / 1e6:.1f} MB; {found['formulas']} "
          f"formulas typeset; Japanese in {', '.join(found['japanese_fonts'])}) in "
          f"{report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
