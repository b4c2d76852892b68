"""Colorize speed: seconds per 1024 x 768 photo end to end (decode, predict, join, encode), per model
and backend.

For each model and backend, N grayscale JPEG photos of 1024 x 768 are colorized from files to files
through `colorizekit.infer.files.colorize_files`, the code path of `colorizekit colorize`. Timing does
not depend on the weights' values, so without `--weights` randomly initialised weights are used (the
colours are meaningless; only time is measured). `--backend torch onnx` times PyTorch and onnxruntime
(the model exported with `colorizekit.onnx.export`, run on the CPU in fp32 with as many threads as torch)
in one run and prints how many times faster onnxruntime is. On a GPU the photos are batched and
photos/s is reported (onnx runs on the CPU only).

`model s` is the part of each photo's time spent running the model (the backend's predict); the rest
(decoding, resizing, the full-resolution join, encoding) is shared by the backends. `--rounds R` times
the backends R times in turn (torch, onnx, torch, onnx, ...) and reports medians, for a busy machine;
`--threads N` sets torch's CPU threads, which the onnx backend follows.

    python benchmarks/colorize_speed.py                       # CPU, every model, torch, the default working size
    python benchmarks/colorize_speed.py --backend torch onnx  # the README's table
    python benchmarks/colorize_speed.py --backend torch onnx --threads 1 --rounds 5  # while something else runs
    python benchmarks/colorize_speed.py --device cuda --photos 64 --batch-size 16
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorizekit.hardware import resolve_device
from colorizekit.infer.backends import BACKENDS
from colorizekit.infer.colorizer import Colorizer
from colorizekit.infer.files import colorize_files
from colorizekit.models import create_model, list_models
from colorizekit.onnx.export import export_onnx
from colorizekit.weights import DEFAULT_SIZE, export_weights, weights_by_model


def make_photo(path: Path, width: int, height: int, seed: int) -> None:
    """A grayscale JPEG with smooth structure and fine texture (so decode/encode costs are realistic)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(height // 32 + 1, width // 32 + 1)).astype(np.float32)
    img = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), dtype=np.float32)
    img = np.clip(img + rng.normal(0, 12, size=img.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img, mode="L").save(path, quality=92)


def time_colorizer(colorizer: Colorizer, inputs: Path, out: Path, photos: int) -> tuple[float, float]:
    """(seconds to colorize the photos in `inputs` to `out`, seconds of it in the backend's predict)."""
    predict, inside = colorizer.backend.predict, [0.0]

    def timed_predict(*args):
        start = time.perf_counter()
        ab = predict(*args)
        if colorizer.device.type == "cuda":
            torch.cuda.synchronize()
        inside[0] += time.perf_counter() - start
        return ab

    colorizer.backend.predict = timed_predict
    try:
        if colorizer.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        report = colorize_files(colorizer, [inputs], out, progress=False)
        if colorizer.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    finally:
        del colorizer.backend.predict  # the backend's own method again
    assert len(report.done) == photos, report.failed
    return seconds, inside[0]


def make_colorizers(args: argparse.Namespace, name: str, weights: Path, tmp: Path,
                    device: torch.device) -> dict[str, Colorizer]:
    """backend name -> Colorizer for the model `name` and its `weights`, each warmed up on one photo."""
    colorizers = {}
    for backend in args.backend:
        if backend == "onnx":  # exported here, so that the user's cache is left alone
            colorizers[backend] = Colorizer(weights=export_onnx(tmp / f"{name}.onnx", weights=weights), size=args.size,
                                            batch_size=args.batch_size, backend="onnx")
        else:
            colorizers[backend] = Colorizer(model=name, weights=weights, device=device, size=args.size,
                                            batch_size=args.batch_size, precision=args.precision)
        colorize_files(colorizers[backend], [tmp / "warm.jpg"], tmp / "warm", progress=False)
    return colorizers


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
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (torch, onnxruntime; default: torch's)")
    ap.add_argument("--rounds", type=int, default=1, help="times each backend is timed, in turn; medians (default 1)")
    args = ap.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    device = resolve_device(args.device)
    given = weights_by_model(args.weights)
    print(f"device: {torch.cuda.get_device_name(device) if device.type == 'cuda' else platform.processor() or 'cpu'}"
          f" ({torch.get_num_threads()} CPU threads); torch {torch.__version__}" + _onnxruntime_version(args.backend))
    print(f"{args.photos} photos of {args.width} x {args.height}, working size {args.size}, batch {args.batch_size}")
    print(f"{'model':<16}{'backend':<9}{'weights':<9}{'precision':<11}{'s/photo':>10}{'photos/s':>10}{'model s':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs = tmp / "in"
        inputs.mkdir()
        for i in range(args.photos):
            make_photo(inputs / f"photo{i:03d}.jpg", args.width, args.height, seed=i)
        make_photo(tmp / "warm.jpg", args.width, args.height, seed=999)
        for name in args.models.split(","):
            weights, kind = given.get(name), "given"
            if weights is None:
                torch.manual_seed(0)
                weights, kind = tmp / f"{name}.safetensors", "random"
                export_weights(weights, name, create_model(name).state_dict())
            colorizers = make_colorizers(args, name, weights, tmp, device)
            times: dict[str, list[tuple[float, float]]] = {backend: [] for backend in colorizers}
            for round_ in range(args.rounds):
                for backend, colorizer in colorizers.items():
                    out = tmp / f"out_{name}_{backend}_{round_}"
                    times[backend].append(time_colorizer(colorizer, inputs, out, args.photos))
            seconds = {}
            for backend, colorizer in colorizers.items():
                seconds[backend], model_seconds = (statistics.median(t) for t in zip(*times[backend]))
                precision = str(colorizer.dtype).removeprefix("torch.")
                print(f"{name:<16}{backend:<9}{kind:<9}{precision:<11}{seconds[backend] / args.photos:>10.3f}"
                      f"{args.photos / seconds[backend]:>10.2f}{model_seconds / args.photos:>10.3f}")
            if len(seconds) == 2:
                print(f"{name:<16}onnxruntime is {seconds['torch'] / seconds['onnx']:.2f} times as fast as torch")


def _onnxruntime_version(backends: list[str]) -> str:
    if "onnx" not in backends:
        return ""
    import onnxruntime

    return f"; onnxruntime {onnxruntime.__version__}"


if __name__ == "__main__":
    main()
