"""compute_metrics' fast path (float32, a prepared Reference shared by several candidates) against
straightforward float64 computations, on real photos (the public-domain demo photos colorizekit ships):
every figure within 0.01."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorizekit import color
from colorizekit.evaluate import metrics as M

skmetrics = pytest.importorskip("skimage.metrics")
skcolor = pytest.importorskip("skimage.color")

DEMO = Path(M.__file__).parent / "demo_images"
TOLERANCE = 0.01  # the most any figure may move from its float64 value


def _photo(name: str, side: int = 128) -> torch.Tensor:
    """A demo photo, downscaled to `side` pixels high, as (1, 3, H, W) float64 in [0, 1]."""
    img = Image.open(DEMO / name).convert("RGB")
    img = img.resize((round(img.width * side / img.height), side), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.asarray(img, dtype=np.float64) / 255.0).permute(2, 0, 1)[None]


def _candidates(original: torch.Tensor) -> dict[str, torch.Tensor]:
    """The grayscale baseline, a muted colorization with a hue shift, and a noisy one."""
    lab = color.rgb_to_lab(original)
    gray = color.l_to_gray(lab[:, :1]).expand(-1, 3, -1, -1)
    muted = color.lab_to_rgb(torch.cat([lab[:, :1], 0.5 * lab[:, 2:] + 4, 0.7 * lab[:, 1:2] - 6], dim=1))
    noise = torch.randn(original.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return {"gray": gray, "muted": muted, "noisy": (original + 0.08 * noise).clamp(0, 1)}


def _reference_figures(x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Float64: scikit-image for PSNR, SSIM and CIEDE2000, the per-metric float64 functions for the rest."""
    a, b = x[0].permute(1, 2, 0).numpy(), y[0].permute(1, 2, 0).numpy()
    return {
        "psnr": skmetrics.peak_signal_noise_ratio(b, a, data_range=1),
        "ssim": skmetrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                                data_range=1, channel_axis=-1),
        "ciede2000": float(skcolor.deltaE_ciede2000(skcolor.rgb2lab(b), skcolor.rgb2lab(a)).mean()),
        "auc": M.ab_auc(x, y).item(),
        "cf": M.colorfulness(x).item(),
        "delta_cf": (M.colorfulness(x) - M.colorfulness(y)).item(),
        "uciqe": M.uciqe(x).item(),
        "uiqm": M.uiqm(x).item(),
    }


@pytest.mark.parametrize("name", ["astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg"])
def test_fast_path_matches_float64_on_real_photos(name):
    original = _photo(name)
    reference = M.prepare_reference(original)
    assert reference.rgb.dtype == M.COMPUTE_DTYPE == torch.float32
    for label, candidate in _candidates(original).items():
        fast = M.compute_metrics(candidate, reference).row(0)
        for metric, expected in _reference_figures(candidate, original).items():
            assert fast[metric] == pytest.approx(expected, abs=TOLERANCE), (name, label, metric)
    own = reference.metrics.row(0)
    assert own["psnr"] is None and own["ciede2000"] is None
    for metric in M.NO_REFERENCE:
        assert own[metric] == pytest.approx(getattr(M, {"cf": "colorfulness"}.get(metric, metric))(original).item(),
                                            abs=TOLERANCE)


def test_prepared_reference_gives_the_same_figures_as_a_plain_one():
    original = _photo("coffee.jpg", side=64)
    candidate = _candidates(original)["muted"]
    prepared = M.compute_metrics(candidate, M.prepare_reference(original)).row(0)
    assert prepared == M.compute_metrics(candidate, original).row(0)


def test_prepared_reference_of_another_shape_is_refused():
    reference = M.prepare_reference(_photo("coffee.jpg", side=40))
    with pytest.raises(ValueError, match="differ in shape"):
        M.compute_metrics(_photo("coffee.jpg", side=48), reference)


def test_score_figures_are_compute_metrics_figures():
    """The sweep's light path gives exactly compute_metrics' PSNR, CIEDE2000 and CF, and only those asked for."""
    original = _photo("chelsea.jpg", side=64)
    reference = M.prepare_reference(original)
    for label, candidate in _candidates(original).items():
        full = M.compute_metrics(candidate, reference).row(0)
        light = M.score_figures(candidate, reference.rgb, reference.lab)
        assert set(light) == set(M.SCORE_FIGURES)
        for name, values in light.items():
            assert values.dtype == torch.float64 and values.item() == full[name], (label, name)
    assert set(M.score_figures(original, reference.rgb, reference.lab, ["cf"])) == {"cf"}
    with pytest.raises(ValueError, match="unknown figures \\['ssim'\\]"):
        M.score_figures(original, reference.rgb, reference.lab, ["ssim"])
    with pytest.raises(ValueError, match="differ in shape"):
        M.score_figures(_photo("chelsea.jpg", side=48), reference.rgb, reference.lab)
