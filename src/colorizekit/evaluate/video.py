"""Evaluating video colorization on colour videos: each frame's luminance is colorized with and
without temporal consistency (one model pass serves both) and scored against the original.

Per video and row (`none`: frame by frame; the temporal method, e.g. `flow`; `original`: the
colour video itself, for reference): the mean per-frame CIEDE2000 and PSNR against the original
(`colorizekit.evaluate.metrics`), CDC and the mean flow-warped |Δab| between consecutive frames
(`colorizekit.evaluate.video_metrics`). The flow for the warped |Δab| is estimated on the original frames'
gray at full resolution with DIS's "medium" preset (the method itself uses "fast" at the working
resolution), and the mask keeps the pixels whose reliability (`temporal.flow_reliability`) is at
least MASK_RELIABILITY; a video's figure is the mean over all masked pixels of all frame pairs.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from colorizekit import color
from colorizekit.evaluate import metrics, video_metrics
from colorizekit.imageio.atomic import atomic_write_text
from colorizekit.imageio.find import find_files
from colorizekit.imageio.pixels import is_grayscale
from colorizekit.infer.video.files import VIDEO_SUFFIXES, VideoError, VideoErrorKind, require_video_extra
from colorizekit.infer.video.io import VideoReader
from colorizekit.infer.video.pipeline import colorize_frames
from colorizekit.infer.video.temporal import (
    FlowEstimator,
    Propagator,
    TemporalConfig,
    flow_reliability,
    to_uint8_gray,
)
from colorizekit.version import __version__

SCORES = ("ciede2000", "psnr", "cdc", "warped_ab")
MASK_RELIABILITY = 0.5  # pixels at least this reliable count in the warped |Δab|
ORIGINAL = "original"


@dataclass(frozen=True)
class RowScores:
    """One row's figures on one video (or their mean over videos); None where they do not apply."""

    ciede2000: float | None  # mean per-frame CIEDE2000 against the original
    psnr: float | None  # mean per-frame PSNR (dB) against the original (finite frames only)
    cdc: float | None  # colour distribution consistency (video_metrics.cdc)
    warped_ab: float | None  # mean flow-warped |Δab| between consecutive frames, Lab units


@dataclass(frozen=True)
class VideoScore:
    """The figures of one video."""

    name: str  # path relative to the folder evaluated (or the file name)
    path: Path
    width: int
    height: int
    frames: int  # frames scored
    fps: float
    cuts: tuple[int, ...]  # frames the method started a new shot at
    rows: dict[str, RowScores]  # "none", the temporal method's name, "original"
    stopped: str | None = None  # where a damaged video broke off


@dataclass(frozen=True)
class VideoEvaluation:
    """What `evaluate_videos` measured."""

    model: str
    weights: str
    size: int
    temporal: TemporalConfig
    vividness: float | None
    saturation: float
    videos: tuple[VideoScore, ...]
    failed: tuple[tuple[str, str], ...]  # (video, one-line reason)
    means: dict[str, RowScores] = field(default_factory=dict)  # row -> mean over the videos

    @property
    def rows(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(["none", self.temporal.method, ORIGINAL]))

    def table(self) -> str:
        """Markdown: one line per video and row, then the means."""
        lines = ["| video | row | frames | ΔE00 | PSNR | CDC | warped abs(Δab) |", "|---|---|---|---|---|---|---|"]
        for v in self.videos:
            for row in self.rows:
                lines.append(_table_line(v.name, row, v.frames, v.rows[row]))
        for row in self.rows:
            if row in self.means:
                lines.append(_table_line("**mean**", row, sum(v.frames for v in self.videos), self.means[row]))
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "model": self.model, "weights": self.weights, "size": self.size, "temporal": asdict(self.temporal),
            "vividness": self.vividness, "saturation": self.saturation, "rows": list(self.rows),
            "means": {row: asdict(s) for row, s in self.means.items()},
            "videos": [{"name": v.name, "width": v.width, "height": v.height, "frames": v.frames, "fps": v.fps,
                        "cuts": list(v.cuts), "stopped": v.stopped,
                        "rows": {row: asdict(s) for row, s in v.rows.items()}} for v in self.videos],
            "failed": [{"video": p, "reason": r} for p, r in self.failed],
            "notes": [f"warped abs(Δab): DIS 'medium' flow on the originals' gray, pixels with reliability >= "
                      f"{MASK_RELIABILITY}; CDC: a/b histograms, k in {list(video_metrics.CDC_STEPS)}"],
            "colorizekit_version": __version__,
        }


def _cell(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table_line(name: str, row: str, frames: int, s: RowScores) -> str:
    return (f"| {name} | {row} | {frames} | {_cell(s.ciede2000, 2)} | {_cell(s.psnr, 2)} | {_cell(s.cdc, 4)} "
            f"| {_cell(s.warped_ab, 3)} |")


class _Row:
    """Running figures of one row over one video's frames (only histograms are kept per frame)."""

    def __init__(self, scored: bool) -> None:
        self.scored = scored  # compared with the original (False for the original itself)
        self.ciede: list[float] = []
        self.psnr: list[float] = []
        self.histograms: list[torch.Tensor] = []
        self.difference_sum = 0.0
        self.difference_pixels = 0
        self._previous_ab: torch.Tensor | None = None

    def add(self, rgb: torch.Tensor, original: tuple[torch.Tensor, torch.Tensor], backward: np.ndarray | None,
            mask: np.ndarray | None) -> None:
        """rgb: (1, 3, H, W) float64 in [0, 1]; original: the original frame's (rgb, Lab) alike;
        backward, mask: the metric's flow to the previous frame and its mask (None for the first frame)."""
        lab = original[1] if rgb is original[0] else color.rgb_to_lab(rgb)
        if self.scored:
            self.ciede.append(metrics.ciede2000_lab(original[1], lab).mean().item())
            self.psnr.append(metrics.psnr(rgb, original[0]).item())
        ab = lab[0, 1:]
        self.histograms.append(video_metrics.ab_histograms(ab))
        if self._previous_ab is not None and mask is not None:
            m = torch.from_numpy(mask)
            mean = video_metrics.warped_ab_difference(self._previous_ab, ab, torch.from_numpy(backward), m)
            if mean is not None:
                pixels = int(m.sum())
                self.difference_sum += mean * pixels
                self.difference_pixels += pixels
        self._previous_ab = ab

    def scores(self) -> RowScores:
        finite = [p for p in self.psnr if math.isfinite(p)]
        return RowScores(
            ciede2000=float(np.mean(self.ciede)) if self.ciede else None,
            psnr=float(np.mean(finite)) if finite else None,
            cdc=video_metrics.cdc(self.histograms),
            warped_ab=self.difference_sum / self.difference_pixels if self.difference_pixels else None)


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 or float in [0, 1] -> (1, 3, H, W) float64 in [0, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].double()
    return t / 255 if rgb.dtype == np.uint8 else t


def score_video(colorizer, path: str | os.PathLike, config: TemporalConfig = TemporalConfig(),
                name: str | None = None) -> VideoScore:
    """Score one colour video (see the module docstring). Raises VideoError for a video that cannot be
    read or has no colour."""
    path = Path(path)
    flow = FlowEstimator("medium")
    rows = {"none": _Row(True), config.method: _Row(True), ORIGINAL: _Row(False)}
    propagator = Propagator(config)
    previous: np.ndarray | None = None
    with VideoReader(path) as reader:
        for cf in colorize_frames(colorizer, reader, config, propagator=propagator):
            if cf.frame.index == 0 and is_grayscale(cf.frame.rgb):
                raise VideoError(f"{path}: a grayscale video: there is no colour to compare with",
                                 VideoErrorKind.UNSUPPORTED)
            gray = to_uint8_gray(cf.gray)
            backward = mask = None
            if previous is not None:
                backward, forward = flow(gray, previous), flow(previous, gray)
                mask = flow_reliability(backward, forward, gray, previous) >= MASK_RELIABILITY
            previous = gray
            rgb = _tensor(cf.frame.rgb)
            original = (rgb, color.rgb_to_lab(rgb))
            rows["none"].add(_tensor(colorizer.join(cf.gray, cf.predicted)), original, backward, mask)
            if config.method != "none":
                rows[config.method].add(_tensor(colorizer.join(cf.gray, cf.ab)), original, backward, mask)
            rows[ORIGINAL].add(rgb, original, backward, mask)
        if reader.frames_read == 0:
            raise VideoError(reader.stopped or f"{path}: no frame could be decoded", VideoErrorKind.DAMAGED)
        info = reader.info
        return VideoScore(name=name or path.name, path=path, width=info.width, height=info.height,
                          frames=reader.frames_read, fps=float(info.fps), cuts=tuple(propagator.cuts),
                          rows={row: r.scores() for row, r in rows.items()}, stopped=reader.stopped)


def find_videos(source: str | os.PathLike | Sequence[str | os.PathLike]) -> tuple[list[tuple[str, Path]], list[str]]:
    """(name, path) of the videos in `source` (folders searched recursively, files, globs), names
    relative to the folder given, and one line per input that matched none."""
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    paths, problems = find_files(items, VIDEO_SUFFIXES, "videos")
    roots = [Path(s) for s in items if Path(s).is_dir()]
    named = []
    for p in paths:
        root = next((r for r in roots if p.is_relative_to(r)), None)
        named.append(((p.relative_to(root) if root is not None else Path(p.name)).as_posix(), p))
    return named, problems


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def evaluate_videos(source: str | os.PathLike | Sequence[str | os.PathLike], colorizer, *,
                    temporal: str | TemporalConfig = "flow", limit: int | None = None,
                    progress: bool = True) -> VideoEvaluation:
    """Score every colour video in `source` with `colorizer` (a `colorizekit.Colorizer`); videos that
    cannot be read or have no colour are listed in `failed` and the rest go on."""
    from tqdm import tqdm

    require_video_extra(str(source))
    config = temporal if isinstance(temporal, TemporalConfig) else TemporalConfig(method=temporal)
    found, problems = find_videos(source)
    if limit is not None:
        found = found[:limit]
    failed = [(line.split(":", 1)[0], line) for line in problems]
    scores = []
    for name, path in tqdm(found, unit="video", disable=not progress, desc=f"evaluating {colorizer.model_name}"):
        try:
            scores.append(score_video(colorizer, path, config, name))
        except VideoError as exc:
            failed.append((str(path), str(exc)))
    rows = tuple(dict.fromkeys(["none", config.method, ORIGINAL]))
    means = {row: RowScores(**{k: _mean([getattr(v.rows[row], k) for v in scores]) for k in SCORES})
             for row in rows} if scores else {}
    return VideoEvaluation(model=colorizer.model_name, weights=str(colorizer.weights_path), size=colorizer.size,
                           temporal=config, vividness=colorizer.vividness, saturation=colorizer.saturation,
                           videos=tuple(scores), failed=tuple(failed), means=means)


def write_video_report(result: VideoEvaluation, out_dir: str | os.PathLike) -> Path:
    """Write per_video.csv, summary.json and summary.md into `out_dir` (atomically); returns the folder."""
    out = Path(out_dir)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["video", "width", "height", "frames", "fps", "cuts", "row", *SCORES])
    for v in result.videos:
        for row in result.rows:
            s = v.rows[row]
            writer.writerow([v.name, v.width, v.height, v.frames, f"{v.fps:g}", " ".join(map(str, v.cuts)), row,
                             *("" if getattr(s, k) is None else f"{getattr(s, k):.6g}" for k in SCORES)])
    atomic_write_text(out / "per_video.csv", buffer.getvalue())
    atomic_write_text(out / "summary.json", json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(out / "summary.md", f"# Video evaluation: {result.model}\n\n{result.table()}\n")
    return out
