"""The colorizing service: HTTP statuses follow from what kind of image problem it is."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="needs the serve extras: pip install 'colorizekit[serve]'")

from colorizekit.imageio import ImageError, ImageErrorKind  # noqa: E402
from colorizekit.web.service import STATUS_BY_KIND, http_error  # noqa: E402


def test_every_kind_has_a_status():
    assert set(STATUS_BY_KIND) == set(ImageErrorKind)


@pytest.mark.parametrize(("kind", "status"), [
    (ImageErrorKind.EMPTY, 400), (ImageErrorKind.NOT_AN_IMAGE, 415), (ImageErrorKind.DAMAGED, 422),
    (ImageErrorKind.UNSUPPORTED, 422), (ImageErrorKind.TOO_LARGE, 413),
])
def test_status_follows_the_kind_not_the_words(kind, status):
    error = http_error(ImageError("<bytes>: something went wrong", kind), "photo.png")
    assert error.status_code == status and error.detail == "photo.png: something went wrong"
