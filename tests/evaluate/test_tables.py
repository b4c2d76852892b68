"""Metric values as text: table cells, markdown tables, captions."""

import math

from colorizekit.evaluate import tables
from colorizekit.evaluate.metrics import METRIC_NAMES


def test_format_value_conventions():
    assert tables.format_value("psnr", math.inf) == "inf"
    assert tables.format_value("psnr", None) == tables.MISSING
    assert tables.format_value("ssim", math.nan) == tables.MISSING
    assert tables.format_value("psnr", 23.456) == "23.46"
    assert tables.format_value("ssim", 0.91234) == "0.9123"


def test_metric_table_has_a_row_per_metric_and_a_column_per_entry():
    table = tables.metric_table({"baseline": {"psnr": 20.0, "cf": 0.0}, "jkspnet-lab": {"psnr": math.inf},
                                 "original": {"cf": 33.0, "psnr": None}})
    lines = table.splitlines()
    assert lines[0].split("|")[1:-1] == [" metric    ", " baseline ", " jkspnet-lab ", " original "]
    assert set(lines[1]) <= set("|:-")
    assert len(lines) == 2 + len(METRIC_NAMES)
    psnr_row = [c.strip() for c in lines[2].split("|")[1:-1]]
    assert psnr_row == ["PSNR (dB)", "20.00", "inf", tables.MISSING]


def test_caption_leaves_out_missing_values():
    text = tables.caption({"psnr": 25.0, "ssim": None, "ciede2000": 3.21, "cf": 12.0})
    assert "SSIM" not in text and "PSNR 25.00" in text and "ΔE00 3.210" in text and "\n" in text
    assert tables.caption({"cf": 1.5}, ("cf",)) == "CF 1.50"
