"""Export a model with its weights to ONNX, so that it runs without PyTorch (onnxruntime, other languages).

The file maps the model's normalised input to CIE ab in Lab units: the colour mode's decoding
(`ColorMode.output_to_ab`) is traced into the graph with the network, so a bins head's annealed mean
is part of it, with its temperature as an input. The graph:
- input `input`: (N, 1, H, W) float32, what the colour mode's `input_from_gray` makes of a grayscale
  photo (see `normalisation` below); H and W multiples of `size_multiple`; N, H and W are dynamic;
- one (1,) float32 input per decoding option of the colour mode, named after it: `temperature` for
  bins models (T = 0.2 ** vividness; the default is in `decode_inputs`); none for other modes;
- output `ab`: (N, 2, H / output_stride, W / output_stride) float32, CIE ab (D65) in Lab units.
Joining ab with the photo's own full-resolution L is left to the caller, as `colorize.join_luminance` does.

Metadata (ONNX `metadata_props`, strings), those of a weights file (`format` "colorizekit-onnx",
`model`, `model_config` and `card` as JSON, `color_mode`, `colorizekit_version`) plus what a runtime
needs: `size_multiple`, `output_stride`, `normalisation` (JSON {"input_from": "gray" or "L", "center",
"scale"}: input = (X - center) / scale, X the photo's gray in [0, 1] or its CIE L in [0, 100]) and
`decode_inputs` (JSON {input name: default value}).

The exporter is torch's TorchScript-based one (`torch.onnx.export(..., dynamo=False)`). With torch
2.13 it exports each model in about a second with `onnx` alone; the torch.export-based exporter needs
onnxscript, took some 20 times longer, and cannot trace the bins decoding (whose check that the
temperature is positive depends on the data).

After export, `fuse_softmax_expectations` rewrites each softmax over channels that feeds an expectation
over them (jkspnet-lab's softmax and 1x1 conv to ab, a bins head's annealed mean) into exp(x - max), one
1x1 conv giving the numerator and the sum at once, and a division: the same function, without
onnxruntime's Softmax on a non-last axis, which transposes the (N, Q, H, W) tensor there and back: on
one core of the 2-core EPYC, 3.2 s of jkspnet-lab's 7.4 s per 1024 x 768 photo, 0.04 of lite-unet-bins'
0.24 s; the rewritten parts take 0.1 s and 0.01 s.

`cached_onnx` exports a weights file on first use into a cache folder (`onnx_cache_dir`), for
`Colorizer(backend="onnx")` given weights that are not ONNX.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from colorizekit import color
from colorizekit.atomic import atomic_path
from colorizekit.checkpoint import (
    LoadedWeights,
    build_model,
    load_weights,
    resolve_weights,
    weights_model_name,
)
from colorizekit.models import get_model_info
from colorizekit.modes import ColorMode

ONNX_FORMAT = "colorizekit-onnx"  # the `format` metadata of colorizekit's ONNX files
OPSET = 17  # ONNX opset written (onnxruntime 1.14 and later run it)
INPUT_NAME = "input"  # the graph's model input
OUTPUT_NAME = "ab"  # the graph's output
CACHE_ENV = "COLORIZEKIT_CACHE"  # environment variable naming colorizekit's cache folder
GRAPH_REVISION = 2  # raised when export writes another graph for the same weights (2: fused softmax), to re-export
_HASH_CHUNK = 1 << 20  # bytes read at a time when hashing a weights file


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
    from colorizekit import __version__
    from colorizekit.checkpoint import default_vividness

    info = get_model_info(weights.model_name)
    options = info.mode.decode_options(default_vividness(weights))
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


def write_onnx(path: str | os.PathLike, weights: LoadedWeights) -> Path:
    """Export the model of loaded `weights` to an ONNX file at `path` (written atomically); returns the path."""
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
        # the TorchScript exporter warns of its own deprecation, and the tracer that the bins decoding's
        # check of its temperature is fixed at export; the backend checks the temperature instead
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapped, example, buffer, dynamo=False, opset_version=OPSET,
                          input_names=[INPUT_NAME, *names], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
                                        OUTPUT_NAME: {0: "batch", 2: "ab_height", 3: "ab_width"}})
    proto = onnx.load_from_string(buffer.getvalue())
    fuse_softmax_expectations(proto)
    onnx.helper.set_model_props(proto, metadata)
    proto.doc_string = (f"colorizekit {weights.model_name}: normalised input {INPUT_NAME} (N, 1, H, W) -> "
                        f"{OUTPUT_NAME} (N, 2, H/{info.output_stride}, W/{info.output_stride}) in CIE Lab units; "
                        f"input = (X - center) / scale, {metadata['normalisation']}")
    path = Path(path)
    with atomic_path(path) as tmp:
        onnx.save(proto, str(tmp))
    return path


def fuse_softmax_expectations(proto: Any) -> int:
    """Rewrite in place every Softmax over axis 1 whose only use is an expectation over that axis, a
    1x1 bias-free Conv (O, Q, 1, 1) or an Einsum "nqhw,qc->nchw" with constant weights, as
    e = exp(x - max over channels), [num; den] = Conv(e, [W; ones]), num / den. Returns how many.

    The maximum is taken by splitting the Q channels and one variadic Max (onnxruntime's ReduceMax over
    a middle axis is some 7 times slower); it keeps exp from overflowing as Softmax itself does."""
    from onnx import helper, numpy_helper

    graph = proto.graph
    if next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0) < 13:
        return 0  # before opset 13, Softmax(axis=1) is over all of C, H and W together
    constants = {t.name: t for t in graph.initializer}
    constants.update({n.output[0]: n.attribute[0].t for n in graph.node
                      if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"})
    users: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    nodes, dropped, fused = [], set(), 0
    for node in graph.node:
        if id(node) in dropped:
            continue
        use = users.get(node.output[0], []) if node.op_type == "Softmax" else []
        weights = _expectation_weights(use[0], constants) if len(use) == 1 and _attribute(node, "axis") == 1 \
            and node.output[0] not in outputs else None
        if weights is None:
            nodes.append(node)
            continue
        dropped.add(id(use[0]))
        fused += 1
        out_ch, q = weights.shape
        p = f"/fused_softmax_{fused}"
        parts = [f"{p}/channel_{i}" for i in range(q)]
        both = np.concatenate([weights, np.ones((1, q), np.float32)])[:, :, None, None]
        graph.initializer.extend([numpy_helper.from_array(np.ones(q, np.int64), f"{p}/ones"),
                                  numpy_helper.from_array(both, f"{p}/weights_and_sum"),
                                  numpy_helper.from_array(np.array([out_ch, 1], np.int64), f"{p}/num_den_split")])
        x = node.input[0]
        nodes += [helper.make_node("Split", [x, f"{p}/ones"], parts, f"{p}/Split", axis=1),
                  helper.make_node("Max", parts, [f"{p}/max"], f"{p}/Max"),
                  helper.make_node("Sub", [x, f"{p}/max"], [f"{p}/shifted"], f"{p}/Sub"),
                  helper.make_node("Exp", [f"{p}/shifted"], [f"{p}/exp"], f"{p}/Exp"),
                  helper.make_node("Conv", [f"{p}/exp", f"{p}/weights_and_sum"], [f"{p}/num_den"], f"{p}/Conv"),
                  helper.make_node("Split", [f"{p}/num_den", f"{p}/num_den_split"], [f"{p}/num", f"{p}/den"],
                                   f"{p}/Split_num_den", axis=1),
                  helper.make_node("Div", [f"{p}/num", f"{p}/den"], [use[0].output[0]], f"{p}/Div")]
    del graph.node[:]
    graph.node.extend(nodes)
    _drop_unused(graph)
    return fused


def _attribute(node: Any, name: str, default: Any = None) -> Any:
    from onnx import helper

    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)


def _expectation_weights(node: Any, constants: dict[str, Any]) -> np.ndarray | None:
    """The (O, Q) float32 weights when `node` maps a (N, Q, H, W) distribution to its expectation (N, O, H, W)
    with constant weights (a 1x1 Conv without bias, stride, padding or groups; an Einsum "nqhw,qc->nchw"), else None."""
    from onnx import numpy_helper

    if len(node.input) != 2 or node.input[1] not in constants:
        return None
    w = numpy_helper.to_array(constants[node.input[1]]).astype(np.float32)
    if node.op_type == "Conv" and w.ndim == 4 and w.shape[2:] == (1, 1) and _attribute(node, "group", 1) == 1 \
            and not any(_attribute(node, "pads", [])) and set(_attribute(node, "strides", [1])) == {1} \
            and _attribute(node, "auto_pad", b"NOTSET") in (b"NOTSET", b"VALID"):
        return w[:, :, 0, 0]
    equation = _attribute(node, "equation", b"").replace(b" ", b"")
    if node.op_type == "Einsum" and equation == b"nqhw,qc->nchw" and w.ndim == 2:
        return np.ascontiguousarray(w.T)
    return None


def _drop_unused(graph: Any) -> None:
    """Remove the initializers and Constant nodes that no node or graph output uses any more."""
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output} | \
        {i.name for i in graph.input}
    keep = [n for n in graph.node if n.op_type != "Constant" or n.output[0] in used]
    del graph.node[:]
    graph.node.extend(keep)
    unused = [t for t in graph.initializer if t.name not in used]
    for tensor in unused:
        graph.initializer.remove(tensor)


def export_onnx(path: str | os.PathLike, model: str | None = None, weights: str | os.PathLike | None = None) -> Path:
    """Export a model to ONNX at `path`: `weights` (a .safetensors or .pt file) or, without, the weights
    that ship for `model` (`DEFAULT_MODEL` when None), as `checkpoint.resolve_weights` decides.
    Raises WeightsError naming the file when the weights cannot be used."""
    name, source = resolve_weights(model, weights)
    return write_onnx(path, load_weights(source, expected_model=name))


def onnx_cache_dir() -> Path:
    """Where weights exported on first use go: $COLORIZEKIT_CACHE/onnx, else $XDG_CACHE_HOME/colorizekit/onnx,
    else ~/.cache/colorizekit/onnx."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "colorizekit"
    return Path(root) / "onnx"


def cached_onnx(weights: str | os.PathLike) -> Path:
    """An ONNX export of the weights file `weights` (.safetensors or .pt): the cached one when these
    exact bytes were exported before by this colorizekit version and `GRAPH_REVISION`, else a new export
    into the cache."""
    from colorizekit import __version__

    source = Path(weights)
    name = weights_model_name(source)  # WeightsError naming a file that is not colorizekit weights
    digest = hashlib.sha256()
    with open(source, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    target = onnx_cache_dir() / f"{name}-{digest.hexdigest()[:16]}-{__version__}-g{GRAPH_REVISION}.onnx"
    if target.is_file():
        return target
    loaded = load_weights(source, expected_model=name)
    try:
        return write_onnx(target, loaded)
    except OSError as exc:
        raise ValueError(f"{source}: cannot write its ONNX export to the cache {target.parent} ({exc}); set "
                         f"{CACHE_ENV} to a writable folder, or pass a file from `colorizekit export`") from None
