"""ONNX: export a model with its weights and decoding to one ONNX file (`export`), the graph rewrites
that make it fast (`rewrite`), and the cache of exports made on first use (`cache`)."""
