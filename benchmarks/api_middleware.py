"""What each piece of the request path costs: a cached GET /anomalies through the product's ASGI app,
called in-process, with one piece taken out at a time, against a bare FastAPI app serving the same bytes.

No server and no sockets: the app is called directly (`await app(scope, receive, send)`), so the figures
are the Python CPU time of the middleware and the route, without uvicorn's HTTP parsing (which both
servers pay alike, see benchmarks/api.py). Each variant runs in 3 interleaved rounds; the median
microseconds per request is reported, and the difference to the full product is what the piece costs.

Usage: python benchmarks/api_middleware.py [--requests 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fastapi import FastAPI  # noqa: E402
from loguru import logger  # noqa: E402
from starlette.responses import Response  # noqa: E402

from _common import scratch_dir, write_results  # noqa: E402
from api import KEY, seed  # noqa: E402
from santiway_anomaly.api.main import create_app  # noqa: E402
from santiway_anomaly.config import Settings, load_settings  # noqa: E402

URL, QUERY = "/anomalies", b"limit=100"


def _scope() -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": URL, "raw_path": URL.encode(), "query_string": QUERY, "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"x-api-key", KEY.encode())],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }


async def _drive(app: Any, n: int) -> tuple[float, bytes]:
    """CPU microseconds per request over n requests (after a warm-up that fills the cache), and the body."""
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    for _ in range(200):
        await app(_scope(), receive, send)
    last = body[-1]
    start = time.process_time()
    for _ in range(n):
        await app(_scope(), receive, send)
    return (time.process_time() - start) / n * 1e6, last


def _product(settings: Settings, drop: str | None = None) -> Callable[[int], tuple[float, bytes]]:
    def run(n: int) -> tuple[float, bytes]:
        app = create_app(settings)
        if drop:
            app.user_middleware = [m for m in app.user_middleware if getattr(m.cls, "__name__", "") != drop]

        async def go() -> tuple[float, bytes]:
            async with app.router.lifespan_context(app):
                return await _drive(app, n)

        return asyncio.run(go())

    return run


def _bare(body: bytes) -> Callable[[int], tuple[float, bytes]]:
    app = FastAPI()

    @app.get(URL)
    async def anomalies() -> Response:
        return Response(body, media_type="application/json")

    return lambda n: asyncio.run(_drive(app, n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logger.remove()  # the request log goes to a file, as a service's would, not to this terminal
    data_dir = scratch_dir("api-middleware")
    log = data_dir / "requests.log"
    logger.add(log, level="INFO")
    seed(data_dir, 5000, 1000)
    base = {"data_dir": data_dir, "_env_file": None, "valid_api_keys": [KEY],
            "rate_limit_list": "100000000/minute", "rate_limit_default": "100000000/minute"}
    full = load_settings(**base)
    _, body = _product(full)(1)
    variants: dict[str, Callable[[int], tuple[float, bytes]]] = {
        "product": _product(full),
        "without CORS gate": _product(full, drop="CorsForOrigins"),
        "without request log": _product(load_settings(**base, api_log_requests=False)),
        "without metrics and log": _product(full, drop="ObserveRequests"),
        "without key-in-URL refusal": _product(full, drop="RefuseKeyInQuery"),
        "without rate limit": _product(load_settings(**base, rate_limit_enabled=False)),
        "without API key check (dev mode)": _product(load_settings(**{**base, "valid_api_keys": []})),
        "bare FastAPI, same bytes": _bare(body),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for name in names:  # one discarded pass: the first runs in a process pay for warming up
        variants[name](args.requests // 10)
    for round_no in range(args.rounds):
        shift = round_no % len(names)  # a different variant goes first in each round
        for name in names[shift:] + names[:shift]:
            us, answer = variants[name](args.requests)
            assert answer == body, name  # every variant sends the same bytes
            samples[name].append(us)
    medians = {name: round(statistics.median(v), 1) for name, v in samples.items()}
    product, bare = medians["product"], medians["bare FastAPI, same bytes"]
    print(f"cached GET {URL}?{QUERY.decode()}, in-process, median of {args.rounds} rounds x {args.requests:,} requests")
    for name, us in medians.items():
        cost = f"the piece costs {product - us:5.1f} us" if name.startswith("without") else ""
        print(f"  {name:34s} {us:6.1f} us/request  {cost}")
    print(f"  product / bare: {product / bare:.2f}x")
    path = write_results("api_middleware", {
        "config": {"requests": args.requests, "rounds": args.rounds, "url": f"{URL}?{QUERY.decode()}",
                   "mode": "in-process ASGI calls, cached answer, production settings"},
        "us_per_request_median": medians,
        "us_per_request_rounds": samples,
        "piece_cost_us": {name.removeprefix("without "): round(product - us, 1)
                          for name, us in medians.items() if name.startswith("without")},
        "product_to_bare": round(product / bare, 2),
    })
    print(f"results: {path}")
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
