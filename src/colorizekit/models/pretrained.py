"""Pretrained encoders: what a model's pretrained encoder is (`PretrainedCfg`, after timm's
`pretrained_cfg`) and how its weights are loaded into the model (`load_pretrained_encoder`).

A model with a pretrained encoder declares its `PretrainedCfg` in its registry entry
(`ModelInfo.pretrained_cfg`) and has an `encoder` submodule; the rest of colorizekit asks for them
(`get_model_info(name).pretrained_cfg`, `encoder_of(model)`) and never branches on a model's name.
The weights are read at training time only, from an installed Python package (the `pretrained`
extra), never downloaded; weights files written by `colorizekit train` carry the whole
model, so colorizing needs no such package.
"""

from __future__ import annotations

import importlib.resources
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

EXTRA_HINT = 'pip install "colorizekit[pretrained]"'


class PretrainedError(ValueError):
    """A pretrained encoder that cannot be loaded: one line naming the file (or package) and what
    was expected."""


@dataclass(frozen=True)
class PretrainedCfg:
    """Where a pretrained encoder's weights are and what they expect."""

    name: str  # what the weights are, e.g. "efficientnet-lite0 (ImageNet)"
    package: str  # the importable package that ships the file (installed by the `pretrained` extra)
    file: str  # the file's path inside that package
    input_range: tuple[float, float]  # the range of the normalised input the net was trained on
    mean: float  # input = (x - mean) / std, x an 8-bit value (the same for every channel)
    std: float
    first_conv: str  # the encoder's first conv (its weight's input channels are summed for 1-channel input)
    classifier: str  # the classifier's prefix in the encoder, dropped when the encoder has none
    key_map: tuple[tuple[str, str], ...]  # (regex, replacement) from the file's keys to the encoder's


def encoder_of(model: nn.Module) -> nn.Module | None:
    """The model's encoder (its `encoder` submodule), or None for a model without one."""
    encoder = getattr(model, "encoder", None)
    return encoder if isinstance(encoder, nn.Module) else None


def pretrained_file(cfg: PretrainedCfg) -> Path:
    """The path of the installed weights file; PretrainedError naming the extra when the package is
    not installed."""
    try:
        root = importlib.resources.files(cfg.package)
    except ModuleNotFoundError:
        raise PretrainedError(f"the pretrained {cfg.name} encoder needs the package {cfg.package!r}, which is "
                              f"not installed: {EXTRA_HINT} (or train with --no-pretrained)") from None
    return Path(str(root.joinpath(cfg.file)))


def check_pretrained_available(cfg: PretrainedCfg) -> Path:
    """The weights file if its package is installed and the file is there (PretrainedError otherwise);
    cheap, for checking before any work starts."""
    path = pretrained_file(cfg)
    if not path.is_file():
        raise PretrainedError(f"pretrained weights file {path} is missing; expected the {cfg.name} weights "
                              f"that {cfg.package!r} ships (reinstall it: {EXTRA_HINT})")
    return path


def _map_keys(state: dict, cfg: PretrainedCfg) -> dict[str, torch.Tensor]:
    mapped = {}
    for key, value in state.items():
        for pattern, replacement in cfg.key_map:
            key = re.sub(pattern, replacement, key)
        mapped[key] = value
    return mapped


def _reason(exc: Exception) -> str:
    """A short reason why torch.load failed."""
    text = str(exc).strip()
    if isinstance(exc, pickle.UnpicklingError) and "weights only" in text.lower():
        return "it holds objects other than tensors, which are not unpickled"
    return text.splitlines()[0] if text else type(exc).__name__


def read_pretrained_state(path: str | Path, cfg: PretrainedCfg, encoder: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of `path` (a torch file, loaded with weights_only=True) mapped onto `encoder`'s
    keys: the classifier dropped when `encoder` has none, the first conv's input channels summed when
    `encoder` takes fewer. PretrainedError (one line naming the file) if it is missing, unreadable or
    not the expected architecture."""
    path = Path(path)
    expected = f"expected the {cfg.name} weights"
    if not path.is_file():
        raise PretrainedError(f"pretrained weights file {path} is missing; {expected}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a torch file, or pickled code that weights_only refuses
        raise PretrainedError(f"pretrained weights file {path} cannot be read ({_reason(exc)}); {expected}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PretrainedError(f"pretrained weights file {path} is not a state dict of tensors; {expected}")
    state = _map_keys(state, cfg)
    own = encoder.state_dict()
    if cfg.classifier + ".weight" not in own:
        state = {k: v for k, v in state.items() if not k.startswith(cfg.classifier + ".")}
    stem = cfg.first_conv + ".weight"
    if stem in state and stem in own and state[stem].dim() == 4 and own[stem].shape[1] < state[stem].shape[1]:
        state[stem] = adapt_first_conv(state[stem], own[stem].shape[1])
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    wrong = [k for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        first = (missing or unexpected or wrong)[0]
        what = "lacks" if missing else "has the unexpected" if unexpected else "has another shape for"
        raise PretrainedError(f"pretrained weights file {path} is another architecture ({what} {first!r}, "
                              f"{len(missing)} missing, {len(unexpected)} unexpected, {len(wrong)} of another "
                              f"shape); {expected}")
    return state


def adapt_first_conv(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """A first conv's weight (out, 3, k, k) for `in_channels` = 1: the three filters summed, so one gray
    channel v gives what the RGB filters give on (v, v, v)."""
    if in_channels != 1:
        raise PretrainedError(f"a first conv can be adapted from {weight.shape[1]} input channels to 1; "
                              f"got {in_channels}")
    return weight.sum(dim=1, keepdim=True)


def load_pretrained_encoder(model: nn.Module, cfg: PretrainedCfg, path: str | Path | None = None) -> Path:
    """Load the pretrained weights that `cfg` describes (the model's `ModelInfo.pretrained_cfg`) into
    the model's encoder, in place; returns the file read. `path` defaults to the file `cfg` names in
    its installed package. PretrainedError (one line) for a model without an encoder, without the
    package, or for a bad file."""
    encoder = encoder_of(model)
    if encoder is None:
        raise PretrainedError(f"{type(model).__name__} has no encoder to load {cfg.name} weights into")
    path = Path(path) if path is not None else check_pretrained_available(cfg)
    state = read_pretrained_state(path, cfg, encoder)
    encoder.load_state_dict(state)
    return path
