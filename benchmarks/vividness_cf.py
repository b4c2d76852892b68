"""Mean colourfulness (CF, Hasler and Suesstrunk) per vividness: does more vividness give more colour?

For every registered model with a vividness control (colour mode `ab-bins`) that ships weights, and
for each `--weights FILE` given (so that a new model can be measured before it ships), colorizes the
built-in example photos (`src/colorizekit/demo_images`) and each `--sets` folder as `colorizekit
evaluate` does (each colour photo's CIE L as the grayscale input, at the weights' working size), at
each vividness, at saturation 1 and at the weights' default saturation, and prints the mean CF of the
outputs per vividness beside the originals'. Exits 1 when the mean CF does not rise strictly with
the vividness on some set.

    python benchmarks/vividness_cf.py --sets ../shared/data/eval/kodak24 ../shared/data/eval/mcmaster18 \\
        ../shared/data/eval/mixed200

The network runs once per photo; each vividness and saturation only re-decodes its output
(`settings_sweep.SharedNetwork`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from settings_sweep import SharedNetwork, colorize_set, load_set, score, set_mean

from colorizekit.evaluate.demo import DEMO_DIR
from colorizekit.infer.colorizer import Colorizer
from colorizekit.models import get_model_info, list_models
from colorizekit.weights import default_weights_path

VIVIDNESS = (0.0, 0.25, 0.5, 0.75, 1.0)


def shipped_vividness_weights() -> list[Path]:
    """The shipped weights of every registered model with a vividness control, by model name."""
    paths = (default_weights_path(name) for name in list_models() if get_model_info(name).mode.supports_vividness)
    return [p for p in paths if p is not None]


def rises(values: list[float]) -> bool:
    return all(b > a for a, b in zip(values, values[1:]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", nargs="+", type=Path, default=[],
                   help="weights files to measure too (a bins model's model.safetensors or checkpoint)")
    p.add_argument("--sets", nargs="*", type=Path, default=[], help="evaluation folders (the built-in photos always)")
    p.add_argument("--vividness", nargs="+", type=float, default=list(VIVIDNESS), help="(default: 0 0.25 0.5 0.75 1)")
    p.add_argument("--size", type=int, help="working size (default: each weights' own)")
    p.add_argument("--limit", type=int, help="first N photos of each set only")
    p.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = p.parse_args(argv)

    started, rows, failures = time.perf_counter(), [], []
    folders = [DEMO_DIR] + list(args.sets)
    for weights in shipped_vividness_weights() + list(args.weights):
        colorizer = Colorizer(weights=weights, size=args.size, device="cpu")
        if colorizer.vividness is None:
            print(f"{weights}: {colorizer.model_name} has no vividness control; skipped")
            continue
        saturations = sorted({1.0, colorizer.saturation})
        print(f"\n{colorizer.model_name} ({weights}), size {colorizer.size}; defaults: vividness "
              f"{colorizer.vividness:g}, saturation {colorizer.saturation:g}")
        print(f"{'set':<13}{'photos':>7}{'sat':>6}" + "".join(f"{'V=' + format(v, 'g'):>8}" for v in args.vividness)
              + f"{'orig':>8}  rises")
        shared = SharedNetwork(colorizer)
        for folder in folders:
            photos = load_set(folder, args.limit, baseline=False)
            name = "built-in" if folder == DEMO_DIR else folder.name
            for saturation in saturations:
                cf = [set_mean(score(photos, colorize_set(colorizer, photos, v, saturation), ("cf",))["cf"])
                      for v in args.vividness]
                ok = rises(cf)
                if not ok:
                    failures.append(f"{colorizer.model_name} on {name} at saturation {saturation:g}")
                rows.append({"weights": str(weights), "model": colorizer.model_name, "size": colorizer.size,
                             "set": name, "photos": len(photos.grays), "saturation": saturation,
                             "vividness": list(args.vividness), "cf": cf, "cf_original": set_mean(photos.cf_original),
                             "rises": ok})
                print(f"{name:<13}{len(photos.grays):>7}{saturation:>6.2f}" + "".join(f"{c:>8.1f}" for c in cf)
                      + f"{rows[-1]['cf_original']:>8.1f}  {'yes' if ok else 'NO'}", flush=True)
            shared.forget()
    print(f"\n{time.perf_counter() - started:.0f} s; "
          + ("mean CF rises strictly with vividness everywhere" if not failures
             else "mean CF does NOT rise strictly with vividness: " + "; ".join(failures)))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
