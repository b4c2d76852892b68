"""Redraw docs/video_strip.jpg: a few frames of a clip colorized frame by frame against with temporal
consistency (`--temporal flow`), with each frame's chroma change since the previous frame along the
optical flow (black: none; white: 2 Lab units or more).

The clip is a slow pan across a built-in demo photo (public domain / CC0, `src/colorizekit/evaluate/demo_images`),
with a little noise, made in colour for ground truth and colorized from its luminance with the
shipped default model; the figures under the pictures are the flow-warped |Δab| of that frame.

    python tools/video_strip.py [--photo src/colorizekit/evaluate/demo_images/chelsea.jpg] [-o docs/video_strip.jpg]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from colorizekit import color  # noqa: E402
from colorizekit.evaluate.figures import image_grid  # noqa: E402
from colorizekit.evaluate.video import score_video  # noqa: E402
from colorizekit.imageio import to_uint8  # noqa: E402
from colorizekit.infer.colorizer import Colorizer  # noqa: E402
from colorizekit.infer.video.io import VideoReader  # noqa: E402
from colorizekit.infer.video.pipeline import colorize_frames  # noqa: E402
from colorizekit.infer.video.synthetic import Shot, render, write_clip  # noqa: E402
from colorizekit.infer.video.temporal import FlowEstimator, flow_reliability, to_uint8_gray, warp  # noqa: E402

CHANGE_SCALE = 2.0  # Lab units shown as white in the change maps


def _ab(rgb: np.ndarray) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)
    return color.rgb_to_lab(t)[1:].permute(1, 2, 0).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", type=Path, default=ROOT / "src/colorizekit/evaluate/demo_images/chelsea.jpg")
    parser.add_argument("-o", "--out", type=Path, default=ROOT / "docs/video_strip.jpg")
    parser.add_argument("--frames", type=int, nargs="+", default=[6, 9, 12, 15, 18], help="frames shown")
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)
    torch.set_num_threads(1)
    photo = np.asarray(Image.open(args.photo).convert("RGB"))
    colorizer = Colorizer(device="cpu")
    flow = FlowEstimator("medium")
    rows: dict[str, list] = {k: [] for k in ("original", "none", "none change", "flow", "flow change")}
    labels: dict[str, list] = {k: [] for k in rows}
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "pan.mp4"
        write_clip(clip, render([Shot(photo, 24, (0.4, 0.5, 0.7), (0.6, 0.5, 0.7))], 240, 144, noise=2.0), fps=12)
        previous = None
        with VideoReader(clip) as reader:
            for cf in colorize_frames(colorizer, reader, "flow"):
                gray = to_uint8_gray(cf.gray)
                outputs = {"none": colorizer.join(cf.gray, cf.predicted), "flow": colorizer.join(cf.gray, cf.ab)}
                abs_ = {k: _ab(v) for k, v in outputs.items()}
                if previous is not None and cf.frame.index in args.frames:
                    backward, forward = flow(gray, previous[0]), flow(previous[0], gray)
                    mask = flow_reliability(backward, forward, gray, previous[0]) >= 0.5
                    rows["original"].append(cf.frame.rgb)
                    labels["original"].append(f"frame {cf.frame.index}")
                    for k in ("none", "flow"):
                        change = np.linalg.norm(abs_[k] - warp(previous[1][k], backward), axis=2) * mask
                        rows[k].append(to_uint8(outputs[k]))
                        rows[f"{k} change"].append(np.clip(change / CHANGE_SCALE, 0, 1))
                        labels[k].append("")
                        labels[f"{k} change"].append(f"|Δab| {change[mask].mean():.2f}")
                previous = (gray, abs_)
        score = score_video(colorizer, clip)
    titles = ["original (colour)", "frame by frame (--temporal none)", "its change along the flow",
              "temporal consistency (--temporal flow)", "its change along the flow"]
    picture = image_grid([rows[k] for k in rows], [labels[k] for k in rows], cell_height=96,
                         row_titles=titles, font_size=13)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(args.out, quality=80, optimize=True)
    none, flow_row = score.rows["none"], score.rows["flow"]
    print(f"wrote {args.out} ({picture.width} x {picture.height}); whole clip: warped |Δab| {none.warped_ab:.3f} "
          f"-> {flow_row.warped_ab:.3f}, ΔE00 {none.ciede2000:.2f} -> {flow_row.ciede2000:.2f}, "
          f"CDC {none.cdc:.4f} -> {flow_row.cdc:.4f}")


if __name__ == "__main__":
    main()
