"""EXIF and ICC: what is read from a photo's metadata, and what is carried to its output.

EXIF is carried with its Orientation reset to 1 (the pixels are turned upright on reading). Only RGB
ICC profiles are carried: a gray or CMYK source profile would misdescribe an RGB output. A TIFF
source's EXIF is its own main directory, so its pixel-layout tags are dropped before it is carried.
Damaged metadata is common in real photos; it only ever costs the metadata, never the photo.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from colorizekit.imageio.errors import quiet

_ORIENTATION_TAG = 0x0112
_EXIF_IFD_TAG = 0x8769
_GPS_IFD_TAG = 0x8825
_INTEROP_IFD_TAG = 0xA005
# TIFF tags that describe a file's own pixel layout. A TIFF source's EXIF is its main directory, so
# these are dropped before the EXIF is carried to another file.
_TIFF_LAYOUT_TAGS = frozenset({
    254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 280, 281, 284, 288, 289, 290,
    291, 317, 318, 319, 320, 321, 322, 323, 324, 325, 330, 332, 338, 339, 340, 341, 347, 512, 513,
    514, 515, 517, 518, 519, 520, 521, 529, 530, 531, 532, 700, 33723, 34377, 34665, 34675, 34853,
    37724, 50838, 50839,
})
# EXIF orientation -> the Pillow transpose that makes the pixels upright
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def read_exif(image: Image.Image) -> Image.Exif | None:
    """The image's EXIF, or None when it is unreadable (damaged EXIF only costs the metadata)."""
    with quiet(UserWarning):  # Pillow warns about damaged EXIF as it skips it
        try:
            return image.getexif()
        except Exception:
            return None


def profile_space(icc: bytes) -> str | None:
    """The colour space an ICC profile describes ("RGB", "GRAY", "CMYK", ...), None if unreadable."""
    try:
        from PIL import ImageCms

        return str(ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile.xcolor_space).strip()
    except ImportError:
        pass
    except Exception:  # a damaged profile: fall back to its header
        pass
    if len(icc) < 20:
        return None
    return icc[16:20].decode("latin-1").strip() or None


def rgb_profile(icc: Any) -> bytes | None:
    """The profile if it can describe an RGB output, else None (gray, CMYK or damaged profiles)."""
    if not isinstance(icc, (bytes, bytearray)) or not icc:
        return None
    return bytes(icc) if profile_space(bytes(icc)) == "RGB" else None


def clean_exif(exif: Image.Exif, drop_layout: bool) -> bytes | None:
    """EXIF bytes ("Exif\\0\\0" + TIFF) with Orientation 1; None when there are no tags.

    `drop_layout` removes the TIFF pixel-layout tags (for a TIFF source, whose EXIF is its own
    main directory). The Exif, GPS and Interop sub-directories are kept.
    """
    try:
        clean = Image.Exif()
        clean.load(exif.tobytes())
        if drop_layout:
            for tag in [t for t in clean if t in _TIFF_LAYOUT_TAGS and t not in (_EXIF_IFD_TAG, _GPS_IFD_TAG)]:
                del clean[tag]
        if not len(clean):
            return None
        clean[_ORIENTATION_TAG] = 1
        return clean.tobytes()
    except Exception:  # damaged EXIF is common in real photos; it only costs the metadata
        return None


def orientation(exif: Image.Exif | None) -> int:
    """The EXIF orientation, 1 (upright) when absent or not one of the eight valid values."""
    try:
        value = int(exif.get(_ORIENTATION_TAG, 1)) if exif is not None else 1
    except (TypeError, ValueError):
        return 1
    return value if value in UPRIGHT else 1


def upright_uint16(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation to (H, W, C) uint16 pixels, with the same transposes Pillow uses."""
    if orientation not in UPRIGHT:
        return pixels
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(pixels[..., c])).transpose(UPRIGHT[orientation]))
              for c in range(pixels.shape[-1])]
    return np.stack(planes, axis=-1).astype(np.uint16)


def tiff_exif_tags(exif: bytes) -> dict[int, Any]:
    """The EXIF tags a TIFF main directory can hold (sub-directories as dicts), layout tags removed."""
    parsed = Image.Exif()
    parsed.load(exif)
    tags: dict[int, Any] = {}
    for tag, value in parsed.items():
        if tag in (_EXIF_IFD_TAG, _GPS_IFD_TAG):
            sub = dict(parsed.get_ifd(tag))
            if tag == _EXIF_IFD_TAG:
                sub.pop(_INTEROP_IFD_TAG, None)
            if sub:
                tags[tag] = sub
        elif tag not in _TIFF_LAYOUT_TAGS:
            tags[tag] = value
    return tags


def tiff_safe_exif(exif: bytes) -> Image.Exif:
    """EXIF for Pillow's TIFF writer: without layout tags that would fight the file's own."""
    clean = Image.Exif()
    for tag, value in tiff_exif_tags(exif).items():
        clean[tag] = value
    return clean
