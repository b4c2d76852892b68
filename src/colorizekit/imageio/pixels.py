"""Pixel values: decoded images as float32 in [0, 1] and back to integers, alpha over white, and the
gray of a colour photo.

Integer samples are divided by their maximum (255 or 65535); floating-point TIFFs are read as [0, 1],
0-255 or 0-65535 data by their range; alpha is composited onto white; CMYK goes through its own ICC
profile when it has one. The gray of a colour pixel is the gray with the same CIE L. Floats go back
to 8 or 16 bit one way everywhere (`to_uint8`, `to_uint16`): clipped to [0, 1], rounded to the nearest.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from colorizekit.color import l_to_gray, rgb_to_lab
from colorizekit.imageio.errors import ImageError, ImageErrorKind
from colorizekit.imageio.metadata import profile_space

_COLOR_TOLERANCE = 1.0 / 255.0  # channel spread up to which a pixel counts as gray
_GRAY_CHUNK_ROWS = 256  # rows converted to Lab at a time, to bound memory on large photos


def _quantize(values: np.ndarray, top: float, dtype: type) -> np.ndarray:
    return np.rint(np.clip(values, 0.0, 1.0) * top).astype(dtype)


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Float values in [0, 1], any shape -> uint8 0..255: clipped, rounded to the nearest."""
    return _quantize(values, 255.0, np.uint8)


def to_uint16(values: np.ndarray) -> np.ndarray:
    """Float values in [0, 1], any shape -> uint16 0..65535: clipped, rounded to the nearest."""
    return _quantize(values, 65535.0, np.uint16)


def _unit(image: Image.Image, top: float) -> np.ndarray:
    """Pixels of a PIL image as float32 divided by `top` (255 or 65535)."""
    values = np.asarray(image, dtype=np.float32)
    values /= top
    return values


def over_white(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite colour (H, W[, C]) in [0, 1] with alpha (H, W) in [0, 1] onto white."""
    if color.ndim == 3:
        alpha = alpha[..., None]
    return (color * alpha + (1.0 - alpha)).astype(np.float32)


def _cmyk_to_rgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """CMYK -> RGB through the image's own CMYK profile when it has one, else Pillow's plain formula."""
    if icc and profile_space(icc) == "CMYK":
        try:
            from PIL import ImageCms

            return ImageCms.profileToProfile(
                image, ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
        except Exception:  # no littleCMS or an unusable profile: fall back to the formula
            pass
    return image.convert("RGB")


def _scale_float(values: np.ndarray, label: str) -> np.ndarray:
    """Mode F pixels -> [0, 1]: kept when they lie in [0, 1], else read as 0-255 or 0-65535 data."""
    if not np.isfinite(values).all():
        raise ImageError(f"{label}: floating-point pixels include NaN or infinity", ImageErrorKind.UNSUPPORTED)
    low, high = float(values.min(initial=0.0)), float(values.max(initial=0.0))
    if low < -1e-6:
        raise ImageError(f"{label}: floating-point pixels below 0 (min {low:g}) are not supported",
                         ImageErrorKind.UNSUPPORTED)
    scale = 1.0 if high <= 1.0 + 1e-6 else 255.0 if high <= 255.0 + 1e-3 else 65535.0 if high <= 65535.0 + 1e-1 else 0.0
    if scale == 0.0:
        raise ImageError(
            f"{label}: floating-point pixels up to {high:g} are not supported (expected [0, 1], 0-255 or 0-65535)",
            ImageErrorKind.UNSUPPORTED,
        )
    return np.clip(values / scale, 0.0, 1.0).astype(np.float32)


def float_pixels(image: Image.Image, label: str, rgb16: np.ndarray | None,
                 source_icc: bytes | None) -> tuple[np.ndarray, bool, int]:
    """(pixels, has_color_channels, bit_depth): (H, W) or (H, W, 3) float32 in [0, 1], alpha over white.

    `rgb16` holds the full-precision samples of a 16-bit RGB(A) source (Pillow's `image` has only
    their high bytes); `source_icc` is the source's own profile, used for CMYK.
    """
    if rgb16 is not None:
        values = rgb16.astype(np.float32) / 65535.0
        if values.shape[-1] == 4:
            return over_white(values[..., :3], values[..., 3]), True, 16
        return values, True, 16
    mode = image.mode
    if mode in ("1", "L") and "transparency" not in image.info:
        return _unit(image.convert("L"), 255.0), False, 8
    if mode in ("1", "L", "LA", "La"):
        gray_alpha = _unit(image.convert("LA"), 255.0)
        return over_white(gray_alpha[..., 0], gray_alpha[..., 1]), False, 8
    if mode.startswith("I;16"):
        return _unit(image, 65535.0), False, 16
    if mode == "I":
        values = np.asarray(image)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ImageError(
                f"{label}: unsupported 32-bit integer pixels (range {values.min()}..{values.max()}, expected 0..65535)",
                ImageErrorKind.UNSUPPORTED,
            )
        return values.astype(np.float32) / 65535.0, False, 16
    if mode == "F":
        return _scale_float(np.asarray(image, dtype=np.float32), label), False, 16
    if mode == "RGB":
        return _unit(image, 255.0), True, 8
    if mode == "CMYK":
        return _unit(_cmyk_to_rgb(image, source_icc), 255.0), True, 8
    if mode == "P" and "transparency" not in image.info and (image.palette is None or image.palette.mode == "RGB"):
        return _unit(image.convert("RGB"), 255.0), True, 8
    if mode in ("RGBA", "RGBa", "P", "PA"):
        rgba = _unit(image.convert("RGBA"), 255.0)
        return over_white(rgba[..., :3], rgba[..., 3]), True, 8
    try:
        return _unit(image.convert("RGB"), 255.0), True, 8
    except (ValueError, OSError):
        raise ImageError(f"{label}: unsupported image mode {mode!r}", ImageErrorKind.UNSUPPORTED) from None


def gray_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) sRGB in [0, 1] -> (H, W) gray whose (g, g, g) has each pixel's CIE L, float32."""
    height = rgb.shape[0]
    gray = np.empty(rgb.shape[:2], dtype=np.float32)
    with torch.no_grad():
        for top in range(0, height, _GRAY_CHUNK_ROWS):
            rows = torch.from_numpy(np.ascontiguousarray(rgb[top:top + _GRAY_CHUNK_ROWS])).permute(2, 0, 1)
            lum = rgb_to_lab(rows)[0:1]  # (1, h, W)
            gray[top:top + _GRAY_CHUNK_ROWS] = l_to_gray(lum)[0].numpy()
    return gray


def has_real_color(rgb: np.ndarray) -> bool:
    """True if some pixel of (H, W, 3) rgb has channels further apart than the gray tolerance."""
    for top in range(0, rgb.shape[0], _GRAY_CHUNK_ROWS):  # in chunks: colour photos stop at the first
        red, green, blue = (rgb[top:top + _GRAY_CHUNK_ROWS, :, c] for c in range(3))
        spread = np.maximum(np.maximum(red, green), blue) - np.minimum(np.minimum(red, green), blue)
        if spread.max(initial=0.0) > _COLOR_TOLERANCE + 1e-6:
            return True
    return False

