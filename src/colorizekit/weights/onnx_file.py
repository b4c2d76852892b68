"""ONNX exports as weights files: what marks one, its graph's input and output names, and reading
and checking the metadata `colorizekit export` writes into it (see `colorizekit.onnx.export`).

Reading an ONNX file needs onnxruntime (`colorizekit[onnx]`); the error says so when it is missing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from colorizekit.models import get_model_info, list_models
from colorizekit.weights.errors import WeightsError, check_file

ONNX_FORMAT = "colorizekit-onnx"  # the `format` metadata of colorizekit's ONNX files
ONNX_SUFFIX = ".onnx"  # the suffix that marks an ONNX export among weights files
INPUT_NAME = "input"  # the graph's model input
OUTPUT_NAME = "ab"  # the graph's output
_JSON_FIELDS = ("model_config", "card", "normalisation", "decode_inputs")  # metadata stored as JSON
_INT_FIELDS = ("size_multiple", "output_stride")  # metadata stored as decimal integers


def is_onnx_file(path: str | os.PathLike) -> bool:
    """Whether a weights file is an ONNX export (by its suffix, `ONNX_SUFFIX`, in any case)."""
    return Path(path).suffix.lower() == ONNX_SUFFIX


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ValueError("the onnx backend needs onnxruntime: pip install 'colorizekit[onnx]'") from None
    return onnxruntime


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message (at most 300 characters), or its type's name."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def open_onnx(path: str | os.PathLike, optimize: bool = True) -> tuple[Any, dict[str, Any]]:
    """(onnxruntime session, checked metadata) of a file from `colorizekit export`. WeightsError naming
    the file when it is missing, not ONNX, damaged, not colorizekit's, or does not match its model."""
    path = Path(path)
    check_file(path)
    ort = _onnxruntime()
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    options.intra_op_num_threads = torch.get_num_threads()  # as many as the torch backend uses
    options.inter_op_num_threads = 1
    # idle workers sleep instead of spinning: between runs the same process reads, resizes and joins photos
    # with torch's own threads, and a spinning worker takes a core from them (2 threads, while training
    # ran: lite-unet-bins 1.29 -> 1.17 s per photo end to end, jkspnet-lab 6.3 -> 5.8 s)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for files that are not (valid) ONNX
        raise WeightsError(f"{path}: not a readable ONNX model ({first_line(exc)})") from None
    return session, _checked_metadata(path, dict(session.get_modelmeta().custom_metadata_map))


def read_onnx_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The checked metadata of a file from `colorizekit export` (see `export`), JSON fields decoded."""
    return open_onnx(path, optimize=False)[1]


def _checked_metadata(path: Path, raw: dict[str, str]) -> dict[str, Any]:
    if raw.get("format") != ONNX_FORMAT:
        raise WeightsError(f"{path}: an ONNX model without colorizekit metadata (format={raw.get('format')!r}); "
                           "export one with `colorizekit export`")
    try:
        meta: dict[str, Any] = {**raw, **{k: json.loads(raw[k]) for k in _JSON_FIELDS},
                                **{k: int(raw[k]) for k in _INT_FIELDS}}
    except (KeyError, ValueError) as exc:
        raise WeightsError(f"{path}: its colorizekit metadata is incomplete or invalid ({type(exc).__name__}: "
                           f"{exc})") from None
    name = meta.get("model")
    if name not in list_models():
        raise WeightsError(f"{path}: an ONNX export of unknown model {name!r}; available: {', '.join(list_models())}")
    info = get_model_info(name)
    expected = {"color_mode": info.color_mode, "size_multiple": info.size_multiple,
                "output_stride": info.output_stride}
    found = {k: meta.get(k) for k in expected}
    if found != expected:
        raise WeightsError(f"{path}: its metadata {found} does not match colorizekit's model {name!r} {expected}")
    return meta
