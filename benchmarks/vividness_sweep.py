"""Choose a bins model's default vividness (and compare weights) by measurement.

For each weights file, working size and vividness, evaluates every evaluation set (`colorizekit.evaluate`,
full protocol) and prints PSNR, CIEDE2000 and colourfulness (CF) beside the grayscale baseline and the
originals' CF. The rule the project ships by: among the settings whose CF is at least half the
originals' on every set, the lowest mean CIEDE2000 over the sets.

    python benchmarks/vividness_sweep.py runs/lite/model.safetensors \\
        --sets ../shared/data/eval/kodak24 ../shared/data/eval/mcmaster18 ../shared/data/eval/mixed200
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from colorizekit.colorize import Colorizer
from colorizekit.evaluate import evaluate

CF_SHARE = 0.5  # a setting must reach this share of the originals' colourfulness on every set


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("weights", nargs="+", type=Path, help="weights files of bins models")
    p.add_argument("--sets", nargs="+", type=Path, required=True, help="evaluation folders")
    p.add_argument("--vividness", nargs="+", type=float, default=[0.0, 0.25, 0.5, 0.75, 1.0])
    p.add_argument("--sizes", nargs="+", type=int, default=[256], help="working sizes (default: 256)")
    p.add_argument("--limit", type=int, help="first N photos of each set only")
    p.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = p.parse_args(argv)

    rows = []
    print(f"{'weights':<28}{'size':>5}{'viv':>6}  {'set':<11}{'PSNR':>7}{'gray':>7}{'dE00':>7}{'gray':>7}"
          f"{'CF':>6}{'orig':>6}")
    for weights in args.weights:
        for size in args.sizes:
            for vividness in args.vividness:
                colorizer = Colorizer(weights=weights, size=size, vividness=vividness, device="cpu")
                for folder in args.sets:
                    r = evaluate(folder, colorizer=colorizer, limit=args.limit, progress=False, preview_height=None)
                    m, b, o = r.colorized.means, r.baseline.means, r.original.means
                    row = {"weights": str(weights), "size": size, "vividness": vividness, "set": folder.name,
                           "psnr": m.psnr, "psnr_gray": b.psnr, "de00": m.ciede2000, "de00_gray": b.ciede2000,
                           "cf": m.cf, "cf_original": o.cf}
                    rows.append(row)
                    print(f"{weights.parent.name + '/' + weights.name:<28.28}{size:>5}{vividness:>6.2f}  "
                          f"{folder.name:<11.11}{m.psnr:>7.2f}{b.psnr:>7.2f}{m.ciede2000:>7.2f}{b.ciede2000:>7.2f}"
                          f"{m.cf:>6.1f}{o.cf:>6.1f}", flush=True)
    settings: dict[tuple, list[dict]] = {}
    for row in rows:
        settings.setdefault((row["weights"], row["size"], row["vividness"]), []).append(row)
    eligible = {k: v for k, v in settings.items() if all(r["cf"] >= CF_SHARE * r["cf_original"] for r in v)}
    if eligible:
        best = min(eligible, key=lambda k: sum(r["de00"] for r in eligible[k]) / len(eligible[k]))
        harm = [r["set"] for r in eligible[best] if r["de00"] > r["de00_gray"]]
        print(f"chosen: {best[0]} at size {best[1]}, vividness {best[2]:g} (lowest mean CIEDE2000 with CF >= "
              f"{CF_SHARE:.0%} of the originals' on every set); worse than grayscale on: {', '.join(harm) or 'none'}")
    else:
        print(f"no setting reaches {CF_SHARE:.0%} of the originals' CF on every set")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
