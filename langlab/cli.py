"""The ``langlab`` command. Each subcommand calls the same functions the book's chapters call.

Errors that come from bad input (:class:`langlab.errors.LanglabError`) end with one line on
stderr saying what is wrong and a non-zero exit code, never a traceback. Library noise
(TensorFlow's log lines, retracing warnings, libmpg123's notes) is kept off stderr unless
``--verbose`` is given anywhere on the command line (:mod:`langlab.quiet`).
"""
from __future__ import annotations

import argparse
import sys

from langlab import __version__
from langlab.errors import LanglabError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="langlab",
        description="Speech-representation pipeline behind the book 'What a network hears first'.")
    parser.add_argument("--version", action="version", version=f"langlab {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="also show TensorFlow's log lines and decoder notes (hidden by default; "
                             "may be given after the command too)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Each stage module adds its own subcommand(s) with ``add_cli(sub)``; see that module.
    for module_name in CLI_MODULES:
        module = __import__(module_name, fromlist=["add_cli"])
        module.add_cli(sub)
    return parser


#: Modules that contribute subcommands through an ``add_cli(subparsers)`` function, in help order.
CLI_MODULES: list[str] = ["langlab.synth", "langlab.corpus", "langlab.experiment", "langlab.features",
                          "langlab.store"]


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
            return 2
        except KeyboardInterrupt:
            print(f"langlab {args.command}: interrupted; run it again to continue where it stopped",
                  file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
