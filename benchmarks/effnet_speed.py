"""effnet-lite-bins against lite-unet-bins: parameters, mult-adds and seconds per forward pass at the
working shape of a 1024 x 768 photo (working size 256: 256 x 352), on the CPU.

Both models are timed in one run, in turn (lite, effnet, lite, effnet, ...), so that other work on
the machine slows both alike; the median and the fastest pass of each are reported, and the ratio
of the medians. The forward pass is what colorizing runs (`Colorizer`'s torch backend): fp32,
inference mode, batch 1, the model's decoding not included. Timing does not depend on the weights,
so randomly initialised models are used. The issue's targets: effnet-lite-bins at most 0.3 s on two
cores and at most 3 times lite-unet-bins.

    python benchmarks/effnet_speed.py                   # 2 threads, 20 rounds
    python benchmarks/effnet_speed.py --threads 1 --rounds 40   # while other work runs on the cores
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from colorizekit.infer.colorizer import working_shape
from colorizekit.models import create_model, get_model_info
from colorizekit.models.complexity import summarize

MODELS = ("lite-unet-bins", "effnet-lite-bins")


def time_forward(model: torch.nn.Module, x: torch.Tensor) -> float:
    """Seconds of one forward pass."""
    start = time.perf_counter()
    model(x)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256, help="working size, the short side (default 256)")
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=768)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    ap.add_argument("--rounds", type=int, default=20, help="timed passes per model (default 20)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed passes per model first (default 3)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    models, inputs, rows = {}, {}, {}
    for name in MODELS:
        torch.manual_seed(0)
        models[name] = create_model(name).eval()
        shape = working_shape(args.height, args.width, args.size, get_model_info(name).size_multiple)
        inputs[name] = torch.rand(1, 1, *shape) - 0.5  # normalised L
        summary = summarize(models[name], (1, 1, *shape), name)
        rows[name] = (shape, summary.total_params, summary.real_macs)
    print(f"cpu: {platform.processor() or platform.machine()} ({torch.get_num_threads()} threads); "
          f"torch {torch.__version__}; a {args.width} x {args.height} photo at working size {args.size}")
    times: dict[str, list[float]] = {name: [] for name in MODELS}
    with torch.inference_mode():
        for name in MODELS:
            for _ in range(args.warmup):
                models[name](inputs[name])
        for _ in range(args.rounds):
            for name in MODELS:
                times[name].append(time_forward(models[name], inputs[name]))
    print(f"{'model':<18}{'input':<11}{'params':>11}{'GMACs':>8}{'median s':>10}{'fastest s':>11}")
    for name in MODELS:
        (h, w), params, macs = rows[name]
        print(f"{name:<18}{f'{h} x {w}':<11}{params:>11,}{macs / 1e9:>8.2f}{statistics.median(times[name]):>10.3f}"
              f"{min(times[name]):>11.3f}")
    lite, effnet = (statistics.median(times[name]) for name in MODELS)
    print(f"effnet-lite-bins takes {effnet / lite:.2f} times lite-unet-bins' time (medians)")


if __name__ == "__main__":
    main()
