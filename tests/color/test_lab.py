"""Colour math against scikit-image: values, round trips, gamut clipping, gradients, bad input."""

import numpy as np
import pytest
import torch

from colorizekit import color

skcolor = pytest.importorskip("skimage.color")


def _random_rgb(seed=0, shape=(3, 40, 50)):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g, dtype=torch.float64)


def test_rgb_to_lab_matches_skimage():
    rgb = _random_rgb()
    ours = color.rgb_to_lab(rgb).permute(1, 2, 0).numpy()
    ref = skcolor.rgb2lab(rgb.permute(1, 2, 0).numpy())
    assert np.abs(ours - ref).max() < 1e-3


def test_rgb_to_lab_float32_batched_matches_skimage():
    rgb = _random_rgb(1, (2, 3, 16, 16)).float()
    ours = color.rgb_to_lab(rgb).permute(0, 2, 3, 1).numpy()
    ref = np.stack([skcolor.rgb2lab(im) for im in rgb.permute(0, 2, 3, 1).double().numpy()])
    assert np.abs(ours - ref).max() < 1e-3


def test_lab_to_rgb_matches_skimage_in_gamut():
    lab = color.rgb_to_lab(_random_rgb(2))
    ours = color.lab_to_rgb(lab).permute(1, 2, 0).numpy()
    ref = skcolor.lab2rgb(lab.permute(1, 2, 0).numpy())
    assert np.abs(ours - ref).max() < 1e-4


def test_lab_to_rgb_clips_out_of_gamut_like_skimage():
    g = torch.Generator().manual_seed(3)
    lab = torch.stack([torch.rand(20, 20, generator=g, dtype=torch.float64) * 100,
                       torch.rand(20, 20, generator=g, dtype=torch.float64) * 256 - 128,
                       torch.rand(20, 20, generator=g, dtype=torch.float64) * 256 - 128])
    ours = color.lab_to_rgb(lab)
    assert ours.min() >= 0 and ours.max() <= 1
    with pytest.warns(UserWarning):  # skimage warns about negative Z values it clips
        ref = skcolor.lab2rgb(lab.permute(1, 2, 0).numpy())
    assert np.abs(ours.permute(1, 2, 0).numpy() - ref).max() < 1e-4
    assert color.lab_to_rgb(lab, clip=False).max() > 1  # really out of gamut


def test_round_trip():
    rgb = _random_rgb(4)
    assert torch.allclose(color.lab_to_rgb(color.rgb_to_lab(rgb)), rgb, atol=1e-6)


def test_gray_weights_and_gray_l():
    rgb = _random_rgb(5)
    gray = color.rgb_to_gray(rgb)
    assert torch.allclose(gray[0], 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])
    g = torch.linspace(0, 1, 101, dtype=torch.float64).view(1, 1, 101)
    lum = color.gray_to_l(g)
    ref = skcolor.rgb2lab(np.repeat(g.permute(1, 2, 0).numpy(), 3, axis=2))[..., 0]
    assert np.abs(lum[0].numpy() - ref).max() < 1e-3
    assert torch.allclose(color.l_to_gray(lum), g, atol=1e-6)


def test_normalisation_round_trip_and_constants():
    lab = color.rgb_to_lab(_random_rgb(6))
    assert torch.allclose(color.normalize_l(torch.tensor(50.0)), torch.tensor(0.0))
    assert torch.allclose(color.normalize_ab(torch.tensor(110.0)), torch.tensor(1.0))
    assert torch.allclose(color.denormalize_l(color.normalize_l(lab[:1])), lab[:1])
    assert torch.allclose(color.denormalize_ab(color.normalize_ab(lab[1:])), lab[1:])


def test_gradcheck_float64():
    rgb = (torch.rand(1, 3, 4, 4, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(color.rgb_to_lab, (rgb,))
    lab = color.rgb_to_lab(rgb.detach()).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: color.lab_to_rgb(t, clip=False), (lab,))


def test_gradients_finite_at_zero_and_one():
    rgb = torch.tensor([0.0, 1.0, 0.5]).view(3, 1, 1).requires_grad_()
    color.rgb_to_lab(rgb).sum().backward()
    assert torch.isfinite(rgb.grad).all()


@pytest.mark.parametrize("fn,shape", [(color.rgb_to_lab, (2, 4, 4)), (color.lab_to_rgb, (4, 4)),
                                      (color.rgb_to_gray, (1, 4, 4)), (color.gray_to_l, (3, 4, 4))])
def test_bad_shapes_raise(fn, shape):
    with pytest.raises(ValueError, match="expects a tensor of shape"):
        fn(torch.zeros(shape))


def test_saturate_scales_chroma_keeps_hue_and_refuses_bad_values():
    ab = torch.tensor([[[[30.0, -20.0]], [[-10.0, 40.0]]]], dtype=torch.float64)  # (1, 2, 1, 2)
    assert torch.equal(color.saturate(ab, 1.0), ab)
    assert torch.allclose(color.saturate(ab, 1.5), ab * 1.5)
    assert torch.count_nonzero(color.saturate(ab, 0.0)) == 0
    hue = torch.atan2(ab[:, 1], ab[:, 0])
    assert torch.allclose(torch.atan2(*color.saturate(ab, 2.5)[:, [1, 0]].unbind(1)), hue)
    for bad in (-0.1, 3.5, float("nan"), True, "1.2"):
        with pytest.raises(ValueError, match="saturation must be a number from 0"):
            color.saturate(ab, bad)


def test_saturate_rgb_keeps_lightness_and_scales_chroma_as_skimage_measures_it():
    rgb = 0.25 + 0.5 * _random_rgb(3, (1, 3, 8, 8))  # mid-tones: scaled chroma stays in gamut
    out = color.saturate_rgb(rgb, 1.2)
    lab_in = skcolor.rgb2lab(rgb[0].permute(1, 2, 0).numpy())
    lab_out = skcolor.rgb2lab(out[0].permute(1, 2, 0).numpy())
    assert np.abs(lab_out[..., 0] - lab_in[..., 0]).max() < 1e-3
    assert np.abs(lab_out[..., 1:] - 1.2 * lab_in[..., 1:]).max() < 1e-2
    assert color.saturate_rgb(rgb, 1.0) is rgb
    gray = color.saturate_rgb(rgb, 0.0)
    assert (gray.max(dim=1).values - gray.min(dim=1).values).max() < 1e-4
