"""colorizekit: turn grayscale photographs into colour ones, and train, evaluate and compare colorizers."""

from colorizekit.models import create_model, get_model_info, list_models

__version__ = "0.1.0"

__all__ = ["Colorizer", "__version__", "create_model", "get_model_info", "list_models"]


def __getattr__(name: str):
    """`colorizekit.Colorizer`, imported on first use so that `import colorizekit` stays light."""
    if name == "Colorizer":
        from colorizekit.colorize import Colorizer

        return Colorizer
    raise AttributeError(f"module 'colorizekit' has no attribute {name!r}")
