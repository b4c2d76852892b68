"""The page's ONNX model: the network alone, its raw output (a bins model's logits at 1/4 resolution,
a `lab` model's normalised ab, an `rgb` model's RGB), so that the page decodes it in JavaScript and its
vividness and saturation sliders re-decode without running the network again.

The graph: input `input` (1, 1, H, W) float32, what the colour mode's `input_from_gray` makes of the
gray photo (H and W multiples of the model's size multiple, dynamic); output `output` (1, C, H / stride,
W / stride) float32. Exported with torch's TorchScript-based exporter, as `colorizekit.onnx.export` does.

`quantize="int8"` stores the weights of every Conv and MatMul as int8 with onnxruntime's dynamic
quantisation (`onnxruntime.quantization.quantize_dynamic`, per-channel), about 4 times smaller.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import warnings
from pathlib import Path

import torch

from colorizekit.imageio.atomic import atomic_path
from colorizekit.models import get_model_info
from colorizekit.onnx.export import OPSET
from colorizekit.weights import LoadedWeights, build_model

QUANTIZE = ("int8", "none")  # the page model's weight formats
DEFAULT_QUANTIZE = "int8"
INPUT_NAME = "input"
OUTPUT_NAME = "output"


def check_quantize(quantize: str) -> str:
    """`quantize` when it is one of QUANTIZE; ValueError naming them otherwise."""
    if quantize not in QUANTIZE:
        raise ValueError(f"quantize must be one of {', '.join(QUANTIZE)}; got {quantize!r}")
    return quantize


def _export_bytes(weights: LoadedWeights) -> bytes:
    """The fp32 ONNX graph of the model of `weights`, raw output, as bytes."""
    info = get_model_info(weights.model_name)
    model = build_model(weights, "cpu")
    side = 4 * info.size_multiple  # the example input: every stage has at least one position
    example = torch.zeros(1, 1, side, side + info.size_multiple)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter warns of its own deprecation
        torch.onnx.export(model, (example,), buffer, dynamo=False, opset_version=OPSET,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {2: "height", 3: "width"},
                                        OUTPUT_NAME: {2: "out_height", 3: "out_width"}})
    return buffer.getvalue()


def write_page_model(path: str | os.PathLike, weights: LoadedWeights, quantize: str = DEFAULT_QUANTIZE) -> Path:
    """Write the page's ONNX model of `weights` to `path` (atomically), fp32 or int8 weights; returns the path."""
    check_quantize(quantize)
    try:
        import onnx
    except ImportError:
        raise ValueError("building the page needs the onnx package: pip install 'colorizekit[onnx]'") from None
    proto = onnx.load_from_string(_export_bytes(weights))
    proto.doc_string = f"colorizekit {weights.model_name} for the browser page: {INPUT_NAME} -> raw {OUTPUT_NAME}"
    path = Path(path)
    with atomic_path(path) as tmp:
        if quantize == "none":
            onnx.save(proto, str(tmp))
        else:
            _quantize_int8(proto, Path(tmp))
    return path


def _quantize_int8(proto: object, target: Path) -> None:
    """Dynamic int8 quantisation of `proto`'s Conv and MatMul weights into the file `target`."""
    import onnx

    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise ValueError("int8 weights need onnxruntime: pip install 'colorizekit[onnx]' (or --quantize none)") from None
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "fp32.onnx"
        onnx.save(proto, str(source))
        logging.disable(logging.WARNING)  # its advice to pre-process, on the root logger, is for image classifiers
        try:
            quantize_dynamic(source, target, weight_type=QuantType.QUInt8, per_channel=False,
                             op_types_to_quantize=["Conv", "MatMul"])
        finally:
            logging.disable(logging.NOTSET)
