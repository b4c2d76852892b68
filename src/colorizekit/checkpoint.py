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
backend runs it (`colorizekit.backends`), but the model it is for is read here like the others'.
All writes are atomic. Which file to use for a model, given what the user named, is decided here too
(`resolve_weights`, `weights_by_model`), for every entry point.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from colorizekit.atomic import atomic_path
from colorizekit.color import check_saturation
from colorizekit.defaults import DEFAULT_MODEL, DEFAULT_SATURATION, DEFAULT_SIZE, DEFAULT_VIVIDNESS
from colorizekit.models import create_model, get_model_info, list_models

CHECKPOINT_FORMAT = "colorizekit-checkpoint"
WEIGHTS_FORMAT = "colorizekit-weights"
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"  # weights shipped inside the package
_WRAPPER_PREFIXES = ("_orig_mod.", "module.")  # added by torch.compile and DistributedDataParallel
ONNX_SUFFIX = ".onnx"  # the suffix that marks an ONNX export among weights files


class WeightsError(ValueError):
    """A weights or checkpoint file that cannot be used; the message names the file and the problem."""


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

    from colorizekit import __version__

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


def check_file(path: Path) -> None:
    """WeightsError naming `path` when it is missing, not a file, or empty."""
    if not path.exists():
        raise WeightsError(f"{path}: no such weights file")
    if not path.is_file():
        raise WeightsError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path}: empty file")


def _read_weights(path: Path, tensors: bool) -> tuple[str, dict[str, torch.Tensor], dict[str, Any]]:
    """(model name, state dict, metadata with the model's config under "model_config") of a weights file or checkpoint, its model checked to be
    registered. With `tensors` false a safetensors file is read only as far as its header (the
    state dict comes back empty); a checkpoint is always read whole. An ONNX export gives its model
    and metadata (`backends.read_onnx_metadata`) and no tensors; asked for tensors, WeightsError."""
    check_file(path)
    if is_onnx_file(path):
        if tensors:
            raise WeightsError(f"{path}: an ONNX export, which only the onnx backend runs (--backend onnx; Python: "
                               "backend='onnx'); PyTorch needs a .safetensors or .pt file")
        from colorizekit.backends import read_onnx_metadata

        metadata = read_onnx_metadata(path)  # checked: a registered model, its JSON fields decoded
        return metadata["model"], {}, metadata
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"PK"):  # torch.save's zip container
        payload = load_checkpoint(path)
        model_name = payload.get("model")
        state_dict = payload["state_dict"]
        metadata = {k: v for k, v in payload.items() if k in ("model", "color_mode", "config", "epoch", "best_val_loss")}
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


def is_onnx_file(path: str | os.PathLike) -> bool:
    """Whether a weights file is an ONNX export (by its suffix, `ONNX_SUFFIX`, in any case)."""
    return Path(path).suffix.lower() == ONNX_SUFFIX


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


def _described(weights: LoadedWeights | str | os.PathLike) -> tuple[Path, str, dict[str, Any]]:
    """(path, model name, metadata) of loaded weights, or of a file (only a safetensors header is read)."""
    described = weights if isinstance(weights, LoadedWeights) else load_description(weights)
    return described.path, described.model_name, described.metadata


def default_vividness(weights: LoadedWeights | str | os.PathLike) -> float | None:
    """The vividness a model with a bins head decodes at when none is chosen: its weights' model card's
    measured `default_vividness`, else `defaults.DEFAULT_VIVIDNESS`; None for a model without a
    vividness control. Takes loaded weights or a file (of which only a safetensors header is read).
    Raises WeightsError naming the file when the card's value is not a number from 0 to 1."""
    path, model_name, metadata = _described(weights)
    if not get_model_info(model_name).mode.supports_vividness:
        return None
    value = metadata.get("card", {}).get("default_vividness")
    if value is None:
        return DEFAULT_VIVIDNESS
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise WeightsError(f"{path}: the model card's default_vividness {value!r} is not a number from 0 to 1")
    return float(value)


def default_saturation(weights: LoadedWeights | str | os.PathLike) -> float:
    """The saturation (factor on the predicted chroma) a model colorizes at when none is chosen: its
    weights' model card's measured `default_saturation`, else `defaults.DEFAULT_SATURATION`. Takes
    loaded weights or a file (of which only a safetensors header is read). WeightsError naming the file
    when the card's value is not a saturation (`color.check_saturation`)."""
    path, _, metadata = _described(weights)
    value = metadata.get("card", {}).get("default_saturation")
    if value is None:
        return DEFAULT_SATURATION
    try:
        return check_saturation(value)
    except ValueError as e:
        raise WeightsError(f"{path}: the model card's default_saturation: {e}") from None


def default_size(weights: LoadedWeights | str | os.PathLike) -> int:
    """The working size a model colorizes at when none is chosen: its weights' model card's measured
    `default_size`, else `defaults.DEFAULT_SIZE`. Takes loaded weights or a file (of which only a
    safetensors header is read). WeightsError naming the file when the card's value is not a working
    size the model accepts (a whole multiple of its size multiple)."""
    path, model_name, metadata = _described(weights)
    value = metadata.get("card", {}).get("default_size")
    if value is None:
        return DEFAULT_SIZE
    multiple = get_model_info(model_name).size_multiple
    if isinstance(value, bool) or not isinstance(value, int) or value < multiple or value % multiple:
        raise WeightsError(f"{path}: the model card's default_size {value!r} is not a positive multiple of "
                           f"{multiple}")
    return value


def default_weights_path(model_name: str) -> Path | None:
    """The weights shipped inside the package for `model_name`, or None when none ship."""
    get_model_info(model_name)
    path = WEIGHTS_DIR / f"{model_name}.safetensors"
    return path if path.is_file() else None


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


def resolve_weights(model: str | None, weights: str | os.PathLike | None) -> tuple[str, Path]:
    """(model name, weights file) to use for a model and/or a weights file the user named.

    With `weights`: that file, and the model it is for (read from its header); WeightsError when
    `model` is given and the file is for another. Without: the weights that ship with colorizekit for
    `model` (`DEFAULT_MODEL` when None); WeightsError saying how to pass a file when none ship.
    """
    if weights is None:
        name = model or DEFAULT_MODEL
        path = default_weights_path(name)
        if path is None:
            raise WeightsError(
                f"no trained weights ship with colorizekit for model {name!r}; pass --weights FILE (CLI) or "
                "weights=FILE (Python): a model.safetensors exported by `colorizekit train`, or a training checkpoint")
        return name, path
    path = Path(weights)
    name = weights_model_name(path)
    if model is not None and name != model:
        raise WeightsError(f"{path}: weights are for model {name!r}, not {model!r}")
    return name, path


def _named_weights(item: str | os.PathLike) -> tuple[str, Path]:
    """(model, file) of "NAME=FILE" (NAME a registered model) or of a bare FILE, whose header names its model."""
    if isinstance(item, str):
        name, sep, path = item.partition("=")
        if sep and name in list_models():
            return name, Path(path)
    return weights_model_name(item), Path(item)


def weights_by_model(weights: Mapping[str, str | os.PathLike] | Iterable[str | os.PathLike] | None) -> dict[str, Path]:
    """{model name: weights file} from a mapping of model names to files, or from a list of items each
    "NAME=FILE" or a bare FILE (its model read from its header), as `--weights` flags give them.

    ValueError naming the models for an unknown name; WeightsError for a file that cannot be read or
    a second file for the same model.
    """
    if weights is None:
        return {}
    if isinstance(weights, Mapping):
        pairs = [(name, Path(path)) for name, path in weights.items()]
        for name, _ in pairs:
            get_model_info(name)
    else:
        pairs = [_named_weights(item) for item in ([weights] if isinstance(weights, (str, os.PathLike)) else weights)]
    found: dict[str, Path] = {}
    for name, path in pairs:
        if name in found:
            raise WeightsError(f"{path}: a second weights file for model {name!r} (the first is {found[name]})")
        found[name] = path
    return found
