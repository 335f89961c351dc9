"""The ``langlab`` command: ``synth``, ``info``, ``features`` and ``run``. Each subcommand calls the
same functions the book's chapters call (Introduction, "Running it yourself").

One convention for every subcommand:

- the same option names: ``--preset NAME``, ``--jobs N``, ``--store DIR``, ``-q/--quiet``;
- lists as comma-separated values: ``--languages es,it,ja``, ``--conditions none,es``;
- a corpus folder may be a Common Voice release folder, one locale folder, or a folder that
  holds exactly one release folder (what ``langlab synth OUT`` writes): the release used is said;
- every error, bad usage included, is one line on stderr and exit code 2, never a traceback;
- library noise (TensorFlow's log lines, retracing warnings, libmpg123's notes) is kept off
  stderr unless ``--verbose`` is given anywhere on the command line (:mod:`langlab.quiet`).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from langlab import __version__
from langlab.errors import DataError, LanglabError, check
from langlab.presets import PRESET_NAMES

#: Exit code of every error: bad usage, bad input data.
ERROR_EXIT = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors."""

    def error(self, message: str):
        self.exit(ERROR_EXIT, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def comma_list(text: str) -> tuple[str, ...]:
    """``"es, it,ja"`` -> ``("es", "it", "ja")``: the list syntax of every option."""
    items = tuple(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))
    if not items:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
    return items


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def jobs_count(text: str) -> int:
    """An argparse type: parallel units, a whole number >= 1 or -1 (one a core)."""
    if text.strip() == "-1":
        return -1
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1 or -1, got {text!r}") from None


def _add(p: argparse.ArgumentParser, *names: str, preset: str = "book", jobs: int = 2,
         jobs_help: str = "worker processes") -> None:
    """The shared options, by name: ``preset``, ``jobs``, ``store``, ``quiet``."""
    if "preset" in names:
        p.add_argument("--preset", choices=PRESET_NAMES, default=preset,
                       help=f"one of {', '.join(PRESET_NAMES)} (default: {preset})")
    if "jobs" in names:
        p.add_argument("--jobs", type=positive_int, default=jobs, metavar="N",
                       help=f"{jobs_help} (default: {jobs})")
    if "store" in names:
        p.add_argument("--store", default=None, metavar="DIR",
                       help="artifact store folder (default: $LANGLAB_HOME/store, shared with the book)")
    if "quiet" in names:
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def corpus_folder(path: str | os.PathLike | None, *, tsv: str = "validated.tsv") -> Path | None:
    """The release (or locale) folder ``path`` stands for; says so on stderr when it is a folder
    inside ``path`` (:func:`langlab.corpus.release_folder`)."""
    if path is None:
        return None
    from langlab.corpus import release_folder
    folder = release_folder(path, tsv=tsv)
    if folder != Path(path).expanduser().resolve():
        print(f"using release folder {folder} (the only one in {path})", file=sys.stderr)
    return folder


# --------------------------------------------------------------------------------------------
# langlab synth OUT_DIR  (langlab.synth, Chapter 1)
# --------------------------------------------------------------------------------------------
def _synth(args: argparse.Namespace) -> int:
    """Generate a synthetic multilingual corpus in Common Voice's layout (Chapter 1):
    OUT_DIR/<release>/<locale>/clips/*.mp3 and validated.tsv. `langlab info OUT_DIR` reads it back."""
    from langlab.synth import PRESETS, write_corpus

    base = PRESETS[args.preset]
    langs = args.languages or base.languages
    per_language = args.clips_per_language
    config = dataclasses.replace(
        base, languages=langs,
        clips_per_language=per_language if per_language is not None else base.clips_per_language,
        clips=() if per_language is not None else tuple(p for p in base.clips if p[0] in langs),
        n_speakers=args.speakers if args.speakers is not None else base.n_speakers,
        seed=args.seed if args.seed is not None else base.seed,
        lexicon_dir=args.lexicon_dir)
    out = Path(args.out_dir)
    check(not out.exists() or out.is_dir(), f"OUT_DIR {out} exists and is not a folder", DataError)
    summary = write_corpus(out, config, n_jobs=args.jobs, progress=not args.quiet)
    print(f"wrote {summary['clips']} clips ({', '.join(config.languages)}; {config.n_speakers} speakers) "
          f"to {summary['release']} in {summary['seconds']:.1f} s"
          + (f" ({summary['clips_per_second']:.1f} clips/s)" if summary["clips_per_second"] else ""))
    return 0


def _synth_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder to write the release folder into")
    p.add_argument("--languages", type=comma_list, default=None, metavar="LIST",
                   help="comma-separated locale codes (default: the preset's, es,it,ja)")
    p.add_argument("--clips-per-language", type=positive_int, default=None, metavar="N",
                   help="clips per locale (default: the preset's)")
    p.add_argument("--speakers", type=positive_int, default=None, metavar="N",
                   help="synthetic speakers (default: the preset's)")
    p.add_argument("--seed", type=int, default=None, metavar="S", help="seed (default: the preset's, 0)")
    p.add_argument("--lexicon-dir", default=None, metavar="DIR",
                   help="extra folder of <code>.yml lexicons (to add languages)")
    _add(p, "preset", "jobs", "quiet")


# --------------------------------------------------------------------------------------------
# langlab info CV_DIR  (langlab.corpus, Chapter 1)
# --------------------------------------------------------------------------------------------
def _info(args: argparse.Namespace) -> int:
    """Per locale: clips, speakers, hours; then every flagged and every broken clip by file name
    with the reason (Chapter 1)."""
    from langlab.corpus import FLAGGED_SHOWN, read_corpus, summarize

    root = corpus_folder(args.cv_dir, tsv=args.tsv)
    table, skipped = read_corpus(root, locales=args.locales, tsv=args.tsv, n_jobs=args.jobs,
                                 progress=not args.quiet)
    summary = summarize(table, skipped)
    print(f"{root} ({args.tsv})")
    shown = summary.assign(hours=summary["hours"].map(lambda h: f"{h:.3f}"),
                           mean_duration=summary["mean_duration"].map(
                               lambda d: "-" if np.isnan(d) else f"{d:.2f} s"))
    print(shown.to_string(index=False))
    total = summary[["clips", "speakers", "skipped"]].sum()
    print(f"total: {int(total['clips'])} clips, {table['client_id'].nunique()} speakers, "
          f"{summary['hours'].sum():.3f} hours, {len(skipped)} skipped")
    flagged = table[table["flags"] != ""]
    if len(flagged):
        per_flag = flagged["flags"].str.split(";").explode().value_counts()
        print(f"\nflagged clips ({len(flagged)}; read, but awkward): "
              + ", ".join(f"{flag} {n}" for flag, n in per_flag.items()))
        shown_rows = flagged if args.all else flagged.head(FLAGGED_SHOWN)
        for row in shown_rows.itertuples():
            print(f"  {os.path.relpath(row.path, root)}: {row.flags}")
        if len(shown_rows) < len(flagged):
            print(f"  ... and {len(flagged) - len(shown_rows)} more (--all lists them all)")
    if len(skipped):
        print(f"\nskipped clips ({len(skipped)}):")
        for row in skipped.itertuples():
            path = str(row.path)
            print(f"  {os.path.relpath(path, root) if path.startswith(str(root)) else path}: {row.reason}")
    return 0


def _info_options(p: argparse.ArgumentParser) -> None:
    from langlab.corpus import FLAGGED_SHOWN

    p.add_argument("cv_dir", metavar="CV_DIR",
                   help="a Common Voice release folder, one locale folder, or a folder holding one release")
    p.add_argument("--locales", type=comma_list, default=None, metavar="LIST",
                   help="comma-separated locales (default: every locale folder)")
    p.add_argument("--tsv", default="validated.tsv", help="which TSV to read (default: validated.tsv)")
    p.add_argument("--all", action="store_true",
                   help=f"list every flagged clip (default: the first {FLAGGED_SHOWN}; broken ones are "
                        "always all listed)")
    _add(p, "jobs", "quiet", jobs_help="threads reading clip headers")


# --------------------------------------------------------------------------------------------
# langlab features [CV_DIR] --preset book [--lowpass HZ] [--out DIR]  (langlab.features, Chapter 2)
# --------------------------------------------------------------------------------------------
def _features(args: argparse.Namespace) -> int:
    """Compute the mel spectrograms of a preset's clips (every role but 'unused') into the store,
    with a progress bar; a rerun reuses them and an interrupted run resumes. Broken clips are
    listed by file name with the reason (Chapter 2)."""
    from langlab.features import for_preset
    from langlab.presets import get_preset
    from langlab.store import Store

    check(args.lowpass is None or args.lowpass > 0, f"--lowpass must be a positive frequency in Hz, got {args.lowpass}")
    preset = get_preset(args.preset)
    data_dir = corpus_folder(args.cv_dir, tsv=preset.corpus.tsv)
    store = Store(args.store) if args.store else None
    fs = for_preset(preset, lowpass_hz=args.lowpass, data_dir=data_dir, store=store, n_jobs=args.jobs,
                    progress=not args.quiet)
    m = fs.manifest()
    band = "full band" if fs.config.lowpass_hz is None else f"low-passed at {fs.config.lowpass_hz:g} Hz"
    print(f"{len(fs)} spectrograms {fs.config.n_mels} mels x {fs.config.n_frames} frames ({band}), "
          f"{int(fs.table['is_silent'].sum())} silent (excluded by default), {len(fs.skipped)} skipped")
    print(f"store entry: {fs.path}")
    if m.get("shards_resumed"):
        print(f"resumed {m['shards_resumed']} of {m['n_shards']} shards from an interrupted run")
    for row in fs.table[fs.table["is_silent"]].itertuples():
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


def _features_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("cv_dir", metavar="CV_DIR", nargs="?", default=None,
                   help="a Common Voice release or locale folder, or a folder holding one release "
                        "(default: the embedded corpus)")
    p.add_argument("--lowpass", type=float, default=None, metavar="HZ",
                   help="low-pass cut-off in Hz (the original: 500); default full band")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="also copy S_db.npy, table.csv, skipped.csv and manifest.json into DIR")
    _add(p, "preset", "jobs", "store", "quiet")


# --------------------------------------------------------------------------------------------
# langlab run --preset book [--data CV_DIR]  (langlab.experiment; appendix "Running on real data")
# --------------------------------------------------------------------------------------------
def _run(args: argparse.Namespace) -> int:
    """Run the whole experiment of the book: corpus and splits, features, every (model,
    condition, seed) training, probes; write results tables (CSV, JSON) and figures (PNG) to
    --out. Resumable: run it again after an interruption and it continues from the store."""
    from langlab.experiment import run_experiment

    summary = run_experiment(args.preset, data_dir=corpus_folder(args.data), out=args.out, seeds=args.seeds,
                             conditions=args.conditions, scheduler=args.scheduler, n_jobs=args.jobs,
                             store=args.store, progress=not args.quiet,
                             scheduler_timeout=args.scheduler_timeout)
    print(summary.text())
    return 0


def _run_options(p: argparse.ArgumentParser) -> None:
    from langlab.experiment import SCHEDULER_TIMEOUT

    p.add_argument("--data", metavar="CV_DIR", default=None,
                   help="a Common Voice download (default: the embedded synthetic corpus)")
    p.add_argument("--out", metavar="DIR", default=None, help="output folder (default: langlab-results/<preset>)")
    p.add_argument("--seeds", metavar="N", type=positive_int, default=None,
                   help="seeds 0..N-1 per condition (default: the preset's)")
    p.add_argument("--conditions", metavar="LIST", type=comma_list, default=None,
                   help="comma-separated pre-training conditions (default: the preset's, e.g. none,es,it,ja,noise)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="dask.distributed scheduler, e.g. tcp://10.0.0.5:8786 (workers must share the store folder)")
    p.add_argument("--scheduler-timeout", metavar="SECONDS", type=float, default=SCHEDULER_TIMEOUT,
                   help=f"seconds to wait for the scheduler (default: {SCHEDULER_TIMEOUT:g})")
    p.add_argument("--jobs", metavar="N", type=jobs_count, default=None,
                   help="units run in parallel (default: the preset's, 2 local worker processes; with "
                        "--scheduler, all workers; -1: one a core)")
    _add(p, "preset", "store", "quiet")


# --------------------------------------------------------------------------------------------
# langlab store verify [--fix]  (langlab.store; Reproducibility appendix)
# --------------------------------------------------------------------------------------------
def _store_verify(args: argparse.Namespace) -> int:
    """Check every stored file against its manifest's size and SHA-256; exit 1 if an entry is
    damaged (0 with --fix, which moves damaged entries aside so that the next run computes them
    again)."""
    from langlab.store import Store

    store = Store(args.store) if args.store else Store()
    entries = store.entries(args.stage)
    damaged = store.verify(args.stage, fix=args.fix)
    for entry, problem in damaged:
        if not args.fix:
            print(f"damaged: {entry.stage}/{entry.key}: {problem}")
    print(f"{len(entries)} entries checked in {store.root}: {len(damaged)} damaged"
          + (" (moved aside; the next run computes them again)" if args.fix and damaged else
             " (run with --fix to move them aside)" if damaged else ""))
    return 1 if damaged and not args.fix else 0


def _store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("verify",), help="what to do with the store (verify)")
    p.add_argument("--stage", default=None, help="only this stage (e.g. features, lstm)")
    p.add_argument("--fix", action="store_true", help="move damaged entries aside")
    _add(p, "store")


# --------------------------------------------------------------------------------------------
#: name -> (what it runs, what options it takes, one-line help), in help order.
SUBCOMMANDS = {
    "synth": (_synth, _synth_options, "generate the embedded eSpeak NG corpus in Common Voice layout"),
    "info": (_info, _info_options, "summarize a Common Voice folder: clips, speakers, hours, broken clips"),
    "features": (_features, _features_options, "mel spectrograms of a Common Voice folder (or the embedded "
                                               "corpus), cached"),
    "run": (_run, _run_options, "run the whole experiment (corpus to probes) and write results tables "
                                "and figures"),
    "store": (_store_verify, _store_options, "check the artifact store: langlab store verify [--fix]"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="langlab",
                     description="Speech-representation pipeline behind the book 'What a network hears first'.")
    parser.add_argument("--version", action="version", version=f"langlab {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="also show TensorFlow's log lines and decoder notes (hidden by default; "
                             "may be given after the command too)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (run, add_options, summary) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=summary, description=" ".join(run.__doc__.split()))
        add_options(p)
        p.set_defaults(func=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv
    argv = [a for a in argv if a != "--verbose"]
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from langlab.quiet import quiet
    with quiet(verbose):
        try:
            return int(args.func(args) or 0)
        except LanglabError as exc:
            print(f"langlab {args.command}: error: {exc}", file=sys.stderr)
            return ERROR_EXIT
        except KeyboardInterrupt:
            print(f"langlab {args.command}: interrupted; run it again to continue where it stopped",
                  file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
