"""Colour modes: how a model's inputs and targets are made from images, and its outputs read back.

Every registered model declares a mode (`rgb` or `lab`); training, colorizing and evaluation call
the mode's methods and never branch on a model's name. All tensors are (N, C, H, W) float32.
"""

from __future__ import annotations

import torch

from colorizekit import color


class ColorMode:
    """Base class: one instance per mode, looked up with `get_color_mode`."""

    name: str
    out_channels: int

    def input_from_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        """Model input (N, 1, H, W) from a colour batch (N, 3, H, W) in [0, 1] (training, design protocol)."""
        raise NotImplementedError

    def input_from_gray(self, gray: torch.Tensor) -> torch.Tensor:
        """Model input (N, 1, H, W) from a grayscale photo (N, 1, H, W) in [0, 1] (colorizing)."""
        raise NotImplementedError

    def target_from_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        """Training target (N, out_channels, H, W) from a colour batch in [0, 1]."""
        raise NotImplementedError

    def output_to_ab(self, out: torch.Tensor) -> torch.Tensor:
        """Model output -> predicted CIE ab (N, 2, H, W) in Lab units."""
        raise NotImplementedError

    def output_to_rgb(self, out: torch.Tensor, inp: torch.Tensor) -> torch.Tensor:
        """Model output and its input -> the colour image (N, 3, H, W) clamped to [0, 1], as the design's test."""
        raise NotImplementedError


class RGBMode(ColorMode):
    """Gray in [0, 1] (0.299 R + 0.587 G + 0.114 B) -> RGB in [0, 1]; MSE on RGB."""

    name = "rgb"
    out_channels = 3

    def input_from_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        return color.rgb_to_gray(rgb)

    def input_from_gray(self, gray: torch.Tensor) -> torch.Tensor:
        return gray

    def target_from_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb

    def output_to_ab(self, out: torch.Tensor) -> torch.Tensor:
        return color.rgb_to_lab(out.float().clamp(0.0, 1.0))[:, 1:]

    def output_to_rgb(self, out: torch.Tensor, inp: torch.Tensor) -> torch.Tensor:
        return out.float().clamp(0.0, 1.0)


class LabMode(ColorMode):
    """Normalised L, (L - 50) / 100 -> normalised ab, ab / 110; MSE on normalised ab."""

    name = "lab"
    out_channels = 2

    def input_from_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        return color.normalize_l(color.rgb_to_lab(rgb)[:, :1])

    def input_from_gray(self, gray: torch.Tensor) -> torch.Tensor:
        return color.normalize_l(color.gray_to_l(gray))

    def target_from_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        return color.normalize_ab(color.rgb_to_lab(rgb)[:, 1:])

    def output_to_ab(self, out: torch.Tensor) -> torch.Tensor:
        return color.denormalize_ab(out.float())

    def output_to_rgb(self, out: torch.Tensor, inp: torch.Tensor) -> torch.Tensor:
        lab = torch.cat([color.denormalize_l(inp.float()), color.denormalize_ab(out.float())], dim=1)
        return color.lab_to_rgb(lab)


_MODES: dict[str, ColorMode] = {m.name: m for m in (RGBMode(), LabMode())}


def get_color_mode(name: str) -> ColorMode:
    """The mode object for "rgb" or "lab"; anything else raises ValueError."""
    try:
        return _MODES[name]
    except KeyError:
        raise ValueError(f"unknown colour mode {name!r}; expected one of {sorted(_MODES)}") from None
