"""`colorizekit serve`'s HTTP API with FastAPI's TestClient: every endpoint, bad uploads, limits, the queue.

Most tests inject a fake colorizer (fast, controllable); one runs the real Colorizer on random weights
(plumbing only: its colours mean nothing).
"""

from __future__ import annotations

import io
import re
import struct
import tempfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="needs the serve extras: pip install 'colorizekit[serve]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

from fastapi.testclient import TestClient  # noqa: E402

from colorizekit.models import list_models  # noqa: E402
from colorizekit.web import ServeSettings, create_app  # noqa: E402
from colorizekit.web.app import STATIC_DIR, content_disposition  # noqa: E402
from colorizekit.web.service import output_filename  # noqa: E402
from colorizekit.weights import DEFAULT_MODEL, WeightsError
from tests.conftest import synthetic_rgb  # noqa: E402


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> Path:
    """Random-init jkspnet-lab weights, as conftest's `make_weights` writes them, once per module."""
    import torch

    from colorizekit.models import create_model
    from colorizekit.weights import export_weights

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "jkspnet-lab-random.safetensors"
    export_weights(path, "jkspnet-lab", create_model("jkspnet-lab").state_dict(), card={"test": True})
    return path


@pytest.fixture(scope="module")
def bins_weights_file(tmp_path_factory) -> Path:
    """Random-init lite-unet-bins weights whose card gives a measured default vividness of 0.7."""
    import torch

    from colorizekit.models import create_model
    from colorizekit.weights import export_weights

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "lite-unet-bins-random.safetensors"
    export_weights(path, "lite-unet-bins", create_model("lite-unet-bins").state_dict(),
                   card={"test": True, "default_vividness": 0.7})
    return path


class FakeColorizer:
    """Tints the gray; can hold every batch at a gate to keep the worker busy. Takes keyword options
    (the vividness) only as the service passes them: none when a request chose none."""

    def __init__(self, log: list, options: list, gate: threading.Event | None,
                 started: threading.Event | None) -> None:
        self.log, self.options, self.gate, self.started = log, options, gate, started

    def colorize_loaded(self, images, **options):
        self.log.append(len(images))
        self.options.append(options)
        if self.started is not None:
            self.started.set()
        if self.gate is not None and not self.gate.wait(30):
            raise RuntimeError("test gate never opened")
        return [np.stack([im.gray, im.gray * 0.8, im.gray * 0.5], axis=-1).astype(np.float32) for im in images]


class FakeFactory:
    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.started = threading.Event()
        self.batches: list[int] = []  # size of each batch colorized
        self.options: list[dict] = []  # keyword options of each call, e.g. {"vividness": 0.3}
        self.built: list[tuple[str, int]] = []  # (model, size) of each colorizer built

    def __call__(self, model, weights, size):
        self.built.append((model, size))
        return FakeColorizer(self.batches, self.options, self.gate, self.started)


@pytest.fixture(autouse=True)
def no_shipped_weights(monkeypatch, tmp_path_factory):
    """The tests decide which weights exist: the package's shipped weights are hidden."""
    from colorizekit.weights import resolve

    monkeypatch.setattr(resolve, "WEIGHTS_DIR", tmp_path_factory.mktemp("no-shipped-weights"))


def _client(weights_file: Path | tuple[Path, ...], factory=None, **overrides) -> TestClient:
    files = weights_file if isinstance(weights_file, tuple) else (weights_file,)
    overrides.setdefault("model", "jkspnet-lab")  # the model of `weights_file`, served as the default
    settings = ServeSettings(weights=files, **overrides)
    return TestClient(create_app(settings, colorizer_factory=factory or FakeFactory()))


@pytest.fixture
def client(weights_file):
    with _client(weights_file) as c:
        yield c


def _encode(array: np.ndarray, fmt: str, **save) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **save)
    return buf.getvalue()


def _gray(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    return np.asarray(Image.fromarray(synthetic_rgb(h, w, seed)).convert("L"))


def _post(client: TestClient, data: bytes, name: str = "photo.png", **fields):
    return client.post("/api/colorize", files={"file": (name, data, "application/octet-stream")},
                       data={k: str(v) for k, v in fields.items()})


def _assert_still_serving(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def _assert_one_line_error(r, status: int | tuple[int, ...], *needles: str) -> str:
    assert r.status_code in (status if isinstance(status, tuple) else (status,)), (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json")
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and detail
    for needle in needles:
        assert needle in detail, detail
    return detail


def _bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A real 1-bit all-black PNG of width x height: tens of KB on disk, 400 megapixels decoded."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# -- endpoints ----------------------------------------------------------------------------------------

def test_healthz(client):
    assert client.head("/healthz").status_code == 200 and client.head("/").status_code == 200
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["queued"] == 0 and body["queue_size"] == 16


def test_models_lists_every_model_with_weights_and_default(client):
    r = client.get("/api/models")
    assert r.status_code == 200
    body = r.json()
    models = {m["name"]: m for m in body["models"]}
    assert set(models) == set(list_models()) and {"jkspnet-lab", "unet-rgb"} <= set(models)
    assert body["default"] == "jkspnet-lab" and models["jkspnet-lab"]["default"]
    assert models["jkspnet-lab"] | {"description": None} == {
        "name": "jkspnet-lab", "color_mode": "lab", "description": None, "weights": True,
        "weights_source": "file", "reason": None, "vividness_control": False, "default_vividness": None,
        "default_saturation": 1.0, "default_size": 256, "default": True}
    assert models["jkspnet-lab"]["description"]
    assert models["unet-rgb"]["color_mode"] == "rgb"
    assert models["unet-rgb"]["weights"] is False and "--weights" in models["unet-rgb"]["reason"]
    assert body["max_upload_bytes"] == 25_000_000 and body["max_pixels"] == 40_000_000


def test_page_and_static_files_are_served_from_the_server_only(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<meta name="viewport"' in html and 'aria-live="polite"' in html
    assert re.search(r'<label for="slider">', html) and 'type="range"' in html
    vividness = re.search(r'<div id="vividness-field" class="field" hidden>.*?</div>\s*</div>', html, re.S).group(0)
    assert '<label for="vividness">Vividness</label>' in vividness and ">muted<" in vividness and ">vivid<" in vividness
    assert re.search(r'<input id="vividness" [^>]*type="range" min="0" max="1" step="0.05"', vividness)
    saturation = re.search(r'<div id="saturation-field" class="field">.*?</div>\s*</div>', html, re.S).group(0)
    assert '<label for="saturation">Saturation</label>' in saturation and ">gray<" in saturation
    assert re.search(r'<input id="saturation" [^>]*type="range" min="0" max="2" step="0.05"', saturation)
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name, kind in [("app.css", "text/css"), ("app.js", "javascript")]:
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
    for path in STATIC_DIR.iterdir():  # nothing fetched from elsewhere
        text = path.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), path.name
        assert "@import" not in text and "url(http" not in text, path.name


def test_openapi_documents_the_upload(client):
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/colorize"]["post"]
    fields = op["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"file", "model", "size", "vividness", "saturation"} <= set(fields)
    assert (fields["saturation"]["minimum"], fields["saturation"]["maximum"]) == (0, 3)
    assert "saturation" in op["responses"]["422"]["description"]
    assert (fields["vividness"]["minimum"], fields["vividness"]["maximum"]) == (0, 1)
    assert "bins head" in fields["vividness"]["description"] and "vividness" in op["responses"]["422"]["description"]
    assert {"200", "413", "415", "503"} <= set(op["responses"])


def test_docs_page_and_its_assets_come_from_this_server(client):
    r = client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "http" not in csp  # the browser may fetch from nowhere else
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", r.text)
    assert len(assets) >= 3, r.text  # Swagger UI's script, its stylesheet, the icon
    for url in assets:
        assert url.startswith("/docs/assets/"), url
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 0, url
    types = {client.get(url).headers["content-type"].split(";")[0] for url in assets}
    assert "text/css" in types and any("javascript" in t for t in types), types
    assert "'/openapi.json'" in r.text and "//" not in r.text.replace("://", "")  # no protocol-relative URL
    assert client.get("/redoc").status_code == 404  # ReDoc has no offline bundle: off


def test_unknown_route_is_json_404(client):
    _assert_one_line_error(client.get("/nope"), 404)


# -- colorizing ---------------------------------------------------------------------------------------

def test_png_in_png_out_same_size(client):
    r = _post(client, _encode(_gray(48, 64), "PNG"), "photo.png")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert 'filename="photo_color.png"' in r.headers["content-disposition"]
    out = Image.open(io.BytesIO(r.content))
    assert out.format == "PNG" and out.size == (64, 48) and out.mode == "RGB"


def test_jpeg_in_jpeg_out_keeps_exif_and_icc(client):
    from PIL import ImageCms

    exif = Image.Exif()
    exif[0x010F] = "colorizekit-test-camera"  # Make
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = _encode(_gray(40, 56), "JPEG", exif=exif, icc_profile=icc, quality=90)
    r = _post(client, data, "Holiday Photo.jpeg")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg"
    assert 'filename="Holiday Photo_color.jpeg"' in r.headers["content-disposition"]
    out = Image.open(io.BytesIO(r.content))
    assert out.format == "JPEG" and out.size == (56, 40)
    assert out.getexif().get(0x010F) == "colorizekit-test-camera"
    assert out.info.get("icc_profile") == icc


def test_16_bit_png_comes_back_16_bit(client):
    gray16 = (_gray(32, 40).astype(np.uint16) * 257)
    r = _post(client, _encode(gray16, "PNG"), "deep.png")
    assert r.status_code == 200, r.text
    assert r.content[24] == 16  # IHDR bit depth
    assert Image.open(io.BytesIO(r.content)).size == (40, 32)


@pytest.mark.parametrize("fmt", ["GIF", "BMP"])
def test_gif_and_bmp_come_back_as_png(client, fmt):
    r = _post(client, _encode(_gray(30, 20), fmt), f"scan.{fmt.lower()}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert 'filename="scan_color.png"' in r.headers["content-disposition"]
    assert Image.open(io.BytesIO(r.content)).size == (20, 30)


def test_model_and_size_fields_choose_the_colorizer(weights_file):
    factory = FakeFactory()
    with _client(weights_file, factory, preload=False) as c:
        assert _post(c, _encode(_gray(), "PNG"), model="jkspnet-lab", size=64).status_code == 200
        assert _post(c, _encode(_gray(), "PNG")).status_code == 200
    assert factory.built == [("jkspnet-lab", 64), ("jkspnet-lab", 256)]


def test_a_request_naming_no_size_uses_the_weights_measured_size_unless_the_server_sets_one(tmp_path):
    import torch

    from colorizekit.models import create_model
    from colorizekit.weights import export_weights

    measured = tmp_path / "measured.safetensors"
    torch.manual_seed(0)
    export_weights(measured, "jkspnet-lab", create_model("jkspnet-lab").state_dict(), card={"default_size": 192})
    for server_size, expected in ((None, 192), (96, 96)):
        factory = FakeFactory()
        with _client(measured, factory, preload=False, size=server_size) as c:
            listed = {m["name"]: m for m in c.get("/api/models").json()["models"]}
            assert listed["jkspnet-lab"]["default_size"] == expected
            assert _post(c, _encode(_gray(), "PNG")).status_code == 200
        assert factory.built == [("jkspnet-lab", expected)]


@pytest.mark.filterwarnings("ignore:.*only its luminance is used")
def test_real_colorizer_on_random_weights(weights_file):
    """The default factory: colorizekit.infer.colorizer.Colorizer, on random weights (plumbing only)."""
    with TestClient(create_app(ServeSettings(model="jkspnet-lab", weights=(weights_file,), size=32, device="cpu"))) as c:
        r = _post(c, _encode(synthetic_rgb(50, 70), "PNG"), "colour.png")
        assert r.status_code == 200, r.text
        out = np.asarray(Image.open(io.BytesIO(r.content)))
        assert out.shape == (50, 70, 3)


def test_filenames():
    assert output_filename("a/b.JPG", "JPEG") == "b_color.JPG"
    assert output_filename("scan.tif", "PNG") == "scan_color.png"
    assert output_filename("noext", "PNG") == "noext_color.png"
    header = content_disposition("café.png")
    assert header.startswith('attachment; filename="caf_.png"') and "filename*=UTF-8''caf%C3%A9.png" in header


def test_upload_is_read_into_memory_not_spooled_to_disk(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the upload went to a temporary file")

    for name in ("SpooledTemporaryFile", "NamedTemporaryFile", "TemporaryFile"):  # what form parsers spool to
        monkeypatch.setattr(tempfile, name, refuse)
    r = _post(client, _encode(_gray(300, 400, seed=3), "PNG"))
    assert r.status_code == 200, r.text


# -- bad uploads: the right 4xx, a one-line reason, and the server keeps serving ----------------------

def _truncated_jpeg() -> bytes:
    data = _encode(synthetic_rgb(120, 160), "JPEG", quality=95)
    return data[: len(data) // 2]


BAD_UPLOADS = {
    "empty": (lambda: b"", "empty.png", 400, ["empty.png", "empty"]),
    "truncated jpeg": (_truncated_jpeg, "cut.jpg", 422, ["cut.jpg"]),
    "text file": (lambda: b"hello, I am not a photo\n" * 20, "notes.txt", 415, ["notes.txt: not an image"]),
    # 422 where imageio tells a damaged image from a non-image by its signature, else 415
    "damaged png header": (lambda: b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "broken.png", (415, 422), ["broken.png: "]),
    "7000 x 7000 png": (lambda: _bomb_png(7000, 7000), "big.png", 413, ["big.png", "7000 x 7000", "49.0 megapixels"]),
    "20000 x 20000 png": (_bomb_png, "bomb.png", 413, ["bomb.png", "400.0 megapixels", "40 megapixel limit"]),
}


@pytest.mark.parametrize("case", BAD_UPLOADS)
def test_bad_upload_gets_4xx_and_server_keeps_serving(client, case):
    make, name, status, needles = BAD_UPLOADS[case]
    data = make()
    if case.startswith("20000"):
        assert len(data) < 200_000  # tiny on disk
    _assert_one_line_error(_post(client, data, name), status, *needles)
    _assert_still_serving(client)
    assert _post(client, _encode(_gray(), "PNG")).status_code == 200


def test_file_over_lowered_limit_is_413(weights_file):
    with _client(weights_file, max_upload_bytes=1_000_000) as c:
        big = np.random.default_rng(0).integers(0, 256, (1000, 1500), dtype=np.uint8)  # 1.5 MB as PNG
        data = _encode(big, "PNG")
        assert len(data) > 1_000_000
        _assert_one_line_error(_post(c, data, "big.png"), 413, "1 MB upload limit")
        _assert_still_serving(c)


def test_real_30_mb_body_is_413_under_the_default_25_mb_limit(client):
    # Refused from Content-Length, before the body is read.
    r = _post(client, b"\0" * 30_000_000, "huge.png")
    _assert_one_line_error(r, 413, "30.0 MB", "25 MB upload limit")
    _assert_still_serving(client)


def test_streamed_body_without_content_length_is_counted(weights_file):
    with _client(weights_file, max_upload_bytes=100_000) as c:
        boundary = "colorizekitboundary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.png\"\r\n"
                "Content-Type: image/png\r\n\r\n").encode()

        def body():
            yield head
            for _ in range(100):  # 1.6 MB in all, far over the limit
                yield b"\1" * 16_384
            yield f"\r\n--{boundary}--\r\n".encode()

        r = c.post("/api/colorize", content=body(),
                   headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert "content-length" not in r.request.headers
        _assert_one_line_error(r, 413, "s.png", "0.1 MB upload limit")
        _assert_still_serving(c)


@pytest.mark.parametrize("kwargs, status, needle", [
    ({"content": b"{}", "headers": {"Content-Type": "application/json"}}, 415, "multipart/form-data"),
    ({"data": {"model": "jkspnet-lab"}, "files": {"other": ("x.png", b"123")}}, 400, "no 'file' field"),
    ({"content": b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\nabc",
      "headers": {"Content-Type": "multipart/form-data; boundary=x"}}, 400, "multipart"),
    ({"content": b"--x--\r\n", "headers": {"Content-Type": "multipart/form-data"}}, 400, "boundary"),
])
def test_malformed_requests(client, kwargs, status, needle):
    _assert_one_line_error(client.post("/api/colorize", **kwargs), status, needle)
    _assert_still_serving(client)


@pytest.mark.parametrize("fields, status, needle", [
    ({"model": "nope"}, 422, "unknown model 'nope'"),
    ({"size": "big"}, 422, "size must be a whole number"),
    ({"size": "4"}, 422, "size must be between"),
    ({"size": "100000"}, 422, "size must be between"),
])
def test_bad_fields_are_422(client, fields, status, needle):
    _assert_one_line_error(_post(client, _encode(_gray(), "PNG"), **fields), status, needle)


def test_model_without_weights_is_503_with_reason(client):
    r = _post(client, _encode(_gray(), "PNG"), model="unet-rgb")
    _assert_one_line_error(r, 503, "unet-rgb", "--weights")
    assert "retry-after" not in r.headers
    _assert_still_serving(client)


def test_server_starts_without_any_weights():
    with TestClient(create_app(ServeSettings(), colorizer_factory=FakeFactory())) as c:
        models = c.get("/api/models").json()["models"]
        assert not any(m["weights"] for m in models)
        _assert_one_line_error(_post(c, _encode(_gray(), "PNG")), 503, DEFAULT_MODEL, "--weights")
        _assert_still_serving(c)


def test_bad_weights_file_is_refused_at_startup(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not weights")
    with pytest.raises(WeightsError, match="bad.safetensors"):
        create_app(ServeSettings(weights=(bad,)))


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="unknown model"):
        ServeSettings(model="nope")
    with pytest.raises(ValueError, match="queue_size"):
        ServeSettings(queue_size=0)
    for size in (0, -5, True, "256"):  # the working size: None (the weights') or a positive whole number
        with pytest.raises(ValueError, match="size must be a positive integer"):
            ServeSettings(size=size)
    with pytest.raises(ValueError, match="over max_size"):
        ServeSettings(size=2048, max_size=1024)



# -- vividness ----------------------------------------------------------------------------------------

def test_models_say_which_have_a_vividness_control_and_its_default(weights_file, bins_weights_file):
    with _client((weights_file, bins_weights_file)) as c:
        models = {m["name"]: m for m in c.get("/api/models").json()["models"]}
    assert (models["lite-unet-bins"]["vividness_control"], models["lite-unet-bins"]["default_vividness"]) == (True, 0.7)
    assert (models["jkspnet-lab"]["vividness_control"], models["jkspnet-lab"]["default_vividness"]) == (False, None)
    assert models["unet-rgb"]["default_vividness"] is None  # no weights


def test_vividness_groups_jobs_and_reaches_the_colorizer_only_when_chosen(weights_file, bins_weights_file):
    gate = threading.Event()
    factory = FakeFactory(gate)
    with _client((weights_file, bins_weights_file), factory, batch_size=8, preload=False) as c:
        data = _encode(_gray(), "PNG")
        results: list = []

        def post(**fields):
            t = threading.Thread(target=lambda: results.append(_post(c, data, "p.png", **fields)))
            t.start()
            return t

        threads = [post(model="lite-unet-bins")]  # held at the gate while the others queue
        assert factory.started.wait(10)
        threads += [post(model="lite-unet-bins", vividness=v) for v in (0.2, 0.9, 0.2)]
        threads.append(post(model="lite-unet-bins"))
        threads.append(post())  # jkspnet-lab, no vividness control
        _wait_for(lambda: c.get("/healthz").json()["queued"] == 5)
        gate.set()
        for t in threads:
            t.join(30)
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    assert sorted(r.headers.get("x-colorizekit-vividness", "-") for r in results) == ["-", "0.2", "0.2", "0.7", "0.7",
                                                                                        "0.9"]
    assert factory.built == [("lite-unet-bins", 256), ("jkspnet-lab", 256)]  # one colorizer whatever the vividness
    # the first batch, then one call per (model, size, vividness) group of the second batch
    calls = sorted(zip(factory.batches, map(str, factory.options)))
    assert calls == sorted([(1, "{}"), (2, "{'vividness': 0.2}"), (1, "{'vividness': 0.9}"), (1, "{}"), (1, "{}")])


@pytest.mark.parametrize("fields, needles", [
    ({"model": "lite-unet-bins", "vividness": "1.5"}, ["lite-unet-bins", "vividness must be a number from 0", "1.5"]),
    ({"model": "lite-unet-bins", "vividness": "-0.1"}, ["vividness must be a number from 0"]),
    ({"model": "lite-unet-bins", "vividness": "vivid"}, ["vividness must be a number from 0", "'vivid'"]),
    ({"model": "lite-unet-bins", "vividness": "nan"}, ["vividness must be a number from 0"]),
    ({"vividness": "0.5"}, ["jkspnet-lab", "vividness applies to models with a bins head"]),
])
def test_bad_vividness_is_422_with_one_line(weights_file, bins_weights_file, fields, needles):
    with _client((weights_file, bins_weights_file), preload=False) as c:
        _assert_one_line_error(_post(c, _encode(_gray(), "PNG"), **fields), 422, *needles)
        _assert_still_serving(c)


def test_real_colorizer_takes_the_vividness_per_call(bins_weights_file):
    """The default factory's Colorizer on random lite-unet-bins weights: vividness 0 and 1 decode differently."""
    with TestClient(create_app(ServeSettings(model="lite-unet-bins", weights=(bins_weights_file,), size=64,
                                             device="cpu"))) as c:
        data = _encode(_gray(64, 96), "PNG")
        muted, vivid = (_post(c, data, vividness=v) for v in (0, 1))
        assert muted.status_code == vivid.status_code == 200, (muted.text, vivid.text)
        assert muted.headers["x-colorizekit-vividness"] == "0" and vivid.headers["x-colorizekit-vividness"] == "1"
        assert not np.array_equal(np.asarray(Image.open(io.BytesIO(muted.content))),
                                  np.asarray(Image.open(io.BytesIO(vivid.content))))

# -- saturation ---------------------------------------------------------------------------------------

def test_saturation_default_is_the_cards_and_reaches_the_colorizer_only_when_chosen(weights_file, tmp_path):
    from colorizekit.models import create_model
    from colorizekit.weights import export_weights

    measured = tmp_path / "measured.safetensors"
    export_weights(measured, "lite-unet-bins", create_model("lite-unet-bins").state_dict(),
                   card={"default_saturation": 1.3})
    factory = FakeFactory()
    with _client((weights_file, measured), factory, preload=False) as c:
        models = {m["name"]: m for m in c.get("/api/models").json()["models"]}
        assert (models["lite-unet-bins"]["default_saturation"], models["jkspnet-lab"]["default_saturation"]) == (1.3, 1.0)
        data = _encode(_gray(), "PNG")
        default, chosen, jk = (_post(c, data, **f) for f in ({"model": "lite-unet-bins"},
                                                             {"model": "lite-unet-bins", "saturation": "0.5"},
                                                             {"saturation": "2"}))
    assert [r.status_code for r in (default, chosen, jk)] == [200, 200, 200]
    assert [r.headers["x-colorizekit-saturation"] for r in (default, chosen, jk)] == ["1.3", "0.5", "2"]
    assert factory.options == [{}, {"saturation": 0.5}, {"saturation": 2.0}]


@pytest.mark.parametrize("value", ["3.5", "-0.1", "nan", "strong"])
def test_bad_saturation_is_422_with_one_line(weights_file, value):
    with _client(weights_file, preload=False) as c:
        _assert_one_line_error(_post(c, _encode(_gray(), "PNG"), saturation=value), 422,
                               "saturation must be a number from 0 (gray) to 3", repr(value))
        _assert_still_serving(c)


def test_real_colorizer_takes_the_saturation_per_call(bins_weights_file):
    """The default factory's Colorizer: saturation 0 gives a gray photo, 2 a stronger one than 1."""
    with TestClient(create_app(ServeSettings(model="lite-unet-bins", weights=(bins_weights_file,), size=64,
                                             device="cpu"))) as c:
        data = _encode(_gray(64, 96), "PNG")
        spread = {}
        for s in ("0", "1", "2"):
            r = _post(c, data, saturation=s)
            assert r.status_code == 200, r.text
            rgb = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"), dtype=np.int16)
            spread[s] = float((rgb.max(axis=-1) - rgb.min(axis=-1)).mean())
    assert spread["0"] < 0.6 and spread["2"] > spread["1"] > spread["0"]


# -- the queue ----------------------------------------------------------------------------------------

def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def _post_in_thread(client, data, results, name="photo.png"):
    t = threading.Thread(target=lambda: results.append(_post(client, data, name)))
    t.start()
    return t


def test_full_queue_is_503_with_retry_after(weights_file):
    gate = threading.Event()
    factory = FakeFactory(gate)
    with _client(weights_file, factory, queue_size=1, batch_size=1, preload=False) as c:
        data = _encode(_gray(), "PNG")
        results: list = []
        threads = [_post_in_thread(c, data, results)]
        assert factory.started.wait(10)  # the worker holds request 1
        threads.append(_post_in_thread(c, data, results))
        _wait_for(lambda: c.get("/healthz").json()["queued"] == 1)  # request 2 waits in the queue
        r = _post(c, data)
        detail = _assert_one_line_error(r, 503, "busy")
        assert int(r.headers["retry-after"]) >= 1 and "try again" in detail
        _assert_still_serving(c)
        gate.set()
        for t in threads:
            t.join(30)
        assert [r.status_code for r in results] == [200, 200]


def test_waiting_requests_are_batched_and_one_bad_photo_spares_the_rest(weights_file):
    gate = threading.Event()
    factory = FakeFactory(gate)
    with _client(weights_file, factory, batch_size=4, preload=False) as c:
        good = _encode(_gray(), "PNG")
        results: list = []
        threads = [_post_in_thread(c, good, results, "first.png")]
        assert factory.started.wait(10)
        threads += [_post_in_thread(c, good, results, f"p{i}.png") for i in range(3)]
        threads.append(_post_in_thread(c, _truncated_jpeg(), results, "cut.jpg"))
        _wait_for(lambda: c.get("/healthz").json()["queued"] == 4)
        gate.set()
        for t in threads:
            t.join(30)
    assert sorted(r.status_code for r in results) == [200, 200, 200, 200, 422]
    assert factory.batches == [1, 3]  # the truncated photo never reached the model


# -- the command --------------------------------------------------------------------------------------

def test_cli_serve_builds_the_app_on_loopback(monkeypatch, weights_file):
    import uvicorn

    from colorizekit.cli import main

    calls = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    assert main(["serve", "--weights", str(weights_file), "--port", "8123", "--max-upload-mb", "2",
                 "--queue-size", "3"]) == 0
    assert calls["host"] == "127.0.0.1" and calls["port"] == 8123
    settings = calls["app"].state.settings
    assert settings.max_upload_bytes == 2_000_000 and settings.queue_size == 3
    assert settings.weights == (weights_file,)


def test_cli_serve_says_when_no_model_has_weights(monkeypatch, capsys, tmp_path):
    import uvicorn

    from colorizekit.cli import main
    from colorizekit.models import create_model
    from colorizekit.weights import export_weights

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    assert main(["serve"]) == 0
    assert "warning: no model has weights" in capsys.readouterr().err
    unet = tmp_path / "unet.safetensors"
    export_weights(unet, "unet-rgb", create_model("unet-rgb").state_dict())
    assert main(["serve", "--weights", str(unet)]) == 0
    err = capsys.readouterr().err
    assert f"the default model {DEFAULT_MODEL!r} has no weights" in err and "unet-rgb" in err
    assert main(["serve", "--weights", str(unet), "--model", "unet-rgb"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_cli_serve_reports_a_bad_weights_file(tmp_path, capsys):
    from colorizekit.cli import main

    assert main(["serve", "--weights", str(tmp_path / "missing.safetensors")]) == 2
    assert "missing.safetensors" in capsys.readouterr().err
