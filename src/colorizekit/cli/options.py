"""What several commands share: help texts, argument parsers for vividness and saturation, device options."""

from __future__ import annotations

import argparse

from colorizekit.color import DEFAULT_SATURATION, MAX_SATURATION
from colorizekit.color.bins import DEFAULT_VIVIDNESS
from colorizekit.infer.backends import DEFAULT_BACKEND
from colorizekit.weights import DEFAULT_MODEL, DEFAULT_SIZE

SIZE_DEFAULT = f"the weights' measured working size, else {DEFAULT_SIZE}"
MODEL_HELP = f"model name (default: the weights file's model, else {DEFAULT_MODEL})"
VIVIDNESS_HELP = ("colour strength from 0 (muted: the predicted colours' mean) to 1 (vivid: the mean's hue with more "
                   "chroma); only models with a bins head (colour mode ab-bins) take it (default: the weights' "
                   f"measured default, else {DEFAULT_VIVIDNESS:g})")
WEIGHTS_HELP = ("model.safetensors from `colorizekit train`, or a training checkpoint (default: the weights shipped "
                "with colorizekit)")
SATURATION_HELP = ("factor on the predicted colours' chroma, any model: 0 gray, 1 as predicted, up to "
                    f"{MAX_SATURATION:g} (default: the weights' measured default, else {DEFAULT_SATURATION:g})")
BACKEND_HELP = ("what runs the model: torch (PyTorch), or onnx (onnxruntime on the CPU, fp32; pip install "
                 "'colorizekit[onnx]'; weights that are not .onnx are exported on first use into a cache) "
                 f"(default: {DEFAULT_BACKEND})")



def parse_vividness(text: str) -> float:
    """--vividness V: a number from 0 to 1 (bins.check_vividness decides)."""
    from colorizekit.color.bins import check_vividness

    try:
        return check_vividness(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 (muted) to 1 (vivid), got {text!r}") from None


def parse_saturation(text: str) -> float:
    """--saturation S: a number from 0 to MAX_SATURATION (color.check_saturation decides)."""
    from colorizekit.color import SATURATION_RANGE, check_saturation

    try:
        return check_saturation(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {SATURATION_RANGE}; got {text!r}") from None


def add_device_options(p: argparse.ArgumentParser, batch_help: str = "photos colorized together") -> None:
    """--batch-size and --device, shared by the commands that colorize."""
    p.add_argument("--batch-size", type=int, default=4, help=f"{batch_help} (default: 4)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when present)")
