"""The web page and HTTP API behind `colorizekit serve`: `create_app(ServeSettings(...))` -> a FastAPI app.

Modules: `settings` (what the server is told, which models it can serve), `upload` (reading a
multipart upload into memory), `service` (probing, queueing and colorizing photos), `app` (the routes).
Needs the `serve` extras (fastapi, uvicorn, python-multipart).
"""

from colorizekit.web.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]


def __getattr__(name: str):
    """`colorizekit.web.create_app`, imported on first use, so that the settings (and the CLI's
    defaults) can be read without the serve extras installed."""
    if name == "create_app":
        from colorizekit.web.app import create_app

        return create_app
    raise AttributeError(f"module 'colorizekit.web' has no attribute {name!r}")
