"""The output folder of ``langlab run`` (Real-data appendix): what it holds and its guard.

- ``run.json`` (:data:`RUN_FILE`) names the preset and configuration of the results
  (:func:`run_info`); :func:`check_out` refuses a folder holding another configuration's;
- every results table as CSV and all of them in ``results.json``, without wall-clock columns
  (:func:`split_wall_clock`), so two runs of one configuration write equal results files;
- the wall-clock values in ``timings.json``, the main figures as PNG with a README saying what each shows
  (:mod:`langlab.run_figures`, through :func:`write_results`).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any


from langlab import __version__
from langlab.errors import DataError, ParameterError
from langlab.presets import Preset
from langlab.run_figures import write_figures
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
    written += write_figures(out, {n: split_wall_clock(t)[0] for n, t in tables.items() if t is not None},
                             preset=info["preset"])
    atomic_write_json(out / TIMINGS_FILE, timings)
    written.append(TIMINGS_FILE)
    atomic_write_json(out / RUN_FILE, {**info, "complete": True, "files": sorted(written)})
    written.append(RUN_FILE)
    return written
