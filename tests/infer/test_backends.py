"""Backends: onnxruntime gives torch's colours on real photos, shares reading, joining and writing with
the torch path, exports shipped weights on first use, and names the file of a bad `.onnx` on one line."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from colorizekit import color
from colorizekit.cli import main
from colorizekit.imageio import load_image
from colorizekit.infer.backends import OnnxBackend, TorchBackend, check_backend
from colorizekit.infer.colorizer import Colorizer
from colorizekit.infer.files import colorize_files
from colorizekit.models import get_model_info, list_models
from colorizekit.weights import DEFAULT_MODEL, WeightsError, card_defaults, weights_by_model, weights_model_name
from tests.conftest import synthetic_rgb

BINS_MODEL = next(m for m in list_models() if get_model_info(m).mode.supports_vividness)
PARITY_PHOTOS = ("kodim01.png", "kodim04.png")  # a landscape and a portrait photo of kodak24
PARITY_SIZE = 128  # working size of the parity test (small: it runs every model on two backends)


def _ab(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) sRGB in [0, 1] -> ab (2, H, W) float64."""
    return color.rgb_to_lab(torch.from_numpy(rgb.astype(np.float64)).permute(2, 0, 1))[1:]


def _weights_kinds():
    from colorizekit.weights import default_weights_path

    for model in list_models():
        yield pytest.param(model, "random", id=f"{model}-random")
        shipped = default_weights_path(model) is not None
        yield pytest.param(model, "shipped", id=f"{model}-shipped", marks=pytest.mark.skipif(
            not shipped, reason=f"no weights ship for {model} yet"))


@pytest.mark.parametrize("model,kind", _weights_kinds())
def test_onnx_matches_torch_fp32_on_kodak24(shared_data, exported, model, kind, tmp_path, monkeypatch):
    monkeypatch.setenv("COLORIZEKIT_CACHE", str(tmp_path))  # shipped weights are exported on first use
    kodak = shared_data / "eval" / "kodak24"
    if not kodak.is_dir():
        pytest.skip(f"{kodak} not present")
    weights = exported(model)[0] if kind == "random" else None
    grays = [load_image(kodak / name).gray for name in PARITY_PHOTOS]
    reference = Colorizer(model, weights, device="cpu", size=PARITY_SIZE, precision="fp32")
    onnx = Colorizer(model, weights, size=PARITY_SIZE, backend="onnx")
    for gray, want, got in zip(grays, reference.colorize_gray(grays), onnx.colorize_gray(grays)):
        assert got.shape == want.shape == (*gray.shape, 3)
        delta = (_ab(got) - _ab(want)).norm(dim=0).mean().item()  # mean |delta ab|, Lab units
        chroma = _ab(want).norm(dim=0).mean().item()
        assert delta < 0.5  # the bound
        assert delta < 0.01 * chroma  # and far below the colours themselves, however faint random weights make them


def test_onnx_session_uses_torchs_threads_and_does_not_spin(exported):
    backend = Colorizer(weights=exported(BINS_MODEL)[1], backend="onnx").backend
    options = backend.session.get_session_options()
    assert options.intra_op_num_threads == torch.get_num_threads()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_vividness_per_call_reaches_the_graph(exported):
    weights, onnx_file = exported(BINS_MODEL)
    gray = load_image(synthetic_rgb(64, 96)).gray
    reference = Colorizer(weights=weights, device="cpu", size=64, precision="fp32")
    onnx = Colorizer(weights=onnx_file, size=64, backend="onnx")
    assert onnx.vividness == reference.vividness == 0.5
    outputs = {}
    for vividness in (0.0, 1.0):
        want = reference.colorize_gray([gray], vividness)[0]
        outputs[vividness] = onnx.colorize_gray([gray], vividness)[0]
        assert np.abs(outputs[vividness] - want).max() < 1e-3
    assert _ab(outputs[1.0]).norm(dim=0).mean() > _ab(outputs[0.0]).norm(dim=0).mean() + 0.5
    with pytest.raises(ValueError, match="vividness"):
        Colorizer(weights=exported("unet-rgb")[1], backend="onnx", vividness=0.5)


def test_a_weights_file_is_exported_on_first_use_into_the_cache(tmp_path, exported, monkeypatch):
    from colorizekit.onnx import export

    monkeypatch.setenv("COLORIZEKIT_CACHE", str(tmp_path / "cache"))
    weights = exported(BINS_MODEL)[0]
    colorizer = Colorizer(weights=weights, backend="onnx", size=32)
    assert isinstance(colorizer.backend, OnnxBackend) and colorizer.weights_path == weights
    assert colorizer.backend.onnx_path.parent == tmp_path / "cache" / "onnx"
    monkeypatch.setattr(export, "write_onnx", lambda *a, **k: pytest.fail("exported twice"))
    assert Colorizer(weights=weights, backend="onnx", size=32).backend.onnx_path == colorizer.backend.onnx_path
    assert "backend='onnx'" in repr(colorizer) and colorizer.model is None


def test_without_weights_the_default_models_shipped_weights_are_used(tmp_path, make_weights, monkeypatch):
    from colorizekit.weights import resolve

    monkeypatch.setenv("COLORIZEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(resolve, "WEIGHTS_DIR", tmp_path / "none")
    with pytest.raises(WeightsError, match=f"no trained weights ship with colorizekit for model '{DEFAULT_MODEL}'"):
        Colorizer(backend="onnx")
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    make_weights(DEFAULT_MODEL).rename(shipped / f"{DEFAULT_MODEL}.safetensors")
    monkeypatch.setattr(resolve, "WEIGHTS_DIR", shipped)
    colorizer = Colorizer(backend="onnx", size=32)
    assert colorizer.model_name == DEFAULT_MODEL and colorizer.weights_path == shipped / f"{DEFAULT_MODEL}.safetensors"


def test_files_share_the_torch_path_exif_icc_and_16_bit(tmp_path, exported):
    from PIL import ImageCms

    colorizer = Colorizer(weights=exported(BINS_MODEL)[1], backend="onnx", size=32)
    exif = Image.Exif()
    exif[0x013B] = "A. Photographer"  # Artist
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(synthetic_rgb(40, 60)).convert("L").save(tmp_path / "p.jpg", exif=exif.tobytes(), icc_profile=icc)
    ramp = np.linspace(0, 65535, 40 * 60).reshape(40, 60).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")  # mode I;16
    report = colorize_files(colorizer, [tmp_path / "p.jpg", tmp_path / "deep.png"], tmp_path / "out")
    assert not report.failed and len(report.done) == 2
    jpeg = Image.open(tmp_path / "out" / "p.jpg")
    assert jpeg.size == (60, 40) and jpeg.getexif().get(0x013B) == "A. Photographer"
    assert jpeg.info.get("icc_profile") == icc
    deep = load_image(tmp_path / "out" / "deep.png")
    assert deep.bit_depth == 16 and deep.rgb.shape == (40, 60, 3)


def test_cli_colorize_with_the_onnx_backend(tmp_path, exported, capsys):
    Image.fromarray(synthetic_rgb(40, 60)).convert("L").save(tmp_path / "a.png")
    rc = main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--backend", "onnx",
               "--weights", str(exported(BINS_MODEL)[1]), "--size", "32", "--vividness", "1"])
    assert rc == 0 and "1 done" in capsys.readouterr().out
    out = np.asarray(Image.open(tmp_path / "out" / "a.png"), dtype=np.float64) / 255
    assert out.shape == (40, 60, 3) and _ab(out).norm(dim=0).mean() > 1.0  # it has colour


def _damaged_files(tmp_path, exported):
    import onnx
    from onnx import TensorProto, helper

    real = exported("jkspnet-lab")[1].read_bytes()
    foreign = helper.make_model(helper.make_graph(
        [helper.make_node("Identity", ["input"], ["ab"])], "foreign",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("ab", TensorProto.FLOAT, [1, 1, 8, 8])]))
    lying = onnx.load_from_string(real)
    onnx.helper.set_model_props(lying, {**{p.key: p.value for p in lying.metadata_props}, "size_multiple": "3"})
    files = {"empty": b"", "not onnx": b"this is not a model at all", "truncated": real[: len(real) // 2],
             "foreign": foreign.SerializeToString(), "lying metadata": lying.SerializeToString()}
    for name, data in files.items():
        (tmp_path / f"{name.replace(' ', '_')}.onnx").write_bytes(data)
    return {name: tmp_path / f"{name.replace(' ', '_')}.onnx" for name in files} | {"missing": tmp_path / "nope.onnx"}


@pytest.mark.parametrize("kind,problem", [
    ("empty", "empty file"), ("missing", "no such weights file"), ("not onnx", "not a readable ONNX model"),
    ("truncated", "not a readable ONNX model"), ("foreign", "without colorizekit metadata"),
    ("lying metadata", "does not match colorizekit's model"),
])
def test_bad_onnx_file_is_one_line_naming_it(tmp_path, exported, capsys, kind, problem):
    path = _damaged_files(tmp_path, exported)[kind]
    with pytest.raises(WeightsError) as info:
        Colorizer(weights=path, backend="onnx")
    message = str(info.value)
    assert message.startswith(f"{path}: ") and problem in message and "\n" not in message
    Image.fromarray(synthetic_rgb(40, 60)).convert("L").save(tmp_path / "a.png")
    rc = main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--backend", "onnx",
               "--weights", str(path)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and str(path) in err and problem in err


def test_onnx_file_for_another_model_or_for_the_torch_backend_is_refused(exported):
    onnx_file = exported("jkspnet-lab")[1]
    with pytest.raises(WeightsError, match="an ONNX export of model 'jkspnet-lab', not 'unet-rgb'"):
        Colorizer(model="unet-rgb", weights=onnx_file, backend="onnx")
    with pytest.raises(WeightsError, match="only the onnx backend runs"):
        Colorizer(weights=onnx_file)


def test_onnx_backend_refuses_a_gpu_bf16_and_unknown_backends(exported):
    onnx_file = exported("jkspnet-lab")[1]
    with pytest.raises(ValueError, match="runs on the CPU"):
        Colorizer(weights=onnx_file, backend="onnx", device="cuda")
    with pytest.raises(ValueError, match="runs in fp32"):
        Colorizer(weights=onnx_file, backend="onnx", precision="bf16")
    with pytest.raises(ValueError, match="backend must be one of torch, onnx; got 'tensorflow'"):
        check_backend("tensorflow")
    assert isinstance(Colorizer(weights=exported("jkspnet-lab")[0], device="cpu").backend, TorchBackend)


def test_checkpoint_reads_the_model_and_default_vividness_of_an_onnx_file(exported):
    onnx_file = exported(BINS_MODEL)[1]
    assert weights_model_name(onnx_file) == BINS_MODEL
    assert card_defaults(onnx_file).vividness == 0.5
    assert weights_by_model([onnx_file, exported("unet-rgb")[1]]) == {BINS_MODEL: onnx_file,
                                                                     "unet-rgb": exported("unet-rgb")[1]}


def test_serve_with_the_onnx_backend(exported):
    from fastapi.testclient import TestClient

    from colorizekit.web import ServeSettings, create_app

    settings = ServeSettings(model=BINS_MODEL, weights=(exported(BINS_MODEL)[1],), size=32, backend="onnx")
    with TestClient(create_app(settings)) as client:
        buf = io.BytesIO()
        Image.fromarray(synthetic_rgb(40, 60)).convert("L").save(buf, format="PNG")
        response = client.post("/api/colorize", files={"file": ("a.png", buf.getvalue(), "image/png")})
    assert response.status_code == 200, response.text
    assert Image.open(io.BytesIO(response.content)).size == (60, 40)
    with pytest.raises(ValueError, match="runs on the CPU"):
        ServeSettings(backend="onnx", device="cuda")
    with pytest.raises(ValueError, match="backend must be one of"):
        ServeSettings(backend="tensorflow")

