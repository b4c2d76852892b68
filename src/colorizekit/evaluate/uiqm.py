"""UIQM (Panetta, Gao and Agaian 2016) and its three parts, as vectorised torch functions on batches.

Every function takes sRGB batches `(N, 3, H, W)` with values in [0, 1] and returns one value per image,
shape `(N,)`. The public functions compute in float64 (inputs of any float type are promoted); the
private ones work in the dtype they are given (`metrics.compute_metrics` passes float32: every part
works on 8-bit integers, which float32 holds exactly). All three parts work on the image rounded to
the 8-bit values 0..255, as the published implementations read uint8 files (see `to_8bit`).

UIQM = 0.0282 UICM + 0.2953 UISM + 3.5753 UIConM. docs/metrics.md gives each formula and the
conventions chosen where the paper leaves room.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from colorizekit import color

EIGHT_BIT = 255.0  # UICM, UISM and UIConM work on the 8-bit values 0..255
UIQM_WEIGHTS = (0.0282, 0.2953, 3.5753)  # UICM, UISM, UIConM
UICM_ALPHA = (0.1, 0.1)  # alpha_L, alpha_R of the alpha-trimmed mean
UICM_MEAN_WEIGHT = -0.0268  # weight of sqrt(mu_rg^2 + mu_yb^2)
UICM_STD_WEIGHT = 0.1586  # weight of sqrt(sigma_rg^2 + sigma_yb^2)
UISM_CHANNEL_WEIGHTS = color.GRAY_WEIGHTS  # lambda_R, lambda_G, lambda_B = 0.299, 0.587, 0.114
UIQM_BLOCK = 8  # EME and logAMEE blocks: 8 x 8 pixels; the image is cropped to a multiple of 8
PLIP_GAMMA = 1026.0  # PLIP addition and scalar multiplication constant (8-bit images)
PLIP_K = 1026.0  # PLIP subtraction constant (8-bit images)


def check_batch(x: torch.Tensor, name: str, min_size: int = 1,
                dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """`x` (N, 3, H, W), H and W >= min_size, as `dtype`; TypeError / ValueError naming what was given."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of shape (N, 3, H, W), got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"{name}: expected shape (N, 3, H, W), got {tuple(x.shape)}")
    if x.shape[-2] < min_size or x.shape[-1] < min_size:
        raise ValueError(f"{name}: images must be at least {min_size} x {min_size} pixels, got "
                         f"{x.shape[-1]} x {x.shape[-2]}")
    return x.to(dtype)


def to_8bit(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> the 8-bit values 0, 1, ..., 255 (same float dtype). UIQM is defined on 8-bit images,
    and integer values make the Sobel response of a flat area exactly 0, so EME skips flat blocks
    instead of dividing by a rounding residue."""
    return torch.round(x.clamp(0.0, 1.0) * EIGHT_BIT)


def opponent(x255: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """rg = R - G and yb = (R + G) / 2 - B of (N, 3, H, W) on 0..255, each (N, H*W)."""
    r, g, b = x255.flatten(2).unbind(1)
    return r - g, 0.5 * (r + g) - b


def _trimmed_stats(values: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Alpha-trimmed mean mu of each row of (N, K) (drop the ceil(alpha_L K) smallest and the
    floor(alpha_R K) largest values, average the rest) and the mean over ALL K values of
    (value - mu)^2, both (N,) float64.

    The values must be multiples of 1 / steps in [-255, 255] (rg and yb of 8-bit pixels, steps 1 and 2),
    so a histogram of the 510 steps + 1 levels sorts them exactly, without a sort."""
    n, k = values.shape
    low, high = math.ceil(UICM_ALPHA[0] * k), math.floor(UICM_ALPHA[1] * k)
    if low + high >= k:  # too few pixels to trim
        low, high = 0, 0
    top = int(EIGHT_BIT) * steps
    levels = 2 * top + 1
    codes = torch.round(values * steps).long() + top + torch.arange(n, device=values.device).view(n, 1) * levels
    counts = torch.bincount(codes.flatten(), minlength=n * levels).view(n, levels)
    level = (torch.arange(levels, dtype=torch.float64, device=values.device) - top) / steps
    above = counts.cumsum(dim=1)  # values at or below each level
    kept = (above.clamp(max=k - high) - (above - counts).clamp(min=low)).clamp(min=0)
    mu = (kept * level).sum(dim=1) / (k - low - high)
    var = (counts * (level - mu[:, None]) ** 2).sum(dim=1) / k
    return mu, var


def _uicm(x255: torch.Tensor) -> torch.Tensor:
    rg, yb = opponent(x255)
    (mu_rg, var_rg), (mu_yb, var_yb) = _trimmed_stats(rg, 1), _trimmed_stats(yb, 2)
    return UICM_MEAN_WEIGHT * torch.sqrt(mu_rg ** 2 + mu_yb ** 2) + UICM_STD_WEIGHT * torch.sqrt(var_rg + var_yb)


def uicm(images: torch.Tensor) -> torch.Tensor:
    """UICM, the colourfulness term of UIQM, on the 8-bit values 0..255 (inputs rounded):
    -0.0268 sqrt(mu_rg^2 + mu_yb^2) + 0.1586 sqrt(s_rg^2 + s_yb^2), with mu the alpha-trimmed mean
    (alpha_L = alpha_R = 0.1) and s^2 = mean over ALL pixels of (value - mu)^2 (Panetta et al., eq. 3-4).

    (N, 3, H, W) in [0, 1] -> (N,) float64.
    """
    return _uicm(to_8bit(check_batch(images, "uicm")))


def _blocks(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H // 8, W // 8, 64): non-overlapping 8 x 8 blocks, remainder cropped."""
    n, c, h, w = x.shape
    bh, bw = h // UIQM_BLOCK, w // UIQM_BLOCK
    x = x[..., :bh * UIQM_BLOCK, :bw * UIQM_BLOCK].reshape(n, c, bh, UIQM_BLOCK, bw, UIQM_BLOCK)
    return x.permute(0, 1, 2, 4, 3, 5).reshape(n, c, bh, bw, UIQM_BLOCK * UIQM_BLOCK)


def sobel_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Sobel gradient magnitude sqrt(gx^2 + gy^2) of each channel of (N, C, H, W) -> (N, C, H, W), kernels
    [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] and its transpose, edge pixels replicated at the border
    (the same as scipy.ndimage.sobel's 'reflect' mode for this 3 x 3 kernel). Computed separably
    (a difference one way, 1 2 1 smoothing the other), so integer inputs give exact gx and gy."""
    n, c, h, w = x.shape
    p = F.pad(x.reshape(n * c, h, w), (1, 1, 1, 1), mode="replicate")  # (n c, h + 2, w + 2)
    dx = p[..., 2:] - p[..., :-2]  # (n c, h + 2, w)
    gx = dx[..., :-2, :] + 2 * dx[..., 1:-1, :] + dx[..., 2:, :]  # (n c, h, w)
    sx = p[..., :-2] + 2 * p[..., 1:-1] + p[..., 2:]  # (n c, h + 2, w)
    gy = sx[..., 2:, :] - sx[..., :-2, :]  # (n c, h, w)
    return torch.sqrt(gx * gx + gy * gy).view(n, c, h, w)


def _eme(x: torch.Tensor) -> torch.Tensor:
    """EME of each channel of (N, C, H, W): 2 / (k1 k2) * sum over 8 x 8 blocks of ln(max / min);
    a block whose min (or max) is 0 adds 0. Returns (N, C)."""
    blocks = _blocks(x)
    bmax, bmin = blocks.amax(dim=-1), blocks.amin(dim=-1)
    ok = bmin > 0
    ratio = torch.where(ok, bmax / torch.where(ok, bmin, torch.ones_like(bmin)), torch.ones_like(bmin))
    count = blocks.shape[2] * blocks.shape[3]
    return 2.0 / max(count, 1) * torch.log(ratio).flatten(2).sum(dim=-1)


def _uism(x255: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(UISM_CHANNEL_WEIGHTS, dtype=x255.dtype, device=x255.device)
    return (_eme(sobel_magnitude(x255) * x255) * weights).sum(dim=1)


def uism(images: torch.Tensor) -> torch.Tensor:
    """UISM, the sharpness term of UIQM: sum over R, G, B of lambda_c EME(sobel(c) * c), with
    lambda = 0.299, 0.587, 0.114 and EME over 8 x 8-pixel blocks (natural log), on the 8-bit values
    0..255 (inputs rounded). (N, 3, H, W) in [0, 1] -> (N,) float64; 0 for a constant image.
    """
    return _uism(to_8bit(check_batch(images, "uism")))


def _uiconm(x255: torch.Tensor) -> torch.Tensor:
    blocks = _blocks(color.rgb_to_gray(x255))[:, 0]
    bmax, bmin = blocks.amax(dim=-1), blocks.amin(dim=-1)
    diff = PLIP_K * (bmax - bmin) / (PLIP_K - bmin)
    total = bmax + bmin - bmax * bmin / PLIP_GAMMA
    ok = (diff > 0) & (total > 0)
    r = torch.where(ok, diff / torch.where(ok, total, torch.ones_like(total)), torch.ones_like(total))
    s = (r * torch.log(r)).double().flatten(1).sum(dim=1)  # r = 1 where not ok: adds 0
    c = 1.0 / max(blocks.shape[1] * blocks.shape[2], 1)
    return -(PLIP_GAMMA - PLIP_GAMMA * (1 - s / PLIP_GAMMA) ** c)


def uiconm(images: torch.Tensor) -> torch.Tensor:
    """UIConM, the contrast term of UIQM: logAMEE of the intensity I = 0.299 R + 0.587 G + 0.114 B
    of the 8-bit values (inputs rounded to 0..255) over 8 x 8-pixel blocks with PLIP arithmetic (gamma = k = 1026):

        r = (Imax (-) Imin) / (Imax (+) Imin),  a (-) b = k (a - b) / (k - b),  a (+) b = a + b - a b / gamma
        S = sum over blocks of r ln r (<= 0; a block with r = 0 adds 0)
        UIConM = -((1 / (k1 k2)) (x) S),  c (x) s = gamma - gamma (1 - s / gamma)^c

    The leading minus (Agaian's AMEE) makes UIConM >= 0. (N, 3, H, W) in [0, 1] -> (N,) float64.
    """
    return _uiconm(to_8bit(check_batch(images, "uiconm")))


def uiqm_of_8bit(x255: torch.Tensor) -> torch.Tensor:
    """UIQM of (N, 3, H, W) already rounded to the 8-bit values 0..255 (any float dtype) -> (N,) float64."""
    w1, w2, w3 = UIQM_WEIGHTS
    return w1 * _uicm(x255) + w2 * _uism(x255).double() + w3 * _uiconm(x255)


def uiqm(images: torch.Tensor) -> torch.Tensor:
    """UIQM (Panetta, Gao and Agaian 2016) = 0.0282 UICM + 0.2953 UISM + 3.5753 UIConM, all three on
    the image rounded to 8 bits (as the published implementations read uint8 files).

    (N, 3, H, W) in [0, 1] -> (N,) float64; finite for any input (0 for a constant gray image).
    """
    return uiqm_of_8bit(to_8bit(check_batch(images, "uiqm")))
