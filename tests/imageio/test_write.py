"""Tests for colorizekit.imageio.write: 8 and 16 bit, every format, in memory and atomically."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from colorizekit.imageio import encode_image, load_image, save_image, write
from tests.imageio.helpers import _no_temp_files, _srgb_icc_profile

# ------------------------------------------------------------------------------------------ writing


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff"])
def test_16_bit_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 65536, size=(7, 9, 3), dtype=np.uint16)
    save_image(tmp_path / f"r{suffix}", rgb, bit_depth=16)
    loaded = load_image(tmp_path / f"r{suffix}")
    assert loaded.bit_depth == 16
    assert np.abs(loaded.rgb * 65535.0 - rgb).max() < 1e-4 * 65535
    save_image(tmp_path / f"f{suffix}", rgb / 65535.0, bit_depth=16)  # float input too
    assert np.abs(load_image(tmp_path / f"f{suffix}").rgb - rgb / 65535.0).max() < 1e-4


def test_16_bit_tiff_is_readable_by_tifffile(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    rgb = np.arange(5 * 4 * 3, dtype=np.uint16).reshape(5, 4, 3) * 1000
    save_image(tmp_path / "t.tif", rgb, bit_depth=16, icc_profile=_srgb_icc_profile())
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "t.tif"), rgb)


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".png", ".tif", ".bmp", ".webp", ".gif"])
def test_save_every_format(tmp_path, rgb8, suffix):
    path = tmp_path / "sub" / f"out{suffix}"
    save_image(path, rgb8 / 255.0, bit_depth=16)  # 16 falls back to 8 where the format has no 16 bit
    loaded = load_image(path)
    assert loaded.rgb.shape == rgb8.shape
    assert loaded.bit_depth == (16 if suffix in (".png", ".tif") else 8)
    assert _no_temp_files(path.parent)


def test_save_format_argument_and_bad_input(tmp_path, rgb8):
    save_image(tmp_path / "noext", rgb8, format="jpg")
    assert load_image(tmp_path / "noext").format == "JPEG"
    with pytest.raises(ValueError, match="suffix"):
        save_image(tmp_path / "x.xyz", rgb8)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        save_image(tmp_path / "x.png", rgb8[..., 0])
    with pytest.raises(ValueError, match="bit_depth"):
        save_image(tmp_path / "x.png", rgb8, bit_depth=12)
    with pytest.raises(ValueError, match="NaN"):
        save_image(tmp_path / "x.png", np.full((2, 2, 3), np.nan))
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(("name", "bit_depth", "writer"), [("a.png", 16, "_write_png16"), ("a.png", 8, None)])
def test_save_is_atomic(tmp_path, monkeypatch, rgb8, name, bit_depth, writer):
    target = tmp_path / name
    save_image(target, rgb8)
    before = target.read_bytes()

    def fail(self_or_file, *args, **kwargs):
        file = args[0] if writer is None else self_or_file  # Image.save(self, file, ...) or writer(file, ...)
        file.write(b"partial")
        raise RuntimeError("disk on fire")

    if writer is None:
        monkeypatch.setattr(Image.Image, "save", fail)
    else:
        monkeypatch.setattr(write, writer, fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save_image(target, rgb8, bit_depth=bit_depth)
    with pytest.raises(RuntimeError):
        save_image(tmp_path / "new.png", rgb8, bit_depth=bit_depth)
    assert target.read_bytes() == before  # the old file is intact
    assert not (tmp_path / "new.png").exists()  # no partial new file
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # and no temporary files


def test_encode_image_in_memory_matches_saved_file(tmp_path):
    from colorizekit.imageio import save_image

    rgb = np.random.default_rng(0).uniform(size=(9, 11, 3)).astype(np.float32)
    for fmt, suffix in [("PNG", ".png"), ("JPEG", ".jpg"), ("TIFF", ".tif")]:
        data = encode_image(rgb, format=fmt, bit_depth=16 if fmt != "JPEG" else 8)
        save_image(tmp_path / f"a{suffix}", rgb, bit_depth=16 if fmt != "JPEG" else 8)
        assert data == (tmp_path / f"a{suffix}").read_bytes()
    with pytest.raises(ValueError, match="unsupported output format"):
        encode_image(rgb, format="XCF")
