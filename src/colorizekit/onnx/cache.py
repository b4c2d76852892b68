"""`cached_onnx` exports a weights file on first use into a cache folder (`onnx_cache_dir`), for
`Colorizer(backend="onnx")` given weights that are not ONNX.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from colorizekit.onnx import export
from colorizekit.version import __version__
from colorizekit.weights import load_weights, weights_model_name

CACHE_ENV = "COLORIZEKIT_CACHE"  # environment variable naming colorizekit's cache folder
_HASH_CHUNK = 1 << 20  # bytes read at a time when hashing a weights file


def onnx_cache_dir() -> Path:
    """Where weights exported on first use go: $COLORIZEKIT_CACHE/onnx, else $XDG_CACHE_HOME/colorizekit/onnx,
    else ~/.cache/colorizekit/onnx."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "colorizekit"
    return Path(root) / "onnx"


def cached_onnx(weights: str | os.PathLike) -> Path:
    """An ONNX export of the weights file `weights` (.safetensors or .pt): the cached one when these
    exact bytes were exported before by this colorizekit version and `GRAPH_REVISION`, else a new export
    into the cache."""
    source = Path(weights)
    name = weights_model_name(source)  # WeightsError naming a file that is not colorizekit weights
    digest = hashlib.sha256()
    with open(source, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    target = onnx_cache_dir() / f"{name}-{digest.hexdigest()[:16]}-{__version__}-g{export.GRAPH_REVISION}.onnx"
    if target.is_file():
        return target
    loaded = load_weights(source, expected_model=name)
    try:
        return export.write_onnx(target, loaded)
    except OSError as exc:
        raise ValueError(f"{source}: cannot write its ONNX export to the cache {target.parent} ({exc}); set "
                         f"{CACHE_ENV} to a writable folder, or pass a file from `colorizekit export`") from None
