"""Metric values as text: table cells, markdown tables and the captions under pictures.

Every value is formatted the same way everywhere (reports, the terminal, grids): fixed decimals per
metric, an infinite PSNR written "inf", a value that does not apply "-".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from colorizekit.evaluate.metrics import METRIC_NAMES

MISSING = "-"  # table cell for a value that does not apply

METRIC_LABELS = {  # names in tables and captions
    "psnr": "PSNR (dB)", "ssim": "SSIM", "ciede2000": "ΔE00", "auc": "AuC (ab)", "cf": "CF",
    "delta_cf": "ΔCF", "uciqe": "UCIQE", "uiqm": "UIQM",
}
METRIC_DECIMALS = {"psnr": 2, "ssim": 4, "ciede2000": 3, "auc": 4, "cf": 2, "delta_cf": 2, "uciqe": 4, "uiqm": 3}


def format_value(name: str, value: float | None) -> str:
    """A metric value as table text: fixed decimals per metric, "inf"/"-inf" for infinities,
    `MISSING` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{METRIC_DECIMALS.get(name, 4)}f}"


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
    rows = [[METRIC_LABELS.get(m, m), *(format_value(m, col.get(m)) for col in columns.values())] for m in metrics]
    return markdown_table(header, rows)


def caption(values: Mapping[str, float | None], metrics: Sequence[str] = ("psnr", "ssim", "ciede2000", "cf")) -> str:
    """Two-line caption for a picture, e.g. "PSNR 24.31  SSIM 0.9120\\nΔE00 6.210  CF 31.05";
    metrics without a value are left out."""
    parts = [f"{METRIC_LABELS.get(m, m).replace(' (dB)', '')} {format_value(m, values.get(m))}"
             for m in metrics if values.get(m) is not None]
    half = (len(parts) + 1) // 2
    return "\n".join(filter(None, ["  ".join(parts[:half]), "  ".join(parts[half:])]))
