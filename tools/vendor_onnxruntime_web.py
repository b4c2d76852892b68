"""Vendor onnxruntime-web into the package, for `colorizekit build-page` (run by developers, not at run time).

    python tools/vendor_onnxruntime_web.py [--version 1.31.1] [--pack onnxruntime-web-1.31.1.tgz]

Runs `npm pack onnxruntime-web@VERSION` (or reads a tarball already packed) and copies only what the
page loads into src/colorizekit/web/page/vendor/onnxruntime-web/, two runtimes, each an ES module, the
Emscripten glue it loads and its WebAssembly (threads and SIMD):
- "wasm": `ort.wasm.min.mjs`, the CPU (WASM) runtime the page uses unless WebGPU is there;
- "webgpu": `ort.jspi.min.mjs`, the WebGPU runtime built with JSPI, loaded only when the browser has a
  WebGPU adapter and JSPI. (The JSEP build `ort.min.mjs` does both in one, but its asyncify'd WASM ran 3
  to 4 times slower on the CPU in headless Chromium and is twice as large.)
Each WebAssembly file is stored gzip-compressed (`.wasm.gz`; 14.8 + 17.9 MB -> 3.8 + 4.4 MB for 1.31.1): the
page inflates it with the browser's DecompressionStream and hands the bytes to onnxruntime
(`env.wasm.wasmBinary`), so any static host serves it as it is. Beside them `LICENSE` (the package's MIT
licence) and `VERSION.json` (version, files, sha256 of the originals). Everything else in the package
(other builds, source maps, WebGL) is left out.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "src" / "colorizekit" / "web" / "page" / "vendor" / "onnxruntime-web"
VERSION = "1.31.1"  # the onnxruntime-web release the page is tested with
RUNTIMES = {  # name: (ES module, Emscripten glue, WebAssembly)
    "wasm": ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"),
    "webgpu": ("ort.jspi.min.mjs", "ort-wasm-simd-threaded.jspi.mjs", "ort-wasm-simd-threaded.jspi.wasm"),
}
LICENSE_TEXT = """MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def _pack(version: str, workdir: Path) -> Path:
    """`npm pack onnxruntime-web@version` into `workdir`; the tarball's path."""
    done = subprocess.run(["npm", "pack", f"onnxruntime-web@{version}", "--silent"], cwd=workdir,
                          check=True, capture_output=True, text=True)
    return workdir / done.stdout.strip().splitlines()[-1]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def vendor(tarball: Path, target: Path = TARGET) -> dict:
    """Copy the page's files out of an onnxruntime-web tarball into `target`; returns VERSION.json's content."""
    with tarfile.open(tarball) as tar:
        def member(name: str) -> bytes:
            return tar.extractfile(f"package/{name}").read()

        meta = json.loads(member("package.json"))
        if meta.get("license") != "MIT":
            raise SystemExit(f"{tarball}: expected the MIT licence, got {meta.get('license')!r}")
        files = {name: member(f"dist/{name}") for names in RUNTIMES.values() for name in names}
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for module, glue, wasm in RUNTIMES.values():
        (target / module).write_bytes(files[module])
        (target / glue).write_bytes(files[glue])
        (target / f"{wasm}.gz").write_bytes(gzip.compress(files[wasm], compresslevel=9, mtime=0))
    (target / "LICENSE").write_text(LICENSE_TEXT, encoding="utf-8")
    record = {
        "package": "onnxruntime-web",
        "version": meta["version"],
        "license": "MIT",
        "runtimes": {key: {"runtime": module, "glue": glue, "wasm_gz": f"{wasm}.gz"}
                     for key, (module, glue, wasm) in RUNTIMES.items()},
        "sha256": {name: _sha256(data) for name, data in files.items()},
        "bytes": {name: len(data) for name, data in files.items()},
    }
    (target / "VERSION.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", default=VERSION, help=f"onnxruntime-web version (default {VERSION})")
    parser.add_argument("--pack", type=Path, help="an onnxruntime-web .tgz already packed (skips npm)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.pack or _pack(args.version, Path(tmp))
        record = vendor(tarball)
    total = sum(p.stat().st_size for p in TARGET.iterdir())
    print(f"onnxruntime-web {record['version']} -> {TARGET.relative_to(ROOT)} ({total / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
