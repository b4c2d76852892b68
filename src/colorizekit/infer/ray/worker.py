"""The Ray Data actor: one colorizer per worker, a task's photos read, colorized and written in place.

Each call takes a block of jobs (the listing's rows), does them in the prediction batches the local
engine would form (the jobs' `batch`, `clashes.refuse`) with `colorize_files`' own pipeline (`load_image`,
`Colorizer.colorize_loaded`,
`write_colorized`), writes the task's ledger part after its outputs, and returns the part's rows: the
driver only ever sees these small rows, never a decoded photo.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from pathlib import Path, PurePath, PurePosixPath

import numpy as np
import pyarrow as pa

from colorizekit.imageio import ImageError, ImageErrorKind, LoadedImage, encode_image, load_image
from colorizekit.infer.files import write_colorized
from colorizekit.infer.ray import storage
from colorizekit.infer.ray.config import ColorizerSpec, OutputSettings
from colorizekit.infer.ray.state import LEDGER_SCHEMA, JobState, RowStatus


def _relabelled(exc: ImageError, label: str, source: str) -> ImageError:
    """The same error naming the photo as its input did (`source`) instead of how it was read."""
    message = str(exc)
    if message.startswith(label):
        message = source + message[len(label):]
    return ImageError(message, exc.kind)


def load_job(source: str, location: str) -> LoadedImage:
    """Read one photo as `colorize_files` does; errors name it as its input did. Local files are read
    by path (the same checks and messages), others through their filesystem."""
    if not storage.is_uri(location):
        try:
            return load_image(location)
        except ImageError as exc:
            raise _relabelled(exc, location, source) from None
    try:
        data = storage.read_bytes(location)
    except FileNotFoundError:
        raise ImageError(f"{source}: no such file", ImageErrorKind.MISSING) from None
    except OSError as exc:
        raise ImageError(f"{source}: cannot read ({' '.join(str(exc).split())})", ImageErrorKind.UNREADABLE) from None
    try:
        return load_image(data)
    except ImageError as exc:
        raise _relabelled(exc, "<bytes>", source) from None


def _sibling(target: str, name: str) -> str:
    """The file `name` in `target`'s folder."""
    if storage.is_uri(target):
        return target.rsplit("/", 1)[0] + "/" + name
    return os.path.join(os.path.dirname(target), name)


def _display(path: str) -> PurePath:
    return PurePosixPath(path) if storage.is_uri(path) else Path(path)


class ColorizeWorker:
    """A Ray Data actor (`map_batches(ColorizeWorker, ...)`): its model is loaded once, in `__init__`."""

    def __init__(self, spec: ColorizerSpec, settings: OutputSettings, state: JobState, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)  # before the colorizer: the onnx backend takes torch's count
        self.colorizer = spec.build()
        self.settings, self.state = settings, state
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: pa.Table) -> pa.Table:
        jobs = batch.select(["source", "location", "output", "target", "format", "batch"]).to_pylist()
        part = self.state.part_for([j["location"] for j in jobs])
        if storage.exists(part):  # Ray retried this task after its worker died: it is done
            return self.state.read_part(part)
        rows: list[dict] = []
        for _, group in itertools.groupby(jobs, key=lambda j: j["batch"]):  # the local engine's batches
            rows += self._colorize(list(group))
        table = pa.Table.from_pylist(rows, schema=LEDGER_SCHEMA)
        self.state.write_part(part, table)
        return table

    def _row(self, job: dict, status: RowStatus, reason: str | None = None) -> dict:
        return {"location": job["location"], "source": job["source"], "output": job["output"], "status": str(status),
                "reason": reason, "worker": self.worker, "finished": time.time()}

    def _colorize(self, jobs: list[dict]) -> list[dict]:
        """One prediction batch: skip existing outputs, read, colorize together, write each."""
        rows, loaded = [], []
        for job in jobs:
            if not self.settings.overwrite and storage.exists(job["target"]):
                rows.append(self._row(job, RowStatus.SKIPPED))
                continue
            try:
                loaded.append((job, load_job(job["source"], job["location"])))
            except ImageError as exc:
                rows.append(self._row(job, RowStatus.FAILED, str(exc)))
        if not loaded:
            return rows
        outputs = self.colorizer.colorize_loaded([im for _, im in loaded])
        for (job, im), rgb in zip(loaded, outputs):
            reason = write_colorized(_display(job["source"]), _display(job["output"]), job["format"], im, rgb,
                                     quality=self.settings.quality, side_by_side_too=self.settings.side_by_side_too,
                                     save=self._saver(job["target"]))
            rows.append(self._row(job, RowStatus.DONE if reason is None else RowStatus.FAILED, reason))
        return rows

    def _saver(self, target: str):
        """`write_colorized`'s `save`: encode in memory, write atomically beside `target`."""
        def save(path: PurePath, pixels: np.ndarray, **options) -> None:
            data = encode_image(pixels, name=str(path), **options)
            storage.write_atomic(_sibling(target, path.name), data, self.state.temp)

        return save
