"""Choose a model's default settings (working size, vividness, saturation) and compare weights, by measurement.

For each weights file, working size, vividness (bins models only) and saturation, scores every
evaluation set as `colorizekit evaluate` does (full protocol: each photo at its own resolution, its
grayscale the original's CIE L) and prints PSNR, CIEDE2000 and colourfulness (CF) beside the
grayscale baseline and the originals' CF. The rule the project ships by: among the settings whose CF
is at least half the originals' on every set, the lowest mean CIEDE2000 over the sets. Also printed:
the same rule with CF pooled over all the sets' photos, and the setting with the lowest mean
CIEDE2000 regardless of CF.

    python benchmarks/settings_sweep.py runs/lite/model.safetensors --sizes 128 192 \\
        --vividness 0 0.35 --saturation 1 1.3 1.6 \\
        --sets ../shared/data/eval/kodak24 ../shared/data/eval/mcmaster18 ../shared/data/eval/mixed200

Cost: each set's photos are read once per working size, and the network runs once per photo and
size (`SharedNetwork`); a vividness or saturation only re-decodes its output, joins it with the
photo's own lightness and scores PSNR, CIEDE2000 and CF, computed as `evaluate` computes them
(`metrics.compute_metrics`' float32) and giving the same figures; the metrics these choices do not
use (SSIM, AuC, UCIQE, UIQM) are skipped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from colorizekit import color
from colorizekit.evaluate import metrics
from colorizekit.evaluate.protocols import find_photos, load_photos
from colorizekit.evaluate.uiqm import check_batch
from colorizekit.infer.colorizer import Colorizer
from colorizekit.models import get_model_info
from colorizekit.weights import weights_model_name

CF_SHARE = 0.5  # a setting must reach this share of the originals' colourfulness (the shipped rule; --cf-share)
METRIC_PIXELS = 500_000  # photos of one size scored together up to this many pixels (as evaluate)


class SharedNetwork:
    """Stands in for a torch colorizer's network: runs it once per distinct input and returns the kept
    output after, so that every decode setting (vividness, saturation) of the same photos re-decodes
    one prediction. `forget()` drops what is kept (call it between sets)."""

    def __init__(self, colorizer: Colorizer) -> None:
        if colorizer.backend.name != "torch":
            raise ValueError("SharedNetwork needs the torch backend")
        self.network = colorizer.backend.model
        self.outputs: dict[tuple, torch.Tensor] = {}
        self.runs = 0
        colorizer.backend.model = self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        key = (tuple(x.shape), hashlib.blake2b(x.detach().cpu().contiguous().numpy().tobytes()).digest())
        if key not in self.outputs:
            self.outputs[key] = self.network(x)
            self.runs += 1
        return self.outputs[key]

    def forget(self) -> None:
        self.outputs.clear()


@dataclass
class Photos:
    """An evaluation set read once: its grays (as evaluate makes them), originals and reference figures."""

    name: str
    grays: list[np.ndarray]  # (H, W) float32 in [0, 1]
    groups: list[tuple[list[int], torch.Tensor, torch.Tensor]]  # (photo indices, originals, their Lab) per size
    cf_original: list[float]
    psnr_gray: list[float]
    de00_gray: list[float]


def load_set(folder: Path, limit: int | None = None, baseline: bool = True) -> Photos:
    """Read an evaluation folder as `evaluate` does (unreadable and grayscale photos skipped), the
    originals' CF, and (`baseline`) the grayscale baseline's PSNR and CIEDE2000 (else NaN)."""
    found, failed = find_photos(folder, limit)
    items = load_photos(found, "full", failed)
    if not items:
        raise ValueError(f"{folder}: no colour photos to evaluate")
    n = len(items)
    cf, psnr, de00 = [math.nan] * n, [math.nan] * n, [math.nan] * n
    groups = []
    by_shape: dict[tuple, list[int]] = {}
    for i, it in enumerate(items):
        by_shape.setdefault(tuple(it.original.shape[-2:]), []).append(i)
    for shape, members in by_shape.items():
        per = max(1, METRIC_PIXELS // (shape[0] * shape[1]))
        for start in range(0, len(members), per):
            chunk = members[start:start + per]
            y = check_batch(torch.cat([items[i].original for i in chunk]), "originals", dtype=metrics.COMPUTE_DTYPE)
            lab = color.rgb_to_lab(y)
            for k, value in zip(chunk, metrics.colorfulness(y).tolist()):
                cf[k] = value
            groups.append((chunk, y, lab))
            if not baseline:
                continue
            gray = torch.cat([items[i].gray for i in chunk]).expand(-1, 3, -1, -1)
            scored = metrics.score_figures(gray, y, lab, ("psnr", "ciede2000"))
            for k, p, d in zip(chunk, scored["psnr"].tolist(), scored["ciede2000"].tolist()):
                psnr[k], de00[k] = p, d
    grays = [it.gray[0, 0].float().numpy() for it in items]
    return Photos(folder.name, grays, groups, cf, psnr, de00)


def colorize_set(colorizer: Colorizer, photos: Photos, vividness: float | None, saturation: float) -> list[np.ndarray]:
    """The set's photos colorized as `evaluate` colorizes them (batches of `colorizer.batch_size`)."""
    step, out = colorizer.batch_size, []
    for start in range(0, len(photos.grays), step):
        out += colorizer.colorize_gray(photos.grays[start:start + step], vividness, saturation)
    return out


_SCORED = {"psnr": "psnr", "de00": "ciede2000", "cf": "cf"}  # this script's names -> metrics'


def score(photos: Photos, outputs: list[np.ndarray], figures: tuple[str, ...] = ("psnr", "de00", "cf")) -> dict:
    """Per-photo PSNR, CIEDE2000 and CF of the colorized `outputs` against the originals, as
    `metrics.compute_metrics` computes them; only the `figures` asked for."""
    rows: dict[str, list[float]] = {f: [math.nan] * len(outputs) for f in figures}
    for chunk, y, lab in photos.groups:
        x = torch.cat([torch.from_numpy(outputs[i]).permute(2, 0, 1)[None].double() for i in chunk])
        scored = metrics.score_figures(x, y, lab, [_SCORED[f] for f in figures])
        for name in figures:
            for k, value in zip(chunk, scored[_SCORED[name]].tolist()):
                rows[name][k] = value
    return rows


def set_mean(values: list[float]) -> float:
    """The mean over the finite values (evaluate's rule: an exact match's +inf PSNR is left out)."""
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def _mean_de00(rows: list[dict]) -> float:
    return sum(r["de00"] for r in rows) / len(rows)


def _describe(key: tuple) -> str:
    weights, size, vividness, saturation = key
    viv = "" if vividness is None else f", vividness {vividness:g}"
    return f"{weights} at size {size}{viv}, saturation {saturation:g}"


def pooled_cf_share(rows: list[dict]) -> float:
    """The CF of a setting's rows pooled over all their photos, as a share of the originals'."""
    return sum(r["cf"] * r["photos"] for r in rows) / sum(r["cf_original"] * r["photos"] for r in rows)


def choose(rows: list[dict], cf_share: float = CF_SHARE) -> list[str]:
    """What the rules choose among the measured settings, as lines to print: the lowest mean CIEDE2000
    among the settings whose CF reaches `cf_share` of the originals' on every set, over all photos
    pooled, or whatever their CF."""
    settings: dict[tuple, list[dict]] = {}
    for row in rows:
        settings.setdefault((row["weights"], row["size"], row["vividness"], row["saturation"]), []).append(row)
    lines = []
    every = {k: v for k, v in settings.items() if all(r["cf"] >= cf_share * r["cf_original"] for r in v)}
    pooled = {k: v for k, v in settings.items() if pooled_cf_share(v) >= cf_share}
    for name, eligible in ((f"CF >= {cf_share:.0%} of the originals' on every set", every),
                           (f"CF >= {cf_share:.0%} of the originals' over all photos pooled", pooled),
                           ("any CF", settings)):
        if not eligible:
            lines.append(f"{name}: no setting qualifies")
            continue
        best = min(eligible, key=lambda k: _mean_de00(eligible[k]))
        harm = [r["set"] for r in eligible[best] if r["de00"] > r["de00_gray"]]
        lines.append(f"{name}: lowest mean CIEDE2000 {_mean_de00(eligible[best]):.2f} with {_describe(best)} "
                     f"(pooled CF {pooled_cf_share(eligible[best]):.1%} of the originals'); "
                     f"worse than grayscale on: {', '.join(harm) or 'none'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("weights", nargs="+", type=Path, help="weights files (model.safetensors or checkpoints)")
    p.add_argument("--sets", nargs="+", type=Path, required=True, help="evaluation folders")
    p.add_argument("--vividness", nargs="+", type=float, default=[0.0, 0.5, 1.0],
                   help="bins models only (default: 0 0.5 1)")
    p.add_argument("--saturation", nargs="+", type=float, default=[1.0], help="(default: 1)")
    p.add_argument("--sizes", nargs="+", type=int, default=[256], help="working sizes (default: 256)")
    p.add_argument("--limit", type=int, help="first N photos of each set only")
    p.add_argument("--json", type=Path, help="also write every figure to this JSON file (with each photo's CIEDE2000)")
    p.add_argument("--cf-share", type=float, default=CF_SHARE,
                   help=f"the rules' colourfulness bar, a share of the originals' (default: {CF_SHARE:g})")
    args = p.parse_args(argv)

    rows = []
    started = time.perf_counter()
    print(f"{'weights':<28}{'size':>5}{'viv':>6}{'sat':>6}  {'set':<11}{'PSNR':>7}{'gray':>7}{'dE00':>7}{'gray':>7}"
          f"{'CF':>6}{'orig':>6}")
    for weights in args.weights:
        bins_model = get_model_info(weights_model_name(weights)).mode.supports_vividness
        for size in args.sizes:
            colorizer = Colorizer(weights=weights, size=size, device="cpu")
            shared = SharedNetwork(colorizer)
            for folder in args.sets:
                photos = load_set(folder, args.limit)
                for vividness in args.vividness if bins_model else [None]:
                    for saturation in args.saturation:
                        s = score(photos, colorize_set(colorizer, photos, vividness, saturation))
                        row = {"weights": str(weights), "size": size, "vividness": vividness,
                               "saturation": saturation, "set": folder.name, "photos": len(photos.grays),
                               "psnr": set_mean(s["psnr"]), "psnr_gray": set_mean(photos.psnr_gray),
                               "de00": set_mean(s["de00"]), "de00_gray": set_mean(photos.de00_gray),
                               "cf": set_mean(s["cf"]), "cf_original": set_mean(photos.cf_original),
                               "de00_photos": s["de00"]}  # per photo, in file order (for paired counts)
                        rows.append(row)
                        viv = "-" if vividness is None else f"{vividness:.2f}"
                        print(f"{weights.parent.name + '/' + weights.name:<28.28}{size:>5}{viv:>6}{saturation:>6.2f}  "
                              f"{folder.name:<11.11}{row['psnr']:>7.2f}{row['psnr_gray']:>7.2f}{row['de00']:>7.2f}"
                              f"{row['de00_gray']:>7.2f}{row['cf']:>6.1f}{row['cf_original']:>6.1f}", flush=True)
                shared.forget()
    for line in choose(rows, args.cf_share):
        print(line)
    print(f"{time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
