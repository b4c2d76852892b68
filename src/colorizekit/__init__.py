"""colorizekit: turn grayscale photographs into colour ones, and train, evaluate and compare colorizers.

The package reads top-down (docs/architecture.md): `color`, `imageio`, `models`, `weights`, `onnx`,
`infer`, `train`, `evaluate`, `web` and `cli`, each importing only the layers below it.
"""

from colorizekit.models import create_model, get_model_info, list_models
from colorizekit.version import __version__

__all__ = ["Colorizer", "__version__", "create_model", "get_model_info", "list_models"]


def __getattr__(name: str):
    """`colorizekit.Colorizer`, imported on first use so that `import colorizekit` stays light."""
    if name == "Colorizer":
        from colorizekit.infer.colorizer import Colorizer

        return Colorizer
    raise AttributeError(f"module 'colorizekit' has no attribute {name!r}")
