"""More vividness gives more colour (issue 24, item 3), on real weights: for every registered model with a
vividness control (colour mode ab-bins) that ships weights, the mean colourfulness (CF, Hasler and
Suesstrunk) of the built-in example photos colorized at V = 0, 0.25, 0.5, 0.75, 1 rises strictly, at
saturation 1 and at the weights' default saturation. (`benchmarks/vividness_cf.py` measures the same on
the evaluation sets; `tests/color/test_bins.py` checks `decode_bins` pixel by pixel on synthetic distributions.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from colorizekit.evaluate.demo import demo_images
from colorizekit.evaluate.metrics import colorfulness
from colorizekit.imageio import load_image
from colorizekit.infer.colorizer import Colorizer
from colorizekit.models import get_model_info, list_models
from colorizekit.weights import default_weights_path

VIVIDNESS = (0.0, 0.25, 0.5, 0.75, 1.0)
SHIPPED = [name for name in list_models()
           if get_model_info(name).mode.supports_vividness and default_weights_path(name) is not None]


def test_a_model_with_a_vividness_control_ships_weights():
    assert "lite-unet-bins" in SHIPPED  # so the test below checks something


@pytest.mark.parametrize("model", SHIPPED)
def test_mean_colourfulness_of_the_built_in_photos_rises_with_vividness(model):
    grays = [load_image(p).gray for p in demo_images()]
    colorizer = Colorizer(model=model, device="cpu")  # its shipped weights, at their working size
    for saturation in sorted({1.0, colorizer.saturation}):
        cf = []
        for v in VIVIDNESS:
            outputs = colorizer.colorize_gray(grays, vividness=v, saturation=saturation)
            cf.append(float(np.mean([colorfulness(torch.from_numpy(o).permute(2, 0, 1)[None]).item()
                                     for o in outputs])))
        assert all(b > a for a, b in zip(cf, cf[1:])), f"{model}, saturation {saturation}: mean CF {cf}"
