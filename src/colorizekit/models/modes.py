"""Colour modes: how a model's inputs and targets are made from images, its outputs read back, and
which loss trains it.

Every registered model declares a mode (`rgb`, `lab` or `ab-bins`); training, colorizing and
evaluation call the mode's methods and never branch on a model's name. All tensors are
(N, C, H, W) float32. Decoding takes per-call options (`decode_options`), such as the vividness
of a bins head (0 muted to 1 vivid). A mode may own data that training measures on
the photos (`fit`, e.g. a colour prior); it keeps that data in the model's buffers, so checkpoints
and weights files carry it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from colorizekit.color import bins
from colorizekit.color import lab as color


class ColorMode:
    """Base class: one instance per mode, looked up with `get_color_mode`."""

    name: str
    default_loss: str  # the registered loss (colorizekit.train.losses) that trains models of this mode
    supports_vividness = False  # whether decoding has a vividness control
    joins_input_l = True  # whether the colour image is the input's L joined with the predicted ab (`ab_to_rgb`)

    @property
    def out_channels(self) -> int:
        """Channels of the model's output."""
        raise NotImplementedError

    def decode_options(self, vividness: float | None = None) -> dict[str, Any]:
        """Options for `output_to_ab` / `output_to_rgb` from what people choose. Modes without a
        vividness control refuse a vividness with a one-line ValueError."""
        if vividness is not None:
            raise ValueError(f"vividness applies to models with a bins head (colour mode 'ab-bins'); "
                             f"this model's colour mode is {self.name!r}")
        return {}

    def fit(self, model: nn.Module, rgb_batches: Iterable[torch.Tensor],
            log: Callable[[str], None] = print) -> None:
        """Measure what the mode needs from the training photos (uint8 RGB batches) and keep it in
        `model`; nothing for most modes."""

    def loss_options(self, model: nn.Module, **train_options: Any) -> dict[str, Any]:
        """Keyword arguments for the loss, from the model's data and training options."""
        return {}

    def input_from_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        """Model input (N, 1, H, W) from a colour batch (N, 3, H, W) in [0, 1] (training, design protocol)."""
        raise NotImplementedError

    def input_from_gray(self, gray: torch.Tensor) -> torch.Tensor:
        """Model input (N, 1, H, W) from a grayscale photo (N, 1, H, W) in [0, 1] (colorizing)."""
        raise NotImplementedError

    def target_from_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        """Training target (N, out_channels, H, W) from a colour batch in [0, 1]."""
        raise NotImplementedError

    def output_to_ab(self, out: torch.Tensor, **options: Any) -> torch.Tensor:
        """Model output -> predicted CIE ab (N, 2, h, w) in Lab units, at the output's resolution."""
        raise NotImplementedError

    def output_to_rgb(self, out: torch.Tensor, inp: torch.Tensor, **options: Any) -> torch.Tensor:
        """Model output and its input -> the colour image (N, 3, H, W) at the input's size, clamped to
        [0, 1], as the design's test: the predicted ab (upsampled when the model predicts at a lower
        resolution) joined with the input's L."""
        return self.ab_to_rgb(self.output_to_ab(out, **options), inp)

    def ab_to_rgb(self, ab: torch.Tensor, inp: torch.Tensor) -> torch.Tensor:
        """Predicted ab (N, 2, h, w) in Lab units and the model input (N, 1, H, W) -> the colour image
        (N, 3, H, W) in [0, 1]: ab upsampled bilinearly to (H, W) when smaller, joined with the input's L."""
        if ab.shape[-2:] != inp.shape[-2:]:
            ab = F.interpolate(ab, size=inp.shape[-2:], mode="bilinear", align_corners=False)
        lab = torch.cat([color.denormalize_l(inp.float()), ab], dim=1)
        return color.lab_to_rgb(lab)


class RGBMode(ColorMode):
    """Gray in [0, 1] (0.299 R + 0.587 G + 0.114 B) -> RGB in [0, 1]; MSE on RGB."""

    name = "rgb"
    default_loss = "mse"
    out_channels = 3  # type: ignore[assignment]
    joins_input_l = False  # the model's own RGB, lightness included

    def input_from_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        return color.rgb_to_gray(rgb)

    def input_from_gray(self, gray: torch.Tensor) -> torch.Tensor:
        return gray

    def target_from_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb

    def output_to_ab(self, out: torch.Tensor, **options: Any) -> torch.Tensor:
        return color.rgb_to_lab(out.float().clamp(0.0, 1.0))[:, 1:]

    def output_to_rgb(self, out: torch.Tensor, inp: torch.Tensor, **options: Any) -> torch.Tensor:
        return out.float().clamp(0.0, 1.0)


class LabMode(ColorMode):
    """Normalised L, (L - 50) / 100 -> normalised ab, ab / 110; MSE on normalised ab."""

    name = "lab"
    default_loss = "mse"
    out_channels = 2  # type: ignore[assignment]

    def input_from_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        return color.normalize_l(color.rgb_to_lab(rgb)[:, :1])

    def input_from_gray(self, gray: torch.Tensor) -> torch.Tensor:
        return color.normalize_l(color.gray_to_l(gray))

    def target_from_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        return color.normalize_ab(color.rgb_to_lab(rgb)[:, 1:])

    def output_to_ab(self, out: torch.Tensor, **options: Any) -> torch.Tensor:
        return color.denormalize_ab(out.float())


class BinsMode(LabMode):
    """Normalised L, (L - 50) / 100 (inputs as LabMode's) -> logits over the ab bins (`colorizekit.color.bins`),
    often at a lower resolution than the input. Trained with class-rebalanced cross-entropy on soft-encoded ab (the
    target is the photo's ab in Lab units; the loss encodes it at the output's resolution). Decoded
    by `bins.decode_bins` at a vividness from 0 (the mean colour) to 1 (vivid)."""

    name = "ab-bins"
    default_loss = "rebalanced-ce"
    supports_vividness = True

    @property
    def out_channels(self) -> int:  # type: ignore[override]
        return bins.num_bins()

    def target_from_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        return color.rgb_to_lab(rgb)[:, 1:]  # (N, 2, H, W) ab in Lab units

    def decode_options(self, vividness: float | None = None) -> dict[str, Any]:
        return {"vividness": bins.check_vividness(bins.DEFAULT_VIVIDNESS if vividness is None else vividness)}

    def output_to_ab(self, out: torch.Tensor, vividness: float | torch.Tensor | None = None,
                     **options: Any) -> torch.Tensor:
        if vividness is None:
            vividness = self.decode_options()["vividness"]
        return bins.decode_bins(out, vividness)

    def fit(self, model: nn.Module, rgb_batches: Iterable[torch.Tensor],
            log: Callable[[str], None] = print) -> None:
        """Measure the smoothed ab distribution of the photos and store it as the model's prior."""
        head = bins.find_bins_head(model)
        counts = torch.zeros(bins.num_bins(), dtype=torch.float64)
        photos = 0
        for batch in rgb_batches:
            rgb = batch.to(head.prior.device).float().div_(255.0)
            counts += bins.ab_histogram(self.target_from_rgb(rgb))
            photos += batch.shape[0]
        prior = bins.smooth_prior(counts)
        head.prior.copy_(prior.to(head.prior))
        used = int((counts > 0).sum())
        log(f"colour prior: measured on {photos} photos ({int(counts.sum())} pixels); {used} of "
            f"{bins.num_bins()} ab bins occur")

    def loss_options(self, model: nn.Module, rebalance: float = bins.DEFAULT_REBALANCE,
                     **train_options: Any) -> dict[str, Any]:
        head = bins.find_bins_head(model)
        return {"class_weights": bins.rebalance_weights(head.prior, rebalance).to(head.prior.device)}


_MODES: dict[str, ColorMode] = {m.name: m for m in (RGBMode(), LabMode(), BinsMode())}


def get_color_mode(name: str) -> ColorMode:
    """The mode object for "rgb" or "lab"; anything else raises ValueError."""
    try:
        return _MODES[name]
    except KeyError:
        raise ValueError(f"unknown colour mode {name!r}; expected one of {sorted(_MODES)}") from None
