"""How much colour is lost by predicting chroma at a lower resolution than the photo.

An oracle test: each photo's own ab is averaged down by a factor (1/2, 1/4, 1/8 of the working size's
resolution), upsampled and joined with the photo's full-resolution L exactly as `colorizekit colorize`
joins a model's prediction. The error against the original (PSNR, CIEDE2000) is the floor a perfect
model predicting at that resolution could reach. When it is far below the error of real predictions,
predicting at that resolution costs nothing measurable.

    python benchmarks/chroma_resolution.py ../shared/data/eval/kodak24 ../shared/data/eval/mixed200
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from colorizekit import color
from colorizekit.color.join import join_luminance
from colorizekit.evaluate import metrics
from colorizekit.imageio import find_images, load_image
from colorizekit.infer.colorizer import working_shape
from colorizekit.weights import DEFAULT_SIZE


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sets", nargs="+", type=Path, help="folders of colour photos")
    p.add_argument("--size", type=int, default=DEFAULT_SIZE, help=f"working size (default: {DEFAULT_SIZE})")
    p.add_argument("--factors", nargs="+", type=int, default=[1, 2, 4, 8], help="downsampling factors")
    args = p.parse_args(argv)
    print(f"working size {args.size}; chroma at 1/factor of it, joined with the full-resolution L")
    print(f"{'set':<12}{'factor':>7}{'PSNR':>8}{'dE00':>8}")
    for folder in args.sets:
        paths = sorted(find_images([folder])[0])
        scores = {f: ([], []) for f in args.factors}
        for path in paths:
            photo = load_image(path)
            rgb = torch.from_numpy(np.ascontiguousarray(photo.rgb, dtype=np.float32)).permute(2, 0, 1)[None]
            h, w = working_shape(*photo.gray.shape, args.size, max(args.factors))
            ab = color.rgb_to_lab(F.interpolate(rgb, size=(h, w), mode="area"))[:, 1:]
            for f in args.factors:
                low = F.interpolate(ab, size=(h // f, w // f), mode="area") if f > 1 else ab
                out = torch.from_numpy(join_luminance(photo.gray, low[0])).permute(2, 0, 1)[None].double()
                scores[f][0].append(float(metrics.psnr(out, rgb.double())[0]))
                scores[f][1].append(float(metrics.ciede2000(out, rgb.double())[0]))
        for f in args.factors:
            print(f"{folder.name:<12}{f:>7}{np.mean(scores[f][0]):>8.2f}{np.mean(scores[f][1]):>8.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
