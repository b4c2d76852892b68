"""Shared fixtures: tiny synthetic photos and throwaway weights files (never real results)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

# ../shared/data beside the project; COLORIZEKIT_SHARED_DATA points elsewhere (a git worktree in another folder)
SHARED_DATA = Path(os.environ.get("COLORIZEKIT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def synthetic_rgb(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth, colourful (H, W, 3) uint8 image: gradients plus a few coloured blobs."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([x / max(width - 1, 1), y / max(height - 1, 1), 1 - x / max(width - 1, 1)], axis=-1)
    for _ in range(3):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        r = rng.uniform(0.15, 0.35) * min(height, width) + 1
        mask = ((y - cy) ** 2 + (x - cx) ** 2) < r ** 2
        img[mask] = rng.uniform(0, 1, size=3)
    return (img * 255).round().astype(np.uint8)


@pytest.fixture
def rgb_image() -> np.ndarray:
    """A 48 x 64 synthetic colour photo, uint8."""
    return synthetic_rgb()


@pytest.fixture
def make_weights(tmp_path):
    """Factory: write randomly initialised (seeded) weights for a model as a colorizekit safetensors file.

    For testing the plumbing only: such weights are never presented as a colorization result.
    """
    from colorizekit.models import create_model
    from colorizekit.weights import export_weights

    def make(model_name: str = "jkspnet-lab", seed: int = 0) -> Path:
        torch.manual_seed(seed)
        path = tmp_path / f"{model_name}-random.safetensors"
        export_weights(path, model_name, create_model(model_name).state_dict(), card={"test": True})
        return path

    return make


@pytest.fixture
def shared_data() -> Path:
    """The real photos in ../shared/data; skips the test when they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """Factory: (weights file, its ONNX export) of seeded random weights for a model, made once per session.

    For testing the plumbing only, as `make_weights`.
    """
    from colorizekit.models import create_model
    from colorizekit.onnx.export import export_onnx
    from colorizekit.weights import export_weights

    made: dict[str, tuple[Path, Path]] = {}

    def make(model_name: str = "jkspnet-lab") -> tuple[Path, Path]:
        if model_name not in made:
            folder = tmp_path_factory.mktemp(f"exported-{model_name}")
            torch.manual_seed(0)
            weights = folder / f"{model_name}-random.safetensors"
            export_weights(weights, model_name, create_model(model_name).state_dict(), card={"test": True})
            made[model_name] = weights, export_onnx(folder / f"{model_name}.onnx", weights=weights)
        return made[model_name]

    return make
