"""Load check for `colorizekit serve`: N concurrent uploads over loopback; throughput, latency, status codes.

Starts `colorizekit serve` in a subprocess on a free loopback port (or targets `--url`), then sends
`--requests` uploads of grayscale JPEGs from this process with `--concurrency` threads, bounded in
count and in time. Reports photos/s, latency p50/p95/max, the status codes, and whether every 200
response decodes to an image of the uploaded size. Timing does not depend on the weights' values,
so without `--weights` the server gets randomly initialised weights (colours meaningless).

Exits 1 when a 200 response is not an image of the right size, a request fails without an answer,
or a 5xx comes back while the concurrency is within the server's queue (queue size + batch size).

    python benchmarks/serve_load.py                              # 32 uploads, 8 at a time, 640 x 480
    python benchmarks/serve_load.py --requests 64 --concurrency 32 --queue-size 8   # expect some 503s
    python benchmarks/serve_load.py --url http://127.0.0.1:8000  # a server that is already running
"""

from __future__ import annotations

import argparse
import io
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from colorizekit.weights import DEFAULT_MODEL, DEFAULT_SIZE


@dataclass(frozen=True)
class Outcome:
    status: int | None  # HTTP status, None when no answer came
    seconds: float  # request latency
    image_ok: bool  # a 200 whose body decodes to an image of the uploaded size
    note: str  # error detail or exception, for the report


def make_photo(width: int, height: int, seed: int) -> bytes:
    """A grayscale JPEG with smooth structure and fine texture (realistic decode/encode costs)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(height // 32 + 1, width // 32 + 1)).astype(np.float32)
    img = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), dtype=np.float32)
    img = np.clip(img + rng.normal(0, 12, size=img.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img, mode="L").save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args: argparse.Namespace, workdir: Path) -> tuple[subprocess.Popen, str, str]:
    """`colorizekit serve` on a free loopback port; returns the process, its URL and what weights it has."""
    weights = list(args.weights)
    described = ", ".join(weights) if weights else "random"
    if not weights:
        import torch

        from colorizekit.models import create_model
        from colorizekit.weights import export_weights

        torch.manual_seed(0)
        path = workdir / f"{args.model}-random.safetensors"
        export_weights(path, args.model, create_model(args.model).state_dict(), card={"benchmark": True})
        weights = [str(path)]
    port = free_port()
    cmd = [sys.executable, "-m", "colorizekit", "serve", "--port", str(port), "--model", args.model,
           "--size", str(args.size), "--queue-size", str(args.queue_size), "--batch-size", str(args.batch_size),
           "--log-level", "warning"]
    for w in weights:
        cmd += ["--weights", w]
    if args.device:
        cmd += ["--device", args.device]
    log = open(workdir / "server.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url, described
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"server did not start:\n{(workdir / 'server.log').read_text()[-3000:]}")
        time.sleep(0.2)


def upload(client: httpx.Client, url: str, data: bytes, name: str, size: tuple[int, int], model: str | None,
           timeout: float) -> Outcome:
    fields = {"model": model} if model else {}
    start = time.perf_counter()
    try:
        r = client.post(f"{url}/api/colorize", files={"file": (name, data, "image/jpeg")}, data=fields,
                        timeout=timeout)
    except httpx.HTTPError as exc:
        return Outcome(None, time.perf_counter() - start, False, f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - start
    if r.status_code != 200:
        try:
            note = r.json().get("detail", "")
        except ValueError:
            note = r.text[:200]
        return Outcome(r.status_code, seconds, False, note)
    try:
        with Image.open(io.BytesIO(r.content)) as im:
            im.load()
            ok = im.size == size
            note = "" if ok else f"got {im.size[0]} x {im.size[1]}, sent {size[0]} x {size[1]}"
    except Exception as exc:
        ok, note = False, f"undecodable response ({type(exc).__name__}: {exc})"
    return Outcome(200, seconds, ok, note)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="target a running server instead of starting one")
    ap.add_argument("--requests", type=int, default=32, help="uploads in all (default 32)")
    ap.add_argument("--concurrency", type=int, default=8, help="uploads in flight at once (default 8)")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--model", default=DEFAULT_MODEL, help=f"model to request (default {DEFAULT_MODEL})")
    ap.add_argument("--weights", action="append", default=[], help="weights file(s) for the started server")
    ap.add_argument("--size", type=int, default=DEFAULT_SIZE,
                    help=f"started server's working size (default {DEFAULT_SIZE})")
    ap.add_argument("--queue-size", type=int, default=16, help="started server's queue size (default 16)")
    ap.add_argument("--batch-size", type=int, default=4, help="started server's batch size (default 4)")
    ap.add_argument("--device", help="started server's device (default: cuda when present)")
    ap.add_argument("--time-limit", type=float, default=600, help="stop sending after this many seconds (default 600)")
    ap.add_argument("--request-timeout", type=float, default=300, help="per-request timeout, s (default 300)")
    args = ap.parse_args()
    if args.requests < 1 or args.concurrency < 1:
        ap.error("--requests and --concurrency must be at least 1")

    size = (args.width, args.height)
    photos = [make_photo(args.width, args.height, seed) for seed in range(4)]
    with tempfile.TemporaryDirectory() as tmp:
        proc = None
        if args.url:
            url, weights = args.url.rstrip("/"), "the server's"
        else:
            proc, url, weights = start_server(args, Path(tmp))
        try:
            with httpx.Client(limits=httpx.Limits(max_connections=args.concurrency + 2)) as client:
                health = client.get(f"{url}/healthz", timeout=10).json()
                queue_size = health.get("queue_size", args.queue_size)
                warm = upload(client, url, photos[0], "warmup.jpg", size, args.model, args.request_timeout)
                print(f"server: {url} ({'started here' if proc else 'given'}), model {args.model}, weights {weights}, "
                      f"queue size {queue_size}, batch size {args.batch_size if proc else '?'}")
                print(f"client: {platform.python_implementation()} {platform.python_version()}, httpx, "
                      f"{args.concurrency} threads; {args.requests} uploads of {args.width} x {args.height} "
                      f"JPEG ({len(photos[0]) / 1e3:.0f} kB)")
                print(f"warm-up request: {warm.status} in {warm.seconds:.2f} s {warm.note}")

                deadline = time.monotonic() + args.time_limit
                stop = threading.Event()
                outcomes: list[Outcome] = []

                def one(i: int) -> Outcome | None:
                    if stop.is_set() or time.monotonic() > deadline:
                        stop.set()
                        return None
                    return upload(client, url, photos[i % len(photos)], f"photo{i}.jpg", size, args.model,
                                  args.request_timeout)

                started = time.perf_counter()
                with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
                    for future in as_completed([pool.submit(one, i) for i in range(args.requests)]):
                        result = future.result()
                        if result is not None:
                            outcomes.append(result)
                wall = time.perf_counter() - started
                final = client.get(f"{url}/healthz", timeout=10).json()
        finally:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()

    codes = Counter("no answer" if o.status is None else str(o.status) for o in outcomes)
    latencies = [o.seconds for o in outcomes]
    good = [o for o in outcomes if o.image_ok]
    bad_images = [o for o in outcomes if o.status == 200 and not o.image_ok]
    server_errors = [o for o in outcomes if o.status is not None and o.status >= 500]
    no_answer = [o for o in outcomes if o.status is None]
    print(f"sent {len(outcomes)} of {args.requests} in {wall:.1f} s"
          + (" (time limit reached)" if len(outcomes) < args.requests else ""))
    print(f"throughput: {len(good) / wall:.2f} photos/s ({len(good)} colorized)")
    print(f"latency: p50 {percentile(latencies, 50):.2f} s, p95 {percentile(latencies, 95):.2f} s, "
          f"max {max(latencies, default=float('nan')):.2f} s")
    print("status codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(codes.items())))
    print(f"200 responses decoding to {args.width} x {args.height}: {len(good)} of {codes.get('200', 0)}")
    print(f"server after the run: {final}")
    for o in (bad_images + server_errors + no_answer)[:5]:
        print(f"  {o.status}: {o.note}")

    within_queue = args.concurrency <= queue_size + (args.batch_size if proc else 1)
    failed = bool(bad_images or no_answer or (server_errors and within_queue))
    if server_errors and not within_queue:
        print(f"note: {len(server_errors)} 5xx with concurrency {args.concurrency} above the queue's room "
              f"({queue_size} waiting + the batch in progress): expected 503s")
    print("result: FAIL" if failed else "result: OK")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
