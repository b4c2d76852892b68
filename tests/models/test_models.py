"""Every registered model: exact size, output shapes, no NaN, gradients reach every parameter."""

import pytest
import torch

import colorizekit
from colorizekit.models import get_model_info

EXPECTED_PARAMS = {"unet-rgb": 31_042_499, "jkspnet-lab": 17_639_339}


def test_registry_lists_both_models():
    assert colorizekit.list_models() == sorted(EXPECTED_PARAMS)


def test_unknown_model_names_the_available_ones():
    with pytest.raises(ValueError, match="available models: jkspnet-lab, unet-rgb"):
        colorizekit.create_model("unet")


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_parameter_count_matches_design(name):
    model = colorizekit.create_model(name)
    assert sum(p.numel() for p in model.parameters()) == EXPECTED_PARAMS[name]


@pytest.mark.parametrize("name", colorizekit.list_models())
@pytest.mark.parametrize("hw", [(128, 128), (96, 160)])
def test_forward_shape_finite_and_gradients(name, hw):
    torch.manual_seed(0)
    info = get_model_info(name)
    model = colorizekit.create_model(name).train()
    x = torch.rand(2, 1, *hw)
    out = model(x)
    assert out.shape == (2, info.mode.out_channels, *hw)
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert not missing, f"no gradient reached: {missing}"


@pytest.mark.parametrize("name", colorizekit.list_models())
def test_model_declares_mode_and_size_multiple(name):
    info = get_model_info(name)
    assert info.color_mode in ("rgb", "lab")
    assert info.size_multiple in (8, 16)
    model = colorizekit.create_model(name).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 1, info.size_multiple * 3, info.size_multiple * 5))
    assert out.shape[-2:] == (info.size_multiple * 3, info.size_multiple * 5)


def test_jkspnet_output_is_expectation_over_softmax_bins():
    model = colorizekit.create_model("jkspnet-lab").eval()
    with torch.no_grad():
        out = model(torch.rand(1, 1, 32, 32))
        w = model.out.weight.view(2, -1)
    # a convex combination of the 313 bin vectors stays inside their bounding box
    assert (out[:, 0] >= w[0].min() - 1e-6).all() and (out[:, 0] <= w[0].max() + 1e-6).all()
    assert model.out.bias is None
