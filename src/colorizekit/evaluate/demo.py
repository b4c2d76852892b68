"""`colorizekit demo`: colorize the built-in example photos and show grayscale | colorized | original.

The examples are small public-domain and CC0 photos from scikit-image's sample data
(`demo_images/SOURCES.md`). Each is reduced to its luminance, colorized by every model that has
weights, and drawn in a grid beside its grayscale input and the original.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from colorizekit.evaluate.figures import image_grid
from colorizekit.imageio import load_image, save_image
from colorizekit.imageio.atomic import atomic_path
from colorizekit.infer.colorizer import Colorizer
from colorizekit.models import list_models
from colorizekit.weights import WeightsError, weights_by_model

DEMO_DIR = Path(__file__).resolve().parent / "demo_images"


@dataclass
class DemoResult:
    """What `run_demo` wrote and what it could not do."""

    grids: dict[str, Path] = field(default_factory=dict)  # model name -> grid picture
    outputs: dict[str, list[Path]] = field(default_factory=dict)  # model name -> colorized photos
    unavailable: dict[str, str] = field(default_factory=dict)  # model name -> why it was not run


def demo_images() -> list[Path]:
    """The built-in example photos, sorted."""
    return sorted(p for p in DEMO_DIR.iterdir() if p.suffix.lower() == ".jpg")


def run_demo(out_dir: str | os.PathLike = "demo", models: list[str] | None = None,
             weights: Mapping[str, str | os.PathLike] | Iterable[str | os.PathLike] | None = None,
             size: int | None = None,
             device: str | None = None) -> DemoResult:
    """Colorize the built-in photos with each model in `models` that has weights and write, per model,
    `<model>/<photo>.png` and `demo_<model>.png`, a grid of grayscale | colorized | original.

    weights: files to use instead of the shipped ones: {model: file}, or a list of files (their model
        read from each) or "NAME=FILE" items, as `weights.weights_by_model` reads them.
    models: default: the models `weights` names, or every model when it names none.
    Models without weights are listed in `unavailable`, with the reason."""
    out_dir = Path(out_dir)
    weights = weights_by_model(weights)
    names = models or sorted(weights) or list_models()
    photos = [load_image(p) for p in demo_images()]
    result = DemoResult()
    for name in names:
        try:
            colorizer = Colorizer(model=name, weights=weights.get(name), size=size, device=device)
        except WeightsError as exc:
            result.unavailable[name] = str(exc)
            continue
        colorized = colorizer.colorize_gray([p.gray for p in photos])
        result.outputs[name] = []
        for photo, rgb in zip(photos, colorized):
            path = out_dir / name / f"{Path(photo.name).stem}.png"
            save_image(path, rgb)
            result.outputs[name].append(path)
        rows = [[np.repeat(p.gray[..., None], 3, axis=2), rgb, p.rgb] for p, rgb in zip(photos, colorized)]
        grid = image_grid(rows, col_titles=["grayscale input", f"colorized: {name}", "original"])
        grid_path = out_dir / f"demo_{name}.png"
        with atomic_path(grid_path) as tmp:
            grid.save(tmp)
        result.grids[name] = grid_path
    return result
