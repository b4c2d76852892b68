"""The `colorizekit` command: a thin argparse layer over the Python API.

Each subcommand has an `_add_<name>` function that declares its arguments and a `_run_<name>`
function that calls the API; nothing here does real work.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from colorizekit import __version__
from colorizekit.defaults import (BACKENDS, DEFAULT_BACKEND, DEFAULT_MODEL, DEFAULT_SATURATION, DEFAULT_SIZE,
                                 DEFAULT_VIVIDNESS, MAX_SATURATION, PRECISIONS)

_SIZE_DEFAULT = f"the weights' measured working size, else {DEFAULT_SIZE}"
_MODEL_HELP = f"model name (default: the weights file's model, else {DEFAULT_MODEL})"
_VIVIDNESS_HELP = ("colour strength from 0 (muted: the predicted colours' mean) to 1 (vivid: close to the most likely "
                   "colour); only models with a bins head (colour mode ab-bins) take it (default: the weights' "
                   f"measured default, else {DEFAULT_VIVIDNESS:g})")
_SATURATION_HELP = ("factor on the predicted colours' chroma, any model: 0 gray, 1 as predicted, up to "
                    f"{MAX_SATURATION:g} (default: the weights' measured default, else {DEFAULT_SATURATION:g})")
_BACKEND_HELP = ("what runs the model: torch (PyTorch), or onnx (onnxruntime on the CPU, fp32; pip install "
                 "'colorizekit[onnx]'; weights that are not .onnx are exported on first use into a cache) "
                 f"(default: {DEFAULT_BACKEND})")


def _parse_vividness(text: str) -> float:
    """--vividness V: a number from 0 to 1 (bins.vividness_to_temperature decides)."""
    from colorizekit.bins import vividness_to_temperature

    try:
        value = float(text)
        vividness_to_temperature(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 (muted) to 1 (vivid), got {text!r}") from None
    return value


def _parse_saturation(text: str) -> float:
    """--saturation S: a number from 0 to MAX_SATURATION (color.check_saturation decides)."""
    from colorizekit.color import SATURATION_RANGE, check_saturation

    try:
        return check_saturation(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {SATURATION_RANGE}; got {text!r}") from None


def _add_device_options(p: argparse.ArgumentParser, batch_help: str = "photos colorized together") -> None:
    """--batch-size and --device, shared by the commands that colorize."""
    p.add_argument("--batch-size", type=int, default=4, help=f"{batch_help} (default: 4)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when present)")


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="list models, or print one model's layer table, parameters and mult-adds",
                       description="Without --model: list every model with its parameters and the mult-adds it "
                                   "performs on one photo, beside the design's jkspnet-lab. With --model: print "
                                   "that model's layer table (as the design documents' summaries), parameter "
                                   "count and mult-adds for a batch at a given size.")
    p.add_argument("--model", help="registry name (omit to list the available models)")
    p.add_argument("--batch-size", type=int, default=32, help="batch size for --model's count (default: 32)")
    p.add_argument("--image-size", type=int, default=128, help="square input size for the counts (default: 128)")
    p.set_defaults(func=_run_info)


def _run_info(args: argparse.Namespace) -> int:
    from colorizekit.complexity import format_model_list, format_summary, model_costs, summarize_model

    if args.batch_size < 1 or args.image_size < 1:
        raise ValueError(f"--batch-size and --image-size must be positive, got {args.batch_size} and {args.image_size}")
    if args.model is None:
        print(format_model_list(model_costs(args.image_size), args.image_size))
        print("\n".join(_shipped_weights_lines()))
        return 0
    shape = (args.batch_size, 1, args.image_size, args.image_size)
    print(format_summary(summarize_model(args.model, shape)))
    return 0


def _shipped_weights_lines() -> list[str]:
    """For `info`: each model's shipped weights and the defaults measured for them, or why it has none."""
    from colorizekit.checkpoint import (default_saturation, default_size, default_vividness, default_weights_path,
                                        load_description)
    from colorizekit.models import list_models

    lines = ["shipped weights (the defaults they were measured best at):"]
    for name in list_models():
        path = default_weights_path(name)
        if path is None:
            lines.append(f"  {name:<16}none yet: pass --weights FILE (a model.safetensors from `colorizekit train`)")
            continue
        weights = load_description(path)  # the card only: the tensors are not needed here
        vividness = default_vividness(weights)
        settings = [f"size {default_size(weights)}", *([] if vividness is None else [f"vividness {vividness:g}"]),
                    f"saturation {default_saturation(weights):g}"]
        hours = weights.metadata.get("card", {}).get("shipped", {}).get("wall_hours_in_completed_epochs")
        trained = "" if hours is None else f"; {hours:.1f} hours of training"
        lines.append(f"  {name:<16}{path.stat().st_size / 2**20:.1f} MiB, {', '.join(settings)}{trained}")
    return lines


def _add_colorize(sub: argparse._SubParsersAction) -> None:
    from colorizekit.imageio import OUTPUT_NAMES

    p = sub.add_parser("colorize", help="colorize photos at their full resolution",
                       description="Colorize grayscale photos (files, folders searched recursively, or globs). "
                                   "Outputs have the input's size, format, EXIF and ICC profile; inputs are "
                                   "never overwritten.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="photo files, folders or glob patterns")
    p.add_argument("-o", "--out", default="colorized", help="output folder (default: colorized/)")
    p.add_argument("--model", help=_MODEL_HELP)
    p.add_argument("--weights", help="model.safetensors from `colorizekit train`, a training checkpoint, or with "
                                     "--backend onnx a .onnx file from `colorizekit export` (default: the weights "
                                     "shipped with colorizekit)")
    p.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND, help=_BACKEND_HELP)
    p.add_argument("--size", type=int, default=None,
                   help=f"working size: short side at which colour is predicted (default: {_SIZE_DEFAULT})")
    p.add_argument("--format", choices=OUTPUT_NAMES,
                   help="output format (default: the input's; BMP and GIF give PNG)")
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality, 1-100 (default: 95)")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist already")
    p.add_argument("--side-by-side", action="store_true", help="also write <name>_side_by_side: grayscale | colour")
    p.add_argument("--vividness", type=_parse_vividness, metavar="V", help=_VIVIDNESS_HELP)
    p.add_argument("--saturation", type=_parse_saturation, metavar="S", help=_SATURATION_HELP)
    _add_device_options(p, "photos predicted together")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="network precision; auto = bf16 where the GPU/CPU runs it natively, else fp32")
    p.set_defaults(func=_run_colorize)


def _run_colorize(args: argparse.Namespace) -> int:
    import warnings

    from tqdm import tqdm

    from colorizekit.colorize import Colorizer, colorize_files

    if not 1 <= args.quality <= 100:
        raise ValueError(f"--quality must be between 1 and 100, got {args.quality}")
    colorizer = Colorizer(model=args.model, weights=args.weights, device=args.device, size=args.size,
                          batch_size=args.batch_size, precision=args.precision, vividness=args.vividness,
                          saturation=args.saturation, backend=args.backend)
    with warnings.catch_warnings():  # notes get a line of their own, above the progress bar
        warnings.showwarning = lambda message, *a, **k: tqdm.write(f"note: {message}", file=sys.stderr)
        report = colorize_files(colorizer, args.inputs, args.out, format=args.format, quality=args.quality,
                                overwrite=args.overwrite, side_by_side_too=args.side_by_side,
                                on_error=lambda source, reason: print(f"failed: {reason}", file=sys.stderr))
    if report.skipped:
        print(f"{len(report.skipped)} existing output(s) kept; pass --overwrite to replace them", file=sys.stderr)
    print(f"{report.summary()} -> {args.out}")
    return 1 if report.failed else 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a model with its weights to ONNX, to colorize without PyTorch",
                       description="Write a model and its weights as an ONNX file that maps the model's normalised "
                                   "input (N, 1, H, W; any batch, height and width) to CIE ab in Lab units, with "
                                   "its decoding inside (a bins head's temperature is an input), and metadata: "
                                   "model, colour mode, size multiple, normalisation, colorizekit version. "
                                   "Run it with `colorizekit colorize --backend onnx --weights FILE.onnx` or "
                                   "onnxruntime alone (examples/colorize_onnx.py).")
    p.add_argument("--model", help=_MODEL_HELP)
    p.add_argument("--weights", help="model.safetensors from `colorizekit train`, or a training checkpoint "
                                     "(default: the weights shipped with colorizekit)")
    p.add_argument("-o", "--out", help="the .onnx file to write (default: MODEL.onnx)")
    p.set_defaults(func=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from colorizekit.checkpoint import resolve_weights
    from colorizekit.export import export_onnx

    name, weights = resolve_weights(args.model, args.weights)
    path = export_onnx(args.out or f"{name}.onnx", name, weights)
    print(f"{name} ({weights}) -> {path}")
    return 0


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="colorize the built-in example photos and draw comparison grids",
                       description="Colorize a few built-in public-domain/CC0 photos with each model that has "
                                   "weights and write grids of grayscale | colorized | original.")
    p.add_argument("-o", "--out", default="demo", help="output folder (default: demo/)")
    p.add_argument("--model", action="append", dest="models", metavar="NAME",
                   help="model to run (repeatable; default: all models)")
    p.add_argument("--weights", action="append", default=[], metavar="[NAME=]FILE",
                   help="weights file to use instead of the shipped ones (repeatable; a bare FILE is used for the "
                        "model it is for; default models: those given weights, else all)")
    p.add_argument("--size", type=int, default=None, help=f"working size (default: {_SIZE_DEFAULT})")
    p.add_argument("--device", help="cpu, cuda, ... (default: cuda when present)")
    p.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from colorizekit.demo import run_demo

    result = run_demo(args.out, models=args.models, weights=args.weights, size=args.size, device=args.device)
    for name, path in result.grids.items():
        print(f"{name}: {len(result.outputs[name])} photos colorized; grid: {path}")
    for name, reason in result.unavailable.items():
        print(f"{name}: not run: {reason}", file=sys.stderr)
    return 0 if result.grids else 1


def _add_serve(sub: argparse._SubParsersAction) -> None:
    from colorizekit.web.settings import DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_MAX_UPLOAD_PIXELS

    p = sub.add_parser("serve", help="start a web page and HTTP API for colorizing photos",
                       description="Serve a page for colorizing photos, and its HTTP API (POST /api/colorize, "
                                   "GET /api/models, GET /healthz, docs at /docs), with uvicorn. Listens on this "
                                   "machine only unless --host says otherwise; there is no authentication.")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1, loopback only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"model used when a request names none (default: {DEFAULT_MODEL})")
    p.add_argument("--weights", action="append", default=[], metavar="FILE",
                   help="weights file (repeatable; its model is read from the file; .onnx files need --backend "
                        "onnx; default: the shipped weights)")
    p.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND, help=_BACKEND_HELP)
    p.add_argument("--size", type=int, default=None,
                   help=f"working size used when a request names none (default: {_SIZE_DEFAULT})")
    p.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_BYTES / 1e6,
                   help=f"largest accepted file in MB (default: {DEFAULT_MAX_UPLOAD_BYTES / 1e6:g})")
    p.add_argument("--max-megapixels", type=float, default=DEFAULT_MAX_UPLOAD_PIXELS / 1e6,
                   help=f"largest accepted image in megapixels (default: {DEFAULT_MAX_UPLOAD_PIXELS / 1e6:g})")
    p.add_argument("--queue-size", type=int, default=16,
                   help="requests that may wait beyond the batch in progress; more are refused with 503 (default: 16)")
    _add_device_options(p, "most requests colorized together")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                   help="uvicorn's log level (default: info)")
    p.set_defaults(func=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from colorizekit.web import ServeSettings, create_app
        from colorizekit.web.settings import startup_warnings
    except ImportError as exc:
        raise ValueError(f"needs the serve extras ({exc.name} is not installed): pip install 'colorizekit[serve]'") from None
    settings = ServeSettings(host=args.host, port=args.port, model=args.model, weights=tuple(args.weights),
                             size=args.size, max_size=max(1024, args.size or 0), batch_size=args.batch_size,
                             max_upload_bytes=int(args.max_upload_mb * 1e6),
                             max_pixels=int(args.max_megapixels * 1e6), queue_size=args.queue_size,
                             device=args.device, backend=args.backend)
    app = create_app(settings)
    for line in startup_warnings(settings, app.state.models):
        print(f"warning: {line}", file=sys.stderr)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: other machines can reach this server, which has no "
              "authentication", file=sys.stderr)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"colorizekit serve: open http://{host}:{args.port}/ (Ctrl+C stops)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a model on colour photos against their originals",
                       description="Turn each colour photo in DIR into grayscale (its own CIE L, zero chroma), "
                                   "colorize it and compare it with the original: PSNR, SSIM, CIEDE2000, ab AuC, "
                                   "colourfulness, UCIQE and UIQM, per photo and per set, with the grayscale "
                                   "input as a baseline. Writes per_image.csv, summary.json, summary.md and "
                                   "worst_best.png to the report folder.")
    p.add_argument("source", metavar="DIR", help="folder of colour photos (searched recursively), a file or a glob")
    p.add_argument("-o", "--out", default="evaluation", help="report folder (default: evaluation/)")
    p.add_argument("--model", help=_MODEL_HELP)
    p.add_argument("--weights", help="model.safetensors or training checkpoint (default: the shipped weights)")
    p.add_argument("--size", type=int, default=None,
                   help=f"working size for --protocol full (default: {_SIZE_DEFAULT})")
    p.add_argument("--protocol", choices=["full", "design"], default="full",
                   help="full: each photo at its own resolution; design: 128 x 128 as the design's test "
                        "(default: full)")
    _add_device_options(p)
    p.add_argument("--limit", type=int, help="evaluate only the first N photos")
    p.add_argument("--grid-count", type=int, default=3, help="worst and best photos shown in worst_best.png (default: 3)")
    p.add_argument("--vividness", type=_parse_vividness, metavar="V", help=_VIVIDNESS_HELP)
    p.add_argument("--saturation", type=_parse_saturation, metavar="S", help=_SATURATION_HELP)
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from colorizekit.evaluate import evaluate
    from colorizekit.evaluation_report import failed_lines, write_report

    result = evaluate(args.source, args.model, weights=args.weights, size=args.size, protocol=args.protocol,
                      batch_size=args.batch_size, device=args.device, limit=args.limit, vividness=args.vividness,
                      saturation=args.saturation)
    for line in failed_lines(result):
        print(line, file=sys.stderr)
    if not result.images:
        raise ValueError(f"{args.source}: no photo could be evaluated")
    files = write_report(result, args.out, grid_count=args.grid_count)
    print(result.table())
    print(f"{len(result.images)} photo(s) evaluated, {len(result.failed)} skipped -> {files.summary_md.parent}")
    return 0


def _add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare models side by side on colour photos",
                       description="Evaluate several models on the same colour photos and draw, for each photo, "
                                   "original | each model | grayscale with PSNR, SSIM, ΔE00 and CF under each "
                                   "picture; prints the summary table of all models.")
    p.add_argument("source", metavar="DIR", help="folder of colour photos (searched recursively), a file or a glob")
    p.add_argument("--models", required=True, help="comma-separated model names, e.g. unet-rgb,jkspnet-lab")
    p.add_argument("--weights", action="append", default=[], metavar="NAME=FILE",
                   help="weights for a model (repeatable); a bare FILE is used for the model it is for "
                        "(default: the shipped weights)")
    p.add_argument("-o", "--out", default="comparison.png", help="output picture (default: comparison.png)")
    p.add_argument("--size", type=int, default=None,
                   help=f"working size for --protocol full (default: {_SIZE_DEFAULT})")
    p.add_argument("--protocol", choices=["full", "design"], default="full", help="as for evaluate (default: full)")
    p.add_argument("--limit", type=int, help="use only the first N photos")
    p.add_argument("--cell-height", type=int, default=192, help="picture height in the grid, pixels (default: 192)")
    p.add_argument("--vividness", type=_parse_vividness, metavar="V",
                   help="colour strength from 0 (muted) to 1 (vivid) for the models with a bins head; ignored for "
                        f"the others (default: each model's measured default, else {DEFAULT_VIVIDNESS:g})")
    p.add_argument("--saturation", type=_parse_saturation, metavar="S",
                   help=f"factor on the predicted chroma for every model: 0 gray, 1 as predicted, up to "
                        f"{MAX_SATURATION:g} (default: each model's measured default, else {DEFAULT_SATURATION:g})")
    _add_device_options(p)
    p.set_defaults(func=_run_compare)


def _run_compare(args: argparse.Namespace) -> int:
    from colorizekit.atomic import atomic_path
    from colorizekit.evaluate import compare
    from colorizekit.evaluation_report import comparison_grid, failed_lines

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    comparison = compare(args.source, models, weights=args.weights, size=args.size, protocol=args.protocol,
                         batch_size=args.batch_size, device=args.device, limit=args.limit,
                         vividness=args.vividness, saturation=args.saturation)
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
    print(f"{len(comparison.results[0].images)} photo(s), {len(models)} model(s) -> {args.out}")
    return 0


def _add_train(sub: argparse._SubParsersAction) -> None:
    from colorizekit.defaults import PRECISIONS
    from colorizekit.losses import list_losses
    from colorizekit.schedule import SCHEDULES
    from colorizekit.train import RESUMABLE_CHANGES, TrainConfig

    d = {f.name: f.default for f in TrainConfig.__dataclass_fields__.values()}
    p = sub.add_parser("train", help="train a model on a folder of colour photos (the design's recipe)",
                       description="Train a model on the colour photos under DATA_DIR (searched recursively; "
                                   "grayscale and unreadable files are skipped). Defaults follow the design: "
                                   "128 x 128, batch 32, the model's loss (MSE for the design's models), Adam lr "
                                   "1e-3 weight decay 1e-7, up to 100 epochs, early stopping with patience 10, "
                                   "80/20 split with seed 44. Writes last.pt (every epoch and every --save-every "
                                   "minutes), best.pt, history.csv, loss_curve.png and, at the end, "
                                   "model.safetensors and model_card.json into RUN_DIR. Ctrl-C or SIGTERM saves "
                                   "and stops; --resume continues. Under torchrun (--nproc_per_node=N) it trains "
                                   "with DistributedDataParallel; --batch-size is then the global batch.",
                       epilog="On --resume, the run's saved settings are used; flags given override them, but "
                              f"only these may change: {', '.join(sorted(RESUMABLE_CHANGES - {'data_dir', 'out_dir'}))}.")
    S = argparse.SUPPRESS
    p.add_argument("data_dir", metavar="DATA_DIR", help="folder of colour photos (searched recursively)")
    p.add_argument("--model", required=True, help="registry name (see `colorizekit info`)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder for checkpoints, logs and weights")
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its last.pt")
    p.add_argument("--init-from", default=S, metavar="WEIGHTS",
                   help="start a new run from a model.safetensors or checkpoint of the same model")
    p.add_argument("--model-config", default=S, metavar="KEY=VALUE[,KEY=VALUE]", type=_parse_model_config,
                   help="options for the model, e.g. width=32 (see the model's docs)")
    p.add_argument("--epochs", type=int, default=S, help=f"maximum epochs (default: {d['epochs']})")
    p.add_argument("--batch-size", type=int, default=S,
                   help=f"global batch, split across torchrun processes (default: {d['batch_size']})")
    p.add_argument("--image-size", type=int, default=S,
                   help=f"square training size, a multiple of the model's size multiple (default: {d['image_size']})")
    p.add_argument("--lr", type=float, default=S, help=f"Adam learning rate (default: {d['lr']:g})")
    p.add_argument("--schedule", choices=SCHEDULES, default=S,
                   help="learning rate: constant (the design), or cosine: a short warm-up, then a cosine decay over "
                        f"--epochs, or over --time-budget when one is set (default: {d['schedule']})")
    p.add_argument("--weight-decay", type=float, default=S, help=f"Adam weight decay (default: {d['weight_decay']:g})")
    p.add_argument("--loss", choices=list_losses(), default=S, help="loss (default: the model's colour mode's)")
    p.add_argument("--rebalance", type=_parse_rebalance, default=S, metavar="LAMBDA|none",
                   help="bins models: class rebalancing, the weight of the uniform distribution mixed into the "
                        f"colour prior; 1 or 'none': no rebalancing (default: {d['rebalance']:g}, as Zhang et al.)")
    p.add_argument("--patience", type=int, default=S,
                   help=f"early stopping: epochs without improvement (default: {d['patience']})")
    p.add_argument("--min-delta", type=float, default=S,
                   help=f"early stopping: smallest improvement that counts (default: {d['min_delta']:g})")
    p.add_argument("--time-budget", type=float, default=S, metavar="MINUTES",
                   help="stop cleanly after this many minutes: save, export the best weights so far, exit 0")
    p.add_argument("--save-every", type=float, default=S, metavar="MINUTES",
                   help=f"also save last.pt this often within an epoch; 0: only at epoch ends (default: {d['save_every']:g})")
    p.add_argument("--val-fraction", type=float, default=S,
                   help=f"share of photos for validation (default: {d['val_fraction']:g})")
    p.add_argument("--seed", type=int, default=S, help=f"seed of split, weights, order and crops (default: {d['seed']})")
    p.add_argument("--resize", choices=["crop", "squash"], default=S,
                   help="crop: random crops and flips (validation: centre crop); squash: the design's whole-photo "
                        f"resize (default: {d['resize']})")
    p.add_argument("--cache-mb", type=int, default=S,
                   help=f"RAM for photos decoded once per run; 0: decode from disk every time (default: {d['cache_mb']})")
    p.add_argument("--workers", type=int, default=S,
                   help="data loader processes per process (default: 0 when every photo is cached, else 1 on a CPU "
                        "and up to 8 on a GPU)")
    p.add_argument("--threads", type=int, default=S, help="torch CPU threads (default: torch's, one per core)")
    p.add_argument("--device", default=S, help="auto, cpu, cuda, cuda:1... (default: auto; torchrun: cuda:LOCAL_RANK)")
    p.add_argument("--precision", choices=PRECISIONS, default=S,
                   help="bf16 autocast or fp32 (default: auto = bf16 where the GPU or CPU runs it natively)")
    p.add_argument("--compile", action="store_true", default=S, help="torch.compile the model")
    p.add_argument("--sync-bn", action="store_true", default=S,
                   help="SyncBatchNorm across torchrun processes (CUDA only; default: per-process statistics)")
    p.add_argument("--restart-from-best", action="store_true", default=S,
                   help="the design notebook's behaviour: reload the best weights after each non-improving epoch")
    p.add_argument("--deterministic", action="store_true", default=S,
                   help="deterministic algorithms (bit-for-bit reproducible, slower)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (log lines only)")
    p.set_defaults(func=_run_train)


def _parse_model_config(text: str) -> dict:
    import json

    config = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {item!r}")
        try:
            config[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            config[key.strip()] = value
    return config


def _parse_rebalance(text: str) -> float:
    if text.strip().lower() == "none":
        return 1.0
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1] or 'none', got {text!r}") from None


def _run_train(args: argparse.Namespace) -> int:
    import dataclasses

    from colorizekit.train import DataFailure, TrainConfig, TrainingDiverged, train

    names = {f.name for f in dataclasses.fields(TrainConfig)} - {"data_dir", "model", "out_dir"}
    given = {k: v for k, v in vars(args).items() if k in names}
    if args.resume:
        config = TrainConfig.from_run(args.out, model=args.model, data_dir=args.data_dir, **given)
    else:
        config = TrainConfig(data_dir=args.data_dir, model=args.model, out_dir=args.out, **given)
    try:
        result = train(config, resume=args.resume, progress=not args.no_progress)
    except (TrainingDiverged, DataFailure) as exc:
        print(f"colorizekit train: error: {exc}", file=sys.stderr)
        return 1
    return 130 if result.status == "interrupted" else 0


_COMMANDS = (_add_info, _add_colorize, _add_export, _add_demo, _add_serve, _add_evaluate, _add_compare, _add_train)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (used by `main` and by the tests)."""
    parser = argparse.ArgumentParser(
        prog="colorizekit",
        description="Colorize grayscale photographs at full resolution; train, evaluate and compare models.",
    )
    parser.add_argument("--version", action="version", version=f"colorizekit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
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


if __name__ == "__main__":
    raise SystemExit(main())
