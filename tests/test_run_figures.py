"""The figures of ``langlab run``: real matplotlib renderings of a small results table."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from langlab import run_figures  # noqa: E402
from langlab.stats import mean_ci  # noqa: E402

CONDITIONS = ("none", "es", "it", "ja", "noise")
SEEDS = (0, 1, 2)


def results_tables(*, seeds=SEEDS) -> dict[str, pd.DataFrame]:
    """Tables shaped like a ``langlab run``'s (the columns the figures use, and a few more)."""
    rng = np.random.default_rng(0)
    lstm = pd.DataFrame([
        {"condition": c, "seed": s, "threshold": 0.02, "steps_to_threshold": 40 + 10 * i + s,
         "censored": c == "noise" and s == 0, "max_steps": 80, "key": f"k{i}{s}"}
        for i, c in enumerate(CONDITIONS) for s in seeds])
    curves = pd.DataFrame([
        {"condition": c, "step": step, "n_runs": len(seeds), "mean": 0.1 / (1 + step / (10 + i)),
         "ci_low": 0.08 / (1 + step / (10 + i)), "ci_high": 0.12 / (1 + step / (10 + i))}
        for i, c in enumerate(CONDITIONS) for step in range(0, 60, 10)])
    probes = pd.DataFrame([
        {"condition": c, "seed": s, "representation": rep, "task": task, "probe": probe,
         "balanced_accuracy": float(np.clip(0.6 + 0.05 * rng.standard_normal(), 0, 1)),
         "note": ""}
        for c in CONDITIONS for s in seeds for rep in ("h", "c", "mel_mean")
        for task in ("binary", "control") for probe in ("linear", "mlp")])
    ae = pd.DataFrame([{"condition": c, "seed": s, "val_loss": 0.01 + 0.001 * s,
                        "train_seconds": 1.0} for c in CONDITIONS for s in seeds])
    arms = [("none", "none", 0, False), ("it x1", "it", 1, False), ("it x4", "it", 4, False),
            ("ja x4", "ja", 4, False), ("it x4 reset", "it", 4, True)]
    design = pd.DataFrame([
        {"arm": a, "condition": c, "pretrain_epochs": e, "pretrain_steps": 4 * e, "reset_optimizer": r,
         "seed": s, "val_loss_auc": 0.02 * (1 - 0.05 * e ** 0.5) * (1 + 0.02 * rng.standard_normal())}
        for a, c, e, r in arms for s in seeds])
    return {"lstm_training": lstm, "lstm_curves": curves, "lstm_design": design, "lstm_probes": probes,
            "ae_probes": probes.replace({"h": "latent"}).query("representation != 'c'"),
            "ae_training": ae}


@pytest.fixture
def drawn_axes(monkeypatch):
    """Every Axes that ``run_figures.figures`` draws, kept open after the PNG is saved."""
    axes = []
    close = plt.close

    def keep(fig=None):
        if fig is not None and hasattr(fig, "axes"):
            axes.extend(fig.axes)
        else:
            close(fig)

    monkeypatch.setattr(plt, "close", keep)
    yield axes
    close("all")


def test_every_figure_is_a_real_png():
    drawn = run_figures.figures(results_tables(), preset="smoke")
    assert set(drawn) == set(run_figures.DESCRIPTIONS)
    for name, png in drawn.items():
        image = mpimg.imread(io.BytesIO(png), format="png")
        height, width = image.shape[:2]
        assert width > 500 and height > 300, (name, image.shape)
        assert image[..., :3].std() > 0.05, f"{name} looks blank"


def test_titles_name_the_preset_and_seeds_and_legends_sit_outside(drawn_axes):
    run_figures.figures(results_tables(), preset="book")
    assert len(drawn_axes) == len(run_figures.DESCRIPTIONS)
    for ax in drawn_axes:
        assert "preset 'book'" in ax.get_title() and "3 seeds" in ax.get_title(), ax.get_title()
        legend = ax.get_legend()
        assert legend is not None, ax.get_title()
        ax.figure.canvas.draw()
        inside = ax.get_window_extent()
        box = legend.get_window_extent()
        assert box.x0 >= inside.x1, f"legend overlaps the data area: {ax.get_title()!r}"


def test_intervals_over_seeds_are_drawn(drawn_axes):
    tables = results_tables()
    run_figures.figures(tables, preset="smoke")
    by_title = {ax.get_title().split("\n")[0]: ax for ax in drawn_axes}
    steps = by_title["LSTM: Spanish training steps to the loss threshold"]
    # The whiskers of the first condition span its t-interval over the seeds.
    none = tables["lstm_training"].query("condition == 'none'")["steps_to_threshold"]
    mean, low, high = mean_ci(none.to_numpy(float))
    segments = [seg for coll in steps.collections if hasattr(coll, "get_segments")
                for seg in coll.get_segments()]
    spans = {(round(float(s[0][1]), 6), round(float(s[1][1]), 6)) for s in segments if len(s) == 2}
    assert (round(low, 6), round(high, 6)) in spans, spans
    probes = by_title["Spanish or not, read from the LSTM states"]
    # One error bar per (condition, representation) bar.
    bars = [p for p in probes.patches if p.get_height() > 0]
    assert len(bars) == len(CONDITIONS) * 3
    curves = by_title["LSTM learning curves (mean over seeds)"]
    assert len([c for c in curves.collections if c.get_paths()]) >= len(CONDITIONS)  # bands


def test_one_seed_says_there_is_no_interval(drawn_axes):
    run_figures.figures(results_tables(seeds=(0,)), preset="smoke")
    assert drawn_axes and all("1 seed, no interval" in ax.get_title() for ax in drawn_axes)


def test_missing_tables_give_no_figure_and_write_figures_explains_each(tmp_path):
    tables = results_tables()
    partial = {"lstm_training": tables["lstm_training"], "ae_probes": tables["ae_probes"].iloc[:0]}
    written = run_figures.write_figures(tmp_path, partial, preset="smoke")
    assert written == ["lstm_steps_to_threshold.png", "README.md"]
    readme = (tmp_path / "README.md").read_text()
    assert "`lstm_steps_to_threshold.png`" in readme and "lstm_training.csv" in readme
    assert "Seeds: 3." in readme and "ae_probes" not in readme
    assert run_figures.write_figures(tmp_path / "none", {}, preset="smoke") == []


def test_figures_and_readme_repeat_exactly(tmp_path):
    first = run_figures.write_figures(tmp_path / "a", results_tables(), preset="smoke")
    second = run_figures.write_figures(tmp_path / "b", results_tables(), preset="smoke")
    assert first == second
    for name in first:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
