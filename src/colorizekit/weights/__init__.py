"""Weights: the files a model's weights live in (`files`: training checkpoints, exported safetensors;
`onnx_file`: ONNX exports), the model card's defaults (`card`), which file to use (`resolve`), and the
weights that ship with colorizekit (the `.safetensors` files in this folder).
"""

from colorizekit.weights.card import DEFAULT_SIZE, CardDefaults, card_defaults
from colorizekit.weights.errors import WeightsError, check_file
from colorizekit.weights.files import (
    CHECKPOINT_FORMAT,
    WEIGHTS_FORMAT,
    LoadedWeights,
    build_model,
    clean_state_dict,
    export_weights,
    load_checkpoint,
    load_description,
    load_weights,
    model_state_dict,
    save_checkpoint,
    unwrap_model,
    weights_model_name,
)
from colorizekit.weights.onnx_file import ONNX_SUFFIX, is_onnx_file, read_onnx_metadata
from colorizekit.weights.resolve import (
    DEFAULT_MODEL,
    WEIGHTS_DIR,
    default_weights_path,
    resolve_weights,
    weights_by_model,
)

__all__ = [
    "CHECKPOINT_FORMAT", "DEFAULT_MODEL", "DEFAULT_SIZE", "ONNX_SUFFIX", "WEIGHTS_DIR", "WEIGHTS_FORMAT",
    "CardDefaults", "LoadedWeights", "WeightsError", "build_model", "card_defaults", "check_file",
    "clean_state_dict", "default_weights_path", "export_weights", "is_onnx_file", "load_checkpoint",
    "load_description", "load_weights", "model_state_dict", "read_onnx_metadata", "resolve_weights",
    "save_checkpoint", "unwrap_model", "weights_by_model", "weights_model_name",
]
