"""Fixtures for the video tests (infer/video, evaluate/test_video, cli/test_video): small clips made from the
built-in real photos, written with PyAV. The tests that use them skip themselves without PyAV and OpenCV."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from colorizekit.evaluate.demo import demo_images
from colorizekit.infer.video.synthetic import Shot, render, tone, write_clip

WIDTH, HEIGHT, FPS = 160, 96, 12
SHOT_FRAMES = 15  # two shots: 30 frames, 2.5 s; the cut is at frame 15
SECONDS = 2 * SHOT_FRAMES / FPS


@pytest.fixture(scope="session")
def photos() -> list[np.ndarray]:
    """The built-in demo photos (real photographs, public domain / CC0) as RGB uint8."""
    return [np.asarray(Image.open(p).convert("RGB")) for p in demo_images()]


def clip_frames(photos: list[np.ndarray]) -> list[np.ndarray]:
    """A slow pan across the astronaut, a cut, then a slow zoom into the cat, with a little noise."""
    shots = [Shot(photos[0], SHOT_FRAMES, (0.42, 0.45, 0.75), (0.58, 0.5, 0.75)),
             Shot(photos[1], SHOT_FRAMES, (0.5, 0.5, 0.6), (0.52, 0.5, 0.48))]
    return list(render(shots, WIDTH, HEIGHT, noise=2.0, seed=1))


@pytest.fixture(scope="session")
def clip(tmp_path_factory, photos):
    """(path, frames): the two-shot clip as an MP4 (H.264) with a 440 Hz tone as AAC audio."""
    frames = clip_frames(photos)
    path = tmp_path_factory.mktemp("clips") / "film.mp4"
    write_clip(path, frames, fps=FPS, audio=tone(SECONDS), metadata={"title": "two shots"})
    return path, frames


@pytest.fixture(scope="session")
def colorizer():
    """The shipped default model on the CPU."""
    from colorizekit.infer.colorizer import Colorizer

    return Colorizer(device="cpu")


@pytest.fixture(scope="session")
def colorized(tmp_path_factory, clip, colorizer):
    """{"none": (result, path), "flow": (result, path)}: the clip colorized both ways."""
    folder = tmp_path_factory.mktemp("colorized")
    out = {}
    for method in ("none", "flow"):
        path = folder / f"{method}.mp4"
        with pytest.warns(UserWarning, match="a colour video"):
            out[method] = (colorizer.colorize_video(clip[0], path, temporal=method, progress=False), path)
    return out
