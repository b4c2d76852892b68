"""The ab bins, soft encoding, the prior and its rebalancing weights, decoding by vividness."""

import numpy as np
import pytest
import torch
from skimage import color as skcolor

from colorizekit import color
from colorizekit.color import bins


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


def test_decoding_at_vividness_0_is_the_mean_and_chroma_rises_with_vividness_keeping_the_hue():
    torch.manual_seed(0)
    logits = torch.randn(2, bins.num_bins(), 5, 6) * 3
    mean = torch.einsum("nqhw,qc->nchw", torch.softmax(logits, dim=1), bins.ab_bins())
    assert torch.allclose(bins.decode_bins(logits, 0.0), mean, atol=1e-4)
    decoded = [bins.decode_bins(logits, v) for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
    chroma = [ab.norm(dim=1) for ab in decoded]
    for lower, higher in zip(chroma, chroma[1:]):
        assert (higher >= lower - 1e-4).all()  # at every pixel
    assert (chroma[-1] > chroma[0] * 1.2).float().mean() > 0.5  # spread predictions gain a lot
    assert (chroma[-1] <= chroma[0] * bins.MAX_CHROMA_GAIN + 1e-3).all()
    cosine = (decoded[0] * decoded[-1]).sum(dim=1) / (chroma[0] * chroma[-1]).clamp_min(1e-6)
    assert (cosine > 1 - 1e-4).all()  # the same hue


def test_a_confident_prediction_keeps_its_colour_at_any_vividness():
    logits = torch.full((1, bins.num_bins(), 1, 1), -30.0)
    logits[0, 100] = 30.0  # all the mass on one bin
    for v in (0.0, 0.5, 1.0):
        assert torch.allclose(bins.decode_bins(logits, v)[0, :, 0, 0], bins.ab_bins()[100], atol=1e-3)


def test_a_gray_mode_no_longer_makes_vividness_run_backwards():
    """The shape of distribution that made the old annealed mean lose colour as vividness rose: most mass on
    the gray bin, the rest on one colour. The mean has some colour; a higher vividness must give more."""
    gray = int(bins.ab_bins().norm(dim=1).argmin())
    red = int(((bins.ab_bins() - torch.tensor([60.0, 40.0])).norm(dim=1)).argmin())
    logits = torch.full((1, bins.num_bins(), 1, 1), -30.0)
    logits[0, gray], logits[0, red] = 1.0, 0.0
    chroma = [bins.decode_bins(logits, v).norm().item() for v in (0.0, 0.5, 1.0)]
    assert chroma[0] > 1 and chroma[0] < chroma[1] < chroma[2]


def test_chroma_never_falls_between_close_vividness_values_whatever_the_distribution():
    """Monotone at every pixel on a fine grid of V (the float and the tensor input alike), for the shapes
    that trouble a decoding: peaked and flat ones, a gray mode, two opposite hues whose mean is near gray
    (where the gain reaches its cap), logits at several scales."""
    torch.manual_seed(1)
    q, centres = bins.num_bins(), bins.ab_bins()
    gray = int(centres.norm(dim=1).argmin())
    red, green = (int((centres - torch.tensor(ab)).norm(dim=1).argmin()) for ab in ([60.0, 40.0], [-60.0, -40.0]))
    shaped = torch.full((4, q), -30.0)
    shaped[0, gray], shaped[0, red] = 2.0, 0.0  # mostly gray
    shaped[1, red], shaped[1, green] = 0.0, 0.0  # opposite hues: mean near gray
    shaped[2, red], shaped[2, green], shaped[2, gray] = 0.1, 0.0, -1.0
    shaped[3] = 0.0  # uniform
    logits = torch.cat([shaped, torch.randn(60, q) * torch.tensor([0.3, 1.0, 3.0, 10.0]).repeat(15)[:, None]])
    logits = logits.T.reshape(1, q, 8, 8)
    grid = torch.linspace(0, 1, 41)
    chroma = torch.stack([bins.decode_bins(logits, float(v)).norm(dim=1) for v in grid])  # (41, 1, 8, 8)
    assert (chroma[1:] >= chroma[:-1] - 1e-4).all()
    assert torch.allclose(torch.stack([bins.decode_bins(logits, v.reshape(1)).norm(dim=1) for v in grid]), chroma)
    assert chroma[-1, 0, 0, 0] > chroma[0, 0, 0, 0] and chroma[-1, 0, 0, 1] > chroma[0, 0, 0, 1]


def test_vividness_is_checked():
    assert bins.check_vividness(0) == 0.0 and bins.check_vividness(1) == 1.0
    for bad in (-0.1, 1.5, float("nan"), True, "0.5"):
        with pytest.raises(ValueError, match="vividness"):
            bins.check_vividness(bad)
