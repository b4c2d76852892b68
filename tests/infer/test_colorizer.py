"""Colorizing at full resolution: sizes, luminance, metadata, 16-bit, batches, safety, weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from colorizekit import color
from colorizekit.cli import main
from colorizekit.color.join import join_luminance
from colorizekit.evaluate.demo import demo_images
from colorizekit.infer.colorizer import Colorizer, working_shape
from colorizekit.infer.files import colorize_files
from colorizekit.models import list_models
from colorizekit.weights import WeightsError, default_weights_path
from tests.conftest import synthetic_rgb


def _lum(rgb_uint8: np.ndarray) -> np.ndarray:
    t = torch.from_numpy(rgb_uint8.astype(np.float64) / 255).permute(2, 0, 1)
    return color.rgb_to_lab(t)[0].numpy()


def _gray_file(path, h=48, w=64, seed=0, **save):
    Image.fromarray(synthetic_rgb(h, w, seed)).convert("L").save(path, **save)
    return path


@pytest.fixture
def colorizer(make_weights):
    return Colorizer(weights=make_weights("jkspnet-lab"), device="cpu", size=32)


def test_working_shape_rounds_to_model_multiple():
    assert working_shape(768, 1024, 256, 8) == (256, 344)
    assert working_shape(321, 481, 256, 16) == (256, 384)
    assert working_shape(1, 1, 256, 16) == (256, 256)  # small photos are predicted at the working size
    with pytest.raises(ValueError, match="smaller than the model's size multiple"):
        working_shape(10, 10, 4, 8)


@pytest.mark.parametrize("model", ["jkspnet-lab", "unet-rgb"])
@pytest.mark.parametrize("hw", [(321, 481), (1, 1), (7, 300)])
def test_output_has_input_size(make_weights, model, hw):
    c = Colorizer(weights=make_weights(model), device="cpu", size=32)
    gray = np.random.default_rng(0).uniform(size=hw).astype(np.float32)
    out = c.colorize_gray([gray])[0]
    assert out.shape == (*hw, 3) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1


def test_luminance_preserved_on_real_photo(tmp_path, colorizer):
    photo = demo_images()[0]  # a real photograph shipped with colorizekit
    gray = np.asarray(Image.open(photo).convert("L"))
    Image.fromarray(gray).save(tmp_path / "in.png")
    report = colorize_files(colorizer, [tmp_path / "in.png"], tmp_path / "out")
    out = np.asarray(Image.open(report.done[0]).convert("RGB"))
    assert out.shape[:2] == gray.shape
    lum_in = _lum(np.repeat(gray[..., None], 3, axis=2))
    assert np.abs(_lum(out) - lum_in).mean() < 0.5


def test_call_accepts_pil_array_path_and_bytes(tmp_path, colorizer):
    path = _gray_file(tmp_path / "a.png", 33, 51)
    im = Image.open(path)
    for source in (path, str(path), im, np.asarray(im), path.read_bytes()):
        out = colorizer(source)
        assert out.mode == "RGB" and out.size == (51, 33)


def test_strip_join_equals_whole_join():
    rng = np.random.default_rng(1)
    gray = rng.uniform(size=(1100, 1000)).astype(np.float32)  # > 4 * 512^2 pixels: joined in strips
    ab = torch.from_numpy(rng.uniform(-60, 60, size=(2, 40, 37)).astype(np.float32))
    strips = join_luminance(gray, ab)
    full_ab = torch.nn.functional.interpolate(ab[None], size=gray.shape, mode="bilinear", align_corners=False)[0]
    lab = torch.cat([color.gray_to_l(torch.from_numpy(gray)[None]), full_ab])
    whole = color.lab_to_rgb(lab).permute(1, 2, 0).numpy()
    assert np.abs(strips - whole).max() < 1e-4  # float32 rounding, far below one 8-bit step


def test_exif_and_icc_kept(tmp_path, colorizer):
    from PIL import ImageCms

    exif = Image.Exif()
    exif[0x013B] = "A. Photographer"  # Artist
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = _gray_file(tmp_path / "p.jpg", exif=exif.tobytes())
    Image.open(src).convert("RGB").save(src, exif=exif.tobytes(), icc_profile=icc)  # a colour-mode JPEG
    report = colorize_files(colorizer, [src], tmp_path / "out")
    out = Image.open(report.done[0])
    assert out.format == "JPEG"
    assert out.getexif().get(0x013B) == "A. Photographer"
    assert out.info.get("icc_profile") == icc


def test_sixteen_bit_round_trip(tmp_path, colorizer):
    ramp = np.linspace(0, 65535, 40 * 60).reshape(40, 60).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")  # mode I;16
    report = colorize_files(colorizer, [tmp_path / "deep.png"], tmp_path / "out")
    out = report.done[0]
    raw = out.read_bytes()
    assert raw[24] == 16  # IHDR bit depth
    from colorizekit.imageio import load_image

    back = load_image(out)
    assert back.bit_depth == 16 and back.rgb.shape == (40, 60, 3)
    lum_in = color.gray_to_l(torch.from_numpy(ramp.astype(np.float64) / 65535)[None])[0].numpy()
    lum_out = color.rgb_to_lab(torch.from_numpy(back.rgb.astype(np.float64)).permute(2, 0, 1))[0].numpy()
    assert np.abs(lum_out - lum_in).mean() < 0.05  # far finer than 8-bit steps allow


def test_folder_with_corrupt_file(tmp_path, make_weights, capsys):
    src = tmp_path / "photos"
    (src / "sub").mkdir(parents=True)
    for i, name in enumerate(["a.jpg", "b.png", "sub/c.jpg"]):
        _gray_file(src / name, seed=i)
    good = (src / "a.jpg").read_bytes()
    (src / "broken.jpg").write_bytes(good[: len(good) // 2])
    (src / "notes.txt").write_text("not a photo")
    rc = main(["colorize", str(src), "-o", str(tmp_path / "out"), "--weights", str(make_weights()), "--size", "32"])
    assert rc == 1
    for name in ["a.jpg", "b.png", "sub/c.jpg"]:
        assert Image.open(tmp_path / "out" / name).size == (64, 48)
    captured = capsys.readouterr()
    assert "broken.jpg" in captured.err and "3 done, 0 skipped, 1 failed" in captured.out
    assert len([line for line in captured.err.splitlines() if "broken.jpg" in line]) == 1


def test_failed_lines_do_not_land_on_the_progress_bar(tmp_path, make_weights, capsys):
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(4):
        _gray_file(src / f"{i}.png", 24, 32, seed=i)
    (src / "2.png").write_bytes((src / "2.png").read_bytes()[:60])  # truncated, met while the bar is drawn
    Image.fromarray(synthetic_rgb(24, 32)).save(src / "4.png")  # a colour photo: a note, also while drawn
    rc = main(["colorize", str(src), "-o", str(tmp_path / "out"), "--weights", str(make_weights()), "--size", "32"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "colorizing" in err  # the bar was drawn
    for text in ("failed: ", "note: "):
        lines = [line for line in err.split("\n") if text in line]
        assert lines and all(line.split("\r")[-1].startswith(text) for line in lines), lines


def test_inputs_never_overwritten(tmp_path, make_weights, capsys):
    src = _gray_file(tmp_path / "a.png")
    before = src.read_bytes()
    rc = main(["colorize", str(src), "-o", str(tmp_path), "--weights", str(make_weights()), "--size", "32"])
    assert rc == 1 and src.read_bytes() == before
    assert "would overwrite an input" in capsys.readouterr().err


def test_existing_outputs_skipped_unless_overwrite(tmp_path, colorizer):
    src = _gray_file(tmp_path / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"keep me")
    report = colorize_files(colorizer, [src], out)
    assert report.skipped == [out / "a.png"] and (out / "a.png").read_bytes() == b"keep me"
    report = colorize_files(colorizer, [src], out, overwrite=True)
    assert report.done == [out / "a.png"] and Image.open(out / "a.png").size == (64, 48)


def test_format_and_side_by_side(tmp_path, colorizer):
    src = _gray_file(tmp_path / "a.png")
    report = colorize_files(colorizer, [src], tmp_path / "out", format="jpg", side_by_side_too=True)
    assert report.done == [tmp_path / "out" / "a.jpg"]
    assert Image.open(tmp_path / "out" / "a.jpg").format == "JPEG"
    assert Image.open(tmp_path / "out" / "a_side_by_side.jpg").size == (128, 48)


def test_gif_and_bmp_inputs_give_png_outputs(tmp_path, colorizer):
    _gray_file(tmp_path / "a.gif")
    _gray_file(tmp_path / "b.bmp")
    report = colorize_files(colorizer, [tmp_path / "a.gif", tmp_path / "b.bmp"], tmp_path / "out")
    assert report.done == [tmp_path / "out" / "a.png", tmp_path / "out" / "b.png"]
    assert {Image.open(p).format for p in report.done} == {"PNG"}


def test_colour_input_reduced_to_luminance_and_told_once(tmp_path, colorizer):
    for i in range(2):
        Image.fromarray(synthetic_rgb(seed=i)).save(tmp_path / f"c{i}.png")
    with pytest.warns(UserWarning, match="only its luminance is used") as record:
        colorize_files(colorizer, [tmp_path / "c0.png", tmp_path / "c1.png"], tmp_path / "out")
    assert len([w for w in record if "luminance" in str(w.message)]) == 1


@pytest.mark.parametrize("how", ["call", "colorize_files"])
def test_colour_warning_names_the_callers_file_not_colorizekits(tmp_path, make_weights, how):
    Image.fromarray(synthetic_rgb()).save(tmp_path / "c.png")
    colorizer = Colorizer(weights=make_weights("jkspnet-lab"), device="cpu", size=32)
    with pytest.warns(UserWarning, match="only its luminance is used") as record:
        if how == "call":
            colorizer(tmp_path / "c.png")
        else:
            colorize_files(colorizer, [tmp_path / "c.png"], tmp_path / "out")
    assert [w.filename for w in record if "luminance" in str(w.message)] == [__file__]


UNSHIPPED = [m for m in list_models() if default_weights_path(m) is None]  # unet-rgb


@pytest.mark.parametrize("model", UNSHIPPED)
def test_missing_weights_message(model):
    with pytest.raises(WeightsError, match=f"no trained weights ship with colorizekit for model '{model}'") as info:
        Colorizer(model=model)
    assert "--weights FILE (CLI) or weights=FILE (Python)" in str(info.value)


def test_wrong_model_weights_refused(make_weights, tmp_path, capsys):
    path = make_weights("unet-rgb")
    with pytest.raises(WeightsError, match="are for model 'unet-rgb', not 'jkspnet-lab'"):
        Colorizer(model="jkspnet-lab", weights=path)
    _gray_file(tmp_path / "a.png")
    rc = main(["colorize", str(tmp_path / "a.png"), "--model", "jkspnet-lab", "--weights", str(path)])
    assert rc == 2 and "not 'jkspnet-lab'" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"", b"not a weights file at all", b"PK\x03\x04garbage"])
def test_bad_weights_files(tmp_path, content):
    path = tmp_path / "w.safetensors"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match="w.safetensors"):
        Colorizer(weights=path)


def test_missing_input_reported(tmp_path, colorizer):
    report = colorize_files(colorizer, [tmp_path / "nope.jpg"], tmp_path / "out")
    assert report.failed and "nope.jpg" in report.failed[0][0]


def test_demo_with_weights_and_without(tmp_path, make_weights, capsys):
    rc = main(["demo", "-o", str(tmp_path / "d"), "--weights", str(make_weights("jkspnet-lab")), "--size", "32"])
    assert rc == 0
    grid = Image.open(tmp_path / "d" / "demo_jkspnet-lab.png")
    assert grid.width > 3 * 64
    assert len(list((tmp_path / "d" / "jkspnet-lab").glob("*.png"))) == len(demo_images())
    rc = main(["demo", "-o", str(tmp_path / "e"), "--model", "unet-rgb"])
    assert rc == 1 and "no trained weights ship" in capsys.readouterr().err


def test_demo_api_takes_bare_weights_files(tmp_path, make_weights):
    from colorizekit.evaluate.demo import run_demo

    result = run_demo(tmp_path / "d", weights=[make_weights("unet-rgb")], size=32, device="cpu")
    assert list(result.grids) == ["unet-rgb"] and not result.unavailable


def test_colorizer_exported_at_top_level():
    import colorizekit

    assert colorizekit.Colorizer is Colorizer


def test_precision_choice_and_bf16_close_to_fp32(make_weights):
    from colorizekit.hardware import resolve_precision

    assert resolve_precision("fp32", torch.device("cpu"))[0] == torch.float32
    assert resolve_precision("bf16", torch.device("cpu"))[0] == torch.bfloat16
    assert resolve_precision("auto", torch.device("cpu"))[0] in (torch.float32, torch.bfloat16)
    with pytest.raises(ValueError, match="precision must be"):
        resolve_precision("fp8", torch.device("cpu"))
    weights = make_weights("jkspnet-lab")
    gray = np.random.default_rng(0).uniform(size=(40, 56)).astype(np.float32)
    outs = {p: Colorizer(weights=weights, device="cpu", size=32, precision=p).colorize_gray([gray])[0]
            for p in ("fp32", "bf16")}
    assert np.abs(outs["fp32"] - outs["bf16"]).max() < 0.02


def test_join_shrinks_ab_antialiased_where_photo_is_smaller_than_working_size():
    rng = np.random.default_rng(2)
    gray = rng.uniform(size=(30, 700)).astype(np.float32)  # fewer rows than the ab, more columns
    ab = torch.from_numpy(rng.uniform(-60, 60, size=(2, 64, 200)).astype(np.float32))
    out = join_luminance(gray, ab)
    shrunk = torch.nn.functional.interpolate(ab[None], size=(30, 200), mode="bilinear", antialias=True)
    full_ab = torch.nn.functional.interpolate(shrunk, size=(30, 700), mode="bilinear", align_corners=False)[0]
    lab = torch.cat([color.gray_to_l(torch.from_numpy(gray)[None]), full_ab])
    assert np.abs(out - color.lab_to_rgb(lab).permute(1, 2, 0).numpy()).max() < 1e-4


def test_photo_named_twice_is_done_once_and_name_clashes_refused(tmp_path):
    from colorizekit.infer.files import plan_outputs

    (tmp_path / "sub").mkdir()
    for name in ["a.png", "sub/a.png"]:
        _gray_file(tmp_path / name)
    jobs, problems = plan_outputs([tmp_path / "a.png", tmp_path], tmp_path / "out")
    assert [j.source for j in jobs] == [tmp_path / "a.png", tmp_path / "sub" / "a.png"] and not problems
    jobs, problems = plan_outputs([tmp_path / "a.png", tmp_path / "sub" / "a.png"], tmp_path / "out")
    assert len(jobs) == 1 and "is also the output of" in problems[0][1]


def _confident_lite_weights(path):
    """Random lite-unet-bins weights whose predictions are peaked, as a trained model's are."""
    from colorizekit.models import create_model
    from colorizekit.weights import export_weights

    torch.manual_seed(0)
    model = create_model("lite-unet-bins")
    with torch.no_grad():
        model.head.conv.weight.mul_(20)  # confident (peaked) predictions, as a trained model makes
    export_weights(path, "lite-unet-bins", model.state_dict())
    return path


def test_vividness_gives_more_chroma_and_only_bins_models_take_it(make_weights, rgb_image, tmp_path):
    weights = _confident_lite_weights(tmp_path / "lite.safetensors")
    gray = color.rgb_to_gray(torch.from_numpy(rgb_image).permute(2, 0, 1)[None].float() / 255)[0, 0].numpy()
    chroma = {}
    for vividness in (0.0, 1.0):
        colorizer = Colorizer(weights=weights, device="cpu", size=64, vividness=vividness)
        rgb = torch.from_numpy(colorizer.colorize_gray([gray])[0]).permute(2, 0, 1)[None]
        chroma[vividness] = color.rgb_to_lab(rgb)[:, 1:].norm(dim=1).mean().item()
    assert chroma[1.0] > chroma[0.0] + 1.0
    per_call = colorizer.colorize_gray([gray], vividness=0.0)[0]  # a per-call override of the colorizer's 1.0
    assert np.allclose(per_call, Colorizer(weights=weights, device="cpu", size=64, vividness=0.0).colorize_gray([gray])[0])
    with pytest.raises(ValueError, match="vividness must be"):
        Colorizer(weights=weights, device="cpu", vividness=2.0)
    with pytest.raises(ValueError, match="vividness applies to models with a bins head"):
        Colorizer(weights=make_weights("jkspnet-lab"), device="cpu", vividness=0.5)


def _mean_chroma(rgb: np.ndarray) -> float:
    lab = color.rgb_to_lab(torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None])
    return lab[:, 1:].norm(dim=1).mean().item()


@pytest.mark.parametrize("model", ["lite-unet-bins", "jkspnet-lab"])
def test_saturation_scales_every_models_chroma_and_keeps_its_lightness(model, make_weights, rgb_image, tmp_path):
    weights = _confident_lite_weights(tmp_path / "lite.safetensors") if model == "lite-unet-bins" else make_weights(model)
    gray = color.rgb_to_gray(torch.from_numpy(rgb_image).permute(2, 0, 1)[None].float() / 255)[0, 0].numpy()
    plain = Colorizer(weights=weights, device="cpu", size=64)
    assert plain.saturation == 1.0  # no measured default in these weights' card
    as_predicted = plain.colorize_gray([gray])[0]
    stronger = Colorizer(weights=weights, device="cpu", size=64, saturation=1.5).colorize_gray([gray])[0]
    assert _mean_chroma(stronger) > 1.3 * _mean_chroma(as_predicted) > 0
    lum = [color.rgb_to_lab(torch.from_numpy(x).permute(2, 0, 1)[None])[:, 0] for x in (as_predicted, stronger)]
    assert (lum[0] - lum[1]).abs().mean() < 0.5  # the gray's L is kept, up to gamut clipping
    gray_out = plain.colorize_gray([gray], saturation=0.0)[0]  # a per-call override of the colorizer's 1
    assert _mean_chroma(gray_out) < 0.5
    assert np.allclose(plain(Image.fromarray((gray * 255).round().astype(np.uint8)), saturation=1.5),
                       Colorizer(weights=weights, device="cpu", size=64, saturation=1.5)(
                           Image.fromarray((gray * 255).round().astype(np.uint8))))
    for bad in (-1.0, 3.01, float("nan")):
        with pytest.raises(ValueError, match="saturation must be a number from 0"):
            Colorizer(weights=weights, device="cpu", saturation=bad)
        with pytest.raises(ValueError, match="saturation must be a number from 0"):
            plain.colorize_gray([gray], saturation=bad)


def test_cli_saturation_reaches_the_colorizer_and_is_refused_out_of_range(tmp_path, capsys):
    Image.fromarray(synthetic_rgb(64, 96, seed=5)).convert("L").save(tmp_path / "g.png")
    weights = _confident_lite_weights(tmp_path / "lite.safetensors")
    chroma = {}
    for s in ("1", "2"):
        assert main(["colorize", str(tmp_path / "g.png"), "-o", str(tmp_path / s), "--weights", str(weights),
                     "--size", "64", "--saturation", s, "--device", "cpu"]) == 0
        chroma[s] = _mean_chroma(np.asarray(Image.open(tmp_path / s / "g.png"), dtype=np.float32) / 255)
    assert chroma["2"] > 1.5 * chroma["1"]
    capsys.readouterr()
    for bad in ("3.5", "-0.1", "nan", "strong"):
        with pytest.raises(SystemExit) as exc:
            main(["colorize", str(tmp_path / "g.png"), "--weights", str(weights), "--saturation", bad])
        assert exc.value.code == 2
        assert f"argument --saturation: expected a number from 0 (gray) to 3, 1 being the predicted colour; got '{bad}'" \
            in capsys.readouterr().err


def test_cli_vividness_reaches_the_colorizer_and_is_refused_out_of_range_or_for_other_models(
        tmp_path, make_weights, capsys):
    Image.fromarray(synthetic_rgb(64, 96, seed=5)).convert("L").save(tmp_path / "g.png")
    weights = _confident_lite_weights(tmp_path / "lite.safetensors")
    chroma = {}
    for v in ("0", "1"):
        assert main(["colorize", str(tmp_path / "g.png"), "-o", str(tmp_path / v), "--weights", str(weights),
                     "--size", "64", "--vividness", v, "--device", "cpu"]) == 0
        rgb = np.asarray(Image.open(tmp_path / v / "g.png"), dtype=np.float32) / 255
        chroma[v] = color.rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None])[:, 1:].norm(dim=1).mean().item()
    assert chroma["1"] > chroma["0"] + 1.0
    capsys.readouterr()
    assert main(["colorize", str(tmp_path / "g.png"), "-o", str(tmp_path / "jk"), "--weights",
                 str(make_weights("jkspnet-lab")), "--vividness", "0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("colorizekit colorize: error: vividness applies to models with a bins head") and "\n" not in err
    for bad in ("1.5", "-0.1", "nan", "vivid"):
        with pytest.raises(SystemExit) as exc:
            main(["colorize", str(tmp_path / "g.png"), "--weights", str(weights), "--vividness", bad])
        assert exc.value.code == 2
        assert f"argument --vividness: expected a number from 0 (muted) to 1 (vivid), got '{bad}'" in capsys.readouterr().err
