"""The metrics colorizekit reports, in one registry: evaluate and compare compute them in this order,
and the per-image CSV, summary.json, the markdown tables, the captions under pictures and the CLI's
help all read their names, labels, decimals and direction from here.

The functions that compute them are in `metrics` (and `uiqm`); docs/metrics.md gives each formula.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One reported metric."""

    name: str  # key in results, CSV columns and summary.json
    label: str  # name in tables and captions
    decimals: int  # decimals in tables and captions
    better: str  # "higher", "lower", or "closer" (to the original's value)
    reference: bool  # needs the original (full-reference); else defined for any single image
    description: str  # one line, for help texts


METRICS: tuple[Metric, ...] = (
    Metric("psnr", "PSNR (dB)", 2, "higher", True, "peak signal-to-noise ratio on RGB, data range 1"),
    Metric("ssim", "SSIM", 4, "higher", True, "structural similarity (Wang et al. 2004), as scikit-image"),
    Metric("ciede2000", "ΔE00", 3, "lower", True, "mean CIEDE2000 colour difference (Sharma et al. 2005)"),
    Metric("auc", "AuC (ab)", 4, "higher", True, "area under the cumulative ab-error curve, 0..150 (Zhang et al.)"),
    Metric("cf", "CF", 2, "closer", False, "colourfulness (Hasler and Suesstrunk 2003)"),
    Metric("delta_cf", "ΔCF", 2, "closer", True, "CF minus the original's CF"),
    Metric("uciqe", "UCIQE", 4, "higher", False, "UCIQE (Yang and Sowmya 2015)"),
    Metric("uiqm", "UIQM", 3, "higher", False, "UIQM (Panetta et al. 2016)"),
)
METRIC_NAMES = tuple(m.name for m in METRICS)
FULL_REFERENCE = tuple(m.name for m in METRICS if m.reference)  # need the original
NO_REFERENCE = tuple(m.name for m in METRICS if not m.reference)  # defined for any single image
HIGHER_IS_BETTER = {m.name: {"higher": True, "lower": False}.get(m.better) for m in METRICS}  # None: closer is better
NOT_COMPUTED = {
    "dists": "needs ImageNet-pretrained VGG16 weights plus DISTS's fitted alpha/beta, which cannot be obtained here",
    "lpips": "needs ImageNet-pretrained AlexNet/VGG weights plus LPIPS's linear layers, which cannot be obtained here",
    "fid": "needs ImageNet-pretrained Inception-v3 weights, which cannot be obtained here",
}  # a randomly initialised network never stands in for a perceptual metric


def get_metric(name: str) -> Metric:
    """The registered metric `name`; ValueError naming the metrics otherwise."""
    for m in METRICS:
        if m.name == name:
            return m
    raise ValueError(f"unknown metric {name!r}; metrics: {', '.join(METRIC_NAMES)}")

