"""Metric values as text: table cells, markdown tables and the captions under pictures (labels and
decimals from `registry.METRICS`).

Every value is formatted the same way everywhere (reports, the terminal, grids): fixed decimals per
metric, an infinite PSNR written "inf", a value that does not apply "-".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from colorizekit.evaluate.registry import METRIC_NAMES, get_metric

MISSING = "-"  # table cell for a value that does not apply
CAPTION_METRICS = ("psnr", "ssim", "ciede2000", "cf")  # the metrics under each picture of a grid

def format_value(name: str, value: float | None) -> str:
    """A metric value as table text: fixed decimals per metric, "inf"/"-inf" for infinities,
    `MISSING` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{get_metric(name).decimals if name in METRIC_NAMES else 4}f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table; the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]

    def line(cells: Sequence[str]) -> str:
        parts = [str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i else (":" + "-" * (w + 1)) for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def metric_table(columns: Mapping[str, Mapping[str, float | None]], metrics: Sequence[str] = METRIC_NAMES) -> str:
    """Markdown table with one row per metric and one column per entry of `columns`
    (e.g. {"baseline": {...}, "jkspnet-lab": {...}, "original": {...}})."""
    header = ["metric", *columns]
    rows = [[get_metric(m).label, *(format_value(m, col.get(m)) for col in columns.values())] for m in metrics]
    return markdown_table(header, rows)


def caption(values: Mapping[str, float | None], metrics: Sequence[str] = CAPTION_METRICS) -> str:
    """Two-line caption for a picture, e.g. "PSNR 24.31  SSIM 0.9120\\nΔE00 6.210  CF 31.05";
    metrics without a value are left out."""
    parts = [f"{short_label(m)} {format_value(m, values.get(m))}"
             for m in metrics if values.get(m) is not None]
    half = (len(parts) + 1) // 2
    return "\n".join(filter(None, ["  ".join(parts[:half]), "  ".join(parts[half:])]))


def short_label(name: str) -> str:
    """A metric's label without its unit, e.g. "PSNR", "ΔE00"."""
    return get_metric(name).label.split(" (")[0]


def label_list(names: Sequence[str]) -> str:
    """Metrics' short labels as a phrase, e.g. "PSNR, SSIM, ΔE00 and CF", for help texts."""
    labels = [short_label(n) for n in names]
    return ", ".join(labels[:-1]) + " and " + labels[-1]
