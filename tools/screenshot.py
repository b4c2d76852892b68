"""Retake docs/screenshot.png: `colorizekit serve` with the shipped weights, one built-in photo uploaded
in headless Chromium, the before/after slider set halfway.

    python tools/screenshot.py [--photo src/colorizekit/evaluate/demo_images/chelsea.jpg] [-o docs/screenshot.png]

Needs the serve extras, selenium, and Debian's `chromium` and `chromium-driver`.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"colorizekit serve did not start at {url}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--photo", type=Path, default=ROOT / "src/colorizekit/evaluate/demo_images/chelsea.jpg")
    p.add_argument("-o", "--out", type=Path, default=ROOT / "docs/screenshot.png")
    args = p.parse_args(argv)

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not fetch drivers
    with tempfile.TemporaryDirectory() as tmp:
        gray = Path(tmp) / args.photo.with_suffix(".png").name
        Image.open(args.photo).convert("L").save(gray)  # what the page is for: a grayscale photo
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "colorizekit", "serve", "--port", str(port),
                                   "--device", "cpu", "--log-level", "warning"])
        try:
            _wait_for(url, server)
            options = webdriver.ChromeOptions()
            options.binary_location = "/usr/bin/chromium"
            for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--no-first-run", "--disable-dev-shm-usage", "--window-size=1280,1100",
                         f"--user-data-dir={tmp}/profile"):
                options.add_argument(flag)
            driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
            try:
                driver.get(url)
                wait = WebDriverWait(driver, 120, poll_frequency=0.2)
                wait.until(lambda d: d.find_element(By.ID, "model").is_enabled())
                driver.find_element(By.ID, "file").send_keys(str(gray))
                wait.until(lambda d: d.execute_script(
                    "const i = document.getElementById('result-img');"
                    "return !document.getElementById('result').hidden && i.complete && i.naturalWidth > 0;"))
                slider = driver.find_element(By.ID, "slider")
                slider.send_keys(Keys.HOME)
                for _ in range(50):
                    slider.send_keys(Keys.ARROW_RIGHT)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                if not driver.save_screenshot(str(args.out)):
                    raise SystemExit(f"{args.out}: the screenshot could not be saved")
            finally:
                driver.quit()
        finally:
            server.terminate()
            server.wait(10)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
