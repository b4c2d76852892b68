"""The colorizing service behind `POST /api/colorize`: a header probe, then one worker, one batch at a time.

A header probe in the request rejects non-images and oversized images before they take a queue
slot; decoding, colorizing and encoding happen on one worker thread, one batch at a time: an asyncio
task takes up to `batch_size` waiting requests (and at most `max_pixels` pixels in total beyond the
first) from a bounded asyncio.Queue, so concurrent requests wait in line instead of exhausting memory.
Colorizers are built by a factory (one per model and working size, the least recently used dropped);
a batch is colorized in groups of one model, size and vividness, the vividness passed per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import math
import re
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from fastapi import HTTPException

from colorizekit.imageio import (
    ImageError,
    ImageErrorKind,
    encode_image,
    load_image,
    output_bit_depth,
    output_format,
    output_suffix,
)
from colorizekit.imageio.formats import FORMATS
from colorizekit.web.settings import ModelEntry, ServeSettings
from colorizekit.weights import WeightsError

log = logging.getLogger("colorizekit.serve")
STATUS_BY_KIND: dict[ImageErrorKind, int] = {  # the HTTP status of each kind of image problem
    ImageErrorKind.EMPTY: 400,  # an empty upload: a bad request
    ImageErrorKind.NOT_AN_IMAGE: 415,  # an unsupported media type
    ImageErrorKind.DAMAGED: 422,  # an image that cannot be decoded (truncated, corrupt)
    ImageErrorKind.UNSUPPORTED: 422,  # an image of a kind colorizekit does not handle
    ImageErrorKind.TOO_LARGE: 413,  # as for a large file, the remedy is a smaller image
    ImageErrorKind.MISSING: 500,  # uploads are bytes, so a missing or unreadable file is the server's fault
    ImageErrorKind.UNREADABLE: 500,
}


class ColorizerLike(Protocol):
    """What the app needs from a colorizer (`colorizekit.infer.colorizer.Colorizer` or a test double)."""

    def colorize_loaded(self, images: list[Any], vividness: float | None = None,
                        saturation: float | None = None) -> list[np.ndarray]:
        """LoadedImages -> (H, W, 3) float32 RGB in [0, 1], each the size of its input; `vividness` (bins
        models) and `saturation` are passed only when a request chose them."""
        ...


ColorizerFactory = Callable[[str, Path, int], ColorizerLike]
"""(model name, weights file, working size) -> a colorizer."""


@dataclass(frozen=True)
class Probe:
    """What an image's header says."""

    format: str  # Pillow format name, e.g. "JPEG"
    width: int
    height: int


def probe_image(data: bytes, name: str, max_pixels: int) -> Probe:
    """Identify an image from its header without decoding it. HTTPException 413 when it has more than
    `max_pixels` pixels; 415 when it is not an image, 422 when it is a damaged one (imageio's words)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                fmt, (width, height) = im.format or "", im.size
    except Image.DecompressionBombError as exc:  # over Pillow's own limit, which is far above ours
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = f"{int(found.group(1)) / 1e6:.1f} megapixels" if found else "too many pixels"
        raise HTTPException(413, f"{name}: image has {pixels}, over the {max_pixels / 1e6:g} megapixel limit") from None
    except Exception:  # not an image, or one whose header is damaged: imageio tells which, in its words
        raise _unreadable(data, name, max_pixels) from None
    if width < 1 or height < 1:
        raise HTTPException(422, f"{name}: image has no pixels ({width} x {height})")
    if width * height > max_pixels:
        raise HTTPException(413, f"{name}: image is {width} x {height} = {width * height / 1e6:.1f} megapixels, "
                                 f"over the {max_pixels / 1e6:g} megapixel limit")
    return Probe(fmt, width, height)


def _unreadable(data: bytes, name: str, max_pixels: int) -> HTTPException:
    """415 for what is not an image, 422 for a damaged image, with imageio's one-line reason."""
    try:
        load_image(data, max_pixels=max_pixels)
    except ImageError as exc:
        return http_error(exc, name)
    except Exception as exc:
        return HTTPException(422, f"{name}: cannot decode image ({type(exc).__name__}: {exc})")
    return HTTPException(415, f"{name}: not an image Pillow can identify")


def http_error(exc: ImageError, name: str) -> HTTPException:
    """An imageio ImageError as an HTTP error: the status from `STATUS_BY_KIND`, imageio's one-line
    reason with the upload's file name."""
    return HTTPException(STATUS_BY_KIND[exc.kind], _rename(str(exc), name))


def output_filename(upload_name: str, fmt: str) -> str:
    """`<stem>_color.<ext>`: the input's suffix when it suits `fmt`, else the format's usual one."""
    path = Path(upload_name)
    stem = path.stem if path.suffix else path.name
    return f"{stem or 'photo'}_color{output_suffix(fmt, path.suffix)}"


@dataclass
class _Job:
    data: bytes  # the uploaded file
    name: str  # its cleaned file name
    probe: Probe  # its header
    model: str  # model to use
    size: int  # working size
    vividness: float | None  # chosen by the request (bins models), or None for the weights' default
    saturation: float | None  # chosen by the request, or None for the weights' default
    future: asyncio.Future  # set to a _Result or an exception


@dataclass(frozen=True)
class _Result:
    body: bytes  # the encoded colour photo
    media_type: str  # its Content-Type
    filename: str  # name offered for download


class ColorizeService:
    """One worker that colorizes queued requests a batch at a time."""

    def __init__(self, settings: ServeSettings, models: dict[str, ModelEntry], factory: ColorizerFactory) -> None:
        self.settings = settings
        self.models = models
        self.factory = factory
        self.queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._colorizers: OrderedDict[tuple[str, int], ColorizerLike] = OrderedDict()  # worker thread only
        self._held: _Job | None = None  # a job taken from the queue that did not fit the last batch
        self.in_progress = 0  # jobs in the batch being colorized
        self.seconds_per_image = 2.0  # running estimate, for Retry-After
        self.done = 0  # jobs answered with an image

    # lifecycle (called from the event loop)

    def start(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.settings.queue_size)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="colorizekit-worker")
        self._task = asyncio.create_task(self._work(), name="colorizekit-worker")
        default = self.models[self.settings.model]
        if self.settings.preload and default.available:
            self._executor.submit(self._preload, default.name, self.settings.size_for(default))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        pending = [self._held] if self._held else []
        while self.queue is not None and not self.queue.empty():
            pending.append(self.queue.get_nowait())
        for job in pending:
            if not job.future.done():
                job.future.set_exception(HTTPException(503, "server is shutting down"))
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self.queue = self._task = self._executor = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def retry_after(self) -> int:
        """Seconds after which a refused request may find room, as a Retry-After value."""
        waiting = (self.queue.qsize() if self.queue else 0) + self.in_progress
        return int(min(120, max(1, math.ceil(self.seconds_per_image * max(1, waiting) / self.settings.batch_size))))

    async def submit(self, data: bytes, name: str, probe: Probe, model: str, size: int,
                     vividness: float | None = None, saturation: float | None = None) -> _Result:
        """Queue a job and wait for its result; HTTPException 503 when the queue is full."""
        if not self.running or self.queue is None:
            raise HTTPException(503, "the colorizing worker is not running")
        job = _Job(data, name, probe, model, size, vividness, saturation, asyncio.get_running_loop().create_future())
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            seconds = self.retry_after()
            raise HTTPException(503, f"server busy: {self.settings.queue_size} photos are waiting; "
                                     f"try again in {seconds} s", headers={"Retry-After": str(seconds)}) from None
        return await job.future

    # the worker (an asyncio task; the work itself runs on the single worker thread)

    async def _next_batch(self) -> list[_Job]:
        assert self.queue is not None
        first = self._held or await self.queue.get()
        self._held = None
        batch, pixels = [first], first.probe.width * first.probe.height
        while len(batch) < self.settings.batch_size and not self.queue.empty():
            job = self.queue.get_nowait()
            job_pixels = job.probe.width * job.probe.height
            if pixels + job_pixels > self.settings.max_pixels:
                self._held = job
                break
            batch.append(job)
            pixels += job_pixels
        return [job for job in batch if not job.future.done()]

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            if not batch:
                continue
            self.in_progress = len(batch)
            started = time.perf_counter()
            try:
                outcomes = await loop.run_in_executor(self._executor, self._run_batch, batch)
            except Exception as exc:  # _run_batch catches per job; this is a bug, answer everyone
                log.exception("colorizing batch failed")
                outcomes = [HTTPException(500, f"internal error: {type(exc).__name__}: {exc}")] * len(batch)
            finally:
                self.in_progress = 0
            per_image = (time.perf_counter() - started) / len(batch)
            self.seconds_per_image = 0.7 * self.seconds_per_image + 0.3 * per_image
            for job, outcome in zip(batch, outcomes):
                if job.future.done():
                    continue
                if isinstance(outcome, BaseException):
                    job.future.set_exception(outcome)
                else:
                    self.done += 1
                    job.future.set_result(outcome)

    def _preload(self, model: str, size: int) -> None:
        try:
            self._colorizer(model, size)
        except Exception as exc:
            log.warning("could not load model %s: %s", model, exc)

    def _colorizer(self, model: str, size: int) -> ColorizerLike:
        """The colorizer for (model, size), loading it (and dropping the least recently used) if needed."""
        key = (model, size)
        if key in self._colorizers:
            self._colorizers.move_to_end(key)
            return self._colorizers[key]
        while len(self._colorizers) >= self.settings.max_loaded:
            self._colorizers.popitem(last=False)
        weights = self.models[model].weights
        assert weights is not None, "requests for models without weights are refused before they are queued"
        colorizer = self.factory(model, weights, size)
        self._colorizers[key] = colorizer
        return colorizer

    def _run_batch(self, batch: list[_Job]) -> list[_Result | BaseException]:
        """Decode, colorize (grouped by model, size, vividness and saturation) and encode; one job's failure
        spares the rest."""
        outcomes: list[_Result | BaseException | None] = [None] * len(batch)
        groups: dict[tuple[str, int, float | None, float | None], list[tuple[int, Any]]] = {}
        for i, job in enumerate(batch):
            try:
                image = load_image(bytes(job.data), max_pixels=self.settings.max_pixels)
            except ImageError as exc:  # truncated or corrupt data (the probe caught the rest)
                outcomes[i] = http_error(exc, job.name)
                continue
            except Exception as exc:
                outcomes[i] = HTTPException(422, f"{job.name}: cannot decode image ({type(exc).__name__}: {exc})")
                continue
            groups.setdefault((job.model, job.size, job.vividness, job.saturation), []).append((i, image))
        for (model, size, vividness, saturation), members in groups.items():
            chosen = {k: v for k, v in (("vividness", vividness), ("saturation", saturation)) if v is not None}
            try:
                colorizer = self._colorizer(model, size)
                rgbs = colorizer.colorize_loaded([image for _, image in members], **chosen)
            except WeightsError as exc:
                for i, _ in members:
                    outcomes[i] = HTTPException(503, f"model {model!r} cannot be loaded: {exc}")
                continue
            except Exception as exc:
                log.exception("colorizing with %s failed", model)
                for i, _ in members:
                    outcomes[i] = HTTPException(500, f"{batch[i].name}: colorizing failed ({type(exc).__name__}: {exc})")
                continue
            for (i, image), rgb in zip(members, rgbs):
                try:
                    outcomes[i] = self._encode(batch[i], image, rgb)
                except Exception as exc:
                    log.exception("encoding %s failed", batch[i].name)
                    outcomes[i] = HTTPException(500, f"{batch[i].name}: encoding the result failed ({exc})")
        assert all(o is not None for o in outcomes)
        return outcomes  # type: ignore[return-value]

    def _encode(self, job: _Job, image: Any, rgb: np.ndarray) -> _Result:
        fmt = output_format(image.format or job.probe.format)
        body = encode_image(rgb, format=fmt, bit_depth=output_bit_depth(image.bit_depth, fmt), exif=image.exif,
                            icc_profile=image.icc_profile, name=job.name)
        return _Result(body, FORMATS[fmt].media_type, output_filename(job.name, fmt))


def _rename(message: str, name: str) -> str:
    """imageio's "<name>: <problem>" with the upload's file name as <name>."""
    head, sep, problem = message.partition(": ")
    return f"{name}: {problem}" if sep and "\n" not in head and len(head) < 200 else f"{name}: {message}"


def default_colorizer_factory(settings: ServeSettings) -> ColorizerFactory:
    """Builds `Colorizer`s with `settings.backend` on `settings.device` with `settings.batch_size`."""

    def make(model: str, weights: Path, size: int) -> ColorizerLike:
        from colorizekit.infer.colorizer import Colorizer

        return Colorizer(model=model, weights=weights, device=settings.device, size=size,
                         batch_size=settings.batch_size, backend=settings.backend)

    return make
