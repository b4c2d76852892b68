"""Colorizing a video as a stream: frames are decoded, colorized in batches and encoded as they go,
so memory stays flat however long the film.

Each frame goes through the photo pipeline (`Colorizer.predict_chroma` at the working size, then
`Colorizer.join`, i.e. `color.join.join_luminance`, with the frame's own full-resolution luminance), with the predicted
chroma made consistent from frame to frame at the working resolution by `temporal.Propagator`
between the two. The output is written to a temporary name beside its final one and renamed at the
end (`imageio.atomic.atomic_path`), so an interrupted run leaves no half-written file under the output's name.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from colorizekit.imageio import to_uint8
from colorizekit.imageio.atomic import atomic_path
from colorizekit.imageio.pixels import gray_from_rgb, is_grayscale
from colorizekit.infer.video.files import (
    DEFAULT_CRF,
    VideoError,
    VideoErrorKind,
    check_crf,
    output_suffix_and_encoder,
    require_video_extra,
)
from colorizekit.infer.video.io import Frame, VideoReader, VideoWriter
from colorizekit.infer.video.temporal import Propagator, TemporalConfig, to_uint8_gray

if TYPE_CHECKING:  # the colorizer comes in as an argument; colorize imports this module, not the reverse
    from colorizekit.infer.colorizer import Colorizer


@dataclass(frozen=True)
class ColorFrame:
    """One frame's colour, before the full-resolution join."""

    frame: Frame  # the input frame
    gray: np.ndarray  # (H, W) float32: the frame's luminance as a gray in [0, 1]
    predicted: torch.Tensor  # (2, h', w'): the model's ab for this frame alone (Lab units)
    ab: torch.Tensor  # (2, h, w): the ab to use (`predicted` itself with temporal "none")
    cut: bool  # this frame starts a new shot


@dataclass(frozen=True)
class VideoResult:
    """What colorizing one video did."""

    source: Path
    output: Path  # the colour video written
    frames: int  # frames written
    fps: Fraction  # the input's (and output's) average frame rate
    width: int
    height: int
    cuts: tuple[int, ...]  # frames that start a shot (0 included)
    seconds: float  # wall time
    stopped: str | None  # one line when the input broke off (the frames before it are in the output)
    audio_note: str | None  # one line when the audio could not all be copied


def _as_config(temporal: str | TemporalConfig) -> TemporalConfig:
    return temporal if isinstance(temporal, TemporalConfig) else TemporalConfig(method=temporal)


def colorize_frames(colorizer: Colorizer, frames: Iterable[Frame], temporal: str | TemporalConfig = "flow",
                    vividness: float | None = None, saturation: float | None = None,
                    propagator: Propagator | None = None) -> Iterator[ColorFrame]:
    """Colorize frames as they come, `colorizer.batch_size` at a time, in order; see the module
    docstring. `propagator` (made from `temporal` when None) keeps the state between frames."""
    propagator = propagator or Propagator(_as_config(temporal))
    batch: list[Frame] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == colorizer.batch_size:
            yield from _colorize_batch(colorizer, batch, propagator, vividness, saturation)
            batch = []
    if batch:
        yield from _colorize_batch(colorizer, batch, propagator, vividness, saturation)


def _colorize_batch(colorizer: Colorizer, batch: list[Frame], propagator: Propagator,
                    vividness: float | None, saturation: float | None) -> Iterator[ColorFrame]:
    grays = [_gray_of(f.rgb) for f in batch]
    small, predicted = colorizer.predict_chroma(grays, vividness, saturation)
    working = predicted
    if propagator.config.method != "none":  # propagate at the working resolution
        working = F.interpolate(predicted, size=small.shape[-2:], mode="bilinear", align_corners=False)
    for i, frame in enumerate(batch):
        ab, cut = propagator.step(to_uint8_gray(small[i, 0].numpy()), working[i])
        yield ColorFrame(frame, grays[i], predicted[i], ab, cut)


def _gray_of(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> the (H, W) gray in [0, 1] with each pixel's CIE L: the channel itself where
    R = G = B (a grayscale film, exactly; a third of the cost), else `imageio.pixels.gray_from_rgb`."""
    red = rgb[..., 0]
    if np.array_equal(red, rgb[..., 1]) and np.array_equal(red, rgb[..., 2]):
        return red.astype(np.float32) / 255
    return gray_from_rgb(rgb.astype(np.float32) / 255)


def default_output(source: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Where `colorize_video` writes `source`'s colour version in `out_dir`: same name, the suffix
    `files.output_suffix_and_encoder` gives."""
    suffix, _ = output_suffix_and_encoder(source)
    return Path(out_dir) / (Path(source).stem + suffix)


def colorize_video(colorizer: Colorizer, source: str | os.PathLike, output: str | os.PathLike, *,
                   temporal: str | TemporalConfig = "flow", crf: int = DEFAULT_CRF, vividness: float | None = None,
                   saturation: float | None = None, progress: bool = True) -> VideoResult:
    """Colorize the video `source` into `output` (its suffix picks the container; see `files`).

    Same frame size, frame rate, frame count, timestamps and duration as the input; the audio
    streams copied unchanged; metadata, chapters and display rotation carried. `temporal`: "flow"
    (default) or "none" (frame by frame), or a `TemporalConfig`. `crf`: the encoder's constant rate
    factor. A colour input is reduced to its luminance (a warning says so). Raises VideoError for
    input that cannot be read (not a video, no video stream, unsupported codec, no frame decoded) or
    output that cannot be written (the input itself, a `crf` its encoder does not take); an input that
    breaks off part way is colorized as far as it goes and `VideoResult.stopped` says where. Nothing is
    left under `output`'s name unless it completes.
    """
    from tqdm import tqdm

    require_video_extra(str(source))
    config = _as_config(temporal)
    output = Path(output)
    if output.resolve() == Path(source).resolve():
        raise VideoError(f"{output}: the output would overwrite its input; choose another output",
                         VideoErrorKind.UNWRITABLE)
    _, encoder = output_suffix_and_encoder(output)
    try:
        check_crf(crf, encoder)
    except ValueError as exc:  # e.g. a crf VP9 takes but H.264 does not: this file fails, a batch goes on
        raise VideoError(f"{output}: {exc}", VideoErrorKind.UNWRITABLE) from None
    started = time.perf_counter()
    propagator = Propagator(config)
    with VideoReader(source) as reader:
        info = reader.info
        bar = tqdm(total=info.expected_frames, unit="frame", disable=not progress, desc=Path(source).name,
                   leave=False)
        try:
            with atomic_path(output) as tmp, VideoWriter(tmp, info, encoder, crf) as writer:
                for cf in colorize_frames(colorizer, _told_about_colour(reader, source), config,
                                          vividness, saturation, propagator):
                    writer.write(to_uint8(colorizer.join(cf.gray, cf.ab)), cf.frame)
                    bar.update(1)
                if reader.frames_read == 0:
                    raise VideoError(reader.stopped or f"{source}: no frame could be decoded",
                                     VideoErrorKind.DAMAGED)
        finally:
            bar.close()
    return VideoResult(source=Path(source), output=output, frames=reader.frames_read, fps=info.fps,
                       width=info.width, height=info.height, cuts=tuple(propagator.cuts),
                       seconds=time.perf_counter() - started, stopped=reader.stopped, audio_note=writer.audio_note)


def colorize_video_files(colorizer: Colorizer, jobs: Iterable[tuple[Path, Path]], done: Callable[[Path], None],
                         fail: Callable[[str, str], None], *, temporal: str | TemporalConfig = "flow",
                         crf: int | None = None, progress: bool = True) -> None:
    """Colorize (source, output) videos one at a time (the video part of `infer.files.colorize_files`):
    `done(output)` for each output written, `fail(source, line)` for each that failed, and for each
    that broke off part way (written as far as it goes)."""
    for source, output in jobs:
        try:
            result = colorize_video(colorizer, source, output, temporal=temporal,
                                    crf=DEFAULT_CRF if crf is None else crf, progress=progress)
        except (VideoError, OSError) as exc:
            fail(str(source), str(exc))
            continue
        done(output)
        if result.stopped:
            fail(str(source), f"{result.stopped}; the frames before it are in {output}")
        if result.audio_note:
            warnings.warn(result.audio_note, UserWarning, stacklevel=2)


def _told_about_colour(frames: Iterable[Frame], source) -> Iterator[Frame]:
    """The frames, with one warning when the first has colour (only its luminance is used)."""
    for frame in frames:
        if frame.index == 0 and not is_grayscale(frame.rgb):
            warnings.warn(f"{Path(source).name}: a colour video; only its luminance is used", UserWarning,
                          stacklevel=4)
        yield frame
