"""Export a model with its weights to ONNX, so that it runs without PyTorch (onnxruntime, other languages).

The file maps the model's normalised input to CIE ab in Lab units: the colour mode's decoding
(`ColorMode.output_to_ab`) is traced into the graph with the network, so a bins head's decoding
(`bins.decode_bins`) is part of it, with its vividness as an input. The graph:
- input `input`: (N, 1, H, W) float32, what the colour mode's `input_from_gray` makes of a grayscale
  photo (see `normalisation` below); H and W multiples of `size_multiple`; N, H and W are dynamic;
- one (1,) float32 input per decoding option of the colour mode, named after it: `vividness` for
  bins models (0 to 1; the default is in `decode_inputs`); none for other modes;
- output `ab`: (N, 2, H / output_stride, W / output_stride) float32, CIE ab (D65) in Lab units.
Joining ab with the photo's own full-resolution L is left to the caller, as `color.join.join_luminance` does.

Metadata (ONNX `metadata_props`, strings), those of a weights file (`format` "colorizekit-onnx",
`model`, `model_config` and `card` as JSON, `color_mode`, `colorizekit_version`) plus what a runtime
needs: `size_multiple`, `output_stride`, `normalisation` (JSON {"input_from": "gray" or "L", "center",
"scale"}: input = (X - center) / scale, X the photo's gray in [0, 1] or its CIE L in [0, 100]) and
`decode_inputs` (JSON {input name: default value}).

The exporter is torch's TorchScript-based one (`torch.onnx.export(..., dynamo=False)`). With torch
2.13 it exports each model in about a second with `onnx` alone; the torch.export-based exporter needs
onnxscript and took some 20 times longer.

The graph is then rewritten for speed (`onnx.rewrite`); `onnx.cache` keeps exports made on first use.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from colorizekit import color
from colorizekit.imageio.atomic import atomic_path
from colorizekit.models import get_model_info
from colorizekit.models.modes import ColorMode
from colorizekit.onnx.rewrite import fuse_softmax_expectations, winograd_convs
from colorizekit.version import __version__
from colorizekit.weights import LoadedWeights, build_model, card_defaults, load_weights, resolve_weights
from colorizekit.weights.onnx_file import INPUT_NAME, ONNX_FORMAT, OUTPUT_NAME

OPSET = 17  # ONNX opset written (onnxruntime 1.14 and later run it)
GRAPH_REVISION = 4  # raised when export writes another graph for the same weights, to re-export (3: Winograd;
#   4: bins models decode by vividness, an input named `vividness`, instead of an annealed mean's temperature)


class DecodedModel(nn.Module):
    """A model followed by its colour mode's decoding: input (N, 1, H, W) and one (1,) tensor per
    decoding option (in `option_names` order) -> ab (N, 2, h, w) in Lab units."""

    def __init__(self, model: nn.Module, mode: ColorMode, option_names: list[str]) -> None:
        super().__init__()
        self.model = model
        self.mode = mode
        self.option_names = option_names

    def forward(self, x: torch.Tensor, *options: torch.Tensor) -> torch.Tensor:
        out = self.model(x)  # (N, C, h, w): the model's own output
        return self.mode.output_to_ab(out, **dict(zip(self.option_names, options)))  # (N, 2, h, w)


def input_normalisation(mode: ColorMode) -> dict[str, Any]:
    """How `mode` makes a model input from a gray photo, as {"input_from": "gray" or "L", "center",
    "scale"} with input = (X - center) / scale, found by fitting the mode's own `input_from_gray` on a
    gray ramp (the mode stays the one home of its normalisation). ValueError when it is neither."""
    gray = torch.linspace(0.0, 1.0, 101, dtype=torch.float64).view(1, 1, 1, -1)
    made = mode.input_from_gray(gray).flatten()
    for name, source in (("gray", gray), ("L", color.gray_to_l(gray))):
        design = torch.stack([source.flatten(), torch.ones_like(made)], dim=1)  # (101, 2)
        slope, intercept = torch.linalg.lstsq(design, made[:, None]).solution[:, 0].tolist()
        if slope != 0 and torch.allclose(design @ torch.tensor([slope, intercept], dtype=torch.float64), made,
                                         atol=1e-9):
            scale = 1.0 / slope
            return {"input_from": name, "center": round(-intercept * scale, 6) + 0.0, "scale": round(scale, 6)}
    raise ValueError(f"colour mode {mode.name!r}: its model input is not an affine function of the gray or of "
                     "its CIE L, which the ONNX metadata cannot describe")


def onnx_metadata(weights: LoadedWeights) -> dict[str, str]:
    """The metadata an exported file carries (see the module docstring), for `weights`."""
    info = get_model_info(weights.model_name)
    options = info.mode.decode_options(card_defaults(weights).vividness)
    return {
        "format": ONNX_FORMAT,
        "model": weights.model_name,
        "model_config": json.dumps(weights.model_config, sort_keys=True),
        "color_mode": info.color_mode,
        "colorizekit_version": __version__,
        "card": json.dumps(weights.metadata.get("card", {}), sort_keys=True),
        "size_multiple": str(info.size_multiple),
        "output_stride": str(info.output_stride),
        "normalisation": json.dumps(input_normalisation(info.mode)),
        "decode_inputs": json.dumps({k: float(v) for k, v in sorted(options.items())}),
    }


def write_onnx(path: str | os.PathLike, weights: LoadedWeights, winograd: bool = True) -> Path:
    """Export the model of loaded `weights` to an ONNX file at `path` (written atomically); returns the path.
    `winograd`: rewrite the convs that gain from it as Winograd F(4x4, 3x3) (`winograd_convs`)."""
    try:
        import onnx
    except ImportError:
        raise ValueError("exporting to ONNX needs the onnx package: pip install 'colorizekit[onnx]'") from None
    info = get_model_info(weights.model_name)
    metadata = onnx_metadata(weights)
    defaults = json.loads(metadata["decode_inputs"])
    names = list(defaults)
    wrapped = DecodedModel(build_model(weights, "cpu"), info.mode, names).eval()
    side = 4 * info.size_multiple  # the example input: every stage has at least one position
    example = (torch.zeros(1, 1, side, side + info.size_multiple),
               *(torch.tensor([value], dtype=torch.float32) for value in defaults.values()))
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter warns of its own deprecation
        torch.onnx.export(wrapped, example, buffer, dynamo=False, opset_version=OPSET,
                          input_names=[INPUT_NAME, *names], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
                                        OUTPUT_NAME: {0: "batch", 2: "ab_height", 3: "ab_width"}})
    proto = onnx.load_from_string(buffer.getvalue())
    fuse_softmax_expectations(proto)
    if winograd:
        winograd_convs(proto)
    onnx.helper.set_model_props(proto, metadata)
    proto.doc_string = (f"colorizekit {weights.model_name}: normalised input {INPUT_NAME} (N, 1, H, W) -> "
                        f"{OUTPUT_NAME} (N, 2, H/{info.output_stride}, W/{info.output_stride}) in CIE Lab units; "
                        f"input = (X - center) / scale, {metadata['normalisation']}")
    path = Path(path)
    with atomic_path(path) as tmp:
        onnx.save(proto, str(tmp))
    return path


def export_onnx(path: str | os.PathLike, model: str | None = None, weights: str | os.PathLike | None = None,
                winograd: bool = True) -> Path:
    """Export a model to ONNX at `path`: `weights` (a .safetensors or .pt file) or, without, the weights
    that ship for `model` (`DEFAULT_MODEL` when None), as `weights.resolve_weights` decides; `winograd`
    as `write_onnx`. Raises WeightsError naming the file when the weights cannot be used."""
    name, source = resolve_weights(model, weights)
    return write_onnx(path, load_weights(source, expected_model=name), winograd=winograd)
