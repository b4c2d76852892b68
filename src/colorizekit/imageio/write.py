"""Writing results: RGB images in 8 bit for every format, 16 bit for PNG and TIFF, atomically.

Pillow cannot write 16-bit RGB, so those two writers are here: a PNG with filter 0 on every row and
an uncompressed baseline TIFF. EXIF and the ICC profile are written where the format holds them.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, TiffImagePlugin

from colorizekit.imageio.atomic import atomic_path
from colorizekit.imageio.formats import FORMATS, PNG_SIGNATURE, format_for_path
from colorizekit.imageio.metadata import tiff_exif_tags, tiff_safe_exif
from colorizekit.imageio.pixels import to_uint8, to_uint16

_TIFF_STRIP_BYTES = 1 << 20  # target size of one strip in the 16-bit TIFF writer


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
    return to_uint8(rgb) if bit_depth == 8 else to_uint16(rgb)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _write_png16(file: BinaryIO, rgb: np.ndarray, exif: bytes | None, icc_profile: bytes | None) -> None:
    """Write (H, W, 3) uint16 as a 16-bit RGB PNG: filter 0 on every row, big-endian samples."""
    height, width, _ = rgb.shape
    file.write(PNG_SIGNATURE)
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
        for tag, value in tiff_exif_tags(exif).items():
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
    _encode(buffer, rgb, format_for_path(Path(name), format), bit_depth, exif, icc_profile, quality, Path(name))
    return buffer.getvalue()


def save_image(path: str | os.PathLike, rgb: np.ndarray, *, format: str | None = None, bit_depth: int = 8,
               exif: bytes | None = None, icc_profile: bytes | None = None, quality: int = 95) -> None:
    """Write `rgb` to `path` atomically, as `encode_image` encodes it; the format from the suffix if None."""
    target = Path(path)
    fmt = format_for_path(target, format)
    with atomic_path(target) as tmp, open(tmp, "wb") as file:
        _encode(file, rgb, fmt, bit_depth, exif, icc_profile, quality, target)


def _encode(file: BinaryIO, rgb: np.ndarray, fmt: str, bit_depth: int, exif: bytes | None,
            icc_profile: bytes | None, quality: int, target: Path) -> None:
    if bit_depth not in (8, 16):
        raise ValueError(f"{target}: bit_depth must be 8 or 16; got {bit_depth}")
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"{target}: quality must be in 1..100; got {quality}")
    if not FORMATS[fmt].sixteen_bit:
        bit_depth = 8
    if not FORMATS[fmt].metadata:
        exif = icc_profile = None
    pixels = _to_integers(rgb, bit_depth, target)
    if bit_depth == 16:
        writer = _write_png16 if fmt == "PNG" else _write_tiff16
        writer(file, pixels, exif, icc_profile)
        return
    params: dict[str, Any] = {}
    if exif:
        params["exif"] = tiff_safe_exif(exif) if fmt == "TIFF" else exif
    if icc_profile:
        params["icc_profile"] = icc_profile
    if fmt in ("JPEG", "WEBP"):
        params["quality"] = int(quality)
    Image.fromarray(np.ascontiguousarray(pixels), mode="RGB").save(file, format=fmt, **params)
