"""examples/colorize_onnx.py: colorizes with numpy, Pillow and onnxruntime alone, as colorizekit does.

The fast test runs it here with `import torch` made to fail and compares it with
`Colorizer(backend="onnx")`; the slow one runs it in a fresh virtual environment holding only numpy,
Pillow and onnxruntime (made once for the module; skipped when pip cannot install them).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorizekit import color
from colorizekit.infer.colorizer import Colorizer
from colorizekit.models import get_model_info, list_models
from tests.conftest import synthetic_rgb

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "colorize_onnx.py"
BINS_MODEL = next(m for m in list_models() if get_model_info(m).mode.supports_vividness)
NO_TORCH = ("import runpy, sys; sys.modules['torch'] = None; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")  # `import torch` raises ImportError


def _ab(path: Path) -> torch.Tensor:
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255
    return color.rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1))[1:]


def _photo(path: Path, colour: bool) -> Path:
    image = Image.fromarray(synthetic_rgb(90, 140, seed=3))
    (image if colour else image.convert("L")).save(path)
    return path


@pytest.mark.filterwarnings("ignore:.*a colour photo; only its luminance is used")
@pytest.mark.parametrize("model", ["lite-unet-bins", "unet-rgb"])  # an L model and a gray one
@pytest.mark.parametrize("colour", [False, True], ids=["gray-photo", "colour-photo"])
def test_script_without_torch_gives_colorizekits_result(tmp_path, exported, model, colour):
    onnx_file = exported(model)[1]
    photo = _photo(tmp_path / "photo.png", colour)
    out = tmp_path / "out.png"
    run = subprocess.run([sys.executable, "-c", NO_TORCH, str(SCRIPT), str(onnx_file), str(photo), str(out),
                          "--size", "64"], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    Colorizer(weights=onnx_file, backend="onnx", size=64)(photo).save(tmp_path / "want.png")
    got, want = _ab(out), _ab(tmp_path / "want.png")
    assert got.shape[1:] == (90, 140)
    assert (got - want).norm(dim=0).mean() < 0.5  # mean |delta ab|, Lab units; 8-bit rounding aside, equal


def test_script_vividness_changes_the_colours(tmp_path, exported):
    onnx_file = exported(BINS_MODEL)[1]
    photo = _photo(tmp_path / "photo.png", colour=False)
    chroma = {}
    for v in ("0", "1"):
        subprocess.run([sys.executable, "-c", NO_TORCH, str(SCRIPT), str(onnx_file), str(photo),
                        str(tmp_path / f"{v}.png"), "--size", "64", "--vividness", v], check=True,
                       capture_output=True, timeout=300)
        chroma[v] = _ab(tmp_path / f"{v}.png").norm(dim=0).mean()
    assert chroma["1"] > chroma["0"] + 0.5


def test_script_applies_the_cards_saturation_unless_told(tmp_path):
    from colorizekit.models import create_model
    from colorizekit.onnx.export import export_onnx
    from colorizekit.weights import export_weights

    torch.manual_seed(0)
    weights = tmp_path / "unet.safetensors"
    export_weights(weights, "unet-rgb", create_model("unet-rgb").state_dict(), card={"default_saturation": 0.0})
    onnx_file = export_onnx(tmp_path / "unet.onnx", weights=weights)
    photo = _photo(tmp_path / "photo.png", colour=False)
    chroma = {}
    for name, extra in (("card", []), ("told", ["--saturation", "1"])):
        subprocess.run([sys.executable, "-c", NO_TORCH, str(SCRIPT), str(onnx_file), str(photo),
                        str(tmp_path / f"{name}.png"), "--size", "64", *extra], check=True,
                       capture_output=True, timeout=300)
        chroma[name] = _ab(tmp_path / f"{name}.png").norm(dim=0).mean()
    assert chroma["card"] < 0.5 < chroma["told"]  # the card's 0 gives gray; --saturation 1 the model's colour


@pytest.fixture(scope="module")
def venv_without_torch(tmp_path_factory) -> Path:
    """The python of a new virtual environment with numpy, Pillow and onnxruntime only."""
    folder = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, capture_output=True, timeout=300)
    python = folder / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "numpy", "pillow", "onnxruntime"],
                             capture_output=True, text=True, timeout=900, check=False)
    if install.returncode != 0:
        pytest.skip(f"pip could not install numpy, pillow and onnxruntime: {install.stderr.strip()[-300:]}")
    return python


@pytest.mark.slow
def test_script_in_a_virtual_environment_without_torch(tmp_path, exported, venv_without_torch):
    probe = subprocess.run([str(venv_without_torch), "-c", "import torch"], capture_output=True, text=True,
                           check=False)
    assert probe.returncode != 0 and "No module named 'torch'" in probe.stderr
    photo = _photo(tmp_path / "photo.jpg", colour=False)
    out = tmp_path / "colour.jpg"
    run = subprocess.run([str(venv_without_torch), str(SCRIPT), str(exported(BINS_MODEL)[1]), str(photo), str(out)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    assert Image.open(out).size == (140, 90)
    assert _ab(out).norm(dim=0).mean() > 1.0  # it has colour
