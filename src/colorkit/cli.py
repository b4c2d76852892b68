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


def _add_colorize(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("colorize", help="colorize photos at their full resolution",
                       description="Colorize grayscale photos (files, folders searched recursively, or globs). "
                                   "Outputs have the input's size, format, EXIF and ICC profile; inputs are "
                                   "never overwritten.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="photo files, folders or glob patterns")
    p.add_argument("-o", "--out", default="colorized", help="output folder (default: colorized/)")
    p.add_argument("--model", help="model name (default: the weights file's model, else jkspnet-lab)")
    p.add_argument("--weights", help="model.safetensors from `colorkit train`, or a training checkpoint "
                                     "(default: the weights shipped with colorkit)")
    p.add_argument("--size", type=int, default=256, help="working size: short side at which colour is predicted "
                                                          "(default: 256)")
    p.add_argument("--format", choices=["png", "jpg", "webp", "tiff"], help="output format (default: the input's)")
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality, 1-100 (default: 95)")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist already")
    p.add_argument("--side-by-side", action="store_true", help="also write <name>_side_by_side: grayscale | colour")
    p.add_argument("--batch-size", type=int, default=4, help="photos predicted together (default: 4)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when present)")
    p.set_defaults(func=_run_colorize)


def _run_colorize(args: argparse.Namespace) -> int:
    import warnings

    from colorkit.colorize import Colorizer, colorize_files

    if not 1 <= args.quality <= 100:
        raise ValueError(f"--quality must be between 1 and 100, got {args.quality}")
    warnings.formatwarning = lambda message, *a, **k: f"note: {message}\n"
    colorizer = Colorizer(model=args.model, weights=args.weights, device=args.device, size=args.size,
                          batch_size=args.batch_size)
    report = colorize_files(colorizer, args.inputs, args.out, format=args.format, quality=args.quality,
                            overwrite=args.overwrite, side_by_side_too=args.side_by_side,
                            on_error=lambda source, reason: print(f"failed: {reason}", file=sys.stderr))
    if report.skipped:
        print(f"{len(report.skipped)} existing output(s) kept; pass --overwrite to replace them", file=sys.stderr)
    print(f"{report.summary()} -> {args.out}")
    return 1 if report.failed else 0


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="colorize the built-in example photos and draw comparison grids",
                       description="Colorize a few built-in public-domain/CC0 photos with each model that has "
                                   "weights and write grids of grayscale | colorized | original.")
    p.add_argument("-o", "--out", default="demo", help="output folder (default: demo/)")
    p.add_argument("--model", action="append", dest="models", metavar="NAME",
                   help="model to run (repeatable; default: all models)")
    p.add_argument("--weights", action="append", default=[], metavar="FILE",
                   help="weights file to use instead of the shipped ones (repeatable; its model is read from the file)")
    p.add_argument("--size", type=int, default=256, help="working size (default: 256)")
    p.add_argument("--device", help="cpu, cuda, ... (default: cuda when present)")
    p.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from colorkit.checkpoint import load_weights
    from colorkit.demo import run_demo

    weights = {load_weights(w).model_name: w for w in args.weights}
    models = args.models or (sorted(weights) if weights else None)
    result = run_demo(args.out, models=models, weights=weights, size=args.size, device=args.device)
    for name, path in result.grids.items():
        print(f"{name}: {len(result.outputs[name])} photos colorized; grid: {path}")
    for name, reason in result.unavailable.items():
        print(f"{name}: not run: {reason}", file=sys.stderr)
    return 0 if result.grids else 1


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


def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="start a web page and HTTP API for colorizing photos",
                       description="Serve a page for colorizing photos, and its HTTP API (POST /api/colorize, "
                                   "GET /api/models, GET /healthz, docs at /docs), with uvicorn. Listens on this "
                                   "machine only unless --host says otherwise; there is no authentication.")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1, loopback only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    p.add_argument("--model", default="jkspnet-lab", help="model used when a request names none (default: jkspnet-lab)")
    p.add_argument("--weights", action="append", default=[], metavar="FILE",
                   help="weights file (repeatable; its model is read from the file; default: the shipped weights)")
    p.add_argument("--size", type=int, default=256, help="working size used when a request names none (default: 256)")
    p.add_argument("--max-upload-mb", type=float, default=25, help="largest accepted file in MB (default: 25)")
    p.add_argument("--max-megapixels", type=float, default=40, help="largest accepted image in megapixels (default: 40)")
    p.add_argument("--queue-size", type=int, default=16,
                   help="requests that may wait beyond the batch in progress; more are refused with 503 (default: 16)")
    p.add_argument("--batch-size", type=int, default=4, help="most requests colorized together (default: 4)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when present)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                   help="uvicorn's log level (default: info)")
    p.set_defaults(func=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from colorkit.web import ServeSettings, create_app
    except ImportError as exc:
        raise ValueError(f"needs the serve extras ({exc.name} is not installed): pip install 'colorkit[serve]'") from None
    settings = ServeSettings(host=args.host, port=args.port, model=args.model, weights=tuple(args.weights),
                             size=args.size, max_size=max(1024, args.size), batch_size=args.batch_size,
                             max_upload_bytes=int(args.max_upload_mb * 1e6),
                             max_pixels=int(args.max_megapixels * 1e6), queue_size=args.queue_size,
                             device=args.device)
    app = create_app(settings)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: other machines can reach this server, which has no "
              "authentication", file=sys.stderr)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"colorkit serve: open http://{host}:{args.port}/ (Ctrl+C stops)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


_COMMANDS = (_add_info, _add_colorize, _add_demo, _add_serve)


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
