"""Choose a model's default settings (working size, vividness, saturation) and compare weights, by measurement.

For each weights file, working size, vividness (bins models only) and saturation, evaluates every
evaluation set (`colorizekit.evaluate.protocols`, full protocol) and prints PSNR, CIEDE2000 and colourfulness (CF)
beside the grayscale baseline and the originals' CF. The rule the project ships by: among the settings
whose CF is at least half the originals' on every set, the lowest mean CIEDE2000 over the sets. Also
printed: the same rule with CF pooled over all the sets' photos, and the setting with the lowest mean
CIEDE2000 regardless of CF.

    python benchmarks/settings_sweep.py runs/lite/model.safetensors --sizes 128 192 \\
        --vividness 0 0.35 --saturation 1 1.3 1.6 \\
        --sets ../shared/data/eval/kodak24 ../shared/data/eval/mcmaster18 ../shared/data/eval/mixed200
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from colorizekit.evaluate.protocols import evaluate
from colorizekit.infer.colorizer import Colorizer
from colorizekit.models import get_model_info
from colorizekit.weights import weights_model_name

CF_SHARE = 0.5  # a setting must reach this share of the originals' colourfulness on every set


def _mean_de00(rows: list[dict]) -> float:
    return sum(r["de00"] for r in rows) / len(rows)


def _describe(key: tuple) -> str:
    weights, size, vividness, saturation = key
    viv = "" if vividness is None else f", vividness {vividness:g}"
    return f"{weights} at size {size}{viv}, saturation {saturation:g}"


def choose(rows: list[dict]) -> list[str]:
    """What the rules choose among the measured settings, as lines to print."""
    settings: dict[tuple, list[dict]] = {}
    for row in rows:
        settings.setdefault((row["weights"], row["size"], row["vividness"], row["saturation"]), []).append(row)
    lines = []
    every = {k: v for k, v in settings.items() if all(r["cf"] >= CF_SHARE * r["cf_original"] for r in v)}
    pooled = {k: v for k, v in settings.items()
              if sum(r["cf"] * r["photos"] for r in v) >= CF_SHARE * sum(r["cf_original"] * r["photos"] for r in v)}
    for name, eligible in ((f"CF >= {CF_SHARE:.0%} of the originals' on every set", every),
                           (f"CF >= {CF_SHARE:.0%} of the originals' over all photos pooled", pooled),
                           ("any CF", settings)):
        if not eligible:
            lines.append(f"{name}: no setting qualifies")
            continue
        best = min(eligible, key=lambda k: _mean_de00(eligible[k]))
        harm = [r["set"] for r in eligible[best] if r["de00"] > r["de00_gray"]]
        lines.append(f"{name}: lowest mean CIEDE2000 {_mean_de00(eligible[best]):.2f} with {_describe(best)}; "
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
    p.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = p.parse_args(argv)

    rows = []
    print(f"{'weights':<28}{'size':>5}{'viv':>6}{'sat':>6}  {'set':<11}{'PSNR':>7}{'gray':>7}{'dE00':>7}{'gray':>7}"
          f"{'CF':>6}{'orig':>6}")
    for weights in args.weights:
        bins_model = get_model_info(weights_model_name(weights)).mode.supports_vividness
        for size in args.sizes:
            for vividness in args.vividness if bins_model else [None]:
                for saturation in args.saturation:
                    colorizer = Colorizer(weights=weights, size=size, vividness=vividness, saturation=saturation,
                                          device="cpu")
                    for folder in args.sets:
                        r = evaluate(folder, colorizer=colorizer, limit=args.limit, progress=False,
                                     preview_height=None)
                        m, b, o = r.colorized.means, r.baseline.means, r.original.means
                        row = {"weights": str(weights), "size": size, "vividness": vividness,
                               "saturation": saturation, "set": folder.name, "photos": len(r.images),
                               "psnr": m.psnr, "psnr_gray": b.psnr, "de00": m.ciede2000, "de00_gray": b.ciede2000,
                               "cf": m.cf, "cf_original": o.cf}
                        rows.append(row)
                        viv = "-" if vividness is None else f"{vividness:.2f}"
                        print(f"{weights.parent.name + '/' + weights.name:<28.28}{size:>5}{viv:>6}{saturation:>6.2f}  "
                              f"{folder.name:<11.11}{m.psnr:>7.2f}{b.psnr:>7.2f}{m.ciede2000:>7.2f}"
                              f"{b.ciede2000:>7.2f}{m.cf:>6.1f}{o.cf:>6.1f}", flush=True)
    for line in choose(rows):
        print(line)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
