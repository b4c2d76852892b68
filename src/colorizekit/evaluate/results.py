"""What evaluation returns: per-photo values (`MetricValues`, made from the metric registry), per-set
means (`SetSummary`), a model's `EvaluationResult`, several models' `Comparison`, and the rows and
columns of the reports written from them (`report`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path

import numpy as np

from colorizekit.evaluate.registry import HIGHER_IS_BETTER, METRIC_NAMES
from colorizekit.evaluate.tables import metric_table
from colorizekit.version import __version__

ROWS = ("baseline", "colorized", "original")  # the row kinds of every report
PREVIEW_HEIGHT = 192  # height of the thumbnails kept for report pictures
CSV_COLUMNS = ("image", "width", "height", "eval_width", "eval_height", "row", *METRIC_NAMES)


def _as_dict(self) -> dict[str, float | None]:
    """Values keyed by `registry.METRIC_NAMES`, in that order."""
    return {name: getattr(self, name) for name in METRIC_NAMES}


# One image's (or one set's mean) metric values, a field per registered metric (None where it does not
# apply): made from the registry, so that a metric added there is a field here.
MetricValues = make_dataclass("MetricValues", [(name, "float | None") for name in METRIC_NAMES], frozen=True,
                              namespace={"as_dict": _as_dict, "__module__": __name__,
                                         "__doc__": "Metric values, a field per `registry.METRICS` entry."})


@dataclass(frozen=True)
class Preview:
    """Small uint8 (h, w, 3) copies of one photo's pictures, for report grids."""

    original: np.ndarray
    colorized: np.ndarray
    grayscale: np.ndarray


@dataclass(frozen=True)
class ImageResult:
    """Metrics of one photo."""

    name: str  # path relative to the evaluated folder (or the file name)
    path: Path  # the photo
    width: int  # the photo's size
    height: int
    eval_width: int  # size at which the metrics were computed (128 x 128 under `design`)
    eval_height: int
    baseline: MetricValues  # the grayscale input against the original
    colorized: MetricValues  # the model's output against the original
    original: MetricValues  # the original itself (no-reference metrics only)
    preview: Preview | None = field(default=None, repr=False, compare=False)  # thumbnails for grids


@dataclass(frozen=True)
class SetSummary:
    """Means of one row kind over the evaluated photos."""

    means: MetricValues  # mean of the finite values; None where the metric does not apply
    psnr_infinite: int  # photos whose PSNR was +inf (left out of the PSNR mean)


@dataclass(frozen=True)
class FailedImage:
    """A photo that could not be evaluated."""

    path: str  # as found
    reason: str  # one line


@dataclass(frozen=True)
class EvaluationResult:
    """What `evaluate` measured."""

    model: str  # registry name
    weights: str  # weights file used
    protocol: str  # "full" or "design"
    size: int  # working size (full) or the design's 128
    device: str  # where the model ran
    images: tuple[ImageResult, ...]  # per-photo results, in file order
    failed: tuple[FailedImage, ...]  # photos skipped, with the reason
    baseline: SetSummary  # set means of the grayscale input
    colorized: SetSummary  # set means of the model's output
    original: SetSummary  # set means of the originals (no-reference metrics only)
    not_computed: Mapping[str, str]  # metric -> why it was not computed
    notes: tuple[str, ...]  # conventions and caveats to print with the numbers
    colorize_seconds: float  # time spent colorizing (including loading photos)
    metric_seconds: float  # time spent computing metrics
    vividness: float | None = None  # the bins head's vividness used; None for a model without one
    saturation: float = 1.0  # the factor on the predicted chroma used

    def table(self) -> str:
        """Markdown table: metric | baseline | model | original (set means)."""
        return metric_table({"baseline": self.baseline.means.as_dict(), self.model: self.colorized.means.as_dict(),
                             "original": self.original.means.as_dict()})

    def summary_dict(self) -> dict:
        """The JSON-ready summary written to summary.json."""
        return {
            "model": self.model,
            "weights": self.weights,
            "protocol": self.protocol,
            "size": self.size,
            "device": self.device,
            "vividness": self.vividness,
            "saturation": self.saturation,
            "images": len(self.images),
            **{row: _json_values(getattr(self, row).means) for row in ROWS},
            "psnr_infinite": {row: getattr(self, row).psnr_infinite for row in ("baseline", "colorized")},
            "failed": [{"path": f.path, "reason": f.reason} for f in self.failed],
            "not_computed": dict(self.not_computed),
            "notes": list(self.notes),
            "timing": {
                "colorize_s": round(self.colorize_seconds, 3),
                "metrics_s": round(self.metric_seconds, 3),
                "metrics_s_per_image": round(self.metric_seconds / len(self.images), 4) if self.images else None,
            },
            "colorizekit_version": __version__,
        }


def count_wins(a: Sequence[float | None], b: Sequence[float | None], higher_is_better: bool) -> tuple[int, int, int]:
    """Two models' values of one metric on the same photos, in the same order: (photos where a is the
    better, photos where b is, photos where both are finite)."""
    both = [(x, y) for x, y in zip(a, b) if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    if not higher_is_better:
        both = [(-x, -y) for x, y in both]
    return sum(x > y for x, y in both), sum(y > x for x, y in both), len(both)


def _json_values(values: MetricValues) -> dict[str, float | None]:
    return {k: (None if v is None or not math.isfinite(v) else v) for k, v in values.as_dict().items()}


def summarize_rows(rows: Sequence[MetricValues]) -> SetSummary:
    """Set means of per-image values: over the finite values of each metric (None when there are
    none or the metric does not apply); +inf PSNRs are counted in `psnr_infinite`."""
    means, infinite = {}, 0
    for name in METRIC_NAMES:
        values = [getattr(r, name) for r in rows if getattr(r, name) is not None]
        finite = [v for v in values if math.isfinite(v)]
        if name == "psnr":
            infinite = sum(1 for v in values if math.isinf(v) and v > 0)
        means[name] = float(np.mean(finite)) if finite else None
    return SetSummary(MetricValues(**means), infinite)


@dataclass(frozen=True)
class Comparison:
    """Several models evaluated on the same photos."""

    results: tuple[EvaluationResult, ...]  # one per model, in the order asked

    def table(self) -> str:
        """Markdown table: metric | baseline | each model | original."""
        first = self.results[0]
        columns = {"baseline": first.baseline.means.as_dict()}
        columns.update({r.model: r.colorized.means.as_dict() for r in self.results})
        columns["original"] = first.original.means.as_dict()
        return metric_table(columns)

    def wins(self, metric: str = "ciede2000") -> list[tuple[str, str, int, int, int]]:
        """Photo by photo, for each pair of models (a before b in `results`): (a, b, photos where a scores
        better by `metric`, photos where b does, photos where both have a finite value). A difference
        of set means can come from a few photos; this counts how often each model is the better one."""
        better = HIGHER_IS_BETTER.get(metric)
        if better is None:
            raise ValueError(f"{metric!r} has no better direction; choose one of "
                             f"{', '.join(n for n, h in HIGHER_IS_BETTER.items() if h is not None)}")
        values = [[getattr(im.colorized, metric) for im in r.images] for r in self.results]
        pairs = []
        for i, j in itertools.combinations(range(len(self.results)), 2):
            pairs.append((self.results[i].model, self.results[j].model, *count_wins(values[i], values[j], better)))
        return pairs
