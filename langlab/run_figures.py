"""The figures that ``langlab run`` writes beside its results tables (Real-data appendix).

Each figure shows every seed as a point and, per pre-training condition, the mean over seeds
with its 95 % Student-t interval (:func:`langlab.stats.mean_ci`, as in Chapters 3-5). Legends sit
outside the axes, so they never cover data, and every title names the preset and the number of
seeds. :func:`write_figures` writes the PNG files and a ``README.md`` that says what each one
shows and which table it is drawn from.
"""
from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from langlab import book
from langlab.store import atomic_write_bytes

#: What each figure shows (``README.md``); a figure is drawn only when its table has the data.
DESCRIPTIONS = {
    "lstm_steps_to_threshold": (
        "lstm_training.csv",
        "Spanish training steps each LSTM needed until its validation loss fell below the "
        "threshold, per pre-training condition. Points: one run (seed); hollow points did not "
        "reach the threshold and show their step budget (censored, so the mean is a lower "
        "bound). Black square and whiskers: mean over seeds and its 95 % Student-t interval."),
    "lstm_learning_curves": (
        "lstm_curves.csv",
        "Validation MSE of the LSTM during Spanish training, per pre-training condition: mean "
        "over seeds (line) and its 95 % Student-t interval (band; floored at a tenth of the "
        "mean for the logarithmic axis). Dashed: the loss threshold of the steps figure."),
    "lstm_dose_response": (
        "lstm_design.csv",
        "Each arm of Chapter 3's design (pre-training condition, dose, optimizer reset) against no "
        "pre-training, paired by seed: the relative change of the mean validation loss over the "
        "Spanish budget (the primary endpoint; below zero is faster learning) with its 95 % "
        "paired t-interval, against the pre-training steps (log axis). Lines join a condition's "
        "doses; open markers: Adam reset after pre-training."),
    "lstm_probes_accuracy": (
        "lstm_probes.csv",
        "Balanced accuracy of the linear probe that tells Spanish from the other languages, "
        "read from the LSTM's hidden (h) and cell (c) states and from the baselines, per "
        "pre-training condition. Bars: mean over seeds; whiskers: 95 % Student-t interval; "
        "points: single seeds. Dashed: chance (0.5)."),
    "ae_probes_accuracy": (
        "ae_probes.csv",
        "Balanced accuracy of the linear probe that tells Spanish from the other languages, "
        "read from the convolutional autoencoder's latent code and from the baselines, per "
        "pre-training condition. Bars: mean over seeds; whiskers: 95 % Student-t interval; "
        "points: single seeds. Dashed: chance (0.5)."),
    "ae_val_loss": (
        "ae_training.csv",
        "Held-out Spanish reconstruction error (MSE) of the autoencoder after training, per "
        "pre-training condition. Points: one run (seed); black square and whiskers: mean over "
        "seeds and its 95 % Student-t interval."),
}
#: Probe rows the accuracy figures show: the binary task (Spanish or not), linear probe.
PROBE_SELECTION = (("task", "binary"), ("probe", "linear"))
#: Legend placement: to the right of the axes, outside the data.
LEGEND = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0,
          "fontsize": "small", "frameon": False}


def _seeds(table) -> int:
    """Number of seeds in ``table``: distinct ``seed`` values (rows per condition without one)."""
    if "seed" in table:
        return int(table["seed"].nunique())
    if "n_runs" in table:
        return int(table["n_runs"].max())
    return int(table.groupby("condition").size().max())


def _title(ax, what: str, *, preset: str, n_seeds: int) -> None:
    seeds = f"{n_seeds} seed" + ("" if n_seeds == 1 else "s")
    if n_seeds < 2:
        seeds += ", no interval"
    ax.set_title(f"{what}\npreset '{preset}', {seeds} (95 % interval over seeds)", fontsize=10)


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    from langlab.stats import mean_ci
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    return mean_ci(values)


def _strip(ax, table, metric: str, *, censored: str | None = None) -> None:
    """Seeds as points per condition, the mean and its interval in black; censored runs hollow."""
    order = list(dict.fromkeys(table["condition"]))
    colours = book.palette(order)  # one colour per condition, as in the book
    for i, cond in enumerate(order):
        part = table[table["condition"] == cond]
        y = part[metric].astype(float).to_numpy()
        x = i + np.linspace(-0.15, 0.15, len(y)) if len(y) > 1 else np.full(len(y), float(i))
        hollow = (part[censored].astype(bool).to_numpy() if censored and censored in part
                  else np.zeros(len(y), bool))
        if (~hollow).any():
            ax.scatter(x[~hollow], y[~hollow], color=colours[cond], alpha=0.7, zorder=3,
                       label="one seed")
        if hollow.any():
            ax.scatter(x[hollow], y[hollow], facecolors="none", edgecolors=colours[cond], zorder=3,
                       label="censored: did not reach the threshold")
        mean, low, high = _interval(y)
        ax.errorbar([i + 0.3], [mean], yerr=[[mean - low], [high - mean]] if np.isfinite(low)
                    else None, fmt="s", color="k", capsize=4, zorder=4,
                    label="mean, 95 % interval" if i == 0 else None)
    ax.set_xticks(range(len(order)), order)
    ax.set_xlim(-0.6, len(order) - 0.4)
    ax.set_xlabel("pre-training condition")
    ax.set_ylabel(metric.replace("_", " "))
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), **LEGEND)


def _dose(ax, table) -> None:
    """Every arm of a design against no pre-training (:func:`langlab.learning_speed.arm_effects`)
    by its pre-training steps."""
    from langlab.learning_speed import arm_effects
    effects = arm_effects(table)
    colours = book.palette(list(dict.fromkeys(effects["condition"])))
    for (cond, reset), part in effects.groupby(["condition", "reset_optimizer"], sort=False):
        part = part.sort_values("pretrain_steps")
        y = 100 * part["relative"].to_numpy(float)
        err = [y - 100 * part["low"].to_numpy(float), 100 * part["high"].to_numpy(float) - y]
        ax.errorbar(part["pretrain_steps"], y, yerr=err, fmt="--D" if reset else "-o", capsize=3,
                    color=colours[cond], mfc="white" if reset else colours[cond],
                    label=f"{cond}, Adam reset" if reset else cond)
    ax.axhline(0, color="k", lw=1)
    ax.set_xscale("log", base=2)
    steps = sorted(int(v) for v in effects["pretrain_steps"].unique())
    ax.set_xticks(steps, [str(v) for v in steps])
    ax.minorticks_off()
    ax.set_xlabel("pre-training optimizer steps")
    ax.set_ylabel("change against no pre-training (%)")
    ax.legend(title="pre-training", **LEGEND)


def _probe_bars(ax, table) -> bool:
    """Mean balanced accuracy of the binary linear probe per condition and representation,
    with intervals over seeds and the seeds as points; False when the table has none."""
    sel = table
    for column, value in PROBE_SELECTION:
        if column in sel:
            sel = sel[sel[column] == value]
    metric = "balanced_accuracy" if "balanced_accuracy" in sel else "accuracy"
    if not len(sel) or metric not in sel or "condition" not in sel:
        return False
    sel = sel[np.isfinite(sel[metric].astype(float))]
    if not len(sel):
        return False
    hue = "representation" if "representation" in sel else None
    order = list(dict.fromkeys(sel["condition"]))
    groups = list(dict.fromkeys(sel[hue])) if hue else [None]
    width = 0.8 / len(groups)
    for j, group in enumerate(groups):
        part = sel if group is None else sel[sel[hue] == group]
        x = np.arange(len(order)) + (j - (len(groups) - 1) / 2) * width
        stats = [_interval(part.loc[part["condition"] == c, metric].astype(float).to_numpy())
                 for c in order]
        means = np.array([s[0] for s in stats])
        err = np.array([[m - lo, hi - m] for m, lo, hi in stats]).T
        colour = (book.representation_palette([group])[group]
                  if group in book.REPRESENTATION_COLOURS else "0.5")
        ax.bar(x, means, width=width, label=str(group) if group is not None else metric,
               alpha=0.85, color=colour)
        ax.errorbar(x, means, yerr=np.nan_to_num(err), fmt="none", ecolor="k", capsize=3,
                    zorder=4)
        for xi, cond in zip(x, order):
            y = part.loc[part["condition"] == cond, metric].astype(float).to_numpy()
            ax.scatter(np.full(len(y), xi), y, s=9, color="k", alpha=0.5, zorder=5,
                       edgecolors="none")
    ax.axhline(0.5, color="k", ls="--", lw=1, label="chance")
    ax.set_xticks(range(len(order)), order, rotation=20)
    ax.set_xlabel("pre-training condition (or baseline)")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_ylim(0, 1)
    ax.legend(title=hue, **LEGEND)
    return True


def _curves(ax, curves, *, order: list[str], threshold: float | None) -> None:
    order = order + [c for c in dict.fromkeys(curves["condition"]) if c not in order]
    colours = book.palette(order)  # one colour per condition, as in the book
    for cond in order:
        part = curves[curves["condition"] == cond]
        if not len(part):
            continue
        line, = ax.plot(part["step"], part["mean"], label=cond, color=colours[cond])
        if {"ci_low", "ci_high"} <= set(part.columns):  # the band, floored for the log axis
            mean = part["mean"].to_numpy(float)
            low = np.maximum(part["ci_low"].to_numpy(float), mean / 10)
            ax.fill_between(part["step"], low, part["ci_high"].to_numpy(float), alpha=0.15,
                            color=line.get_color(), linewidth=0)
    ax.set_yscale("log")
    if threshold is not None:
        ax.axhline(threshold, color="k", ls="--", lw=1, label="threshold")
    ax.set_xlabel("Spanish training step")
    ax.set_ylabel("validation MSE")
    ax.legend(title="pre-training", **LEGEND)


def figures(tables: Mapping[str, Any], *, preset: str) -> dict[str, bytes]:
    """The figures of a ``langlab run`` as PNG bytes, keyed by name (see :data:`DESCRIPTIONS`).

    Parameters
    ----------
    tables : mapping of str to pd.DataFrame
        The run's results tables (``lstm_training``, ``lstm_curves``, ``lstm_design``, ``lstm_probes``,
        ``ae_probes``, ``ae_training``), without wall-clock columns; missing or empty tables
        give no figure.
    preset : str
        The preset's name, for the titles.
    """
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    drawn = {}

    def draw(name: str, table, what: str, plot, *, size=(6.5, 3.6)) -> None:
        fig, ax = plt.subplots(figsize=size)
        try:
            if plot(ax) is False:
                return
            _title(ax, what, preset=preset, n_seeds=_seeds(table))
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=120, bbox_inches="tight",
                        metadata={"Software": None})
            drawn[name] = buf.getvalue()
        finally:
            plt.close(fig)

    def usable(name: str, *columns: str):
        table = tables.get(name)
        if table is None or not len(table) or not set(columns) <= set(table.columns):
            return None
        return table

    lstm = usable("lstm_training", "condition", "steps_to_threshold")
    if lstm is not None:
        draw("lstm_steps_to_threshold", lstm, "LSTM: Spanish training steps to the loss threshold",
             lambda ax: _strip(ax, lstm, "steps_to_threshold", censored="censored"))
    curves = usable("lstm_curves", "condition", "step", "mean")
    if curves is not None:
        order = list(dict.fromkeys(lstm["condition"])) if lstm is not None else []
        threshold = (float(lstm["threshold"].astype(float).mean())
                     if lstm is not None and "threshold" in lstm else None)
        draw("lstm_learning_curves", lstm if lstm is not None else curves,
             "LSTM learning curves (mean over seeds)",
             lambda ax: _curves(ax, curves, order=order, threshold=threshold))
    design = usable("lstm_design", "arm", "condition", "seed", "pretrain_steps", "reset_optimizer",
                    "pretrain_epochs", "val_loss_auc")
    if (design is not None and "none" in set(design["arm"]) and design["arm"].nunique() >= 2
            and design["seed"].nunique() >= 2):  # paired intervals need two seeds
        draw("lstm_dose_response", design, "LSTM: each arm against no pre-training (primary endpoint)",
             lambda ax: _dose(ax, design))
    for name, what in (("lstm_probes", "Spanish or not, read from the LSTM states"),
                       ("ae_probes", "Spanish or not, read from the autoencoder latent")):
        probes = usable(name, "condition")
        if probes is not None:
            draw(f"{name}_accuracy", probes, what, lambda ax, t=probes: _probe_bars(ax, t),
                 size=(7.0, 3.6))
    ae = usable("ae_training", "condition", "val_loss")
    if ae is not None:
        def ae_plot(ax):
            _strip(ax, ae, "val_loss")
            ax.set_ylabel("held-out Spanish MSE")
        draw("ae_val_loss", ae, "Autoencoder: reconstruction error after training", ae_plot)
    return drawn


def readme(names: list[str], *, preset: str, tables: Mapping[str, Any]) -> str:
    """``README.md`` for the figures ``names``: what each shows and its source table."""
    lines = [f"# Figures of `langlab run --preset {preset}`", "",
             "Drawn from the tables in this folder (see `results.json`). Intervals are 95 % "
             "Student-t intervals of the mean over seeds (`langlab.stats.mean_ci`); with one "
             "seed there is none. The book's Real-data appendix explains the run.", ""]
    for name in names:
        source, text = DESCRIPTIONS[name]
        table = tables.get(source.removesuffix(".csv"))
        seeds = f" Seeds: {_seeds(table)}." if table is not None and len(table) else ""
        lines += [f"## `{name}.png`", "", f"{text} From `{source}`.{seeds}", ""]
    return "\n".join(lines)


def write_figures(out: Path, tables: Mapping[str, Any], *, preset: str) -> list[str]:
    """Write :func:`figures` as ``<name>.png`` and their ``README.md`` into ``out``, each
    atomically; returns the file names written (none when no table has data to draw)."""
    drawn = figures(tables, preset=preset)
    written = []
    for name, png in drawn.items():
        atomic_write_bytes(Path(out) / f"{name}.png", png)
        written.append(f"{name}.png")
    if drawn:
        text = readme(list(drawn), preset=preset, tables=tables)
        atomic_write_bytes(Path(out) / "README.md", text.encode())
        written.append("README.md")
    return written
