"""Evaluating and comparing colorizers on colour photos: `evaluate` and `compare` (what they write is in
`evaluation_report`).

Each colour photo is turned into grayscale, colorized and compared with its original. The grayscale
is the original's own CIE L with zero chroma (gray g = `color.l_to_gray(L)`), so under the `full`
protocol the colorized photo keeps the original's L (up to sRGB gamut clipping) and the metrics judge
the chroma only.

Protocols:
- `full`: every photo at its own resolution through `Colorizer.colorize_gray` (colour predicted at
  the working size, upsampled, joined with the full-resolution L).
- `design`: the design's test: the original squashed to 128 x 128 (PIL bicubic, 8-bit), model input
  `mode.input_from_rgb(rgb128)`, output `mode.output_to_rgb(model(x), x)` (a bins head decoded at the
  colorizer's vividness; its chroma then scaled by the colorizer's saturation), compared with the
  128 x 128 original. (For an `rgb` model the input is then
  luma gray and the output's L is the model's own, so luminance errors count too.)

Every result has three rows per photo: `baseline` (the grayscale input itself, chroma zero),
`colorized` (the model's output) and `original` (only the no-reference metrics CF, UCIQE, UIQM).
See docs/metrics.md for the metrics and how set means treat an infinite PSNR.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorizekit import color
from colorizekit.color import bins
from colorizekit.evaluate import metrics
from colorizekit.evaluate.figures import thumbnail
from colorizekit.evaluate.results import (
    PREVIEW_HEIGHT,
    Comparison,
    EvaluationResult,
    FailedImage,
    ImageResult,
    MetricValues,
    Preview,
    SetSummary,
    summarize_rows,
)
from colorizekit.imageio import to_uint8
from colorizekit.infer.backends import DEFAULT_BACKEND
from colorizekit.models import get_model_info
from colorizekit.weights import weights_by_model

PROTOCOLS = ("full", "design")
DESIGN_SIZE = 128  # the design's square test size
_METRIC_PIXELS = 500_000  # photos scored together up to this many pixels (larger batches are memory-bound)
PSNR_NOTE = ("PSNR is +inf for an exact match; set means are taken over the finite values and the "
             "number of infinite ones is given in psnr_infinite.")


# -- the work -----------------------------------------------------------------------------------------

def _make_colorizer(model: str | None, weights, device, size: int | None, batch_size: int,
                    vividness: float | None = None, saturation: float | None = None, backend: str = DEFAULT_BACKEND):
    from colorizekit.infer.colorizer import Colorizer

    return Colorizer(model=model, weights=weights, device=device, size=size, batch_size=batch_size,
                     vividness=vividness, saturation=saturation, backend=backend)


def check_protocol(protocol: str, colorizer) -> None:
    """ValueError, before any work, for a protocol (one of PROTOCOLS, which `evaluate` checks) that
    `colorizer` cannot be scored under."""
    if protocol != "design":
        return
    multiple = colorizer.info.size_multiple
    if DESIGN_SIZE % multiple:
        raise ValueError(f"model {colorizer.model_name!r} needs sides that are multiples of {multiple}; "
                         f"the design protocol's {DESIGN_SIZE} x {DESIGN_SIZE} is not")
    if colorizer.backend.name != "torch" and not colorizer.mode.joins_input_l:
        raise ValueError(f"the design protocol scores {colorizer.model_name}'s own RGB output, which its "
                         f"{colorizer.backend.name} export does not give (it gives ab); use the torch backend")


def find_photos(source: str | os.PathLike | Sequence[str | os.PathLike],
                limit: int | None) -> tuple[list[tuple[str, Path]], list[FailedImage]]:
    """(name, path) of the photos to evaluate, names relative to the folder given, and the inputs
    that matched nothing."""
    from colorizekit.imageio import find_images

    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    paths, problems = find_images(items)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        paths = paths[:limit]
    roots = [Path(s) for s in items if Path(s).is_dir()]
    named = []
    for p in paths:
        root = next((r for r in roots if p.is_relative_to(r)), None)
        named.append(((p.relative_to(root) if root is not None else Path(p.name)).as_posix(), p))
    return named, [FailedImage(m.split(":", 1)[0], m) for m in problems]


def _to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) float -> (1, 3, H, W) float64."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].double()


def _gray_of(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) colour -> (N, 1, H, W): the gray with the same CIE L and zero chroma."""
    return color.l_to_gray(color.rgb_to_lab(rgb)[:, :1])


def _design_resize(rgb: np.ndarray) -> torch.Tensor:
    """The design's test input: the 8-bit original squashed to 128 x 128 with PIL bicubic -> (1, 3, 128, 128)."""
    small = Image.fromarray(to_uint8(rgb), mode="RGB").resize((DESIGN_SIZE, DESIGN_SIZE), Image.Resampling.BICUBIC)
    return _to_tensor(np.asarray(small, dtype=np.float64) / 255.0)


@torch.inference_mode()
def _design_colorize(colorizer, originals: list[torch.Tensor]) -> list[torch.Tensor]:
    """The design protocol's colorization of 128 x 128 originals (1, 3, 128, 128) -> same shape, float64:
    the torch model's output in fp32 as the design computes it; through another backend (which gives ab),
    that ab joined with the input's L, the same image for the modes that join it (`check_protocol`)."""
    mode, out = colorizer.mode, []
    for start in range(0, len(originals), colorizer.batch_size):
        rgb = torch.cat(originals[start:start + colorizer.batch_size]).to(colorizer.device, torch.float32)
        x = mode.input_from_rgb(rgb)
        if colorizer.backend.name == "torch":
            rgb = mode.output_to_rgb(colorizer.model(x), x, **colorizer.decode_options)
        else:
            rgb = mode.ab_to_rgb(colorizer.backend.predict(x, colorizer.decode_options).to(x.device), x)
        rgb = color.saturate_rgb(rgb, colorizer.saturation)
        out += list(rgb.double().cpu().split(1))
    return out


@dataclass
class EvalPhoto:
    """One photo as evaluation reads it: its original at evaluation size and the gray made from it."""

    name: str
    path: Path
    width: int
    height: int
    original: torch.Tensor  # (1, 3, h, w) float64 at evaluation size
    gray: torch.Tensor  # (1, 1, h, w) float64
    colorized: torch.Tensor | None = None  # (1, 3, h, w) float64


def _chunks_by_shape(items: list[EvalPhoto]) -> Iterator[list[EvalPhoto]]:
    """Items of equal evaluation size, grouped up to `_METRIC_PIXELS` pixels per group."""
    groups: dict[tuple[int, int], list[EvalPhoto]] = {}
    for it in items:
        groups.setdefault(tuple(it.original.shape[-2:]), []).append(it)
    for shape, members in groups.items():
        per = max(1, _METRIC_PIXELS // (shape[0] * shape[1]))
        for start in range(0, len(members), per):
            yield members[start:start + per]


def _values(batch: metrics.MetricBatch, i: int) -> MetricValues:
    return MetricValues(**batch.row(i))


def _score(items: list[EvalPhoto], preview_height: int | None) -> list[ImageResult]:
    """Metrics of the baseline, colorized and original rows for each item (vectorised per size group)."""
    results: dict[int, ImageResult] = {}
    index = {id(it): k for k, it in enumerate(items)}
    for group in _chunks_by_shape(items):
        original = torch.cat([it.original for it in group])
        gray3 = torch.cat([it.gray for it in group]).expand(-1, 3, -1, -1)
        colorized = torch.cat([it.colorized for it in group])
        reference = metrics.prepare_reference(original)  # the originals' side, computed once for both rows
        baseline = metrics.compute_metrics(gray3, reference)
        scored = metrics.compute_metrics(colorized, reference)
        for k, it in enumerate(group):
            preview = None
            if preview_height:
                def pic(t: torch.Tensor) -> np.ndarray:
                    return thumbnail(t[0].permute(1, 2, 0).float().numpy(), min(preview_height, t.shape[-2]))
                preview = Preview(pic(it.original), pic(it.colorized), pic(it.gray.expand(-1, 3, -1, -1)))
            results[index[id(it)]] = ImageResult(
                name=it.name, path=it.path, width=it.width, height=it.height,
                eval_width=it.original.shape[-1], eval_height=it.original.shape[-2],
                baseline=_values(baseline, k), colorized=_values(scored, k), original=_values(reference.metrics, k),
                preview=preview)
    return [results[k] for k in range(len(items))]


def load_photos(batch: Sequence[tuple[str, Path]], protocol: str, failed: list[FailedImage]) -> list[EvalPhoto]:
    """The colour photos of `batch` ((name, path) pairs) as items at evaluation size; a photo that cannot
    be read, has no colour or is too small for SSIM is added to `failed` instead."""
    from colorizekit.imageio import ImageError, load_image

    items: list[EvalPhoto] = []
    for name, path in batch:
        try:
            loaded = load_image(path)
        except ImageError as exc:
            failed.append(FailedImage(str(path), str(exc)))
            continue
        if not loaded.is_color or loaded.rgb is None:
            failed.append(FailedImage(str(path), f"{name}: a grayscale photo: no colour to compare with"))
            continue
        height, width = loaded.rgb.shape[:2]
        original = _design_resize(loaded.rgb) if protocol == "design" else _to_tensor(loaded.rgb)
        if min(original.shape[-2:]) < 11:
            failed.append(FailedImage(str(path), f"{name}: {width} x {height} is too small (SSIM needs 11 x 11)"))
            continue
        items.append(EvalPhoto(name, path, width, height, original, _gray_of(original)))
    return items


def _colorize_items(colorizer, items: list[EvalPhoto], protocol: str) -> None:
    """Set each item's `colorized` from its grayscale, as `protocol` says."""
    if protocol == "design":
        outputs = _design_colorize(colorizer, [it.original for it in items])
    else:
        outputs = [_to_tensor(o) for o in colorizer.colorize_gray([it.gray[0, 0].float().numpy() for it in items])]
    for it, out in zip(items, outputs):
        it.colorized = out


def _notes(protocol: str) -> tuple[str, ...]:
    """The conventions a result under `protocol` is printed with."""
    notes = [PSNR_NOTE, "The grayscale input is each original's CIE L with zero chroma; baseline = that grayscale "
                        "compared with the original."]
    if protocol == "design":
        notes.append(f"design protocol: originals squashed to {DESIGN_SIZE} x {DESIGN_SIZE} (PIL bicubic); "
                     "--size does not apply.")
    return tuple(notes)


def evaluate(source: str | os.PathLike | Sequence[str | os.PathLike], model: str | None = None, *,
             weights: str | os.PathLike | None = None, size: int | None = None, protocol: str = "full",
             batch_size: int = 4, device: str | torch.device | None = None, limit: int | None = None,
             progress: bool | None = None, preview_height: int | None = PREVIEW_HEIGHT,
             colorizer=None, vividness: float | None = None, saturation: float | None = None,
             backend: str = DEFAULT_BACKEND) -> EvaluationResult:
    """Colorize the grayscale version of each colour photo in `source` and compare it with the photo.

    source: a folder (searched recursively), a file, a glob, or a list of them.
    model, weights, size, batch_size, device, vividness, saturation, backend: as for `colorizekit.Colorizer`
        (or pass a ready `colorizer`, which then wins); weights=None uses the shipped weights; a vividness
        is refused for a model without a bins head. The result records the vividness and saturation used.
    protocol: "full" (each photo at its own resolution) or "design" (128 x 128, as the design's test).
    limit: evaluate only the first `limit` photos (in sorted order).
    preview_height: keep thumbnails this high for report grids (None: keep none).

    Photos that cannot be read, or that have no colour, are listed in `failed` and skipped.
    Raises ValueError (WeightsError included) for bad arguments or unusable weights.
    """
    # over 60 lines only by its docstring: the public API documents every argument here
    from tqdm import tqdm

    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    if colorizer is None:
        colorizer = _make_colorizer(model, weights, device, size, batch_size, vividness, saturation, backend)
    check_protocol(protocol, colorizer)
    found, failed = find_photos(source, limit)
    if not found and not failed:
        raise ValueError(f"{source}: no images found")

    show = progress if progress is not None else len(found) > 3
    bar = tqdm(total=len(found), unit="photo", disable=not show, desc=f"evaluating {colorizer.model_name}")
    results: list[ImageResult] = []
    colorize_s = metric_s = 0.0
    step = colorizer.batch_size
    pending: list[EvalPhoto] = []  # colorized, waiting to be scored
    for start in range(0, len(found), step):
        t0 = time.perf_counter()
        items = load_photos(found[start:start + step], protocol, failed)
        if items:
            _colorize_items(colorizer, items, protocol)
            pending += items
        t1 = time.perf_counter()
        colorize_s += t1 - t0
        last = start + step >= len(found)
        if pending and (last or sum(it.original[0, 0].numel() for it in pending) >= _METRIC_PIXELS):
            results += _score(pending, preview_height)  # scored together: fewer, larger tensor operations
            pending = []
            metric_s += time.perf_counter() - t1
        bar.update(len(found[start:start + step]))
    bar.close()
    return EvaluationResult(
        model=colorizer.model_name,
        weights=str(colorizer.weights_path),
        protocol=protocol,
        size=DESIGN_SIZE if protocol == "design" else colorizer.size,
        device=str(colorizer.device),
        images=tuple(results),
        failed=tuple(failed),
        baseline=summarize_rows([r.baseline for r in results]),
        colorized=summarize_rows([r.colorized for r in results]),
        original=summarize_rows([r.original for r in results]),
        not_computed=dict(metrics.NOT_COMPUTED),
        notes=_notes(protocol),
        colorize_seconds=colorize_s,
        metric_seconds=metric_s,
        vividness=colorizer.vividness,
        saturation=colorizer.saturation,
    )


# -- comparing models ---------------------------------------------------------------------------------

def compare(source: str | os.PathLike | Sequence[str | os.PathLike], models: Sequence[str], *,
            weights: Mapping[str, str | os.PathLike] | Iterable[str | os.PathLike] | None = None,
            size: int | None = None, protocol: str = "full", batch_size: int = 4,
            device: str | torch.device | None = None, limit: int | None = None,
            progress: bool | None = None, preview_height: int | None = PREVIEW_HEIGHT,
            vividness: float | None = None, saturation: float | None = None,
            backend: str = DEFAULT_BACKEND) -> Comparison:
    """`evaluate` each model on the same photos (every model through `backend`).

    weights: {model: file}, or a list of files (their model read from each) or "NAME=FILE" items, as
        `weights.weights_by_model` reads them; a model without one uses its shipped weights.
    vividness: applies to the models with a bins head and is ignored for the others (None: each
        model's default).
    saturation: applies to every model (None: each model's default).
    Raises ValueError for an empty or repeated model list, or weights for a model not compared."""
    if not models:
        raise ValueError("compare needs at least one model")
    if len(set(models)) != len(models):
        raise ValueError(f"a model is named twice in {list(models)}")
    if vividness is not None:
        bins.check_vividness(vividness)  # ValueError for one out of range, whichever models take it
    weights = weights_by_model(weights)
    unknown = set(weights) - set(models)
    if unknown:
        raise ValueError(f"weights given for {sorted(unknown)}, which are not among the models {list(models)}")
    colorizers = [_make_colorizer(m, weights.get(m), device, size, batch_size,
                                  vividness if get_model_info(m).mode.supports_vividness else None, saturation,
                                  backend)
                  for m in models]  # fail early
    for c in colorizers:
        check_protocol(protocol, c)
    return Comparison(tuple(
        evaluate(source, protocol=protocol, limit=limit, progress=progress, preview_height=preview_height,
                 colorizer=c) for c in colorizers))


__all__ = [
    "Comparison", "EvalPhoto", "EvaluationResult", "FailedImage", "ImageResult", "MetricValues", "PROTOCOLS",
    "Preview", "SetSummary", "compare", "evaluate", "find_photos", "load_photos", "summarize_rows",
]
