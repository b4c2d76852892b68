"""Self-describing checkpoints and weight files.

Two kinds of file:
- a training checkpoint (`last.pt`, `best.pt`): a `torch.save` dict with `format`
  "colorizekit-checkpoint", the model name, its config and colour mode, the training config, the unwrapped model
  state dict, and whatever training state the trainer adds (optimizer, epoch, early stopping, RNG).
  It holds only tensors and plain Python values, so it loads with `weights_only=True`.
- exported weights (`model.safetensors`, and the weights that ship in `colorizekit/weights/`): the
  state dict in fp16 plus string metadata (`format` "colorizekit-weights", `model`, `model_config`
  (JSON), `color_mode`, `colorizekit_version`, and a JSON model `card`). Loading one never unpickles code.

Either kind rebuilds its model from what the file says; a file for another model is refused. A third
kind, an ONNX export (`.onnx`, from `colorizekit export`), holds no PyTorch weights: only the onnx
backend runs it (`colorizekit.infer.backends`), but the model it is for is read here like the others'
(`weights.onnx_file`). All writes are atomic.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from colorizekit.imageio.atomic import atomic_path
from colorizekit.models import create_model, get_model_info, list_models
from colorizekit.version import __version__
from colorizekit.weights.errors import WeightsError, check_file
from colorizekit.weights.onnx_file import is_onnx_file, read_onnx_metadata

CHECKPOINT_FORMAT = "colorizekit-checkpoint"
WEIGHTS_FORMAT = "colorizekit-weights"
_WRAPPER_PREFIXES = ("_orig_mod.", "module.")  # added by torch.compile and DistributedDataParallel


@dataclass(frozen=True)
class LoadedWeights:
    """A model's weights as read from a file."""

    path: Path  # the file they came from
    model_name: str  # registry name the file says it is for
    model_config: dict[str, Any]  # the options the model was built with (create_model(name, **model_config))
    state_dict: dict[str, torch.Tensor]  # float32 tensors, no wrapper prefixes
    metadata: dict[str, Any]  # model card (safetensors) or checkpoint fields other than tensors


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain model inside DistributedDataParallel and/or torch.compile wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        else:
            return model


def clean_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict with `_orig_mod.` / `module.` prefixes removed from every key."""
    out = {}
    for key, value in state_dict.items():
        changed = True
        while changed:
            changed = False
            for prefix in _WRAPPER_PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix):], True
        out[key] = value
    return out


def model_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The unwrapped model's state dict, detached, on the CPU."""
    return {k: v.detach().cpu() for k, v in clean_state_dict(unwrap_model(model).state_dict()).items()}


def save_checkpoint(path: str | os.PathLike, model_name: str, state: dict[str, Any],
                    model_config: dict[str, Any] | None = None) -> None:
    """Write a training checkpoint atomically; `state` must hold `state_dict` and may hold anything else
    made of tensors and plain Python values (config dict, optimizer state, epoch, RNG states...)."""
    if "state_dict" not in state:
        raise ValueError("save_checkpoint needs a 'state_dict' entry")
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model": model_name,
        "model_config": dict(model_config or {}),
        "color_mode": get_model_info(model_name).color_mode,
        **state,
        "state_dict": clean_state_dict(state["state_dict"]),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a training checkpoint written by `save_checkpoint` (weights_only: no code is unpickled)."""
    path = Path(path)
    check_file(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        raise WeightsError(f"{path}: not a readable colorizekit checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise WeightsError(f"{path}: not a colorizekit checkpoint (no '{CHECKPOINT_FORMAT}' marker)")
    return payload


def export_weights(path: str | os.PathLike, model_name: str, state_dict: dict[str, torch.Tensor],
                   card: dict[str, Any] | None = None, dtype: torch.dtype = torch.float16,
                   model_config: dict[str, Any] | None = None) -> None:
    """Write weights as safetensors with a model card, atomically. Floating tensors are cast to `dtype`,
    except those with values it cannot hold (such as BatchNorm running variances beyond fp16's 65504,
    which would become infinite), which are kept in fp32."""
    from safetensors.torch import save_file

    tensors = {k: _stored(v, dtype).contiguous().cpu() for k, v in clean_state_dict(state_dict).items()}
    metadata = {
        "format": WEIGHTS_FORMAT,
        "model": model_name,
        "model_config": json.dumps(model_config or {}, sort_keys=True),
        "color_mode": get_model_info(model_name).color_mode,
        "colorizekit_version": __version__,
        "card": json.dumps(card or {}, sort_keys=True),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def _stored(tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """`tensor` cast to `dtype` when a floating one keeps every finite value finite there, else in fp32."""
    if not tensor.is_floating_point():
        return tensor
    cast = tensor.to(dtype)
    if torch.isfinite(cast).sum() < torch.isfinite(tensor).sum():
        return tensor.float()
    return cast


def _read_weights(path: Path, tensors: bool) -> tuple[str, dict[str, torch.Tensor], dict[str, Any]]:
    """(model name, state dict, metadata with the model's config under "model_config") of a weights file or
    checkpoint, its model checked to be registered. With `tensors` false a safetensors file is read only as far as
    its header (the state dict comes back empty); a checkpoint is always read whole. An ONNX export gives its model
    and metadata (`onnx_file.read_onnx_metadata`) and no tensors; asked for tensors, WeightsError."""
    check_file(path)
    if is_onnx_file(path):
        if tensors:
            raise WeightsError(f"{path}: an ONNX export, which only the onnx backend runs (--backend onnx; Python: "
                               "backend='onnx'); PyTorch needs a .safetensors or .pt file")
        metadata = read_onnx_metadata(path)  # checked: a registered model, its JSON fields decoded
        return metadata["model"], {}, metadata
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"PK"):  # torch.save's zip container
        payload = load_checkpoint(path)
        model_name = payload.get("model")
        state_dict = payload["state_dict"]
        kept = ("model", "color_mode", "config", "epoch", "best_val_loss")
        metadata = {k: v for k, v in payload.items() if k in kept}
        metadata["model_config"] = dict(payload.get("model_config") or {})
    else:
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                state_dict = {k: f.get_tensor(k) for k in f.keys()} if tensors else {}
        except Exception as exc:
            raise WeightsError(f"{path}: not a readable safetensors or checkpoint file ({exc})") from None
        if meta.get("format") != WEIGHTS_FORMAT:
            raise WeightsError(f"{path}: safetensors file without colorizekit metadata (format={meta.get('format')!r})")
        model_name = meta.get("model")
        try:
            card = json.loads(meta.get("card", "{}"))
        except json.JSONDecodeError:
            card = {}
        try:
            model_config = json.loads(meta.get("model_config", "{}"))
        except json.JSONDecodeError:
            raise WeightsError(f"{path}: its model_config metadata is not valid JSON") from None
        metadata = {**{k: v for k, v in meta.items() if k not in ("card", "model_config")}, "card": card,
                    "model_config": model_config}
    if model_name not in list_models():
        raise WeightsError(f"{path}: weights for unknown model {model_name!r}; available: {', '.join(list_models())}")
    return model_name, state_dict, metadata


def weights_model_name(path: str | os.PathLike) -> str:
    """The registered model a weights file or checkpoint is for, checked as `load_weights` checks it,
    without reading a safetensors file's tensors. Raises WeightsError naming the file."""
    return _read_weights(Path(path), tensors=False)[0]


def load_weights(path: str | os.PathLike, expected_model: str | None = None) -> LoadedWeights:
    """Read exported weights (.safetensors) or a training checkpoint (.pt) for inference.

    Raises WeightsError naming the file when it is missing, unreadable, not colorizekit's, for an
    unknown model, or for a model other than `expected_model`.
    """
    path = Path(path)
    model_name, state_dict, metadata = _read_weights(path, tensors=True)
    if expected_model is not None and model_name != expected_model:
        raise WeightsError(f"{path}: weights are for model {model_name!r}, not {expected_model!r}")
    state_dict = {k: (v.float() if v.is_floating_point() else v) for k, v in clean_state_dict(state_dict).items()}
    return LoadedWeights(path=path, model_name=model_name, model_config=dict(metadata["model_config"]),
                         state_dict=state_dict, metadata=metadata)


def load_description(path: str | os.PathLike) -> LoadedWeights:
    """A weights file's model, config and card, checked as `load_weights` checks them, without its
    tensors (of a safetensors file only the header is read); `state_dict` is empty."""
    path = Path(path)
    model_name, _, metadata = _read_weights(path, tensors=False)
    return LoadedWeights(path=path, model_name=model_name, model_config=dict(metadata["model_config"]),
                         state_dict={}, metadata=metadata)


def build_model(weights: LoadedWeights, device: str | torch.device = "cpu") -> nn.Module:
    """The model the weights are for, with the weights loaded, in eval mode on `device`."""
    try:
        model = create_model(weights.model_name, **weights.model_config)
    except ValueError as exc:
        raise WeightsError(f"{weights.path}: {exc}") from None
    try:
        model.load_state_dict(weights.state_dict, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise WeightsError(f"{weights.path}: weights do not fit model {weights.model_name!r} ({first})") from None
    return model.to(device).eval()


