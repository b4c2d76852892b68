"""What a video file is to colorizekit, without importing PyAV: suffixes, the output policy, errors.

Reading goes through PyAV (FFmpeg), so any file FFmpeg reads is a video here; the suffixes only
decide which files a folder search picks up and what an output is written as. An output keeps its
input's container (suffix) when that container holds H.264, and gets H.264 in it; WebM holds only
VP8, VP9 and AV1, so a WebM input gives a WebM output in VP9; a container that holds neither (MPEG
program streams, ASF/WMV, Ogg) gives Matroska (`.mkv`), which holds H.264 and nearly any audio
codec, so the audio can be copied unchanged.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path

EXTRA_HINT = "pip install 'colorizekit[video]'"  # what provides PyAV and OpenCV
H264_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".avi", ".ts", ".m2ts", ".mts", ".flv", ".3gp"})
VP9_SUFFIXES = frozenset({".webm"})
OTHER_SUFFIXES = frozenset({".mpg", ".mpeg", ".vob", ".wmv", ".asf", ".ogv", ".divx", ".dv"})
VIDEO_SUFFIXES = H264_SUFFIXES | VP9_SUFFIXES | OTHER_SUFFIXES  # what folder searches pick up
FALLBACK_SUFFIX = ".mkv"  # the container of outputs whose input's container holds neither H.264 nor VP9
H264_ENCODER = "libx264"
VP9_ENCODER = "libvpx-vp9"
DEFAULT_CRF = 18  # constant rate factor: x264's "visually lossless" (0 lossless ... 51 worst; VP9 0 ... 63)
MAX_CRF = {H264_ENCODER: 51, VP9_ENCODER: 63}


_SIGNATURES = ((4, b"ftyp", "MP4/MOV"), (0, b"\x1aE\xdf\xa3", "Matroska/WebM"), (8, b"AVI ", "AVI"))


def container_signature(path: str | os.PathLike) -> str | None:
    """The video container a file's first bytes announce ("MP4/MOV", "Matroska/WebM", "AVI"), if any:
    to tell a damaged video from a file that is no video."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return None
    return next((name for offset, magic, name in _SIGNATURES if head[offset:offset + len(magic)] == magic), None)


class VideoErrorKind(enum.StrEnum):
    """What is wrong with a video input."""

    MISSING_EXTRA = "missing_extra"  # PyAV / OpenCV are not installed
    NOT_A_VIDEO = "not_a_video"  # FFmpeg cannot read the file as a container
    NO_VIDEO_STREAM = "no_video_stream"  # a container without a video stream (audio only, ...)
    UNSUPPORTED = "unsupported"  # a video stream FFmpeg has no decoder for
    DAMAGED = "damaged"  # decoding failed or ended before the announced end
    UNWRITABLE = "unwritable"  # the output could not be encoded or written


class VideoError(ValueError):
    """Bad video input or output; str() is one line '<file>: <problem>', `kind` what sort of problem."""

    def __init__(self, message: str, kind: VideoErrorKind) -> None:
        super().__init__(message, kind)
        self.kind = VideoErrorKind(kind)

    def __str__(self) -> str:
        return str(self.args[0])


def is_video_path(path: str | os.PathLike) -> bool:
    """True if the file's suffix (any case) is a video container's."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def output_suffix_and_encoder(source: str | os.PathLike) -> tuple[str, str]:
    """(suffix, FFmpeg encoder) of the colorized version of the video `source` (see the module docstring)."""
    suffix = Path(source).suffix  # kept as written (".MP4" stays ".MP4")
    if suffix.lower() in VP9_SUFFIXES:
        return suffix, VP9_ENCODER
    return (suffix if suffix.lower() in H264_SUFFIXES else FALLBACK_SUFFIX), H264_ENCODER


def check_crf(crf: int, encoder: str = H264_ENCODER) -> int:
    """`crf` if it is a constant rate factor `encoder` accepts, else ValueError."""
    top = MAX_CRF[encoder]
    if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= top:
        raise ValueError(f"crf must be an integer from 0 to {top} for {encoder}, got {crf!r}")
    return crf


def require_video_extra(label: str = "video") -> None:
    """Raise VideoError (one line naming the extra) when PyAV or OpenCV cannot be imported."""
    missing = []
    for module, package in (("av", "av (PyAV)"), ("cv2", "opencv-python-headless")):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise VideoError(f"{label}: colorizing video needs {' and '.join(missing)}: {EXTRA_HINT}",
                         VideoErrorKind.MISSING_EXTRA)
