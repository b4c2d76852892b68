"""Pixel values: decoded images as float32 in [0, 1] and back to integers, alpha over white, the
gray of a colour photo, and whether a photo is gray at all (`is_grayscale`, the one definition).

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

GRAY_CHECK_SIZE = 64  # the grayscale test looks at a box-averaged copy at most this many pixels across
# colour_spread up to which a photo is gray, in 8-bit levels: measured, see `is_grayscale`
GRAY_MAX_SPREAD = 13.0
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


def colour_spread(rgb: np.ndarray) -> float:
    """How far a photo is from gray: the largest spread (max - min) of R, G and B over the cells of a copy
    box-averaged to at most GRAY_CHECK_SIZE pixels across, in 8-bit levels (0-255).

    `rgb`: (H, W, 3), uint8 or float in [0, 1]. Averaging each cell's block of pixels first makes the
    figure robust to JPEG's chroma noise (a gray JPEG's pixels may spread several levels) while a
    coloured region of a few percent of the photo still shows.
    """
    values = np.asarray(rgb)
    scale = 1.0 if values.dtype == np.uint8 else 255.0
    height, width = values.shape[:2]
    if height == 0 or width == 0:
        return 0.0
    step = -(-max(height, width) // GRAY_CHECK_SIZE)  # ceil: block side so that the copy fits
    cols = np.arange(0, width, step)
    widths = np.diff(np.append(cols, width))[:, None]
    spread = 0.0
    for top in range(0, height, step):  # a band of rows at a time: little memory beyond the photo
        band = values[top:top + step].astype(np.float64)
        cells = np.add.reduceat(band.sum(axis=0), cols, axis=0) / (widths * band.shape[0])  # (cells, 3)
        spread = max(spread, float((cells.max(axis=1) - cells.min(axis=1)).max()))
    return spread * scale


def is_grayscale(rgb: np.ndarray) -> bool:
    """Whether a photo is gray: `colour_spread(rgb) <= GRAY_MAX_SPREAD` (13 levels). The one definition of
    a gray photo, for training-data filtering, colorize's "only its luminance is used" notice, evaluation
    (which refuses gray photos) and video.

    The threshold, measured by `.venv/bin/python benchmarks/grayscale_threshold.py` on ../shared/data:
    gray JPEGs made from 302 real photos (the 242 evaluation photos and 60 training photos, Pillow's "L"
    saved as RGB JPEG at quality 75, 90 and 95: 906 files) spread 0, and with 6 levels of per-pixel noise
    on each channel (906 more) 2.3 to 12.0; the 242 evaluation photos (colour) spread 32.3 to 254.9; the
    training set's visually gray photos 0 to 12.8 (a trombonist, a golf ball, a church, an accordion
    player, an old car), its first clearly tinted one (a whale in a blue sea) 14.0; 18 of its 13,026
    photos count as gray. The old training filter (4 levels on this statistic) kept gray JPEGs with
    chroma noise as colour photos; the old notice (1/255 on any pixel) called every one of them colour.
    Limit: low-frequency colour blotches (3 levels on 4 x 4 pixel blocks, as a colour scanner may leave)
    reach 18.4, and such a scan counts as colour.
    """
    return colour_spread(rgb) <= GRAY_MAX_SPREAD
