"""colorkit: turn grayscale photographs into colour ones, and train, evaluate and compare colorizers."""

from colorkit.models import create_model, get_model_info, list_models

__version__ = "0.1.0"

__all__ = ["Colorizer", "__version__", "create_model", "get_model_info", "list_models"]


def __getattr__(name: str):
    """`colorkit.Colorizer`, imported on first use so that `import colorkit` stays light."""
    if name == "Colorizer":
        from colorkit.colorize import Colorizer

        return Colorizer
    raise AttributeError(f"module 'colorkit' has no attribute {name!r}")
