"""`colorizekit evaluate`: score a model on colour photos against their originals."""

from __future__ import annotations

import argparse
import sys

from colorizekit.cli import options
from colorizekit.evaluate.registry import METRIC_NAMES
from colorizekit.evaluate.tables import label_list
from colorizekit.imageio.find import find_files
from colorizekit.infer.backends import BACKENDS, DEFAULT_BACKEND
from colorizekit.infer.video.files import VIDEO_SUFFIXES
from colorizekit.infer.video.temporal import DEFAULT_TEMPORAL, TEMPORAL_METHODS


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a model on colour photos against their originals",
                       description="Turn each colour photo in DIR into grayscale (its own CIE L, zero chroma), "
                                   f"colorize it and compare it with the original: {label_list(METRIC_NAMES)}, "
                                   "per photo and per set, with the grayscale "
                                   "input as a baseline. Writes per_image.csv, summary.json, summary.md and "
                                   "worst_best.png to the report folder.")
    p.add_argument("source", metavar="DIR", help="folder of colour photos (searched recursively), a file or a glob")
    p.add_argument("-o", "--out", default="evaluation", help="report folder (default: evaluation/)")
    p.add_argument("--model", help=options.MODEL_HELP)
    p.add_argument("--weights", help="model.safetensors or training checkpoint (default: the shipped weights)")
    p.add_argument("--size", type=int, default=None,
                   help=f"working size for --protocol full (default: {options.SIZE_DEFAULT})")
    p.add_argument("--protocol", choices=["full", "design"], default="full",
                   help="full: each photo at its own resolution; design: 128 x 128 as the design's test "
                        "(default: full)")
    p.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND, help=options.BACKEND_HELP)
    options.add_device_options(p)
    p.add_argument("--limit", type=int, help="evaluate only the first N photos")
    p.add_argument("--grid-count", type=int, default=3, help="worst and best photos shown in worst_best.png (default: 3)")
    p.add_argument("--vividness", type=options.parse_vividness, metavar="V", help=options.VIVIDNESS_HELP)
    p.add_argument("--saturation", type=options.parse_saturation, metavar="S", help=options.SATURATION_HELP)
    # -- video (colorizekit.infer.video): colour videos in DIR are scored on their own
    p.add_argument("--temporal", choices=TEMPORAL_METHODS, default=DEFAULT_TEMPORAL,
                   help="videos: the temporal method scored beside frame by frame (default: "
                        f"{DEFAULT_TEMPORAL}); with photos too, the video report goes to OUT/videos/")
    p.set_defaults(func=run)


def _run_videos(args: argparse.Namespace, out: str) -> int:
    """Score the colour videos of args.source: per_video.csv, summary.json and summary.md in `out`."""
    from colorizekit.evaluate.video import evaluate_videos, write_video_report
    from colorizekit.infer.colorizer import Colorizer

    colorizer = Colorizer(model=args.model, weights=args.weights, device=args.device, size=args.size,
                          batch_size=args.batch_size, vividness=args.vividness, saturation=args.saturation)
    result = evaluate_videos(args.source, colorizer, temporal=args.temporal, limit=args.limit)
    for _, reason in result.failed:
        print(f"skipped: {reason}", file=sys.stderr)
    if not result.videos:
        raise ValueError(f"{args.source}: no video could be evaluated")
    folder = write_video_report(result, out)
    print(result.table())
    print(f"{len(result.videos)} video(s) evaluated, {len(result.failed)} skipped -> {folder}")
    return 0


def run(args: argparse.Namespace) -> int:
    import os

    from colorizekit.evaluate.protocols import evaluate
    from colorizekit.evaluate.report import failed_lines, write_report
    from colorizekit.imageio import find_images
    from colorizekit.infer.video.files import is_video_path

    if any(is_video_path(p) for p in find_files([args.source], VIDEO_SUFFIXES, "videos")[0]):
        photos = [p for p in find_images([args.source])[0] if not is_video_path(p)]
        _run_videos(args, os.path.join(args.out, "videos") if photos else args.out)
        if not photos:
            return 0

    result = evaluate(args.source, args.model, weights=args.weights, size=args.size, protocol=args.protocol,
                      batch_size=args.batch_size, device=args.device, limit=args.limit, vividness=args.vividness,
                      saturation=args.saturation, backend=args.backend)
    for line in failed_lines(result):
        print(line, file=sys.stderr)
    if not result.images:
        raise ValueError(f"{args.source}: no photo could be evaluated")
    files = write_report(result, args.out, grid_count=args.grid_count)
    print(result.table())
    print(f"{len(result.images)} photo(s) evaluated, {len(result.failed)} skipped -> {files.summary_md.parent}")
    return 0
