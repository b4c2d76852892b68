"""`GET /docs`: the API's Swagger UI page, served with its JavaScript and CSS from this server.

FastAPI's own `/docs` loads Swagger UI from a CDN, so it is blank offline and on the closed networks
colorizekit is meant for. Here the page's assets (Swagger UI 5, which reads FastAPI's OpenAPI 3.1) come
from the files of the `fastapi-offline` package (part of the `serve` extra, MIT; only its files are
used), mounted at `/docs/assets`; ReDoc is off. The machine-readable schema stays at `/openapi.json`.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/docs"
ASSETS_PATH = DOCS_PATH + "/assets"
# Swagger UI's page starts itself with an inline script and styles parts of itself inline; every
# other source stays this server ('self').
DOCS_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'")


def add_docs(app: FastAPI) -> None:
    """Serve Swagger UI at `/docs` for `app.openapi_url`, its files at `/docs/assets/`."""
    assets = files("fastapi_offline") / "static"
    app.mount(ASSETS_PATH, StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title}: API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None})  # no badge from the public validator
