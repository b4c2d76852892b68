"""The clips the video benchmarks colorize: a slow pan, a cut, then a slow zoom, across real photos.

Not a benchmark itself; `video_speed.py` and `video_memory.py` import it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from colorizekit.evaluate.demo import demo_images  # noqa: E402
from colorizekit.infer.video.synthetic import Shot, render, tone, write_clip  # noqa: E402

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "eval" / "kodak24"


def photos() -> list[np.ndarray]:
    """Two kodak24 photos when ../shared/data is there (768 x 512), else two built-in demo photos."""
    paths = [KODAK / "kodim05.png", KODAK / "kodim23.png"]
    if not all(p.exists() for p in paths):
        paths = demo_images()[1:3]
    return [np.asarray(Image.open(p).convert("RGB")) for p in paths]


def make_clip(path: Path, width: int, height: int, fps: int, seconds: float, gray: bool = True) -> Path:
    """A clip of `seconds` at `fps`, with a tone: a pan across one photo, a cut, a zoom into another;
    in grayscale (R = G = B, as an old film decodes) unless `gray` is False."""
    first, second = photos()
    frames = round(seconds * fps)
    half = frames // 2
    shots = [Shot(first, half, (0.45, 0.5, 0.8), (0.55, 0.5, 0.8)),
             Shot(second, frames - half, (0.5, 0.5, 0.9), (0.5, 0.5, 0.7))]
    frames = render(shots, width, height, noise=2.0)
    if gray:
        frames = (np.repeat(f.mean(axis=2, keepdims=True).round().astype(np.uint8), 3, axis=2) for f in frames)
    write_clip(path, frames, fps=fps, audio=tone(seconds))
    return path
