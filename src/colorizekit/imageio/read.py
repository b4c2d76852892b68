"""Reading the images people actually have: files, bytes, PIL images and numpy arrays.

Input: JPEG, PNG (8 and 16 bit), TIFF (8 and 16 bit, gray and RGB), BMP, WebP and GIF (first frame),
in any Pillow mode (1, L, LA, P with or without transparency, RGB, RGBA, CMYK, I;16, I, F); files
and bytes in other formats are refused (so an upload never reaches, say, Pillow's EPS reader). Every
file is checked before it is decoded (decompression bombs, empty files), fully decoded (truncated
files are refused even where Pillow's global `LOAD_TRUNCATED_IMAGES` is set), turned upright by its
EXIF orientation, and composited onto white when it has alpha. Pixel values come out as float32 in
[0, 1]; 16-bit data keeps its full precision (Pillow itself reads 16-bit RGB as 8 bit, so that case
is decoded a second time for the low bytes). No global Pillow state is changed: size limits are
applied per call.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

from colorizekit.imageio.errors import ImageError, ImageErrorKind, one_line, pillow_errors, quiet, too_large
from colorizekit.imageio.formats import READ_FORMATS, signature_format
from colorizekit.imageio.metadata import UPRIGHT, clean_exif, orientation, read_exif, rgb_profile, upright_uint16
from colorizekit.imageio.pixels import float_pixels, gray_from_rgb, is_grayscale, over_white, to_uint8

MAX_DECODE_PIXELS = 120_000_000  # default decompression-bomb limit of a read: 6000 x 4000 passes, 20000 x 20000 fails


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
            raise ImageError(f"{label}: empty file (0 bytes)", ImageErrorKind.EMPTY)
        yield io.BytesIO(bytes(source))
        return
    path = Path(source)
    try:
        if path.is_dir():
            raise ImageError(f"{label}: is a folder, not an image file", ImageErrorKind.MISSING)
        if not path.exists():
            raise ImageError(f"{label}: no such file", ImageErrorKind.MISSING)
        if path.stat().st_size == 0:
            raise ImageError(f"{label}: empty file (0 bytes)", ImageErrorKind.EMPTY)
        stream = open(path, "rb")
    except OSError as exc:
        raise ImageError(f"{label}: cannot read ({one_line(exc.strerror or exc)})", ImageErrorKind.UNREADABLE) from None
    with stream:
        yield stream


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
    with _raw_stream(source, label) as raw, pillow_errors(label, max_pixels, "truncated or corrupt image data"):
        stream = _WatchedFile(raw)
        with quiet(Image.DecompressionBombWarning):
            image = Image.open(stream, formats=READ_FORMATS)
        _fix_planar_tiff16(image)
        image.tile = [_swap_rawmode(t) for t in image.tile]
        image.load()
        if stream.ran_out:
            raise ImageError(f"{label}: truncated (the file ends before the image data does)", ImageErrorKind.DAMAGED)
        return np.asarray(image)


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
            raise too_large(label, width * height, max_pixels)
        with pillow_errors(label, max_pixels, "cannot decode"):
            image.load()
        exif = read_exif(image)
        fmt = image.format
    else:
        with _raw_stream(source, label) as raw:
            announced = signature_format(raw.read(16))
            raw.seek(0)
            stream = _WatchedFile(raw)
            with pillow_errors(label, max_pixels, "not a readable image", announced), \
                    quiet(Image.DecompressionBombWarning):  # max_pixels is checked below instead
                image = Image.open(stream, formats=READ_FORMATS)
            fmt = image.format
            width, height = image.size
            if width * height > max_pixels:
                raise too_large(label, width * height, max_pixels)
            _fix_planar_tiff16(image)
            exif = None
            if fmt != "PNG":  # a PNG's EXIF may follow its pixels, and is read after them
                exif = read_exif(image)
            stream.ran_out = False
            needs_low_bytes = full_rgb16 and _is_rgb16(image)
            with pillow_errors(label, max_pixels, f"truncated or corrupt {fmt or 'image'} data"):
                image.load()
            if stream.ran_out:
                raise ImageError(f"{label}: truncated (the file ends before the image data does)",
                                 ImageErrorKind.DAMAGED)
            if fmt == "PNG":
                exif = read_exif(image)
        if needs_low_bytes:
            high = np.asarray(image).astype(np.uint16)
            rgb16 = (high << 8) | _low_bytes(source, label, max_pixels).astype(np.uint16)
    turn = orientation(exif)
    exif_bytes = clean_exif(exif, drop_layout=fmt == "TIFF") if exif is not None else None
    source_icc = image.info.get("icc_profile") or None
    if turn != 1:
        with pillow_errors(label, max_pixels, "cannot turn it upright"):
            image = image.transpose(UPRIGHT[turn])
        if rgb16 is not None:
            rgb16 = upright_uint16(rgb16, turn)
    elif isinstance(source, Image.Image):
        image = image.copy()
    return _Decoded(
        image=image, path=path, name=name, label=label, format=fmt, exif=exif_bytes,
        icc_profile=rgb_profile(source_icc), source_icc=source_icc if isinstance(source_icc, bytes) else None,
        rgb16=rgb16,
    )


def _loaded(path: Path | None, name: str, fmt: str | None, pixels: np.ndarray, has_color: bool,
            bit_depth: int, exif: bytes | None, icc: bytes | None) -> LoadedImage:
    if has_color:
        rgb = np.ascontiguousarray(pixels, dtype=np.float32)
        return LoadedImage(path=path, name=name, format=fmt, gray=gray_from_rgb(rgb), rgb=rgb,
                           is_color=not is_grayscale(rgb), bit_depth=bit_depth, exif=exif, icc_profile=icc)
    gray = np.ascontiguousarray(np.clip(pixels, 0.0, 1.0), dtype=np.float32)
    return LoadedImage(path=path, name=name, format=fmt, gray=gray, rgb=None, is_color=False,
                       bit_depth=bit_depth, exif=exif, icc_profile=icc)


def _load_array(array: np.ndarray, max_pixels: int) -> LoadedImage:
    label = "<array>"
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4))):
        raise ImageError(f"{label}: expected shape (H, W) or (H, W, 1|3|4); got {array.shape}",
                         ImageErrorKind.UNSUPPORTED)
    height, width = array.shape[:2]
    if height == 0 or width == 0:
        raise ImageError(f"{label}: empty image (shape {array.shape})", ImageErrorKind.EMPTY)
    if height * width > max_pixels:
        raise too_large(label, height * width, max_pixels)
    if array.dtype == np.uint8:
        values, bit_depth = array.astype(np.float32) / 255.0, 8
    elif array.dtype == np.uint16:
        values, bit_depth = array.astype(np.float32) / 65535.0, 16
    elif array.dtype == np.bool_:
        values, bit_depth = array.astype(np.float32), 8
    elif np.issubdtype(array.dtype, np.floating):
        values, bit_depth = array.astype(np.float32), 8
        if not np.isfinite(values).all():
            raise ImageError(f"{label}: float values include NaN or infinity", ImageErrorKind.UNSUPPORTED)
        low, high = float(values.min()), float(values.max())
        if low < -1e-6 or high > 1.0 + 1e-6:
            raise ImageError(f"{label}: float values must lie in [0, 1]; got {low:g}..{high:g}",
                             ImageErrorKind.UNSUPPORTED)
        values = np.clip(values, 0.0, 1.0)
    else:
        raise ImageError(f"{label}: expected uint8, uint16 or float values in [0, 1]; got dtype {array.dtype}",
                         ImageErrorKind.UNSUPPORTED)
    if values.ndim == 3 and values.shape[-1] == 4:
        values = over_white(values[..., :3], values[..., 3])
    return _loaded(None, label, None, values, values.ndim == 3, bit_depth, None, None)


def open_image(source: str | os.PathLike | bytes | Image.Image, *, max_pixels: int = MAX_DECODE_PIXELS) -> Image.Image:
    """Open, check and fully decode one image (first frame of GIF/animated files), apply EXIF orientation.

    The result is loaded (the file is closed) and upright; its mode is whatever the source's is, so
    16-bit RGB sources come out as 8-bit "RGB" (use `load_image` for their full precision). A PIL
    image is used as it is (its current frame) and copied, never modified. Raises ImageError.
    """
    return _decode(source, max_pixels, full_rgb16=False).image


def open_rgb(source: str | os.PathLike | bytes | Image.Image, *, max_pixels: int = MAX_DECODE_PIXELS) -> Image.Image:
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
    pixels, _, _ = float_pixels(decoded.image, decoded.label, decoded.rgb16, decoded.source_icc)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=-1)
    out = Image.fromarray(to_uint8(pixels), mode="RGB")
    if decoded.icc_profile is not None:
        out.info["icc_profile"] = decoded.icc_profile
    return out


def load_image(source: str | os.PathLike | bytes | Image.Image | np.ndarray, *,
               max_pixels: int = MAX_DECODE_PIXELS) -> LoadedImage:
    """Read one photo as float32 arrays in [0, 1] plus what outputs should carry. Raises ImageError.

    Files, bytes and PIL images go through `open_image` (any mode; 16-bit data at full precision).
    numpy arrays: (H, W) or (H, W, 1|3|4), uint8, uint16 (bit_depth 16) or float in [0, 1]
    (bit_depth 8); 4 channels are RGBA.
    """
    if isinstance(source, np.ndarray):
        return _load_array(source, max_pixels)
    decoded = _decode(source, max_pixels, full_rgb16=True)
    pixels, has_color, bit_depth = float_pixels(decoded.image, decoded.label, decoded.rgb16, decoded.source_icc)
    return _loaded(decoded.path, decoded.name, decoded.format, pixels, has_color, bit_depth,
                   decoded.exif, decoded.icc_profile)
