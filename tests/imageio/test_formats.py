"""Tests for colorizekit.imageio.formats: the one output-format and bit-depth policy."""

from __future__ import annotations

import pytest

from colorizekit.imageio import OUTPUT_NAMES, format_of_suffix, output_bit_depth, output_format, output_suffix


def test_outputs_keep_jpeg_png_webp_tiff_and_turn_the_rest_into_png():
    for kept in ("JPEG", "PNG", "WEBP", "TIFF"):
        assert output_format(kept) == kept
    for other in ("GIF", "BMP", None, "EPS"):
        assert output_format(other) == "PNG"


def test_a_requested_format_wins_and_must_be_an_output_format():
    assert set(OUTPUT_NAMES) == {"jpeg", "jpg", "png", "tif", "tiff", "webp"}
    assert output_format("GIF", "jpg") == "JPEG" and output_format("PNG", "TIFF") == "TIFF"
    for bad in ("gif", "bmp", "xcf"):
        with pytest.raises(ValueError, match="unknown output format"):
            output_format("PNG", bad)


def test_sixteen_bit_only_from_sixteen_bit_sources_in_png_and_tiff():
    assert output_bit_depth(16, "PNG") == output_bit_depth(16, "TIFF") == 16
    assert output_bit_depth(16, "JPEG") == output_bit_depth(8, "PNG") == 8


def test_suffixes():
    assert format_of_suffix("a/B.JPEG") == "JPEG" and format_of_suffix("scan") is None
    assert output_suffix("JPEG", ".JPG") == ".JPG" and output_suffix("TIFF", ".tiff") == ".tiff"
    assert output_suffix("PNG", ".gif") == ".png" and output_suffix("JPEG", "") == ".jpg"
