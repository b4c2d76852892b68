"""`ImageError`, and how what Pillow raises or warns while reading becomes one.

Every problem with an input raises `ImageError`, whose message is one line naming the file and whose
`kind` says what sort of problem it is, for callers that act on it (the web app's HTTP statuses).
"""

from __future__ import annotations

import contextlib
import enum
import re
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator

from PIL import Image, UnidentifiedImageError

from colorizekit.imageio.formats import SUPPORTED_NAMES

_WARNINGS_LOCK = threading.Lock()  # serialises this package's changes to the warning filters


class ImageErrorKind(enum.StrEnum):
    """What is wrong with an input."""

    MISSING = "missing"  # no such file, or a folder where a file was expected
    UNREADABLE = "unreadable"  # the file is there but cannot be read (permissions, I/O error)
    EMPTY = "empty"  # nothing to read: a 0-byte file, an array without pixels
    NOT_AN_IMAGE = "not_an_image"  # not an image in a supported format
    DAMAGED = "damaged"  # an image whose data is truncated or corrupt
    TOO_LARGE = "too_large"  # more pixels than the limit allows, or than memory holds
    UNSUPPORTED = "unsupported"  # an image of a kind colorizekit does not handle (mode, value range, shape)


class ImageError(ValueError):
    """Bad image input; str() is one line '<file name or path>: <problem>', `kind` what sort of problem."""

    def __init__(self, message: str, kind: ImageErrorKind) -> None:
        super().__init__(message, kind)  # both in args, so that the error survives pickling
        self.kind = ImageErrorKind(kind)

    def __str__(self) -> str:
        return str(self.args[0])


def one_line(text: object) -> str:
    """`text` with every run of white space, newlines included, as one space."""
    return " ".join(str(text).split())


def too_large(label: str, pixels: int, max_pixels: int) -> ImageError:
    """The error for an image of `pixels` pixels when at most `max_pixels` are allowed."""
    return ImageError(f"{label}: too large ({pixels} pixels > limit {max_pixels})", ImageErrorKind.TOO_LARGE)


def _bomb_error(label: str, exc: Exception, max_pixels: int) -> ImageError:
    """Pillow's own decompression-bomb refusal, reworded."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    if found is None:
        return ImageError(f"{label}: too large ({one_line(exc)})", ImageErrorKind.TOO_LARGE)
    pixels = int(found.group(1))
    if pixels > max_pixels:
        return too_large(label, pixels, max_pixels)
    pillow_limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
    return ImageError(
        f"{label}: too large for Pillow ({pixels} pixels > PIL.Image.MAX_IMAGE_PIXELS x 2 = {pillow_limit}); "
        "raise PIL.Image.MAX_IMAGE_PIXELS to open it", ImageErrorKind.TOO_LARGE
    )


@contextlib.contextmanager
def quiet(category: type[Warning]) -> Iterator[None]:
    """Silence one warning category around a short Pillow call (opening a header, reading EXIF).

    `warnings.catch_warnings` swaps process-wide state; the lock keeps two threads of this package
    from interleaving their swaps, which could leave the filter installed for good.
    """
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", category)
        yield


@contextlib.contextmanager
def pillow_errors(label: str, max_pixels: int, what: str, announced: str | None = None) -> Iterator[None]:
    """Turn what Pillow raises while opening or decoding into ImageError.

    `announced` is the format the file's signature claims, so that a damaged image is not reported
    as "not an image". What Pillow cannot identify is not an image; what it fails on once it has
    identified the format is a damaged one.
    """
    try:
        yield
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise _bomb_error(label, exc, max_pixels) from None
    except UnidentifiedImageError:
        if announced is not None:
            raise ImageError(f"{label}: damaged or truncated {announced} file (its header is unreadable)",
                             ImageErrorKind.DAMAGED) from None
        raise ImageError(f"{label}: not an image in a supported format ({SUPPORTED_NAMES})",
                         ImageErrorKind.NOT_AN_IMAGE) from None
    except MemoryError:
        raise ImageError(f"{label}: not enough memory to decode it", ImageErrorKind.TOO_LARGE) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error,
            zlib.error) as exc:
        if announced is not None:
            what = f"damaged or truncated {announced} file"
        raise ImageError(f"{label}: {what} ({type(exc).__name__}: {one_line(exc)})", ImageErrorKind.DAMAGED) from None
