"""`colorizekit export`: a model and its weights as an ONNX file."""

from __future__ import annotations

import argparse

from colorizekit.cli.options import MODEL_HELP, WEIGHTS_HELP


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a model with its weights to ONNX, to colorize without PyTorch",
                       description="Write a model and its weights as an ONNX file that maps the model's normalised "
                                   "input (N, 1, H, W; any batch, height and width) to CIE ab in Lab units, with "
                                   "its decoding inside (a bins head's vividness is an input), and metadata: "
                                   "model, colour mode, size multiple, normalisation, colorizekit version. "
                                   "Run it with `colorizekit colorize --backend onnx --weights FILE.onnx` or "
                                   "onnxruntime alone (examples/colorize_onnx.py).")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--weights", help=WEIGHTS_HELP)
    p.add_argument("-o", "--out", help="the .onnx file to write (default: MODEL.onnx)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from colorizekit.onnx.export import export_onnx
    from colorizekit.weights import resolve_weights

    name, weights = resolve_weights(args.model, args.weights)
    path = export_onnx(args.out or f"{name}.onnx", name, weights)
    print(f"{name} ({weights}) -> {path}")
    return 0
