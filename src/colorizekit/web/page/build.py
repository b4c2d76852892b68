"""`build_page`: write the static browser page (a folder any static web server can serve) that colorizes
photos on the visitor's own machine with onnxruntime-web: nothing is uploaded, nothing is loaded from
another origin.

The folder: `index.html` (`web/templates/browser.html` with its CSP), the page's scripts (`page.js` the
controls, `worker.js` the Web Worker that reads photos and runs the model, `colour.js` the colour maths),
`app.css` (the look of `colorizekit serve`'s page) and `page.css`, the model (`<model>-<int8|fp32>.onnx`,
see `page.model`), `model.json` (`page.constants`) and onnxruntime-web's files in `vendor/onnxruntime-web/`
(vendored in the package by tools/vendor_onnxruntime_web.py). Every file is written atomically.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from colorizekit.imageio.atomic import atomic_path, atomic_write_text
from colorizekit.web.markup import render_page
from colorizekit.web.page.constants import page_constants
from colorizekit.web.page.model import DEFAULT_QUANTIZE, check_quantize, write_page_model
from colorizekit.weights import load_weights, resolve_weights

PAGE_DIR = Path(__file__).resolve().parent
STATIC_DIR = PAGE_DIR / "static"
VENDOR_DIR = PAGE_DIR / "vendor"
SERVE_CSS = PAGE_DIR.parent / "static" / "app.css"  # the server page's look (web/static), shared
PAGE_FILES = ("page.js", "worker.js", "colour.js", "page.css")  # copied as they are; index.html is templates/browser.html
# What the page may load: its own site only; WebAssembly compiled by the page; workers from its own site
# (onnxruntime-web's threads may start from blob: URLs); photos as blob: URLs. `serve` sends it as a header.
CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; "
       "img-src 'self' blob: data:; style-src 'self'; connect-src 'self' blob: data:; object-src 'none'; "
       "base-uri 'none'; form-action 'none'")


@dataclass(frozen=True)
class BuiltPage:
    """What `build_page` wrote."""

    folder: Path  # the page's folder
    model_name: str  # the model the page runs
    weights: Path  # the weights file it was exported from
    model_file: Path  # the .onnx file in the folder
    bytes: int  # the folder's total size


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def folder_bytes(folder: Path) -> int:
    """Total size of the files under `folder`."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def build_page(out_dir: str | os.PathLike, model: str | None = None, weights: str | os.PathLike | None = None,
               quantize: str = DEFAULT_QUANTIZE) -> BuiltPage:
    """Write the browser page for `model` / `weights` (as `weights.resolve_weights` chooses them) into
    `out_dir`, with int8 or fp32 (`quantize="none"`) weights. WeightsError names an unusable weights file;
    ValueError a bad `quantize` or a missing onnx package."""
    check_quantize(quantize)
    name, source = resolve_weights(model, weights)
    loaded = load_weights(source, expected_model=name)
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file; build-page writes a folder")
    folder.mkdir(parents=True, exist_ok=True)
    onnx_name = f"{name}-{'fp32' if quantize == 'none' else quantize}.onnx"
    write_page_model(folder / onnx_name, loaded, quantize)
    atomic_write_text(folder / "index.html", render_page("browser.html", csp=CSP))
    for page_file in PAGE_FILES:
        _copy(STATIC_DIR / page_file, folder / page_file)
    _copy(SERVE_CSS, folder / "app.css")
    for vendored in VENDOR_DIR.rglob("*"):
        if vendored.is_file():
            _copy(vendored, folder / "vendor" / vendored.relative_to(VENDOR_DIR))
    constants = page_constants(loaded, quantize, onnx_name)
    constants["runtime"] = json.loads((VENDOR_DIR / "onnxruntime-web" / "VERSION.json").read_text(encoding="utf-8"))
    atomic_write_text(folder / "model.json", json.dumps(constants, indent=1) + "\n")
    return BuiltPage(folder=folder, model_name=name, weights=source, model_file=folder / onnx_name,
                     bytes=folder_bytes(folder))
