"""Training losses: a registry of functions, each returning (sum, count).

A loss is `fn(output, target, **options) -> (sum, count)`: the summed loss over the batch (a 0-d
float tensor, differentiable) and how many terms it sums (pixels or elements). Training divides one
by the other for the step, and adds both up over the validation set, so the validation mean is exact
whatever the batch size or the number of distributed ranks. `options` come from the model's colour
mode (`ColorMode.loss_options`), e.g. class weights. Adding a loss is one function and one
`@register_loss("name")`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from colorizekit.color import bins
from colorizekit.models.registries import Registry

LossFn = Callable[..., tuple[torch.Tensor, int]]
_LOSSES: Registry[LossFn] = Registry("loss", "losses")


def register_loss(name: str) -> Callable[[LossFn], LossFn]:
    """Decorator registering a loss function under `name`."""

    def wrap(fn: LossFn) -> LossFn:
        _LOSSES.add(name, fn)
        return fn

    return wrap


def list_losses() -> list[str]:
    """Names of the registered losses, sorted."""
    return _LOSSES.names()


def get_loss(name: str) -> LossFn:
    """The loss registered as `name`; ValueError naming the known ones otherwise."""
    return _LOSSES.get(name)


@register_loss("mse")
def mse(output: torch.Tensor, target: torch.Tensor, **options: Any) -> tuple[torch.Tensor, int]:
    """Squared error summed over every element, and the element count (the design's MSE)."""
    if output.shape != target.shape:
        raise ValueError(f"mse: output {tuple(output.shape)} and target {tuple(target.shape)} differ in shape")
    return F.mse_loss(output.float(), target.float(), reduction="sum"), target.numel()


@register_loss("rebalanced-ce")
def rebalanced_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                             class_weights: torch.Tensor | None = None,
                             **options: Any) -> tuple[torch.Tensor, int]:
    """Class-rebalanced cross-entropy over ab bins (Zhang et al. 2016), summed over pixels.

    logits: (N, Q, h, w). target: the photo's ab (N, 2, H, W) in Lab units, averaged down to (h, w)
    and soft-encoded on its nearest bins, or an integer bin map (N, h, w). Each pixel's term is
    weighted by `class_weights` (Q,) of its nearest bin (none: weight 1). Count: N * h * w.
    """
    n, q, h, w = logits.shape
    log_p = F.log_softmax(logits.float(), dim=1)
    if target.dtype in (torch.int64, torch.int32):
        if target.shape != (n, h, w):
            raise ValueError(f"rebalanced-ce: a bin map must be {(n, h, w)}; got {tuple(target.shape)}")
        index = target.long()
        per_pixel = -log_p.gather(1, index[:, None])[:, 0]  # (N, h, w)
    else:
        if target.shape[:2] != (n, 2):
            raise ValueError(f"rebalanced-ce: expected ab targets (N, 2, H, W); got {tuple(target.shape)}")
        ab = bins.downsample_ab(target.float(), (h, w))
        soft = bins.soft_encode(ab)  # (N, Q, h, w)
        index = soft.argmax(dim=1)  # nearest bin: the largest soft weight
        per_pixel = -(soft * log_p).sum(dim=1)  # (N, h, w)
    if class_weights is not None:
        per_pixel = per_pixel * class_weights.to(per_pixel)[index]
    return per_pixel.sum(), n * h * w
