"""`colorizekit build-page` and its parts: model.json's constants come from the Python modules that own them,
the page's ONNX model gives the network's raw output (fp32 exactly, int8 closely and some 4 times smaller),
the folder has what the page loads and nothing from elsewhere, bad options are refused, and `serve`
offers the page at /browser/ with the headers WASM threads need."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from colorizekit import color
from colorizekit.cli.main import main
from colorizekit.color import bins
from colorizekit.web.page.build import CSP, PAGE_FILES, folder_bytes
from colorizekit.weights import build_model, load_weights

pytest.importorskip("onnxruntime", reason="the page's model needs onnx and onnxruntime: pip install 'colorizekit[onnx]'")


@pytest.fixture(scope="module")
def lite_weights(tmp_path_factory):
    from colorizekit.models import create_model
    from colorizekit.weights import export_weights

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "lite.safetensors"
    export_weights(path, "lite-unet-bins", create_model("lite-unet-bins").state_dict(), card={"test": True})
    return path


@pytest.fixture(scope="module")
def page(lite_weights, tmp_path_factory):
    """The page built by the CLI with fp32 weights."""
    folder = tmp_path_factory.mktemp("page") / "site"
    assert main(["build-page", "-o", str(folder), "--weights", str(lite_weights), "--quantize", "none"]) == 0
    return folder


def test_folder_and_constants(page):
    for name in (*PAGE_FILES, "index.html", "app.css", "model.json", "lite-unet-bins-fp32.onnx"):
        assert (page / name).is_file(), name
    vendor = json.loads((page / "vendor" / "onnxruntime-web" / "VERSION.json").read_text())
    for files in vendor["runtimes"].values():
        for name in files.values():
            assert (page / "vendor" / "onnxruntime-web" / name).is_file(), name
    assert folder_bytes(page) <= 30e6  # fp32 target
    constants = json.loads((page / "model.json").read_text())
    assert constants["bins"]["centres"] == bins.ab_bins().tolist()
    assert constants["bins"]["chroma_tilt"] == bins.CHROMA_TILT
    assert constants["bins"]["max_chroma_gain"] == bins.MAX_CHROMA_GAIN
    assert constants["lab"]["white"] == list(color.D65_WHITE)
    assert constants["srgb"]["gamma"] == color.SRGB_GAMMA and constants["ab_norm"] == color.AB_NORM
    assert constants["input"] == {"input_from": "L", "center": color.L_CENTER, "scale": color.L_NORM}
    assert constants["model"]["output_stride"] == 4 and constants["model"]["vividness_control"]
    assert constants["runtime"]["version"] == vendor["version"]
    index = (page / "index.html").read_text()
    assert CSP in index and "{{" not in index
    for name in (*PAGE_FILES, "index.html"):  # the page's own files name no other site
        assert "http://" not in (page / name).read_text() and "https://" not in (page / name).read_text(), name


def test_page_model_gives_the_raw_output(page, lite_weights, tmp_path):
    import onnxruntime as ort

    from colorizekit.web.page.model import write_page_model

    x = torch.from_numpy(np.random.default_rng(1).uniform(-0.5, 0.5, (1, 1, 64, 96)).astype(np.float32))
    with torch.no_grad():
        expected = build_model(load_weights(lite_weights), "cpu")(x).numpy()  # (1, Q, 16, 24) logits

    def run(path):
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]

    fp32 = run(page / "lite-unet-bins-fp32.onnx")
    assert fp32.shape == expected.shape == (1, bins.num_bins(), 16, 24)
    assert np.abs(fp32 - expected).max() < 1e-3
    int8 = write_page_model(tmp_path / "int8.onnx", load_weights(lite_weights), "int8")
    assert int8.stat().st_size * 3 < (page / "lite-unet-bins-fp32.onnx").stat().st_size
    ab, ab8 = (bins.decode_bins(torch.from_numpy(o), 0.5) for o in (expected, run(int8)))
    assert (ab - ab8).abs().mean() < 1.5


def test_bad_options(tmp_path, lite_weights, capsys):
    from colorizekit.web.page import build_page

    with pytest.raises(ValueError, match="quantize must be one of int8, none; got 'int4'"):
        build_page(tmp_path / "x", weights=lite_weights, quantize="int4")
    (tmp_path / "file").write_text("")
    assert main(["build-page", "-o", str(tmp_path / "file"), "--weights", str(lite_weights)]) == 2
    assert "is a file; build-page writes a folder" in capsys.readouterr().err


def test_serve_offers_the_page(lite_weights, tmp_path, monkeypatch):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from colorizekit.web import ServeSettings, create_app
    from colorizekit.web.page.cache import page_cache_dir

    monkeypatch.setenv("COLORIZEKIT_CACHE", str(tmp_path / "cache"))
    app = create_app(ServeSettings(model="lite-unet-bins", weights=(lite_weights,), preload=False))
    with TestClient(app) as client:
        assert client.get("/browser", follow_redirects=False).headers["location"] == "/browser/"
        index = client.get("/browser/")
        assert index.status_code == 200 and "colorizekit" in index.text
        assert index.headers["cross-origin-opener-policy"] == "same-origin"
        assert index.headers["cross-origin-embedder-policy"] == "require-corp"
        assert "'wasm-unsafe-eval'" in index.headers["content-security-policy"]
        assert client.get("/browser/model.json").json()["model"]["file"] == "lite-unet-bins-int8.onnx"
        assert client.get("/browser/worker.js").headers["content-type"].startswith("text/javascript")
        assert client.get("/browser/%2e%2e/%2e%2e/etc/passwd").status_code == 404
        assert "'wasm-unsafe-eval'" not in client.get("/").headers["content-security-policy"]
    assert len(list(page_cache_dir().iterdir())) == 1  # built once, into the cache
