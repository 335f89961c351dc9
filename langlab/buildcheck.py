"""Checks after ``jupyter-book build``: fail on execution reports, print per-chapter run times.

Used by ``make book`` and ``.ci/run`` (``python -m langlab.buildcheck _build``). Jupyter Book 1
writes a log to ``_build/html/reports/`` for each page whose execution failed, and may still
exit 0; this module turns any such log into a failure and prints it. It also prints how long
each chapter took to execute, read from the execution cache, so the time budget stays visible.
Chapters call :func:`claim` to fail their own execution when a sentence stops matching the
numbers it describes, and :func:`verdict_problems` fails the build when a page's glued verdict
is not one of :mod:`langlab.verdicts`' words or two pages glue different verdicts for one claim.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

#: Glued names that carry a verdict: ``verdict_<claim>`` or ``<prefix>_verdict_<claim>``.
_VERDICT_NAME = re.compile(r"(?:^|_)verdict_(?P<claim>\w+)$")
#: One claim glued under different names on different pages (page::name -> the claim's name in
#: Chapter 6, whose table every other page must agree with).
VERDICT_ALIASES = {
    "04_probing::verdict_c_above": "c_above_chance",
    "04_probing::verdict_h_above": "h_above_chance",
    "05_autoencoder::ae_verdict_ae_above_chance": "latent_above_chance",
    "05_autoencoder::ae_verdict_ae_learned": "latent_learned",
}


def claim(holds: bool, text: str) -> None:
    """Stop a chapter's execution when its prose says ``text`` but the numbers no longer
    support it (Chapters 4 and 5): the build then fails instead of the text going wrong."""
    if not holds:
        raise AssertionError(f"the chapter's text no longer matches its numbers: {text}")


def execution_times(build_dir: Path) -> list[tuple[str, float]]:
    """(chapter, seconds) for every notebook in the build's execution cache."""
    cache_dir = Path(build_dir) / ".jupyter_cache"
    if not cache_dir.exists():
        return []
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_dir))
    times = {}
    for record in cache.list_cache_records():
        seconds = (record.data or {}).get("execution_seconds")
        if seconds is not None:
            times[Path(record.uri).name] = float(seconds)
    return sorted(times.items())


def failed_reports(build_dir: Path) -> list[Path]:
    """Execution logs Jupyter Book left in ``<build>/html/reports`` (one per failed page)."""
    reports = Path(build_dir) / "html" / "reports"
    return sorted(p for p in reports.rglob("*") if p.is_file()) if reports.exists() else []


def verdict_problems(build_dir: Path) -> list[str]:
    """What is wrong with the verdicts the pages glue (issue 19): a value outside the verdict
    module's words (:data:`langlab.verdicts.LABELS`, or ``not tested``), or one claim judged
    differently on two pages (same claim name, or :data:`VERDICT_ALIASES`)."""
    from langlab.gluediff import glue_values
    from langlab.verdicts import LABELS, NOT_TESTED

    words = set(LABELS) | {NOT_TESTED}
    problems, seen = [], {}
    for key, values in sorted(glue_values(build_dir).items()):
        page, name = key.split("::", 1)
        match = _VERDICT_NAME.search(name)
        if not match:
            continue
        text = values.get("text/plain", "").strip().strip("'\"")
        if text not in words:
            problems.append(f"{key}: glued verdict {text!r} is not one of {sorted(words)}")
            continue
        claim_name = VERDICT_ALIASES.get(key, match.group("claim"))
        seen.setdefault(claim_name, []).append((key, text))
    for claim_name, found in sorted(seen.items()):
        if len({text for _, text in found}) > 1:
            problems.append(f"claim {claim_name!r} is judged differently: "
                            + ", ".join(f"{key} = {text!r}" for key, text in found))
    return problems


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    build_dir = Path(argv[0] if argv else "_build")
    times = execution_times(build_dir)
    if times:
        print("chapter execution times (from the execution cache):")
        for name, seconds in times:
            print(f"  {name:<40} {seconds:8.1f} s")
        print(f"  {'total':<40} {sum(s for _, s in times):8.1f} s")
    reports = failed_reports(build_dir)
    for report in reports:
        print(f"\n===== execution report: {report} =====", file=sys.stderr)
        print(report.read_text(errors="replace")[-20_000:], file=sys.stderr)
    if reports:
        print(f"book build FAILED: {len(reports)} page(s) raised during execution", file=sys.stderr)
        return 1
    verdicts = verdict_problems(build_dir)
    for problem in verdicts:
        print(f"verdict check: {problem}", file=sys.stderr)
    if verdicts:
        print(f"book build FAILED: {len(verdicts)} verdict problem(s) in the glued prose",
              file=sys.stderr)
        return 1
    if not (build_dir / "html" / "index.html").exists():
        print(f"book build FAILED: {build_dir}/html/index.html missing", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
