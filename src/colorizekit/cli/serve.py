"""`colorizekit serve`: the web page and HTTP API."""

from __future__ import annotations

import argparse
import sys

from colorizekit.cli.options import BACKEND_HELP, SIZE_DEFAULT, add_device_options
from colorizekit.infer.backends import BACKENDS, DEFAULT_BACKEND
from colorizekit.weights import DEFAULT_MODEL


def add(sub: argparse._SubParsersAction) -> None:
    from colorizekit.web.settings import DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_MAX_UPLOAD_PIXELS

    p = sub.add_parser("serve", help="start a web page and HTTP API for colorizing photos",
                       description="Serve a page for colorizing photos, and its HTTP API (POST /api/colorize, "
                                   "GET /api/models, GET /healthz, docs at /docs), with uvicorn. Listens on this "
                                   "machine only unless --host says otherwise; there is no authentication.")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1, loopback only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"model used when a request names none (default: {DEFAULT_MODEL})")
    p.add_argument("--weights", action="append", default=[], metavar="FILE",
                   help="weights file (repeatable; its model is read from the file; .onnx files need --backend "
                        "onnx; default: the shipped weights)")
    p.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND, help=BACKEND_HELP)
    p.add_argument("--size", type=int, default=None,
                   help=f"working size used when a request names none (default: {SIZE_DEFAULT})")
    p.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_BYTES / 1e6,
                   help=f"largest accepted file in MB (default: {DEFAULT_MAX_UPLOAD_BYTES / 1e6:g})")
    p.add_argument("--max-megapixels", type=float, default=DEFAULT_MAX_UPLOAD_PIXELS / 1e6,
                   help=f"largest accepted image in megapixels (default: {DEFAULT_MAX_UPLOAD_PIXELS / 1e6:g})")
    p.add_argument("--queue-size", type=int, default=16,
                   help="requests that may wait beyond the batch in progress; more are refused with 503 (default: 16)")
    add_device_options(p, "most requests colorized together")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                   help="uvicorn's log level (default: info)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from colorizekit.web import ServeSettings, create_app
        from colorizekit.web.settings import startup_warnings
    except ImportError as exc:
        raise ValueError(f"needs the serve extras ({exc.name} is not installed): pip install 'colorizekit[serve]'") from None
    settings = ServeSettings(host=args.host, port=args.port, model=args.model, weights=tuple(args.weights),
                             size=args.size, max_size=max(1024, args.size or 0), batch_size=args.batch_size,
                             max_upload_bytes=int(args.max_upload_mb * 1e6),
                             max_pixels=int(args.max_megapixels * 1e6), queue_size=args.queue_size,
                             device=args.device, backend=args.backend)
    app = create_app(settings)
    for line in startup_warnings(settings, app.state.models):
        print(f"warning: {line}", file=sys.stderr)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: other machines can reach this server, which has no "
              "authentication", file=sys.stderr)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"colorizekit serve: open http://{host}:{args.port}/ (Ctrl+C stops)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
