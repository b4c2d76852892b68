"""Colorize speed: seconds per 1024 x 768 photo end to end (decode, predict, join, encode), per model
and backend.

For each model and backend, N grayscale JPEG photos of 1024 x 768 are colorized from files to files
through `colorizekit.colorize.colorize_files`, the code path of `colorizekit colorize`. Timing does
not depend on the weights' values, so without `--weights` randomly initialised weights are used (the
colours are meaningless; only time is measured). `--backend torch onnx` times PyTorch and onnxruntime
(the model exported with `colorizekit.export`, run on the CPU in fp32 with as many threads as torch)
in one run and prints how many times faster onnxruntime is. On a GPU the photos are batched and
photos/s is reported (onnx runs on the CPU only).

    python benchmarks/colorize_speed.py                       # CPU, every model, torch, the default working size
    python benchmarks/colorize_speed.py --backend torch onnx  # the README's table
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
from colorizekit.defaults import BACKENDS, DEFAULT_SIZE, resolve_device
from colorizekit.export import export_onnx
from colorizekit.models import create_model, list_models


def make_photo(path: Path, width: int, height: int, seed: int) -> None:
    """A grayscale JPEG with smooth structure and fine texture (so decode/encode costs are realistic)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(height // 32 + 1, width // 32 + 1)).astype(np.float32)
    img = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), dtype=np.float32)
    img = np.clip(img + rng.normal(0, 12, size=img.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img, mode="L").save(path, quality=92)


def time_colorizer(colorizer: Colorizer, inputs: Path, warm: Path, out: Path, photos: int) -> float:
    """Seconds to colorize the photos in `inputs` to `out`, after one warm-up photo."""
    colorize_files(colorizer, [warm], out / "warm", progress=False)
    if colorizer.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    report = colorize_files(colorizer, [inputs], out / "photos", progress=False)
    if colorizer.device.type == "cuda":
        torch.cuda.synchronize()
    assert len(report.done) == photos, report.failed
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(list_models()), help="comma-separated model names")
    ap.add_argument("--weights", action="append", default=[],
                    help="weights file(s), .safetensors or .pt (default: random weights)")
    ap.add_argument("--backend", nargs="+", choices=BACKENDS, default=["torch"],
                    help="backends to time, e.g. --backend torch onnx (default: torch)")
    ap.add_argument("--size", type=int, default=DEFAULT_SIZE, help=f"working size (default {DEFAULT_SIZE})")
    ap.add_argument("--photos", type=int, default=6, help="photos per model (default 6)")
    ap.add_argument("--batch-size", type=int, default=1, help="photos predicted together (default 1)")
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=768)
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present); onnx: the CPU")
    ap.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"],
                    help="torch's network precision (default auto: bf16 where the hardware runs it natively)")
    args = ap.parse_args()

    device = resolve_device(args.device)
    given = weights_by_model(args.weights)
    print(f"device: {torch.cuda.get_device_name(device) if device.type == 'cuda' else platform.processor() or 'cpu'}"
          f" ({torch.get_num_threads()} CPU threads); torch {torch.__version__}" + _onnxruntime_version(args.backend))
    print(f"{args.photos} photos of {args.width} x {args.height}, working size {args.size}, batch {args.batch_size}")
    print(f"{'model':<16}{'backend':<9}{'weights':<9}{'precision':<11}{'s/photo':>10}{'photos/s':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs = tmp / "in"
        inputs.mkdir()
        for i in range(args.photos):
            make_photo(inputs / f"photo{i:03d}.jpg", args.width, args.height, seed=i)
        warm = tmp / "warm.jpg"
        make_photo(warm, args.width, args.height, seed=999)
        for name in args.models.split(","):
            weights, kind = given.get(name), "given"
            if weights is None:
                torch.manual_seed(0)
                weights, kind = tmp / f"{name}.safetensors", "random"
                export_weights(weights, name, create_model(name).state_dict())
            seconds = {}
            for backend in args.backend:
                if backend == "onnx":  # exported here, so that the user's cache is left alone
                    colorizer = Colorizer(weights=export_onnx(tmp / f"{name}.onnx", weights=weights), size=args.size,
                                          batch_size=args.batch_size, backend="onnx")
                else:
                    colorizer = Colorizer(model=name, weights=weights, device=device, size=args.size,
                                          batch_size=args.batch_size, precision=args.precision)
                seconds[backend] = time_colorizer(colorizer, inputs, warm, tmp / f"out_{name}_{backend}", args.photos)
                precision = str(colorizer.dtype).removeprefix("torch.")
                print(f"{name:<16}{backend:<9}{kind:<9}{precision:<11}{seconds[backend] / args.photos:>10.3f}"
                      f"{args.photos / seconds[backend]:>10.2f}")
            if len(seconds) == 2:
                print(f"{name:<16}onnxruntime is {seconds['torch'] / seconds['onnx']:.2f} times as fast as torch")


def _onnxruntime_version(backends: list[str]) -> str:
    if "onnx" not in backends:
        return ""
    import onnxruntime

    return f"; onnxruntime {onnxruntime.__version__}"


if __name__ == "__main__":
    main()
