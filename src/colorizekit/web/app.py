"""The FastAPI app behind `colorizekit serve`: a page for colorizing photos and the HTTP API it uses.

Endpoints:
- `GET /` the page (`static/index.html`, `app.css`, `app.js`; nothing is loaded from elsewhere);
- `GET /api/models` the models: colour mode, description, whether weights are present, the default;
- `POST /api/colorize` multipart `file` (optional fields `model`, `size`) -> the colour photo, same
  width and height, in the input's format (JPEG, PNG, WebP and TIFF are kept; GIF, BMP and other
  formats come back as PNG), EXIF and ICC profile carried over;
- `GET /healthz` liveness and queue depth. OpenAPI docs are at `/docs`.

Errors are JSON `{"detail": "<one line>"}`. Status codes of `POST /api/colorize`:
- 400: empty upload, no `file` field, malformed multipart body, a form field too long;
- 413: upload over `max_upload_bytes` (checked from Content-Length, then counted while reading, so
  an oversized body is never held in memory), or an image over `max_pixels` (a decompression bomb:
  413 rather than 422 because, as for a large file, the remedy is a smaller image);
- 415: not an image Pillow can identify, or a body that is not multipart/form-data;
- 422: an image that cannot be decoded (truncated, corrupt), an unknown model, a bad `size`;
- 503: the queue is full (with Retry-After), or the model has no weights (no Retry-After: start the
  server with `--weights`).

Uploads are read into memory and never written to disk. A header probe in the request rejects
non-images and oversized images before they take a queue slot; decoding, colorizing and encoding
happen on one worker thread, one batch at a time: an asyncio task takes up to `batch_size` waiting
requests (and at most `max_pixels` pixels in total beyond the first) from a bounded asyncio.Queue,
so concurrent requests wait in line instead of exhausting memory.
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
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from colorizekit import __version__

log = logging.getLogger("colorizekit.serve")

STATIC_DIR = Path(__file__).resolve().parent / "static"
DEFAULT_MAX_UPLOAD_BYTES = 25_000_000  # 25 MB (decimal megabytes throughout)
DEFAULT_MAX_PIXELS = 40_000_000  # 40 megapixels
_FORM_OVERHEAD = 64 * 1024  # bytes a multipart body may hold beyond the file (boundaries, headers, fields)
_MAX_FIELD_BYTES = 1024  # longest accepted text field (`model`, `size`)
_MAX_PARTS = 16  # most parts accepted in one multipart body
_KEPT_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "TIFF": "image/tiff"}
_SUFFIXES = {"JPEG": (".jpg", ".jpeg", ".jpe"), "PNG": (".png",), "WEBP": (".webp",), "TIFF": (".tif", ".tiff")}
_SIXTEEN_BIT_FORMATS = {"PNG", "TIFF"}
_NO_CSP_PREFIXES = ("/docs", "/redoc")  # FastAPI's docs pages load Swagger UI / ReDoc from a CDN
_CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


@dataclass(frozen=True)
class ServeSettings:
    """Everything `colorizekit serve` can be told; `create_app` reads nothing else."""

    host: str = "127.0.0.1"  # interface to listen on; loopback only unless told otherwise
    port: int = 8000  # TCP port
    model: str = "jkspnet-lab"  # model used when a request names none
    weights: tuple[Path, ...] = ()  # weights files; the model each is for is read from the file
    size: int = 256  # working size (short side) used when a request names none
    max_size: int = 1024  # largest working size a request may ask for
    batch_size: int = 4  # most requests colorized together
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES  # largest accepted file, bytes (413 above)
    max_pixels: int = DEFAULT_MAX_PIXELS  # largest accepted image, width x height (413 above)
    queue_size: int = 16  # requests that may wait beyond the batch in progress (503 above)
    device: str | None = None  # torch device; None picks CUDA when present
    max_loaded: int = 2  # colorizers, one per (model, size), kept loaded at once
    preload: bool = True  # load the default model's colorizer at startup (when it has weights)

    def __post_init__(self) -> None:
        from colorizekit.models import get_model_info

        get_model_info(self.model)  # ValueError naming the known models
        object.__setattr__(self, "weights", tuple(Path(w) for w in self.weights))
        for name in ("port", "size", "max_size", "batch_size", "max_upload_bytes", "max_pixels", "queue_size",
                     "max_loaded"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "port" else 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.size > self.max_size:
            raise ValueError(f"size {self.size} is over max_size {self.max_size}")


class ColorizerLike(Protocol):
    """What the app needs from a colorizer (`colorizekit.colorize.Colorizer` or a test double)."""

    def colorize_loaded(self, images: list[Any]) -> list[np.ndarray]:
        """LoadedImages -> (H, W, 3) float32 RGB in [0, 1], each the size of its input."""
        ...


ColorizerFactory = Callable[[str, "Path | None", int], ColorizerLike]
"""(model name, weights file or None for the shipped weights, working size) -> a colorizer."""


@dataclass(frozen=True)
class ModelEntry:
    """A registered model as the server sees it."""

    name: str  # registry name
    color_mode: str  # "rgb" or "lab"
    description: str  # one line
    size_multiple: int  # smallest working size
    weights: Path | None  # file to load, or None (shipped weights when `source` is "shipped")
    source: str | None  # "file" (--weights), "shipped" (inside the package) or None (no weights)

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
    """All registered models, with the weights each would use: a `--weights` file, else shipped weights."""
    from colorizekit.checkpoint import WeightsError, default_weights_path, weights_model_name
    from colorizekit.models import get_model_info, list_models

    given: dict[str, Path] = {}
    for path in settings.weights:
        name = weights_model_name(path)  # WeightsError (a ValueError) naming the file
        if name in given:
            raise WeightsError(f"{path}: a second weights file for model {name!r} (the first is {given[name]})")
        given[name] = Path(path)
    entries = {}
    for name in list_models():
        info = get_model_info(name)
        if name in given:
            weights, source = given[name], "file"
        elif default_weights_path(name) is not None:
            weights, source = None, "shipped"
        else:
            weights, source = None, None
        entries[name] = ModelEntry(name, info.color_mode, info.description, info.size_multiple, weights, source)
    return entries


# -- reading the upload -------------------------------------------------------------------------------

@dataclass
class Upload:
    """A multipart form read into memory."""

    filename: str = "upload"  # client's file name, without folders
    data: bytearray = field(default_factory=bytearray)  # the file's bytes
    fields: dict[str, str] = field(default_factory=dict)  # text fields
    has_file: bool = False  # a `file` part was present


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n < 1e9 else f"{n / 1e9:.2f} GB"


def _limit_text(limit: int) -> str:
    return f"{limit / 1e6:g} MB"


def _too_large(name: str | None, size: int | None, limit: int) -> HTTPException:
    what = f"{name}: file" if name else "upload"
    got = f" is {_megabytes(size)}," if size is not None else " is"
    return HTTPException(413, f"{what}{got} over the {_limit_text(limit)} upload limit")


def clean_filename(name: str | None) -> str:
    """The client's file name without folders or control characters, at most 120 characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[-120:] or "upload"


class _FormReader:
    """Feeds a multipart/form-data body to python-multipart, keeping everything in memory."""

    def __init__(self, boundary: bytes, max_file_bytes: int) -> None:
        self.max_file_bytes = max_file_bytes
        self.upload = Upload()
        self.ended = False
        self._parts = 0
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._kind: str | None = None  # "file", "field" or None (ignored part)
        self._name = ""
        self._value = bytearray()
        self.parser = MultipartParser(boundary, {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        })

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > _MAX_PARTS:
            raise HTTPException(400, f"multipart body has more than {_MAX_PARTS} parts")
        self._headers, self._kind, self._value = {}, None, bytearray()

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b"").decode("latin-1"))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if name == "file":
            if self.upload.has_file:
                raise HTTPException(400, "more than one 'file' part; send one photo per request")
            self.upload.has_file = True
            self.upload.filename = clean_filename(params.get(b"filename", b"").decode("utf-8", "replace"))
            self._kind = "file"
        elif b"filename" not in params and name:
            self._kind, self._name = "field", name
        else:
            self._kind = None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._kind == "file":
            self.upload.data.extend(data[start:end])
            if len(self.upload.data) > self.max_file_bytes:
                raise _too_large(self.upload.filename, None, self.max_file_bytes)
        elif self._kind == "field":
            self._value.extend(data[start:end])
            if len(self._value) > _MAX_FIELD_BYTES:
                raise HTTPException(400, f"form field {self._name!r} is longer than {_MAX_FIELD_BYTES} bytes")

    def _part_end(self) -> None:
        if self._kind == "field":
            self.upload.fields[self._name] = self._value.decode("utf-8", "replace").strip()

    def _end(self) -> None:
        self.ended = True


async def read_upload(request: Request, max_file_bytes: int) -> Upload:
    """The request's multipart form, with the file's size held to `max_file_bytes` (HTTPException 413)
    by the Content-Length header when there is one and by counting bytes as they arrive in any case."""
    content_type, params = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data":
        got = content_type.decode("latin-1") or "no Content-Type"
        raise HTTPException(415, f"expected a multipart/form-data upload with a 'file' field, got {got}")
    boundary = params.get(b"boundary")
    if not boundary:
        raise HTTPException(400, "multipart/form-data without a boundary")
    max_body = max_file_bytes + _FORM_OVERHEAD
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise HTTPException(400, f"bad Content-Length {length!r}")
        if int(length) > max_body:
            raise _too_large(None, int(length), max_file_bytes)
    reader = _FormReader(boundary, max_file_bytes)
    received = 0
    try:
        async for chunk in request.stream():
            reader.parser.write(chunk)  # raises 413 naming the file once the file part is over the limit
            received += len(chunk)
            if received > max_body:  # a body whose bulk is not the file
                raise _too_large(None, None, max_file_bytes)
        reader.parser.finalize()
    except HTTPException:
        raise
    except Exception as exc:  # python-multipart's parse errors, a client that went away mid-body
        raise HTTPException(400, f"malformed multipart body ({type(exc).__name__}: {exc})") from None
    if not reader.ended:
        raise HTTPException(400, "incomplete multipart body (no closing boundary)")
    if not reader.upload.has_file:
        raise HTTPException(400, "no 'file' field in the upload")
    if not reader.upload.data:
        raise HTTPException(400, f"{reader.upload.filename}: empty file")
    return reader.upload


# -- checking and colorizing the image ----------------------------------------------------------------

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
    from colorizekit.imageio import ImageError, load_image

    try:
        load_image(data, max_pixels=max_pixels)
    except ImageError as exc:
        return _image_error(exc, name)
    except Exception as exc:
        return HTTPException(422, f"{name}: cannot decode image ({type(exc).__name__}: {exc})")
    return HTTPException(415, f"{name}: not an image Pillow can identify")


def _image_error(exc: Exception, name: str) -> HTTPException:
    """An imageio ImageError as 413 (too large), 415 (not an image) or 422 (damaged, truncated...)."""
    message = _rename(str(exc), name)
    status = 413 if "too large" in message else 415 if "not an image" in message else 422
    return HTTPException(status, message)


def output_format(input_format: str) -> str:
    """The format a photo comes back in: the input's when the page and the encoder keep it, else PNG."""
    return input_format if input_format in _KEPT_FORMATS else "PNG"


def output_filename(upload_name: str, fmt: str) -> str:
    """`<stem>_color.<ext>`: the input's suffix when it suits `fmt`, else the format's usual one."""
    path = Path(upload_name)
    stem = path.stem if path.suffix else path.name
    suffix = path.suffix if path.suffix.lower() in _SUFFIXES[fmt] else _SUFFIXES[fmt][0]
    return f"{stem or 'photo'}_color{suffix}"


def content_disposition(filename: str) -> str:
    """An attachment header with an ASCII `filename` and, for other names, an RFC 5987 `filename*`."""
    ascii_name = re.sub(r"[^A-Za-z0-9._ -]", "_", filename)
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header


@dataclass
class _Job:
    data: bytes  # the uploaded file
    name: str  # its cleaned file name
    probe: Probe  # its header
    model: str  # model to use
    size: int  # working size
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
            self._executor.submit(self._preload, default.name, self.settings.size)

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

    async def submit(self, data: bytes, name: str, probe: Probe, model: str, size: int) -> _Result:
        """Queue a job and wait for its result; HTTPException 503 when the queue is full."""
        if not self.running or self.queue is None:
            raise HTTPException(503, "the colorizing worker is not running")
        job = _Job(data, name, probe, model, size, asyncio.get_running_loop().create_future())
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
        colorizer = self.factory(model, self.models[model].weights, size)
        self._colorizers[key] = colorizer
        return colorizer

    def _run_batch(self, batch: list[_Job]) -> list[_Result | BaseException]:
        """Decode, colorize (grouped by model and size) and encode; one job's failure spares the rest."""
        from colorizekit.checkpoint import WeightsError
        from colorizekit.imageio import ImageError, load_image

        outcomes: list[_Result | BaseException | None] = [None] * len(batch)
        groups: dict[tuple[str, int], list[tuple[int, Any]]] = {}
        for i, job in enumerate(batch):
            try:
                image = load_image(bytes(job.data), max_pixels=self.settings.max_pixels)
            except ImageError as exc:  # truncated or corrupt data (the probe caught the rest)
                outcomes[i] = _image_error(exc, job.name)
                continue
            except Exception as exc:
                outcomes[i] = HTTPException(422, f"{job.name}: cannot decode image ({type(exc).__name__}: {exc})")
                continue
            groups.setdefault((job.model, job.size), []).append((i, image))
        for (model, size), members in groups.items():
            try:
                colorizer = self._colorizer(model, size)
                rgbs = colorizer.colorize_loaded([image for _, image in members])
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
        bit_depth = 16 if image.bit_depth == 16 and fmt in _SIXTEEN_BIT_FORMATS else 8
        from colorizekit.imageio import encode_image

        body = encode_image(rgb, format=fmt, bit_depth=bit_depth, exif=image.exif, icc_profile=image.icc_profile,
                            name=job.name)
        return _Result(body, _KEPT_FORMATS[fmt], output_filename(job.name, fmt))


def _rename(message: str, name: str) -> str:
    """imageio's "<name>: <problem>" with the upload's file name as <name>."""
    head, sep, problem = message.partition(": ")
    return f"{name}: {problem}" if sep and "\n" not in head and len(head) < 200 else f"{name}: {message}"


# -- the app ------------------------------------------------------------------------------------------

class _SecurityHeaders:
    """ASGI middleware: nosniff everywhere, and a same-origin-only Content-Security-Policy outside /docs."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = not scope["path"].startswith(_NO_CSP_PREFIXES)

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                if csp:
                    headers.append((b"content-security-policy", _CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {"type": "string", "format": "binary", "description": "a photo (JPEG, PNG, WebP, TIFF, GIF, BMP...)"},
                "model": {"type": "string", "description": "model name (default: the server's)"},
                "size": {"type": "integer", "description": "working size, short side in pixels"},
            },
        }}},
    },
    "responses": {
        "200": {"description": "the colour photo, same size, in the input's format (GIF, BMP... -> PNG)",
                "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}, "image/tiff": {}}},
        "400": {"description": "empty upload, no file field, malformed form"},
        "413": {"description": "file over the upload limit, or image over the pixel limit"},
        "415": {"description": "not an image"},
        "422": {"description": "undecodable (truncated, corrupt) image; unknown model; bad size"},
        "503": {"description": "queue full (Retry-After), or model without weights"},
    },
}


def default_colorizer_factory(settings: ServeSettings) -> ColorizerFactory:
    """Builds `colorizekit.colorize.Colorizer`s on `settings.device` with `settings.batch_size`."""

    def make(model: str, weights: Path | None, size: int) -> ColorizerLike:
        from colorizekit.colorize import Colorizer

        return Colorizer(model=model, weights=weights, device=settings.device, size=size,
                         batch_size=settings.batch_size)

    return make


def create_app(settings: ServeSettings, *, colorizer_factory: ColorizerFactory | None = None) -> FastAPI:
    """The FastAPI app for `settings`.

    Reads every `settings.weights` file to learn its model (WeightsError on a bad file).
    `colorizer_factory(model, weights_or_None, size)` builds colorizers (tests pass a fake one);
    the default builds `colorizekit.colorize.Colorizer`s.
    """
    models = find_models(settings)
    service = ColorizeService(settings, models, colorizer_factory or default_colorizer_factory(settings))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="colorizekit", version=__version__, lifespan=lifespan,
                  description="Colorize grayscale photos at their full resolution.")
    app.state.settings = settings
    app.state.service = service
    app.add_middleware(_SecurityHeaders)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}"}, status_code=500)

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html",
                            headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.head("/healthz", include_in_schema=False)
    async def healthz_head() -> Response:
        return Response(status_code=200)

    @app.get("/healthz", summary="Liveness and queue depth")
    async def healthz() -> dict[str, Any]:
        return {
            "status": "ok" if service.running else "starting",
            "version": __version__,
            "queued": service.queue.qsize() if service.queue else 0,
            "in_progress": service.in_progress,
            "queue_size": settings.queue_size,
            "done": service.done,
        }

    @app.get("/api/models", summary="Models, their colour modes, whether weights are present, the default")
    async def api_models() -> dict[str, Any]:
        return {
            "default": settings.model,
            "size": settings.size,
            "max_size": settings.max_size,
            "max_upload_bytes": settings.max_upload_bytes,
            "max_pixels": settings.max_pixels,
            "models": [
                {"name": m.name, "color_mode": m.color_mode, "description": m.description,
                 "weights": m.available, "weights_source": m.source, "reason": m.reason,
                 "default": m.name == settings.model}
                for m in models.values()
            ],
        }

    @app.post("/api/colorize", summary="Colorize one photo; returns it in colour, same size and format",
              response_class=Response, openapi_extra=_UPLOAD_SCHEMA)
    async def api_colorize(request: Request) -> Response:
        upload = await read_upload(request, settings.max_upload_bytes)
        model = upload.fields.get("model") or settings.model
        if model not in models:
            raise HTTPException(422, f"unknown model {model!r}; available models: {', '.join(models)}")
        entry = models[model]
        if not entry.available:
            raise HTTPException(503, entry.reason)
        size = _parse_size(upload.fields.get("size"), settings, entry)
        data = bytes(upload.data)
        del upload.data[:]
        probe = await run_in_threadpool(probe_image, data, upload.filename, settings.max_pixels)
        result = await service.submit(data, upload.filename, probe, model, size)
        return Response(result.body, media_type=result.media_type, headers={
            "Content-Disposition": content_disposition(result.filename),
            "X-Colorizekit-Model": model,
            "Cache-Control": "no-store",
        })

    return app


def _parse_size(text: str | None, settings: ServeSettings, entry: ModelEntry) -> int:
    if not text:
        return settings.size
    if not text.isdigit():
        raise HTTPException(422, f"size must be a whole number of pixels, got {text[:40]!r}")
    size = int(text)
    if not entry.size_multiple <= size <= settings.max_size:
        raise HTTPException(422, f"size must be between {entry.size_multiple} and {settings.max_size}, got {size}")
    return size
