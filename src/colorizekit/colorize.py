"""Colorizing photos at their full resolution: the `Colorizer` API and batch colorizing of files.

Method (as richzhang/colorization and other full-resolution colorizers do): resize the grayscale
photo to a working size (`size` on the short side, rounded to what the model needs), predict the
chroma (CIE ab) there, upsample the chroma to the photo's full size, and join it with the photo's
own full-resolution luminance. The output therefore has exactly the input's width, height and CIE L;
colours outside the sRGB gamut are clipped.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from colorizekit import color
from colorizekit.backends import load_backend
from colorizekit.defaults import DEFAULT_BACKEND
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
    to_uint8,
)
from colorizekit.imageio.find import find_files
from colorizekit.models import get_model_info
from colorizekit.video.files import VIDEO_SUFFIXES, is_video_path, output_suffix_and_encoder

_STRIP_ROWS = 512  # rows joined and converted at a time, to bound memory on very large photos
_PACKAGE_DIR = os.path.realpath(os.path.dirname(__file__)) + os.sep  # colorizekit's own files: .../colorizekit/

ImageInput = Image.Image | np.ndarray | str | os.PathLike | bytes
_VIDEO = "video"  # the format of a job whose input is a video (colorizekit.video)


def working_shape(height: int, width: int, size: int, multiple: int) -> tuple[int, int]:
    """The (h, w) at which a photo of `height` x `width` is predicted: short side about `size`,
    aspect ratio kept, both sides rounded to the nearest multiple of `multiple` (at least one)."""
    if height < 1 or width < 1:
        raise ValueError(f"image has no pixels ({width} x {height})")
    if size < multiple:
        raise ValueError(f"working size {size} is smaller than the model's size multiple {multiple}")
    scale = size / min(height, width)
    return (max(multiple, round(height * scale / multiple) * multiple),
            max(multiple, round(width * scale / multiple) * multiple))


class Colorizer:
    """Colorize grayscale photos with a trained model.

    `Colorizer(model=None, weights=None, device=None, size=None, batch_size=4, precision="auto",
    vividness=None, saturation=None, backend="torch")`:
    - model: registry name; None means the model the weights file is for, or `DEFAULT_MODEL`;
    - weights: a `model.safetensors` exported by `colorizekit train` or a training checkpoint (or, for the
      onnx backend, a `.onnx` file from `colorizekit export`); None means the weights that ship with
      colorizekit for `model` (WeightsError when none ship). A file for another model than `model` is
      refused (`checkpoint.resolve_weights` decides);
    - device: "cpu", "cuda", ...; None picks CUDA when present (the onnx backend runs on the CPU);
    - size: working size (short side) at which colour is predicted; None: the weights' measured default
      (their model card's `default_size`), else `defaults.DEFAULT_SIZE`;
    - batch_size: photos predicted together;
    - precision: "auto" (bf16 autocast where the hardware runs it natively, else fp32), "bf16" or "fp32".
      Colour conversions always run in fp32; only the network runs in bf16;
    - vividness: for models with a bins head, from 0 (muted: the predicted distribution's mean) to 1
      (vivid: the mean's hue, more chroma; more vividness never less colour); None: the weights' measured default, else
      `defaults.DEFAULT_VIVIDNESS`. Other models refuse a vividness (ValueError);
    - saturation: for every model, a factor on the predicted chroma (CIE ab), keeping hue: 0 gives gray,
      1 the colour as predicted, up to `defaults.MAX_SATURATION`; None: the weights' measured default
      (their model card's `default_saturation`), else 1;
    - backend: "torch" (PyTorch) or "onnx" (onnxruntime on the CPU, in fp32; needs `colorizekit[onnx]`;
      weights that are not `.onnx` are exported on first use into a cache). See `colorizekit.backends`.

    Call it on a PIL image, a numpy array or a path; it returns an RGB PIL image of the same size.
    """

    def __init__(self, model: str | None = None, weights: str | os.PathLike | None = None,
                 device: str | torch.device | None = None, size: int | None = None, batch_size: int = 4,
                 precision: str = "auto", vividness: float | None = None, saturation: float | None = None,
                 backend: str = DEFAULT_BACKEND) -> None:
        self.backend = load_backend(backend, model, weights, device, precision)
        self.model_name: str = self.backend.model_name
        self.info = get_model_info(self.model_name)
        self.mode = self.info.mode
        self.weights_path: Path = self.backend.weights_path
        self.metadata = self.backend.metadata
        if vividness is None:
            vividness = self.backend.default_vividness
        self.vividness: float | None = vividness  # the vividness used (bins models); None for other models
        self.decode_options = self.mode.decode_options(vividness)  # e.g. the bins model's vividness
        if saturation is None:
            saturation = self.backend.default_saturation
        self.saturation: float = color.check_saturation(saturation)  # the factor on the predicted chroma
        self.device = self.backend.device
        self.model = self.backend.model  # the PyTorch module (torch backend), else None
        self.dtype, self.precision_reason = self.backend.dtype, self.backend.precision_reason
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if size is None:
            size = self.backend.default_size
        working_shape(size, size, size, self.info.size_multiple)  # validates size
        self.size: int = size
        self.batch_size = batch_size
        self._told_about_colour = False

    def __repr__(self) -> str:
        return (f"Colorizer(model={self.model_name!r}, weights='{self.weights_path}', backend={self.backend.name!r}, "
                f"device='{self.device}', size={self.size}, precision={str(self.dtype).removeprefix('torch.')})")

    # -- core -------------------------------------------------------------------------------------

    @torch.inference_mode()
    def predict_ab(self, gray: torch.Tensor, vividness: float | None = None) -> torch.Tensor:
        """Gray (N, 1, h, w) in [0, 1] at a working size the model accepts -> ab (N, 2, h', w') in Lab
        units, at the model's output resolution (h / output_stride). `vividness` overrides the
        colorizer's for this call (bins models)."""
        options = self.decode_options if vividness is None else self.mode.decode_options(vividness)
        return self.backend.predict(self.mode.input_from_gray(gray.to(self.device, torch.float32)), options)

    def colorize_gray(self, grays: Sequence[np.ndarray], vividness: float | None = None,
                      saturation: float | None = None) -> list[np.ndarray]:
        """Colorize grayscale photos.

        Each input is (H, W) float in [0, 1], read as the sRGB gray (g, g, g); each output is
        (H, W, 3) float32 sRGB in [0, 1] of the same size whose CIE L equals the input's.
        Photos sharing a working size are predicted in batches of `batch_size`. `vividness`
        (bins models; others refuse it) and `saturation` override the colorizer's for this call.
        """
        saturation = self.saturation if saturation is None else color.check_saturation(saturation)
        arrays = [self._check_gray(g, i) for i, g in enumerate(grays)]
        shapes = [working_shape(*a.shape, self.size, self.info.size_multiple) for a in arrays]
        results: list[np.ndarray | None] = [None] * len(arrays)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, s in enumerate(shapes):
            groups.setdefault(s, []).append(i)
        for members in groups.values():
            for start in range(0, len(members), self.batch_size):
                chunk = members[start:start + self.batch_size]
                _, ab = self.predict_chroma([arrays[i] for i in chunk], vividness, saturation)
                for j, i in enumerate(chunk):
                    results[i] = join_luminance(arrays[i], ab[j])
        return results  # type: ignore[return-value]

    def predict_chroma(self, grays: Sequence[np.ndarray], vividness: float | None = None,
                       saturation: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Gray photos of one size, (H, W) float32 in [0, 1], predicted together -> (their gray at the
        working size, (N, 1, h, w), and the predicted chroma, (N, 2, h', w') in Lab units at the model's
        output resolution, saturation applied), on the CPU. `join_luminance` makes a photo of each."""
        saturation = self.saturation if saturation is None else color.check_saturation(saturation)
        shape = working_shape(*grays[0].shape, self.size, self.info.size_multiple)
        small = torch.cat([_resize(torch.from_numpy(g)[None, None], shape) for g in grays])
        return small, color.saturate(self.predict_ab(small, vividness).cpu(), saturation)

    def colorize_loaded(self, images: Sequence[LoadedImage], vividness: float | None = None,
                        saturation: float | None = None) -> list[np.ndarray]:
        """`colorize_gray` on loaded images (their luminance); tells the user once when a photo had colour."""
        if any(im.is_color for im in images) and not self._told_about_colour:
            self._told_about_colour = True
            first = next(im.name for im in images if im.is_color)
            warnings.warn(f"{first}: a colour photo; only its luminance is used (reported once)", UserWarning,
                          stacklevel=_outside_stacklevel())
        return self.colorize_gray([im.gray for im in images], vividness, saturation)

    def __call__(self, image: ImageInput, vividness: float | None = None,
                 saturation: float | None = None) -> Image.Image:
        """Colorize one photo (PIL image, numpy array, path or encoded bytes) -> 8-bit RGB PIL image, same
        size; `vividness` and `saturation` override the colorizer's for this call."""
        loaded = load_image(image)
        rgb = self.colorize_loaded([loaded], vividness, saturation)[0]
        return Image.fromarray(to_uint8(rgb), mode="RGB")

    @staticmethod
    def join(gray: np.ndarray, ab: torch.Tensor) -> np.ndarray:
        """The full-resolution join: gray (H, W) in [0, 1] and predicted ab (2, h, w) -> RGB (H, W, 3)
        float32 in [0, 1] with the gray's CIE L (`join_luminance`)."""
        return join_luminance(gray, ab)

    # -- video (colorizekit.video; needs the `video` extra) ----------------------------------------

    def colorize_video(self, source: str | os.PathLike, output: str | os.PathLike, *, temporal: str = "flow",
                       crf: int | None = None, vividness: float | None = None, saturation: float | None = None,
                       progress: bool = True):
        """Colorize the video file `source` into `output`: same size, frame rate, frame count and duration,
        audio copied; `temporal` "flow" (consistent colour along optical flow) or "none" (frame by frame).
        Returns a `VideoResult`; see `colorizekit.video.pipeline.colorize_video`."""
        from colorizekit.video.files import DEFAULT_CRF
        from colorizekit.video.pipeline import colorize_video

        return colorize_video(self, source, output, temporal=temporal, crf=DEFAULT_CRF if crf is None else crf,
                              vividness=vividness, saturation=saturation, progress=progress)

    @staticmethod
    def _check_gray(g: np.ndarray, index: int) -> np.ndarray:
        a = np.asarray(g)
        if a.ndim != 2:
            raise ValueError(f"gray image {index}: expected shape (H, W), got {a.shape}")
        if a.shape[0] < 1 or a.shape[1] < 1:
            raise ValueError(f"gray image {index}: image has no pixels ({a.shape[1]} x {a.shape[0]})")
        return np.ascontiguousarray(a, dtype=np.float32)


def _outside_stacklevel() -> int:
    """The `stacklevel` at which a warning raised by the function calling this names the first caller
    outside colorizekit (the user's script, not colorizekit's own lines), however deep the call came from.
    (Python 3.12's `warnings.warn(skip_file_prefixes=...)` does this; colorizekit supports 3.11.)"""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and os.path.realpath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


def _resize(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, *shape), bilinear, antialiased when shrinking."""
    if tuple(x.shape[-2:]) == shape:
        return x
    shrinking = shape[0] < x.shape[-2] or shape[1] < x.shape[-1]
    return F.interpolate(x, size=shape, mode="bilinear", align_corners=False, antialias=shrinking)


def join_luminance(gray: np.ndarray, ab: torch.Tensor) -> np.ndarray:
    """Full-resolution gray (H, W) in [0, 1] and predicted ab (2, h, w) -> RGB (H, W, 3) float32 in [0, 1].

    The ab is upsampled bilinearly to (H, W) and joined with the gray's CIE L, in strips of rows so
    that very large photos need little memory beyond the output itself.
    """
    height, width = gray.shape
    ab = ab.float()[None]
    # where the photo is smaller than the working size, shrink the ab first (antialiased), so the
    # strips below only ever upsample
    ab = _resize(ab, (min(ab.shape[-2], height), min(ab.shape[-1], width)))
    out = np.empty((height, width, 3), dtype=np.float32)
    gray_t = torch.from_numpy(np.ascontiguousarray(gray, dtype=np.float32))
    for top in range(0, height, _STRIP_ROWS):
        bottom = min(height, top + _STRIP_ROWS)
        lum = color.gray_to_l(gray_t[top:bottom][None])
        rgb = color.lab_to_rgb(torch.cat([lum, _upsample_rows(ab, height, width, top, bottom)], dim=0))
        out[top:bottom] = rgb.permute(1, 2, 0).numpy()
    return out


def _upsample_rows(ab: torch.Tensor, height: int, width: int, top: int, bottom: int) -> torch.Tensor:
    """Rows [top, bottom) of `ab` (1, 2, h, w), h <= height and w <= width, bilinearly upsampled to
    (height, width) as F.interpolate(align_corners=False) would give them, from the source rows they need."""
    h = ab.shape[-2]
    scale = h / height
    ys = ((torch.arange(top, bottom, dtype=torch.float64) + 0.5) * scale - 0.5).clamp(min=0)
    y0 = ys.floor().long().clamp(max=h - 1)
    y1 = (y0 + 1).clamp(max=h - 1)
    wy = (ys - y0).float().view(1, -1, 1)
    rows = ab[0, :, y0] * (1 - wy) + ab[0, :, y1] * wy  # (2, bottom - top, w)
    return F.interpolate(rows[None], size=(bottom - top, width), mode="bilinear", align_corners=False)[0]


# -- files ------------------------------------------------------------------------------------------

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
    profile; 16-bit inputs give 16-bit PNG or TIFF. Videos (`colorizekit.video`, after the photos)
    take `temporal` and `crf` (see `Colorizer.colorize_video`); one that breaks off is written as far
    as it goes and reported as failed too. Inputs are never overwritten; existing outputs are
    skipped unless `overwrite`. `on_error(input, reason)` is called for each failure as it happens, with
    the progress bar cleared (and drawn again after), so that what it prints gets a line of its own.
    """
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
        from colorizekit.video.pipeline import colorize_video_files

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
