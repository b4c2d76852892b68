"""`colorizekit compare`: several models side by side on the same photos."""

from __future__ import annotations

import argparse
import sys

from colorizekit.cli.options import BACKEND_HELP, SIZE_DEFAULT, add_device_options, parse_saturation, parse_vividness
from colorizekit.color import DEFAULT_SATURATION, MAX_SATURATION
from colorizekit.color.bins import DEFAULT_VIVIDNESS
from colorizekit.evaluate.tables import CAPTION_METRICS, label_list
from colorizekit.infer.backends import BACKENDS, DEFAULT_BACKEND


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare models side by side on colour photos",
                       description="Evaluate several models on the same colour photos and draw, for each photo, "
                                   f"original | each model | grayscale with {label_list(CAPTION_METRICS)} under each "
                                   "picture; prints the summary table of all models.")
    p.add_argument("source", metavar="DIR", help="folder of colour photos (searched recursively), a file or a glob")
    p.add_argument("--models", required=True, help="comma-separated model names, e.g. unet-rgb,jkspnet-lab")
    p.add_argument("--weights", action="append", default=[], metavar="NAME=FILE",
                   help="weights for a model (repeatable); a bare FILE is used for the model it is for "
                        "(default: the shipped weights)")
    p.add_argument("-o", "--out", default="comparison.png", help="output picture (default: comparison.png)")
    p.add_argument("--size", type=int, default=None,
                   help=f"working size for --protocol full (default: {SIZE_DEFAULT})")
    p.add_argument("--protocol", choices=["full", "design"], default="full", help="as for evaluate (default: full)")
    p.add_argument("--limit", type=int, help="use only the first N photos")
    p.add_argument("--cell-height", type=int, default=192, help="picture height in the grid, pixels (default: 192)")
    p.add_argument("--vividness", type=parse_vividness, metavar="V",
                   help="colour strength from 0 (muted) to 1 (vivid) for the models with a bins head; ignored for "
                        f"the others (default: each model's measured default, else {DEFAULT_VIVIDNESS:g})")
    p.add_argument("--saturation", type=parse_saturation, metavar="S",
                   help=f"factor on the predicted chroma for every model: 0 gray, 1 as predicted, up to "
                        f"{MAX_SATURATION:g} (default: each model's measured default, else {DEFAULT_SATURATION:g})")
    p.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND, help=BACKEND_HELP)
    add_device_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from colorizekit.evaluate.protocols import compare
    from colorizekit.evaluate.report import comparison_grid, failed_lines
    from colorizekit.imageio.atomic import atomic_path

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    comparison = compare(args.source, models, weights=args.weights, size=args.size, protocol=args.protocol,
                         batch_size=args.batch_size, device=args.device, limit=args.limit,
                         vividness=args.vividness, saturation=args.saturation, backend=args.backend)
    for line in failed_lines(comparison.results[0]):
        print(line, file=sys.stderr)
    if not comparison.results[0].images:
        raise ValueError(f"{args.source}: no photo could be evaluated")
    with atomic_path(args.out) as tmp:
        comparison_grid(comparison, cell_height=args.cell_height).save(tmp)
    print(comparison.table())
    for result in comparison.results:
        vividness = "" if result.vividness is None else f"vividness {result.vividness:g}, "
        print(f"{result.model}: {vividness}saturation {result.saturation:g}")
    for a, b, a_won, b_won, both in comparison.wins("ciede2000"):
        print(f"lower ΔE00, photo by photo: {a} on {a_won} of {both} ({a_won / max(both, 1):.0%}), "
              f"{b} on {b_won}" + (f", equal on {both - a_won - b_won}" if both - a_won - b_won else ""))
    print(f"{len(comparison.results[0].images)} photo(s), {len(models)} model(s) -> {args.out}")
    return 0
