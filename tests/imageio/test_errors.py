"""Tests for colorizekit.imageio.errors: every ImageError says what kind of problem it is."""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest
from PIL import Image

from colorizekit.imageio import ImageError, ImageErrorKind, load_image
from tests.conftest import synthetic_rgb


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(synthetic_rgb(64, 64)).save(buf, format="JPEG")
    return buf.getvalue()


def _kind(source, **kwargs) -> ImageErrorKind:
    with pytest.raises(ImageError) as info:
        load_image(source, **kwargs)
    return info.value.kind


def test_file_problems_have_their_kind(tmp_path):
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "cut.jpg").write_bytes(_jpeg()[:300])
    (tmp_path / "header.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    Image.fromarray(synthetic_rgb(20, 20)).save(tmp_path / "big.png")
    assert _kind(tmp_path / "missing.jpg") == ImageErrorKind.MISSING
    assert _kind(tmp_path / "folder.png") == ImageErrorKind.MISSING
    assert _kind(tmp_path / "empty.png") == ImageErrorKind.EMPTY
    assert _kind(b"") == ImageErrorKind.EMPTY
    assert _kind(tmp_path / "notes.txt") == ImageErrorKind.NOT_AN_IMAGE
    assert _kind(tmp_path / "cut.jpg") == ImageErrorKind.DAMAGED
    assert _kind(tmp_path / "header.png") == ImageErrorKind.DAMAGED
    assert _kind(tmp_path / "big.png", max_pixels=100) == ImageErrorKind.TOO_LARGE


def test_array_and_mode_problems_are_unsupported_or_empty():
    assert _kind(np.zeros((4, 4, 2))) == ImageErrorKind.UNSUPPORTED
    assert _kind(np.full((4, 4), 2.0)) == ImageErrorKind.UNSUPPORTED
    assert _kind(np.zeros((0, 4))) == ImageErrorKind.EMPTY
    assert _kind(Image.fromarray(np.full((2, 2), 70000, dtype=np.int32), mode="I")) == ImageErrorKind.UNSUPPORTED


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "locked.png"
    path.write_bytes(_jpeg())
    path.chmod(0)
    try:
        assert _kind(path) == ImageErrorKind.UNREADABLE
    finally:
        path.chmod(0o644)


def test_message_is_the_one_line_and_the_error_survives_pickling():
    error = ImageError("a.png: truncated", ImageErrorKind.DAMAGED)
    assert str(error) == "a.png: truncated"
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == "a.png: truncated" and copy.kind is ImageErrorKind.DAMAGED
