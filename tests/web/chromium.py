"""Headless Debian Chromium driven by Selenium, for the browser tests and benchmarks/browser_page.py:
where Chromium and its driver are, why a test is skipped without them, and a driver that downloads
nothing and phones nowhere (with the browser's console and network log kept when asked)."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
_FLAGS = ("--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
          "--no-first-run", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage", "--window-size=1280,1400")
_NO_GPU = ("--disable-gpu",)
# WebGPU without a GPU: Chromium's software Vulkan (SwiftShader) gives the page a WebGPU adapter
_SOFTWARE_WEBGPU = ("--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-vulkan=swiftshader",
                    "--use-webgpu-adapter=swiftshader", "--use-angle=swiftshader")


def missing_browser() -> str | None:
    """Why Chromium cannot be driven here (what is missing and how to install it), or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "needs selenium: pip install 'colorizekit[test]'"
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        return (f"needs Debian's Chromium and its driver ({', '.join(missing)} missing): "
                "apt-get install chromium chromium-driver")
    return None


def start_chromium(profile: Path, logs: bool = False, webgpu: bool = False):
    """A headless Chromium WebDriver with its profile in `profile`; with `logs`, its console
    ("browser") and network ("performance") logs are kept for `driver.get_log`; with `webgpu`, pages get
    a software WebGPU adapter (SwiftShader), else no GPU at all."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not fetch drivers
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*_FLAGS, *(_SOFTWARE_WEBGPU if webgpu else _NO_GPU), f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if logs:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    return driver
