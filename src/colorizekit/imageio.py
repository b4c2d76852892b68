"""Reading the images people actually have, and writing results.

Input: JPEG, PNG (8 and 16 bit), TIFF (8 and 16 bit, gray and RGB), BMP, WebP and GIF (first frame),
in any Pillow mode (1, L, LA, P with or without transparency, RGB, RGBA, CMYK, I;16, I, F); files
and bytes in other formats are refused (so an upload never reaches, say, Pillow's EPS reader). Every
file is checked before it is decoded (decompression bombs, empty files), fully decoded (truncated
files are refused even where Pillow's global `LOAD_TRUNCATED_IMAGES` is set), turned upright by its
EXIF orientation, and composited onto white when it has alpha. Pixel values come out as float32 in
[0, 1]; 16-bit data keeps its full precision (Pillow itself reads 16-bit RGB as 8 bit, so that case
is decoded a second time for the low bytes).

Output: RGB in 8 bit for every format, 16 bit for PNG and TIFF (written by this module, as Pillow
cannot write 16-bit RGB), carrying EXIF and ICC where the format can hold them. Only RGB profiles are
carried: a gray or CMYK source profile would misdescribe an RGB output. Writes are atomic.

Every problem with an input raises `ImageError`, whose message is one line naming the file.
No global Pillow state is changed: size limits are applied per call.
"""

from __future__ import annotations

import contextlib
import glob
import io
import os
import re
import struct
import sys
import threading
import warnings
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from PIL import Image, TiffImagePlugin, UnidentifiedImageError

from colorizekit.atomic import atomic_path
from colorizekit.color import l_to_gray, rgb_to_lab

DEFAULT_MAX_PIXELS = 120_000_000  # decompression-bomb limit: a 6000 x 4000 photo passes, 20000 x 20000 fails
IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".gif"})

_FORMAT_BY_SUFFIX = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF",
    ".bmp": "BMP", ".webp": "WEBP", ".gif": "GIF",
}
_FORMAT_ALIASES = {"JPG": "JPEG", "TIF": "TIFF"}  # names people write for the formats Pillow knows
_EXIF_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "TIFF"})  # output formats that hold EXIF and ICC
_SIXTEEN_BIT_FORMATS = frozenset({"PNG", "TIFF"})  # output formats written in 16 bit on request
_COLOR_TOLERANCE = 1.0 / 255.0  # channel spread up to which a pixel counts as gray
_GRAY_CHUNK_ROWS = 256  # rows converted to Lab at a time, to bound memory on large photos
_TIFF_STRIP_BYTES = 1 << 20  # target size of one strip in the 16-bit TIFF writer

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
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_READ_FORMATS = ("JPEG", "PNG", "TIFF", "BMP", "WEBP", "GIF")  # Pillow plugins for files and bytes (JPEG has MPO)
_SUPPORTED_NAMES = "JPEG, PNG, TIFF, BMP, WebP, GIF"
_WARNINGS_LOCK = threading.Lock()  # serialises this module's changes to the warning filters
_SIGNATURES = (  # first bytes of the formats colorizekit reads -> format name
    (b"\xff\xd8\xff", "JPEG"), (_PNG_SIGNATURE, "PNG"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"), (b"MM\x00+", "TIFF"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"), (b"BM", "BMP"),
)


class ImageError(ValueError):
    """Bad image input; str() is one line '<file name or path>: <problem>' (unreadable, empty file,
    truncated, not an image, too large (N pixels > limit), unsupported mode...)."""


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """One photo, decoded, upright, alpha composited onto white, values as float32 in [0, 1]."""

    path: Path | None  # source file, None for in-memory input
    name: str  # what error messages and output names use (file name, "<bytes>", "<image>" or "<array>")
    format: str | None  # Pillow format name of the source ("JPEG", "PNG", "TIFF", ...), None for arrays
    gray: np.ndarray  # (H, W) float32 in [0, 1]: the gray whose sRGB (g, g, g) has the pixel's CIE L
    rgb: np.ndarray | None  # (H, W, 3) float32 in [0, 1] when the source has colour channels, else None
    is_color: bool  # True if the source has real colour (some pixel's channels differ by more than 1/255)
    bit_depth: int  # 8 or 16: the source's precision (16-bit PNG/TIFF, float TIFF, uint16 arrays)
    exif: bytes | None  # EXIF to carry to outputs, Orientation reset to 1 (the pixels are already upright)
    icc_profile: bytes | None  # RGB ICC profile to carry to outputs; None when absent or not an RGB profile


@dataclass(frozen=True)
class _Decoded:
    """What `_decode` read from one source (internal)."""

    image: Image.Image  # fully loaded and upright; 16-bit RGB sources appear here in 8 bit
    path: Path | None  # source file, None for in-memory input
    name: str  # file name or a placeholder for in-memory input
    label: str  # what error messages name: the path as given, or the placeholder
    format: str | None  # Pillow format name
    exif: bytes | None  # cleaned EXIF, Orientation 1
    icc_profile: bytes | None  # RGB ICC profile, else None
    source_icc: bytes | None  # the source's own profile, whatever its colour space
    rgb16: np.ndarray | None  # (H, W, 3 or 4) uint16, upright: the full-precision pixels of 16-bit RGB(A)


class _WatchedFile:
    """A read-only stream that remembers when a read found no data left: the file ended early.

    Pillow stops quietly at the end of a truncated file when `ImageFile.LOAD_TRUNCATED_IMAGES` is
    set (by any library in the process); watching the reads catches that case without touching the
    global.
    """

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self.ran_out = False

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read(size)
        if size is not None and size > 0 and not data:
            self.ran_out = True
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


# ---------------------------------------------------------------------------------------- reading


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _source_label(source: object) -> tuple[Path | None, str, str]:
    """(path, name, label) for a source: label is what error messages start with."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        return path, path.name or str(path), str(path)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return None, "<bytes>", "<bytes>"
    if isinstance(source, Image.Image):
        filename = getattr(source, "filename", "") or ""
        if filename:
            return Path(filename), Path(filename).name, str(filename)
        return None, "<image>", "<image>"
    raise TypeError(
        "expected a path, bytes or a PIL image (or a numpy array for load_image); "
        f"got {type(source).__name__}"
    )


@contextlib.contextmanager
def _raw_stream(source: str | os.PathLike | bytes, label: str) -> Iterator[BinaryIO]:
    """The source's bytes as a stream, after the checks that need no decoding."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageError(f"{label}: empty file (0 bytes)")
        yield io.BytesIO(bytes(source))
        return
    path = Path(source)
    try:
        if path.is_dir():
            raise ImageError(f"{label}: is a folder, not an image file")
        if not path.exists():
            raise ImageError(f"{label}: no such file")
        if path.stat().st_size == 0:
            raise ImageError(f"{label}: empty file (0 bytes)")
        stream = open(path, "rb")
    except OSError as exc:
        raise ImageError(f"{label}: cannot read ({_one_line(exc.strerror or exc)})") from None
    with stream:
        yield stream


def _too_large(label: str, pixels: int, max_pixels: int) -> ImageError:
    return ImageError(f"{label}: too large ({pixels} pixels > limit {max_pixels})")


def _bomb_error(label: str, exc: Exception, max_pixels: int) -> ImageError:
    """Pillow's own decompression-bomb refusal, reworded."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    if found is None:
        return ImageError(f"{label}: too large ({_one_line(exc)})")
    pixels = int(found.group(1))
    if pixels > max_pixels:
        return _too_large(label, pixels, max_pixels)
    pillow_limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
    return ImageError(
        f"{label}: too large for Pillow ({pixels} pixels > PIL.Image.MAX_IMAGE_PIXELS x 2 = {pillow_limit}); "
        "raise PIL.Image.MAX_IMAGE_PIXELS to open it"
    )


def _signature_format(head: bytes) -> str | None:
    """The image format a file's first bytes announce, if any (to tell damaged images from non-images)."""
    for prefix, name in _SIGNATURES:
        if head.startswith(prefix):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


@contextlib.contextmanager
def _quiet(category: type[Warning]) -> Iterator[None]:
    """Silence one warning category around a short Pillow call (opening a header, reading EXIF).

    `warnings.catch_warnings` swaps process-wide state; the lock keeps two threads of this module
    from interleaving their swaps, which could leave the filter installed for good.
    """
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", category)
        yield


def _read_exif(image: Image.Image) -> Image.Exif | None:
    """The image's EXIF, or None when it is unreadable (damaged EXIF only costs the metadata)."""
    with _quiet(UserWarning):  # Pillow warns about damaged EXIF as it skips it
        try:
            return image.getexif()
        except Exception:
            return None


@contextlib.contextmanager
def _pillow_errors(label: str, max_pixels: int, what: str, announced: str | None = None) -> Iterator[None]:
    """Turn what Pillow raises while opening or decoding into ImageError.

    `announced` is the format the file's signature claims, so that a damaged image is not reported
    as "not an image".
    """
    try:
        yield
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise _bomb_error(label, exc, max_pixels) from None
    except UnidentifiedImageError:
        if announced is not None:
            raise ImageError(f"{label}: damaged or truncated {announced} file (its header is unreadable)") from None
        raise ImageError(f"{label}: not an image in a supported format ({_SUPPORTED_NAMES})") from None
    except MemoryError:
        raise ImageError(f"{label}: not enough memory to decode it") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error,
            zlib.error) as exc:
        if announced is not None:
            what = f"damaged or truncated {announced} file"
        raise ImageError(f"{label}: {what} ({type(exc).__name__}: {_one_line(exc)})") from None


def _tile_rawmode(tile: Any) -> str | None:
    args = tile.args if hasattr(tile, "args") else tile[3]
    if isinstance(args, str):
        return args
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        return args[0]
    return None


_SWAPPED_16 = {";16L": ";16B", ";16B": ";16L", ";16N": ";16B" if sys.byteorder == "little" else ";16L"}


def _fix_planar_tiff16(image: Image.Image) -> None:
    """Make Pillow read uncompressed 16-bit RGB TIFFs stored plane by plane correctly.

    For them Pillow plans to unpack each plane as 8-bit samples ('R', 'G', 'B'), which scrambles the
    pixels; the 16-bit unpackers of the same planes exist and are put in instead.
    """
    if image.format != "TIFF" or image.mode not in ("RGB", "RGBA") or not getattr(image, "tile", None):
        return
    bits = image.tag_v2.get(258)
    bits = bits if isinstance(bits, tuple) else (bits,)
    rawmodes = [_tile_rawmode(t) for t in image.tile]
    if not (bits and all(b == 16 for b in bits) and all(m in ("R", "G", "B", "A") for m in rawmodes)
            and all(t.codec_name == "raw" for t in image.tile)):
        return
    order = ";16B" if getattr(image.tag_v2, "_endian", "<") == ">" else ";16L"
    image.tile = [t._replace(args=(f"{_tile_rawmode(t)}{order}", *t.args[1:])) for t in image.tile]


def _is_rgb16(image: Image.Image) -> bool:
    """True if Pillow is about to squeeze 16-bit RGB(A) samples into 8 bits."""
    if image.mode not in ("RGB", "RGBA") or not getattr(image, "tile", None):
        return False
    if image.format == "TIFF" and image.tag_v2.get(284) == 2 and any(t.codec_name == "libtiff" for t in image.tile):
        return False  # compressed, plane by plane: libtiff's unpacking ignores the swapped byte order
    modes = [_tile_rawmode(t) for t in image.tile]
    return all(m is not None and m[-4:] in _SWAPPED_16 for m in modes)


def _swap_rawmode(tile: Any) -> Any:
    rawmode = _tile_rawmode(tile)
    assert rawmode is not None
    swapped = rawmode[:-4] + _SWAPPED_16[rawmode[-4:]]
    args = tile.args
    args = swapped if isinstance(args, str) else (swapped, *args[1:])
    return tile._replace(args=args)


def _low_bytes(source: str | os.PathLike | bytes, label: str, max_pixels: int) -> np.ndarray:
    """Decode a 16-bit RGB(A) source again, reading the low byte of each sample instead of the high one.

    Pillow unpacks 16-bit samples by keeping the high byte; telling it the samples have the other
    byte order makes the same (C, fast) decoder keep the low byte instead.
    """
    with _raw_stream(source, label) as raw, _pillow_errors(label, max_pixels, "truncated or corrupt image data"):
        stream = _WatchedFile(raw)
        with _quiet(Image.DecompressionBombWarning):
            image = Image.open(stream, formats=_READ_FORMATS)
        _fix_planar_tiff16(image)
        image.tile = [_swap_rawmode(t) for t in image.tile]
        image.load()
        if stream.ran_out:
            raise ImageError(f"{label}: truncated (the file ends before the image data does)")
        return np.asarray(image)


def _profile_space(icc: bytes) -> str | None:
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


def _rgb_profile(icc: Any) -> bytes | None:
    """The profile if it can describe an RGB output, else None (gray, CMYK or damaged profiles)."""
    if not isinstance(icc, (bytes, bytearray)) or not icc:
        return None
    return bytes(icc) if _profile_space(bytes(icc)) == "RGB" else None


def _clean_exif(exif: Image.Exif, drop_layout: bool) -> bytes | None:
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


def _orientation(exif: Image.Exif | None) -> int:
    try:
        value = int(exif.get(_ORIENTATION_TAG, 1)) if exif is not None else 1
    except (TypeError, ValueError):
        return 1
    return value if value in _UPRIGHT else 1


def _upright_uint16(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation to (H, W, C) uint16 pixels, with the same transposes Pillow uses."""
    if orientation not in _UPRIGHT:
        return pixels
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(pixels[..., c])).transpose(_UPRIGHT[orientation]))
              for c in range(pixels.shape[-1])]
    return np.stack(planes, axis=-1).astype(np.uint16)


def _decode(source: Any, max_pixels: int, full_rgb16: bool) -> _Decoded:
    """Open, check, fully decode and make upright one image (the shared path of the public readers)."""
    path, name, label = _source_label(source)
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be at least 1; got {max_pixels}")
    rgb16 = None
    if isinstance(source, Image.Image):
        image = source
        width, height = image.size
        if width * height > max_pixels:
            raise _too_large(label, width * height, max_pixels)
        with _pillow_errors(label, max_pixels, "cannot decode"):
            image.load()
        exif = _read_exif(image)
        fmt = image.format
    else:
        with _raw_stream(source, label) as raw:
            announced = _signature_format(raw.read(16))
            raw.seek(0)
            stream = _WatchedFile(raw)
            with _pillow_errors(label, max_pixels, "not a readable image", announced), \
                    _quiet(Image.DecompressionBombWarning):  # max_pixels is checked below instead
                image = Image.open(stream, formats=_READ_FORMATS)
            fmt = image.format
            width, height = image.size
            if width * height > max_pixels:
                raise _too_large(label, width * height, max_pixels)
            _fix_planar_tiff16(image)
            exif = None
            if fmt != "PNG":  # a PNG's EXIF may follow its pixels, and is read after them
                exif = _read_exif(image)
            stream.ran_out = False
            needs_low_bytes = full_rgb16 and _is_rgb16(image)
            with _pillow_errors(label, max_pixels, f"truncated or corrupt {fmt or 'image'} data"):
                image.load()
            if stream.ran_out:
                raise ImageError(f"{label}: truncated (the file ends before the image data does)")
            if fmt == "PNG":
                exif = _read_exif(image)
        if needs_low_bytes:
            high = np.asarray(image).astype(np.uint16)
            rgb16 = (high << 8) | _low_bytes(source, label, max_pixels).astype(np.uint16)
    orientation = _orientation(exif)
    exif_bytes = _clean_exif(exif, drop_layout=fmt == "TIFF") if exif is not None else None
    source_icc = image.info.get("icc_profile") or None
    if orientation != 1:
        with _pillow_errors(label, max_pixels, "cannot turn it upright"):
            image = image.transpose(_UPRIGHT[orientation])
        if rgb16 is not None:
            rgb16 = _upright_uint16(rgb16, orientation)
    elif isinstance(source, Image.Image):
        image = image.copy()
    return _Decoded(
        image=image, path=path, name=name, label=label, format=fmt, exif=exif_bytes,
        icc_profile=_rgb_profile(source_icc), source_icc=source_icc if isinstance(source_icc, bytes) else None,
        rgb16=rgb16,
    )


def _unit(image: Image.Image, top: float) -> np.ndarray:
    """Pixels of a PIL image as float32 divided by `top` (255 or 65535)."""
    values = np.asarray(image, dtype=np.float32)
    values /= top
    return values


def _over_white(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite colour (H, W[, C]) in [0, 1] with alpha (H, W) in [0, 1] onto white."""
    if color.ndim == 3:
        alpha = alpha[..., None]
    return (color * alpha + (1.0 - alpha)).astype(np.float32)


def _cmyk_to_rgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """CMYK -> RGB through the image's own CMYK profile when it has one, else Pillow's plain formula."""
    if icc and _profile_space(icc) == "CMYK":
        try:
            from PIL import ImageCms

            return ImageCms.profileToProfile(
                image, ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
        except Exception:  # no littleCMS or an unusable profile: fall back to the formula
            pass
    return image.convert("RGB")


def _scale_float(values: np.ndarray, label: str) -> np.ndarray:
    """Mode F pixels -> [0, 1]: kept when they lie in [0, 1], else read as 0-255 or 0-65535 data."""
    if not np.isfinite(values).all():
        raise ImageError(f"{label}: floating-point pixels include NaN or infinity")
    low, high = float(values.min(initial=0.0)), float(values.max(initial=0.0))
    if low < -1e-6:
        raise ImageError(f"{label}: floating-point pixels below 0 (min {low:g}) are not supported")
    scale = 1.0 if high <= 1.0 + 1e-6 else 255.0 if high <= 255.0 + 1e-3 else 65535.0 if high <= 65535.0 + 1e-1 else 0.0
    if scale == 0.0:
        raise ImageError(
            f"{label}: floating-point pixels up to {high:g} are not supported (expected [0, 1], 0-255 or 0-65535)"
        )
    return np.clip(values / scale, 0.0, 1.0).astype(np.float32)


def _float_pixels(decoded: _Decoded) -> tuple[np.ndarray, bool, int]:
    """(pixels, has_color_channels, bit_depth): (H, W) or (H, W, 3) float32 in [0, 1], alpha over white."""
    image, label = decoded.image, decoded.label
    if decoded.rgb16 is not None:
        values = decoded.rgb16.astype(np.float32) / 65535.0
        if values.shape[-1] == 4:
            return _over_white(values[..., :3], values[..., 3]), True, 16
        return values, True, 16
    mode = image.mode
    if mode in ("1", "L") and "transparency" not in image.info:
        return _unit(image.convert("L"), 255.0), False, 8
    if mode in ("1", "L", "LA", "La"):
        gray_alpha = _unit(image.convert("LA"), 255.0)
        return _over_white(gray_alpha[..., 0], gray_alpha[..., 1]), False, 8
    if mode.startswith("I;16"):
        return _unit(image, 65535.0), False, 16
    if mode == "I":
        values = np.asarray(image)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ImageError(
                f"{label}: unsupported 32-bit integer pixels (range {values.min()}..{values.max()}, expected 0..65535)"
            )
        return values.astype(np.float32) / 65535.0, False, 16
    if mode == "F":
        return _scale_float(np.asarray(image, dtype=np.float32), label), False, 16
    if mode == "RGB":
        return _unit(image, 255.0), True, 8
    if mode == "CMYK":
        return _unit(_cmyk_to_rgb(image, decoded.source_icc), 255.0), True, 8
    if mode == "P" and "transparency" not in image.info and (image.palette is None or image.palette.mode == "RGB"):
        return _unit(image.convert("RGB"), 255.0), True, 8
    if mode in ("RGBA", "RGBa", "P", "PA"):
        rgba = _unit(image.convert("RGBA"), 255.0)
        return _over_white(rgba[..., :3], rgba[..., 3]), True, 8
    try:
        return _unit(image.convert("RGB"), 255.0), True, 8
    except (ValueError, OSError):
        raise ImageError(f"{label}: unsupported image mode {mode!r}") from None


def _gray_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) sRGB in [0, 1] -> (H, W) gray whose (g, g, g) has each pixel's CIE L, float32."""
    height = rgb.shape[0]
    gray = np.empty(rgb.shape[:2], dtype=np.float32)
    with torch.no_grad():
        for top in range(0, height, _GRAY_CHUNK_ROWS):
            rows = torch.from_numpy(np.ascontiguousarray(rgb[top:top + _GRAY_CHUNK_ROWS])).permute(2, 0, 1)
            lum = rgb_to_lab(rows)[0:1]  # (1, h, W)
            gray[top:top + _GRAY_CHUNK_ROWS] = l_to_gray(lum)[0].numpy()
    return gray


def _has_real_color(rgb: np.ndarray) -> bool:
    """True if some pixel of (H, W, 3) rgb has channels further apart than the gray tolerance."""
    for top in range(0, rgb.shape[0], _GRAY_CHUNK_ROWS):  # in chunks: colour photos stop at the first
        red, green, blue = (rgb[top:top + _GRAY_CHUNK_ROWS, :, c] for c in range(3))
        spread = np.maximum(np.maximum(red, green), blue) - np.minimum(np.minimum(red, green), blue)
        if spread.max(initial=0.0) > _COLOR_TOLERANCE + 1e-6:
            return True
    return False


def _loaded(path: Path | None, name: str, fmt: str | None, pixels: np.ndarray, has_color: bool,
            bit_depth: int, exif: bytes | None, icc: bytes | None) -> LoadedImage:
    if has_color:
        rgb = np.ascontiguousarray(pixels, dtype=np.float32)
        return LoadedImage(path=path, name=name, format=fmt, gray=_gray_from_rgb(rgb), rgb=rgb,
                           is_color=_has_real_color(rgb), bit_depth=bit_depth, exif=exif, icc_profile=icc)
    gray = np.ascontiguousarray(np.clip(pixels, 0.0, 1.0), dtype=np.float32)
    return LoadedImage(path=path, name=name, format=fmt, gray=gray, rgb=None, is_color=False,
                       bit_depth=bit_depth, exif=exif, icc_profile=icc)


def _load_array(array: np.ndarray, max_pixels: int) -> LoadedImage:
    label = "<array>"
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4))):
        raise ImageError(f"{label}: expected shape (H, W) or (H, W, 1|3|4); got {array.shape}")
    height, width = array.shape[:2]
    if height == 0 or width == 0:
        raise ImageError(f"{label}: empty image (shape {array.shape})")
    if height * width > max_pixels:
        raise _too_large(label, height * width, max_pixels)
    if array.dtype == np.uint8:
        values, bit_depth = array.astype(np.float32) / 255.0, 8
    elif array.dtype == np.uint16:
        values, bit_depth = array.astype(np.float32) / 65535.0, 16
    elif array.dtype == np.bool_:
        values, bit_depth = array.astype(np.float32), 8
    elif np.issubdtype(array.dtype, np.floating):
        values, bit_depth = array.astype(np.float32), 8
        if not np.isfinite(values).all():
            raise ImageError(f"{label}: float values include NaN or infinity")
        low, high = float(values.min()), float(values.max())
        if low < -1e-6 or high > 1.0 + 1e-6:
            raise ImageError(f"{label}: float values must lie in [0, 1]; got {low:g}..{high:g}")
        values = np.clip(values, 0.0, 1.0)
    else:
        raise ImageError(f"{label}: expected uint8, uint16 or float values in [0, 1]; got dtype {array.dtype}")
    if values.ndim == 3 and values.shape[-1] == 4:
        values = _over_white(values[..., :3], values[..., 3])
    return _loaded(None, label, None, values, values.ndim == 3, bit_depth, None, None)


def open_image(source: str | os.PathLike | bytes | Image.Image, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open, check and fully decode one image (first frame of GIF/animated files), apply EXIF orientation.

    The result is loaded (the file is closed) and upright; its mode is whatever the source's is, so
    16-bit RGB sources come out as 8-bit "RGB" (use `load_image` for their full precision). A PIL
    image is used as it is (its current frame) and copied, never modified. Raises ImageError.
    """
    return _decode(source, max_pixels, full_rgb16=False).image


def open_rgb(source: str | os.PathLike | bytes | Image.Image, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """`open_image` converted to 8-bit mode "RGB" correctly from any mode (used by training and evaluation).

    Alpha is composited onto white, 16-bit data is rounded (not clipped at 255), CMYK goes through
    its ICC profile when it has one. Raises ImageError.
    """
    decoded = _decode(source, max_pixels, full_rgb16=True)
    image = decoded.image
    if decoded.rgb16 is None and image.mode == "RGB":
        return image
    if decoded.rgb16 is None and image.mode in ("1", "L") and "transparency" not in image.info:
        return image.convert("L").convert("RGB")
    pixels, _, _ = _float_pixels(decoded)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=-1)
    out = Image.fromarray(np.rint(pixels * 255.0).astype(np.uint8), mode="RGB")
    if decoded.icc_profile is not None:
        out.info["icc_profile"] = decoded.icc_profile
    return out


def load_image(source: str | os.PathLike | bytes | Image.Image | np.ndarray, *,
               max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read one photo as float32 arrays in [0, 1] plus what outputs should carry. Raises ImageError.

    Files, bytes and PIL images go through `open_image` (any mode; 16-bit data at full precision).
    numpy arrays: (H, W) or (H, W, 1|3|4), uint8, uint16 (bit_depth 16) or float in [0, 1]
    (bit_depth 8); 4 channels are RGBA.
    """
    if isinstance(source, np.ndarray):
        return _load_array(source, max_pixels)
    decoded = _decode(source, max_pixels, full_rgb16=True)
    pixels, has_color, bit_depth = _float_pixels(decoded)
    return _loaded(decoded.path, decoded.name, decoded.format, pixels, has_color, bit_depth,
                   decoded.exif, decoded.icc_profile)


# ---------------------------------------------------------------------------------------- writing


def _output_format(path: Path, format: str | None) -> str:
    if format is None:
        fmt = _FORMAT_BY_SUFFIX.get(path.suffix.lower())
        if fmt is None:
            raise ValueError(
                f"{path}: cannot tell the image format from the suffix {path.suffix!r}; "
                f"use one of {', '.join(sorted(IMAGE_SUFFIXES))} or pass format="
            )
        return fmt
    fmt = format.upper().lstrip(".")
    fmt = _FORMAT_ALIASES.get(fmt, fmt)
    if fmt not in set(_FORMAT_BY_SUFFIX.values()):
        raise ValueError(f"{path}: unsupported output format {format!r}; expected one of "
                         f"{', '.join(sorted(set(_FORMAT_BY_SUFFIX.values())))}")
    return fmt


def _to_integers(rgb: np.ndarray, bit_depth: int, path: Path) -> np.ndarray:
    """(H, W, 3) float [0, 1], uint8 or uint16 -> (H, W, 3) uint8 (bit_depth 8) or uint16 (16)."""
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[-1] != 3 or 0 in rgb.shape:
        shape = getattr(rgb, "shape", type(rgb).__name__)
        raise ValueError(f"{path}: save_image expects an (H, W, 3) RGB array; got {shape}")
    if rgb.dtype == np.uint8:
        return rgb if bit_depth == 8 else rgb.astype(np.uint16) * 257
    if rgb.dtype == np.uint16:
        if bit_depth == 16:
            return rgb
        return ((rgb.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if not np.issubdtype(rgb.dtype, np.floating):
        raise ValueError(f"{path}: save_image expects float values in [0, 1], uint8 or uint16; got dtype {rgb.dtype}")
    if not np.isfinite(rgb).all():
        raise ValueError(f"{path}: save_image got NaN or infinite values")
    top = 255.0 if bit_depth == 8 else 65535.0
    return np.rint(np.clip(rgb, 0.0, 1.0) * top).astype(np.uint8 if bit_depth == 8 else np.uint16)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _write_png16(file: BinaryIO, rgb: np.ndarray, exif: bytes | None, icc_profile: bytes | None) -> None:
    """Write (H, W, 3) uint16 as a 16-bit RGB PNG: filter 0 on every row, big-endian samples."""
    height, width, _ = rgb.shape
    file.write(_PNG_SIGNATURE)
    file.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)))
    if icc_profile:
        file.write(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile)))
    if exif:
        file.write(_png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    compressor = zlib.compressobj(6)
    rows_per_block = max(1, (1 << 20) // (width * 6))
    for top in range(0, height, rows_per_block):
        block = rgb[top:top + rows_per_block].astype(">u2").reshape(-1, width * 3).view(np.uint8)
        scanlines = np.concatenate([np.zeros((block.shape[0], 1), np.uint8), block], axis=1)  # filter byte 0
        data = compressor.compress(scanlines.tobytes())
        if data:
            file.write(_png_chunk(b"IDAT", data))
    file.write(_png_chunk(b"IDAT", compressor.flush()))
    file.write(_png_chunk(b"IEND", b""))


def _tiff_exif_tags(exif: bytes) -> dict[int, Any]:
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


def _write_tiff16(file: BinaryIO, rgb: np.ndarray, exif: bytes | None, icc_profile: bytes | None) -> None:
    """Write (H, W, 3) uint16 as an uncompressed little-endian baseline RGB TIFF, 16 bits per sample.

    Layout: header, the main directory (with EXIF and ICC), then the strips. Pillow serialises the
    directory and, as for its own TIFF writer, adds the end of the directory to the strip offsets.
    """
    height, width, _ = rgb.shape
    row_bytes = width * 6
    rows_per_strip = max(1, _TIFF_STRIP_BYTES // row_bytes)
    starts = range(0, height, rows_per_strip)
    counts = [min(rows_per_strip, height - top) * row_bytes for top in starts]
    if row_bytes * height > 0xFFFFFFFF - (1 << 24):
        raise ValueError(f"image of {width} x {height} is too large for a classic TIFF (4 GiB)")
    ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
    if exif:
        for tag, value in _tiff_exif_tags(exif).items():
            ifd[tag] = value
    ifd[256] = width  # ImageWidth
    ifd[257] = height  # ImageLength
    ifd[258] = (16, 16, 16)  # BitsPerSample
    ifd[259] = 1  # Compression: none
    ifd[262] = 2  # PhotometricInterpretation: RGB
    ifd[273] = tuple(int(sum(counts[:i])) for i in range(len(counts)))  # StripOffsets, made absolute by tobytes
    ifd[277] = 3  # SamplesPerPixel
    ifd[278] = rows_per_strip  # RowsPerStrip
    ifd[279] = tuple(counts)  # StripByteCounts
    ifd[284] = 1  # PlanarConfiguration: contiguous
    if 282 not in ifd:
        ifd[282] = TiffImagePlugin.IFDRational(72)  # XResolution
        ifd[283] = TiffImagePlugin.IFDRational(72)  # YResolution
        ifd[296] = 2  # ResolutionUnit: inch
    if icc_profile:
        ifd[34675] = icc_profile  # ICC profile
    for tag, typ in ((256, 4), (257, 4), (258, 3), (259, 3), (262, 3), (273, 4), (277, 3), (278, 4), (279, 4),
                     (284, 3)):
        ifd.tagtype[tag] = typ
    directory = ifd.tobytes(8)
    file.write(b"II*\x00" + struct.pack("<I", 8) + directory)
    for top in starts:
        file.write(rgb[top:top + rows_per_strip].astype("<u2").tobytes())


def encode_image(rgb: np.ndarray, *, format: str, bit_depth: int = 8, exif: bytes | None = None,
                 icc_profile: bytes | None = None, quality: int = 95, name: str = "<image>") -> bytes:
    """Encode (H, W, 3) float in [0, 1] (or uint8 / uint16) RGB to the bytes of an image file, in memory.

    bit_depth 16 writes 16-bit RGB PNG or TIFF; JPEG, WebP, BMP and GIF fall back to 8 bit. EXIF and
    the ICC profile are written where the format holds them (JPEG, PNG, WebP, TIFF). `quality`
    (1-100) applies to JPEG and WebP. Float values outside [0, 1] are clipped. `name` labels errors.
    """
    buffer = io.BytesIO()
    _encode(buffer, rgb, _output_format(Path(name), format), bit_depth, exif, icc_profile, quality, Path(name))
    return buffer.getvalue()


def save_image(path: str | os.PathLike, rgb: np.ndarray, *, format: str | None = None, bit_depth: int = 8,
               exif: bytes | None = None, icc_profile: bytes | None = None, quality: int = 95) -> None:
    """Write `rgb` to `path` atomically, as `encode_image` encodes it; the format from the suffix if None."""
    target = Path(path)
    fmt = _output_format(target, format)
    with atomic_path(target) as tmp, open(tmp, "wb") as file:
        _encode(file, rgb, fmt, bit_depth, exif, icc_profile, quality, target)


def _encode(file: BinaryIO, rgb: np.ndarray, fmt: str, bit_depth: int, exif: bytes | None,
            icc_profile: bytes | None, quality: int, target: Path) -> None:
    if bit_depth not in (8, 16):
        raise ValueError(f"{target}: bit_depth must be 8 or 16; got {bit_depth}")
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"{target}: quality must be in 1..100; got {quality}")
    if fmt not in _SIXTEEN_BIT_FORMATS:
        bit_depth = 8
    if fmt not in _EXIF_FORMATS:
        exif = icc_profile = None
    pixels = _to_integers(rgb, bit_depth, target)
    if bit_depth == 16:
        writer = _write_png16 if fmt == "PNG" else _write_tiff16
        writer(file, pixels, exif, icc_profile)
        return
    params: dict[str, Any] = {}
    if exif:
        params["exif"] = _tiff_safe_exif(exif) if fmt == "TIFF" else exif
    if icc_profile:
        params["icc_profile"] = icc_profile
    if fmt in ("JPEG", "WEBP"):
        params["quality"] = int(quality)
    Image.fromarray(np.ascontiguousarray(pixels), mode="RGB").save(file, format=fmt, **params)


def _tiff_safe_exif(exif: bytes) -> Image.Exif:
    """EXIF for Pillow's TIFF writer: without layout tags that would fight the file's own."""
    clean = Image.Exif()
    for tag, value in _tiff_exif_tags(exif).items():
        clean[tag] = value
    return clean


# ---------------------------------------------------------------------------------------- finding


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _images_in_folder(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and not _is_hidden(p, folder) and p.is_file()
    )


def find_images(inputs: Sequence[str | os.PathLike]) -> tuple[list[Path], list[str]]:
    """Expand files, folders and glob patterns into image paths, in order, without duplicates.

    Folders are searched recursively, sorted, keeping files with an image suffix (any case) and
    skipping hidden files and folders. A file named explicitly is kept whatever its suffix (reading
    it will say if it is no image). The second item holds one line per input that does not exist or
    matched no images.
    """
    found: list[Path] = []
    seen: set[str] = set()
    problems: list[str] = []
    for item in inputs:
        text = os.fspath(item)
        candidate = Path(text)
        if candidate.is_dir():
            paths = _images_in_folder(candidate)
            if not paths:
                problems.append(f"{text}: no images in this folder ({', '.join(sorted(IMAGE_SUFFIXES))})")
        elif candidate.is_file():
            paths = [candidate]
        elif glob.has_magic(text):
            paths = []
            for match in sorted(glob.glob(text, recursive=True)):
                p = Path(match)
                if p.is_dir():
                    paths.extend(_images_in_folder(p))
                elif p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
                    paths.append(p)
            if not paths:
                problems.append(f"{text}: no images match this pattern")
        else:
            problems.append(f"{text}: no such file or folder")
            continue
        for p in paths:
            key = os.path.normcase(str(p.resolve()))
            if key not in seen:
                seen.add(key)
                found.append(p)
    return found, problems
