"""Temporal-consistency metrics for colorized video, as torch functions (beside `metrics`, which
scores single images).

| function | metric | better |
|---|---|---|
| `ab_histograms` + `cdc` | colour distribution consistency: mean Jensen-Shannon divergence of the a and b
histograms of frames t and t + k | lower |
| `warped_ab_difference` | mean flow-warped chroma change between consecutive frames, in Lab units | lower |

CDC follows the video colorization literature (Lei and Chen 2019; Liu et al. 2021, "TCVC"; NTIRE
2023's video colorization challenge), which compare the R, G and B histograms of frames t and t + k;
colorizekit compares the CIE a and b histograms instead, since a colorizer keeps L and only its
chroma can flicker: CDC_k = mean over t and c in {a, b} of JS(h_c(t), h_c(t + k)), JS with base-2
logarithms (0 for equal histograms, 1 for disjoint ones), histograms of AB_BINS 1-unit bins over
[-AB_RANGE, AB_RANGE); CDC = the mean of CDC_k over k in CDC_STEPS. It needs no flow, but a pan
that brings new colours into view raises it for the original too.

The warped |Δab| (after Lai et al. 2018's warping error, on chroma) warps frame t's ab onto frame
t + 1 along the optical flow and averages the Euclidean ab difference over the pixels a mask marks
as visible in both frames: (1 / |M|) sum over x in M of ||ab_t+1(x) - ab_t(x + flow(x))||. The flow
and mask come from the caller (`colorizekit.evaluate.video` estimates them on the original frames).
docs/metrics.md has both metrics' conventions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

AB_RANGE = 128.0  # histograms cover a, b in [-AB_RANGE, AB_RANGE)
AB_BINS = 256  # histogram bins per channel (1 Lab unit each)
CDC_STEPS = (1, 2, 4)  # frame distances k averaged into CDC


def ab_histograms(ab: torch.Tensor) -> torch.Tensor:
    """ab (2, H, W) in Lab units -> (2, AB_BINS) float64 histograms of a and b, each summing to 1."""
    if ab.dim() != 3 or ab.shape[0] != 2:
        raise ValueError(f"ab_histograms: expected ab of shape (2, H, W), got {tuple(ab.shape)}")
    width = 2 * AB_RANGE / AB_BINS
    index = ((ab.double() + AB_RANGE) / width).floor().clamp(0, AB_BINS - 1).long().flatten(1)
    counts = torch.zeros(2, AB_BINS, dtype=torch.float64).scatter_add_(1, index, torch.ones_like(index, dtype=torch.float64))
    return counts / counts.sum(dim=1, keepdim=True)


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Jensen-Shannon divergence, base 2, of distributions along the last axis: (*, B), (*, B) -> (*)."""
    m = 0.5 * (p + q)

    def kl(x: torch.Tensor) -> torch.Tensor:
        return torch.where(x > 0, x * torch.log2(x / m.clamp(min=1e-300)), torch.zeros_like(x)).sum(-1)

    return (0.5 * kl(p) + 0.5 * kl(q)).clamp(min=0)


def cdc(histograms: Sequence[torch.Tensor] | torch.Tensor, steps: Sequence[int] = CDC_STEPS) -> float | None:
    """CDC of a clip from its frames' `ab_histograms` ((T, 2, AB_BINS), in order): the mean over
    k in `steps` of the mean JS divergence between frames t and t + k. Steps longer than the clip
    are left out; None when the clip has a single frame."""
    h = torch.stack(list(histograms)) if not isinstance(histograms, torch.Tensor) else histograms
    per_step = [js_divergence(h[:-k], h[k:]).mean().item() for k in steps if 0 < k < len(h)]
    return float(np.mean(per_step)) if per_step else None


def warped_ab_difference(ab_previous: torch.Tensor, ab: torch.Tensor, backward: torch.Tensor,
                         mask: torch.Tensor) -> float | None:
    """Mean ||ab(x) - ab_previous(x + backward(x))|| over the pixels where `mask` is true.

    ab_previous, ab: (2, H, W) in Lab units (frames t and t + 1); backward: (H, W, 2) float, the
    flow (dx, dy) in pixels from frame t + 1 to frame t; mask: (H, W) bool. Sampling is bilinear.
    None when the mask is empty.
    """
    if ab.shape != ab_previous.shape or ab.dim() != 3 or ab.shape[0] != 2:
        raise ValueError(f"warped_ab_difference: expected two ab tensors of shape (2, H, W), got "
                         f"{tuple(ab_previous.shape)} and {tuple(ab.shape)}")
    h, w = ab.shape[-2:]
    if tuple(backward.shape) != (h, w, 2) or tuple(mask.shape) != (h, w):
        raise ValueError(f"warped_ab_difference: expected flow ({h}, {w}, 2) and mask ({h}, {w}), got "
                         f"{tuple(backward.shape)} and {tuple(mask.shape)}")
    if not bool(mask.any()):
        return None
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    x = (xs + backward[..., 0].double()) * 2 / max(w - 1, 1) - 1
    y = (ys + backward[..., 1].double()) * 2 / max(h - 1, 1) - 1
    grid = torch.stack([x, y], dim=-1)[None]
    warped = F.grid_sample(ab_previous.double()[None], grid, mode="bilinear", padding_mode="border",
                           align_corners=True)[0]
    difference = torch.linalg.vector_norm(ab.double() - warped, dim=0)
    return float(difference[mask].mean())
