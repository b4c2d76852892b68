"""The `colorizekit` command: a thin argparse layer over the Python API.

One module per command (after diffusers' `commands/`), each with `add(subparsers)`, which declares
the command's arguments, and `run(args)`, which calls the API; nothing here does real work. This
module only builds the parser and dispatches.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from colorizekit.cli import build_page, colorize, compare, demo, evaluate, export, info, serve, train
from colorizekit.version import __version__

_COMMANDS = (info, colorize, export, build_page, demo, serve, evaluate, compare, train)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (used by `main` and by the tests)."""
    parser = argparse.ArgumentParser(
        prog="colorizekit",
        description="Colorize grayscale photographs at full resolution; train, evaluate and compare models.",
    )
    parser.add_argument("--version", action="version", version=f"colorizekit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in _COMMANDS:
        command.add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `colorizekit` and `python -m colorizekit`; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as exc:  # user errors: one line, no traceback
        print(f"colorizekit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
