"""Measure what the video temporal-consistency settings rest on, on clips made from real photos.

1. Scene cuts: the Hellinger distance of consecutive frames' gray histograms (at the working size,
   as `temporal.Propagator` computes it) within shots (slow and faster pans and zooms across one
   photo, with noise) and at cuts (the last frame of one photo's shot against the first of
   another's, every ordered pair), and the mean flow reliability in both cases; prints their ranges
   and how many each candidate threshold gets wrong.
2. The blending weight: the flow-warped |Δab| and per-frame ΔE00 of clips colorized with
   `--temporal flow` at several blends (0 = frame by frame), with the shipped model.

    python benchmarks/video_temporal.py ../shared/data/eval/kodak24 --cuts --blends 0 0.6 0.7 0.8 0.9
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from colorizekit.imageio.pixels import gray_from_rgb  # noqa: E402
from colorizekit.infer.colorizer import Colorizer, working_shape  # noqa: E402
from colorizekit.infer.video.synthetic import Shot, render, write_clip  # noqa: E402
from colorizekit.infer.video.temporal import (
    FlowEstimator,
    TemporalConfig,
    flow_reliability,
    histogram_distance,
    to_uint8_gray,
)

MOVES = {  # name: (start, end) of a shot, (centre x, centre y, view width)
    "slow pan": ((0.40, 0.5, 0.6), (0.60, 0.5, 0.6)),
    "fast pan": ((0.25, 0.5, 0.5), (0.75, 0.5, 0.5)),
    "tilt": ((0.5, 0.42, 0.6), (0.5, 0.58, 0.6)),
    "zoom in": ((0.5, 0.5, 0.9), (0.5, 0.5, 0.5)),
}


def working_gray(rgb: np.ndarray, size: int, multiple: int) -> np.ndarray:
    gray = gray_from_rgb(rgb.astype(np.float32) / 255)
    shape = working_shape(*gray.shape, size, multiple)
    small = F.interpolate(torch.from_numpy(gray)[None, None], size=shape, mode="bilinear", align_corners=False,
                          antialias=True)
    return to_uint8_gray(small[0, 0].numpy())


def measure_cuts(photos: list[np.ndarray], width: int, height: int, frames: int, size: int, multiple: int) -> None:
    flow = FlowEstimator("fast")
    within: list[tuple[float, float]] = []
    firsts, lasts = [], []
    for photo in photos:
        for move, (start, end) in MOVES.items():
            grays = [working_gray(f, size, multiple) for f in
                     render([Shot(photo, frames, start, end)], width, height, noise=3.0)]
            for a, b in itertools.pairwise(grays):
                trust = flow_reliability(flow(b, a), flow(a, b), b, a)
                within.append((histogram_distance(a, b), float(trust.mean())))
            if move == "slow pan":
                firsts.append(grays[0])
                lasts.append(grays[-1])
    cuts = []
    for i, j in itertools.permutations(range(len(photos)), 2):
        a, b = lasts[i], firsts[j]
        trust = flow_reliability(flow(b, a), flow(a, b), b, a)
        cuts.append((histogram_distance(a, b), float(trust.mean())))
    w, c = np.array(within), np.array(cuts)
    print(f"within shots: {len(w)} frame pairs; histogram distance max {w[:, 0].max():.4f}, 99.9th pct "
          f"{np.percentile(w[:, 0], 99.9):.4f}, median {np.median(w[:, 0]):.4f}; reliability min {w[:, 1].min():.3f}, "
          f"median {np.median(w[:, 1]):.3f}")
    print(f"at cuts: {len(c)} pairs; histogram distance min {c[:, 0].min():.4f}, "
          f"1st pct {np.percentile(c[:, 0], 1):.4f}, "
          f"median {np.median(c[:, 0]):.4f}; reliability max {c[:, 1].max():.3f}, median {np.median(c[:, 1]):.3f}")
    for threshold in (0.05, 0.08, 0.1, 0.11, 0.12, 0.13, 0.15, 0.2, 0.3):
        false_cuts = int((w[:, 0] > threshold).sum())
        missed = c[c[:, 0] <= threshold]
        print(f"  threshold {threshold:.2f}: {false_cuts} false cuts, {len(missed)} missed cuts"
              + (f" (their mean reliability: max {missed[:, 1].max():.3f})" if len(missed) else ""))


def measure_blends(photos: list[np.ndarray], blends: list[float], width: int, height: int, frames: int,
                   folder: Path, flow_tolerance: float) -> None:
    from colorizekit.evaluate.video import score_video

    colorizer = Colorizer(device="cpu")
    clips = []
    for k, photo in enumerate(photos):
        path = folder / f"clip{k}.mp4"
        shots = [Shot(photo, frames, *MOVES["slow pan"]), Shot(photo, frames, *MOVES["zoom in"])]
        write_clip(path, render(shots, width, height, noise=2.0, seed=k), fps=12)
        clips.append(path)
    print(f"forward-backward tolerance {flow_tolerance:g} px")
    print("| blend | warped abs(Δab) | ΔE00 | CDC | s |")
    print("|---|---|---|---|---|")
    for blend in blends:
        t0 = time.perf_counter()
        config = TemporalConfig(method="flow" if blend > 0 else "none", blend=blend, flow_tolerance=flow_tolerance)
        scores = [score_video(colorizer, p, config).rows[config.method] for p in clips]
        print(f"| {blend:g} | {np.mean([s.warped_ab for s in scores]):.3f} "
              f"| {np.mean([s.ciede2000 for s in scores]):.3f} "
              f"| {np.mean([s.cdc for s in scores]):.4f} | {time.perf_counter() - t0:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", type=Path, help="folder of photos (e.g. ../shared/data/eval/kodak24)")
    parser.add_argument("--cuts", action="store_true", help="measure the cut threshold")
    parser.add_argument("--blends", type=float, nargs="*", default=[], help="blends to compare")
    parser.add_argument("--flow-tolerance", type=float, default=TemporalConfig().flow_tolerance,
                        help="forward-backward tolerance (px) for the blends")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N photos for the blends")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=180)
    parser.add_argument("--frames", type=int, default=24, help="frames per shot")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/colorizekit-video-temporal"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    paths = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".png", ".jpg", ".tif", ".tiff"))
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    colorizer_info = Colorizer(device="cpu")
    print(f"{len(photos)} photos from {args.photos}; {args.width} x {args.height}, {args.frames} frames per shot, "
          f"working size {colorizer_info.size}")
    if args.cuts:
        measure_cuts(photos, args.width, args.height, args.frames, colorizer_info.size,
                     colorizer_info.info.size_multiple)
    if args.blends:
        args.work.mkdir(parents=True, exist_ok=True)
        measure_blends(photos[:args.limit], args.blends, args.width, args.height, args.frames, args.work,
                       args.flow_tolerance)


if __name__ == "__main__":
    main()
