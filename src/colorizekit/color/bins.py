"""Colour as a distribution over quantised ab bins (after Zhang, Isola and Efros, "Colorful Image
Colorization", ECCV 2016).

- `ab_bins()`: the centres of the cells of a 10-unit (a, b) grid that hold the ab of at least one
  8-bit sRGB colour, computed from colorizekit's own colour math (`color.rgb_to_lab` over every 8-bit
  colour of the RGB cube's faces, where the gamut's extremes lie, and a grid of its interior). There
  are 261. Zhang et al. report 313 bins from their own gamut test; so jkspnet-lab's 313-channel
  softmax, which the design sized after theirs, does not map onto these bins one to one.
- `soft_encode`: a target ab map -> a distribution on its `SOFT_NEIGHBOURS` nearest bins, weighted
  by a Gaussian of their distance (`SOFT_SIGMA`).
- `ab_histogram`, `smooth_prior`, `rebalance_weights`: the class-rebalancing weights of the loss,
  from the training photos' ab histogram smoothed with a Gaussian and mixed with a uniform
  distribution (strength lambda; lambda = 1 is no rebalancing).
- `decode_bins`: logits -> ab at a vividness V from 0 (muted) to 1 (vivid). V = 0 is the
  distribution's mean; a higher V keeps its hue and gives it the chroma of the distribution tilted
  towards colour, so colour rises with V at every pixel by construction (see `decode_bins`).
- `check_vividness`: the one check of a vividness value, for the API, the CLI and the web service.

All functions take and return tensors on any device; maps are (N, C, H, W).
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from colorizekit.color import lab as color

GRID = 10.0  # width of a bin in Lab a and b units
AB_LIMIT = 110.0  # the grid spans [-AB_LIMIT, AB_LIMIT] in a and b (covers the sRGB gamut)
SOFT_NEIGHBOURS = 5  # soft encoding: bins sharing each target pixel (Zhang et al.: 5)
SOFT_SIGMA = 5.0  # soft encoding: Gaussian width in Lab units (Zhang et al.: 5)
PRIOR_SIGMA = 5.0  # smoothing of the empirical ab distribution, Lab units (Zhang et al.: 5)
DEFAULT_VIVIDNESS = 0.5  # decoding: the vividness when none is chosen (0 muted ... 1 vivid)
DEFAULT_REBALANCE = 0.5  # lambda: weight of the uniform distribution in the mix (Zhang et al.: 0.5)
MAX_CHROMA_GAIN = 3.0  # decoding: at vividness 1 a pixel's chroma is at most this many times its mean's
CHROMA_TILT = 0.05  # decoding: at vividness 1 a bin's weight grows by e for every 20 Lab units of chroma
_CUBE_FACE = 256  # samples per side of each RGB cube face when finding the bins (every 8-bit value)
_CUBE_INSIDE = 48  # samples per side of the RGB cube's interior


@functools.lru_cache(maxsize=1)
def _bins_cpu() -> torch.Tensor:
    faces = []
    t = torch.linspace(0.0, 1.0, _CUBE_FACE, dtype=torch.float64)
    u, v = torch.meshgrid(t, t, indexing="ij")
    for axis in range(3):  # the gamut's a, b extremes lie on the cube's surface
        for value in (0.0, 1.0):
            planes = [u, v]
            planes.insert(axis, torch.full_like(u, value))
            faces.append(torch.stack(planes).reshape(3, -1))
    s = torch.linspace(0.0, 1.0, _CUBE_INSIDE, dtype=torch.float64)
    inside = torch.stack(torch.meshgrid(s, s, s, indexing="ij")).reshape(3, -1)
    rgb = torch.cat(faces + [inside], dim=1)  # (3, P)
    ab = color.rgb_to_lab(rgb[:, :, None])[1:, :, 0]  # (2, P)
    span = int(round(2 * AB_LIMIT / GRID)) + 1
    cell = torch.round(ab / GRID).to(torch.int64) + span // 2  # (2, P), each in [0, span)
    keys = torch.unique(cell[0] * span + cell[1])  # sorted by a, then b
    cells = torch.stack([keys // span, keys % span], dim=1) - span // 2  # (Q, 2)
    return (cells.to(torch.float32) * GRID).contiguous()


def ab_bins(device: torch.device | str | None = None) -> torch.Tensor:
    """The bin centres (Q, 2) in Lab units, sorted by a then b; Q = 261."""
    return _bins_cpu().to(device or "cpu")


def num_bins() -> int:
    """Q, the number of bins."""
    return _bins_cpu().shape[0]


def _sq_distances(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """Squared distances (N, Q, H, W) from each pixel of ab (N, 2, H, W) to each bin centre (Q, 2)."""
    diff = ab[:, None] - bins.to(ab)[None, :, :, None, None]  # (N, Q, 2, H, W)
    return diff.square().sum(dim=2)


@functools.lru_cache(maxsize=1)
def _cell_table() -> torch.Tensor:
    """Bin index of each grid cell over [-AB_LIMIT, AB_LIMIT]^2, -1 where no bin is (cells x cells)."""
    cells = int(round(2 * AB_LIMIT / GRID)) + 1
    table = torch.full((cells, cells), -1, dtype=torch.int64)
    idx = torch.round((_bins_cpu() + AB_LIMIT) / GRID).to(torch.int64)
    table[idx[:, 0], idx[:, 1]] = torch.arange(len(idx))
    return table


def nearest_bin(ab: torch.Tensor) -> torch.Tensor:
    """The index (N, H, W) of the bin nearest each pixel of ab (N, 2, H, W): a table look-up of the
    pixel's grid cell, and a search over all bins only for pixels whose cell has no bin."""
    table = _cell_table().to(ab.device)
    cell = torch.round((ab.float() + AB_LIMIT) / GRID).to(torch.int64).clamp_(0, table.shape[0] - 1)
    index = table[cell[:, 0], cell[:, 1]]  # (N, H, W)
    outside = index < 0
    if outside.any():
        pixels = ab.permute(0, 2, 3, 1)[outside].float()  # (P, 2)
        index[outside] = torch.cdist(pixels, ab_bins(ab.device)).argmin(dim=1)
    return index


def soft_encode(ab: torch.Tensor, neighbours: int = SOFT_NEIGHBOURS, sigma: float = SOFT_SIGMA) -> torch.Tensor:
    """ab (N, 2, H, W) in Lab units -> target distribution (N, Q, H, W): the `neighbours` nearest bins,
    weighted by exp(-d^2 / (2 sigma^2)) and normalised to sum to 1 at every pixel."""
    bins = ab_bins(ab.device)
    d2 = _sq_distances(ab.float(), bins)  # (N, Q, H, W)
    near_d2, near_idx = d2.topk(neighbours, dim=1, largest=False)  # (N, k, H, W)
    weights = torch.softmax(-near_d2 / (2.0 * sigma**2), dim=1)  # normalised Gaussian weights
    return torch.zeros_like(d2).scatter_(1, near_idx, weights)


def ab_histogram(ab: torch.Tensor) -> torch.Tensor:
    """Counts (Q,) float64 of the pixels of ab (N, 2, H, W) by nearest bin."""
    idx = nearest_bin(ab.float()).flatten()
    return torch.bincount(idx, minlength=num_bins()).to(torch.float64).cpu()


def smooth_prior(counts: torch.Tensor, sigma: float = PRIOR_SIGMA) -> torch.Tensor:
    """The empirical distribution of `counts` (Q,), smoothed with a Gaussian of width `sigma` in ab
    space and renormalised: a probability vector (Q,) float64 with no zero entry."""
    if counts.numel() != num_bins() or not torch.isfinite(counts).all() or counts.sum() <= 0:
        raise ValueError(f"expected {num_bins()} finite bin counts with a positive sum; got {tuple(counts.shape)}")
    p = counts.double() / counts.sum()
    bins = ab_bins().double()
    kernel = torch.exp(-torch.cdist(bins, bins).square() / (2.0 * sigma**2))  # (Q, Q)
    smoothed = kernel @ p + 1e-12
    return smoothed / smoothed.sum()


def rebalance_weights(prior: torch.Tensor, lam: float = DEFAULT_REBALANCE) -> torch.Tensor:
    """Per-bin loss weights (Q,) float32: w proportional to 1 / ((1 - lam) prior + lam / Q), normalised
    so that their expectation under `prior` is 1. lam = 1 gives w = 1 everywhere (no rebalancing)."""
    if not 0.0 < lam <= 1.0:
        raise ValueError(f"rebalancing lambda must be in (0, 1] (1: no rebalancing); got {lam!r}")
    prior = prior.double() / prior.sum()
    w = 1.0 / ((1.0 - lam) * prior + lam / prior.numel())
    return (w / (prior * w).sum()).float()


def _moment_weights(device: torch.device) -> torch.Tensor:
    """(Q, 3): each bin's a, b and chroma |ab|; one expectation under p gives the mean ab and the
    expected chroma at once (and exports as one softmax-expectation, see export.fuse_softmax_expectations)."""
    centres = ab_bins(device)
    return torch.cat([centres, centres.norm(dim=1, keepdim=True)], dim=1)


def decode_bins(logits: torch.Tensor, vividness: float | torch.Tensor = 0.0) -> torch.Tensor:
    """Bin logits (N, Q, H, W) -> ab (N, 2, H, W) in Lab units, at a vividness V in [0, 1].

    With p = softmax(logits) at each pixel, V = 0 gives the mean colour m = E_p[bin]: the safest, and
    muted, since averaging over uncertain colours (gray among them) shrinks the chroma. A higher V keeps
    m's hue and scales its chroma by g(V) = E_pV[|bin|] / E_p[|bin|] (at most MAX_CHROMA_GAIN), where pV
    tilts p towards chroma, pV proportional to p exp(V CHROMA_TILT |bin|). The expectation of |bin|
    under that exponential tilt grows with V (its derivative is a variance), so at every pixel the
    output's chroma is non-decreasing in V and its hue never changes: a prediction torn between gray
    and red becomes redder, a confident one stays as it is. (Zhang et al.'s annealed mean,
    softmax(logits / T), was the decoding before: when a distribution's most likely bin is gray, as is
    common, a lower T gave less colour.) `vividness` may be a tensor (an input of the ONNX graph)."""
    if not isinstance(vividness, torch.Tensor):
        vividness = check_vividness(vividness)
    logits = logits.float()
    weights = _moment_weights(logits.device)  # (Q, 3)
    moments = torch.einsum("nqhw,qc->nchw", torch.softmax(logits, dim=1), weights)  # (N, 3, H, W)
    mean, chroma = moments[:, :2], moments[:, 2:]
    tilt = (vividness * CHROMA_TILT) * weights[:, 2].view(1, -1, 1, 1)  # (1, Q, 1, 1)
    tilted = torch.einsum("nqhw,qc->nchw", torch.softmax(logits + tilt, dim=1), weights[:, 2:])  # (N, 1, H, W)
    gain = (tilted / chroma.clamp_min(1e-6)).clamp(1.0, MAX_CHROMA_GAIN)
    return mean * gain


def check_vividness(vividness: float) -> float:
    """A vividness as a float: a finite number from 0 (muted) to 1 (vivid); ValueError otherwise."""
    if not (isinstance(vividness, (int, float)) and not isinstance(vividness, bool) and 0.0 <= vividness <= 1.0
            and math.isfinite(vividness)):
        raise ValueError(f"vividness must be a number from 0 (muted) to 1 (vivid); got {vividness!r}")
    return float(vividness)


class BinsHead(nn.Module):
    """A 1x1 conv from features to Q bin logits, carrying the training photos' colour prior.

    `prior` (Q,) is the smoothed ab distribution that `colorizekit train` measures on its photos (it
    sets the loss's rebalancing weights); being a buffer, it travels in checkpoints and weights files.
    Until measured it is uniform.
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        q = num_bins()
        self.conv = nn.Conv2d(in_channels, q, kernel_size=1)
        self.register_buffer("prior", torch.full((q,), 1.0 / q))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)  # (N, Q, H, W) logits


def find_bins_head(model: nn.Module) -> BinsHead:
    """The BinsHead inside `model` (also inside DDP / torch.compile wrappers); ValueError if none."""
    for module in model.modules():
        if isinstance(module, BinsHead):
            return module
    raise ValueError(f"{type(model).__name__} has no BinsHead")


def downsample_ab(ab: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """ab (N, 2, H, W) averaged down to `size` (area interpolation), e.g. to a model's output size."""
    if tuple(ab.shape[-2:]) == tuple(size):
        return ab
    return F.interpolate(ab, size=size, mode="area")
