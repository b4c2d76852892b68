"""A static web server for a built page that sends the cross-origin isolation headers (COOP/COEP) that
WASM threads need, and the page's Content-Security-Policy as a header, which also binds its Web Worker
(`python -m colorizekit.web.page.serve site/ [--port 8000]`).

Any static host serves the page; without these two headers the browser gives it no SharedArrayBuffer,
and onnxruntime-web runs on one thread (the page says so). `python -m http.server` sends none of them.
"""

from __future__ import annotations

import argparse
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from colorizekit.web.page.build import CSP

ISOLATION_HEADERS = {  # what makes a page cross-origin isolated (and so able to run WASM threads)
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
}
TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
         ".onnx": "application/octet-stream", ".gz": "application/octet-stream", ".json": "application/json"}


class PageHandler(SimpleHTTPRequestHandler):
    """Serves one folder, with the isolation headers and the CSP, no caching, and no request log unless
    `verbose`; the paths asked for are appended to `requested` when it is a list."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **TYPES}
    verbose = False
    requested: list[str] | None = None

    def end_headers(self) -> None:
        if self.requested is not None:
            self.requested.append(self.path)
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        if self.verbose:
            super().log_message(format, *args)


def make_server(folder: str | Path, host: str = "127.0.0.1", port: int = 0, verbose: bool = False,
                requested: list[str] | None = None) -> ThreadingHTTPServer:
    """A server for `folder` on `host`:`port` (0: a free port), recording the paths asked for in
    `requested` when given; not yet serving."""
    folder = Path(folder)
    if not (folder / "index.html").is_file():
        raise ValueError(f"{folder} is not a built page (no index.html); run `colorizekit build-page -o {folder}`")
    handler_type = type("Handler", (PageHandler,), {"verbose": verbose, "requested": requested})
    handler = functools.partial(handler_type, directory=str(folder))
    return ThreadingHTTPServer((host, port), handler)


@contextmanager
def serving(folder: str | Path, host: str = "127.0.0.1", requested: list[str] | None = None) -> Iterator[str]:
    """Serve `folder` on a free port in a background thread while the block runs; yields its URL."""
    server = make_server(folder, host, requested=requested)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="a folder written by `colorizekit build-page`")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    server = make_server(args.folder, args.host, args.port, verbose=True)
    print(f"serving {args.folder} at http://{args.host}:{server.server_address[1]}/ (cross-origin isolated)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
