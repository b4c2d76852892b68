"""Tests for colorizekit.imageio.metadata: EXIF orientation, ICC profiles, what is carried to outputs."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from colorizekit.imageio import load_image, metadata, open_image, save_image
from tests.imageio.helpers import _exif, _gray_icc_profile, _orientation_of, _srgb_icc_profile

# ------------------------------------------------------------------------------------------ metadata


def test_exif_orientation_makes_pixels_upright(tmp_path):
    pixels = np.zeros((2, 3), np.uint8)
    pixels[0, 0] = 255  # top-left marker in the stored orientation
    for orientation in range(1, 9):
        path = tmp_path / f"o{orientation}.png"
        Image.fromarray(pixels, mode="L").save(path, exif=_exif(orientation))
        loaded = load_image(path)
        expected = np.asarray(ImageOps.exif_transpose(Image.open(path))) / 255.0
        np.testing.assert_array_equal(loaded.gray, expected)
        assert loaded.gray.shape == ((3, 2) if orientation >= 5 else (2, 3))
        assert _orientation_of(loaded.exif) == 1
        exif = Image.Exif()
        exif.load(loaded.exif)
        assert exif[0x010F] == "colorizekit-test"  # the rest of the EXIF is kept
        assert open_image(path).size == (loaded.gray.shape[1], loaded.gray.shape[0])


def test_exif_orientation_jpeg_and_16_bit_tiff(tmp_path):
    rgb = np.zeros((4, 8, 3), np.uint8)
    rgb[:, :4] = (255, 0, 0)
    Image.fromarray(rgb).save(tmp_path / "r.jpg", exif=_exif(6), quality=100)
    loaded = load_image(tmp_path / "r.jpg")
    assert loaded.rgb.shape == (8, 4, 3) and _orientation_of(loaded.exif) == 1
    assert loaded.rgb[0, 3, 0] > 0.9 and loaded.rgb[7, 3, 0] < 0.1  # red half rotated to the top

    rgb16 = np.zeros((2, 3, 3), np.uint16)
    rgb16[0, 0] = (65535, 1, 2)
    save_image(tmp_path / "r16.tif", rgb16, bit_depth=16, exif=_exif(8))
    loaded = load_image(tmp_path / "r16.tif")
    assert loaded.bit_depth == 16 and loaded.rgb.shape == (3, 2, 3)
    np.testing.assert_allclose(loaded.rgb[2, 0] * 65535, [65535, 1, 2], atol=1e-3)  # rotated 90 ccw
    assert _orientation_of(loaded.exif) == 1


def test_icc_srgb_kept_gray_dropped(tmp_path, rgb8):
    srgb, gray_icc = _srgb_icc_profile(), _gray_icc_profile()
    assert ImageCms.ImageCmsProfile(io.BytesIO(gray_icc)).profile.xcolor_space.strip() == "GRAY"
    Image.fromarray(rgb8).save(tmp_path / "srgb.png", icc_profile=srgb)
    Image.fromarray(rgb8).save(tmp_path / "srgb.jpg", icc_profile=srgb)
    Image.fromarray(rgb8[..., 0]).save(tmp_path / "gray.jpg", icc_profile=gray_icc)
    Image.fromarray(rgb8[..., 0]).save(tmp_path / "gray.png", icc_profile=gray_icc)
    assert load_image(tmp_path / "srgb.png").icc_profile == srgb
    assert load_image(tmp_path / "srgb.jpg").icc_profile == srgb
    assert load_image(tmp_path / "gray.jpg").icc_profile is None
    assert load_image(tmp_path / "gray.png").icc_profile is None


def test_gray_profile_detected_from_header_without_imagecms(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_imagecms(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "PIL" and fromlist and "ImageCms" in fromlist:
            raise ImportError("no ImageCms")
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", no_imagecms)
    assert metadata.profile_space(_gray_icc_profile()) == "GRAY"
    assert metadata.rgb_profile(_gray_icc_profile()) is None
    assert metadata.rgb_profile(_srgb_icc_profile()) is not None


@pytest.mark.parametrize(("name", "bit_depth"), [("o.jpg", 8), ("o.png", 8), ("o.webp", 8), ("o.tif", 8),
                                                 ("o16.png", 16), ("o16.tif", 16)])
def test_save_carries_exif_and_icc(tmp_path, rgb8, name, bit_depth):
    srgb = _srgb_icc_profile()
    save_image(tmp_path / name, rgb8, bit_depth=bit_depth, exif=_exif(1, make="carried"), icc_profile=srgb)
    loaded = load_image(tmp_path / name)
    assert loaded.icc_profile == srgb
    exif = Image.Exif()
    exif.load(loaded.exif)
    assert exif[0x010F] == "carried" and exif[0x0112] == 1
    assert loaded.bit_depth == bit_depth


def test_tiff_source_exif_drops_layout_tags(tmp_path, rgb8):
    Image.fromarray(rgb8).save(tmp_path / "s.tif", exif=_exif(1, make="tiffmake"))
    loaded = load_image(tmp_path / "s.tif")
    exif = Image.Exif()
    exif.load(loaded.exif)
    assert exif[0x010F] == "tiffmake"
    assert 273 not in exif and 256 not in exif  # StripOffsets, ImageWidth belong to the source file
