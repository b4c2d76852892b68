"""Colour modes: inputs, targets and outputs for each model kind."""

import pytest
import torch

from colorizekit import color
from colorizekit.models.modes import get_color_mode


def test_unknown_mode():
    with pytest.raises(ValueError, match="unknown colour mode"):
        get_color_mode("hsv")


def test_rgb_mode_round_trip_of_perfect_prediction():
    mode = get_color_mode("rgb")
    rgb = torch.rand(2, 3, 8, 8)
    x = mode.input_from_rgb(rgb)
    assert x.shape == (2, 1, 8, 8)
    assert torch.allclose(mode.output_to_rgb(mode.target_from_rgb(rgb), x), rgb)
    assert torch.allclose(mode.output_to_ab(rgb), color.rgb_to_lab(rgb)[:, 1:])


def test_lab_mode_round_trip_of_perfect_prediction():
    mode = get_color_mode("lab")
    rgb = torch.rand(2, 3, 8, 8, dtype=torch.float64).float()
    x, y = mode.input_from_rgb(rgb), mode.target_from_rgb(rgb)
    assert x.shape == (2, 1, 8, 8) and y.shape == (2, 2, 8, 8)
    assert x.abs().max() <= 0.5 + 1e-6
    assert torch.allclose(mode.output_to_rgb(y, x), rgb, atol=1e-4)


def test_lab_mode_gray_input_equals_l_of_gray_colour():
    mode = get_color_mode("lab")
    gray = torch.rand(1, 1, 5, 5)
    via_rgb = mode.input_from_rgb(gray.expand(1, 3, 5, 5))
    assert torch.allclose(mode.input_from_gray(gray), via_rgb, atol=1e-5)


def test_bins_mode_fits_the_prior_into_the_model_and_weights_the_loss():
    from colorizekit.color import bins
    from colorizekit.models import create_model

    mode = get_color_mode("ab-bins")
    model = create_model("lite-unet-bins")
    assert torch.allclose(model.head.prior, torch.full((bins.num_bins(),), 1 / bins.num_bins()))
    reddish = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    reddish[:, 0] = 200  # every pixel the same red
    lines = []
    mode.fit(model, [reddish], log=lines.append)
    red_bin = bins.nearest_bin(mode.target_from_rgb(reddish[:1].float() / 255))[0, 0, 0]
    assert model.head.prior.argmax() == red_bin and "measured on 4 photos" in lines[0]
    assert "head.prior" in model.state_dict()  # checkpoints and weights files carry it
    weights = mode.loss_options(model, rebalance=0.5)["class_weights"]
    assert weights[red_bin] == weights.min()  # the common colour weighs least
    assert (model.head.prior.double() * weights.double()).sum().item() == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose(mode.loss_options(model, rebalance=1.0)["class_weights"], torch.ones(bins.num_bins()))
