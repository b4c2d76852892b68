"""`colorizekit colorize`: photos in, colour photos out at full resolution."""

from __future__ import annotations

import argparse
import sys

from colorizekit.cli.options import (
    BACKEND_HELP,
    MODEL_HELP,
    SATURATION_HELP,
    SIZE_DEFAULT,
    VIVIDNESS_HELP,
    add_device_options,
    parse_saturation,
    parse_vividness,
)
from colorizekit.hardware import PRECISIONS
from colorizekit.infer.backends import BACKENDS, DEFAULT_BACKEND
from colorizekit.infer.video.files import DEFAULT_CRF, H264_ENCODER, MAX_CRF, VP9_ENCODER
from colorizekit.infer.video.temporal import DEFAULT_TEMPORAL, TEMPORAL_METHODS


def add(sub: argparse._SubParsersAction) -> None:
    from colorizekit.imageio import OUTPUT_NAMES

    p = sub.add_parser("colorize", help="colorize photos and videos at their full resolution",
                       description="Colorize grayscale photos and videos (files, folders searched recursively, or "
                                   "globs). Outputs have the input's size, format, EXIF and ICC profile (videos: "
                                   "frame rate, frame count, audio and metadata); inputs are never overwritten.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="photo or video files, folders or glob patterns")
    p.add_argument("-o", "--out", default="colorized", help="output folder (default: colorized/)")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--weights", help="model.safetensors from `colorizekit train`, a training checkpoint, or with "
                                     "--backend onnx a .onnx file from `colorizekit export` (default: the weights "
                                     "shipped with colorizekit)")
    p.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND, help=BACKEND_HELP)
    p.add_argument("--size", type=int, default=None,
                   help=f"working size: short side at which colour is predicted (default: {SIZE_DEFAULT})")
    p.add_argument("--format", choices=OUTPUT_NAMES,
                   help="output format (default: the input's; BMP and GIF give PNG)")
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality, 1-100 (default: 95)")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist already")
    p.add_argument("--side-by-side", action="store_true", help="also write <name>_side_by_side: grayscale | colour")
    p.add_argument("--vividness", type=parse_vividness, metavar="V", help=VIVIDNESS_HELP)
    p.add_argument("--saturation", type=parse_saturation, metavar="S", help=SATURATION_HELP)
    add_device_options(p, "photos predicted together")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="network precision; auto = bf16 where the GPU/CPU runs it natively, else fp32")
    _add_engine_options(p)
    # -- video (colorizekit.infer.video; pip install 'colorizekit[video]')
    p.add_argument("--temporal", choices=TEMPORAL_METHODS, default=DEFAULT_TEMPORAL,
                   help="videos: flow = colour follows the optical flow and starts afresh at scene cuts; "
                        f"none = frame by frame (default: {DEFAULT_TEMPORAL})")
    p.add_argument("--crf", type=int, default=DEFAULT_CRF,
                   help=f"videos: the encoder's constant rate factor, lower is better (H.264 0-51, VP9 0-63; "
                        f"default: {DEFAULT_CRF})")
    p.set_defaults(func=run)


# -- --engine ray: batch colorization on Ray Data (colorizekit.infer.ray) ----------------------

_RAY_ONLY = ("address", "workers", "cpus_per_worker", "gpus_per_worker", "photos_per_task")


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("engine", "--engine ray spreads the work over a Ray cluster (needs colorizekit[ray]); "
                                       "INPUT may then also be a manifest: a .csv or .parquet file with a 'path' "
                                       "column (local paths or URIs), and -o a URI such as s3://bucket/out")
    g.add_argument("--engine", choices=("local", "ray"), default="local", help="local: this process (default); "
                   "ray: Ray Data, resumable (state in OUT/.colorizekit-ray/)")
    g.add_argument("--address", help="Ray cluster to run on (auto, host:6379, ray://host:10001; default: a local Ray)")
    g.add_argument("--workers", type=int, help="Ray workers, one model each (default: the cluster's CPUs / "
                                               "--cpus-per-worker, or its GPUs / --gpus-per-worker)")
    g.add_argument("--cpus-per-worker", type=float, help="CPUs (and torch threads) per worker (default: 1)")
    g.add_argument("--gpus-per-worker", type=float, help="GPUs per worker, fractions share one (default: 0)")
    g.add_argument("--photos-per-task", type=int, help="photos a worker takes at a time, rounded up to whole "
                                                       "--batch-size batches; what a lost worker redoes (default: 64)")


def _run_ray(args: argparse.Namespace) -> int:
    from colorizekit.infer.ray import ColorizerSpec, OutputSettings, RayOptions, colorize_files_ray

    given = {name: getattr(args, name) for name in _RAY_ONLY if getattr(args, name) is not None}
    spec = ColorizerSpec(model=args.model, weights=args.weights, device=args.device, size=args.size,
                         batch_size=args.batch_size, precision=args.precision, vividness=args.vividness,
                         saturation=args.saturation, backend=args.backend)
    settings = OutputSettings(format=args.format, quality=args.quality, overwrite=args.overwrite,
                              side_by_side_too=args.side_by_side)
    try:
        report = colorize_files_ray(args.inputs, args.out, spec=spec, settings=settings, options=RayOptions(**given),
                                    on_error=lambda source, reason: print(f"failed: {reason}", file=sys.stderr))
    except KeyboardInterrupt:
        print(f"stopped; run the same command again to finish the rest (state in {args.out}/.colorizekit-ray/)",
              file=sys.stderr)
        raise
    if report.skipped:
        print(f"{report.skipped} existing output(s) kept; pass --overwrite to replace them", file=sys.stderr)
    if report.failed:
        print(f"failures listed in {report.state}/failures.csv", file=sys.stderr)
    print(f"{report.summary()} -> {args.out}")
    return 1 if report.failed else 0


def run(args: argparse.Namespace) -> int:
    import warnings

    from tqdm import tqdm

    from colorizekit.infer.colorizer import Colorizer
    from colorizekit.infer.files import colorize_files

    if not 1 <= args.quality <= 100:
        raise ValueError(f"--quality must be between 1 and 100, got {args.quality}")
    if args.engine == "ray":
        return _run_ray(args)
    ray_only = [f"--{name.replace('_', '-')}" for name in _RAY_ONLY if getattr(args, name) is not None]
    if ray_only:
        raise ValueError(f"{', '.join(ray_only)} need(s) --engine ray")
    if not 0 <= args.crf <= MAX_CRF[VP9_ENCODER]:
        raise ValueError(f"--crf must be from 0 to {MAX_CRF[H264_ENCODER]} (H.264) or {MAX_CRF[VP9_ENCODER]} "
                         f"(VP9, WebM outputs), got {args.crf}")
    colorizer = Colorizer(model=args.model, weights=args.weights, device=args.device, size=args.size,
                          batch_size=args.batch_size, precision=args.precision, vividness=args.vividness,
                          saturation=args.saturation, backend=args.backend)
    with warnings.catch_warnings():  # notes get a line of their own, above the progress bar
        warnings.showwarning = lambda message, *a, **k: tqdm.write(f"note: {message}", file=sys.stderr)
        report = colorize_files(colorizer, args.inputs, args.out, format=args.format, quality=args.quality,
                                overwrite=args.overwrite, side_by_side_too=args.side_by_side,
                                on_error=lambda source, reason: print(f"failed: {reason}", file=sys.stderr),
                                temporal=args.temporal, crf=args.crf)
    if report.skipped:
        print(f"{len(report.skipped)} existing output(s) kept; pass --overwrite to replace them", file=sys.stderr)
    print(f"{report.summary()} -> {args.out}")
    return 1 if report.failed else 0
