"""What a Ray batch run is told: how each worker builds its colorizer, how outputs are written, the cluster."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass

from colorizekit.infer.backends import DEFAULT_BACKEND


@dataclass(frozen=True)
class ColorizerSpec:
    """How each worker builds its `colorizekit.Colorizer`: the arguments it takes (see its docstring)."""

    model: str | None = None  # registry name; None: the weights' model, else the default model
    weights: str | None = None  # weights file, readable at this path on every node; None: the shipped weights
    device: str | None = None  # "cpu", "cuda", ...; None: CUDA when the worker has a GPU
    size: int | None = None  # working size (short side); None: the weights' measured default
    batch_size: int = 4  # photos predicted together (also the photos a worker takes at a time)
    precision: str = "auto"  # "auto", "bf16" or "fp32"
    vividness: float | None = None  # bins models: 0 muted ... 1 vivid; None: the weights' default
    saturation: float | None = None  # factor on the predicted chroma; None: the weights' default
    backend: str = DEFAULT_BACKEND  # "torch" or "onnx"

    def build(self, device: str | None = None):  # -> colorizekit.Colorizer (imported here: torch is heavy)
        """The colorizer this spec describes; `device` overrides the spec's (the driver checks on the CPU)."""
        from colorizekit.infer.colorizer import Colorizer

        return Colorizer(model=self.model, weights=self.weights, device=device or self.device, size=self.size,
                         batch_size=self.batch_size, precision=self.precision, vividness=self.vividness,
                         saturation=self.saturation, backend=self.backend)


@dataclass(frozen=True)
class OutputSettings:
    """How outputs are written, as `colorize_files` takes it."""

    format: str | None = None  # output format name ("png", "jpg", ...); None: the input's (BMP, GIF: PNG)
    quality: int = 95  # JPEG and WebP quality, 1-100
    overwrite: bool = False  # replace outputs that exist already (never inputs)
    side_by_side_too: bool = False  # also write <name>_side_by_side: grayscale | colour


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide a run goes."""

    address: str | None = None  # a Ray cluster ("auto", "ray://host:10001", "host:6379"); None: the Ray
    # this process is connected to, else a new local one on this machine
    workers: int | None = None  # actors, each with one model; None: the cluster's CPUs (or GPUs) / per worker
    cpus_per_worker: float = 1.0  # CPUs reserved per actor; its torch threads are this, rounded, at least 1
    gpus_per_worker: float = 0.0  # GPUs per actor (fractions share a GPU); 0: CPU only
    photos_per_task: int = 64  # photos a worker takes at a time, rounded up to whole prediction batches;
    # one ledger part each (what a lost worker redoes)

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.cpus_per_worker <= 0:
            raise ValueError(f"cpus_per_worker must be above 0, got {self.cpus_per_worker}")
        if self.gpus_per_worker < 0:
            raise ValueError(f"gpus_per_worker must be 0 or more, got {self.gpus_per_worker}")
        if self.photos_per_task < 1:
            raise ValueError(f"photos_per_task must be at least 1, got {self.photos_per_task}")

    @property
    def threads_per_worker(self) -> int:
        """torch (and onnxruntime) threads in each actor, so that actors do not oversubscribe cores."""
        return max(1, round(self.cpus_per_worker))


def job_fingerprint(inputs: list[str], out_dir: str, spec: ColorizerSpec, settings: OutputSettings) -> str:
    """A short hash of everything that decides a run's outputs: runs with the same one share a ledger
    (and resume each other); a run with other inputs or settings starts its own."""
    weights = spec.weights
    stamp = None
    if weights is not None and "://" not in weights and os.path.isfile(weights):
        info = os.stat(weights)
        weights, stamp = os.path.realpath(weights), (info.st_size, info.st_mtime_ns)
    record = {
        "inputs": [i if "://" in i else os.path.abspath(i) for i in inputs],
        "out": out_dir if "://" in out_dir else os.path.abspath(out_dir),
        "spec": {**dataclasses.asdict(spec), "weights": weights, "weights_stamp": stamp, "batch_size": None},
        "settings": dataclasses.asdict(settings),
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]
