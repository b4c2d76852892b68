"""Training throughput: colorizekit's training loop against a loop written as the design's notebooks did.

For each model, training size, precision and batch size, in the same run and on the same photo files:
- "colorizekit": the real training step of `colorizekit.train.loop` (`measure_throughput`) fed by the real data
  pipeline (`colorizekit.train.data` with the photo cache, as `colorizekit train` runs on a CPU: photos decoded
  once into RAM, crops cut in the main process; colour conversion on the device, the model's loss,
  bf16 autocast where asked, fused Adam, loss read back once at the end);
- "notebook": the notebooks' way: a Dataset that squashes each photo to S x S and converts it per
  sample in Python (scikit-image `rgb2lab` for Lab models, NumPy gray for RGB ones), fp32,
  `torch.cuda.empty_cache()` after every step on CUDA, `loss.item()` every step.

Both time `--steps` steps after `--warmup` untimed ones and report training images per second, their
ratio, and model FLOP utilisation (MFU) against the GPU's dense bf16 peak: training FLOPs per image =
3 x 2 x the forward multiply-accumulates actually performed (`colorizekit.models.complexity.summarize(...).real_macs`
at batch 1), also printed as achieved TFLOP/s. On a CPU, MFU prints as n/a. The header names the CPU
and whether it runs bf16 natively (AMX-BF16 or AVX512-BF16); bf16 is measured only there, unless
`--precisions` asks for it.

    python benchmarks/train_throughput.py                                # GPU defaults: batch 32 and 128
    python benchmarks/train_throughput.py --batch-sizes 16 --skip-notebook --steps 5 --warmup 2   # a CPU
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from colorizekit.hardware import cpu_name, cpu_native_bf16
from colorizekit.models import create_model, get_model_info, list_models
from colorizekit.models.complexity import summarize
from colorizekit.train.data import PhotoDataset, ShardSampler, make_loader
from colorizekit.train.photocache import CACHE_SCALE, PhotoCache
from colorizekit.train.step import measure_throughput

# Dense bf16 tensor-core peaks (FLOP/s) from NVIDIA's data sheets, matched against the device name in order.
BF16_PEAK = (
    ("H200", 989.4e12),
    ("H100 PCIe", 756.0e12),
    ("H100 NVL", 835.0e12),
    ("H100", 989.4e12),  # SXM (device name "NVIDIA H100 80GB HBM3")
    ("A100", 312.0e12),  # SXM and PCIe
)


def bf16_peak(device: torch.device) -> float | None:
    """The dense bf16 peak of a known CUDA GPU, or None (CPU, unknown GPU)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in BF16_PEAK if key in name), None)


def write_synthetic_photos(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """`count` smooth colourful JPEG photos of 192 x 256 (ImageNet-like sizes after the shared data's downscale)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:192, 0:256].astype(np.float32)
    paths = []
    for i in range(count):
        phase = rng.uniform(0, 2 * np.pi, size=3)
        freq = rng.uniform(0.01, 0.05, size=3)
        img = 0.5 + 0.5 * np.sin(x[..., None] * freq + y[..., None] * freq[::-1] + phase)
        path = folder / f"synthetic{i:04d}.jpg"
        Image.fromarray((img * 255).astype(np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths


class NotebookDataset(Dataset):
    """Per-sample conversion in Python, as the design's notebooks did: returns float32 (input, target)."""

    def __init__(self, paths: list[Path], size: int, color_mode: str) -> None:
        self.paths, self.size, self.color_mode = paths, size, color_mode

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rgb = np.asarray(Image.open(self.paths[i]).convert("RGB").resize((self.size, self.size))) / 255.0
        if self.color_mode == "lab":
            from skimage.color import rgb2lab

            lab = rgb2lab(rgb).astype(np.float32)
            inp, target = (lab[..., :1] - 50.0) / 100.0, lab[..., 1:] / 110.0
        else:
            inp = (rgb @ np.array([0.299, 0.587, 0.114]))[..., None].astype(np.float32)
            target = rgb.astype(np.float32)
        return torch.from_numpy(inp).permute(2, 0, 1), torch.from_numpy(target).permute(2, 0, 1)


def notebook_throughput(model_name: str, paths: list[Path], *, batch_size: int, size: int, steps: int, warmup: int,
                        workers: int, device: torch.device) -> float:
    """Images per second of the notebook-style loop."""
    model = create_model(model_name).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-7)
    data = NotebookDataset(paths, size, get_model_info(model_name).color_mode)
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True,
                        persistent_workers=workers > 0)
    model.train()
    done, photos, start = 0, 0, 0.0
    while done < warmup + steps:
        for inp, target in loader:
            if done == warmup:
                start, photos = time.perf_counter(), 0
            inp, target = inp.to(device), target.to(device)
            optimizer.zero_grad()
            loss = F.mse_loss(model(inp), target)
            loss.backward()
            optimizer.step()
            loss.item()
            if device.type == "cuda":
                torch.cuda.empty_cache()
            done += 1
            photos += inp.shape[0]
            if done == warmup + steps:
                break
    return photos / (time.perf_counter() - start)


class _Batches:
    """The loader's photo batches without its skip counts (re-iterable, as measure_throughput needs)."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader

    def __iter__(self):
        return (batch for batch, _skipped in self.loader if batch is not None)


def colorizekit_throughput(model_name: str, paths: list[Path], *, batch_size: int, size: int, steps: int,
                           warmup: int, workers: int, device: torch.device, compile: bool,
                           precision: str = "auto", channels_last: bool | None = None) -> float:
    """Images per second of colorizekit's training step and data pipeline (photos cached in RAM)."""
    cache = PhotoCache(paths, CACHE_SCALE * size, max_bytes=2**34)
    cache.fill(progress=False)
    dataset = PhotoDataset(paths, size, train=True, resize="crop", cache=cache)
    sampler = ShardSampler(len(paths), global_batch=batch_size, shuffle=True, drop_last=True)
    loader = make_loader(dataset, sampler, batch_size=batch_size, workers=0 if device.type == "cpu" else workers,
                         pin_memory=device.type == "cuda")
    return measure_throughput(model_name, _Batches(loader), steps=steps, warmup=warmup, device=str(device),
                              compile=compile, precision=precision, channels_last=channels_last)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=list_models(), help="models to measure (default: all)")
    p.add_argument("--batch-sizes", nargs="+", type=int, default=[32, 128], help="batch sizes (default: 32 128)")
    p.add_argument("--image-sizes", nargs="+", type=int, default=[64, 128],
                   help="square training sizes (default: 64 128)")
    p.add_argument("--layouts", nargs="+", choices=["default", "contiguous", "channels_last"], default=["default"],
                   help="memory layouts of colorizekit's loop (default: the one training uses for the model)")
    p.add_argument("--precisions", nargs="+", choices=["fp32", "bf16"],
                   help="precisions of colorizekit's loop (default: fp32, and bf16 where the hardware runs it natively)")
    p.add_argument("--steps", type=int, default=30, help="timed steps per measurement (default: 30)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (default: 5)")
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                   help="DataLoader workers for both loops (default: min(8, CPU cores))")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda... (default: auto)")
    p.add_argument("--data", type=Path, help="a folder of photos (default: synthetic JPEGs in a temporary folder)")
    p.add_argument("--compile", action="store_true", help="torch.compile colorizekit's loop")
    p.add_argument("--skip-notebook", action="store_true", help="measure colorizekit's loop only")
    args = p.parse_args(argv)

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    needed = max(args.batch_sizes) * 4
    with tempfile.TemporaryDirectory() as tmp:
        if args.data:
            from colorizekit.imageio import find_images

            paths = sorted(find_images([args.data])[0])[:needed]  # enough for the timed steps
        else:
            paths = write_synthetic_photos(Path(tmp), needed)
        if len(paths) < max(args.batch_sizes):
            raise SystemExit(f"need at least {max(args.batch_sizes)} photos; {args.data} has {len(paths)}")
        peak = bf16_peak(device)
        native, why = cpu_native_bf16()
        if device.type == "cuda":
            name, native = torch.cuda.get_device_name(device), torch.cuda.is_bf16_supported()
        else:
            name = f"{cpu_name()}, {os.cpu_count()} cores; {why}"
        precisions = args.precisions or (["fp32", "bf16"] if native else ["fp32"])
        print(f"device: {name} ({device}); torch {torch.__version__}; {torch.get_num_threads()} CPU threads; "
              f"{len(paths)} photos from {args.data or 'synthetic JPEGs'}")
        print(f"{args.steps} timed steps after {args.warmup} warm-up steps; "
              f"bf16 peak: {f'{peak / 1e12:.1f} TFLOP/s' if peak else 'n/a'}")
        header = (f"{'model':<15}{'size':>5}{'batch':>6}  {'loop':<17}{'prec':<5}{'images/s':>10}{'ratio':>8}"
                  f"{'TFLOP/s':>9}{'MFU':>8}")
        print(header)
        print("-" * len(header))
        for model_name in args.models:
            for size in args.image_sizes:
                macs = summarize(create_model(model_name), (1, 1, size, size)).real_macs
                flops_per_image = 3 * 2 * macs
                for batch in args.batch_sizes:
                    kw = dict(batch_size=batch, size=size, steps=args.steps, warmup=args.warmup,
                              workers=args.workers, device=device)
                    layouts = {"default": None, "contiguous": False, "channels_last": True}
                    rows = [("colorizekit" if layout == "default" else f"ck/{layout}", prec,
                             colorizekit_throughput(model_name, paths, compile=args.compile, precision=prec,
                                                    channels_last=layouts[layout], **kw))
                            for prec in precisions for layout in args.layouts]
                    if not args.skip_notebook and get_model_info(model_name).mode.default_loss == "mse":
                        rows.append(("notebook", "fp32", notebook_throughput(model_name, paths, **kw)))
                    base = rows[0][2]
                    for loop, prec, ips in rows:
                        mfu = f"{100 * ips * flops_per_image / peak:.1f}%" if peak else "n/a"
                        print(f"{model_name:<15}{size:>5}{batch:>6}  {loop:<17}{prec:<5}{ips:>10.1f}"
                              f"{ips / base:>7.2f}x{ips * flops_per_image / 1e12:>9.3f}{mfu:>8}", flush=True)
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
