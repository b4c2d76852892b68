"""End to end: the real `colorizekit serve` in a subprocess, driven by Debian's Chromium through Selenium.

Uploads a synthetic grayscale photo, waits for the result, and checks what a person would: the
result at the input's full pixel size, the before/after slider (keyboard too), the download link,
the vividness slider (only for a model with a bins head; a new vividness colorizes again), the
saturation slider (every model), a clear message for a file that is not an image, and a phone-sized
layout without sideways scrolling. Saves screenshots in tmp_path, and also at $COLORIZEKIT_SCREENSHOT
when set.

Needs `apt-get install chromium chromium-driver` and `pip install selenium`; skipped otherwise.
Random weights (plumbing only): the colours mean nothing.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import synthetic_rgb
from tests.web.chromium import missing_browser, start_chromium

PHOTO_SIZE = (484, 322)  # width, height: deliberately not multiples of the model's 8

pytestmark = pytest.mark.slow


def _need_browser() -> None:
    pytest.importorskip("uvicorn", reason="needs the serve extras: pip install 'colorizekit[serve]'")
    reason = missing_browser()
    if reason:
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(make_weights, tmp_path):
    """`colorizekit serve` on a free loopback port with random jkspnet-lab and lite-unet-bins weights;
    yields its URL."""
    _need_browser()
    port = _free_port()
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "colorizekit", "serve", "--port", str(port), "--weights", str(make_weights()),
         "--weights", str(make_weights("lite-unet-bins")), "--model", "jkspnet-lab", "--size", "64", "--device", "cpu",
         "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"server did not start:\n{(tmp_path / 'server.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium that downloads nothing and phones nowhere."""
    _need_browser()
    driver = start_chromium(tmp_path / "profile")
    try:
        yield driver
    finally:
        driver.quit()


def _screenshot(driver, tmp_path: Path, name: str, env: str | None = None) -> Path:
    path = tmp_path / name
    assert driver.save_screenshot(str(path))
    if env and os.environ.get(env):
        target = Path(os.environ[env])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return path


def test_colorize_a_photo_in_the_browser(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    width, height = PHOTO_SIZE
    photo = tmp_path / "photo.png"
    Image.fromarray(synthetic_rgb(height, width, seed=4)).convert("L").save(photo)

    browser.get(server)
    wait = WebDriverWait(browser, 20, poll_frequency=0.1)
    wait.until(lambda d: d.find_element(By.ID, "model").is_enabled())
    options = {o.get_attribute("value"): o for o in browser.find_elements(By.CSS_SELECTOR, "#model option")}
    assert options["jkspnet-lab"].get_attribute("disabled") is None
    assert options["unet-rgb"].get_attribute("disabled") is not None  # no weights: shown disabled
    assert "no weights" in options["unet-rgb"].text
    assert "--weights" in browser.find_element(By.ID, "model-help").text

    browser.find_element(By.ID, "file").send_keys(str(photo))  # choosing a file starts colorizing

    def result_ready(d):
        error = d.find_element(By.ID, "error")
        if error.is_displayed():
            raise AssertionError(f"the page shows an error: {error.text}")
        return d.execute_script(
            "const i = document.getElementById('result-img');"
            "return !document.getElementById('result').hidden && i.complete && i.naturalWidth > 0;")

    wait.until(result_ready)
    natural = browser.execute_script(
        "const i = document.getElementById('result-img'); return [i.naturalWidth, i.naturalHeight];")
    assert natural == [width, height]  # full resolution, not the model's working size
    assert "Done" in browser.find_element(By.ID, "status").text

    slider = browser.find_element(By.ID, "slider")
    assert slider.get_attribute("type") == "range"
    assert browser.find_element(By.CSS_SELECTOR, "label[for='slider']").text.strip()
    slider.send_keys(Keys.END)  # keyboard-operable
    assert slider.get_attribute("value") == "100"
    for _ in range(3):
        slider.send_keys(Keys.ARROW_LEFT)
    assert slider.get_attribute("value") == "97"
    split = browser.execute_script(
        "return document.getElementById('compare').style.getPropertyValue('--split');")
    assert split.strip() == "97%"
    slider.send_keys(Keys.HOME)
    for _ in range(35):
        slider.send_keys(Keys.ARROW_RIGHT)

    download = browser.find_element(By.ID, "download")
    assert download.get_attribute("download") == "photo_color.png"
    assert download.get_attribute("href").startswith("blob:")
    assert download.is_displayed()
    _screenshot(browser, tmp_path, "result.png", "COLORIZEKIT_SCREENSHOT")

    # Drag and drop: a photo dropped on the drop zone is colorized.
    dropped = base64.b64encode(photo.read_bytes()).decode()
    browser.execute_script("""
        const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'dropped.png', {type: 'image/png'}));
        document.getElementById('dropzone').dispatchEvent(
          new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));""", dropped)
    wait.until(lambda d: "dropped.png colorized" in d.find_element(By.ID, "status").text)
    assert browser.find_element(By.ID, "download").get_attribute("download") == "dropped_color.png"

    # Vividness: a slider only for a model with a bins head, at the weights' default; a new value
    # (from the keyboard too) colorizes the photo again.
    field = browser.find_element(By.ID, "vividness-field")
    assert not field.is_displayed()  # jkspnet-lab has no vividness control
    Select(browser.find_element(By.ID, "model")).select_by_value("lite-unet-bins")
    assert field.is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, "label[for='vividness']").text.strip() == "Vividness"
    assert [e.text for e in field.find_elements(By.CLASS_NAME, "range-end")] == ["muted", "vivid"]
    vividness = browser.find_element(By.ID, "vividness")
    assert vividness.get_attribute("value") == "0.5"
    vividness.send_keys(Keys.ARROW_RIGHT)
    assert vividness.get_attribute("value") == "0.55"
    assert browser.find_element(By.ID, "vividness-value").text == "0.55"
    wait.until(lambda d: "vividness 0.55" in d.find_element(By.ID, "result-meta").text)
    assert "model lite-unet-bins" in browser.find_element(By.ID, "result-meta").text
    Select(browser.find_element(By.ID, "model")).select_by_value("jkspnet-lab")
    assert not field.is_displayed()

    # Saturation: a slider for every model, at the weights' default (1 here); a new value colorizes again.
    saturation = browser.find_element(By.ID, "saturation")
    assert browser.find_element(By.ID, "saturation-field").is_displayed()
    assert saturation.get_attribute("value") == "1"
    saturation.send_keys(Keys.ARROW_RIGHT)
    assert browser.find_element(By.ID, "saturation-value").text == "1.05"
    wait.until(lambda d: "saturation 1.05" in d.find_element(By.ID, "result-meta").text)

    # A file that is not an image: the server's one-line reason on the page, and the page still works.
    text = tmp_path / "notes.txt"
    text.write_text("not a photo\n" * 10)
    browser.find_element(By.ID, "file").send_keys(str(text))
    wait.until(lambda d: d.find_element(By.ID, "error").is_displayed())
    assert browser.find_element(By.ID, "error").text.startswith("notes.txt: not an image")

    # A file over the server's upload limit (25 MB by default): refused with the limit named.
    huge = tmp_path / "huge.png"
    with open(huge, "wb") as f:
        f.truncate(26_000_000)
    browser.find_element(By.ID, "file").send_keys(str(huge))
    wait.until(lambda d: "huge.png" in d.find_element(By.ID, "error").text)
    assert "over the 25 MB upload limit" in browser.find_element(By.ID, "error").text
    assert not browser.find_element(By.ID, "result").is_displayed()

    # Phone-sized: nothing wider than the screen.
    browser.set_window_size(390, 844)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
    assert overflow <= 0
    _screenshot(browser, tmp_path, "phone.png")


def test_docs_page_renders_from_this_server_alone(server, tmp_path):
    """Swagger UI at /docs draws the API from the server's own files: every request the page makes goes to
    the server, and the upload endpoint is listed (the page would be blank if an asset were missing)."""
    import json

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = start_chromium(tmp_path / "profile-docs", logs=True)
    try:
        driver.get_log("performance")  # the browser's own start-up pages (chrome://new-tab-page...)
        driver.get(f"{server}/docs")
        WebDriverWait(driver, 30, poll_frequency=0.2).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
        paths = {e.text.replace("\u200b", "") for e in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
        assert "/api/colorize" in paths
        urls = [json.loads(e["message"])["message"]["params"]["request"]["url"]
                for e in driver.get_log("performance")
                if json.loads(e["message"])["message"]["method"] == "Network.requestWillBeSent"]
        assert f"{server}/docs/assets/swagger-ui-bundle.js" in urls and f"{server}/openapi.json" in urls
        elsewhere = [u for u in urls if not u.startswith((server + "/", "data:", "blob:", "chrome:"))]
        assert not elsewhere, f"requests to other origins: {elsewhere}"
        assert not [e for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
    finally:
        driver.quit()
