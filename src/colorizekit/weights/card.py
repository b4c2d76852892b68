"""What a model colorizes at when the user chooses nothing: the one place where a model card's
defaults are resolved.

A weights file's model card may carry settings measured for it (`default_size`, `default_vividness`,
`default_saturation`); where it does not, or there are no weights, the package's defaults hold:
`DEFAULT_SIZE`, `color.bins.DEFAULT_VIVIDNESS` (models with a bins head; others have no vividness)
and `color.DEFAULT_SATURATION`. The torch and onnx backends, the web app, `colorizekit info`, the
browser page and the ONNX export all call `card_defaults`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colorizekit.color import DEFAULT_SATURATION, check_saturation
from colorizekit.color.bins import DEFAULT_VIVIDNESS
from colorizekit.models import get_model_info
from colorizekit.weights.errors import WeightsError
from colorizekit.weights.files import LoadedWeights, load_description

DEFAULT_SIZE = 256  # working size when colorizing: short side, in pixels, at which colour is predicted


@dataclass(frozen=True)
class CardDefaults:
    """The settings a model colorizes at when none is chosen."""

    size: int  # working size (short side, pixels)
    vividness: float | None  # bins-head models: 0 muted ... 1 vivid; None for a model without the control
    saturation: float  # factor on the predicted chroma (1: as predicted)


def card_defaults(weights: LoadedWeights | str | os.PathLike | None, model_name: str | None = None) -> CardDefaults:
    """The defaults of a model's weights: loaded weights or a file (of which only a safetensors header
    is read); None for a model without weights (then `model_name` says whether it has a vividness).
    Raises WeightsError naming the file when a card's value is out of range."""
    if weights is None:
        has_vividness = model_name is not None and get_model_info(model_name).mode.supports_vividness
        return CardDefaults(DEFAULT_SIZE, DEFAULT_VIVIDNESS if has_vividness else None, DEFAULT_SATURATION)
    described = weights if isinstance(weights, LoadedWeights) else load_description(weights)
    card = described.metadata.get("card", {})
    return CardDefaults(size=_size(described.path, described.model_name, card.get("default_size")),
                        vividness=_vividness(described.path, described.model_name, card.get("default_vividness")),
                        saturation=_saturation(described.path, card.get("default_saturation")))


def _vividness(path: Path, model_name: str, value: Any) -> float | None:
    """The card's `default_vividness` (a number from 0 to 1), else DEFAULT_VIVIDNESS; None without the control."""
    if not get_model_info(model_name).mode.supports_vividness:
        return None
    if value is None:
        return DEFAULT_VIVIDNESS
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise WeightsError(f"{path}: the model card's default_vividness {value!r} is not a number from 0 to 1")
    return float(value)


def _saturation(path: Path, value: Any) -> float:
    """The card's `default_saturation` (`color.check_saturation`), else DEFAULT_SATURATION."""
    if value is None:
        return DEFAULT_SATURATION
    try:
        return check_saturation(value)
    except ValueError as e:
        raise WeightsError(f"{path}: the model card's default_saturation: {e}") from None


def _size(path: Path, model_name: str, value: Any) -> int:
    """The card's `default_size` (a whole multiple of the model's size multiple), else DEFAULT_SIZE."""
    if value is None:
        return DEFAULT_SIZE
    multiple = get_model_info(model_name).size_multiple
    if isinstance(value, bool) or not isinstance(value, int) or value < multiple or value % multiple:
        raise WeightsError(f"{path}: the model card's default_size {value!r} is not a positive multiple of "
                           f"{multiple}")
    return value
