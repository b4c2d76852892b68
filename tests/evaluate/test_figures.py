"""Picture grids with captions."""

import numpy as np
import pytest
from PIL import Image

from colorizekit.evaluate import figures


def _solid(h, w, rgb):
    return np.broadcast_to(np.array(rgb, dtype=np.uint8), (h, w, 3)).copy()


def test_image_grid_places_pictures_at_cell_height():
    red, blue = _solid(40, 60, (255, 0, 0)), _solid(40, 30, (0, 0, 255))
    gray = np.full((20, 20), 0.5, dtype=np.float32)  # (H, W) float, scaled up to the cell height
    grid = figures.image_grid([[red, blue, gray], [blue, red, gray]], cell_height=40)
    assert isinstance(grid, Image.Image) and grid.mode == "RGB"
    p = figures.PADDING
    # three columns as wide as their widest picture, padding around and between
    assert grid.size == (60 + 60 + 40 + 4 * p, 2 * 40 + 3 * p)
    a = np.asarray(grid)
    assert tuple(a[p + 20, p + 30]) == (255, 0, 0)  # centre of the first red cell
    assert tuple(a[2 * p + 40 + 20, p + 30]) == (0, 0, 255)  # blue centred under it
    assert tuple(a[p + 20, 3 * p + 120 + 20]) == (128, 128, 128)  # the gray cell, 0.5 -> 128


def test_image_grid_labels_and_titles_add_room():
    pics = [[_solid(32, 32, (0, 200, 0))] * 3]
    plain = figures.image_grid(pics, cell_height=32)
    labelled = figures.image_grid(pics, [["PSNR 20.00\nSSIM 0.9", "a", ""]], cell_height=32)
    titled = figures.image_grid(pics, [["x", "y", "z"]], col_titles=["grayscale", "colorized", "original"],
                               row_titles=["photo.png"], cell_height=32)
    assert labelled.size[1] > plain.size[1]
    assert titled.size[1] > labelled.size[1]
    assert titled.size[0] >= plain.size[0]
    # the caption is dark text on white below the picture
    a = np.asarray(labelled)
    below = a[figures.PADDING + 32 + 2:, : labelled.size[0] // 3]
    assert below.min() < 100


def test_image_grid_rows_may_differ_in_length_and_bad_layouts_are_refused():
    grid = figures.image_grid([[_solid(10, 10, (1, 2, 3))] * 3, [_solid(10, 10, (1, 2, 3))]], cell_height=10)
    assert grid.size[0] == 3 * 10 + 4 * figures.PADDING
    with pytest.raises(ValueError, match="same layout"):
        figures.image_grid([[_solid(10, 10, (0, 0, 0))]], [["a", "b"]])
    with pytest.raises(ValueError, match="at least one picture"):
        figures.image_grid([])
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, 3\)"):
        figures.image_grid([[np.zeros((4, 4, 2))]])


def test_thumbnail_keeps_aspect_ratio():
    t = figures.thumbnail(np.zeros((100, 300, 3), dtype=np.float32), 50)
    assert t.shape == (50, 150, 3) and t.dtype == np.uint8
