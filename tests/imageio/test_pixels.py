"""Tests for colorizekit.imageio.pixels: floats back to integers, one way everywhere."""

from __future__ import annotations

import numpy as np

from colorizekit.imageio import to_uint8
from colorizekit.imageio.pixels import to_uint16


def test_to_uint8_clips_and_rounds_to_the_nearest():
    values = np.array([-0.5, 0.0, 0.4 / 255, 0.6 / 255, 0.5, 1.0, 1.7], dtype=np.float32)
    assert to_uint8(values).tolist() == [0, 0, 0, 1, 128, 255, 255]
    assert to_uint8(np.zeros((2, 3, 3))).dtype == np.uint8


def test_to_uint16_keeps_every_step():
    steps = np.arange(65536, dtype=np.float64) / 65535
    assert np.array_equal(to_uint16(steps), np.arange(65536, dtype=np.uint16))


# -- the one definition of a gray photo -------------------------------------------------------------------

def _jpeg(pixels: np.ndarray, quality: int = 75) -> np.ndarray:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def _gray_photo() -> np.ndarray:
    """A real photo (the built-in astronaut, public domain) made gray: (H, W, 3) uint8 with R = G = B."""
    from PIL import Image

    from colorizekit.evaluate.demo import demo_images

    gray = np.asarray(Image.open(demo_images()[0]).convert("L"))
    return np.repeat(gray[..., None], 3, axis=2)


def _noisy(gray: np.ndarray, sigma: float = 6.0) -> np.ndarray:
    """Per-pixel noise on each channel (JPEG's chroma quantisation removes noise much below this)."""
    noise = np.random.default_rng(0).normal(0.0, sigma, gray.shape)
    return np.clip(np.rint(gray + noise), 0, 255).astype(np.uint8)


def test_a_gray_jpeg_with_chroma_noise_is_gray_though_its_pixels_spread():
    from colorizekit.imageio.pixels import GRAY_MAX_SPREAD, colour_spread, is_grayscale

    noisy = _jpeg(_noisy(_gray_photo()))
    pixel_spread = (noisy.max(axis=2).astype(int) - noisy.min(axis=2)).max()
    assert pixel_spread > 4  # the old training filter's threshold called it colour
    assert colour_spread(noisy) <= GRAY_MAX_SPREAD and is_grayscale(noisy)
    assert is_grayscale(noisy.astype(np.float32) / 255)  # float pixels in [0, 1] alike
    assert is_grayscale(_jpeg(_gray_photo(), 95)) and colour_spread(_gray_photo()) == 0.0


def test_a_slightly_tinted_photo_and_a_small_colour_patch_are_colour():
    from colorizekit.imageio.pixels import is_grayscale

    gray = _gray_photo().astype(int)
    sepia = np.clip(gray + np.array([10, 0, -10]), 0, 255).astype(np.uint8)  # a faint warm tint
    assert not is_grayscale(_jpeg(sepia))
    patch = gray.copy()
    h, w = patch.shape[:2]
    patch[: h // 8, : w // 8, 0] = np.clip(patch[: h // 8, : w // 8, 0] + 60, 0, 255)  # 1/64 of the photo red
    assert not is_grayscale(patch.astype(np.uint8))


def test_training_colorize_and_evaluate_all_use_the_one_definition(tmp_path, recwarn):
    """A gray JPEG with chroma noise is skipped by training's scan, colorized without the colour-photo
    notice and refused by evaluate; a faintly tinted one is kept, noticed and evaluated."""
    import warnings

    from PIL import Image

    from colorizekit.evaluate import evaluate
    from colorizekit.infer.colorizer import Colorizer
    from colorizekit.train.data import scan_images

    gray = _gray_photo()
    Image.fromarray(_jpeg(_noisy(gray))).save(tmp_path / "gray.jpg", quality=95)
    tint = np.clip(gray.astype(int) + np.array([10, 0, -10]), 0, 255).astype(np.uint8)
    Image.fromarray(tint).save(tmp_path / "tinted.jpg", quality=90)
    scan = scan_images(tmp_path, progress=False)
    assert [p.name for p in scan.grayscale] == ["gray.jpg"] and [p.name for p in scan.paths] == ["tinted.jpg"]
    colorizer = Colorizer(device="cpu", size=64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        colorizer(tmp_path / "gray.jpg")
        assert not caught
        colorizer(tmp_path / "tinted.jpg")
        assert any("a colour photo" in str(w.message) for w in caught)
    result = evaluate(tmp_path, colorizer=colorizer, progress=False)
    assert [f.reason.split(": ", 1)[1] for f in result.failed] == ["a grayscale photo: no colour to compare with"]
    assert [r.name for r in result.images] == ["tinted.jpg"]
