"""The training photo cache: pixels-only decoding, the memory limit, unreadable photos."""

import numpy as np
import pytest
from PIL import Image

from colorizekit.train.photocache import PhotoCache, PhotoReadError, decode_pixels


@pytest.fixture
def photos(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i, (w, h) in enumerate([(300, 200), (120, 160), (64, 64)]):
        path = tmp_path / f"p{i}.jpg"
        Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)).save(path, quality=95)
        paths.append(path)
    return paths


def test_decode_pixels_shrinks_to_the_short_side_and_never_enlarges(photos):
    assert decode_pixels(photos[0], 100).size == (150, 100)
    assert decode_pixels(photos[1], 100).size == (100, 133)
    assert decode_pixels(photos[2], 100).size == (64, 64)
    assert decode_pixels(photos[0]).size == (300, 200)


def test_decode_pixels_names_the_file_and_the_problem(tmp_path):
    with pytest.raises(PhotoReadError, match="gone"):
        decode_pixels(tmp_path / "missing.jpg", 64)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a photo")
    with pytest.raises(PhotoReadError, match="bad.jpg: cannot be decoded"):
        decode_pixels(bad, 64)


def test_cache_serves_photos_from_ram_within_its_limit(photos, tmp_path):
    cache = PhotoCache(photos, 100, max_bytes=10**8)
    cache.fill(threads=2, progress=False)
    assert cache.cached == 3 and "cached 3 of 3" in cache.describe()
    for p in photos:
        p.unlink()  # served from RAM from now on
    assert cache.get(0).size == (150, 100)

    small = PhotoCache([tmp_path / "gone.jpg"], 100, max_bytes=10**8)
    small.fill(progress=False)
    assert "1 could not be read" in small.describe()
    with pytest.raises(PhotoReadError):
        small.get(0)


def test_cache_past_its_limit_decodes_the_rest_from_disk(photos):
    one_photo = 150 * 100 * 3
    cache = PhotoCache(photos, 100, max_bytes=one_photo)
    cache.fill(threads=1, progress=False)
    assert cache.cached == 1 and "past the" in cache.describe()
    assert cache.get(1).size == (100, 133)  # decoded from disk
