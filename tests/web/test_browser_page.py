"""The browser page of `colorizekit build-page`, built with the shipped lite-unet-bins weights and driven in
Debian's headless Chromium through Selenium, served by `colorizekit.web.page.serve` (cross-origin isolated,
so WASM runs threads) and cut off from the network once loaded.

Checks what a person would, and that the page computes what Python computes: the result at the input's
full size, its colours against `Colorizer` (same weights, fp32, same working size and settings; mean
|delta ab| at most 1.5 with fp32 weights, 3.0 with int8), EXIF orientation, the vividness slider
re-decoding, a file that is not an image (the page's message, and the page goes on working), a photo
over the pixel limit, a batch with progress and cancel, the keyboard, a phone-sized screen, and that no
request went to any origin but the local server. Skipped only where Chromium or selenium is missing.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorizekit import color
from tests.web.chromium import missing_browser, start_chromium

DEMO = Path(__file__).resolve().parents[2] / "src" / "colorizekit" / "evaluate" / "demo_images"
PHOTO = DEMO / "chelsea.jpg"  # a real photo (public domain, scikit-image's sample data)
MAX_DAB = {"none": 1.5, "int8": 3.0}  # mean |delta ab| against the Python pipeline
REFERENCE_VIVIDNESS, REFERENCE_SATURATION = 0.6, 1.3  # settings of the comparison with Python
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """Factory: the page built with int8 or fp32 weights ("none"), with the test photo beside it, served
    on a free loopback port; yields (folder, URL, the paths the server was asked for)."""
    reason = missing_browser()
    if reason:
        pytest.skip(reason)
    pytest.importorskip("onnxruntime", reason="building the page needs onnxruntime: pip install 'colorizekit[onnx]'")
    from colorizekit.web.page import build_page
    from colorizekit.web.page.serve import serving

    built, stack = {}, []

    def site(quantize: str = "int8") -> tuple[Path, str]:
        if quantize not in built:
            folder = tmp_path_factory.mktemp(f"site-{quantize}")
            build_page(folder, quantize=quantize)
            shutil.copyfile(PHOTO, folder / PHOTO.name)
            requested: list[str] = []
            context = serving(folder, requested=requested)
            built[quantize] = (folder, context.__enter__(), requested)
            stack.append(context)
        return built[quantize]

    yield site
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture(scope="module")
def driver(sites, tmp_path_factory):
    driver = start_chromium(tmp_path_factory.mktemp("profile"), logs=True)
    yield driver
    driver.quit()


def _wait_state(driver, timeout: float = 60.0) -> str:
    """Waits until <img id="result"> is done or failed; returns its data-state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = driver.execute_script("return document.getElementById('result').dataset.state")
        if state in ("done", "error"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"no result after {timeout} s; status: {driver.find_element('id', 'status').text!r}")


def _open(driver, url: str, query: str = "") -> None:
    driver.get(url + query)
    deadline = time.monotonic() + 60
    while not driver.find_element("id", "file").is_enabled():  # the model is loaded
        error = driver.find_element("id", "error")
        assert not error.is_displayed(), error.text
        assert time.monotonic() < deadline, "the page did not load its model"
        time.sleep(0.05)


def _result_image(driver, timeout: float = 30.0) -> Image.Image:
    """The PNG the page offers for download (the result's blob), decoded. A fetch that fails (the page may
    have just replaced and revoked the blob URL it read) is retried until `timeout`, then reported with the
    browser's reason, never left to Selenium's script timeout."""
    deadline = time.monotonic() + timeout
    while True:
        data = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const href = document.getElementById('download').href;
            fetch(href).then((r) => r.blob()).then((b) => {
              const reader = new FileReader();
              reader.onload = () => done({data: reader.result.split(',')[1]});
              reader.onerror = () => done({error: `${href}: ${reader.error}`});
              reader.readAsDataURL(b);
            }).catch((e) => done({error: `${href}: ${e}`}));""")
        if "data" in data:
            return Image.open(io.BytesIO(base64.b64decode(data["data"])))
        assert time.monotonic() < deadline, f"the page's download link cannot be read: {data['error']}"
        time.sleep(0.1)


def _ab(image: Image.Image) -> torch.Tensor:
    rgb = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)
    return color.rgb_to_lab(rgb)[1:]


def _choose(driver, *paths: Path) -> None:
    driver.find_element("id", "file").send_keys("\n".join(str(p) for p in paths))


def _check_like_python(driver, folder: Path, url: str, quantize: str) -> None:
    from colorizekit import Colorizer

    _open(driver, url, f"?image={PHOTO.name}&vividness={REFERENCE_VIVIDNESS}&saturation={REFERENCE_SATURATION}")
    assert _wait_state(driver) == "done", driver.find_element("id", "error").text
    result = _result_image(driver)
    with Image.open(PHOTO) as original:
        assert result.size == original.size  # full resolution, not the working size
    colorizer = Colorizer(model="lite-unet-bins", precision="fp32", vividness=REFERENCE_VIVIDNESS,
                          saturation=REFERENCE_SATURATION)
    with pytest.warns(UserWarning, match="colour photo"):
        reference = colorizer(folder / PHOTO.name)
    dab = (_ab(result) - _ab(reference)).abs().mean().item()
    assert dab <= MAX_DAB[quantize], f"mean |delta ab| {dab:.3f} against the Python pipeline ({quantize})"
    assert _ab(result).abs().mean().item() > 2.0  # it is coloured, not gray


@pytest.mark.parametrize("quantize", ["none", "int8"])
def test_page_colorizes_as_python_does(sites, driver, quantize):
    folder, url, _ = sites(quantize)
    _check_like_python(driver, folder, url, quantize)
    assert "on WASM, " in driver.find_element("id", "runtime").text  # no GPU: the WASM runtime


def test_page_on_webgpu(sites, tmp_path):
    """With a WebGPU adapter (here Chromium's software one), the page runs the model on WebGPU."""
    folder, url, _ = sites("none")
    driver = start_chromium(tmp_path / "profile", webgpu=True)
    try:
        _check_like_python(driver, folder, url, "none")
        assert "on WebGPU" in driver.find_element("id", "runtime").text
    finally:
        driver.quit()


def test_sliders_url_and_keyboard(sites, driver):
    from selenium.webdriver.common.keys import Keys

    _, url, _ = sites()
    _open(driver, url, f"?image={PHOTO.name}&vividness=0.2")
    assert _wait_state(driver) == "done"
    before = _ab(_result_image(driver))
    vividness = driver.find_element("id", "vividness")
    assert driver.find_element("css selector", "label[for='vividness']").text == "Vividness"
    for _ in range(12):
        vividness.send_keys(Keys.ARROW_RIGHT)  # the keyboard moves it: 0.2 -> 0.8
    assert vividness.get_attribute("value") == "0.8"
    assert driver.find_element("id", "vividness-value").text == "0.80"
    deadline = time.monotonic() + 30
    while "vividness 0.8" not in driver.find_element("id", "result-meta").text:
        assert time.monotonic() < deadline, driver.find_element("id", "result-meta").text
        time.sleep(0.05)
    assert _wait_state(driver) == "done"
    after = _ab(_result_image(driver))
    assert after.abs().mean() > before.abs().mean() + 0.5  # more vivid: stronger chroma
    assert "vividness=0.8" in driver.current_url  # a shareable link keeps the setting
    slider = driver.find_element("id", "slider")
    slider.send_keys(Keys.HOME)
    assert driver.execute_script("return document.getElementById('compare').style.getPropertyValue('--split')") == "0%"
    assert driver.find_element("id", "download").get_attribute("download") == "chelsea_color.png"


def test_bad_files_offline_batch_and_cancel(sites, driver, tmp_path):
    _, url, _ = sites()
    _open(driver, url)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions",
                           {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    try:
        notes = tmp_path / "notes.txt"
        notes.write_text("not a photo\n" * 20)
        _choose(driver, notes)
        assert _wait_state(driver) == "error"
        assert driver.find_element("id", "error").text.startswith("notes.txt: not an image this browser can read")

        huge = tmp_path / "huge.png"
        Image.new("1", (8000, 7000)).save(huge)  # 56 megapixels, over the 50 MP limit
        _choose(driver, huge)
        assert _wait_state(driver) == "error"
        assert "8000 x 7000 pixels (56.0 MP) is over this page's 50.0 MP limit" in \
            driver.find_element("id", "error").text

        turned = tmp_path / "turned.jpg"  # stored 96 x 64, EXIF orientation 6: shown 64 x 96
        exif = Image.Exif()
        exif[0x0112] = 6
        Image.open(PHOTO).convert("L").resize((96, 64)).save(turned, exif=exif)
        _choose(driver, turned, notes, PHOTO)  # a batch: the bad file is reported, the rest go on
        deadline = time.monotonic() + 60
        while "Done:" not in driver.find_element("id", "status").text:
            assert time.monotonic() < deadline, driver.find_element("id", "status").text
            time.sleep(0.05)
        assert driver.find_element("id", "status").text == "Done: 2 colorized, 1 failed."
        items = [li.text for li in driver.find_elements("css selector", "#batch-list li")]
        assert items[0].startswith("turned.jpg: done") and items[1].startswith("notes.txt: not an image")
        assert driver.find_element("id", "progress").get_attribute("value") == "3"
        assert _wait_state(driver) == "done"  # the page kept working, offline
        assert _result_image(driver).size == Image.open(PHOTO).size
        driver.find_element("css selector", "#batch-list li button").click()  # show the turned photo
        deadline = time.monotonic() + 30
        while _result_image(driver).size != (64, 96):
            assert time.monotonic() < deadline, "the EXIF-turned photo is not shown upright"
            time.sleep(0.1)

        _choose(driver, PHOTO, turned, PHOTO)
        driver.find_element("id", "cancel").click()
        deadline = time.monotonic() + 60
        while not driver.find_element("id", "status").text.startswith("Cancelled"):
            assert time.monotonic() < deadline, driver.find_element("id", "status").text
            time.sleep(0.05)
        assert "were not started" in driver.find_element("id", "status").text
        assert int(driver.find_element("id", "progress").get_attribute("value")) < 3
    finally:
        driver.execute_cdp_cmd("Network.emulateNetworkConditions",
                               {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})


def test_phone_screen_and_nothing_from_elsewhere(sites, driver):
    folder, url, requested = sites()
    driver.get_log("performance")  # what came before is another test's
    del requested[:]
    _open(driver, url, f"?image={PHOTO.name}")
    assert _wait_state(driver) == "done"
    driver.set_window_size(390, 844)
    try:
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
        assert overflow <= 0
    finally:
        driver.set_window_size(1280, 1400)
    assert "nothing is uploaded" in driver.find_element("id", "privacy").text
    assert "cross-origin isolation" not in driver.find_element("id", "runtime").text  # isolated: WASM threads
    origin = url.rstrip("/")
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    assert any(u.endswith("worker.js") for u in urls)
    # the worker's own requests are not in the page's log: they reached the local server, which sends every
    # file with the page's Content-Security-Policy (connect-src 'self'), so the worker can reach no other origin
    assert {"/model.json", "/lite-unet-bins-int8.onnx", "/vendor/onnxruntime-web/ort.wasm.min.mjs"} <= set(requested)
    elsewhere = [u for u in urls if not u.startswith((origin + "/", "blob:", "data:"))]
    assert not elsewhere, f"requests to other origins: {elsewhere}"
    assert not [e for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
    assert "default-src 'self'" in (folder / "index.html").read_text()
