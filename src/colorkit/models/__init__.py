"""Colorization models: the registry and one file per model."""

from colorkit.models import jkspnet_lab, unet_rgb  # noqa: F401  (registers the models)
from colorkit.models.registry import ModelInfo, create_model, get_model_info, list_models, register_model

__all__ = ["ModelInfo", "create_model", "get_model_info", "list_models", "register_model"]
