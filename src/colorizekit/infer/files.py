"""Colorizing files: photos and videos named by files, folders or globs, written to an output folder
with their format, size, EXIF and ICC profile kept; one bad file is reported and the rest go on.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, TypeVar

import numpy as np

from colorizekit.imageio import (
    IMAGE_SUFFIXES,
    ImageError,
    LoadedImage,
    format_of_suffix,
    load_image,
    output_bit_depth,
    output_format,
    output_suffix,
    save_image,
)
from colorizekit.imageio.find import find_files
from colorizekit.infer.colorizer import Colorizer
from colorizekit.infer.video.files import VIDEO_SUFFIXES, is_video_path, output_suffix_and_encoder

_VIDEO = "video"  # the format of a job whose input is a video (colorizekit.infer.video)

@dataclass
class ColorizeReport:
    """What a batch run did."""

    done: list[Path] = field(default_factory=list)  # outputs written
    skipped: list[Path] = field(default_factory=list)  # outputs that existed already (no --overwrite)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (input, one-line reason)

    def summary(self) -> str:
        """One line: done, skipped, failed."""
        return f"{len(self.done)} done, {len(self.skipped)} skipped, {len(self.failed)} failed"


@dataclass(frozen=True)
class _Job:
    source: Path  # input photo
    output: Path  # where its colour version goes
    format: str  # the output's format (Pillow name)


_JobT = TypeVar("_JobT")


def output_for(source: PurePath, relative: PurePath, out_dir: PurePath,
               format: str | None = None) -> tuple[PurePath, str]:
    """Where the colour version of `source` goes and its format: `out_dir / relative` with the suffix of
    `imageio.output_format`'s format (`format` when given, else the input's; PNG for BMP, GIF and
    unknown suffixes). Works on local paths and on the posix paths of other filesystems alike."""
    fmt = output_format(format_of_suffix(source), format)
    return (out_dir / relative).with_suffix(output_suffix(fmt, source.suffix)), fmt


def plan_outputs(inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
                 format: str | None = None) -> tuple[list[_Job], list[tuple[str, str]]]:
    """Map inputs (files, folders, globs) to output paths in `out_dir`.

    A folder's photos keep their paths relative to it; a file keeps its name (`output_for` gives the
    output's name and format). Returns the jobs and (input, reason) for inputs that cannot be done:
    nothing matched, or the output would overwrite an input or another output (`refuse_clashes`).
    """
    out_dir = Path(out_dir)
    if format is not None:
        output_format(None, format)  # ValueError naming the output formats
    jobs: list[_Job] = []
    problems: list[tuple[str, str]] = []
    for item in inputs:
        paths, messages = find_files([item], IMAGE_SUFFIXES | VIDEO_SUFFIXES, "photos or videos")
        problems += [(str(item), m) for m in messages]
        root = Path(item) if Path(item).is_dir() else None
        for p in paths:
            rel = p.relative_to(root) if root is not None else Path(p.name)
            if is_video_path(p):  # a video keeps its container where that holds H.264 (video.files)
                jobs.append(_Job(p, (out_dir / rel).with_suffix(output_suffix_and_encoder(p)[0]), _VIDEO))
                continue
            output, fmt = output_for(p, rel, out_dir, format)
            jobs.append(_Job(p, Path(output), fmt))
    kept, refused = refuse_clashes(jobs, key=lambda path: path.resolve())
    return kept, problems + refused


def refuse_clashes(jobs: Sequence[_JobT], key: Callable[[Any], Hashable]) -> tuple[list[_JobT], list[tuple[str, str]]]:
    """Jobs (with `.source` and `.output`, in order) less the ones that cannot be done, and why.

    A photo named twice is done once (silently); a job whose output would overwrite an input, or is
    already another job's output, is refused with a reason. `key` says when two paths are the same file.
    """
    sources = {key(j.source) for j in jobs}
    seen: dict[Hashable, Any] = {}  # output key -> the key of the source that writes it
    kept_sources: set[Hashable] = set()
    kept, problems = [], []
    for job in jobs:
        target, source = key(job.output), key(job.source)
        if source in kept_sources:
            continue  # the same photo named twice
        if target in sources:
            problems.append((str(job.source), f"output {job.output} would overwrite an input; choose another -o"))
        elif target in seen:
            problems.append((str(job.source), f"output {job.output} is also the output of {seen[target]}"))
        else:
            seen[target] = source
            kept_sources.add(source)
            kept.append(job)
    return kept, problems


def side_by_side(gray: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """Gray (H, W) and colour (H, W, 3) -> one (H, 2W, 3) picture: grayscale | colour."""
    return np.concatenate([np.repeat(gray[..., None], 3, axis=2).astype(np.float32), rgb], axis=1)


def colorize_files(colorizer: Colorizer, inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike = "colorized",
                   *, format: str | None = None, quality: int = 95, overwrite: bool = False,
                   side_by_side_too: bool = False, progress: bool | None = None,
                   on_error: Callable[[str, str], None] | None = None, temporal: str = "flow",
                   crf: int | None = None) -> ColorizeReport:
    """Colorize photos and videos to files in `out_dir`; one bad file is reported and the rest go on.

    Outputs keep the input's size, format (unless `format`; BMP and GIF give PNG), EXIF and ICC
    profile; 16-bit inputs give 16-bit PNG or TIFF. Videos (`colorizekit.infer.video`, after the photos)
    take `temporal` and `crf` (see `Colorizer.colorize_video`); one that breaks off is written as far
    as it goes and reported as failed too. Inputs are never overwritten; existing outputs are
    skipped unless `overwrite`. `on_error(input, reason)` is called for each failure as it happens, with
    the progress bar cleared (and drawn again after), so that what it prints gets a line of its own.
    """
    # over 60 lines only by its docstring: the public API documents every argument here
    from tqdm import tqdm

    report = ColorizeReport()

    def fail(source: str, reason: str) -> None:
        report.failed.append((source, reason))
        if on_error is not None:
            with tqdm.external_write_mode(file=sys.stderr):
                on_error(source, reason)

    jobs, problems = plan_outputs(inputs, out_dir, format)
    for source, reason in problems:
        fail(source, reason)
    todo, videos = [], []
    for job in jobs:
        if job.output.exists() and not overwrite:
            report.skipped.append(job.output)
        else:
            (videos if job.format == _VIDEO else todo).append(job)
    show = progress if progress is not None else len(todo) > 3
    bar = tqdm(total=len(todo), unit="photo", disable=not show, desc="colorizing")
    for start in range(0, len(todo), colorizer.batch_size):
        batch: list[tuple[_Job, LoadedImage]] = []
        for job in todo[start:start + colorizer.batch_size]:
            try:
                batch.append((job, load_image(job.source)))
            except ImageError as exc:
                fail(str(job.source), str(exc))
                bar.update(1)
        if not batch:
            continue
        outputs = colorizer.colorize_loaded([im for _, im in batch])
        for (job, im), rgb in zip(batch, outputs):
            reason = write_colorized(job.source, job.output, job.format, im, rgb, quality=quality,
                                     side_by_side_too=side_by_side_too)
            if reason is None:
                report.done.append(job.output)
            else:
                fail(str(job.source), reason)
            bar.update(1)
    bar.close()
    if videos:
        from colorizekit.infer.video.pipeline import colorize_video_files

        colorize_video_files(colorizer, [(j.source, j.output) for j in videos], report.done.append, fail,
                             temporal=temporal, crf=crf, progress=progress is not False)
    return report


def write_colorized(source: PurePath, output: PurePath, fmt: str, image: LoadedImage, rgb: np.ndarray, *,
                    quality: int = 95, side_by_side_too: bool = False, save: Callable[..., None] = save_image
                    ) -> str | None:
    """Write one colorized photo `rgb` of `image` (read from `source`) to `output` in `fmt`, with the
    source's EXIF and ICC profile, 16-bit where `imageio.output_bit_depth` says, and with
    `side_by_side_too` also `<name>_side_by_side` (8-bit). `save(path, rgb, format=, bit_depth=, exif=,
    icc_profile=, quality=)` writes one file (`save_image`, atomically, by default). Returns None, or
    the one-line reason the output could not be written."""
    def write(path: PurePath, pixels: np.ndarray, bit_depth: int) -> None:
        save(path, pixels, format=fmt, bit_depth=bit_depth, exif=image.exif, icc_profile=image.icc_profile,
             quality=quality)

    try:
        write(output, rgb, output_bit_depth(image.bit_depth, fmt))
        if side_by_side_too:
            write(output.with_name(f"{output.stem}_side_by_side{output.suffix}"), side_by_side(image.gray, rgb), 8)
    except (OSError, ValueError) as exc:
        return f"{source.name}: cannot write {output}: {exc}"
    return None
