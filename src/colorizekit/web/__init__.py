"""The web page and HTTP API behind `colorizekit serve`: `create_app(ServeSettings(...))` -> a FastAPI app.

Needs the `serve` extras (fastapi, uvicorn, python-multipart).
"""

from colorizekit.web.app import ServeSettings, create_app

__all__ = ["ServeSettings", "create_app"]
