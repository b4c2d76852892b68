"""Video metrics: ab histograms, Jensen-Shannon divergence, CDC and the flow-warped |Δab|."""

from __future__ import annotations

import pytest
import torch

from colorizekit.evaluate.video_metrics import AB_BINS, ab_histograms, cdc, js_divergence, warped_ab_difference


def test_histograms_sum_to_one_and_bin_by_lab_unit():
    ab = torch.stack([torch.full((4, 4), -128.0), torch.full((4, 4), 10.5)])
    h = ab_histograms(ab)
    assert h.shape == (2, AB_BINS)
    torch.testing.assert_close(h.sum(dim=1), torch.ones(2, dtype=torch.float64))
    assert h[0, 0] == 1 and h[1, 138] == 1  # 10.5 lies in [10, 11): bin 128 + 10
    with pytest.raises(ValueError, match=r"expected ab of shape \(2, H, W\), got \(3, 4, 4\)"):
        ab_histograms(torch.zeros(3, 4, 4))


def test_js_divergence_range():
    p = torch.tensor([0.5, 0.5, 0.0, 0.0], dtype=torch.float64)
    q = torch.tensor([0.0, 0.0, 0.5, 0.5], dtype=torch.float64)
    assert js_divergence(p, p).item() == pytest.approx(0)
    assert js_divergence(p, q).item() == pytest.approx(1)
    r = torch.tensor([0.25, 0.25, 0.25, 0.25], dtype=torch.float64)
    assert 0 < js_divergence(p, r).item() == pytest.approx(js_divergence(r, p).item())


def test_cdc_is_zero_for_a_steady_clip_and_grows_with_flicker():
    steady = [ab_histograms(torch.full((2, 8, 8), 5.0))] * 6
    assert cdc(steady) == pytest.approx(0)
    flicker = [ab_histograms(torch.full((2, 8, 8), 5.0 if t % 2 else -5.0)) for t in range(6)]
    # k = 1: disjoint (1); k = 2 and 4: equal (0) -> mean 1/3
    assert cdc(flicker) == pytest.approx(1 / 3)
    assert cdc(flicker[:2]) == pytest.approx(1)  # steps longer than the clip are left out
    assert cdc(flicker[:1]) is None


def test_warped_difference_follows_the_flow():
    g = torch.Generator().manual_seed(0)
    previous = torch.randn(2, 16, 24, generator=g, dtype=torch.float64) * 10
    shifted = torch.roll(previous, shifts=-2, dims=2)  # content moved 2 px left
    flow = torch.zeros(16, 24, 2)
    flow[..., 0] = 2.0  # pixel x of the new frame was at x + 2
    mask = torch.zeros(16, 24, dtype=torch.bool)
    mask[:, :20] = True
    assert warped_ab_difference(previous, shifted, flow, mask) == pytest.approx(0, abs=1e-9)
    assert warped_ab_difference(previous, shifted, torch.zeros(16, 24, 2), mask) > 5
    assert warped_ab_difference(previous, shifted, flow, torch.zeros(16, 24, dtype=torch.bool)) is None
    with pytest.raises(ValueError, match=r"expected flow \(16, 24, 2\)"):
        warped_ab_difference(previous, shifted, torch.zeros(8, 8, 2), mask)
