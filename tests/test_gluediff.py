"""langlab.gluediff reads glued values from executed notebooks and compares two dumps."""
import json

import nbformat
import pytest
from nbclient import NotebookClient

from langlab import gluediff


def _executed(folder, values: dict) -> None:
    """A notebook that glues ``values``, executed in a real kernel, where a build keeps it."""
    cells = ["from myst_nb import glue"] + [f"glue({k!r}, {v!r}, display=False)" for k, v in values.items()]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    out = folder / "jupyter_execute" / "book"
    out.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out / "03_lstm.ipynb")


@pytest.mark.slow
def test_dump_and_compare(tmp_path, capsys):
    before, after = tmp_path / "a", tmp_path / "b"
    _executed(before, {"steps": 12.5, "label": "Spanish"})
    _executed(after, {"steps": 12.25, "label": "Spanish", "extra": 1})
    a, b = gluediff.glue_values(before), gluediff.glue_values(after)
    assert a["03_lstm::steps"]["text/plain"] == "12.5"
    assert gluediff.compare(a, a) == []
    lines = gluediff.compare(a, b)
    assert lines == ["new: 03_lstm::extra", "differs: 03_lstm::steps [text/plain]: '12.5' -> '12.25'"]
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    assert gluediff.main(["compare", str(tmp_path / "a.json"), str(tmp_path / "a.json")]) == 0
    assert gluediff.main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 1
    assert "differs: 03_lstm::steps" in capsys.readouterr().out
