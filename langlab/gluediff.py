"""Every glued value of a built book, dumped and compared: proof that a change left the book's
numbers alone (appendix "Reproducibility").

    python -m langlab.gluediff dump _build > before.json      # after a build
    python -m langlab.gluediff compare before.json after.json  # exit 1 on any difference

Values are read from the build's ``jupyter_execute`` folder, where Jupyter Book keeps each
chapter's glue outputs (``<chapter>.glue.json``; executed notebooks are read too): each
``glue(name, value)`` leaves a display output whose metadata names it, with the value's text
(``text/plain``), and where it has them its HTML, Markdown or image forms.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

GLUE_PREFIX = "application/papermill.record/"


def _outputs(build_dir: Path):
    """(chapter, output) for every glue output: Jupyter Book keeps them in
    ``jupyter_execute/<chapter>.glue.json``; a plain executed notebook has them in its cells."""
    for file in sorted((build_dir / "jupyter_execute").rglob("*.glue.json")):
        for output in json.loads(file.read_text()).values():
            yield file.name.removesuffix(".glue.json"), output
    for file in sorted((build_dir / "jupyter_execute").rglob("*.ipynb")):
        for cell in json.loads(file.read_text()).get("cells", []):
            for output in cell.get("outputs", []):
                yield file.stem, output


def glue_values(build_dir: str | Path) -> dict[str, dict[str, str]]:
    """``{"<chapter>::<name>": {mime: text}}`` for every glued value of the build; images are
    given by the SHA-256 of their base64 text."""
    found: dict[str, dict[str, str]] = {}
    for chapter, output in _outputs(Path(build_dir)):
        record = output.get("metadata", {}).get("scrapbook")
        if not record:
            continue
        values = {}
        for mime, data in output.get("data", {}).items():
            mime = mime.removeprefix(GLUE_PREFIX)
            text = "".join(data) if isinstance(data, list) else data
            if not isinstance(text, str):
                text = json.dumps(text, sort_keys=True)
            if mime.startswith("image/"):
                text = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
            values[mime] = text
        found[f"{chapter}::{record['name']}"] = values
    return found


def compare(before: dict, after: dict) -> list[str]:
    """One line per glued value that is missing, new, or different between two dumps."""
    lines = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            lines.append(f"missing after: {key}")
        elif key not in before:
            lines.append(f"new: {key}")
        elif before[key] != after[key]:
            for mime in sorted(set(before[key]) | set(after[key])):
                a, b = before[key].get(mime), after[key].get(mime)
                if a != b:
                    lines.append(f"differs: {key} [{mime}]: {str(a)[:80]!r} -> {str(b)[:80]!r}")
    return lines


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 2 and argv[0] == "dump":
        json.dump(glue_values(argv[1]), sys.stdout, indent=1, sort_keys=True)
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        before, after = (json.loads(Path(f).read_text()) for f in argv[1:])
        lines = compare(before, after)
        print("\n".join(lines) if lines else f"identical: all {len(before)} glued values")
        return 1 if lines else 0
    print("usage: python -m langlab.gluediff dump BUILD_DIR | compare BEFORE.json AFTER.json",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
