"""langlab.book: glue a dict, labels and colours, "mean [low, high]", table rows."""
import jupytext
import numpy as np
import pandas as pd
import pytest
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


def test_palette_is_one_colour_per_condition_in_every_figure():
    everything = book.palette()
    assert set(everything) >= {"none", "es", "it", "ja", "en", "noise", "shuffled", "reversed",
                               "untrained", "input"}
    # a condition keeps its colour whatever else is plotted, and whatever the order
    assert book.palette(["ja", "es"])["es"] == book.palette(["es"])["es"] == everything["es"]
    assert book.palette(["es"])["es"] == pytest.approx((0.0, 0x72 / 255, 0xB2 / 255))
    assert len(set(everything.values())) == len(everything)
    # an unknown condition gets a spare colour, not another condition's, and keeps it
    extra = book.palette(["none", "test_only_fr"])
    assert extra["test_only_fr"] not in everything.values()
    assert book.palette(["test_only_fr"]) == {"test_only_fr": extra["test_only_fr"]}
    assert book.palette(["test_only_de"])["test_only_de"] != extra["test_only_fr"]


def test_representations_take_no_language_colour():
    colours = book.representation_palette()
    assert {"h", "c", "latent", "mel_stats", "untrained"} <= set(colours)
    languages = {book.palette([code])[code] for code in ("es", "it", "ja", "en")}
    assert not languages & set(colours.values())
    assert colours["untrained"] == book.palette(["untrained"])["untrained"]  # one baseline, one colour
    assert colours["mel_stats"] == book.palette(["input"])["input"]
    with pytest.raises(ParameterError, match="'x'"):
        book.representation_palette(["h", "x"])
    with pytest.raises(ParameterError, match="#RRGGBB"):
        book.rgb("blue")


def test_colour_difference_matches_published_ciede2000_values():
    """Sharma, Wu and Dalal (2005), Table 1: pairs 1, 7, 17 and 34."""
    pairs = [((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
             ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
             ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
             ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082)]
    for lab1, lab2, expected in pairs:
        assert float(book.delta_e(np.array(lab1), np.array(lab2))) == pytest.approx(expected, abs=1e-4)
    # white against black, and a colour against itself
    white, black = book.lab(["#FFFFFF", "#000000"])
    assert float(book.delta_e(white, black)) == pytest.approx(100.0, abs=0.01)
    assert float(book.delta_e(white, white)) == 0.0


def test_colour_blind_simulation_merges_red_and_green():
    """Deuteranopes barely tell red from green; blue against orange stays apart for everyone."""
    red_green = {"red": "#FF0000", "green": "#00A000"}
    assert book.closest_pair(red_green)[3] in ("protan", "deutan")
    assert book.closest_pair(red_green)[0] < 0.4 * float(
        book.delta_e(*book.lab(list(red_green.values()))))
    assert book.closest_pair({"blue": "#0072B2", "orange": "#E69F00"})[0] > 30


#: Least CIEDE2000 difference allowed between colours, for normal vision and simulated full
#: protanopia, deuteranopia and tritanopia (Machado et al. 2009). Okabe and Ito's eight
#: colours themselves come to about 10 at full severity.
MIN_CONDITION_DISTANCE = 11.0
MIN_ANY_DISTANCE = 7.0
MIN_SPANISH_JAPANESE = 40.0


def test_palette_colours_stay_apart_for_colour_blind_readers():
    conditions = book.CONDITION_COLOURS
    distance, a, b, vision = book.closest_pair(conditions)
    assert distance >= MIN_CONDITION_DISTANCE, f"{a} and {b} look alike ({vision}: {distance:.1f})"
    spanish_japanese = book.closest_pair({"es": conditions["es"], "ja": conditions["ja"]})
    assert spanish_japanese[0] >= MIN_SPANISH_JAPANESE, spanish_japanese
    # the representation kinds among themselves and against every condition (those that are
    # baselines share their baseline's colour on purpose)
    kinds = {name: colour for name, colour in book.REPRESENTATION_COLOURS.items()
             if colour not in conditions.values() and name != "h_pooled"}
    assert book.REPRESENTATION_COLOURS["h_pooled"] == kinds["h"]
    for pair in (book.closest_pair(kinds), book.closest_pair(kinds, others=conditions)):
        assert pair[0] >= MIN_ANY_DISTANCE, f"{pair[1]} and {pair[2]} look alike ({pair[3]}: {pair[0]:.1f})"
    spare = dict(enumerate(book.SPARE_COLOURS))
    assert book.closest_pair({**conditions, **kinds}, others={f"spare {k}": v for k, v in spare.items()})[0] > 5


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


def test_player_keeps_levels_instead_of_normalising():
    sr = 8000
    t = np.arange(sr // 4) / sr
    loud, quiet = 0.5 * np.sin(2 * np.pi * 440 * t), 0.05 * np.sin(2 * np.pi * 440 * t)
    assert book.level_dbfs(loud) == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.01)
    assert book.level_dbfs(loud) - book.level_dbfs(quiet) == pytest.approx(20.0, abs=0.01)
    assert book.level_dbfs(np.zeros(10)) == -np.inf

    def samples(audio):  # the int16 PCM of the WAV IPython builds
        return np.frombuffer(audio.data[44:], dtype="<i2").astype(float) / 32767

    played_loud, played_quiet = samples(book.player(loud, sr=sr)), samples(book.player(quiet, sr=sr))
    assert np.abs(played_loud).max() == pytest.approx(0.5, abs=1e-3)   # not scaled to full scale
    assert np.abs(played_quiet).max() == pytest.approx(0.05, abs=1e-3)
    assert np.abs(samples(book.player(quiet, sr=sr, gain_db=20))).max() == pytest.approx(0.5, abs=1e-3)


def test_common_gain_plays_every_clip_without_clipping():
    assert book.common_gain([0.5 * np.ones(4), 0.1 * np.ones(4)]) == 0.0
    gain = book.common_gain([2.0 * np.ones(4), 0.1 * np.ones(4)], headroom_db=1.0)
    assert 2.0 * 10 ** (gain / 20) == pytest.approx(10 ** (-1 / 20))
    with pytest.raises(ParameterError, match="peaks at 2.000.*lower the gain"):
        book.player(np.array([2.0, -1.0]), sr=8000)
    book.player(np.array([2.0, -1.0]), sr=8000, gain_db=gain)  # fits once the gain is applied
    with pytest.raises(ParameterError, match="NaN"):
        book.player(np.array([np.nan, 0.1]), sr=8000)
    with pytest.raises(ParameterError, match="at least one"):
        book.common_gain([])


def test_chapters_take_colours_from_the_palette(root):
    """No page colours lines with matplotlib's cycle ("C0", f"C{i}") or a named seaborn palette:
    those give Spanish another colour on every page. Colours come from book.palette and
    book.representation_palette (greys where a colour means no language or condition)."""
    import re

    cycle = re.compile(r"""(colou?r|edgecolors?|facecolors?|ecolor)\s*=\s*f?["']C(\d|\{)""")
    named = re.compile(r"""color_palette\(|palette\s*=\s*["']""")
    found = [f"{page.name}:{n}: {line.strip()}" for page in sorted((root / "book").glob("*.md"))
             for n, line in enumerate(page.read_text().splitlines(), start=1)
             if cycle.search(line) or named.search(line)]
    assert not found, "colours not from langlab.book:\n" + "\n".join(found)


def test_mel_image_draws_hz_on_a_mel_scale_and_names_a_bad_shape():
    import matplotlib.pyplot as plt

    from langlab.presets import get_preset

    features = get_preset("smoke").features
    S = np.random.default_rng(0).random((features.n_mels, 50))
    fig, ax = plt.subplots()
    image = book.mel_image(ax, S, features=features)
    assert ax.get_ylabel() == "frequency (Hz, mel scale)" and ax.get_xlabel() == "time (s)"
    assert ax.get_yscale() == "symlog"  # librosa's mel axis
    assert image.get_clim() == (0.0, 1.0)
    with pytest.raises(ParameterError, match="n_mels"):
        book.mel_image(ax, S.T, features=features)
    plt.close(fig)
