"""colorkit: turn grayscale photographs into colour ones, and train, evaluate and compare colorizers."""

from colorkit.models import create_model, get_model_info, list_models

__version__ = "0.1.0"

__all__ = ["__version__", "create_model", "get_model_info", "list_models"]
