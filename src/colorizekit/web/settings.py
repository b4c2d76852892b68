"""What `colorizekit serve` is told (`ServeSettings`), the models it can serve with which weights, and
what to warn about at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from colorizekit.infer.backends import DEFAULT_BACKEND
from colorizekit.weights import DEFAULT_MODEL

DEFAULT_MAX_UPLOAD_BYTES = 25_000_000  # largest file a request may upload: 25 MB (decimal megabytes throughout)
DEFAULT_MAX_UPLOAD_PIXELS = 40_000_000  # largest image (width x height) a request may upload: 40 megapixels


@dataclass(frozen=True)
class ServeSettings:
    """Everything `colorizekit serve` can be told; `create_app` reads nothing else."""

    host: str = "127.0.0.1"  # interface to listen on; loopback only unless told otherwise
    port: int = 8000  # TCP port
    model: str = DEFAULT_MODEL  # model used when a request names none
    weights: tuple[Path, ...] = ()  # weights files; the model each is for is read from the file
    size: int | None = None  # working size (short side) when a request names none; None: the weights' default
    max_size: int = 1024  # largest working size a request may ask for
    batch_size: int = 4  # most requests colorized together
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES  # largest accepted file, bytes (413 above)
    max_pixels: int = DEFAULT_MAX_UPLOAD_PIXELS  # largest accepted image, width x height (413 above)
    queue_size: int = 16  # requests that may wait beyond the batch in progress (503 above)
    device: str | None = None  # torch device; None picks CUDA when present
    backend: str = DEFAULT_BACKEND  # what runs the models: "torch" or "onnx" (colorizekit.infer.backends)
    max_loaded: int = 2  # colorizers, one per (model, size), kept loaded at once
    preload: bool = True  # load the default model's colorizer at startup (when it has weights)

    def __post_init__(self) -> None:
        from colorizekit.infer.backends import check_backend
        from colorizekit.models import get_model_info

        get_model_info(self.model)  # ValueError naming the known models
        check_backend(self.backend, self.device)  # ValueError for an unknown backend, or onnx on a GPU
        object.__setattr__(self, "weights", tuple(Path(w) for w in self.weights))
        for name in ("port", "max_size", "batch_size", "max_upload_bytes", "max_pixels", "queue_size",
                     "max_loaded"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "port" else 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.size is not None and (isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1):
            raise ValueError(f"size must be a positive integer, got {self.size!r}")
        if self.size is not None and self.size > self.max_size:
            raise ValueError(f"size {self.size} is over max_size {self.max_size}")

    def size_for(self, entry: ModelEntry) -> int:
        """The working size for a request to `entry`'s model that names none: the server's, else its weights'."""
        return self.size or entry.default_size


@dataclass(frozen=True)
class ModelEntry:
    """A registered model as the server sees it."""

    name: str  # registry name
    color_mode: str  # "rgb" or "lab"
    description: str  # one line
    size_multiple: int  # smallest working size
    weights: Path | None  # file to load, or None when the model has no weights
    source: str | None  # "file" (--weights), "shipped" (inside the package) or None (no weights)
    vividness_control: bool  # decoding takes a vividness (the model has a bins head)
    default_vividness: float | None  # its weights' vividness when a request names none (None: no control or no weights)
    default_size: int  # its weights' working size (`weights.card_defaults`)
    default_saturation: float  # its weights' saturation (`weights.card_defaults`)

    @property
    def available(self) -> bool:
        return self.source is not None

    @property
    def reason(self) -> str | None:
        """Why the model cannot be used, or None."""
        if self.available:
            return None
        return (f"no weights for model {self.name!r} ship with colorizekit; "
                f"start the server with `colorizekit serve --weights FILE`")


def find_models(settings: ServeSettings) -> dict[str, ModelEntry]:
    """All registered models, with the weights each would use (a `--weights` file, else shipped weights)
    and, for models with a bins head, the vividness those decode at by default. WeightsError (a
    ValueError) naming a file that cannot be read or is the second for one model."""
    from colorizekit.models import get_model_info, list_models
    from colorizekit.weights import WeightsError, card_defaults, resolve_weights, weights_by_model

    given = weights_by_model(settings.weights)
    entries = {}
    for name in list_models():
        weights, source = given.get(name), "file" if name in given else None
        if weights is None:
            try:
                weights, source = resolve_weights(name, None)[1], "shipped"
            except WeightsError:
                pass
        info = get_model_info(name)
        defaults = card_defaults(weights)  # without weights: no vividness, the package's size and saturation
        entries[name] = ModelEntry(name, info.color_mode, info.description, info.size_multiple, weights, source,
                                   info.mode.supports_vividness, defaults.vividness, defaults.size,
                                   defaults.saturation)
    return entries


def startup_warnings(settings: ServeSettings, models: dict[str, ModelEntry]) -> list[str]:
    """One line for each reason requests will be refused whatever they send: no model has weights, or
    the default model (what the page and requests naming no model use) has none."""
    if not any(m.available for m in models.values()):
        return ["no model has weights, so every photo will be refused (503); start the server with "
                "--weights FILE (a model.safetensors written by `colorizekit train`)"]
    if not models[settings.model].available:
        others = [m.name for m in models.values() if m.available]
        return [f"the default model {settings.model!r} has no weights, so requests that name no model will be "
                f"refused (503); choose another with --model (with weights: {', '.join(others)})"]
    return []
