"""Which weights file to use: the ones that ship inside the package (`weights/*.safetensors`), or a
file the user named, for a model the user named or the default one. Every entry point (the API, the
CLI, the web app, evaluation) decides it here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from colorizekit.models import get_model_info, list_models
from colorizekit.weights.errors import WeightsError
from colorizekit.weights.files import weights_model_name

DEFAULT_MODEL = "lite-unet-bins"  # the model used when none is named: chosen by measurement (README, Results so far)
WEIGHTS_DIR = Path(__file__).resolve().parent  # weights shipped inside the package, beside this module


def default_weights_path(model_name: str) -> Path | None:
    """The weights shipped inside the package for `model_name`, or None when none ship."""
    get_model_info(model_name)
    path = WEIGHTS_DIR / f"{model_name}.safetensors"
    return path if path.is_file() else None


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
