"""langlab.book: glue a dict, labels and colours, "mean [low, high]", table rows."""
import jupytext
import numpy as np
import pandas as pd
import pytest
import seaborn as sns
from nbclient import NotebookClient

from langlab import book
from langlab.errors import DataError, ParameterError


def test_condition_labels_overrides_keep_the_rest():
    labels = book.condition_labels(untrained="untrained encoder")
    assert labels["untrained"] == "untrained encoder"
    assert labels["it"] == "Italian" and labels["noise"] == "noise control"
    assert book.CONDITION_LABELS["untrained"] == "untrained"        # the shared dict unchanged
    with pytest.raises(ParameterError, match="noise"):
        book.condition_labels(noise=3)


def test_palette_is_stable_per_condition():
    colourblind = sns.color_palette("colorblind", 10)
    five = book.palette(["none", "es", "it", "ja", "noise"])
    assert five["none"] == pytest.approx(colourblind[0])
    assert five["noise"] == pytest.approx(colourblind[4])
    # a condition keeps its colour whatever else is plotted, and whatever the order
    assert book.palette(["noise", "untrained"])["noise"] == five["noise"]
    assert book.palette(["untrained"])["untrained"] == pytest.approx(colourblind[5])
    # an unknown condition gets the next colour, not another condition's
    extra = book.palette(["none", "fr"])
    assert extra["fr"] not in book.palette().values()


def test_plain_turns_numpy_scalars_into_python_numbers():
    assert type(book.plain(np.float64(0.25))) is float
    assert type(book.plain(np.float32(0.5))) is float
    assert type(book.plain(np.int64(3))) is int
    assert type(book.plain(np.bool_(True))) is bool
    assert book.plain("text") == "text"
    assert type(book.plain(3)) is int and type(book.plain(True)) is bool


@pytest.mark.parametrize("args, kwargs, expected", [
    ((61.234, 57.31, 65.06), {}, "61.2 [57.3, 65.1]"),
    ((0.61234, 0.5731, 0.6506), {"percent": True}, "61.2 [57.3, 65.1]"),
    ((0.012, -0.004, 0.028), {"percent": True, "signed": True}, "+1.2 [-0.4, +2.8]"),
    ((412.4, 380.2, 444.9), {"decimals": 0}, "412 [380, 445]"),
    ((0.01234, 0.01, 0.015), {"decimals": 4}, "0.0123 [0.0100, 0.0150]"),
    ((0.6, np.nan, np.nan), {"percent": True}, "60.0"),           # one seed: no interval
])
def test_ci_text(args, kwargs, expected):
    assert book.ci_text(*args, **kwargs) == expected


def test_ci_text_matches_an_f_string():
    """The book's tables were written with f-strings; ci_text must round the same way."""
    for value in (0.125, 0.375, 2.675, 1.005, 99.95):
        assert book.ci_text(value, value, value, decimals=2) == (
            f"{value:.2f} [{value:.2f}, {value:.2f}]")
        assert book.ci_text(value, 0, 1, percent=True) .startswith(f"{100 * float(value):.1f} ")


def test_ci_text_bad_decimals():
    with pytest.raises(ParameterError, match="decimals"):
        book.ci_text(1, 0, 2, decimals=-1)
    with pytest.raises(ParameterError, match="decimals"):
        book.ci_text(1, 0, 2, decimals=True)


def test_row_ci_text():
    row = pd.Series({"mean": 0.6, "ci_low": 0.55, "ci_high": 0.65, "n_seeds": 5})
    assert book.row_ci_text(row, percent=True) == "60.0 [55.0, 65.0]"
    with pytest.raises(ParameterError, match="ci_high"):
        book.row_ci_text({"mean": 1, "ci_low": 0})


@pytest.fixture
def results():
    return pd.DataFrame({"condition": ["none", "none", "it", "untrained"],
                         "representation": ["h", "c", "c", "c"],
                         "balanced_accuracy": [0.5, 0.6, 0.7, 0.8]})


def test_select(results):
    assert list(book.select(results, condition="none")["balanced_accuracy"]) == [0.5, 0.6]
    assert list(book.select(results, representation="c", condition=["it", "untrained"])
                ["balanced_accuracy"]) == [0.7, 0.8]
    assert book.select(results, condition="ja").empty
    with pytest.raises(ParameterError, match="no column 'task'"):
        book.select(results, task="binary")


def test_select_one(results):
    assert book.select_one(results, condition="none", representation="c")["balanced_accuracy"] == 0.6
    with pytest.raises(DataError, match="found 2"):
        book.select_one(results, condition="none")
    with pytest.raises(DataError, match="found 0"):
        book.select_one(results, condition="ja")


def test_glue_all_in_a_kernel(tmp_path):
    """Glued values arrive in the notebook as plain numbers, not displayed, with their names."""
    md = tmp_path / "glue.md"
    md.write_text("---\njupytext:\n  text_representation:\n    format_name: myst\n"
                  "kernelspec:\n  name: python3\n  display_name: Python 3\n  language: python\n---\n"
                  "```{code-cell} ipython3\nimport numpy as np\nfrom langlab import book\n"
                  "book.glue_all({'a': np.float64(0.5), 'n': np.int64(3), 's': 'text', "
                  "'flag': np.bool_(False)}, prefix='x_')\n"
                  "book.glue_markdown({'md': 'a *phrase*'})\n```\n")
    notebook = jupytext.read(md, fmt="md:myst")
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    glued = {o.metadata["scrapbook"]["name"]: o.data for o in outputs}
    assert set(glued) == {"x_a", "x_n", "x_s", "x_flag", "md"}
    assert glued.pop("md")["application/papermill.record/text/markdown"] == "a *phrase*"
    plain = {name: data["application/papermill.record/text/plain"] for name, data in glued.items()}
    assert plain == {"x_a": "0.5", "x_n": "3", "x_s": "'text'", "x_flag": "False"}


def test_glue_all_bad_input():
    with pytest.raises(ParameterError, match="dict"):
        book.glue_all([("a", 1)])
    with pytest.raises(ParameterError, match="non-empty"):
        book.glue_all({"": 1})
    with pytest.raises(ParameterError, match="needs text for 'x'"):
        book.glue_markdown({"x": 1.5})
