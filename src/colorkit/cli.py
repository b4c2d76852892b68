"""The `colorkit` command: a thin argparse layer over the Python API.

Each subcommand has an `_add_<name>` function that declares its arguments and a `_run_<name>`
function that calls the API; nothing here does real work.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from colorkit import __version__


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="list models, or print one model's layer table, parameters and mult-adds",
                       description="Print a model's layer table (as the design documents' summaries), "
                                   "parameter count and mult-adds for a batch at a given size.")
    p.add_argument("--model", help="registry name (omit to list the available models)")
    p.add_argument("--batch-size", type=int, default=32, help="batch size for the count (default: 32)")
    p.add_argument("--image-size", type=int, default=128, help="square input size for the count (default: 128)")
    p.set_defaults(func=_run_info)


def _run_info(args: argparse.Namespace) -> int:
    from colorkit.models import create_model, get_model_info, list_models
    from colorkit.summary import format_summary, summarize

    if args.model is None:
        for name in list_models():
            info = get_model_info(name)
            print(f"{name:<14} colour mode {info.color_mode:<4} {info.description}")
        return 0
    get_model_info(args.model)
    shape = (args.batch_size, 1, args.image_size, args.image_size)
    print(format_summary(summarize(create_model(args.model), shape, args.model)))
    return 0


_COMMANDS = (_add_info,)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (used by `main` and by the tests)."""
    parser = argparse.ArgumentParser(
        prog="colorkit",
        description="Colorize grayscale photographs at full resolution; train, evaluate and compare models.",
    )
    parser.add_argument("--version", action="version", version=f"colorkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `colorkit` and `python -m colorkit`; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as exc:  # user errors: one line, no traceback
        print(f"colorkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
