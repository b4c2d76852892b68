"""Test clips made from still photos: slow pans and zooms across a photo, cuts between photos, a
little noise, and a sine tone for audio, written with PyAV.

The clips are in colour, so an evaluation has ground truth, and every frame is a real photograph's
pixels seen through a moving camera, so optical flow and colorization behave as on film. Tests,
benchmarks and `tools/video_strip.py` build theirs here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from colorizekit.infer.video.files import DEFAULT_CRF, output_suffix_and_encoder

AUDIO_RATE = 16_000  # samples per second of the test tone
_AUDIO_FRAME = 1024  # samples per encoded audio frame (AAC's frame size)


@dataclass(frozen=True)
class Shot:
    """One camera move across one photo: the view's centre (fractions of the photo's width and
    height) and its zoom (the view's width as a fraction of the photo's), from start to end."""

    photo: np.ndarray  # (H, W, 3) uint8 RGB
    frames: int  # frames in the shot
    start: tuple[float, float, float] = (0.4, 0.5, 0.6)  # (centre x, centre y, view width) at the first frame
    end: tuple[float, float, float] = (0.6, 0.5, 0.6)  # ... at the last frame (the default: a slow pan)


def render(shots: Sequence[Shot], width: int, height: int, noise: float = 0.0, seed: int = 0) -> Iterator[np.ndarray]:
    """The frames of `shots`, one after the other, as (height, width, 3) uint8 RGB; `noise` is the
    standard deviation of Gaussian noise added to every frame (in 8-bit units), seeded by `seed`."""
    import cv2

    rng = np.random.default_rng(seed)
    for shot in shots:
        ph, pw = shot.photo.shape[:2]
        for i in range(shot.frames):
            t = i / max(shot.frames - 1, 1)
            cx, cy, view = (a + (b - a) * t for a, b in zip(shot.start, shot.end))
            scale = view * pw / width  # photo pixels per frame pixel
            if width * scale > pw or height * scale > ph:
                raise ValueError(f"shot view {view:.2f} of a {pw} x {ph} photo does not fit a {width} x {height} frame")
            x0 = cx * pw - scale * width / 2
            y0 = cy * ph - scale * height / 2
            matrix = np.array([[scale, 0, x0 + 0.5 * scale - 0.5], [0, scale, y0 + 0.5 * scale - 0.5]])
            frame = cv2.warpAffine(shot.photo, matrix, (width, height), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP
                                   if scale > 1 else cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_REFLECT)
            if noise > 0:
                frame = np.clip(frame + rng.normal(0, noise, frame.shape), 0, 255).astype(np.uint8)
            yield frame


def tone(seconds: float, hz: float = 440.0, rate: int = AUDIO_RATE) -> np.ndarray:
    """A sine tone: (samples,) float32 in [-0.5, 0.5]."""
    t = np.arange(round(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def write_clip(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: int | Fraction = 12,
               audio: np.ndarray | None = None, crf: int = DEFAULT_CRF, metadata: dict[str, str] | None = None) -> None:
    """Write RGB frames (uint8 (H, W, 3); odd sizes in 4:4:4) as a video with PyAV, in the encoder the path's
    suffix gets (`files.output_suffix_and_encoder`), with `audio` ((samples,) float32 mono at
    AUDIO_RATE) as AAC (MP4, MOV), Opus (WebM) or 16-bit PCM (other containers) when given."""
    import av

    _, encoder = output_suffix_and_encoder(path)
    with av.open(os.fspath(path), "w") as out:
        if metadata:
            out.metadata.update(metadata)
        video = out.add_stream(encoder, rate=Fraction(fps))
        video.options = {"crf": str(crf)}
        sound = _audio_stream(out, os.fspath(path)) if audio is not None else None
        for i, rgb in enumerate(frames):
            if i == 0:
                video.height, video.width = rgb.shape[:2]
                video.pix_fmt = "yuv444p" if video.height % 2 or video.width % 2 else "yuv420p"
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if sound is not None:
            _write_audio(out, sound, audio)


def _audio_stream(out, path: str):
    suffix = os.path.splitext(path)[1].lower()
    codec = {".mp4": "aac", ".m4v": "aac", ".mov": "aac", ".webm": "libopus"}.get(suffix, "pcm_s16le")
    rate = 48_000 if codec == "libopus" else AUDIO_RATE  # Opus runs at 48 kHz only
    stream = out.add_stream(codec, rate=rate, layout="mono")
    return stream


def _write_audio(out, stream, samples: np.ndarray) -> None:
    import av

    if stream.rate != AUDIO_RATE:  # resample the tone by index (only for Opus)
        samples = np.interp(np.arange(round(len(samples) * stream.rate / AUDIO_RATE)) * AUDIO_RATE / stream.rate,
                            np.arange(len(samples)), samples).astype(np.float32)
    fmt = "s16" if stream.codec_context.name == "pcm_s16le" else "fltp"
    data = (samples * 32767).astype(np.int16) if fmt == "s16" else samples
    pts = 0
    for start in range(0, len(data), _AUDIO_FRAME):
        chunk = data[start:start + _AUDIO_FRAME][None]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format=fmt, layout="mono")
        frame.sample_rate, frame.pts = stream.rate, pts
        pts += chunk.shape[1]
        out.mux(stream.encode(frame))
    out.mux(stream.encode())
