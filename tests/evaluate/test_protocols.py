"""Evaluate and compare end to end on tiny synthetic folders, with random-init weights (plumbing only)."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from colorizekit import color
from colorizekit.cli import main
from colorizekit.evaluate import metrics
from colorizekit.evaluate.protocols import compare, evaluate
from colorizekit.evaluate.report import comparison_grid, write_report
from colorizekit.evaluate.results import ROWS, EvaluationResult, MetricValues, summarize_rows
from tests.conftest import synthetic_rgb


@pytest.fixture
def photo_dir(tmp_path):
    """Three colour photos (one in a subfolder), one corrupt file, one grayscale photo."""
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    Image.fromarray(synthetic_rgb(48, 64, seed=1)).save(d / "a.png")
    Image.fromarray(synthetic_rgb(40, 56, seed=2)).save(d / "b.jpg", quality=95)
    Image.fromarray(synthetic_rgb(64, 48, seed=3)).save(d / "sub" / "c.png")
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    Image.fromarray(np.full((32, 32), 90, dtype=np.uint8)).save(d / "gray.png")
    return d


def _as_tensor(path):
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0
    return torch.from_numpy(rgb).permute(2, 0, 1)[None]


def _gray3(rgb):
    return color.l_to_gray(color.rgb_to_lab(rgb)[:, :1]).expand(-1, 3, -1, -1)


def _strict_json(path):
    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(path.read_text(), parse_constant=refuse)


def _check_summary_schema(summary, model, n_images):
    assert summary["model"] == model and summary["images"] == n_images
    for row in ROWS:
        assert list(summary[row]) == list(metrics.METRIC_NAMES)
    for name in metrics.FULL_REFERENCE:
        assert summary["original"][name] is None
        assert isinstance(summary["colorized"][name], float) and isinstance(summary["baseline"][name], float)
    for name in metrics.NO_REFERENCE:
        assert all(isinstance(summary[row][name], float) for row in ROWS)
    assert set(summary["not_computed"]) == {"dists", "lpips", "fid"}


def test_evaluate_full_protocol_writes_the_report(photo_dir, make_weights, tmp_path):
    weights = make_weights("jkspnet-lab")
    result = evaluate(photo_dir, weights=weights, size=32, progress=False)
    assert isinstance(result, EvaluationResult)
    assert [r.name for r in result.images] == ["a.png", "b.jpg", "sub/c.png"]
    assert [(r.width, r.height, r.eval_width, r.eval_height) for r in result.images][2] == (48, 64, 48, 64)
    assert sorted(f.path.split("/")[-1] for f in result.failed) == ["broken.png", "gray.png"]
    assert result.protocol == "full" and result.size == 32 and result.model == "jkspnet-lab"

    # the baseline row is the metric computed directly on (grayscale of L, original)
    original = _as_tensor(photo_dir / "a.png")
    a = result.images[0]
    # (evaluation computes in float32, these references in float64: agreement to float32 precision)
    assert a.baseline.ciede2000 == pytest.approx(metrics.ciede2000(_gray3(original), original).item(), abs=1e-4)
    assert a.baseline.ssim == pytest.approx(metrics.ssim(_gray3(original), original).item(), abs=1e-4)
    assert a.baseline.cf == 0.0 and a.baseline.delta_cf == pytest.approx(-a.original.cf)
    assert a.original.psnr is None and a.original.cf == pytest.approx(metrics.colorfulness(original).item())
    assert result.baseline.means.ciede2000 == pytest.approx(np.mean([r.baseline.ciede2000 for r in result.images]))

    files = write_report(result, tmp_path / "report")
    summary = _strict_json(files.summary_json)
    _check_summary_schema(summary, "jkspnet-lab", 3)
    assert summary["protocol"] == "full"
    assert len(summary["failed"]) == 2 and all("reason" in f for f in summary["failed"])
    assert summary["baseline"]["ciede2000"] == pytest.approx(result.baseline.means.ciede2000)

    lines = files.per_image_csv.read_text().splitlines()
    assert lines[0].startswith("image,width,height,eval_width,eval_height,row,psnr,ssim,ciede2000")
    assert len(lines) == 1 + 3 * 3
    assert lines[3].startswith("a.png,64,48,64,48,original,,,,,")  # full-reference cells empty
    md = files.summary_md.read_text()
    assert "| metric" in md and "jkspnet-lab" in md and "DISTS" in md and "broken.png" in md
    grid = Image.open(files.grid_png)
    assert grid.size[1] > 2 * 192  # worst and best rows at the preview height


def test_evaluate_design_protocol(photo_dir, make_weights, tmp_path):
    weights = make_weights("jkspnet-lab")
    result = evaluate(photo_dir, weights=weights, protocol="design", limit=3, progress=False)
    assert len(result.images) == 2  # the first three files in sorted order: a.png, b.jpg, broken.png
    assert [f.path.split("/")[-1] for f in result.failed] == ["broken.png"]
    assert all((r.eval_width, r.eval_height) == (128, 128) for r in result.images)
    assert (result.images[0].width, result.images[0].height) == (64, 48)

    small = Image.open(photo_dir / "a.png").convert("RGB").resize((128, 128), Image.Resampling.BICUBIC)
    original = torch.from_numpy(np.asarray(small, dtype=np.float64) / 255.0).permute(2, 0, 1)[None]
    expected = metrics.ciede2000(_gray3(original), original).item()
    assert result.images[0].baseline.ciede2000 == pytest.approx(expected, abs=1e-4)  # float32 against float64

    summary = _strict_json(write_report(result, tmp_path / "design").summary_json)
    _check_summary_schema(summary, "jkspnet-lab", 2)
    assert summary["protocol"] == "design" and summary["size"] == 128


def test_infinite_psnr_is_reported_not_averaged(tmp_path):
    def values(psnr):
        return MetricValues(psnr=psnr, ssim=1.0, ciede2000=0.0, auc=1.0, cf=2.0, delta_cf=0.0, uciqe=0.5, uiqm=1.0)

    rows = [values(math.inf), values(30.0), values(40.0)]
    s = summarize_rows(rows)
    assert s.means.psnr == 35.0 and s.psnr_infinite == 1
    assert summarize_rows([values(math.inf)]).means.psnr is None  # nothing finite to average
    assert summarize_rows([]).means.cf is None

    from colorizekit.evaluate.results import ImageResult

    orig = MetricValues(None, None, None, None, 2.0, None, 0.5, 1.0)
    images = tuple(ImageResult(f"p{i}.png", tmp_path / f"p{i}.png", 16, 16, 16, 16, r, r, orig)
                   for i, r in enumerate(rows))
    result = EvaluationResult(
        model="jkspnet-lab", weights="w", protocol="full", size=256, device="cpu", images=images, failed=(),
        baseline=s, colorized=s, original=summarize_rows([orig] * 3), not_computed=metrics.NOT_COMPUTED,
        notes=(), colorize_seconds=0.0, metric_seconds=0.0)
    files = write_report(result, tmp_path / "inf")  # no previews: no grid
    assert files.grid_png is None
    summary = _strict_json(files.summary_json)
    assert summary["colorized"]["psnr"] == 35.0 and summary["psnr_infinite"]["colorized"] == 1
    assert files.per_image_csv.read_text().splitlines()[1].split(",")[6] == "inf"
    assert "PSNR inf" in files.summary_md.read_text()


def test_compare_draws_one_row_per_photo_and_counts_wins(photo_dir, make_weights, tmp_path, capsys):
    weights = {"jkspnet-lab": make_weights("jkspnet-lab"), "unet-rgb": make_weights("unet-rgb")}
    comparison = compare(photo_dir, ["unet-rgb", "jkspnet-lab"], weights=weights, size=32, limit=2, progress=False)
    assert [r.model for r in comparison.results] == ["unet-rgb", "jkspnet-lab"]
    table = comparison.table().splitlines()
    assert [c.strip() for c in table[0].split("|")[1:-1]] == ["metric", "baseline", "unet-rgb", "jkspnet-lab",
                                                              "original"]
    (a, b, a_won, b_won, both), = comparison.wins("ciede2000")  # one pair, counted photo by photo
    de = [[im.colorized.ciede2000 for im in r.images] for r in comparison.results]
    assert (a, b, both) == ("unet-rgb", "jkspnet-lab", 2)
    assert (a_won, b_won) == (sum(x < y for x, y in zip(*de)), sum(y < x for x, y in zip(*de)))
    psnr = [[im.colorized.psnr for im in r.images] for r in comparison.results]
    assert comparison.wins("psnr")[0][2] == sum(x > y for x, y in zip(*psnr))  # higher is better there
    with pytest.raises(ValueError, match="'cf' has no better direction"):
        comparison.wins("cf")
    grid = comparison_grid(comparison, cell_height=64)
    # two photos (a.png 64 x 48 and b.jpg 56 x 40), four columns: original | two models | grayscale
    assert grid.size[1] > 2 * 64 and grid.size[0] >= 4 * round(64 * 64 / 48)

    bare = compare(photo_dir, ["unet-rgb", "jkspnet-lab"], weights=list(weights.values()), size=32, limit=1,
                   progress=False)  # bare files: each one's model is read from it
    assert [r.weights for r in bare.results] == [str(weights["unet-rgb"]), str(weights["jkspnet-lab"])]

    out = tmp_path / "cmp.png"
    code = main(["compare", str(photo_dir), "--models", "unet-rgb,jkspnet-lab", "--weights", str(weights["unet-rgb"]),
                 "--weights", f"jkspnet-lab={weights['jkspnet-lab']}", "--size", "32", "--limit", "2",
                 "--cell-height", "64", "-o", str(out)])
    assert code == 0
    assert Image.open(out).size == grid.size
    assert f"lower ΔE00, photo by photo: unet-rgb on {a_won} of 2 " in capsys.readouterr().out


def test_cli_evaluate(photo_dir, make_weights, tmp_path, capsys):
    out = tmp_path / "report"
    code = main(["evaluate", str(photo_dir / "sub"), "--weights", str(make_weights("jkspnet-lab")), "--size", "32",
                 "-o", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    assert "| metric" in captured.out
    summary = _strict_json(out / "summary.json")
    assert summary["images"] == 1 and set(summary["not_computed"]) == {"dists", "lpips", "fid"}
    assert all(summary["not_computed"].values())  # each with its reason
    assert {p.name for p in out.iterdir()} == {"per_image.csv", "summary.json", "summary.md", "worst_best.png"}


def test_vividness_reaches_both_protocols_and_is_recorded(photo_dir, make_weights, tmp_path):
    from colorizekit.color.bins import DEFAULT_VIVIDNESS

    lite = make_weights("lite-unet-bins")
    for protocol in ("full", "design"):
        muted, vivid = (evaluate(photo_dir, weights=lite, size=32, protocol=protocol, limit=2, progress=False,
                                 vividness=v) for v in (0.0, 1.0))
        assert (muted.vividness, vivid.vividness) == (0.0, 1.0)
        assert muted.colorized.means.ciede2000 != pytest.approx(vivid.colorized.means.ciede2000, abs=1e-6), protocol
    default = evaluate(photo_dir, weights=lite, size=32, limit=1, progress=False)
    assert default.vividness == DEFAULT_VIVIDNESS  # the value used, not None
    files = write_report(vivid, tmp_path / "vivid")
    assert _strict_json(files.summary_json)["vividness"] == 1.0
    assert "vividness 1," in files.summary_md.read_text()
    jk = evaluate(photo_dir, weights=make_weights("jkspnet-lab"), size=32, limit=1, progress=False)
    assert jk.vividness is None and _strict_json(write_report(jk, tmp_path / "jk").summary_json)["vividness"] is None
    with pytest.raises(ValueError, match="vividness applies to models with a bins head"):
        evaluate(photo_dir, weights=make_weights("jkspnet-lab"), vividness=0.5)


def test_saturation_reaches_both_protocols_and_is_recorded(photo_dir, make_weights, tmp_path):
    jk = make_weights("jkspnet-lab")
    for protocol in ("full", "design"):
        plain, gray = (evaluate(photo_dir, weights=jk, size=32, protocol=protocol, limit=2, progress=False,
                                saturation=s) for s in (1.0, 0.0))
        assert (plain.saturation, gray.saturation) == (1.0, 0.0)
        # saturation 0 leaves the grayscale input (up to 8-bit rounding): the baseline's error
        assert gray.colorized.means.ciede2000 == pytest.approx(gray.baseline.means.ciede2000, abs=0.3), protocol
        assert plain.colorized.means.ciede2000 != pytest.approx(gray.colorized.means.ciede2000, abs=1e-6), protocol
    files = write_report(gray, tmp_path / "gray")
    assert _strict_json(files.summary_json)["saturation"] == 0.0
    assert "saturation 0" in files.summary_md.read_text()
    comparison = compare(photo_dir, ["jkspnet-lab"], weights=[jk], size=32, limit=1, progress=False, saturation=1.4)
    assert comparison.results[0].saturation == 1.4
    with pytest.raises(ValueError, match="saturation must be a number from 0"):
        evaluate(photo_dir, weights=jk, saturation=4.0)


def test_compare_applies_vividness_to_the_models_that_take_it(photo_dir, make_weights):
    weights = [make_weights("lite-unet-bins"), make_weights("jkspnet-lab")]
    comparison = compare(photo_dir, ["lite-unet-bins", "jkspnet-lab"], weights=weights, size=32, limit=1,
                         progress=False, vividness=0.9)
    assert [r.vividness for r in comparison.results] == [0.9, None]
    with pytest.raises(ValueError, match="vividness must be a number from 0"):  # checked even when no model takes it
        compare(photo_dir, ["jkspnet-lab"], weights=weights[1:], vividness=1.5)


def test_cli_evaluate_and_compare_take_vividness(photo_dir, make_weights, tmp_path, capsys):
    lite, jk = make_weights("lite-unet-bins"), make_weights("jkspnet-lab")
    assert main(["evaluate", str(photo_dir / "sub"), "--weights", str(lite), "--size", "32", "--vividness", "0.25",
                 "-o", str(tmp_path / "r")]) == 0
    assert _strict_json(tmp_path / "r" / "summary.json")["vividness"] == 0.25
    assert main(["compare", str(photo_dir / "sub"), "--models", "lite-unet-bins,jkspnet-lab", "--weights", str(lite),
                 "--weights", str(jk), "--size", "32", "--vividness", "0.75", "-o", str(tmp_path / "c.png")]) == 0
    out = capsys.readouterr().out
    assert "lite-unet-bins: vividness 0.75" in out and "jkspnet-lab: vividness" not in out
    assert main(["evaluate", str(photo_dir / "sub"), "--weights", str(jk), "--vividness", "0.5",
                 "-o", str(tmp_path / "jk")]) == 2
    assert "vividness applies to models with a bins head" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["compare", str(photo_dir), "--models", "jkspnet-lab", "--vividness", "2"])
    assert "expected a number from 0 (muted) to 1 (vivid), got '2'" in capsys.readouterr().err


def test_bad_arguments_are_refused(photo_dir, make_weights, tmp_path):
    weights = make_weights("jkspnet-lab")
    with pytest.raises(ValueError, match="protocol"):
        evaluate(photo_dir, weights=weights, protocol="fast")
    with pytest.raises(ValueError, match="limit"):
        evaluate(photo_dir, weights=weights, limit=0)
    with pytest.raises(ValueError, match="twice"):
        compare(photo_dir, ["jkspnet-lab", "jkspnet-lab"], weights={"jkspnet-lab": weights})
    assert main(["evaluate", str(tmp_path / "missing"), "--weights", str(weights), "-o", str(tmp_path / "r")]) == 2


def test_kodak_plumbing(shared_data, make_weights, tmp_path):
    kodak = shared_data / "eval" / "kodak24"
    if not kodak.is_dir():
        pytest.skip(f"{kodak} not present")
    result = evaluate(kodak, weights=make_weights("jkspnet-lab"), size=64, limit=2, progress=False)
    assert [r.name for r in result.images] == ["kodim01.png", "kodim02.png"] and not result.failed
    assert {(r.eval_width, r.eval_height) for r in result.images} <= {(768, 512), (512, 768)}
    for r in result.images:
        assert r.baseline.cf == 0.0 and 0 < r.original.cf and math.isfinite(r.colorized.uiqm)
    summary = _strict_json(write_report(result, tmp_path / "kodak").summary_json)
    _check_summary_schema(summary, "jkspnet-lab", 2)


DESIGN_MODELS = ("unet-rgb", "jkspnet-lab", "lite-unet-bins")  # one per colour mode: rgb, lab, ab-bins


@pytest.mark.parametrize("protocol", ["full", "design"])
@pytest.mark.parametrize("backend", ["torch", "onnx"])
@pytest.mark.parametrize("model", DESIGN_MODELS)
def test_every_backend_and_protocol_works_or_is_refused_before_any_work(photo_dir, exported, tmp_path, capsys,
                                                                         model, backend, protocol):
    """Through the CLI, every combination evaluate offers: it scores the photos, or (only the design protocol
    of an RGB model through ONNX, whose export gives ab, not the model's own RGB) one line and no report."""
    weights, onnx_file = exported(model)
    given = onnx_file if backend == "onnx" else weights
    out = tmp_path / "report"
    status = main(["evaluate", str(photo_dir), "--weights", str(given), "--backend", backend, "--protocol", protocol,
                   "--size", "64", "--limit", "2", "-o", str(out)])
    err = capsys.readouterr().err.strip()
    if backend == "onnx" and protocol == "design" and model == "unet-rgb":
        assert status == 2 and "\n" not in err and "use the torch backend" in err
        assert not out.exists()
        return
    assert status == 0, err
    summary = _strict_json(out / "summary.json")
    assert summary["protocol"] == protocol and summary["images"] == 2


@pytest.mark.parametrize("model", ["jkspnet-lab", "lite-unet-bins"])
def test_the_design_protocol_through_onnx_matches_torch(photo_dir, exported, model):
    weights, onnx_file = exported(model)
    by = {backend: evaluate(photo_dir, weights=w, backend=backend, protocol="design", limit=2, progress=False)
          for backend, w in (("torch", weights), ("onnx", onnx_file))}
    for a, b in zip(by["torch"].images, by["onnx"].images):
        assert a.colorized.ciede2000 == pytest.approx(b.colorized.ciede2000, abs=0.05)
