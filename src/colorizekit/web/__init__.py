"""The web page and HTTP API behind `colorizekit serve`: `create_app(ServeSettings(...))` -> a FastAPI app.

Modules: `settings` (what the server is told, which models it can serve), `upload` (reading a
multipart upload into memory), `service` (probing, queueing and colorizing photos), `app` (the routes).
Needs the `serve` extras (fastapi, uvicorn, python-multipart).
"""

from colorizekit.web.app import create_app
from colorizekit.web.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]
