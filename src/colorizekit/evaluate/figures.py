"""Pictures: grids of photos with captions (demo, evaluate, compare) and the loss curve of a training run.

`image_grid` lays out rows of pictures (for example grayscale | colorized | original) with a caption
under each picture and optional column and row titles. `plot_loss_curve` draws training and
validation loss per epoch, as the design's notebooks did. Every picture is written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from colorizekit.imageio import to_uint8

BACKGROUND = (255, 255, 255)  # grid background
TEXT_COLOR = (20, 20, 20)  # captions and titles
PADDING = 8  # pixels around and between cells
DEFAULT_CELL_HEIGHT = 192  # picture height in a grid cell, pixels


def _as_rgb8(image: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3) picture, float in [0, 1] or uint8 -> (H, W, 3) uint8."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected a picture of shape (H, W) or (H, W, 3), got {a.shape}")
    return a if a.dtype == np.uint8 else to_uint8(a)


def thumbnail(image: np.ndarray, height: int) -> np.ndarray:
    """The picture as (height, w, 3) uint8, aspect ratio kept (Lanczos when shrinking)."""
    a = _as_rgb8(image)
    if a.shape[0] == height:
        return a
    width = max(1, round(a.shape[1] * height / a.shape[0]))
    resample = Image.Resampling.LANCZOS if height < a.shape[0] else Image.Resampling.BICUBIC
    return np.asarray(Image.fromarray(a).resize((width, height), resample))


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans (ships with matplotlib, has Δ) at `size` px; Pillow's default font otherwise."""
    try:
        from matplotlib import font_manager

        return ImageFont.truetype(font_manager.findfont("DejaVu Sans", fallback_to_default=True), size)
    except Exception:  # no matplotlib, or no usable font file: Pillow's own
        return ImageFont.load_default(size=size)


def _text_size(draw: ImageDraw.ImageDraw, text: str, font) -> tuple[int, int]:
    if not text:
        return 0, 0
    left, top, right, bottom = draw.multiline_textbbox((0, 0), text, font=font, spacing=2)
    return right - left, bottom - top


def image_grid(rows: Sequence[Sequence[np.ndarray]], labels: Sequence[Sequence[str]] | None = None,
               col_titles: Sequence[str] | None = None, cell_height: int = DEFAULT_CELL_HEIGHT,
               row_titles: Sequence[str] | None = None, font_size: int | None = None) -> Image.Image:
    """A grid of pictures with a caption under each and optional column and row titles.

    rows: pictures, rows[r][c] of shape (H, W) or (H, W, 3), float in [0, 1] or uint8; every
        picture is scaled to `cell_height` pixels high, aspect kept; rows may differ in length.
    labels: captions, labels[r][c] (may hold "\\n"; "" for none), the same layout as `rows`.
    col_titles: one title per column, drawn above the first row.
    row_titles: one title per row (e.g. a file name), drawn above that row.
    Returns an RGB PIL image.
    """
    if not rows or not any(len(r) for r in rows):
        raise ValueError("image_grid needs at least one picture")
    if labels is not None and (len(labels) != len(rows) or any(len(lr) != len(r) for lr, r in zip(labels, rows))):
        raise ValueError("labels must have the same layout as rows")
    if cell_height < 8:
        raise ValueError(f"cell_height must be at least 8 pixels, got {cell_height}")
    font = _font(font_size or max(12, min(22, cell_height // 12)))
    title_font = _font((font_size or max(12, min(22, cell_height // 12))) + 2)
    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    cells = [[thumbnail(p, cell_height) for p in r] for r in rows]
    ncols = max(len(r) for r in cells)
    col_w = [max([c[j].shape[1] for c in cells if j < len(c)] or [0]) for j in range(ncols)]
    if col_titles is not None:
        col_w = [max(w, _text_size(scratch, t, title_font)[0]) for w, t in zip(col_w, list(col_titles) + [""] * ncols)]
    if labels is not None:
        for lr in labels:
            for j, text in enumerate(lr):
                col_w[j] = max(col_w[j], _text_size(scratch, text, font)[0])
    label_h = [max([_text_size(scratch, t, font)[1] for t in lr] or [0]) for lr in labels] if labels else [0] * len(rows)
    row_title_h = [(_text_size(scratch, t, title_font)[1] + PADDING // 2) if t else 0
                   for t in (row_titles or [""] * len(rows))]
    col_title_h = max([_text_size(scratch, t, title_font)[1] for t in col_titles] or [0]) + PADDING if col_titles else 0

    width = sum(col_w) + PADDING * (ncols + 1)
    height = PADDING + col_title_h + sum(rt + cell_height + lh + (PADDING // 2 if lh else 0) + PADDING
                                          for rt, lh in zip(row_title_h, label_h))
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    xs = [PADDING + sum(col_w[:j]) + PADDING * j for j in range(ncols)]
    y = PADDING
    if col_titles:
        for j, title in enumerate(col_titles[:ncols]):
            tw, _ = _text_size(draw, title, title_font)
            draw.text((xs[j] + (col_w[j] - tw) // 2, y), title, fill=TEXT_COLOR, font=title_font)
        y += col_title_h
    for r, row in enumerate(cells):
        if row_titles and row_titles[r]:
            draw.text((PADDING, y), row_titles[r], fill=TEXT_COLOR, font=title_font)
            y += row_title_h[r]
        for j, pic in enumerate(row):
            canvas.paste(Image.fromarray(pic), (xs[j] + (col_w[j] - pic.shape[1]) // 2, y))
            if labels is not None and labels[r][j]:
                tw, _ = _text_size(draw, labels[r][j], font)
                draw.multiline_text((xs[j] + (col_w[j] - tw) // 2, y + cell_height + PADDING // 2), labels[r][j],
                                    fill=TEXT_COLOR, font=font, spacing=2, align="center")
        y += cell_height + label_h[r] + (PADDING // 2 if label_h[r] else 0) + PADDING
    return canvas
