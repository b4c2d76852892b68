"""Metrics against references: scikit-image for PSNR, SSIM and CIEDE2000; independent loop-based
numpy versions and closed forms on constructed images for AuC, CF, UCIQE and UIQM."""

import math

import numpy as np
import pytest
import torch

from colorizekit.evaluate import metrics as M

skmetrics = pytest.importorskip("skimage.metrics")
skcolor = pytest.importorskip("skimage.color")


def _rand(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g, dtype=torch.float64)


def _pair(shape=(3, 3, 24, 29), seed=0, noise=0.15):
    x = _rand(shape, seed)
    y = (x + noise * (_rand(shape, seed + 1) - 0.5)).clamp(0, 1)
    return x, y


def _hwc(t):
    return t.permute(1, 2, 0).numpy()


def _two_colour(c1, c2, height=4, width=6):
    """(1, 3, H, W): left half colour c1, right half c2 (0..255 triples)."""
    img = np.zeros((height, width, 3))
    img[:, : width // 2] = c1
    img[:, width // 2:] = c2
    return torch.from_numpy(img / 255.0).permute(2, 0, 1)[None]


# -- PSNR, SSIM, CIEDE2000 against scikit-image ---------------------------------------------------

@pytest.mark.parametrize("shape", [(3, 3, 24, 29), (2, 3, 11, 11), (1, 3, 40, 17)])
def test_psnr_matches_skimage(shape):
    x, y = _pair(shape)
    ref = [skmetrics.peak_signal_noise_ratio(_hwc(b), _hwc(a), data_range=1) for a, b in zip(x, y)]
    np.testing.assert_allclose(M.psnr(x, y).numpy(), ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize("shape", [(3, 3, 24, 29), (2, 3, 11, 11), (1, 3, 40, 17), (1, 3, 64, 48)])
def test_ssim_matches_skimage(shape):
    x, y = _pair(shape, seed=3)
    ref = [skmetrics.structural_similarity(_hwc(a), _hwc(b), gaussian_weights=True, sigma=1.5,
                                           use_sample_covariance=False, data_range=1, channel_axis=-1)
           for a, b in zip(x, y)]
    np.testing.assert_allclose(M.ssim(x, y).numpy(), ref, rtol=0, atol=1e-9)
    # float32 input is promoted to float64 inside
    np.testing.assert_allclose(M.ssim(x.float(), y.float()).numpy(), ref, rtol=0, atol=1e-5)


def test_ssim_rejects_images_smaller_than_its_window():
    x = _rand((1, 3, 10, 40), 0)
    with pytest.raises(ValueError, match="at least 11 x 11"):
        M.ssim(x, x)


def test_ciede2000_matches_skimage_per_pixel():
    lab1 = torch.stack([_rand((4, 30, 30), 0)[0] * 100, (_rand((30, 30), 1) - 0.5) * 200,
                        (_rand((30, 30), 2) - 0.5) * 200])
    lab2 = torch.stack([_rand((30, 30), 3) * 100, (_rand((30, 30), 4) - 0.5) * 200,
                        (_rand((30, 30), 5) - 0.5) * 200])
    # edge cases: zero chroma on one or both sides, hues either side of 0 / 360 degrees, equal colours
    lab1[:, 0, 0], lab2[:, 0, 0] = torch.tensor([50.0, 0, 0]), torch.tensor([50.0, 0, 0])
    lab1[:, 0, 1], lab2[:, 0, 1] = torch.tensor([50.0, 0, 0]), torch.tensor([60.0, 10, -3])
    lab1[:, 0, 2], lab2[:, 0, 2] = torch.tensor([50.0, 20, 1]), torch.tensor([50.0, 20, -1])
    lab1[:, 0, 3], lab2[:, 0, 3] = torch.tensor([50.0, -20, 1]), torch.tensor([50.0, -20, -1])
    lab1[:, 0, 4], lab2[:, 0, 4] = torch.tensor([40.0, 5, -30]), torch.tensor([40.0, 5, -30])
    ours = M.ciede2000_lab(lab1, lab2).numpy()
    ref = skcolor.deltaE_ciede2000(_hwc(lab1), _hwc(lab2))
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize("lab1, lab2, expected", [  # Sharma, Wu and Dalal (2005), table 1, pairs 1, 7, 17-20
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (61.0, -5.0, 29.0), 22.8977),
    ((50.0, 2.5, 0.0), (56.0, -27.0, -3.0), 31.9030),
    ((50.0, 2.5, 0.0), (58.0, 24.0, 15.0), 19.4535),
])
def test_ciede2000_matches_sharma_test_data(lab1, lab2, expected):
    a = torch.tensor(lab1, dtype=torch.float64).view(3, 1, 1)
    b = torch.tensor(lab2, dtype=torch.float64).view(3, 1, 1)
    assert M.ciede2000_lab(a, b).item() == pytest.approx(expected, abs=1e-4)
    assert M.ciede2000_lab(b, a).item() == pytest.approx(expected, abs=1e-4)


def test_ciede2000_of_rgb_matches_skimage_mean():
    x, y = _pair((2, 3, 20, 23), seed=7, noise=0.4)
    ref = [skcolor.deltaE_ciede2000(skcolor.rgb2lab(_hwc(b)), skcolor.rgb2lab(_hwc(a))).mean() for a, b in zip(x, y)]
    np.testing.assert_allclose(M.ciede2000(x, y).numpy(), ref, rtol=0, atol=1e-6)


# -- AuC ------------------------------------------------------------------------------------------

def _auc_by_loops(x, y):
    """Per image: for t = 0..150, fraction of pixels with ab error <= t, via skimage Lab; trapezoid / 150."""
    out = []
    for a, b in zip(x, y):
        la, lb = skcolor.rgb2lab(_hwc(a)), skcolor.rgb2lab(_hwc(b))
        err = [math.hypot(la[i, j, 1] - lb[i, j, 1], la[i, j, 2] - lb[i, j, 2])
               for i in range(la.shape[0]) for j in range(la.shape[1])]
        acc = [sum(e <= t for e in err) / len(err) for t in range(151)]
        area = sum((acc[t] + acc[t + 1]) / 2 for t in range(150))
        out.append(area / 150)
    return out


def test_auc_matches_loop_reference():
    x, y = _pair((2, 3, 9, 11), seed=11, noise=0.9)
    np.testing.assert_allclose(M.ab_auc(x, y).numpy(), _auc_by_loops(x, y), rtol=0, atol=1e-12)


@pytest.mark.parametrize("wrong", [(90, 170, 90), (60, 60, 200)])  # ab error about 40, and above 150
def test_auc_closed_form_on_a_two_colour_image(wrong):
    ref = _two_colour((200, 40, 40), (40, 200, 40))
    out = _two_colour((200, 40, 40), wrong)  # right half wrong: one known ab error e
    lab_r = skcolor.rgb2lab(np.array([[[40, 200, 40]]]) / 255.0)[0, 0]
    lab_o = skcolor.rgb2lab(np.array([[[*wrong]]]) / 255.0)[0, 0]
    e = math.hypot(*(lab_r[1:] - lab_o[1:]))
    m = math.ceil(e)
    curve = M.ab_accuracy_curve(out, ref)[0]
    if m <= 150:
        # accuracy 0.5 for t < e, 1 for t >= e: trapezoid sum minus half the end points, over 150
        expected = (0.5 * m + 1.0 * (151 - m) - 0.5 * (0.5 + 1.0)) / 150
        assert curve[m - 1].item() == 0.5 and curve[m].item() == 1.0
    else:
        expected = 0.5  # the wrong half never counts
        assert torch.equal(curve, torch.full((151,), 0.5, dtype=torch.float64))
    assert M.ab_auc(out, ref).item() == pytest.approx(expected, abs=1e-12)


# -- colourfulness ---------------------------------------------------------------------------------

def _cf_by_loops(img):
    """img: (1, 3, H, W) in [0, 1]; Hasler-Suesstrunk CF on 0..255, computed pixel by pixel."""
    a = img[0].numpy() * 255
    rg, yb = [], []
    for i in range(a.shape[1]):
        for j in range(a.shape[2]):
            r, g, b = a[:, i, j]
            rg.append(r - g)
            yb.append(0.5 * (r + g) - b)
    n = len(rg)
    mu_rg, mu_yb = sum(rg) / n, sum(yb) / n
    s_rg = math.sqrt(sum((v - mu_rg) ** 2 for v in rg) / n)
    s_yb = math.sqrt(sum((v - mu_yb) ** 2 for v in yb) / n)
    return math.sqrt(s_rg ** 2 + s_yb ** 2) + 0.3 * math.sqrt(mu_rg ** 2 + mu_yb ** 2)


def test_colorfulness_closed_form_red_blue():
    img = _two_colour((255, 0, 0), (0, 0, 255))
    # rg: 255 | 0 -> mean 127.5, std 127.5; yb: 127.5 | -255 -> mean -63.75, std 191.25
    expected = math.sqrt(127.5 ** 2 + 191.25 ** 2) + 0.3 * math.sqrt(127.5 ** 2 + 63.75 ** 2)
    assert M.colorfulness(img).item() == pytest.approx(expected, rel=1e-12)


def test_colorfulness_matches_loop_reference():
    x = _rand((2, 3, 7, 9), 5)
    np.testing.assert_allclose(M.colorfulness(x).numpy(), [_cf_by_loops(x[i:i + 1]) for i in range(2)], rtol=1e-12)


def test_gray_image_has_zero_colorfulness():
    g = _rand((2, 1, 16, 16), 2).expand(2, 3, 16, 16)
    assert torch.equal(M.colorfulness(g), torch.zeros(2, dtype=torch.float64))


# -- UCIQE -----------------------------------------------------------------------------------------

def _uciqe_by_loops(img):
    lab = skcolor.rgb2lab(_hwc(img[0])) / 100.0
    lum = sorted(float(v) for v in lab[..., 0].ravel())
    chroma = [math.hypot(a, b) for a, b in zip(lab[..., 1].ravel(), lab[..., 2].ravel())]
    n = len(lum)
    mean_c = sum(chroma) / n
    sigma_c = math.sqrt(sum((c - mean_c) ** 2 for c in chroma) / n)
    k = max(1, round(0.01 * n))
    con_l = sum(lum[-k:]) / k - sum(lum[:k]) / k
    sat = [c / lum_ if lum_ > 0 else 0.0 for c, lum_ in zip(chroma, lab[..., 0].ravel())]
    return 0.4680 * sigma_c + 0.2745 * con_l + 0.2576 * sum(sat) / n


def test_uciqe_matches_loop_reference():
    for seed, shape in [(1, (1, 3, 12, 15)), (2, (1, 3, 30, 40))]:  # 40 % and 12 pixels in each 1 % tail
        x = _rand(shape, seed)
        assert M.uciqe(x).item() == pytest.approx(_uciqe_by_loops(x), abs=1e-9)


def test_uciqe_contrast_uses_mean_of_the_tails_not_every_nth_pixel():
    # 200 pixels: 2 black, 2 white, the rest mid gray; tails of 2 pixels -> con_l = 1 exactly
    img = np.full((10, 20, 3), 0.5)
    img[0, :2] = 0.0
    img[0, 2:4] = 1.0
    x = torch.from_numpy(img).permute(2, 0, 1)[None]
    lab = skcolor.rgb2lab(img) / 100
    chroma = np.hypot(lab[..., 1], lab[..., 2])  # tiny, from the white point of the Lab conversion
    sat = np.where(lab[..., 0] > 0, chroma / np.where(lab[..., 0] > 0, lab[..., 0], 1), 0)
    expected = 0.4680 * chroma.std() + 0.2745 * 1.0 + 0.2576 * sat.mean()
    assert M.uciqe(x).item() == pytest.approx(expected, abs=1e-9)


def test_uciqe_finite_on_constant_images():
    for value in (0.0, 0.3, 1.0):
        x = torch.full((1, 3, 16, 16), value, dtype=torch.float64)
        v = M.uciqe(x).item()
        assert math.isfinite(v) and abs(v) < 1e-3


# -- UIQM ------------------------------------------------------------------------------------------

def _uicm_by_loops(a):
    """a: (H, W, 3) on 0..255."""
    rg = sorted(float(p[0] - p[1]) for row in a for p in row)
    yb = sorted(float((p[0] + p[1]) / 2 - p[2]) for row in a for p in row)
    k = len(rg)
    lo, hi = math.ceil(0.1 * k), math.floor(0.1 * k)

    def trimmed(v):
        kept = v[lo:k - hi]
        return sum(kept) / len(kept)

    mu_rg, mu_yb = trimmed(rg), trimmed(yb)
    var_rg = sum((v - mu_rg) ** 2 for v in rg) / k
    var_yb = sum((v - mu_yb) ** 2 for v in yb) / k
    return -0.0268 * math.hypot(mu_rg, mu_yb) + 0.1586 * math.sqrt(var_rg + var_yb)


def _sobel_by_loops(c):
    h, w = c.shape
    kx = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    out = np.zeros_like(c)
    for i in range(h):
        for j in range(w):
            gx = gy = 0.0
            for di in range(3):
                for dj in range(3):
                    v = c[min(max(i + di - 1, 0), h - 1), min(max(j + dj - 1, 0), w - 1)]
                    gx += kx[di][dj] * v
                    gy += kx[dj][di] * v
            out[i, j] = math.hypot(gx, gy)
    return out


def _block_extremes(c):
    h, w = c.shape
    for bi in range(h // 8):
        for bj in range(w // 8):
            block = c[bi * 8:(bi + 1) * 8, bj * 8:(bj + 1) * 8]
            yield float(block.max()), float(block.min())


def _uism_by_loops(a):
    total = 0.0
    for ch, lam in zip(range(3), (0.299, 0.587, 0.114)):
        c = a[..., ch]
        edge = _sobel_by_loops(c) * c
        blocks = list(_block_extremes(edge))
        eme = sum(math.log(mx / mn) for mx, mn in blocks if mn > 0) * 2 / len(blocks)
        total += lam * eme
    return total


def _uiconm_by_loops(a):
    gamma = k = 1026.0
    inten = 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]
    s = 0.0
    blocks = list(_block_extremes(inten))
    for mx, mn in blocks:
        top = k * (mx - mn) / (k - mn)
        bottom = mx + mn - mx * mn / gamma
        if top > 0 and bottom > 0:
            s += (top / bottom) * math.log(top / bottom)
    c = 1 / len(blocks)
    return -(gamma - gamma * (1 - s / gamma) ** c)


@pytest.mark.parametrize("seed, shape", [(0, (17, 19)), (1, (24, 16))])
def test_uiqm_parts_match_loop_reference(seed, shape):
    x = _rand((1, 3, *shape), seed)
    x[..., :8, :8] = 0.25  # a flat block: zero edges, so its EME term is skipped
    a = np.round(_hwc(x[0]) * 255)  # UIQM works on 8-bit values
    assert M.uicm(x).item() == pytest.approx(_uicm_by_loops(a), rel=1e-9)
    assert M.uism(x).item() == pytest.approx(_uism_by_loops(a), rel=1e-9)
    assert M.uiconm(x).item() == pytest.approx(_uiconm_by_loops(a), rel=1e-9)
    expected = 0.0282 * _uicm_by_loops(a) + 0.2953 * _uism_by_loops(a) + 3.5753 * _uiconm_by_loops(a)
    assert M.uiqm(x).item() == pytest.approx(expected, rel=1e-9)


def test_uiconm_two_level_block_closed_form():
    # one 8 x 8 block: intensities 50 and 150 -> r = (1026 * 100 / 976) / (200 - 7500 / 1026); c = 1: -(r ln r)
    a = np.full((8, 8, 3), 50.0)
    a[4:] = 150.0  # 8-bit values, so the rounding inside changes nothing
    x = torch.from_numpy(a / 255).permute(2, 0, 1)[None]
    r = (1026 * 100 / (1026 - 50)) / (150 + 50 - 150 * 50 / 1026)
    assert M.uiconm(x).item() == pytest.approx(-r * math.log(r), rel=1e-9)


def test_uiqm_finite_on_constant_images():
    for value in (0.0, 0.5, 1.0):
        x = torch.full((1, 3, 24, 24), value, dtype=torch.float64)
        assert M.uiqm(x).item() == 0.0
    x = torch.zeros(1, 3, 24, 24, dtype=torch.float64)
    x[:, 0] = 0.8  # constant red
    v = M.uiqm(x).item()
    assert math.isfinite(v)
    assert v == pytest.approx(0.0282 * -0.0268 * math.hypot(204, 102))  # UICM only: no edges, no contrast


def test_uism_ignores_float_noise_in_flat_areas():
    # a flat area with noise far below one 8-bit step has no edges: its blocks add nothing to EME
    x = torch.full((1, 3, 16, 16), 0.5, dtype=torch.float64) + 1e-9 * _rand((1, 3, 16, 16), 3)
    assert M.uism(x).item() == 0.0
    assert M.uiqm(x).item() == pytest.approx(M.uiqm(torch.full((1, 3, 16, 16), 0.5, dtype=torch.float64)).item())


# -- identical images, the bundle, bad input -------------------------------------------------------

def test_identical_images():
    x = _rand((2, 3, 20, 20), 9)
    m = M.compute_metrics(x, x)
    assert torch.isinf(m.psnr).all() and (m.psnr > 0).all()
    assert torch.allclose(m.ssim, torch.ones(2, dtype=torch.float64), atol=1e-12)
    assert torch.equal(m.ciede2000, torch.zeros(2, dtype=torch.float64))
    assert torch.equal(m.delta_cf, torch.zeros(2, dtype=torch.float64))
    assert torch.equal(m.auc, torch.ones(2, dtype=torch.float64))


def test_compute_metrics_without_reference_and_row():
    x = _rand((2, 3, 16, 16), 4)
    m = M.compute_metrics(x)
    assert m.psnr is None and m.ssim is None and m.delta_cf is None
    row = m.row(1)
    assert list(row) == list(M.METRIC_NAMES)
    assert row["psnr"] is None and isinstance(row["uiqm"], float)
    assert row["cf"] == pytest.approx(M.colorfulness(x)[1].item())


def test_bad_input_is_refused_with_shapes_named():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        M.psnr(torch.rand(3, 8, 8), torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="differ in shape"):
        M.psnr(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
    with pytest.raises(TypeError):
        M.uciqe(np.zeros((1, 3, 8, 8)))
