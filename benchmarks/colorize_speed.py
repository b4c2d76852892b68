"""Colorize speed: seconds per 1024 x 768 photo end to end (decode, predict, join, encode).

For each model, N grayscale JPEG photos of 1024 x 768 are colorized from files to files through
`colorizekit.colorize.colorize_files`, the code path of `colorizekit colorize`. Timing does not depend on
the weights' values, so without `--weights` randomly initialised weights are used (the colours are
meaningless; only time is measured). On a GPU the photos are batched and photos/s is reported.

    python benchmarks/colorize_speed.py                       # CPU, every model, the default working size
    python benchmarks/colorize_speed.py --device cuda --photos 64 --batch-size 16
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorizekit.checkpoint import export_weights, weights_by_model
from colorizekit.colorize import Colorizer, colorize_files
from colorizekit.defaults import DEFAULT_SIZE, resolve_device
from colorizekit.models import create_model, list_models


def make_photo(path: Path, width: int, height: int, seed: int) -> None:
    """A grayscale JPEG with smooth structure and fine texture (so decode/encode costs are realistic)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(height // 32 + 1, width // 32 + 1)).astype(np.float32)
    img = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), dtype=np.float32)
    img = np.clip(img + rng.normal(0, 12, size=img.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img, mode="L").save(path, quality=92)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(list_models()), help="comma-separated model names")
    ap.add_argument("--weights", action="append", default=[], help="weights file(s); default: random weights")
    ap.add_argument("--size", type=int, default=DEFAULT_SIZE, help=f"working size (default {DEFAULT_SIZE})")
    ap.add_argument("--photos", type=int, default=6, help="photos per model (default 6)")
    ap.add_argument("--batch-size", type=int, default=1, help="photos predicted together (default 1)")
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=768)
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    ap.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"],
                    help="network precision (default auto: bf16 where the hardware runs it natively)")
    args = ap.parse_args()

    device = resolve_device(args.device)
    given = weights_by_model(args.weights)
    print(f"device: {torch.cuda.get_device_name(device) if device.type == 'cuda' else platform.processor() or 'cpu'}"
          f" ({torch.get_num_threads()} CPU threads); torch {torch.__version__}")
    print(f"{args.photos} photos of {args.width} x {args.height}, working size {args.size}, batch {args.batch_size}")
    print(f"{'model':<14}{'weights':<10}{'precision':<11}{'s/photo':>10}{'photos/s':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs = tmp / "in"
        inputs.mkdir()
        for i in range(args.photos):
            make_photo(inputs / f"photo{i:03d}.jpg", args.width, args.height, seed=i)
        warm = tmp / "warm"
        warm.mkdir()
        make_photo(warm / "warm.jpg", args.width, args.height, seed=999)
        for name in args.models.split(","):
            weights, kind = given.get(name), "given"
            if weights is None:
                torch.manual_seed(0)
                weights, kind = tmp / f"{name}.safetensors", "random"
                export_weights(weights, name, create_model(name).state_dict())
            colorizer = Colorizer(model=name, weights=weights, device=device, size=args.size,
                                  batch_size=args.batch_size, precision=args.precision)
            colorize_files(colorizer, [warm], tmp / f"warm_{name}", progress=False)  # warm-up
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            report = colorize_files(colorizer, [inputs], tmp / f"out_{name}", progress=False)
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            assert len(report.done) == args.photos, report.failed
            precision = str(colorizer.dtype).removeprefix("torch.")
            print(f"{name:<14}{kind:<10}{precision:<11}{seconds / args.photos:>10.3f}{args.photos / seconds:>10.2f}")


if __name__ == "__main__":
    main()
