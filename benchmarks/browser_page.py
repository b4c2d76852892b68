"""The browser page (`colorizekit build-page`): its size, and its speed in headless Chromium on this machine.

For int8 and fp32 weights (the shipped lite-unet-bins unless `--weights`), builds the page, serves it
cross-origin isolated (`colorizekit.web.page.serve`, so WASM runs threads) and drives Debian's Chromium:
- size: the folder's total, and its parts (model, onnxruntime-web, the page's own files);
- first photo: seconds from opening `?image=photo.jpg` (a 1024 x 768 grayscale JPEG made from a
  built-in photo) to the result shown, model loading included;
- later photos: seconds per 1024 x 768 photo chosen in the page after that (median of `--photos`), from
  choosing it to the result shown, and the page's own figure (read, model, decode, PNG encode);
- mean |delta ab| against the Python pipeline (`Colorizer`, fp32, same weights and settings) over the
  built-in photos.

    python benchmarks/browser_page.py [--photos 5] [--weights FILE] [--quantize int8 none]

Needs `colorizekit[onnx]`, selenium and Debian's `chromium` and `chromium-driver`.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.web.chromium: where Chromium is and how it is started

from colorizekit import Colorizer  # noqa: E402
from colorizekit.web.page import build_page  # noqa: E402
from colorizekit.web.page.build import STATIC_DIR  # noqa: E402
from colorizekit.web.page.serve import serving  # noqa: E402
from tests.web.chromium import missing_browser, start_chromium  # noqa: E402
from tests.web.test_browser_page import DEMO, _ab, _result_image, _wait_state  # noqa: E402

SIZE = (1024, 768)
VIVIDNESS, SATURATION = 0.6, 1.3  # settings of the comparison with Python


def _photos(folder: Path) -> list[Path]:
    """The 1024 x 768 timing photo and the built-in photos (grayscale PNG) beside the page."""
    timing = folder / "photo1024.jpg"
    Image.open(DEMO / "chelsea.jpg").convert("L").resize(SIZE, Image.LANCZOS).save(timing, quality=92)
    photos = [timing]
    for source in sorted(DEMO.glob("*.jpg")):
        target = folder / f"{source.stem}.png"
        Image.open(source).convert("L").save(target)
        photos.append(target)
    return photos


def _parts(folder: Path, model_file: Path) -> str:
    vendor = sum(p.stat().st_size for p in (folder / "vendor").rglob("*") if p.is_file())
    own = sum((folder / p.name).stat().st_size for p in STATIC_DIR.iterdir()) + (folder / "app.css").stat().st_size \
        + (folder / "model.json").stat().st_size
    return (f"model {model_file.stat().st_size / 1e6:.1f} MB, onnxruntime-web {vendor / 1e6:.1f} MB, "
            f"page {own / 1e3:.0f} kB")


def measure(quantize: str, weights: str | None, photos: int, profile: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        built = build_page(tmp, weights=weights, quantize=quantize)
        folder = Path(tmp)
        timing, *demo = _photos(folder)
        print(f"\n{quantize}: folder {built.bytes / 1e6:.1f} MB ({_parts(folder, built.model_file)})")
        with serving(folder) as url:
            driver = start_chromium(profile / quantize)
            try:
                start = time.perf_counter()
                driver.get(f"{url}?image={timing.name}&vividness={VIVIDNESS}&saturation={SATURATION}")
                assert _wait_state(driver) == "done", driver.find_element("id", "error").text
                first = time.perf_counter() - start
                print(f"  {driver.find_element('id', 'runtime').text}")
                print(f"  first photo {first:.2f} s after the page was opened (model loading included)")
                walls, own = [], []
                for _ in range(photos):
                    start = time.perf_counter()
                    driver.execute_script("document.getElementById('result').dataset.state = 'working'")
                    driver.find_element("id", "file").send_keys(str(timing))
                    assert _wait_state(driver) == "done"
                    walls.append(time.perf_counter() - start)
                    own.append(float(re.search(r"; (\d+) ms$", driver.find_element("id", "result-meta").text)[1]))
                print(f"  later 1024 x 768 photos: {statistics.median(walls):.2f} s each (median of {photos}; "
                      f"the page's own figure {statistics.median(own) / 1e3:.2f} s)")
                colorizer = Colorizer(weights=weights, precision="fp32", vividness=VIVIDNESS, saturation=SATURATION)
                dabs = []
                for photo in demo:
                    driver.execute_script("document.getElementById('result').dataset.state = 'working'")
                    driver.find_element("id", "file").send_keys(str(photo))
                    assert _wait_state(driver) == "done"
                    dabs.append((_ab(_result_image(driver)) - _ab(colorizer(photo))).abs().mean().item())
                print(f"  mean |delta ab| against Python: {np.mean(dabs):.4f} (max {max(dabs):.4f}, "
                      f"{len(dabs)} built-in photos)")
            finally:
                driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=5, help="later photos timed (default 5)")
    parser.add_argument("--weights", help="weights file (default: the shipped lite-unet-bins)")
    parser.add_argument("--quantize", nargs="+", default=["int8", "none"], choices=["int8", "none"])
    args = parser.parse_args()
    reason = missing_browser()
    if reason:
        raise SystemExit(reason)
    with tempfile.TemporaryDirectory() as profile:
        for quantize in args.quantize:
            measure(quantize, args.weights, args.photos, Path(profile))


if __name__ == "__main__":
    main()
