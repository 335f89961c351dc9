"""The output folder of ``langlab run`` (Real-data appendix): what it holds and its guard.

- ``run.json`` (:data:`RUN_FILE`) names the preset and configuration of the results
  (:func:`run_info`); :func:`check_out` refuses a folder holding another configuration's;
- every results table as CSV and all of them in ``results.json``, without wall-clock columns
  (:func:`split_wall_clock`), so two runs of one configuration write equal results files;
- the wall-clock values in ``timings.json``, the main figures as PNG (:func:`write_results`).
"""
from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from langlab import __version__
from langlab.errors import DataError, ParameterError
from langlab.presets import Preset
from langlab.store import atomic_write_bytes, atomic_write_json, stable_hash

#: File in the output folder that names the preset and configuration of its results.
RUN_FILE = "run.json"
#: Wall-clock times, reuse counts, per-stage seconds: everything that differs between two runs.
TIMINGS_FILE = "timings.json"
#: All result tables in one JSON file (the CSV files hold the same tables, one per file).
RESULTS_FILE = "results.json"
#: Columns of a result table whose name matches this hold wall-clock values: they go to
#: ``timings.json``, never to the results files.
WALL_CLOCK = re.compile(r"seconds|wall|elapsed|timestamp|created", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# The output folder: run.json guards against mixing two configurations' results
# --------------------------------------------------------------------------------------------
def run_info(preset: Preset, *, data_dir: Path | None, seeds: tuple[int, ...] | None,
             conditions: tuple[str, ...] | None) -> dict:
    """What ``run.json`` records: preset name, data folder, seeds, conditions and a hash of all
    stage configs (two runs with equal ``config_hash`` produce equal results files)."""
    info = {
        "preset": preset.name,
        "data": str(data_dir) if data_dir else None,
        "seeds": list(seeds) if seeds is not None else None,
        "conditions": list(conditions) if conditions is not None else None,
    }
    info["config_hash"] = stable_hash({**info, "stages": preset.stages})
    info["langlab_version"] = __version__
    return info


def check_out(out: Path, info: dict) -> None:
    """Refuse an output folder that holds results of another preset or configuration."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ParameterError(f"--out {out} is a file, not a folder; use another --out")
    file = out / RUN_FILE
    if file.exists():
        try:
            old = json.loads(file.read_text())
        except (OSError, ValueError):
            raise DataError(f"--out {out} has an unreadable {RUN_FILE}; use another --out or "
                            "delete it") from None
        if old.get("config_hash") == info["config_hash"]:
            return
        if old.get("preset") != info["preset"]:
            held = f"results of preset {old.get('preset')!r}"
        else:
            fields = [k for k in ("data", "seeds", "conditions") if old.get(k) != info.get(k)]
            held = (f"results of preset {info['preset']!r} with other "
                    f"{', '.join(fields) if fields else 'stage settings'}")
        raise ParameterError(f"--out {out} holds {held} (run.json config {old.get('config_hash')}), "
                             f"not of this run (preset {info['preset']!r}, config "
                             f"{info['config_hash']}); use another --out or delete it")
    if out.is_dir():
        ours = [p.name for p in out.iterdir() if p.name in (RESULTS_FILE, TIMINGS_FILE)]
        if ours:
            raise ParameterError(f"--out {out} holds results without a {RUN_FILE} ({ours[0]}); "
                                 "use another --out or delete it")


# --------------------------------------------------------------------------------------------
# Results files
# --------------------------------------------------------------------------------------------
def split_wall_clock(table: Any) -> tuple[Any, Any]:
    """``(results, timings)``: a result table without its wall-clock columns, and those columns
    (with the table's key columns) as a separate table."""
    wall = [c for c in table.columns if WALL_CLOCK.search(str(c))]
    if not wall:
        return table, None
    keys = [c for c in table.columns if c in ("model", "condition", "seed", "state", "role", "locale")]
    return table.drop(columns=wall), table[keys + wall]


def _records(table: Any) -> list[dict]:
    return json.loads(table.to_json(orient="records", double_precision=15))


def _strip(ax, table, metric: str, *, censored: str | None = None) -> None:
    """One column of points per condition (seeds), with the mean as a bar; censored runs hollow."""
    order = list(dict.fromkeys(table["condition"]))
    for i, cond in enumerate(order):
        part = table[table["condition"] == cond]
        y = part[metric].astype(float).to_numpy()
        x = i + np.linspace(-0.12, 0.12, len(y)) if len(y) > 1 else np.full(len(y), float(i))
        hollow = part[censored].astype(bool).to_numpy() if censored in part else np.zeros(len(y), bool)
        ax.scatter(x[~hollow], y[~hollow], color="C0", alpha=0.7, zorder=3)
        ax.scatter(x[hollow], y[hollow], facecolors="none", edgecolors="C0", zorder=3,
                   label="censored (did not reach the threshold)" if hollow.any() and i == 0 else None)
        ax.plot([i - 0.25, i + 0.25], [y.mean()] * 2, "-", color="k", lw=2, zorder=4)
    ax.set_xticks(range(len(order)), order)
    ax.set_xlabel("pre-training condition")
    ax.set_ylabel(metric.replace("_", " "))


def _probe_bars(ax, table, title: str) -> bool:
    """Mean balanced accuracy of the linear probe (binary task) per condition and representation."""
    sel = table
    for column, value in (("task", "binary"), ("probe", "linear")):
        if column in sel:
            sel = sel[sel[column] == value]
    metric = "balanced_accuracy" if "balanced_accuracy" in sel else "accuracy"
    if not len(sel) or metric not in sel or "condition" not in sel:
        return False
    hue = "representation" if "representation" in sel else None
    order = list(dict.fromkeys(sel["condition"]))
    groups = list(dict.fromkeys(sel[hue])) if hue else [None]
    width = 0.8 / len(groups)
    for j, group in enumerate(groups):
        part = sel if group is None else sel[sel[hue] == group]
        means = [part.loc[part["condition"] == c, metric].astype(float).mean() for c in order]
        ax.bar([i + (j - (len(groups) - 1) / 2) * width for i in range(len(order))], means,
               width=width, label=str(group) if group is not None else None)
    ax.axhline(0.5, color="k", ls="--", lw=1, label="chance")
    ax.set_xticks(range(len(order)), order, rotation=20)
    ax.set_xlabel("pre-training condition (or baseline)")
    ax.set_ylabel(f"{metric.replace('_', ' ')} (mean over seeds)")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize="small", loc="lower right")
    return True


def _figures(tables: dict[str, Any]) -> dict[str, bytes]:
    """The main figures as PNG bytes, drawn from the results tables (no wall-clock values)."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figures = {}

    def save(name: str, fig) -> None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=120, bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
        figures[name] = buf.getvalue()

    lstm = tables.get("lstm_training")
    if lstm is not None and len(lstm) and "steps_to_threshold" in lstm:
        fig, ax = plt.subplots(figsize=(5.5, 3.4))
        _strip(ax, lstm, "steps_to_threshold", censored="censored")
        ax.set_title("LSTM: Spanish training steps until the validation-loss threshold", fontsize=10)
        if "censored" in lstm and lstm["censored"].astype(bool).any():
            ax.legend(fontsize="small")
        save("lstm_steps_to_threshold", fig)
    curves = tables.get("lstm_curves")
    if curves is not None and len(curves) and {"condition", "step", "mean"} <= set(curves.columns):
        fig, ax = plt.subplots(figsize=(5.5, 3.4))
        order = list(dict.fromkeys(lstm["condition"])) if lstm is not None else []
        order += [c for c in dict.fromkeys(curves["condition"]) if c not in order]
        for cond in order:
            part = curves[curves["condition"] == cond]
            line, = ax.plot(part["step"], part["mean"], label=cond)
            if {"ci_low", "ci_high"} <= set(part.columns):  # the band, floored for the log axis
                low = np.maximum(part["ci_low"].to_numpy(float), part["mean"].to_numpy(float) / 10)
                ax.fill_between(part["step"], low, part["ci_high"], alpha=0.12, color=line.get_color())
        ax.set_yscale("log")
        if lstm is not None and "threshold" in lstm:
            ax.axhline(float(lstm["threshold"].mean()), color="k", ls="--", lw=1, label="threshold")
        ax.set_xlabel("Spanish training step")
        ax.set_ylabel("validation MSE (mean over seeds)")
        ax.set_title("LSTM learning curves", fontsize=10)
        ax.legend(fontsize="small")
        save("lstm_learning_curves", fig)
    for name, title in (("lstm_probes", "Spanish vs not, from the LSTM states"),
                        ("ae_probes", "Spanish vs not, from the autoencoder latent")):
        probes = tables.get(name)
        if probes is None or not len(probes):
            continue
        fig, ax = plt.subplots(figsize=(6, 3.4))
        if _probe_bars(ax, probes, title):
            save(f"{name}_accuracy", fig)
        else:
            plt.close(fig)
    ae = tables.get("ae_training")
    if ae is not None and len(ae) and "val_loss" in ae:
        fig, ax = plt.subplots(figsize=(5.5, 3.4))
        _strip(ax, ae, "val_loss")
        ax.set_ylabel("held-out Spanish MSE after training")
        ax.set_title("Autoencoder: reconstruction error", fontsize=10)
        save("ae_val_loss", fig)
    return figures


def write_results(out: Path, tables: dict[str, Any], info: dict, *, timings: dict) -> list[str]:
    """Write every table as CSV, all tables in ``results.json``, the figures as PNG, the
    wall-clock values in ``timings.json`` and finally ``run.json``; each file atomically."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    results = {"run": {k: v for k, v in info.items()}, "tables": {}}
    for name, table in tables.items():
        if table is None:
            continue
        table, wall = split_wall_clock(table)
        if wall is not None:
            timings.setdefault("tables", {})[name] = _records(wall)
        atomic_write_bytes(out / f"{name}.csv", table.to_csv(index=False).encode())
        written.append(f"{name}.csv")
        results["tables"][name] = _records(table)
    atomic_write_json(out / RESULTS_FILE, results)
    written.append(RESULTS_FILE)
    for name, png in _figures({n: split_wall_clock(t)[0] for n, t in tables.items()
                               if t is not None}).items():
        atomic_write_bytes(out / f"{name}.png", png)
        written.append(f"{name}.png")
    atomic_write_json(out / TIMINGS_FILE, timings)
    written.append(TIMINGS_FILE)
    atomic_write_json(out / RUN_FILE, {**info, "complete": True, "files": sorted(written)})
    written.append(RUN_FILE)
    return written
