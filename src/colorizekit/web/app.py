"""The FastAPI app behind `colorizekit serve`: a page for colorizing photos and the HTTP API it uses.

Endpoints:
- `GET /` the page (`templates/server.html` rendered, `static/app.css`, `static/app.js`; nothing is loaded from elsewhere);
- `GET /api/models` the models: colour mode, description, whether weights are present, whether
  decoding has a vividness control and the weights' default vividness, their default saturation and
  working size, the default model;
- `POST /api/colorize` multipart `file` (optional fields `model`, `size`, `saturation` from 0 gray
  through 1 as predicted to MAX_SATURATION, and `vividness` from 0 muted to 1 vivid for models with a
  bins head) -> the colour photo, same width and height, in the input's
  format (JPEG, PNG, WebP and TIFF are kept; GIF, BMP and other formats come back as PNG), EXIF and
  ICC profile carried over;
- `GET /healthz` liveness and queue depth. OpenAPI docs are at `/docs` (Swagger UI, served from here:
  `docs`), the schema at `/openapi.json`;
- `GET /browser/` the browser page of `colorizekit build-page` for the default model (`colorizekit.web.page`):
  the model is served from here and runs in the visitor's browser; built into the cache on first request.

Errors are JSON `{"detail": "<one line>"}`. Status codes of `POST /api/colorize`:
- 400: empty upload, no `file` field, malformed multipart body, a form field too long;
- 413: upload over `max_upload_bytes` (checked from Content-Length, then counted while reading, so
  an oversized body is never held in memory), or an image over `max_pixels` (a decompression bomb:
  413 rather than 422 because, as for a large file, the remedy is a smaller image);
- 415: not an image Pillow can identify, or a body that is not multipart/form-data;
- 422: an image that cannot be decoded (truncated, corrupt), an unknown model, a bad `size`, a
  `saturation` out of range, a `vividness` that is not a number from 0 to 1 or is given for a model
  without a bins head;
- 503: the queue is full (with Retry-After), or the model has no weights (no Retry-After: start the
  server with `--weights`).

Uploads are read into memory and never written to disk (`upload`); the photo is probed, queued and
colorized by the service (`service`); `settings` holds what the server is told. This module holds
the routes.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from colorizekit.color import MAX_SATURATION, SATURATION_RANGE, check_saturation
from colorizekit.models import get_model_info
from colorizekit.version import __version__
from colorizekit.web.docs import DOCS_CSP, DOCS_PATH, add_docs
from colorizekit.web.markup import render_page
from colorizekit.web.page.build import CSP as BROWSER_PAGE_CSP
from colorizekit.web.page.cache import cached_page
from colorizekit.web.page.serve import ISOLATION_HEADERS, TYPES
from colorizekit.web.service import ColorizerFactory, ColorizeService, default_colorizer_factory, probe_image
from colorizekit.web.settings import ModelEntry, ServeSettings, find_models
from colorizekit.web.upload import read_upload

log = logging.getLogger("colorizekit.serve")

STATIC_DIR = Path(__file__).resolve().parent / "static"
_BROWSER_PREFIX = "/browser"  # the browser page (colorizekit.web.page): its own CSP, which lets it run WebAssembly
_CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def content_disposition(filename: str) -> str:
    """An attachment header with an ASCII `filename` and, for other names, an RFC 5987 `filename*`."""
    ascii_name = re.sub(r"[^A-Za-z0-9._ -]", "_", filename)
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header


class _SecurityHeaders:
    """ASGI middleware: nosniff everywhere, and a Content-Security-Policy that keeps every page to this
    server (the browser page may run WebAssembly, the docs page its inline start-up script)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        csp = DOCS_CSP if path.startswith(DOCS_PATH) else \
            BROWSER_PAGE_CSP if path.startswith(_BROWSER_PREFIX) else _CSP

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                headers.append((b"content-security-policy", csp.encode()))
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
                "file": {"type": "string", "format": "binary",
                         "description": "a photo (JPEG, PNG, WebP, TIFF, GIF, BMP...)"},
                "model": {"type": "string", "description": "model name (default: the server's)"},
                "size": {"type": "integer", "description": "working size, short side in pixels"},
                "vividness": {"type": "number", "minimum": 0, "maximum": 1,
                              "description": "models with a bins head only (see GET /api/models): 0 muted (the "
                                             "predicted colours' mean) ... 1 vivid (the mean's hue, more chroma); "
                                             "default: the weights' measured default"},
                "saturation": {"type": "number", "minimum": 0, "maximum": MAX_SATURATION,
                               "description": "factor on the predicted colours' chroma, any model: 0 gray, 1 as "
                                              "predicted; default: the weights' measured default"},
            },
        }}},
    },
    "responses": {
        "200": {"description": "the colour photo, same size, in the input's format (GIF, BMP... -> PNG)",
                "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}, "image/tiff": {}}},
        "400": {"description": "empty upload, no file field, malformed form"},
        "413": {"description": "file over the upload limit, or image over the pixel limit"},
        "415": {"description": "not an image"},
        "422": {"description": "undecodable (truncated, corrupt) image; unknown model; bad size; saturation out "
                               "of range; vividness out of [0, 1] or for a model without a bins head"},
        "503": {"description": "queue full (Retry-After), or model without weights"},
    },
}


def create_app(settings: ServeSettings, *, colorizer_factory: ColorizerFactory | None = None) -> FastAPI:
    """The FastAPI app for `settings`.

    Reads every `settings.weights` file to learn its model (WeightsError on a bad file).
    `colorizer_factory(model, weights_file, size)` builds colorizers (tests pass a fake one);
    the default builds `colorizekit.infer.colorizer.Colorizer`s.
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

    app = FastAPI(title="colorizekit", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Colorize grayscale photos at their full resolution.")
    app.state.settings = settings
    app.state.models = models
    app.state.service = service
    app.add_middleware(_SecurityHeaders)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}"}, status_code=500)

    index_html = render_page("server.html")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(index_html, headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    _add_api_routes(app, settings, models, service)
    _add_browser_page(app, settings, models)
    add_docs(app)
    return app


def _add_browser_page(app: FastAPI, settings: ServeSettings, models: dict[str, ModelEntry]) -> None:
    """`GET /browser/...`: the browser page for the default model, cross-origin isolated (COOP/COEP) so
    that its WASM runs on several threads; 503 when the model has no weights."""
    @app.get(_BROWSER_PREFIX, include_in_schema=False)
    async def browser_redirect() -> RedirectResponse:
        return RedirectResponse(f"{_BROWSER_PREFIX}/")

    @app.get(_BROWSER_PREFIX + "/{path:path}", include_in_schema=False)
    async def browser_page(path: str) -> FileResponse:
        entry = models[settings.model]
        if not entry.available or entry.weights is None:
            raise HTTPException(503, entry.reason)
        folder = (await run_in_threadpool(cached_page, entry.name, entry.weights)).resolve()
        target = (folder / (path or "index.html")).resolve()
        if not target.is_relative_to(folder) or not target.is_file():
            raise HTTPException(404, f"{_BROWSER_PREFIX}/{path}: no such file in the browser page")
        return FileResponse(target, media_type=TYPES.get(target.suffix),
                            headers={**ISOLATION_HEADERS, "Cache-Control": "no-cache"})


def _add_api_routes(app: FastAPI, settings: ServeSettings, models: dict[str, ModelEntry],
                    service: ColorizeService) -> None:
    """`/healthz`, `GET /api/models` and `POST /api/colorize`."""

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

    @app.get("/api/models", summary="Models: colour modes, whether weights are present, vividness controls, the default")
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
                 "vividness_control": m.vividness_control, "default_vividness": m.default_vividness,
                 "default_saturation": m.default_saturation, "default_size": settings.size_for(m),
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
        vividness = _parse_vividness(upload.fields.get("vividness"), entry)
        saturation = _parse_saturation(upload.fields.get("saturation"))
        data = bytes(upload.data)
        del upload.data[:]
        probe = await run_in_threadpool(probe_image, data, upload.filename, settings.max_pixels)
        result = await service.submit(data, upload.filename, probe, model, size, vividness, saturation)
        headers = {"Content-Disposition": content_disposition(result.filename), "X-Colorizekit-Model": model,
                   "Cache-Control": "no-store"}
        if entry.vividness_control:
            headers["X-Colorizekit-Vividness"] = f"{entry.default_vividness if vividness is None else vividness:g}"
        headers["X-Colorizekit-Saturation"] = f"{entry.default_saturation if saturation is None else saturation:g}"
        return Response(result.body, media_type=result.media_type, headers=headers)


def _parse_size(text: str | None, settings: ServeSettings, entry: ModelEntry) -> int:
    if not text:
        return settings.size_for(entry)
    if not text.isdigit():
        raise HTTPException(422, f"size must be a whole number of pixels, got {text[:40]!r}")
    size = int(text)
    if not entry.size_multiple <= size <= settings.max_size:
        raise HTTPException(422, f"size must be between {entry.size_multiple} and {settings.max_size}, got {size}")
    return size


def _parse_saturation(text: str | None) -> float | None:
    """The request's saturation, None when it gave none; 422 when it is not a number in range."""
    if not text:
        return None
    try:
        return check_saturation(float(text))
    except ValueError:
        raise HTTPException(422, f"saturation must be {SATURATION_RANGE}; got {text[:40]!r}") from None


def _parse_vividness(text: str | None, entry: ModelEntry) -> float | None:
    """The request's vividness, None when it gave none; 422 with the colour mode's one-line reason when
    it is not a number from 0 to 1 or the model has no vividness control."""
    if not text:
        return None
    try:
        vividness = float(text)
    except ValueError:  # not a number: the colour mode's check below says so, in its words
        vividness = None
    try:
        get_model_info(entry.name).mode.decode_options(text[:40] if vividness is None else vividness)  # type: ignore[arg-type]
    except ValueError as exc:
        raise HTTPException(422, f"model {entry.name!r}: {exc}") from None
    return vividness
