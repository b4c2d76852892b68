"""The loss registry: (sum, count) losses, rebalanced cross-entropy, a toy loss registered by a test."""

import pytest
import torch
import torch.nn.functional as F

from colorizekit.color import bins
from colorizekit.train import losses


def test_registry_lists_and_refuses_unknown_losses():
    assert {"mse", "rebalanced-ce"} <= set(losses.list_losses())
    with pytest.raises(ValueError, match="available losses"):
        losses.get_loss("l7")


def test_mse_returns_sum_and_count():
    out, target = torch.randn(2, 2, 3, 3), torch.randn(2, 2, 3, 3)
    total, count = losses.get_loss("mse")(out, target)
    assert count == out.numel() and (total / count).item() == pytest.approx(F.mse_loss(out, target).item(), rel=1e-6)


def test_rebalanced_ce_on_soft_targets_and_bin_maps():
    q = bins.num_bins()
    logits = torch.randn(2, q, 4, 4)
    ab = torch.randn(2, 2, 16, 16) * 30  # full-resolution target, averaged down to the logits' 4 x 4
    total, count = losses.rebalanced_cross_entropy(logits, ab)
    soft = bins.soft_encode(bins.downsample_ab(ab, (4, 4)))
    expected = -(soft * F.log_softmax(logits, dim=1)).sum()
    assert count == 32 and total.item() == pytest.approx(expected.item(), rel=1e-5)
    index = torch.randint(0, q, (2, 4, 4))
    weights = torch.rand(q) + 0.5
    total, count = losses.rebalanced_cross_entropy(logits, index, class_weights=weights)
    expected = F.cross_entropy(logits, index, weight=None, reduction="none") * weights[index]
    assert total.item() == pytest.approx(expected.sum().item(), rel=1e-5)
