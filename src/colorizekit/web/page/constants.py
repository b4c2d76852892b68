"""The page's constants: what the browser needs to do the Python pipeline's colour maths exactly as
Python does it, read from the Python modules that own each constant (`color`, `bins`, `defaults`, the
colour mode's normalisation), so that Python and the page's JavaScript cannot drift apart.

`page_constants(...)` is the content of the page's `model.json`:
- `srgb`: IEC 61966-2-1 transfer function (thresholds, slope, gamma, offset);
- `lab`: the D65 white, the linear-sRGB -> XYZ matrix, Lab's epsilon, slope and offset;
- `input`: the model input's normalisation, input = (X - center) / scale of the gray or of CIE L;
- `ab_norm`: the normalisation of a `lab` model's output (ab = output * ab_norm);
- `bins`: for `ab-bins` models, the (Q, 2) bin centres in Lab units and `bins.decode_bins`' constants
  (the chroma tilt per unit of vividness and the largest chroma gain);
- `model`: its name, colour mode, size multiple, output stride, and the weights' default working
  size, vividness and saturation; the saturation range.
"""

from __future__ import annotations

from typing import Any

from colorizekit import color
from colorizekit.color import MAX_SATURATION, bins
from colorizekit.models import get_model_info
from colorizekit.onnx.export import input_normalisation
from colorizekit.weights import LoadedWeights, card_defaults

FORMAT = "colorizekit-page"  # model.json's `format`
FORMAT_VERSION = 1  # raised when model.json changes meaning
MAX_PIXELS = 50_000_000  # photos over this are refused by the page (a decompression bomb, or a browser's memory)


def colour_constants() -> dict[str, Any]:
    """sRGB and CIE Lab constants, as `colorizekit.color` defines them."""
    return {
        "srgb": {"linear_threshold": color.SRGB_LINEAR_THRESHOLD, "encoded_threshold": color.SRGB_ENCODED_THRESHOLD,
                 "linear_slope": color.SRGB_LINEAR_SLOPE, "gamma": color.SRGB_GAMMA, "offset": color.SRGB_OFFSET},
        "lab": {"white": list(color.D65_WHITE), "xyz_from_rgb": [list(r) for r in color.XYZ_FROM_RGB],
                "epsilon": color.LAB_EPSILON, "kappa_slope": color.LAB_KAPPA_SLOPE, "offset": color.LAB_OFFSET},
        "ab_norm": color.AB_NORM,
    }


def page_constants(weights: LoadedWeights, quantize: str, onnx_file: str) -> dict[str, Any]:
    """model.json for a page running `weights` (see the module docstring)."""
    info = get_model_info(weights.model_name)
    defaults = card_defaults(weights)
    constants: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": {
            "name": weights.model_name,
            "file": onnx_file,
            "quantize": quantize,
            "color_mode": info.color_mode,
            "size_multiple": info.size_multiple,
            "output_stride": info.output_stride,
            "default_size": defaults.size,
            "vividness_control": info.mode.supports_vividness,
            "default_vividness": defaults.vividness,
            "default_saturation": defaults.saturation,
        },
        "max_saturation": MAX_SATURATION,
        "max_pixels": MAX_PIXELS,
        "input": input_normalisation(info.mode),
        **colour_constants(),
    }
    if info.color_mode == "ab-bins":
        constants["bins"] = {"centres": bins.ab_bins().tolist(), "chroma_tilt": bins.CHROMA_TILT,
                             "max_chroma_gain": bins.MAX_CHROMA_GAIN}
    return constants
