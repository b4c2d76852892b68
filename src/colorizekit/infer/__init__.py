"""Inference: `Colorizer` (a model and its weights on a backend, at full resolution), the backends that
run a model (`backends`: PyTorch or onnxruntime), colorizing files (`files`), videos (`video`) and
batches on a Ray cluster (`ray`).
"""

from colorizekit.infer.colorizer import Colorizer
from colorizekit.infer.files import ColorizeReport, colorize_files

__all__ = ["ColorizeReport", "Colorizer", "colorize_files"]
