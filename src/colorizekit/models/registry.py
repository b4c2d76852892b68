"""Model registry: `register_model`, `create_model`, `list_models`, `get_model_info` (after timm).

A model's constructor takes keyword options (its config, e.g. a width); `create_model(name, **cfg)`
passes them on. Checkpoints and weights files carry that config, so a model is rebuilt as trained.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from colorizekit.models.modes import ColorMode, get_color_mode
from colorizekit.models.pretrained import PretrainedCfg
from colorizekit.models.registries import Registry


@dataclass(frozen=True)
class ModelInfo:
    """What the rest of colorizekit needs to know about a registered model."""

    name: str  # registry name, e.g. "unet-rgb"
    color_mode: str  # "rgb" (gray -> RGB) or "lab" (L -> ab); see colorizekit.models.modes
    size_multiple: int  # input height and width must be multiples of this
    description: str  # one line for `colorizekit info` and `GET /api/models`
    output_stride: int = 1  # the output is (H / output_stride, W / output_stride) for an (H, W) input
    cpu_channels_last: bool = False  # channels_last memory layout is faster for it on the CPU (measured)
    pretrained_cfg: PretrainedCfg | None = None  # the pretrained encoder training starts from (models.pretrained)

    @property
    def mode(self) -> ColorMode:
        """The colour mode object that turns images into model inputs and outputs into colour."""
        return get_color_mode(self.color_mode)


ModelFn = Callable[..., nn.Module]
_MODELS: Registry[tuple[ModelInfo, ModelFn]] = Registry("model", "models")
_REGISTRY = _MODELS.entries  # name -> (info, constructor)


def register_model(info: ModelInfo) -> Callable[[ModelFn], ModelFn]:
    """Decorator registering a model constructor (keyword options only) under `info.name`."""

    def wrap(fn: ModelFn) -> ModelFn:
        get_color_mode(info.color_mode)  # fail at import time on an unknown mode
        _MODELS.add(info.name, (info, fn))
        return fn

    return wrap


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    return _MODELS.names()


def get_model_info(name: str) -> ModelInfo:
    """The `ModelInfo` of a registered model; an unknown name raises ValueError listing the known ones."""
    return _MODELS.get(name)[0]


def create_model(name: str, **cfg: Any) -> nn.Module:
    """A freshly initialised model by registry name, built with the config options `cfg` (weights are
    loaded separately). An option the model does not take raises ValueError naming it."""
    constructor = _MODELS.get(name)[1]
    try:
        return constructor(**cfg)
    except TypeError as exc:
        raise ValueError(f"model {name!r} does not take the config {cfg!r} ({exc})") from None
