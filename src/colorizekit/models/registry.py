"""Model registry: `register_model`, `create_model`, `list_models`, `get_model_info` (after timm)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from colorizekit.modes import ColorMode, get_color_mode


@dataclass(frozen=True)
class ModelInfo:
    """What the rest of colorizekit needs to know about a registered model."""

    name: str  # registry name, e.g. "unet-rgb"
    color_mode: str  # "rgb" (gray -> RGB) or "lab" (L -> ab); see colorizekit.modes
    size_multiple: int  # input height and width must be multiples of this
    description: str  # one line for `colorizekit info` and `GET /api/models`

    @property
    def mode(self) -> ColorMode:
        """The colour mode object that turns images into model inputs and outputs into colour."""
        return get_color_mode(self.color_mode)


_REGISTRY: dict[str, tuple[ModelInfo, Callable[[], nn.Module]]] = {}


def register_model(info: ModelInfo) -> Callable[[Callable[[], nn.Module]], Callable[[], nn.Module]]:
    """Decorator registering a zero-argument model constructor under `info.name`."""

    def wrap(fn: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
        if info.name in _REGISTRY:
            raise ValueError(f"model {info.name!r} is already registered")
        get_color_mode(info.color_mode)  # fail at import time on an unknown mode
        _REGISTRY[info.name] = (info, fn)
        return fn

    return wrap


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    return sorted(_REGISTRY)


def get_model_info(name: str) -> ModelInfo:
    """The `ModelInfo` of a registered model; an unknown name raises ValueError listing the known ones."""
    try:
        return _REGISTRY[name][0]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available models: {', '.join(list_models())}") from None


def create_model(name: str) -> nn.Module:
    """A freshly initialised model by registry name (weights are loaded separately)."""
    get_model_info(name)
    return _REGISTRY[name][1]()
