"""Frames per second of `colorizekit colorize` on a video, end to end (decode, predict, temporal
consistency, full-resolution join, encode with the audio copied), with and without temporal
consistency, for the default model on the CPU. The methods take turns round by round, so the
ratio of their speeds holds when the machine's load changes during the run.

    nice -n 10 python benchmarks/video_speed.py --width 640 --height 360 --frames 100 --rounds 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from colorizekit.infer.colorizer import Colorizer  # noqa: E402
from video_clips import make_clip  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=25, help="the clip's frame rate")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--colour", action="store_true", help="a colour clip (default: grayscale, as old film)")
    parser.add_argument("--rounds", type=int, default=2, help="runs per method (the median is printed)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    colorizer = Colorizer(device="cpu", batch_size=args.batch_size)
    with tempfile.TemporaryDirectory() as folder:
        clip = make_clip(Path(folder) / "clip.mp4", args.width, args.height, args.fps, args.frames / args.fps,
                         gray=not args.colour)
        print(f"{colorizer.model_name}, working size {colorizer.size}, batch {args.batch_size}, "
              f"{torch.get_num_threads()} torch threads; {args.width} x {args.height}, {args.frames} "
              f"{'colour' if args.colour else 'grayscale'} frames")
        times: dict[str, list[float]] = {"none": [], "flow": []}
        for r in range(args.rounds):  # the methods take turns, so a change in the machine's load hits both
            for method in times:
                t0 = time.perf_counter()
                result = colorizer.colorize_video(clip, Path(folder) / f"{method}{r}.mp4", temporal=method,
                                                  progress=False)
                times[method].append(time.perf_counter() - t0)
                assert result.frames == args.frames, result
        print("| temporal | frames/s (median) | runs (s) |")
        print("|---|---|---|")
        for method, runs in times.items():
            print(f"| {method} | {args.frames / statistics.median(runs):.2f} | {', '.join(f'{t:.1f}' for t in runs)} |")
        ratio = statistics.median(times["none"]) / statistics.median(times["flow"])
        print(f"flow / none frames per second: {ratio:.3f} (rounds paired in time: "
              f"{', '.join(f'{n / f:.3f}' for n, f in zip(times['none'], times['flow']))})")


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore", UserWarning)  # "a colour video; only its luminance is used"
    main()
