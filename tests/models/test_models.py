"""Every registered model: exact size, output shapes, no NaN, gradients reach every parameter."""

import pytest
import torch

import colorizekit
from colorizekit.models import get_model_info

# The design's two models (exact, from the design documents), colorizekit's own CPU model and its
# EfficientNet-Lite0-encoder model.
EXPECTED_PARAMS = {"unet-rgb": 31_042_499, "jkspnet-lab": 17_639_339, "lite-unet-bins": 4_366_949,
                   "effnet-lite-bins": 4_684_421}


def test_registry_lists_every_model_with_a_known_size():
    assert colorizekit.list_models() == sorted(EXPECTED_PARAMS)


def test_unknown_model_names_the_available_ones():
    with pytest.raises(ValueError, match="available models: " + ", ".join(colorizekit.list_models())):
        colorizekit.create_model("unet")


def test_model_config_is_checked():
    with pytest.raises(ValueError, match="does not take the config"):
        colorizekit.create_model("jkspnet-lab", width=8)


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
    assert out.shape == (2, info.mode.out_channels, hw[0] // info.output_stride, hw[1] // info.output_stride)
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert not missing, f"no gradient reached: {missing}"


@pytest.mark.parametrize("name", colorizekit.list_models())
def test_model_declares_mode_and_size_multiple(name):
    info = get_model_info(name)
    assert info.mode.name == info.color_mode
    assert info.size_multiple % info.output_stride == 0
    model = colorizekit.create_model(name).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 1, info.size_multiple * 3, info.size_multiple * 5))
    m = info.size_multiple // info.output_stride
    assert out.shape[-2:] == (m * 3, m * 5)


def test_jkspnet_output_is_expectation_over_softmax_bins():
    model = colorizekit.create_model("jkspnet-lab").eval()
    with torch.no_grad():
        out = model(torch.rand(1, 1, 32, 32))
        w = model.out.weight.view(2, -1)
    # a convex combination of the 313 bin vectors stays inside their bounding box
    assert (out[:, 0] >= w[0].min() - 1e-6).all() and (out[:, 0] <= w[0].max() + 1e-6).all()
    assert model.out.bias is None
