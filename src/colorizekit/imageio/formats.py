"""The image formats colorizekit reads and writes, and the one policy for what an output is written as.

Reading: JPEG, PNG, TIFF, BMP, WebP and GIF, told apart by their first bytes. Writing: any of them
by name or suffix; EXIF and ICC go where the format holds them (JPEG, PNG, WebP, TIFF), 16-bit RGB
where it holds that (PNG, TIFF).

The output policy, for `colorizekit colorize` and `colorizekit serve` alike: a colorized photo keeps
its input's format when that is JPEG, PNG, WebP or TIFF, and becomes PNG otherwise (BMP, GIF: lossless,
no palette) unless another output format is asked for; it is 16-bit when its input has 16-bit
precision and its format holds 16-bit RGB, else 8-bit (`output_format`, `output_bit_depth`,
`output_suffix`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImageFormat:
    """One image format as colorizekit uses it."""

    name: str  # Pillow's format name, e.g. "JPEG"
    label: str  # how people write it, e.g. "WebP"
    suffixes: tuple[str, ...]  # file suffixes, lower case, the usual one first
    media_type: str  # MIME type
    output: bool  # outputs keep this format (photos in other formats come out as PNG)
    sixteen_bit: bool  # holds 16-bit RGB
    metadata: bool  # holds EXIF and an ICC profile


FORMATS: dict[str, ImageFormat] = {f.name: f for f in (  # in the order Pillow's plugins are tried
    ImageFormat("JPEG", "JPEG", (".jpg", ".jpeg"), "image/jpeg", output=True, sixteen_bit=False, metadata=True),
    ImageFormat("PNG", "PNG", (".png",), "image/png", output=True, sixteen_bit=True, metadata=True),
    ImageFormat("TIFF", "TIFF", (".tif", ".tiff"), "image/tiff", output=True, sixteen_bit=True, metadata=True),
    ImageFormat("BMP", "BMP", (".bmp",), "image/bmp", output=False, sixteen_bit=False, metadata=False),
    ImageFormat("WEBP", "WebP", (".webp",), "image/webp", output=True, sixteen_bit=False, metadata=True),
    ImageFormat("GIF", "GIF", (".gif",), "image/gif", output=False, sixteen_bit=False, metadata=False),
)}
IMAGE_SUFFIXES: frozenset[str] = frozenset(s for f in FORMATS.values() for s in f.suffixes)
READ_FORMATS = tuple(FORMATS)  # Pillow plugins used for files and bytes (JPEG includes MPO)
SUPPORTED_NAMES = ", ".join(f.label for f in FORMATS.values())  # for messages
_ALIASES = {"JPG": "JPEG", "TIF": "TIFF"}  # names people write for the formats Pillow knows
_FALLBACK_OUTPUT = "PNG"  # what photos in a format outputs do not keep are written as
OUTPUT_NAMES = tuple(sorted(  # the names an output format may be asked for by ("jpg", "tiff", ...)
    [f.name.lower() for f in FORMATS.values() if f.output]
    + [alias.lower() for alias, name in _ALIASES.items() if FORMATS[name].output]))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SIGNATURES = (  # first bytes of the formats colorizekit reads -> format name
    (b"\xff\xd8\xff", "JPEG"), (PNG_SIGNATURE, "PNG"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"), (b"MM\x00+", "TIFF"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"), (b"BM", "BMP"),
)


def signature_format(head: bytes) -> str | None:
    """The image format a file's first bytes announce, if any (to tell damaged images from non-images)."""
    for prefix, name in _SIGNATURES:
        if head.startswith(prefix):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def format_named(name: str) -> str | None:
    """The Pillow name of a format as people write it ("jpg", ".TIF", "WebP"...), None if unknown."""
    fmt = name.upper().lstrip(".")
    fmt = _ALIASES.get(fmt, fmt)
    return fmt if fmt in FORMATS else None


def format_of_suffix(path: str | os.PathLike) -> str | None:
    """The format a file name's suffix stands for (any case), None if it is no image suffix."""
    suffix = Path(path).suffix.lower()
    return next((f.name for f in FORMATS.values() if suffix in f.suffixes), None)


def format_for_path(path: Path, format: str | None) -> str:
    """The format to write `path` in: `format` when given, else its suffix's. ValueError naming the path."""
    if format is None:
        fmt = format_of_suffix(path)
        if fmt is None:
            raise ValueError(
                f"{path}: cannot tell the image format from the suffix {path.suffix!r}; "
                f"use one of {', '.join(sorted(IMAGE_SUFFIXES))} or pass format="
            )
        return fmt
    fmt = format_named(format)
    if fmt is None:
        raise ValueError(f"{path}: unsupported output format {format!r}; expected one of {', '.join(sorted(FORMATS))}")
    return fmt


def output_format(input_format: str | None, requested: str | None = None) -> str:
    """The format a colorized photo is written in (a Pillow name): `requested` (any of `OUTPUT_NAMES`,
    any case) when given, else the input's when outputs keep it, else PNG. ValueError for a requested
    format that outputs are not written in."""
    if requested is not None:
        fmt = format_named(requested)
        if fmt is None or not FORMATS[fmt].output:
            raise ValueError(f"unknown output format {requested!r}; expected one of {', '.join(OUTPUT_NAMES)}")
        return fmt
    return input_format if input_format in FORMATS and FORMATS[input_format].output else _FALLBACK_OUTPUT


def output_bit_depth(source_bit_depth: int, fmt: str) -> int:
    """16 when the source has 16-bit precision and `fmt` holds 16-bit RGB, else 8."""
    return 16 if source_bit_depth == 16 and FORMATS[fmt].sixteen_bit else 8


def output_suffix(fmt: str, input_suffix: str = "") -> str:
    """The suffix of an output in `fmt`: the input's when it names that format (its case kept), else
    the format's usual one."""
    return input_suffix if input_suffix.lower() in FORMATS[fmt].suffixes else FORMATS[fmt].suffixes[0]
