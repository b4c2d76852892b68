"""`colorizekit demo`: colorize the built-in example photos and draw grids."""

from __future__ import annotations

import argparse
import sys

from colorizekit.cli.options import SIZE_DEFAULT


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="colorize the built-in example photos and draw comparison grids",
                       description="Colorize a few built-in public-domain/CC0 photos with each model that has "
                                   "weights and write grids of grayscale | colorized | original.")
    p.add_argument("-o", "--out", default="demo", help="output folder (default: demo/)")
    p.add_argument("--model", action="append", dest="models", metavar="NAME",
                   help="model to run (repeatable; default: all models)")
    p.add_argument("--weights", action="append", default=[], metavar="[NAME=]FILE",
                   help="weights file to use instead of the shipped ones (repeatable; a bare FILE is used for the "
                        "model it is for; default models: those given weights, else all)")
    p.add_argument("--size", type=int, default=None, help=f"working size (default: {SIZE_DEFAULT})")
    p.add_argument("--device", help="cpu, cuda, ... (default: cuda when present)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from colorizekit.evaluate.demo import run_demo

    result = run_demo(args.out, models=args.models, weights=args.weights, size=args.size, device=args.device)
    for name, path in result.grids.items():
        print(f"{name}: {len(result.outputs[name])} photos colorized; grid: {path}")
    for name, reason in result.unavailable.items():
        print(f"{name}: not run: {reason}", file=sys.stderr)
    return 0 if result.grids else 1
