"""Peak memory and time to colorize one very large photo (default 6000 x 4000) from file to file.

Runs the `colorizekit colorize` code path in this process and prints the peak resident set size
(`ru_maxrss`) before and after, so the figure is what colorizing itself added. Randomly initialised
weights are used unless `--weights` is given (memory and time do not depend on weight values).

    python benchmarks/colorize_memory.py --model unet-rgb --width 6000 --height 4000
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorizekit.infer.colorizer import Colorizer
from colorizekit.infer.files import colorize_files
from colorizekit.models import create_model
from colorizekit.weights import DEFAULT_MODEL, DEFAULT_SIZE, export_weights


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=DEFAULT_MODEL, help=f"model (default {DEFAULT_MODEL})")
    ap.add_argument("--weights", help="weights file (default: random weights; timing and memory only)")
    ap.add_argument("--width", type=int, default=6000)
    ap.add_argument("--height", type=int, default=4000)
    ap.add_argument("--size", type=int, default=DEFAULT_SIZE, help=f"working size (default {DEFAULT_SIZE})")
    ap.add_argument("--format", default="jpg", choices=["jpg", "png", "tiff"], help="input and output format")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rng = np.random.default_rng(0)
        coarse = rng.uniform(0, 255, size=(args.height // 64, args.width // 64)).astype(np.float32)
        photo = Image.fromarray(coarse).resize((args.width, args.height), Image.BICUBIC).convert("L")
        src = tmp / f"large.{args.format}"
        photo.save(src)
        del photo, coarse
        weights = args.weights
        if weights is None:
            torch.manual_seed(0)
            weights = tmp / "w.safetensors"
            export_weights(weights, args.model, create_model(args.model).state_dict())
        colorizer = Colorizer(model=args.model, weights=weights, device="cpu", size=args.size)
        before = peak_rss_mib()
        start = time.perf_counter()
        report = colorize_files(colorizer, [src], tmp / "out", progress=False)
        seconds = time.perf_counter() - start
        assert report.done, report.failed
        out = Image.open(report.done[0])
        assert out.size == (args.width, args.height)
        after = peak_rss_mib()
        print(f"{args.model}: {args.width} x {args.height} {args.format} colorized in {seconds:.1f} s; "
              f"peak RSS {after:.0f} MiB (was {before:.0f} MiB before colorizing; "
              f"+{after - before:.0f} MiB); output {out.size[0]} x {out.size[1]}")


if __name__ == "__main__":
    main()
