"""The full-resolution join: chroma predicted at a working size, upsampled to the photo's own size and
joined with its own CIE L (as richzhang/colorization does), so the output keeps the input's width,
height and luminance exactly; colours outside the sRGB gamut are clipped.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from colorizekit.color.lab import gray_to_l, lab_to_rgb

STRIP_ROWS = 512  # rows joined and converted at a time, to bound memory on very large photos


def resize(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, *shape), bilinear, antialiased when shrinking."""
    if tuple(x.shape[-2:]) == shape:
        return x
    shrinking = shape[0] < x.shape[-2] or shape[1] < x.shape[-1]
    return F.interpolate(x, size=shape, mode="bilinear", align_corners=False, antialias=shrinking)


def join_luminance(gray: np.ndarray, ab: torch.Tensor) -> np.ndarray:
    """Full-resolution gray (H, W) in [0, 1] and predicted ab (2, h, w) -> RGB (H, W, 3) float32 in [0, 1].

    The ab is upsampled bilinearly to (H, W) and joined with the gray's CIE L, in strips of rows so
    that very large photos need little memory beyond the output itself.
    """
    height, width = gray.shape
    ab = ab.float()[None]
    # where the photo is smaller than the working size, shrink the ab first (antialiased), so the
    # strips below only ever upsample
    ab = resize(ab, (min(ab.shape[-2], height), min(ab.shape[-1], width)))
    out = np.empty((height, width, 3), dtype=np.float32)
    gray_t = torch.from_numpy(np.ascontiguousarray(gray, dtype=np.float32))
    for top in range(0, height, STRIP_ROWS):
        bottom = min(height, top + STRIP_ROWS)
        lum = gray_to_l(gray_t[top:bottom][None])
        rgb = lab_to_rgb(torch.cat([lum, _upsample_rows(ab, height, width, top, bottom)], dim=0))
        out[top:bottom] = rgb.permute(1, 2, 0).numpy()
    return out


def _upsample_rows(ab: torch.Tensor, height: int, width: int, top: int, bottom: int) -> torch.Tensor:
    """Rows [top, bottom) of `ab` (1, 2, h, w), h <= height and w <= width, bilinearly upsampled to
    (height, width) as F.interpolate(align_corners=False) would give them, from the source rows they need."""
    h = ab.shape[-2]
    scale = h / height
    ys = ((torch.arange(top, bottom, dtype=torch.float64) + 0.5) * scale - 0.5).clamp(min=0)
    y0 = ys.floor().long().clamp(max=h - 1)
    y1 = (y0 + 1).clamp(max=h - 1)
    wy = (ys - y0).float().view(1, -1, 1)
    rows = ab[0, :, y0] * (1 - wy) + ab[0, :, y1] * wy  # (2, bottom - top, w)
    return F.interpolate(rows[None], size=(bottom - top, width), mode="bilinear", align_corners=False)[0]
