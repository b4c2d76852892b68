"""Picture grids and metric tables."""

import math

import numpy as np
import pytest
from PIL import Image

from colorizekit import report
from colorizekit.metrics import METRIC_NAMES


def _solid(h, w, rgb):
    return np.broadcast_to(np.array(rgb, dtype=np.uint8), (h, w, 3)).copy()


def test_image_grid_places_pictures_at_cell_height():
    red, blue = _solid(40, 60, (255, 0, 0)), _solid(40, 30, (0, 0, 255))
    gray = np.full((20, 20), 0.5, dtype=np.float32)  # (H, W) float, scaled up to the cell height
    grid = report.image_grid([[red, blue, gray], [blue, red, gray]], cell_height=40)
    assert isinstance(grid, Image.Image) and grid.mode == "RGB"
    p = report.PADDING
    # three columns as wide as their widest picture, padding around and between
    assert grid.size == (60 + 60 + 40 + 4 * p, 2 * 40 + 3 * p)
    a = np.asarray(grid)
    assert tuple(a[p + 20, p + 30]) == (255, 0, 0)  # centre of the first red cell
    assert tuple(a[2 * p + 40 + 20, p + 30]) == (0, 0, 255)  # blue centred under it
    assert tuple(a[p + 20, 3 * p + 120 + 20]) == (128, 128, 128)  # the gray cell, 0.5 -> 128


def test_image_grid_labels_and_titles_add_room():
    pics = [[_solid(32, 32, (0, 200, 0))] * 3]
    plain = report.image_grid(pics, cell_height=32)
    labelled = report.image_grid(pics, [["PSNR 20.00\nSSIM 0.9", "a", ""]], cell_height=32)
    titled = report.image_grid(pics, [["x", "y", "z"]], col_titles=["grayscale", "colorized", "original"],
                               row_titles=["photo.png"], cell_height=32)
    assert labelled.size[1] > plain.size[1]
    assert titled.size[1] > labelled.size[1]
    assert titled.size[0] >= plain.size[0]
    # the caption is dark text on white below the picture
    a = np.asarray(labelled)
    below = a[report.PADDING + 32 + 2:, : labelled.size[0] // 3]
    assert below.min() < 100


def test_image_grid_rows_may_differ_in_length_and_bad_layouts_are_refused():
    grid = report.image_grid([[_solid(10, 10, (1, 2, 3))] * 3, [_solid(10, 10, (1, 2, 3))]], cell_height=10)
    assert grid.size[0] == 3 * 10 + 4 * report.PADDING
    with pytest.raises(ValueError, match="same layout"):
        report.image_grid([[_solid(10, 10, (0, 0, 0))]], [["a", "b"]])
    with pytest.raises(ValueError, match="at least one picture"):
        report.image_grid([])
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, 3\)"):
        report.image_grid([[np.zeros((4, 4, 2))]])


def test_thumbnail_keeps_aspect_ratio():
    t = report.thumbnail(np.zeros((100, 300, 3), dtype=np.float32), 50)
    assert t.shape == (50, 150, 3) and t.dtype == np.uint8


def test_format_value_conventions():
    assert report.format_value("psnr", math.inf) == "inf"
    assert report.format_value("psnr", None) == report.MISSING
    assert report.format_value("ssim", math.nan) == report.MISSING
    assert report.format_value("psnr", 23.456) == "23.46"
    assert report.format_value("ssim", 0.91234) == "0.9123"


def test_metric_table_has_a_row_per_metric_and_a_column_per_entry():
    table = report.metric_table({"baseline": {"psnr": 20.0, "cf": 0.0}, "jkspnet-lab": {"psnr": math.inf},
                                 "original": {"cf": 33.0, "psnr": None}})
    lines = table.splitlines()
    assert lines[0].split("|")[1:-1] == [" metric    ", " baseline ", " jkspnet-lab ", " original "]
    assert set(lines[1]) <= set("|:-")
    assert len(lines) == 2 + len(METRIC_NAMES)
    psnr_row = [c.strip() for c in lines[2].split("|")[1:-1]]
    assert psnr_row == ["PSNR (dB)", "20.00", "inf", report.MISSING]


def test_caption_leaves_out_missing_values():
    text = report.caption({"psnr": 25.0, "ssim": None, "ciede2000": 3.21, "cf": 12.0})
    assert "SSIM" not in text and "PSNR 25.00" in text and "ΔE00 3.210" in text and "\n" in text
    assert report.caption({"cf": 1.5}, ("cf",)) == "CF 1.50"
