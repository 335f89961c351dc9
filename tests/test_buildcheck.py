"""langlab.buildcheck's verdict check (issue 19): the glued verdicts of a build must use the verdict
module's words, and one claim must be judged alike on every page."""
from __future__ import annotations

import json

from langlab.buildcheck import main, verdict_problems


def glued(name: str, text: str) -> dict:
    """One glue output as Jupyter Book keeps it in ``<chapter>.glue.json``."""
    return {"output_type": "display_data", "metadata": {"scrapbook": {"name": name}},
            "data": {"application/papermill.record/text/plain": repr(text)}}


def build(tmp_path, pages: dict[str, dict[str, str]]):
    """A build folder whose pages glue ``{page: {name: text}}`` (and an index page)."""
    folder = tmp_path / "_build"
    (folder / "jupyter_execute").mkdir(parents=True)
    (folder / "html").mkdir()
    (folder / "html" / "index.html").write_text("<html></html>")
    for page, values in pages.items():
        outputs = {name: glued(name, text) for name, text in values.items()}
        (folder / "jupyter_execute" / f"{page}.glue.json").write_text(json.dumps(outputs))
    return folder


def test_agreeing_verdicts_pass(tmp_path):
    folder = build(tmp_path, {
        "04_probing": {"verdict_c_learned": "contradicted", "verdict_c_above": "reproduced",
                       "other_value": "whatever"},
        "06_discussion": {"verdict_c_learned": "contradicted", "verdict_c_above_chance": "reproduced",
                          "verdict_it_vs_ja": "not reproduced", "verdict_x": "not tested"}})
    assert verdict_problems(folder) == []
    assert main([str(folder)]) == 0


def test_a_word_outside_the_vocabulary_fails(tmp_path, capsys):
    folder = build(tmp_path, {"06_discussion": {"verdict_it_vs_none": "confirmed"}})
    problems = verdict_problems(folder)
    assert len(problems) == 1 and "'confirmed'" in problems[0] and "06_discussion::verdict_it_vs_none" in problems[0]
    assert main([str(folder)]) == 1
    assert "verdict problem" in capsys.readouterr().err


def test_one_claim_judged_differently_on_two_pages_fails(tmp_path):
    folder = build(tmp_path, {
        "04_probing": {"verdict_h_above": "reproduced"},      # an alias of h_above_chance
        "06_discussion": {"verdict_h_above_chance": "inconclusive"}})
    problems = verdict_problems(folder)
    assert len(problems) == 1 and "h_above_chance" in problems[0]
    assert "04_probing::verdict_h_above" in problems[0] and "06_discussion::verdict_h_above_chance" in problems[0]
