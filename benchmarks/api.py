"""REST throughput and latency: GET /anomalies and GET /anomalies/stats under 64 concurrent clients.

The service runs as it would in production (production mode with an API key, request logging on,
the rate limiter in the path with its limits raised so that it counts instead of refusing) in one
uvicorn process on 127.0.0.1; the load comes from another process: a small asyncio HTTP/1.1
keep-alive client (64 connections, one request in flight each), bounded in requests and seconds.
`GET /health` in the same run is the baseline (it, too, answers from a short-lived probe cache).

Target (issue 5): >= 1,000 requests/s and p99 <= 50 ms for GET /anomalies on 2 cores.
Usage: python benchmarks/api.py [--anomalies 50000] [--seconds 10] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import scratch_dir, write_results  # noqa: E402
from santiway_anomaly.anomaly import ANOMALY_TYPES, ROW_COLUMNS, Anomaly, severity_for  # noqa: E402
from santiway_anomaly.config import load_settings  # noqa: E402
from santiway_anomaly.sightings import STORED_SCHEMA  # noqa: E402
from santiway_anomaly.storage import Store  # noqa: E402

KEY = "bench-api-key-0123456789"
TARGET_RPS, TARGET_P99_MS = 1000.0, 50.0


# ---- data -------------------------------------------------------------------------------------


def seed(data_dir: Path, n_anomalies: int, n_sightings: int) -> None:
    """30 days of anomalies over 2,000 devices and 40 folders, and a day of sightings."""
    rng = np.random.default_rng(11)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    devices = [":".join(f"{b:02X}" for b in rng.integers(0, 256, 6)) for _ in range(2000)]
    folders = [f"folder-{i}" for i in range(40)]
    with Store.open(load_settings(data_dir=data_dir, _env_file=None)) as store:
        rows: list[list[Any]] = []
        for i in range(n_anomalies):
            kind = ANOMALY_TYPES[i % 4]
            score = float(rng.uniform(0.5, 1.0))
            start = now - timedelta(hours=int(rng.integers(1, 24 * 30)))
            rows.append(
                Anomaly(
                    anomaly_type=kind,
                    severity=str(severity_for(score)),
                    score=score,
                    window_start=start,
                    window_end=start + timedelta(hours=1),
                    device_id="" if kind == "density_spike" else devices[i % 2000],
                    folder=folders[i % 40],
                    details={"n": i},
                    anomaly_id=f"{i:032x}",
                ).to_row()
            )
            if len(rows) == 20_000:
                store.insert_rows("anomaly_ml.anomalies", rows, ROW_COLUMNS)
                rows = []
        if rows:
            store.insert_rows("anomaly_ml.anomalies", rows, ROW_COLUMNS)
        day_start_ms = int((now - timedelta(days=1)).timestamp() * 1000)
        ts = np.sort(rng.integers(0, 86_400_000, n_sightings)) + day_start_ms
        store.insert_arrow(
            "santi.way_data",
            pa.table(
                {
                    "ts": pa.array(ts, type=pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
                    "device_id": pa.array([devices[i] for i in rng.integers(0, 2000, n_sightings)]),
                    "sensor_id": pa.array([f"s-{i}" for i in rng.integers(0, 200, n_sightings)]),
                    "folder": pa.array([folders[i] for i in rng.integers(0, 40, n_sightings)]),
                    "network_type": pa.array(["wifi"] * n_sightings),
                    "rssi": pa.array(rng.integers(-100, -30, n_sightings), type=pa.int16()),
                    "lat": pa.array(rng.uniform(55.5, 56.0, n_sightings)),
                    "lon": pa.array(rng.uniform(37.3, 37.9, n_sightings)),
                    "vendor": pa.array(["Bench"] * n_sightings),
                    "is_randomized": pa.array(np.zeros(n_sightings, dtype=np.uint8)),
                },
                schema=STORED_SCHEMA,
            ),
        )


# ---- server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data_dir: Path, port: int, log: Path, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VALID_API_KEYS", "RATE_LIMIT", "API_"))}
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "VALID_API_KEYS": KEY,
            "LOG_LEVEL": "INFO",
            # Limits raised, not disabled: the limiter's bookkeeping stays in every request.
            "RATE_LIMIT_LIST": "100000000/minute",
            "RATE_LIMIT_DEFAULT": "100000000/minute",
            **extra_env,
        }
    )
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "santiway_anomaly.api.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--loop",
                "uvloop",
                "--http",
                "httptools",
            ],
            cwd=data_dir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1"):
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to state the server's cost per request
    independently of what else runs on the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- load generator (runs in its own process: python benchmarks/api.py --load ...) --------------


async def _worker(
    port: int, requests: list[bytes], stop_at: float, budget: list[int], lat: list[float], codes: dict[int, int]
) -> None:
    """One keep-alive connection; takes the next request (round robin over `requests`) until the
    shared budget or the time is spent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while budget[0] > 0 and time.perf_counter() < stop_at:
            budget[0] -= 1
            request = requests[budget[0] % len(requests)]
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            codes[status] = codes.get(status, 0) + 1
    finally:
        writer.close()


async def _load(
    port: int, paths: list[str], concurrency: int, seconds: float, max_requests: int, warm: bool
) -> dict[str, Any]:
    requests = [f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEY}\r\n\r\n".encode() for p in paths]
    if warm:  # one request per distinct path fills the answer cache, as a running service would have
        await _worker(port, requests, time.perf_counter() + 60, [len(requests)], [], {})
    lat: list[float] = []
    codes: dict[int, int] = {}
    budget = [max_requests]
    start = time.perf_counter()
    await asyncio.gather(*(_worker(port, requests, start + seconds, budget, lat, codes) for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    ms = np.array(lat) * 1000
    return {
        "requests": len(lat),
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(lat) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p90_ms": round(float(np.percentile(ms, 90)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
        "status_codes": {str(k): v for k, v in sorted(codes.items())},
    }


def run_load(
    port: int, paths: list[str], concurrency: int, seconds: float, max_requests: int, warm: bool = True
) -> dict[str, Any]:
    """The load generator in a separate process, so client and server do not share an interpreter."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--load",
            str(port),
            "--concurrency",
            str(concurrency),
            "--seconds",
            str(seconds),
            "--max-requests",
            str(max_requests),
            *([] if warm else ["--cold"]),
            *paths,
        ],
        capture_output=True,
        text=True,
        timeout=seconds * 4 + 120,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# ---- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anomalies", type=int, default=50_000)
    parser.add_argument("--sightings", type=int, default=500_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario")
    parser.add_argument("--max-requests", type=int, default=100_000, help="per scenario")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--cold-requests", type=int, default=2000, help="requests of the cache-miss scenario")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra setting for the server, e.g. API_LOG_REQUESTS=false (repeatable)",
    )
    parser.add_argument("--load", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        print(
            json.dumps(
                asyncio.run(
                    _load(args.load, args.paths, args.concurrency, args.seconds, args.max_requests, not args.cold)
                )
            )
        )
        return

    load_before = os.getloadavg()
    data_dir = scratch_dir("api")
    t0 = time.perf_counter()
    seed(data_dir, args.anomalies, args.sightings)
    print(
        f"seeded {args.anomalies:,} anomalies and {args.sightings:,} sightings in "
        f"{time.perf_counter() - t0:.1f} s ({data_dir})"
    )
    port = free_port()
    log = data_dir / "server.log"
    extra_env = dict(item.split("=", 1) for item in args.server_env)
    server = start_server(data_dir, port, log, extra_env)
    varied = [
        "/anomalies?" + urlencode(q)
        for q in (
            [{"limit": 100, "anomaly_type": t} for t in ANOMALY_TYPES]
            + [{"limit": 50, "min_score": s / 10} for s in range(5, 10)]
            + [{"limit": 100, "folder": f"folder-{i}"} for i in range(10)]
            + [{"limit": 100, "offset": 100 * i} for i in range(10)]
        )
    ]
    # Every request a different min_score: each one misses the cache and queries the store.
    cold = [f"/anomalies?limit=100&min_score={0.5 + i * 1e-6:.6f}" for i in range(args.cold_requests)]
    scenarios: dict[str, tuple[list[str], bool, int]] = {
        "GET /health (baseline)": (["/health"], True, args.max_requests),
        "GET /anomalies?limit=100": (["/anomalies?limit=100"], True, args.max_requests),
        f"GET /anomalies ({len(varied)} distinct filters)": (varied, True, args.max_requests),
        "GET /anomalies/stats": (["/anomalies/stats"], True, args.max_requests),
        "GET /anomalies, every request a cache miss": (cold, False, len(cold)),
    }
    results: dict[str, Any] = {}
    try:
        for name, (paths, warm, budget) in scenarios.items():
            cpu0 = cpu_seconds(server.pid)
            results[name] = r = run_load(port, paths, args.concurrency, args.seconds, budget, warm)
            # Includes the warm-up requests (one per distinct path): negligible against the run.
            r["server_cpu_ms_per_request"] = round((cpu_seconds(server.pid) - cpu0) * 1000 / r["requests"], 3)
            print(
                f"{name:44s} {r['requests_per_s']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms  "
                f"p99 {r['p99_ms']:7.2f} ms  server CPU {r['server_cpu_ms_per_request']:.3f} ms/req  "
                f"codes {r['status_codes']}"
            )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    main_result = results["GET /anomalies?limit=100"]
    met = main_result["requests_per_s"] >= TARGET_RPS and main_result["p99_ms"] <= TARGET_P99_MS
    print(
        f"target GET /anomalies >= {TARGET_RPS:.0f} req/s and p99 <= {TARGET_P99_MS:.0f} ms: "
        f"{'met' if met else 'NOT met'}"
    )
    path = write_results(
        "api",
        {
            "config": {
                "server_env": extra_env,
                "concurrency": args.concurrency,
                "seconds_per_scenario": args.seconds,
                "anomalies": args.anomalies,
                "sightings": args.sightings,
                "server": "uvicorn uvloop httptools, "
                "1 process, production mode (API key), request logging on, rate limiter in path",
            },
            "target": {"requests_per_s": TARGET_RPS, "p99_ms": TARGET_P99_MS, "met": met},
            "scenarios": results,
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
    )
    print(f"results: {path}")
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
