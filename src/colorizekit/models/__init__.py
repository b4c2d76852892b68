"""Colorization models: the registry and one file per model."""

from colorizekit.models import effnet_lite_bins, jkspnet_lab, lite_unet_bins, unet_rgb  # noqa: F401  (registers)
from colorizekit.models.registry import ModelInfo, create_model, get_model_info, list_models, register_model

__all__ = ["ModelInfo", "create_model", "get_model_info", "list_models", "register_model"]
