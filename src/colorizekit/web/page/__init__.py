"""The browser page: a static folder that colorizes photos in the visitor's browser (onnxruntime-web,
WebGPU or WASM), with no server doing the work and nothing uploaded.

Modules: `constants` (model.json: the colour maths' constants, read from the modules that own them),
`model` (the ONNX graph the page runs: the network's raw output, int8 or fp32 weights), `build`
(`build_page`: the folder), `serve` (a static server sending the cross-origin isolation headers that
WASM threads need). `static/` holds the page's HTML, CSS and JavaScript; `vendor/` onnxruntime-web.
"""

from colorizekit.web.page.build import BuiltPage, build_page

__all__ = ["BuiltPage", "build_page"]
