"""The ab bins, soft encoding, the prior and its rebalancing weights, annealed-mean decoding."""

import numpy as np
import pytest
import torch
from skimage import color as skcolor

from colorizekit import bins, color


def test_bins_lie_on_the_grid_are_in_gamut_and_cover_srgb():
    b = bins.ab_bins()
    assert b.shape == (261, 2) and bins.num_bins() == 261
    assert torch.equal(b, torch.round(b / bins.GRID) * bins.GRID)
    # every bin's cell holds an sRGB colour: some L makes a point of the cell convert back without clipping
    lum = torch.linspace(0, 100, 401, dtype=torch.float64)
    offsets = torch.linspace(-bins.GRID / 2, bins.GRID / 2, 11, dtype=torch.float64)
    in_gamut = torch.zeros(len(b), dtype=torch.bool)
    for da in offsets:
        for db in offsets:
            ab = b.double() + torch.stack([da, db])
            lab = torch.stack([lum[:, None].expand(-1, len(b)), ab[:, 0].expand(len(lum), -1),
                               ab[:, 1].expand(len(lum), -1)])[:, :, :, None]  # (3, L, Q, 1)
            rgb = color.lab_to_rgb(lab.permute(1, 0, 2, 3), clip=False)  # (L, 3, Q, 1)
            in_gamut |= ((rgb >= 0) & (rgb <= 1)).all(dim=1).any(dim=0)[:, 0]
    assert in_gamut.all()


def test_bins_cover_the_ab_of_random_colours():
    rgb = np.random.default_rng(0).integers(0, 256, size=(200, 200, 3)).astype(np.float64) / 255
    ab = torch.from_numpy(skcolor.rgb2lab(rgb)[..., 1:]).permute(2, 0, 1)[None].float()
    nearest = bins.ab_bins()[bins.nearest_bin(ab)]  # (1, 200, 200, 2)
    distance = (nearest.permute(0, 3, 1, 2) - ab).norm(dim=1)
    assert distance.max() <= bins.GRID / 2 * 2**0.5 + 1e-4  # each colour falls in its own bin's cell


def test_soft_encoding_sums_to_one_on_five_nearest_bins():
    ab = torch.randn(2, 2, 5, 7) * 40
    soft = bins.soft_encode(ab)
    assert soft.shape == (2, bins.num_bins(), 5, 7)
    assert torch.allclose(soft.sum(dim=1), torch.ones(2, 5, 7), atol=1e-6)
    assert ((soft > 0).sum(dim=1) == bins.SOFT_NEIGHBOURS).all()
    assert torch.equal(soft.argmax(dim=1), bins.nearest_bin(ab))


def test_rebalancing_weights_have_expectation_one_under_the_prior():
    counts = torch.rand(bins.num_bins(), dtype=torch.float64) ** 4 * 1000
    prior = bins.smooth_prior(counts)
    assert prior.sum().item() == pytest.approx(1.0) and (prior > 0).all()
    for lam in (0.1, 0.5, 0.9):
        w = bins.rebalance_weights(prior, lam).double()
        assert (prior * w).sum().item() == pytest.approx(1.0, abs=1e-5)
        assert w[prior.argmin()] > w[prior.argmax()]  # rare colours weigh more
    assert torch.allclose(bins.rebalance_weights(prior, 1.0), torch.ones(bins.num_bins()))  # lambda 1: none
    with pytest.raises(ValueError, match="lambda"):
        bins.rebalance_weights(prior, 0.0)


def test_annealed_mean_is_the_mean_at_t1_and_tends_to_the_mode():
    logits = torch.randn(1, bins.num_bins(), 3, 4) * 2
    logits.scatter_add_(1, logits.argmax(dim=1, keepdim=True), torch.ones(1, 1, 3, 4))  # a clear mode
    p = torch.softmax(logits, dim=1)
    mean = torch.einsum("nqhw,qc->nchw", p, bins.ab_bins())
    assert torch.allclose(bins.annealed_mean(logits, 1.0), mean, atol=1e-4)
    mode = bins.ab_bins()[logits.argmax(dim=1)].permute(0, 3, 1, 2)
    errors = [(bins.annealed_mean(logits, t) - mode).abs().max().item() for t in (1.0, 0.1, 0.01)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-3


def test_vividness_maps_to_temperature():
    assert bins.vividness_to_temperature(0) == 1.0
    assert bins.vividness_to_temperature(1) == pytest.approx(bins.MIN_TEMPERATURE)
    assert bins.vividness_to_temperature(0.5) == pytest.approx(bins.MIN_TEMPERATURE ** 0.5)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="vividness"):
            bins.vividness_to_temperature(bad)
