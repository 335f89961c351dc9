"""The ``langlab`` command. Each subcommand calls the same functions the book's chapters call.

Errors that come from bad input (:class:`langlab.errors.LanglabError`) end with one line on
stderr saying what is wrong and a non-zero exit code, never a traceback.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from langlab import __version__
from langlab.errors import LanglabError, check


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="langlab",
        description="Speech-representation pipeline behind the book 'What a network hears first'.")
    parser.add_argument("--version", action="version", version=f"langlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Each stage module adds its own subcommand(s) with ``add_cli(sub)``; see that module.
    # ``langlab features`` is defined below.
    for module_name in CLI_MODULES:
        module = __import__(module_name, fromlist=["add_cli"])
        module.add_cli(sub)
    add_features_cli(sub)
    return parser


#: Modules that contribute subcommands through an ``add_cli(subparsers)`` function, in help order.
CLI_MODULES: list[str] = ["langlab.synth", "langlab.corpus", "langlab.experiment"]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except LanglabError as exc:
        print(f"langlab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"langlab {args.command}: interrupted; run it again to continue where it stopped",
              file=sys.stderr)
        return 130


# --------------------------------------------------------------------------------------------
# langlab features CV_DIR --preset book [--lowpass HZ] [--out DIR]  (langlab.features, Chapter 2)
# --------------------------------------------------------------------------------------------
def _cli_features(args: argparse.Namespace) -> int:
    import shutil

    from langlab.features import for_preset
    from langlab.presets import get_preset
    from langlab.store import Store

    check(args.lowpass is None or args.lowpass > 0, f"--lowpass must be a positive frequency in Hz, got {args.lowpass}")
    check(args.jobs >= 1, f"--jobs must be >= 1, got {args.jobs}")
    preset = get_preset(args.preset)
    store = Store(args.store) if args.store else None
    fs = for_preset(preset, lowpass_hz=args.lowpass, data_dir=args.cv_dir, store=store, n_jobs=args.jobs,
                    progress=not args.quiet)
    m = fs.manifest()
    band = "full band" if fs.config.lowpass_hz is None else f"low-passed at {fs.config.lowpass_hz:g} Hz"
    print(f"{len(fs)} spectrograms {fs.config.n_mels} mels x {fs.config.n_frames} frames ({band}), "
          f"{int(fs.table['is_silent'].sum())} silent (excluded by default), {len(fs.skipped)} skipped")
    print(f"store entry: {fs.path}")
    if m.get("shards_resumed"):
        print(f"resumed {m['shards_resumed']} of {m['n_shards']} shards from an interrupted run")
    silent = fs.table[fs.table["is_silent"]]
    for row in silent.itertuples():
        print(f"  silent: {row.path} ({100 * row.silent_fraction:.0f} % silent frames, "
              f"{100 * row.padding_fraction:.0f} % padding)")
    upstream = m.get("upstream_skipped") or []
    if upstream:
        print(f"{len(upstream)} file(s) the corpus reader could not use:")
        for row in upstream:
            print(f"  skipped: {row['path']}: {row['reason']}")
    if len(fs.skipped):
        print(f"{len(fs.skipped)} clip(s) that could not be turned into spectrograms:")
    for row in fs.skipped.itertuples():
        print(f"  skipped: {row.path}: {row.reason}")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("S_db.npy", "table.csv", "skipped.csv", "manifest.json"):
            src = Path(fs.path) / name
            if src.exists():
                shutil.copyfile(src, out / name)
        fs.table.to_csv(out / "table.csv", index=False, lineterminator="\n")  # absolute paths
        print(f"wrote {out / 'S_db.npy'} (float32 {list(fs.S_db.shape)}), table.csv, skipped.csv, manifest.json")
    return 0


def add_features_cli(subparsers) -> None:
    """Add ``langlab features``: :func:`langlab.features.for_preset` from the command line."""
    p = subparsers.add_parser(
        "features", help="mel spectrograms of a Common Voice folder (or the embedded corpus), cached",
        description="Compute the mel spectrograms of a preset's clips (every role but 'unused') into the "
                    "store, with a progress bar; a rerun reuses them and an interrupted run resumes. "
                    "Broken clips are listed by file name with the reason (Chapter 2).")
    p.add_argument("cv_dir", metavar="CV_DIR", nargs="?", default=None,
                   help="a Common Voice release or locale folder (default: the embedded corpus)")
    p.add_argument("--preset", choices=("smoke", "book", "paper"), default="book",
                   help="feature and corpus parameters (default: book)")
    p.add_argument("--lowpass", type=float, default=None, metavar="HZ",
                   help="low-pass cut-off in Hz (the original: 500); default full band")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="also copy S_db.npy, table.csv, skipped.csv and manifest.json into DIR")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--store", default=None, metavar="DIR", help="store folder (default $LANGLAB_HOME/store)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cli_features)


if __name__ == "__main__":
    sys.exit(main())
