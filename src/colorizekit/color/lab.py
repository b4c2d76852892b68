"""Colour math as pure, differentiable torch functions on `(*, C, H, W)` tensors (CPU or GPU).

sRGB is IEC 61966-2-1 with a D65 white; CIE Lab uses the D65 2-degree white point. The constants are
the ones scikit-image uses (`skimage.color.rgb2lab`), so results agree with it to well under 1e-3 Lab
units. Ranges: sRGB in [0, 1]; L in [0, 100]; a and b roughly in [-128, 128].

This module also owns the design's normalisation of model inputs and targets:
L -> (L - 50) / 100 and ab -> ab / 110 (after richzhang/colorization), and the saturation people
apply to predicted chroma.
"""

from __future__ import annotations

import torch

# sRGB transfer function (IEC 61966-2-1)
SRGB_LINEAR_THRESHOLD = 0.04045  # encoded value where the curve turns linear
SRGB_ENCODED_THRESHOLD = 0.0031308  # linear value where the curve turns linear
SRGB_LINEAR_SLOPE = 12.92
SRGB_GAMMA = 2.4
SRGB_OFFSET = 0.055

# linear sRGB -> CIE XYZ (D65), as in scikit-image
XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
D65_WHITE = (0.95047, 1.0, 1.08883)  # CIE XYZ of the D65 2-degree white point

# CIE XYZ <-> Lab
LAB_EPSILON = 0.008856  # (6/29)^3: below it f(t) is linear
LAB_KAPPA_SLOPE = 7.787  # slope of the linear part of f(t)
LAB_OFFSET = 16.0 / 116.0

# Luma weights the design uses for gray = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601)
GRAY_WEIGHTS = (0.299, 0.587, 0.114)

# The design's normalisation of model inputs and targets
L_CENTER = 50.0
L_NORM = 100.0
AB_NORM = 110.0


def _check_channels(x: torch.Tensor, channels: int, name: str) -> None:
    if x.dim() < 3 or x.shape[-3] != channels:
        raise ValueError(f"{name} expects a tensor of shape (*, {channels}, H, W); got {tuple(x.shape)}")


def _matrix(rows: tuple[tuple[float, ...], ...], like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(rows, dtype=like.dtype, device=like.device)


def _apply_matrix(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Multiply each pixel's channel vector of x (*, 3, H, W) by the 3x3 matrix m."""
    return torch.einsum("ij,...jhw->...ihw", m, x)


def _white(like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(D65_WHITE, dtype=like.dtype, device=like.device).view(3, 1, 1)


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """Encoded sRGB in [0, 1] -> linear light, elementwise."""
    high = ((x.clamp(min=SRGB_LINEAR_THRESHOLD) + SRGB_OFFSET) / (1 + SRGB_OFFSET)) ** SRGB_GAMMA
    return torch.where(x > SRGB_LINEAR_THRESHOLD, high, x / SRGB_LINEAR_SLOPE)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """Linear light -> encoded sRGB, elementwise (not clipped)."""
    high = (1 + SRGB_OFFSET) * x.clamp(min=SRGB_ENCODED_THRESHOLD) ** (1 / SRGB_GAMMA) - SRGB_OFFSET
    return torch.where(x > SRGB_ENCODED_THRESHOLD, high, x * SRGB_LINEAR_SLOPE)


def _lab_f(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t > LAB_EPSILON, t.clamp(min=LAB_EPSILON) ** (1 / 3), LAB_KAPPA_SLOPE * t + LAB_OFFSET)


def _lab_f_inv(t: torch.Tensor) -> torch.Tensor:
    t_eps = LAB_EPSILON ** (1 / 3)
    return torch.where(t > t_eps, t.clamp(min=t_eps) ** 3, (t - LAB_OFFSET) / LAB_KAPPA_SLOPE)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB (*, 3, H, W) in [0, 1] -> CIE Lab (*, 3, H, W): L in [0, 100], a and b about [-128, 128]."""
    _check_channels(rgb, 3, "rgb_to_lab")
    xyz = _apply_matrix(_matrix(XYZ_FROM_RGB, rgb), srgb_to_linear(rgb)) / _white(rgb)
    f = _lab_f(xyz)
    fx, fy, fz = f.unbind(-3)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=-3)


def lab_to_rgb(lab: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """CIE Lab (*, 3, H, W) -> sRGB (*, 3, H, W).

    Colours outside the sRGB gamut are clipped to [0, 1] when `clip` is true (as scikit-image's
    `lab2rgb` does, which also clips negative Z to 0).
    """
    _check_channels(lab, 3, "lab_to_rgb")
    lum, a, b = lab.unbind(-3)
    fy = (lum + 16.0) / 116.0
    fz = fy - b / 200.0
    if clip:
        fz = fz.clamp(min=0.0)
    f = torch.stack([fy + a / 500.0, fy, fz], dim=-3)
    xyz = _lab_f_inv(f) * _white(lab)
    rgb_from_xyz = torch.linalg.inv(_matrix(XYZ_FROM_RGB, lab).double()).to(lab.dtype)
    rgb = linear_to_srgb(_apply_matrix(rgb_from_xyz, xyz))
    return rgb.clamp(0.0, 1.0) if clip else rgb


def rgb_to_gray(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB (*, 3, H, W) -> gray (*, 1, H, W) as the design computes it: 0.299 R + 0.587 G + 0.114 B."""
    _check_channels(rgb, 3, "rgb_to_gray")
    w = torch.tensor(GRAY_WEIGHTS, dtype=rgb.dtype, device=rgb.device).view(3, 1, 1)
    return (rgb * w).sum(dim=-3, keepdim=True)


def gray_to_l(gray: torch.Tensor) -> torch.Tensor:
    """Gray (*, 1, H, W) in [0, 1], read as the sRGB colour (g, g, g) -> its CIE L (*, 1, H, W) in [0, 100]."""
    _check_channels(gray, 1, "gray_to_l")
    return 116.0 * _lab_f(srgb_to_linear(gray)) - 16.0


def l_to_gray(lum: torch.Tensor) -> torch.Tensor:
    """CIE L (*, 1, H, W) in [0, 100] -> the gray g in [0, 1] whose sRGB colour (g, g, g) has that L."""
    _check_channels(lum, 1, "l_to_gray")
    return linear_to_srgb(_lab_f_inv((lum + 16.0) / 116.0)).clamp(0.0, 1.0)


def normalize_l(lum: torch.Tensor) -> torch.Tensor:
    """L in [0, 100] -> (L - 50) / 100 in [-0.5, 0.5]."""
    return (lum - L_CENTER) / L_NORM


def denormalize_l(x: torch.Tensor) -> torch.Tensor:
    """Inverse of `normalize_l`."""
    return x * L_NORM + L_CENTER


def normalize_ab(ab: torch.Tensor) -> torch.Tensor:
    """ab in Lab units -> ab / 110 (about [-1, 1])."""
    return ab / AB_NORM


def denormalize_ab(x: torch.Tensor) -> torch.Tensor:
    """Inverse of `normalize_ab`."""
    return x * AB_NORM


DEFAULT_SATURATION = 1.0  # every model: factor on the predicted chroma when none is chosen (1: as predicted)
MAX_SATURATION = 3.0  # the largest saturation accepted
SATURATION_RANGE = f"a number from 0 (gray) to {MAX_SATURATION:g}, 1 being the predicted colour"


def check_saturation(value: object) -> float:
    """A saturation: a finite number from 0 (gray) through 1 (the colour as predicted) to
    `MAX_SATURATION`. ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= MAX_SATURATION:
        raise ValueError(f"saturation must be {SATURATION_RANGE}; got {value!r}")
    return float(value)


def saturate(ab: torch.Tensor, saturation: float) -> torch.Tensor:
    """Scale CIE ab (chroma) by `saturation`, keeping hue: 0 gives gray, 1 leaves ab as it is, above 1
    gives stronger colour (what falls outside sRGB is clipped when converted)."""
    saturation = check_saturation(saturation)
    return ab if saturation == 1.0 else ab * saturation


def saturate_rgb(rgb: torch.Tensor, saturation: float) -> torch.Tensor:
    """`saturate` on sRGB (*, 3, H, W) in [0, 1]: its CIE ab scaled, its L kept (up to gamut clipping)."""
    if check_saturation(saturation) == 1.0:
        return rgb
    lab = rgb_to_lab(rgb)
    return lab_to_rgb(torch.cat([lab[..., :1, :, :], saturate(lab[..., 1:, :, :], saturation)], dim=-3))
