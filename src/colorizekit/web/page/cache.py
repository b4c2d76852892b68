"""`cached_page`: the browser page for a weights file, built on first use into colorizekit's cache (beside
the ONNX exports, `onnx.cache.onnx_cache_dir`), for `colorizekit serve`'s /browser.

The folder's name holds the model, a hash of the weights file and of the page's own files (static,
vendored, templates), the colorizekit version and the quantisation, so a change to any of them builds a
new one. It is built in a temporary folder and renamed into place, so a half-built page is never served.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path

from colorizekit.onnx.cache import onnx_cache_dir
from colorizekit.web.markup import TEMPLATES_DIR
from colorizekit.web.page.build import STATIC_DIR, VENDOR_DIR, build_page
from colorizekit.web.page.model import DEFAULT_QUANTIZE, check_quantize

_HASH_CHUNK = 1 << 20  # bytes read at a time when hashing
_LOCK = threading.Lock()  # one build at a time in this process


def page_cache_dir() -> Path:
    """Where built pages go: the cache folder of `onnx.cache.onnx_cache_dir`'s parent, under page/."""
    return onnx_cache_dir().parent / "page"


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        with open(path, "rb") as f:
            while chunk := f.read(_HASH_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def cached_page(model: str, weights: str | os.PathLike, quantize: str = DEFAULT_QUANTIZE) -> Path:
    """The folder of the page for `model` with `weights` (a .safetensors or .pt file), built when missing."""
    from colorizekit.version import __version__

    check_quantize(quantize)
    own = sorted(p for root in (STATIC_DIR, VENDOR_DIR, TEMPLATES_DIR) for p in root.rglob("*") if p.is_file())
    key = f"{model}-{_digest([Path(weights)])}-{_digest(own)}-{__version__}-{quantize}"
    target = page_cache_dir() / key
    with _LOCK:
        if (target / "index.html").is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=target.parent))
        try:
            build_page(building, model, weights, quantize)
            if target.exists():
                shutil.rmtree(target)
            os.replace(building, target)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
    return target
