"""Tests for colorizekit.imageio.read: every mode and format on tiny synthetic files, colour, bad files."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from colorizekit.color import l_to_gray
from colorizekit.imageio import (
    IMAGE_SUFFIXES,
    MAX_DECODE_PIXELS,
    ImageError,
    LoadedImage,
    load_image,
    open_image,
    open_rgb,
)
from tests.imageio.helpers import _exif, _png16, _png_chunk

# ------------------------------------------------------------------------------------------ API


def test_constants():
    assert MAX_DECODE_PIXELS == 120_000_000
    assert 6000 * 4000 <= MAX_DECODE_PIXELS < 20000 * 20000
    assert IMAGE_SUFFIXES == {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".gif"}
    assert issubclass(ImageError, ValueError)


# ------------------------------------------------------------------------------------------ modes


def test_mode_1(tmp_path):
    values = np.array([[0, 255, 0], [255, 255, 0]], np.uint8)
    Image.fromarray(values).convert("1").save(tmp_path / "bw.png")
    loaded = load_image(tmp_path / "bw.png")
    assert open_image(tmp_path / "bw.png").mode == "1"
    assert loaded.rgb is None and not loaded.is_color and loaded.bit_depth == 8
    np.testing.assert_array_equal(loaded.gray, values / 255.0)


def test_mode_l(tmp_path):
    values = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(values, mode="L").save(tmp_path / "gray.png")
    loaded = load_image(tmp_path / "gray.png")
    assert isinstance(loaded, LoadedImage)
    assert loaded.gray.dtype == np.float32 and loaded.gray.shape == (3, 4)
    assert loaded.path == tmp_path / "gray.png" and loaded.name == "gray.png" and loaded.format == "PNG"
    assert loaded.rgb is None and not loaded.is_color and loaded.bit_depth == 8
    np.testing.assert_allclose(loaded.gray, values / 255.0, atol=1e-7)


def test_mode_la_composites_on_white(tmp_path):
    la = np.zeros((2, 2, 2), np.uint8)
    la[..., 0] = 0  # black
    la[..., 1] = [[255, 0], [128, 255]]  # opaque, transparent, half, opaque
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    gray = load_image(tmp_path / "la.png").gray
    np.testing.assert_allclose(gray, [[0.0, 1.0], [1 - 128 / 255, 0.0]], atol=1e-6)


def test_mode_p_without_transparency(tmp_path):
    palette = [255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6)
    image = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), mode="P")
    image.putpalette(palette)
    image.save(tmp_path / "p.png")
    loaded = load_image(tmp_path / "p.png")
    assert loaded.is_color
    np.testing.assert_allclose(loaded.rgb[0, 0], [1, 0, 0])
    np.testing.assert_allclose(loaded.rgb[0, 1], [0, 0, 1])


def test_mode_p_with_transparency(tmp_path):
    palette = [255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6)
    image = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), mode="P")
    image.putpalette(palette)
    image.save(tmp_path / "pt.png", transparency=1)  # index 1 (blue) is transparent
    loaded = load_image(tmp_path / "pt.png")
    np.testing.assert_allclose(loaded.rgb[0, 0], [1, 0, 0])
    np.testing.assert_allclose(loaded.rgb[0, 1], [1, 1, 1])  # transparent -> white
    assert open_rgb(tmp_path / "pt.png").getpixel((1, 0)) == (255, 255, 255)


def test_mode_rgb(tmp_path, rgb8):
    Image.fromarray(rgb8).save(tmp_path / "rgb.png")
    loaded = load_image(tmp_path / "rgb.png")
    assert loaded.is_color and loaded.bit_depth == 8
    np.testing.assert_allclose(loaded.rgb, rgb8 / 255.0, atol=1e-7)


def test_mode_rgba_composites_on_white(tmp_path):
    rgba = np.array([[[255, 0, 0, 255], [0, 0, 255, 0]], [[0, 255, 0, 128], [0, 0, 0, 255]]], np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    rgb = load_image(tmp_path / "rgba.png").rgb
    a = 128 / 255
    np.testing.assert_allclose(rgb[0, 0], [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(rgb[0, 1], [1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(rgb[1, 0], [1 - a, 1, 1 - a], atol=1e-6)
    assert open_rgb(tmp_path / "rgba.png").getpixel((1, 0)) == (255, 255, 255)


def test_mode_cmyk(tmp_path):
    cmyk = np.zeros((2, 2, 4), np.uint8)
    cmyk[0, 0] = [0, 255, 255, 0]  # red
    cmyk[1, 1] = [0, 0, 0, 255]  # black
    Image.fromarray(cmyk, mode="CMYK").save(tmp_path / "cmyk.jpg", quality=100)
    Image.fromarray(cmyk, mode="CMYK").save(tmp_path / "cmyk.tif")
    assert open_image(tmp_path / "cmyk.tif").mode == "CMYK"
    loaded = load_image(tmp_path / "cmyk.tif")
    assert loaded.is_color
    np.testing.assert_allclose(loaded.rgb[0, 0], [1, 0, 0])
    np.testing.assert_allclose(loaded.rgb[0, 1], [1, 1, 1])
    np.testing.assert_allclose(loaded.rgb[1, 1], [0, 0, 0])
    jpeg = load_image(tmp_path / "cmyk.jpg")
    assert jpeg.rgb.shape == (2, 2, 3) and jpeg.is_color
    assert open_rgb(tmp_path / "cmyk.tif").mode == "RGB"


def test_mode_i16_png_is_not_clipped(tmp_path):
    values = np.array([[0, 32768], [65535, 1000]], np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    assert open_image(tmp_path / "g16.png").mode.startswith("I")
    loaded = load_image(tmp_path / "g16.png")
    assert loaded.bit_depth == 16 and loaded.rgb is None
    np.testing.assert_allclose(loaded.gray, values / 65535.0, atol=1e-7)
    assert abs(loaded.gray[0, 1] - 0.5) < 1e-4
    assert open_rgb(tmp_path / "g16.png").getpixel((1, 0)) == (128, 128, 128)


def test_mode_i16_tiff_both_byte_orders(tmp_path):
    values = np.array([[0, 32768, 65535]], np.uint16)
    for mode in ("I;16", "I;16B"):
        image = Image.frombytes(mode, (3, 1), values.astype("<u2" if mode == "I;16" else ">u2").tobytes())
        image.save(tmp_path / f"{mode[-1]}.tif")
        loaded = load_image(tmp_path / f"{mode[-1]}.tif")
        assert loaded.bit_depth == 16
        np.testing.assert_allclose(loaded.gray, values / 65535.0, atol=1e-7)
        loaded = load_image(image)  # the in-memory image itself, too
        np.testing.assert_allclose(loaded.gray, values / 65535.0, atol=1e-7)


def test_mode_i_from_16_bit_data():
    image = Image.fromarray(np.array([[0, 32768, 65535]], np.int32), mode="I")
    loaded = load_image(image)
    assert loaded.bit_depth == 16 and loaded.name == "<image>"
    np.testing.assert_allclose(loaded.gray, [[0, 32768 / 65535, 1]], atol=1e-7)
    bad = Image.fromarray(np.array([[0, 70000]], np.int32), mode="I")
    with pytest.raises(ImageError, match="32-bit"):
        load_image(bad)


def test_mode_f(tmp_path):
    values = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)
    Image.fromarray(values, mode="F").save(tmp_path / "f.tif")
    assert open_image(tmp_path / "f.tif").mode == "F"
    np.testing.assert_allclose(load_image(tmp_path / "f.tif").gray, values, atol=1e-7)
    np.testing.assert_allclose(load_image(Image.fromarray(values * 255, mode="F")).gray, values, atol=1e-6)


def test_16_bit_rgb_and_rgba_png_keep_full_precision(tmp_path):
    rgb = np.array([[[0, 32768, 65535], [257, 1, 65534]]], np.uint16)
    (tmp_path / "rgb16.png").write_bytes(_png16(rgb, 2))
    loaded = load_image(tmp_path / "rgb16.png")
    assert loaded.bit_depth == 16 and loaded.is_color
    np.testing.assert_allclose(loaded.rgb, rgb / 65535.0, atol=1e-7)
    assert open_rgb(tmp_path / "rgb16.png").getpixel((0, 0)) == (0, 128, 255)

    rgba = np.array([[[65535, 0, 0, 65535], [0, 0, 0, 0]]], np.uint16)
    (tmp_path / "rgba16.png").write_bytes(_png16(rgba, 6))
    np.testing.assert_allclose(load_image(tmp_path / "rgba16.png").rgb, [[[1, 0, 0], [1, 1, 1]]], atol=1e-7)


@pytest.mark.parametrize("kwargs", [{}, {"byteorder": ">"}, {"compression": "zlib"}, {"tile": (16, 16)},
                                    {"planarconfig": "separate"}, {"planarconfig": "separate", "byteorder": ">"}])
def test_16_bit_rgb_tiff_variants(tmp_path, kwargs):
    tifffile = pytest.importorskip("tifffile")
    rgb = np.random.default_rng(2).integers(0, 65536, (20, 30, 3), dtype=np.uint16)
    data = rgb.transpose(2, 0, 1) if kwargs.get("planarconfig") == "separate" else rgb
    tifffile.imwrite(tmp_path / "v.tif", data, photometric="rgb", **kwargs)
    loaded = load_image(tmp_path / "v.tif")
    assert loaded.bit_depth == 16
    np.testing.assert_allclose(loaded.rgb, rgb / 65535.0, atol=1e-7)
    np.testing.assert_array_equal(np.asarray(open_image(tmp_path / "v.tif")), rgb >> 8)


def test_numpy_arrays():
    gray8 = load_image(np.array([[0, 255]], np.uint8))
    assert gray8.name == "<array>" and gray8.path is None and gray8.format is None
    assert gray8.bit_depth == 8 and gray8.rgb is None
    np.testing.assert_allclose(gray8.gray, [[0, 1]])
    gray16 = load_image(np.array([[32768]], np.uint16)[..., None])
    assert gray16.bit_depth == 16 and abs(gray16.gray[0, 0] - 0.5) < 1e-4
    color = load_image(np.array([[[1.0, 0.0, 0.0]]], np.float64))
    assert color.is_color and color.rgb.dtype == np.float32
    rgba = load_image(np.array([[[0, 0, 0, 0]]], np.uint8))
    np.testing.assert_allclose(rgba.rgb, [[[1, 1, 1]]])
    for bad in (np.zeros((2, 2, 2), np.uint8), np.zeros((2, 2), np.int64), np.full((2, 2), 2.0),
                np.full((2, 2), np.nan), np.zeros((0, 3), np.uint8)):
        with pytest.raises(ImageError, match="<array>"):
            load_image(bad)
    with pytest.raises(ImageError, match="too large"):
        load_image(np.zeros((10, 10), np.uint8), max_pixels=99)


# ------------------------------------------------------------------------------------------ formats


@pytest.mark.parametrize(
    ("suffix", "fmt", "params", "atol"),
    [
        (".png", "PNG", {}, 0),
        (".bmp", "BMP", {}, 0),
        (".tif", "TIFF", {}, 0),
        (".webp", "WEBP", {"lossless": True}, 0),
        (".jpg", "JPEG", {"quality": 95, "subsampling": 0}, 4),  # lossy: mean error
    ],
)
def test_formats_rgb(tmp_path, rgb8, suffix, fmt, params, atol):
    path = tmp_path / f"photo{suffix}"
    Image.fromarray(rgb8).save(path, **params)
    loaded = load_image(path)
    assert loaded.format == fmt and loaded.is_color and loaded.bit_depth == 8
    error = np.abs(loaded.rgb * 255 - rgb8)
    assert (error.mean() if fmt == "JPEG" else error.max()) <= atol + 1e-4
    assert open_rgb(path).mode == "RGB"
    assert load_image(path.read_bytes()).name == "<bytes>"


@pytest.mark.parametrize("suffix", [".tif", ".png", ".jpg", ".bmp"])
def test_formats_gray(tmp_path, suffix):
    values = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (8, 1))
    Image.fromarray(values, mode="L").save(tmp_path / f"g{suffix}")
    loaded = load_image(tmp_path / f"g{suffix}")
    assert loaded.rgb is None and not loaded.is_color
    assert np.abs(loaded.gray * 255 - values).max() <= (3 if suffix == ".jpg" else 1e-4)


def test_mpo_camera_jpeg(tmp_path, rgb8):
    Image.fromarray(rgb8).save(tmp_path / "cam.jpg", format="MPO", save_all=True,
                               append_images=[Image.fromarray(rgb8[::-1])], quality=100, subsampling=0)
    loaded = load_image(tmp_path / "cam.jpg")
    assert loaded.format in ("MPO", "JPEG") and loaded.is_color
    assert np.abs(loaded.rgb * 255 - rgb8).mean() < 4  # the first picture


def test_other_formats_are_refused(tmp_path, rgb8):
    Image.fromarray(rgb8).save(tmp_path / "x.ppm")
    (tmp_path / "x.eps").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n")
    for name in ("x.ppm", "x.eps"):
        _check_error(tmp_path / name, "not an image in a supported format")


def test_gif_first_frame(tmp_path):
    red = Image.new("RGB", (4, 4), (255, 0, 0))
    blue = Image.new("RGB", (4, 4), (0, 0, 255))
    red.save(tmp_path / "anim.gif", save_all=True, append_images=[blue], duration=100, loop=0)
    loaded = load_image(tmp_path / "anim.gif")
    assert loaded.format == "GIF" and loaded.is_color
    np.testing.assert_allclose(loaded.rgb[0, 0], [1, 0, 0])


# ------------------------------------------------------------------------------------------ colour


def test_color_vs_gray_detection(tmp_path, rgb8):
    gray3 = np.repeat(rgb8[..., :1], 3, axis=-1)
    Image.fromarray(gray3).save(tmp_path / "gray3.png")
    loaded = load_image(tmp_path / "gray3.png")
    assert not loaded.is_color and loaded.rgb is not None  # colour channels, no real colour
    np.testing.assert_allclose(loaded.gray, gray3[..., 0] / 255.0, atol=1e-5)

    noisy = gray3.astype(np.int16)
    noisy[::2, ::3, 1] += 1  # one level of channel noise still counts as gray
    assert not load_image(np.clip(noisy, 0, 255).astype(np.uint8)).is_color
    tinted = gray3.copy()
    tinted[0, 0] = (200, 100, 50)  # one really coloured pixel
    assert load_image(tinted).is_color
    assert load_image(rgb8).is_color


def test_gray_from_color_has_the_same_lab_lightness(rgb8):
    from skimage.color import rgb2lab

    loaded = load_image(rgb8)
    lightness = rgb2lab(rgb8 / 255.0)[..., 0]
    expected = l_to_gray(torch.from_numpy(lightness).float()[None]).numpy()[0]
    np.testing.assert_allclose(loaded.gray, expected, atol=2e-4)
    luma = rgb8 @ np.array([0.299, 0.587, 0.114]) / 255.0
    assert np.abs(loaded.gray - luma).max() > 0.02  # not the 0.299 luma


# ------------------------------------------------------------------------------------------ bad files


def _truncated(tmp_path: Path, name: str, rgb8: np.ndarray, **params) -> Path:
    full = io.BytesIO()
    Image.fromarray(np.tile(rgb8, (4, 4, 1))).save(full, format=Image.registered_extensions()[Path(name).suffix],
                                                   **params)
    path = tmp_path / name
    path.write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    return path


def _check_error(path, match: str, **kwargs):
    with pytest.raises(ImageError, match=match) as info:
        load_image(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and Path(path).name in message
    with pytest.raises(ImageError):
        open_image(path, **kwargs)
    return message


def test_zero_bytes(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    _check_error(tmp_path / "empty.jpg", "empty")
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")


@pytest.mark.parametrize("load_truncated", [False, True])
@pytest.mark.parametrize(("name", "params"), [("cut.jpg", {"quality": 90}), ("cut.png", {}), ("cut.tif", {}),
                                              ("cut.webp", {})])
def test_truncated(tmp_path, monkeypatch, rgb8, name, params, load_truncated):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", load_truncated)  # set by some other library
    path = _truncated(tmp_path, name, rgb8, **params)
    _check_error(path, "truncated|corrupt|not a readable|not an image")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is load_truncated


def test_truncated_16_bit_rgb_png(tmp_path):
    data = _png16(np.random.default_rng(1).integers(0, 65536, (32, 32, 3), dtype=np.uint16), 2)
    (tmp_path / "cut16.png").write_bytes(data[: len(data) // 2])
    _check_error(tmp_path / "cut16.png", "truncated|corrupt")


def test_not_an_image(tmp_path):
    (tmp_path / "notes.png").write_text("these are not pixels\n")
    message = _check_error(tmp_path / "notes.png", "not an image")
    assert message.startswith(str(tmp_path / "notes.png") + ": ")


def test_bomb_by_max_pixels(tmp_path, rgb8):
    Image.fromarray(rgb8).save(tmp_path / "big.png")
    message = _check_error(tmp_path / "big.png", "too large", max_pixels=100)
    assert f"{12 * 16} pixels > limit 100" in message
    with pytest.raises(ImageError, match="too large"):
        load_image(Image.fromarray(rgb8), max_pixels=100)


@pytest.mark.parametrize("side", [20000, 12000])  # beyond Pillow's own hard limit, and between the two
def test_bomb_from_header(tmp_path, side):
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(data)
    assert len(data) < 200
    limit = Image.MAX_IMAGE_PIXELS
    message = _check_error(tmp_path / "bomb.png", "too large")
    assert f"{side * side} pixels > limit {MAX_DECODE_PIXELS}" in message
    assert Image.MAX_IMAGE_PIXELS == limit  # global Pillow state untouched


def test_missing_path_and_directory(tmp_path):
    _check_error(tmp_path / "missing.jpg", "no such file")
    (tmp_path / "folder.png").mkdir()
    _check_error(tmp_path / "folder.png", "folder")


def test_no_global_state_changes(tmp_path, rgb8):
    import warnings

    filters, limit = list(warnings.filters), Image.MAX_IMAGE_PIXELS
    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    Image.fromarray(rgb8).save(tmp_path / "x.tif", exif=_exif(3))
    load_image(tmp_path / "x.tif")
    with pytest.raises(ImageError):
        load_image(tmp_path / "x.tif", max_pixels=10)
    assert warnings.filters == filters
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES) == (limit, truncated)


def test_open_image_returns_loaded_upright_copy(tmp_path, rgb8):
    source = Image.fromarray(rgb8)
    opened = open_image(source)
    assert opened is not source and opened.size == (16, 12)
    Image.fromarray(rgb8).save(tmp_path / "x.png")
    image = open_image(tmp_path / "x.png")
    assert image.mode == "RGB" and np.array_equal(np.asarray(image), rgb8)
