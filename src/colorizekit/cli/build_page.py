"""`colorizekit build-page`: a static page that colorizes photos in the visitor's browser."""

from __future__ import annotations

import argparse

from colorizekit.cli.options import MODEL_HELP, WEIGHTS_HELP

DESCRIPTION = """\
Write a self-contained static folder (index.html, scripts, the model as ONNX, onnxruntime-web) that
colorizes photos on the visitor's own machine (WebGPU when the browser has it, else WASM): nothing is
uploaded and nothing is loaded from another origin. Any static web server serves it; one that sends the
COOP/COEP headers (python -m colorizekit.web.page.serve FOLDER) lets WASM use several threads."""


def add(sub: argparse._SubParsersAction) -> None:
    from colorizekit.web.page.model import DEFAULT_QUANTIZE, QUANTIZE

    p = sub.add_parser("build-page", help="write a static page that colorizes photos in the browser, no upload",
                       description=DESCRIPTION)
    p.add_argument("-o", "--out", required=True, help="the folder to write (created when missing)")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--weights", help=WEIGHTS_HELP)
    p.add_argument("--quantize", choices=QUANTIZE, default=DEFAULT_QUANTIZE,
                   help=f"the model's weights: int8 (about 4 times smaller) or none (fp32); default {DEFAULT_QUANTIZE}")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from colorizekit.web.page import build_page

    built = build_page(args.out, args.model, args.weights, args.quantize)
    print(f"{built.model_name} ({built.weights}) -> {built.folder}/ ({built.bytes / 1e6:.1f} MB); "
          f"serve it with: python -m colorizekit.web.page.serve {built.folder}")
    return 0
