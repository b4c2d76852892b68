"""Helpers for the imageio tests: hand-made PNGs, ICC profiles, EXIF."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png16(samples: np.ndarray, color_type: int) -> bytes:
    """A 16-bit PNG written by hand: (H, W, C) uint16, colour type 2 (RGB) or 6 (RGBA)."""
    height, width, channels = samples.shape
    rows = samples.astype(">u2").reshape(height, width * channels).view(np.uint8)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def _gray_icc_profile() -> bytes:
    """A minimal, valid ICC v2 monochrome display profile (gray colour space, gamma 2.2)."""

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    desc_text = b"colorizekit test gray\x00"
    desc = b"desc\x00\x00\x00\x00" + struct.pack(">I", len(desc_text)) + desc_text
    desc += b"\x00" * 8 + b"\x00\x00\x00" + b"\x00" * 67
    tags = [
        (b"desc", desc),
        (b"wtpt", b"XYZ \x00\x00\x00\x00" + s15(0.9642) + s15(1.0) + s15(0.8249)),
        (b"kTRC", b"curv\x00\x00\x00\x00" + struct.pack(">IH", 1, round(2.2 * 256)) + b"\x00\x00"),
        (b"cprt", b"text\x00\x00\x00\x00" + b"none\x00\x00\x00\x00"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = struct.pack(">I", len(tags)), b""
    for sig, body in tags:
        body += b"\x00" * (-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (
        struct.pack(">I", size) + b"\x00" * 4 + bytes([2, 0x10, 0, 0]) + b"mntr" + b"GRAY" + b"XYZ "
        + b"\x00" * 12 + b"acsp" + b"\x00" * 24 + struct.pack(">I", 0) + s15(0.9642) + s15(1.0) + s15(0.8249)
        + b"\x00" * 48
    )
    assert len(header) == 128
    return header + table + data


def _srgb_icc_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif(orientation: int, make: str = "colorizekit-test") -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = make
    return exif.tobytes()


def _orientation_of(exif_bytes: bytes) -> int:
    exif = Image.Exif()
    exif.load(exif_bytes)
    return exif.get(0x0112)


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".") or ".tmp" in p.name]
