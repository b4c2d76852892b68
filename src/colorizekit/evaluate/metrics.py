"""Image-quality metrics for colorization, as vectorised torch functions on batches.

Every function takes sRGB batches `(N, 3, H, W)` with values in [0, 1] (any float dtype, CPU or
GPU) and returns one value per image as a float64 tensor of shape `(N,)`. Full-reference metrics
compare `images` with `reference` of the same shape. The per-metric functions compute in float64
(inputs of any float type are promoted): they are the reference definitions, tested against
scikit-image. `compute_metrics`, which evaluation uses, computes all of them at once in
`COMPUTE_DTYPE` (float32, about twice as fast; every figure within 0.01 of float64, tested), shares
the Lab conversion between the metrics, and takes a `Reference` prepared once per original so that
several candidates (the grayscale baseline, each model's output) are scored against it without
recomputing the original's side.

| function (the reported list, labels and directions: `registry.METRICS`) | metric | better |
|---|---|---|
| `psnr` | peak signal-to-noise ratio on RGB, data range 1 (inf for identical images) | higher |
| `ssim` | structural similarity (Wang et al. 2004), as scikit-image computes it | higher |
| `ciede2000` | mean CIEDE2000 colour difference (Sharma et al. 2005) | lower |
| `ab_auc` | area under the cumulative ab-error curve, thresholds 0..150 (Zhang et al. 2016) | higher |
| `colorfulness` | colourfulness CF (Hasler and Suesstrunk 2003) | - |
| `uciqe` | UCIQE (Yang and Sowmya 2015) | higher |
| `uiqm` | UIQM (Panetta et al. 2016) = 0.0282 UICM + 0.2953 UISM + 3.5753 UIConM (in `colorizekit.evaluate.uiqm`) | higher |

docs/metrics.md gives each formula, the conventions chosen where the papers leave room, and the
sources. DISTS, LPIPS and FID are not here: they need ImageNet-pretrained networks whose weights
colorizekit cannot obtain (see `NOT_COMPUTED`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from colorizekit import color
from colorizekit.evaluate.registry import FULL_REFERENCE, HIGHER_IS_BETTER, METRIC_NAMES, NO_REFERENCE, NOT_COMPUTED  # noqa: F401
from colorizekit.evaluate.uiqm import (
    EIGHT_BIT,
    check_batch,
    opponent,
    sobel_magnitude,
    to_8bit,
    uicm,
    uiconm,
    uiqm,
    uiqm_of_8bit,
    uism,
)

# -- SSIM (Wang et al. 2004; scikit-image's Gaussian-weighted variant) ------------------------------
SSIM_SIGMA = 1.5  # standard deviation of the Gaussian window
SSIM_TRUNCATE = 3.5  # window radius in sigmas, as scipy.ndimage / scikit-image: radius int(3.5 * 1.5 + 0.5) = 5
SSIM_K1 = 0.01  # C1 = (K1 * data_range)^2
SSIM_K2 = 0.03  # C2 = (K2 * data_range)^2
SSIM_STRIP_ROWS = 96  # SSIM is filtered in strips of this many output rows (cache-sized; same values)

# -- CIEDE2000 (Sharma, Wu and Dalal 2005) ------------------------------------------------------------
CIEDE_25_POW_7 = 25.0 ** 7  # the constant in G and R_C

# -- AuC of the ab error (Zhang, Isola and Efros 2016) ------------------------------------------------
AUC_MAX_THRESHOLD = 150  # thresholds t = 0, 1, ..., 150 in ab units

# -- Colourfulness (Hasler and Suesstrunk 2003) -------------------------------------------------------
CF_MEAN_WEIGHT = 0.3  # weight of sqrt(mu_rg^2 + mu_yb^2)

# -- UCIQE (Yang and Sowmya 2015) ---------------------------------------------------------------------
UCIQE_WEIGHTS = (0.4680, 0.2745, 0.2576)  # sigma_c, con_l, mu_s
UCIQE_LAB_SCALE = 100.0  # L, a, b divided by this: L and con_l in [0, 1]
UCIQE_TAIL = 0.01  # con_l: mean of the brightest 1 % minus mean of the darkest 1 %

COMPUTE_DTYPE = torch.float32  # compute_metrics' working precision: every figure within 0.01 of float64


def _check_pair(images: torch.Tensor, reference: torch.Tensor, name: str, min_size: int = 1,
                dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    x = check_batch(images, name, min_size, dtype)
    y = check_batch(reference, f"{name} reference", min_size, dtype)
    if x.shape != y.shape:
        raise ValueError(f"{name}: images {tuple(x.shape)} and reference {tuple(y.shape)} differ in shape")
    return x, y


# -- full-reference metrics ---------------------------------------------------------------------------

def psnr(images: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """PSNR in dB over all pixels and RGB channels, data range 1: 10 log10(1 / MSE).

    (N, 3, H, W), (N, 3, H, W) in [0, 1] -> (N,) float64; +inf where an image equals its reference.
    """
    return _psnr(*_check_pair(images, reference, "psnr"))


def _psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    mse = (x - y).pow(2).flatten(1).double().mean(dim=1)
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


def _strips(h: int) -> range:
    """First output rows of the strips of `SSIM_STRIP_ROWS` rows that SSIM filters one at a time, for an
    (H - 10)-row map; strips keep the filter's intermediates in the CPU cache (2 to 3 times faster)."""
    return range(0, h - SSIM_WINDOW + 1, SSIM_STRIP_ROWS)


SSIM_WINDOW = 2 * int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5) + 1  # 11: the smallest image SSIM takes


def _ssim_reference_stats(y: torch.Tensor) -> torch.Tensor:
    """The reference's side of SSIM: local means of y and y^2 per channel, (N, 3, H, W) ->
    (N * 3, 2, H - 10, W - 10)."""
    y = y.reshape(-1, 1, *y.shape[-2:])
    window = _gaussian_window(y)
    return torch.cat([_filter_valid(torch.cat([part, part * part], dim=1), window)
                      for part in (y[..., r:r + SSIM_STRIP_ROWS + SSIM_WINDOW - 1, :] for r in _strips(y.shape[-2]))],
                     dim=-2)


def _ssim(x: torch.Tensor, y: torch.Tensor, y_stats: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of x against y (N, 3, H, W), given `_ssim_reference_stats(y)`, in x's dtype -> (N,) float64."""
    n, h = x.shape[0], x.shape[-2]
    x = x.reshape(n * 3, 1, *x.shape[-2:])
    y = y.reshape(n * 3, 1, *y.shape[-2:])
    window = _gaussian_window(x)
    c1, c2 = SSIM_K1 ** 2, SSIM_K2 ** 2  # data range 1
    total = torch.zeros(n * 3, dtype=torch.float64, device=x.device)
    for r in _strips(h):
        rows = slice(r, r + SSIM_STRIP_ROWS + SSIM_WINDOW - 1)
        xs, ys = x[..., rows, :], y[..., rows, :]
        ux, uxx, uxy = _filter_valid(torch.cat([xs, xs * xs, xs * ys], dim=1), window).unbind(1)
        uy, uyy = y_stats[..., r:r + SSIM_STRIP_ROWS, :].unbind(1)
        vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
        total += s.flatten(1).sum(dim=1, dtype=torch.float64)
    return (total / y_stats[0, 0].numel()).view(n, 3).mean(dim=1)


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
    x, y = _check_pair(images, reference, "ssim", min_size=SSIM_WINDOW)
    return _ssim(x, y, _ssim_reference_stats(y))


def ciede2000_lab(lab1: torch.Tensor, lab2: torch.Tensor) -> torch.Tensor:
    """CIEDE2000 colour difference per pixel (Sharma, Wu and Dalal 2005), kL = kC = kH = 1.

    Lab (*, 3, H, W) and Lab (*, 3, H, W) -> (*, H, W), computed in float64 unless both inputs are
    float32 (then in float32). Hue angles in [0, 2 pi); a hue is 0 when a' = b = 0, and where either
    chroma C' is 0 the hue difference is 0 and the mean hue is h1 + h2, as in the paper (and scikit-image).
    """
    if lab1.shape != lab2.shape or lab1.dim() < 3 or lab1.shape[-3] != 3:
        raise ValueError(f"ciede2000_lab: expected two Lab tensors of equal shape (*, 3, H, W), got "
                         f"{tuple(lab1.shape)} and {tuple(lab2.shape)}")
    dtype = torch.float32 if lab1.dtype == lab2.dtype == torch.float32 else torch.float64
    l1, a1, b1 = lab1.to(dtype).unbind(-3)
    l2, a2, b2 = lab2.to(dtype).unbind(-3)
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
    return ciede2000_lab(lab_ref, lab).flatten(1).double().mean(dim=1)


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

def _colorfulness(x: torch.Tensor) -> torch.Tensor:
    rg, yb = opponent(x * EIGHT_BIT)
    std = torch.sqrt(rg.var(dim=1, correction=0) + yb.var(dim=1, correction=0))
    mean = torch.sqrt(rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2)
    return (std + CF_MEAN_WEIGHT * mean).double()


def colorfulness(images: torch.Tensor) -> torch.Tensor:
    """Colourfulness (Hasler and Suesstrunk 2003) on 0..255 values:
    sqrt(sigma_rg^2 + sigma_yb^2) + 0.3 sqrt(mu_rg^2 + mu_yb^2), population standard deviations.

    (N, 3, H, W) in [0, 1] -> (N,) float64; 0 for any gray image.
    """
    return _colorfulness(check_batch(images, "colorfulness"))


def uciqe(images: torch.Tensor) -> torch.Tensor:
    """UCIQE (Yang and Sowmya 2015) = 0.4680 sigma_c + 0.2745 con_l + 0.2576 mu_s.

    Lab from sRGB (D65) via `colorizekit.color`, with L, a, b divided by 100 (L in [0, 1]);
    sigma_c: population standard deviation of the chroma sqrt(a^2 + b^2);
    con_l: mean of the brightest 1 % of L minus mean of the darkest 1 % (round(0.01 N) pixels, at least 1);
    mu_s: mean of chroma / L, taken as 0 where L = 0.

    (N, 3, H, W) in [0, 1] -> (N,) float64; finite for any input, 0 for a constant gray image.
    """
    return _uciqe(color.rgb_to_lab(check_batch(images, "uciqe")))


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


@dataclass(frozen=True)
class Reference:
    """Originals prepared once for scoring candidates against them (`prepare_reference`), in `COMPUTE_DTYPE`."""

    rgb: torch.Tensor  # (N, 3, H, W) sRGB in [0, 1]
    lab: torch.Tensor  # (N, 3, H, W) CIE Lab
    ssim_stats: torch.Tensor  # (N * 3, 2, H - 10, W - 10): local means of rgb and rgb^2
    metrics: MetricBatch  # the originals' own no-reference metrics (full-reference ones None)


def _no_reference(x: torch.Tensor, lab: torch.Tensor) -> MetricBatch:
    """CF, UCIQE and UIQM of x (N, 3, H, W) with its Lab `lab`; the full-reference fields None."""
    return MetricBatch(psnr=None, ssim=None, ciede2000=None, auc=None, delta_cf=None, cf=_colorfulness(x).cpu(),
                       uciqe=_uciqe(lab).double().cpu(), uiqm=uiqm_of_8bit(to_8bit(x)).cpu())


def prepare_reference(reference: torch.Tensor) -> Reference:
    """Everything the originals (N, 3, H, W) in [0, 1], H and W >= 11, contribute to `compute_metrics`,
    computed once: their Lab, their side of SSIM and their own CF, UCIQE and UIQM."""
    y = check_batch(reference, "compute_metrics reference", SSIM_WINDOW, COMPUTE_DTYPE)
    lab = color.rgb_to_lab(y)
    return Reference(rgb=y, lab=lab, ssim_stats=_ssim_reference_stats(y), metrics=_no_reference(y, lab))


def compute_metrics(images: torch.Tensor, reference: torch.Tensor | Reference | None = None) -> MetricBatch:
    """Every metric of `images` (N, 3, H, W) in [0, 1]; with `reference` (the originals, same shape,
    or a `Reference` prepared from them), the full-reference ones too. H and W must be at least 11
    when a reference is given (SSIM window).

    Computed in `COMPUTE_DTYPE` (float32), within 0.01 of the float64 per-metric functions; the
    Lab conversion of each image is shared by CIEDE2000, AuC and UCIQE. Pass a prepared `Reference`
    to score several batches against the same originals without recomputing their side.
    -> a `MetricBatch` of (N,) float64 CPU tensors.
    """
    if reference is None:
        x = check_batch(images, "compute_metrics", dtype=COMPUTE_DTYPE)
        return _no_reference(x, color.rgb_to_lab(x))
    ref = reference if isinstance(reference, Reference) else prepare_reference(reference)
    x = check_batch(images, "compute_metrics", SSIM_WINDOW, COMPUTE_DTYPE)
    if x.shape != ref.rgb.shape:
        raise ValueError(f"compute_metrics: images {tuple(x.shape)} and reference {tuple(ref.rgb.shape)} "
                         "differ in shape")
    lab = color.rgb_to_lab(x)
    own = _no_reference(x, lab)
    return MetricBatch(
        psnr=_psnr(x, ref.rgb).cpu(),
        ssim=_ssim(x, ref.rgb, ref.ssim_stats).cpu(),
        ciede2000=_mean_ciede2000(lab, ref.lab).cpu(),
        auc=_auc(_accuracy_curve(lab, ref.lab, AUC_MAX_THRESHOLD)).cpu(),
        cf=own.cf,
        delta_cf=own.cf - ref.metrics.cf,
        uciqe=own.uciqe,
        uiqm=own.uiqm,
    )


SCORE_FIGURES = ("psnr", "ciede2000", "cf")


def score_figures(images: torch.Tensor, reference_rgb: torch.Tensor, reference_lab: torch.Tensor,
                  names: Sequence[str] = SCORE_FIGURES) -> dict[str, torch.Tensor]:
    """Only the figures `names` (of PSNR, CIEDE2000 and CF) of `images` against originals whose sRGB and Lab
    are given (in `COMPUTE_DTYPE`, as `prepare_reference` makes them), computed exactly as
    `compute_metrics` computes them, without the cost of SSIM, AuC, UCIQE and UIQM: what a sweep over
    decoding settings needs. -> {name: (N,) float64 CPU tensor}.
    """
    unknown = sorted(set(names) - set(SCORE_FIGURES))
    if unknown:
        raise ValueError(f"score_figures: unknown figures {unknown}; expected some of {', '.join(SCORE_FIGURES)}")
    x = check_batch(images, "score_figures", dtype=COMPUTE_DTYPE)
    if x.shape != reference_rgb.shape or x.shape != reference_lab.shape:
        raise ValueError(f"score_figures: images {tuple(x.shape)} and reference {tuple(reference_rgb.shape)} "
                         "differ in shape")
    out = {}
    if "psnr" in names:
        out["psnr"] = _psnr(x, reference_rgb).cpu()
    if "ciede2000" in names:
        out["ciede2000"] = _mean_ciede2000(color.rgb_to_lab(x), reference_lab).cpu()
    if "cf" in names:
        out["cf"] = _colorfulness(x).cpu()
    return out


__all__ = [
    "AUC_MAX_THRESHOLD", "COMPUTE_DTYPE", "FULL_REFERENCE", "HIGHER_IS_BETTER", "METRIC_NAMES", "NOT_COMPUTED",
    "NO_REFERENCE", "MetricBatch", "Reference", "SCORE_FIGURES", "ab_accuracy_curve", "ab_auc", "ciede2000",
    "ciede2000_lab", "colorfulness", "compute_metrics", "prepare_reference", "psnr", "score_figures",
    "sobel_magnitude", "ssim", "uciqe", "uicm", "uiconm", "uiqm", "uism",
]
