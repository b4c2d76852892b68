"""What `colorizekit evaluate` and `colorizekit compare` write and print: per_image.csv, summary.json,
summary.md, the worst and best photos (worst_best.png), the comparison picture, the skipped files.

Every file is written atomically. See docs/metrics.md for the columns and conventions.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from colorizekit.evaluate.figures import image_grid
from colorizekit.evaluate.results import (
    CSV_COLUMNS,
    PREVIEW_HEIGHT,
    ROWS,
    Comparison,
    EvaluationResult,
    ImageResult,
)
from colorizekit.evaluate.tables import caption, format_value


@dataclass(frozen=True)
class ReportFiles:
    """Files written by `write_report`."""

    per_image_csv: Path
    summary_json: Path
    summary_md: Path
    grid_png: Path | None  # None when no photo was evaluated


def _csv_cell(v: float | int | str | None) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return ("inf" if v > 0 else "-inf") if math.isinf(v) else format(v, ".8g")
    return str(v)


def per_image_csv(results: Sequence[ImageResult], model_column: str | None = None) -> str:
    """CSV text, one line per photo and row kind (baseline, colorized, original), columns `CSV_COLUMNS`
    (plus a leading `model` column when `model_column` is given); an infinite PSNR is written "inf",
    a metric that does not apply is left empty."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow((["model"] if model_column else []) + list(CSV_COLUMNS))
    for r in results:
        for row in ROWS:
            values = getattr(r, row).as_dict()
            cells = [r.name, r.width, r.height, r.eval_width, r.eval_height, row, *values.values()]
            writer.writerow(([model_column] if model_column else []) + [_csv_cell(c) for c in cells])
    return buf.getvalue()


def model_title(result: EvaluationResult) -> str:
    """The model's name, with the vividness it was decoded at when it has a bins head and the saturation
    when it is not 1."""
    settings = [] if result.vividness is None else [f"vividness {result.vividness:g}"]
    if result.saturation != 1.0:
        settings.append(f"saturation {result.saturation:g}")
    return result.model + (f" ({', '.join(settings)})" if settings else "")


def summary_markdown(result: EvaluationResult) -> str:
    """summary.md: what was run, the metric table (metric | baseline | model | original) and notes."""
    vividness = "" if result.vividness is None else f", vividness {result.vividness:g}"
    vividness += f", saturation {result.saturation:g}"
    lines = [
        f"# Evaluation of `{result.model}`",
        "",
        f"- protocol: `{result.protocol}`, size {result.size}{vividness}, {len(result.images)} photo(s), "
        f"device {result.device}",
        f"- weights: `{result.weights}`",
        "",
        result.table(),
        "",
        "baseline: the grayscale input (the original's L, zero chroma); original: the photo itself, "
        "for the no-reference metrics. Means over photos; ΔCF = CF - CF(original).",
    ]
    inf = {row: getattr(result, row).psnr_infinite for row in ("baseline", "colorized")}
    if any(inf.values()):
        lines.append(f"PSNR: {inf['colorized']} colorized and {inf['baseline']} baseline photo(s) matched the "
                     "original exactly (PSNR inf) and are left out of the PSNR mean.")
    lines += ["", "Not computed:"] + [f"- {k.upper()}: {v}" for k, v in result.not_computed.items()]
    lines += ["", "Notes:"] + [f"- {n}" for n in result.notes]
    if result.failed:
        lines += ["", f"Skipped {len(result.failed)} file(s):"] + [f"- {f.reason}" for f in result.failed]
    if result.images:
        lines += ["", f"Time: colorizing {result.colorize_seconds:.1f} s, metrics {result.metric_seconds:.1f} s "
                      f"({result.metric_seconds / len(result.images):.3f} s per photo)."]
    return "\n".join(lines) + "\n"


def worst_and_best(results: Sequence[ImageResult], count: int = 3) -> tuple[list[ImageResult], list[ImageResult]]:
    """The `count` photos with the highest colorized CIEDE2000 (worst first) and the `count` lowest
    (best first); with fewer than 2 * count photos, the worse half and the better half."""
    ranked = sorted(results, key=lambda r: -r.colorized.ciede2000)
    count = min(count, math.ceil(len(ranked) / 2))
    worst = ranked[:count]
    best = ranked[count:][::-1][:count]
    return worst, best


def worst_best_grid(result: EvaluationResult, count: int = 3, cell_height: int = PREVIEW_HEIGHT) -> Image.Image:
    """Rows original | colorized | grayscale for the worst and best photos by CIEDE2000, captioned."""
    worst, best = worst_and_best(result.images, count)
    rows, labels, titles = [], [], []
    for tag, chosen in (("worst", worst), ("best", best)):
        for rank, r in enumerate(chosen, 1):
            if r.preview is None:
                raise ValueError("worst_best_grid needs results evaluated with preview_height set")
            rows.append([r.preview.original, r.preview.colorized, r.preview.grayscale])
            labels.append([caption(r.original.as_dict(), ("cf",)), caption(r.colorized.as_dict()),
                           caption(r.baseline.as_dict())])
            titles.append(f"{tag} {rank}: {r.name}  (ΔE00 {format_value('ciede2000', r.colorized.ciede2000)})")
    return image_grid(rows, labels, col_titles=["original", f"colorized: {model_title(result)}", "grayscale input"],
                      cell_height=cell_height, row_titles=titles)


def write_report(result: EvaluationResult, out_dir: str | os.PathLike, grid_count: int = 3) -> ReportFiles:
    """Write per_image.csv, summary.json, summary.md and worst_best.png to `out_dir`, each atomically."""
    import json

    from colorizekit.imageio.atomic import atomic_path, atomic_write_text

    out = Path(out_dir)
    files = ReportFiles(out / "per_image.csv", out / "summary.json", out / "summary.md",
                        out / "worst_best.png" if result.images else None)
    atomic_write_text(files.per_image_csv, per_image_csv(result.images))
    atomic_write_text(files.summary_json, json.dumps(result.summary_dict(), indent=2, allow_nan=False) + "\n")
    atomic_write_text(files.summary_md, summary_markdown(result))
    if files.grid_png is not None and all(r.preview is not None for r in result.images):
        with atomic_path(files.grid_png) as tmp:
            worst_best_grid(result, grid_count).save(tmp)
    elif files.grid_png is not None:
        files = ReportFiles(files.per_image_csv, files.summary_json, files.summary_md, None)
    return files


def comparison_grid(comparison: Comparison, cell_height: int = PREVIEW_HEIGHT) -> Image.Image:
    """For each photo a row original | each model | grayscale, with PSNR, SSIM, ΔE00 and CF under each
    picture (CF only under the original), as the design's comparison slides."""
    by_model = [{r.name: r for r in res.images} for res in comparison.results]
    names = [r.name for r in comparison.results[0].images if all(r.name in m for m in by_model)]
    if not names:
        raise ValueError("no photo was evaluated by every model")
    rows, labels = [], []
    for name in names:
        first = by_model[0][name]
        if first.preview is None:
            raise ValueError("comparison_grid needs results evaluated with preview_height set")
        rows.append([first.preview.original, *(m[name].preview.colorized for m in by_model), first.preview.grayscale])
        labels.append([caption(first.original.as_dict(), ("cf",)), *(caption(m[name].colorized.as_dict()) for m in by_model),
                       caption(first.baseline.as_dict())])
    titles = ["original", *(model_title(r) for r in comparison.results), "grayscale input"]
    return image_grid(rows, labels, col_titles=titles, cell_height=cell_height, row_titles=names)


def failed_lines(result: EvaluationResult) -> list[str]:
    """One line per skipped photo."""
    return [f"skipped: {f.reason}" for f in result.failed]
