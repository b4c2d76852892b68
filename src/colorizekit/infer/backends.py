"""Backends: what runs a model for `Colorizer`, which shares everything else between them (reading
photos, the working size, the join onto the photo's own full-resolution L, writing files).

A backend maps the model's input (N, 1, h, w) float32, made by the colour mode's `input_from_gray`,
and the mode's decoding options (e.g. a bins head's vividness) to ab (N, 2, h', w') float32 in Lab
units at the model's output resolution:
- "torch" (`TorchBackend`): the PyTorch model of a weights file or training checkpoint, on any
  device, in bf16 autocast where the precision policy says so, decoded by the colour mode;
- "onnx" (`OnnxBackend`): a file written by `colorizekit export` (decoding inside its graph), run by
  onnxruntime on the CPU in fp32, with as many threads as torch uses (idle ones sleeping, not spinning).
  Weights that are not ONNX are run as their export, made on first use into a cache (`onnx.cache.cached_onnx`).

Both take their defaults (working size, vividness, saturation) from `weights.card_defaults`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colorizekit.hardware import resolve_device, resolve_precision
from colorizekit.models import get_model_info
from colorizekit.onnx.cache import cached_onnx
from colorizekit.weights import (
    LoadedWeights,
    WeightsError,
    build_model,
    card_defaults,
    is_onnx_file,
    load_weights,
    resolve_weights,
)
from colorizekit.weights.onnx_file import INPUT_NAME, OUTPUT_NAME, first_line, open_onnx

BACKENDS = ("torch", "onnx")  # what runs a model when colorizing: PyTorch or onnxruntime
DEFAULT_BACKEND = "torch"  # the backend used when none is named


class TorchBackend:
    """A PyTorch model from loaded weights, on `device` (None: CUDA when present) at `precision`."""

    name = "torch"

    def __init__(self, weights: LoadedWeights, device: str | torch.device | None = None,
                 precision: str = "auto") -> None:
        self.model_name = weights.model_name
        self.weights_path: Path = weights.path  # the file the weights came from
        self.metadata = weights.metadata  # the model card or checkpoint fields
        self.defaults = card_defaults(weights)  # size, vividness and saturation when none are chosen
        self.mode = get_model_info(self.model_name).mode
        self.device = resolve_device(device)
        self.model = build_model(weights, self.device).to(memory_format=torch.channels_last)
        self.dtype, self.precision_reason = resolve_precision(precision, self.device)

    def predict(self, x: torch.Tensor, options: dict[str, Any]) -> torch.Tensor:
        """Model input (N, 1, h, w) -> ab (N, 2, h', w') float32 in Lab units, on the backend's device."""
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32):
            out = self.model(x.to(self.device).contiguous(memory_format=torch.channels_last))
        return self.mode.output_to_ab(out.float(), **options)


class OnnxBackend:
    """An exported ONNX file run by onnxruntime on the CPU. `weights_path` is the file the user's
    weights came from (the `.onnx` file itself, or the weights file it was exported from)."""

    name = "onnx"
    model = None  # no PyTorch module: evaluation's design protocol needs the torch backend

    def __init__(self, onnx_path: str | os.PathLike, weights_path: str | os.PathLike | None = None,
                 device: str | torch.device | None = None, precision: str = "auto") -> None:
        self.device = onnx_device(device)
        self.dtype, self.precision_reason = onnx_precision(precision)
        self.onnx_path = Path(onnx_path)
        self.weights_path = Path(weights_path or onnx_path)
        self.session, self.metadata = open_onnx(self.onnx_path)
        self.model_name: str = self.metadata["model"]
        described = LoadedWeights(self.onnx_path, self.model_name, self.metadata["model_config"], {}, self.metadata)
        self.defaults = card_defaults(described)  # size, vividness and saturation when none are chosen
        inputs = [i.name for i in self.session.get_inputs()]
        self.option_names = [n for n in inputs if n != INPUT_NAME]
        outputs = [o.name for o in self.session.get_outputs()]
        if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs or \
                sorted(self.option_names) != sorted(self.metadata["decode_inputs"]):
            raise WeightsError(f"{self.onnx_path}: its graph's inputs {inputs} and outputs {outputs} are not those "
                               f"`colorizekit export` writes for model {self.model_name!r}")

    def predict(self, x: torch.Tensor, options: dict[str, Any]) -> torch.Tensor:
        """Model input (N, 1, h, w) -> ab (N, 2, h', w') float32 in Lab units, on the CPU."""
        feed = {INPUT_NAME: np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)}
        feed.update({name: np.array([options[name]], dtype=np.float32) for name in self.option_names})
        try:
            ab = self.session.run([OUTPUT_NAME], feed)[0]
        except Exception as exc:  # onnxruntime's own exception types, for a graph that does not run
            raise WeightsError(f"{self.onnx_path}: onnxruntime cannot run it on a {tuple(x.shape)} input "
                               f"({first_line(exc)})") from None
        return torch.from_numpy(ab)


Backend = TorchBackend | OnnxBackend


def load_backend(backend: str = DEFAULT_BACKEND, model: str | None = None, weights: str | os.PathLike | None = None,
                 device: str | torch.device | None = None, precision: str = "auto") -> Backend:
    """The backend ("torch" or "onnx") for a model and/or weights file, as `Colorizer` takes them.

    `weights` may be a `.onnx` file from `colorizekit export` (onnx backend only), a `.safetensors` or a
    training checkpoint; without it, the weights that ship for `model` (`DEFAULT_MODEL` when None) are
    used (`weights.resolve_weights`). WeightsError naming the file when it cannot be used.
    """
    check_backend(backend, device, precision)
    if backend == "onnx" and weights is not None and is_onnx_file(weights):
        runner = OnnxBackend(weights, device=device, precision=precision)
        if model is not None and runner.model_name != model:
            raise WeightsError(f"{weights}: an ONNX export of model {runner.model_name!r}, not {model!r}")
        return runner
    name, path = resolve_weights(model, weights)
    if backend == "torch":
        return TorchBackend(load_weights(path, expected_model=name), device, precision)
    return OnnxBackend(cached_onnx(path), path, device, precision)


def check_backend(backend: str, device: str | torch.device | None = None, precision: str = "auto") -> None:
    """ValueError when `backend` is not one of `BACKENDS`, or cannot run on `device` at `precision`
    (the onnx backend: the CPU in fp32), before any weights are read or exported."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "onnx":
        onnx_device(device)
        onnx_precision(precision)


def onnx_device(device: str | torch.device | None) -> torch.device:
    """The CPU, for None, "auto" or "cpu"; ValueError for any other device (onnxruntime's CPU provider)."""
    if device is None or device == "auto" or torch.device(device).type == "cpu":
        return torch.device("cpu")
    raise ValueError(f"the onnx backend runs on the CPU; device {str(device)!r} needs the torch backend")


def onnx_precision(precision: str) -> tuple[torch.dtype, str]:
    """(float32, reason) for "auto" or "fp32"; ValueError for "bf16" and for unknown precisions."""
    if precision == "bf16":
        raise ValueError("the onnx backend runs in fp32; precision 'bf16' needs the torch backend")
    resolve_precision(precision, torch.device("cpu"))  # ValueError naming the precisions
    return torch.float32, f"{precision}: the onnx backend runs in fp32"


