"""Image-quality metrics for colorization, as vectorised torch functions on batches.

Every function takes sRGB batches `(N, 3, H, W)` with values in [0, 1] (any float dtype, CPU or
GPU), computes in float64, and returns one value per image as a float64 tensor of shape `(N,)`.
Full-reference metrics compare `images` with `reference` of the same shape.

| function | metric | better |
|---|---|---|
| `psnr` | peak signal-to-noise ratio on RGB, data range 1 (inf for identical images) | higher |
| `ssim` | structural similarity (Wang et al. 2004), as scikit-image computes it | higher |
| `ciede2000` | mean CIEDE2000 colour difference (Sharma et al. 2005) | lower |
| `ab_auc` | area under the cumulative ab-error curve, thresholds 0..150 (Zhang et al. 2016) | higher |
| `colorfulness` | colourfulness CF (Hasler and Suesstrunk 2003) | - |
| `uciqe` | UCIQE (Yang and Sowmya 2015) | higher |
| `uiqm` | UIQM (Panetta et al. 2016) = 0.0282 UICM + 0.2953 UISM + 3.5753 UIConM | higher |

docs/metrics.md gives each formula, the conventions chosen where the papers leave room, and the
sources. DISTS, LPIPS and FID are not here: they need ImageNet-pretrained networks whose weights
colorizekit cannot obtain (see `NOT_COMPUTED`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from colorizekit import color

# -- SSIM (Wang et al. 2004; scikit-image's Gaussian-weighted variant) ------------------------------
SSIM_SIGMA = 1.5  # standard deviation of the Gaussian window
SSIM_TRUNCATE = 3.5  # window radius in sigmas, as scipy.ndimage / scikit-image: radius int(3.5 * 1.5 + 0.5) = 5
SSIM_K1 = 0.01  # C1 = (K1 * data_range)^2
SSIM_K2 = 0.03  # C2 = (K2 * data_range)^2

# -- CIEDE2000 (Sharma, Wu and Dalal 2005) ------------------------------------------------------------
CIEDE_25_POW_7 = 25.0 ** 7  # the constant in G and R_C

# -- AuC of the ab error (Zhang, Isola and Efros 2016) ------------------------------------------------
AUC_MAX_THRESHOLD = 150  # thresholds t = 0, 1, ..., 150 in ab units

# -- Colourfulness (Hasler and Suesstrunk 2003) -------------------------------------------------------
CF_MEAN_WEIGHT = 0.3  # weight of sqrt(mu_rg^2 + mu_yb^2)
EIGHT_BIT = 255.0  # CF, UICM, UISM and UIConM work on 0..255 values (UIQM on 8-bit integers, see `_to_8bit`)

# -- UCIQE (Yang and Sowmya 2015) ---------------------------------------------------------------------
UCIQE_WEIGHTS = (0.4680, 0.2745, 0.2576)  # sigma_c, con_l, mu_s
UCIQE_LAB_SCALE = 100.0  # L, a, b divided by this: L and con_l in [0, 1]
UCIQE_TAIL = 0.01  # con_l: mean of the brightest 1 % minus mean of the darkest 1 %

# -- UIQM (Panetta, Gao and Agaian 2016) --------------------------------------------------------------
UIQM_WEIGHTS = (0.0282, 0.2953, 3.5753)  # UICM, UISM, UIConM
UICM_ALPHA = (0.1, 0.1)  # alpha_L, alpha_R of the alpha-trimmed mean
UICM_MEAN_WEIGHT = -0.0268  # weight of sqrt(mu_rg^2 + mu_yb^2)
UICM_STD_WEIGHT = 0.1586  # weight of sqrt(sigma_rg^2 + sigma_yb^2)
UISM_CHANNEL_WEIGHTS = color.GRAY_WEIGHTS  # lambda_R, lambda_G, lambda_B = 0.299, 0.587, 0.114
UIQM_BLOCK = 8  # EME and logAMEE blocks: 8 x 8 pixels; the image is cropped to a multiple of 8
PLIP_GAMMA = 1026.0  # PLIP addition and scalar multiplication constant (8-bit images)
PLIP_K = 1026.0  # PLIP subtraction constant (8-bit images)

METRIC_NAMES = ("psnr", "ssim", "ciede2000", "auc", "cf", "delta_cf", "uciqe", "uiqm")
FULL_REFERENCE = ("psnr", "ssim", "ciede2000", "auc", "delta_cf")  # need the original
NO_REFERENCE = ("cf", "uciqe", "uiqm")  # defined for any single image
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "ciede2000": False, "auc": True, "cf": None,
                    "delta_cf": None, "uciqe": True, "uiqm": True}  # None: closer to the original is better
NOT_COMPUTED = {
    "dists": "needs ImageNet-pretrained VGG16 weights plus DISTS's fitted alpha/beta, which cannot be obtained here",
    "lpips": "needs ImageNet-pretrained AlexNet/VGG weights plus LPIPS's linear layers, which cannot be obtained here",
    "fid": "needs ImageNet-pretrained Inception-v3 weights, which cannot be obtained here",
}  # a randomly initialised network never stands in for a perceptual metric


def _check_batch(x: torch.Tensor, name: str, min_size: int = 1) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of shape (N, 3, H, W), got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"{name}: expected shape (N, 3, H, W), got {tuple(x.shape)}")
    if x.shape[-2] < min_size or x.shape[-1] < min_size:
        raise ValueError(f"{name}: images must be at least {min_size} x {min_size} pixels, got "
                         f"{x.shape[-1]} x {x.shape[-2]}")
    return x.double()


def _check_pair(images: torch.Tensor, reference: torch.Tensor, name: str,
                min_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    x = _check_batch(images, name, min_size)
    y = _check_batch(reference, f"{name} reference", min_size)
    if x.shape != y.shape:
        raise ValueError(f"{name}: images {tuple(x.shape)} and reference {tuple(y.shape)} differ in shape")
    return x, y


# -- full-reference metrics ---------------------------------------------------------------------------

def psnr(images: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """PSNR in dB over all pixels and RGB channels, data range 1: 10 log10(1 / MSE).

    (N, 3, H, W), (N, 3, H, W) in [0, 1] -> (N,) float64; +inf where an image equals its reference.
    """
    x, y = _check_pair(images, reference, "psnr")
    mse = (x - y).pow(2).flatten(1).mean(dim=1)
    return 10.0 * torch.log10(1.0 / mse)  # 1 / 0 -> inf, log10(inf) -> inf


def _gaussian_window(like: torch.Tensor) -> torch.Tensor:
    radius = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)
    t = torch.arange(-radius, radius + 1, dtype=like.dtype, device=like.device)
    w = torch.exp(-0.5 * (t / SSIM_SIGMA) ** 2)
    return w / w.sum()


def _filter_valid(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable filter of (..., H, W) by `window` (length k) over the valid region only (no padding)
    -> (..., H - k + 1, W - k + 1). Written as k shifted multiply-adds per axis: float64 convolution
    has no fast CPU kernel; this is exact and about ten times quicker."""
    weights = window.tolist()
    k = len(weights)
    h, w = x.shape[-2] - k + 1, x.shape[-1] - k + 1
    rows = x[..., :, 0:w] * weights[0]
    for i in range(1, k):
        rows.add_(x[..., :, i:i + w], alpha=weights[i])
    out = rows[..., 0:h, :] * weights[0]
    for i in range(1, k):
        out.add_(rows[..., i:i + h, :], alpha=weights[i])
    return out


def ssim(images: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Mean SSIM (Wang et al. 2004) per image: Gaussian window 11 x 11, sigma 1.5, K1 0.01, K2 0.03,
    data range 1, population covariances, per RGB channel, averaged over the channels.

    The local statistics are taken only where the whole window fits inside the image (no padding),
    so the SSIM map is (H - 10) x (W - 10). This is exactly what scikit-image's
    `structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=1, channel_axis=-1)` averages: it filters with reflected borders and then crops a
    5-pixel border, which removes every position whose window touched the padding.

    (N, 3, H, W), (N, 3, H, W) in [0, 1], H and W >= 11 -> (N,) float64.
    """
    window_size = 2 * int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5) + 1
    x, y = _check_pair(images, reference, "ssim", min_size=window_size)
    n = x.shape[0]
    x = x.reshape(n * 3, 1, *x.shape[-2:])
    y = y.reshape(n * 3, 1, *y.shape[-2:])
    w = _gaussian_window(x)
    stats = _filter_valid(torch.cat([x, y, x * x, y * y, x * y], dim=1), w)
    ux, uy, uxx, uyy, uxy = stats.unbind(1)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    c1, c2 = SSIM_K1 ** 2, SSIM_K2 ** 2  # data range 1
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.flatten(1).mean(dim=1).view(n, 3).mean(dim=1)


def ciede2000_lab(lab1: torch.Tensor, lab2: torch.Tensor) -> torch.Tensor:
    """CIEDE2000 colour difference per pixel (Sharma, Wu and Dalal 2005), kL = kC = kH = 1.

    Lab (*, 3, H, W) and Lab (*, 3, H, W) -> (*, H, W) float64. Hue angles in [0, 2 pi); a hue is 0
    when a' = b = 0, and where either chroma C' is 0 the hue difference is 0 and the mean hue is
    h1 + h2, as in the paper (and scikit-image).
    """
    if lab1.shape != lab2.shape or lab1.dim() < 3 or lab1.shape[-3] != 3:
        raise ValueError(f"ciede2000_lab: expected two Lab tensors of equal shape (*, 3, H, W), got "
                         f"{tuple(lab1.shape)} and {tuple(lab2.shape)}")
    l1, a1, b1 = lab1.double().unbind(-3)
    l2, a2, b2 = lab2.double().unbind(-3)
    two_pi = 2 * math.pi
    c_bar7 = (0.5 * (torch.hypot(a1, b1) + torch.hypot(a2, b2))) ** 7
    g = 0.5 * (1 - torch.sqrt(c_bar7 / (c_bar7 + CIEDE_25_POW_7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = torch.hypot(a1p, b1), torch.hypot(a2p, b2)
    h1p = torch.remainder(torch.atan2(b1, a1p), two_pi)
    h2p = torch.remainder(torch.atan2(b2, a2p), two_pi)
    cc = c1p * c2p
    zero = cc == 0

    dl = l2 - l1
    dc = c2p - c1p
    dh = h2p - h1p
    dh = torch.where(dh > math.pi, dh - two_pi, torch.where(dh < -math.pi, dh + two_pi, dh))
    dh = torch.where(zero, torch.zeros_like(dh), dh)
    d_big_h = 2 * torch.sqrt(cc) * torch.sin(dh / 2)

    l_bar = 0.5 * (l1 + l2)
    c_bar_p = 0.5 * (c1p + c2p)
    h_sum = h1p + h2p
    far = (h2p - h1p).abs() > math.pi
    h_bar = torch.where(far & (h_sum < two_pi), h_sum + two_pi, torch.where(far, h_sum - two_pi, h_sum))
    h_bar = torch.where(zero, h_sum, 0.5 * h_bar)

    t = (1 - 0.17 * torch.cos(h_bar - math.radians(30)) + 0.24 * torch.cos(2 * h_bar)
         + 0.32 * torch.cos(3 * h_bar + math.radians(6)) - 0.20 * torch.cos(4 * h_bar - math.radians(63)))
    d_theta = math.radians(30) * torch.exp(-(((torch.rad2deg(h_bar) - 275) / 25) ** 2))
    c_bar_p7 = c_bar_p ** 7
    r_c = 2 * torch.sqrt(c_bar_p7 / (c_bar_p7 + CIEDE_25_POW_7))
    l50 = (l_bar - 50) ** 2
    s_l = 1 + 0.015 * l50 / torch.sqrt(20 + l50)
    s_c = 1 + 0.045 * c_bar_p
    s_h = 1 + 0.015 * c_bar_p * t
    r_t = -torch.sin(2 * d_theta) * r_c
    l_term, c_term, h_term = dl / s_l, dc / s_c, d_big_h / s_h
    de2 = l_term ** 2 + c_term ** 2 + h_term ** 2 + r_t * c_term * h_term
    return torch.sqrt(de2.clamp(min=0))


def ciede2000(images: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Mean CIEDE2000 difference per image, Lab from sRGB (D65) via `colorizekit.color`.

    (N, 3, H, W), (N, 3, H, W) in [0, 1] -> (N,) float64 (0 for identical images).
    """
    x, y = _check_pair(images, reference, "ciede2000")
    return _mean_ciede2000(color.rgb_to_lab(x), color.rgb_to_lab(y))


def _mean_ciede2000(lab: torch.Tensor, lab_ref: torch.Tensor) -> torch.Tensor:
    return ciede2000_lab(lab_ref, lab).flatten(1).mean(dim=1)


def ab_accuracy_curve(images: torch.Tensor, reference: torch.Tensor,
                      max_threshold: int = AUC_MAX_THRESHOLD) -> torch.Tensor:
    """Fraction of pixels whose Euclidean ab error is <= t, for t = 0, 1, ..., max_threshold.

    (N, 3, H, W), (N, 3, H, W) in [0, 1] -> (N, max_threshold + 1) float64, non-decreasing in t.
    """
    x, y = _check_pair(images, reference, "ab_auc")
    return _accuracy_curve(color.rgb_to_lab(x), color.rgb_to_lab(y), max_threshold)


def _accuracy_curve(lab: torch.Tensor, lab_ref: torch.Tensor, max_threshold: int) -> torch.Tensor:
    err = (lab[:, 1:] - lab_ref[:, 1:]).pow(2).sum(dim=1).sqrt().flatten(1)
    n, pixels = err.shape
    bins = max_threshold + 2  # bin t holds errors in (t - 1, t]; the last bin everything above max_threshold
    first_ok = torch.ceil(err).clamp(max=max_threshold + 1).long()  # smallest integer t with err <= t
    offsets = torch.arange(n, device=err.device).view(n, 1) * bins
    counts = torch.bincount((first_ok + offsets).flatten(), minlength=n * bins).view(n, bins)
    return counts[:, :max_threshold + 1].cumsum(dim=1).double() / pixels


def ab_auc(images: torch.Tensor, reference: torch.Tensor, max_threshold: int = AUC_MAX_THRESHOLD) -> torch.Tensor:
    """Area under `ab_accuracy_curve` over [0, max_threshold] by the trapezoidal rule, divided by
    max_threshold so that a perfect colorization scores 1.

    (N, 3, H, W), (N, 3, H, W) in [0, 1] -> (N,) float64 in [0, 1].
    """
    return _auc(ab_accuracy_curve(images, reference, max_threshold))


def _auc(acc: torch.Tensor) -> torch.Tensor:
    max_threshold = acc.shape[1] - 1
    return (acc.sum(dim=1) - 0.5 * (acc[:, 0] + acc[:, -1])) / max_threshold


# -- no-reference metrics -----------------------------------------------------------------------------

def _opponent(x255: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """rg = R - G and yb = (R + G) / 2 - B of (N, 3, H, W) on 0..255, each (N, H*W)."""
    r, g, b = x255.flatten(2).unbind(1)
    return r - g, 0.5 * (r + g) - b


def _to_8bit(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> the 8-bit values 0, 1, ..., 255 (as float64). UIQM is defined on 8-bit images, and
    integer values make the Sobel response of a flat area exactly 0, so EME skips flat blocks
    instead of dividing by a rounding residue."""
    return torch.round(x.clamp(0.0, 1.0) * EIGHT_BIT)


def colorfulness(images: torch.Tensor) -> torch.Tensor:
    """Colourfulness (Hasler and Suesstrunk 2003) on 0..255 values:
    sqrt(sigma_rg^2 + sigma_yb^2) + 0.3 sqrt(mu_rg^2 + mu_yb^2), population standard deviations.

    (N, 3, H, W) in [0, 1] -> (N,) float64; 0 for any gray image.
    """
    rg, yb = _opponent(_check_batch(images, "colorfulness") * EIGHT_BIT)
    std = torch.sqrt(rg.var(dim=1, correction=0) + yb.var(dim=1, correction=0))
    mean = torch.sqrt(rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2)
    return std + CF_MEAN_WEIGHT * mean


def uciqe(images: torch.Tensor) -> torch.Tensor:
    """UCIQE (Yang and Sowmya 2015) = 0.4680 sigma_c + 0.2745 con_l + 0.2576 mu_s.

    Lab from sRGB (D65) via `colorizekit.color`, with L, a, b divided by 100 (L in [0, 1]);
    sigma_c: population standard deviation of the chroma sqrt(a^2 + b^2);
    con_l: mean of the brightest 1 % of L minus mean of the darkest 1 % (round(0.01 N) pixels, at least 1);
    mu_s: mean of chroma / L, taken as 0 where L = 0.

    (N, 3, H, W) in [0, 1] -> (N,) float64; finite for any input, 0 for a constant gray image.
    """
    return _uciqe(color.rgb_to_lab(_check_batch(images, "uciqe")))


def _uciqe(lab: torch.Tensor) -> torch.Tensor:
    lab = lab / UCIQE_LAB_SCALE
    lum = lab[:, 0].flatten(1)
    chroma = lab[:, 1:].pow(2).sum(dim=1).sqrt().flatten(1)
    sigma_c = chroma.std(dim=1, correction=0)
    tail = max(1, round(UCIQE_TAIL * lum.shape[1]))
    con_l = lum.topk(tail, dim=1).values.mean(dim=1) - lum.topk(tail, dim=1, largest=False).values.mean(dim=1)
    saturation = torch.where(lum > 0, chroma / torch.where(lum > 0, lum, torch.ones_like(lum)), torch.zeros_like(lum))
    c1, c2, c3 = UCIQE_WEIGHTS
    return c1 * sigma_c + c2 * con_l + c3 * saturation.mean(dim=1)


def _trimmed_mean(values: torch.Tensor) -> torch.Tensor:
    """Alpha-trimmed mean of each row of (N, K): drop the ceil(alpha_L K) smallest and the
    floor(alpha_R K) largest values, average the rest."""
    k = values.shape[1]
    low = math.ceil(UICM_ALPHA[0] * k)
    high = math.floor(UICM_ALPHA[1] * k)
    if low + high >= k:  # too few pixels to trim
        low, high = 0, 0
    return values.sort(dim=1).values[:, low:k - high].mean(dim=1)


def uicm(images: torch.Tensor) -> torch.Tensor:
    """UICM, the colourfulness term of UIQM, on the 8-bit values 0..255 (inputs rounded):
    -0.0268 sqrt(mu_rg^2 + mu_yb^2) + 0.1586 sqrt(s_rg^2 + s_yb^2), with mu the alpha-trimmed mean
    (alpha_L = alpha_R = 0.1) and s^2 = mean over ALL pixels of (value - mu)^2 (Panetta et al., eq. 3-4).

    (N, 3, H, W) in [0, 1] -> (N,) float64.
    """
    rg, yb = _opponent(_to_8bit(_check_batch(images, "uicm")))
    mu_rg, mu_yb = _trimmed_mean(rg), _trimmed_mean(yb)
    var_rg = (rg - mu_rg[:, None]).pow(2).mean(dim=1)
    var_yb = (yb - mu_yb[:, None]).pow(2).mean(dim=1)
    return UICM_MEAN_WEIGHT * torch.sqrt(mu_rg ** 2 + mu_yb ** 2) + UICM_STD_WEIGHT * torch.sqrt(var_rg + var_yb)


def _blocks(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H // 8, W // 8, 64): non-overlapping 8 x 8 blocks, remainder cropped."""
    n, c, h, w = x.shape
    bh, bw = h // UIQM_BLOCK, w // UIQM_BLOCK
    x = x[..., :bh * UIQM_BLOCK, :bw * UIQM_BLOCK].reshape(n, c, bh, UIQM_BLOCK, bw, UIQM_BLOCK)
    return x.permute(0, 1, 2, 4, 3, 5).reshape(n, c, bh, bw, UIQM_BLOCK * UIQM_BLOCK)


def sobel_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Sobel gradient magnitude sqrt(gx^2 + gy^2) of each channel of (N, C, H, W), kernels
    [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] and its transpose, edge pixels replicated at the border
    (the same as scipy.ndimage.sobel's 'reflect' mode for this 3 x 3 kernel)."""
    n, c, h, w = x.shape
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device)
    kernels = torch.stack([kx, kx.T])[:, None]  # (2, 1, 3, 3)
    padded = F.pad(x.reshape(n * c, 1, h, w), (1, 1, 1, 1), mode="replicate")
    g = F.conv2d(padded, kernels)
    return torch.sqrt(g[:, 0] ** 2 + g[:, 1] ** 2).view(n, c, h, w)


def _eme(x: torch.Tensor) -> torch.Tensor:
    """EME of each channel of (N, C, H, W): 2 / (k1 k2) * sum over 8 x 8 blocks of ln(max / min);
    a block whose min (or max) is 0 adds 0. Returns (N, C)."""
    blocks = _blocks(x)
    bmax, bmin = blocks.amax(dim=-1), blocks.amin(dim=-1)
    ok = bmin > 0
    ratio = torch.where(ok, bmax / torch.where(ok, bmin, torch.ones_like(bmin)), torch.ones_like(bmin))
    count = blocks.shape[2] * blocks.shape[3]
    return 2.0 / max(count, 1) * torch.log(ratio).flatten(2).sum(dim=-1)


def uism(images: torch.Tensor) -> torch.Tensor:
    """UISM, the sharpness term of UIQM: sum over R, G, B of lambda_c EME(sobel(c) * c), with
    lambda = 0.299, 0.587, 0.114 and EME over 8 x 8-pixel blocks (natural log), on the 8-bit values
    0..255 (inputs rounded). (N, 3, H, W) in [0, 1] -> (N,) float64; 0 for a constant image.
    """
    x = _to_8bit(_check_batch(images, "uism"))
    edge_map = sobel_magnitude(x) * x
    weights = torch.tensor(UISM_CHANNEL_WEIGHTS, dtype=x.dtype, device=x.device)
    return (_eme(edge_map) * weights).sum(dim=1)


def uiconm(images: torch.Tensor) -> torch.Tensor:
    """UIConM, the contrast term of UIQM: logAMEE of the intensity I = 0.299 R + 0.587 G + 0.114 B
    of the 8-bit values (inputs rounded to 0..255) over 8 x 8-pixel blocks with PLIP arithmetic (gamma = k = 1026):

        r = (Imax (-) Imin) / (Imax (+) Imin),  a (-) b = k (a - b) / (k - b),  a (+) b = a + b - a b / gamma
        S = sum over blocks of r ln r (<= 0; a block with r = 0 adds 0)
        UIConM = -((1 / (k1 k2)) (x) S),  c (x) s = gamma - gamma (1 - s / gamma)^c

    The leading minus (Agaian's AMEE) makes UIConM >= 0. (N, 3, H, W) in [0, 1] -> (N,) float64.
    """
    intensity = color.rgb_to_gray(_to_8bit(_check_batch(images, "uiconm")))
    blocks = _blocks(intensity)[:, 0]
    bmax, bmin = blocks.amax(dim=-1), blocks.amin(dim=-1)
    diff = PLIP_K * (bmax - bmin) / (PLIP_K - bmin)
    total = bmax + bmin - bmax * bmin / PLIP_GAMMA
    ok = (diff > 0) & (total > 0)
    r = torch.where(ok, diff / torch.where(ok, total, torch.ones_like(total)), torch.ones_like(total))
    s = (r * torch.log(r)).flatten(1).sum(dim=1)  # r = 1 where not ok: adds 0
    c = 1.0 / max(blocks.shape[1] * blocks.shape[2], 1)
    return -(PLIP_GAMMA - PLIP_GAMMA * (1 - s / PLIP_GAMMA) ** c)


def uiqm(images: torch.Tensor) -> torch.Tensor:
    """UIQM (Panetta, Gao and Agaian 2016) = 0.0282 UICM + 0.2953 UISM + 3.5753 UIConM, all three on
    the image rounded to 8 bits (as the published implementations read uint8 files).

    (N, 3, H, W) in [0, 1] -> (N,) float64; finite for any input (0 for a constant gray image).
    """
    x = _check_batch(images, "uiqm")
    w1, w2, w3 = UIQM_WEIGHTS
    return w1 * uicm(x) + w2 * uism(x) + w3 * uiconm(x)


# -- all at once --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MetricBatch:
    """All metrics for a batch of N images, each a (N,) float64 tensor on the CPU; the
    full-reference ones are None when no reference was given."""

    psnr: torch.Tensor | None  # dB, +inf for an exact match
    ssim: torch.Tensor | None  # in [-1, 1]
    ciede2000: torch.Tensor | None  # mean Delta E 2000
    auc: torch.Tensor | None  # in [0, 1]
    cf: torch.Tensor  # colourfulness of the images
    delta_cf: torch.Tensor | None  # CF(image) - CF(reference)
    uciqe: torch.Tensor
    uiqm: torch.Tensor

    def row(self, i: int) -> dict[str, float | None]:
        """Image i's values as plain floats (None where not computed), keyed by `METRIC_NAMES`."""
        return {name: (None if getattr(self, name) is None else float(getattr(self, name)[i]))
                for name in METRIC_NAMES}


def compute_metrics(images: torch.Tensor, reference: torch.Tensor | None = None) -> MetricBatch:
    """Every metric of `images` (N, 3, H, W) in [0, 1]; with `reference` (same shape), the
    full-reference ones too. H and W must be at least 11 when a reference is given (SSIM window)."""
    x = _check_batch(images, "compute_metrics")
    lab = color.rgb_to_lab(x)
    cf = colorfulness(x)
    no_ref = {"cf": cf.cpu(), "uciqe": _uciqe(lab).cpu(), "uiqm": uiqm(x).cpu()}
    if reference is None:
        return MetricBatch(psnr=None, ssim=None, ciede2000=None, auc=None, delta_cf=None, **no_ref)
    x, y = _check_pair(x, reference, "compute_metrics")
    lab_ref = color.rgb_to_lab(y)
    return MetricBatch(
        psnr=psnr(x, y).cpu(),
        ssim=ssim(x, y).cpu(),
        ciede2000=_mean_ciede2000(lab, lab_ref).cpu(),
        auc=_auc(_accuracy_curve(lab, lab_ref, AUC_MAX_THRESHOLD)).cpu(),
        delta_cf=(cf - colorfulness(y)).cpu(),
        **no_ref,
    )
