"""REST latency, throughput, CPU and memory of GET /anomalies against a bare FastAPI app, in one run.

Two servers run side by side on 127.0.0.1, each one uvicorn process with the same settings (uvloop,
httptools, no access log):
- the product as it would run in production (an API key, request logging on, the rate limiter in the
  path with its limits raised so that it counts instead of refusing), on an embedded store seeded with
  50,000 anomalies over 30 days;
- the baseline, benchmarks/bare_api.py: a bare FastAPI app that answers the same URL with the same
  bytes (the product's own answer, fetched first), with no middleware and no store.
The load comes from another process: a small asyncio HTTP/1.1 keep-alive client (64 connections, one
request in flight each), bounded in requests and seconds. Each run measures the baseline, then the
product's cached answers, then two cache-miss scenarios (every request a different filter: a score
threshold, or a `since` in the last 48 hours, so each one queries the store); runs are interleaved and
the figures reported are medians over the runs, with the product-to-baseline ratios.

Server CPU per request comes from /proc (user + system time of the server process over the scenario);
memory is the server's peak resident set (VmHWM) under load, split into private memory (RssAnon) and
pages of mapped files (RssFile: mostly chDB's 555 MB engine library, shared and reclaimable).

With `--store http` the product runs against a ClickHouse server instead: the tests' HTTP stand-in
(tests/clickhouse_http/server.py, chDB behind ClickHouse's HTTP interface in its own process) on the
same seeded directory, so the API process never imports chDB; its figures go to api_http.json.

Targets (issue 17): p99 <= 20 ms at 64 connections in every run, cache misses >= 500 requests/s,
server memory under load <= 250 MB, middleware cost close to the bare app.
Usage: python benchmarks/api.py [--runs 3] [--seconds 8] [--concurrency 64] [--anomalies 50000] [--store http]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import socket
import statistics
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
BENCH_DIR = Path(__file__).resolve().parent
TARGET_P99_MS, TARGET_MISS_RPS, TARGET_RSS_MB = 20.0, 500.0, 250.0
LIST_URL = "/anomalies?limit=100"


# ---- data -------------------------------------------------------------------------------------


def seed(data_dir: Path, n_anomalies: int, n_sightings: int) -> None:
    """30 days of anomalies over 2,000 devices and 40 folders, and a day of sightings."""
    rng = np.random.default_rng(11)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    devices = [":".join(f"{b:02X}" for b in rng.integers(0, 256, 6)) for _ in range(2000)]
    folders = [f"folder-{i}" for i in range(40)]
    with Store.open(load_settings(data_dir=data_dir, _env_file=None)) as store:
        anomalies: list[Anomaly] = []
        for i in range(n_anomalies):
            kind = ANOMALY_TYPES[i % 4]
            score = float(rng.uniform(0.5, 1.0))
            start = now - timedelta(hours=int(rng.integers(1, 24 * 30)))
            anomalies.append(
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
                )
            )
        # Stored as a service stores them: each detection run saves the anomalies of its own window,
        # one insert per run (hourly here), oldest first; background merges then combine the parts.
        anomalies.sort(key=lambda a: a.window_start)
        for _, run in itertools.groupby(anomalies, key=lambda a: a.window_start):
            store.insert_rows("anomaly_ml.anomalies", [a.to_row() for a in run], ROW_COLUMNS)
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


def _uvicorn(app: str, port: int, *, cwd: Path, env: dict[str, str], log: Path,
             app_dir: Path | None = None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
               "--no-access-log", "--loop", "uvloop", "--http", "httptools"]
    if app_dir is not None:
        command += ["--app-dir", str(app_dir)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
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


def start_product(data_dir: Path, port: int, log: Path, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
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
    return _uvicorn("santiway_anomaly.api.main:app", port, cwd=data_dir, env=env, log=log)


def start_bare(body: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BARE_API_BODY": str(body)}
    return _uvicorn("bare_api:app", port, cwd=body.parent, env=env, log=log, app_dir=BENCH_DIR)


def fetch(port: int, path: str) -> bytes:
    """One GET with the key; the body (the product's answer that the bare app will serve)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nX-API-Key: {KEY}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"GET {path}: {head[:80]!r}")
    return body


def memory_mb(pid: int) -> dict[str, float]:
    """Peak and current resident set of a process, and the current split into private and file pages."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return {"peak_rss_mb": fields["VmHWM"], "rss_mb": fields["VmRSS"], "anon_mb": fields["RssAnon"],
            "file_mb": fields["RssFile"]}


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


def scenario(server: subprocess.Popen[bytes], port: int, paths: list[str], args: argparse.Namespace,
             *, warm: bool, budget: int) -> dict[str, Any]:
    cpu0 = cpu_seconds(server.pid)
    result = run_load(port, paths, args.concurrency, args.seconds, budget, warm)
    # Includes the warm-up requests (one per distinct path): negligible against the run.
    result["server_cpu_ms_per_request"] = round((cpu_seconds(server.pid) - cpu0) * 1000 / result["requests"], 4)
    result["memory"] = memory_mb(server.pid)
    return result


def cold_paths(run: int, n: int) -> dict[str, list[str]]:
    """Distinct URLs for this run's cache-miss scenarios: no URL repeats within or across runs."""
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "misses, score filter": [f"/anomalies?limit=100&min_score={0.5 + (run * n + i) * 1e-6:.6f}" for i in range(n)],
        "misses, since (last 48 h)": [
            "/anomalies?" + urlencode({"limit": 100, "since": (now - timedelta(seconds=48 * 3600 - run * n - i))
                                       .isoformat().replace("+00:00", "Z")})
            for i in range(n)
        ],
    }


def _median(values: list[float]) -> float:
    return round(float(statistics.median(values)), 4)


def summarise(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per scenario: the median of each figure over the runs, and every run's p99 (the target is per run)."""
    out: dict[str, dict[str, Any]] = {}
    for name in runs[0]:
        rs = [run[name] for run in runs]
        out[name] = {
            "requests_per_s": _median([r["requests_per_s"] for r in rs]),
            "p50_ms": _median([r["p50_ms"] for r in rs]),
            "p99_ms": _median([r["p99_ms"] for r in rs]),
            "p99_ms_each_run": [r["p99_ms"] for r in rs],
            "server_cpu_ms_per_request": _median([r["server_cpu_ms_per_request"] for r in rs]),
            "peak_rss_mb": max(r["memory"]["peak_rss_mb"] for r in rs),
            "anon_mb": _median([r["memory"]["anon_mb"] for r in rs]),
            "file_mb": _median([r["memory"]["file_mb"] for r in rs]),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anomalies", type=int, default=50_000)
    parser.add_argument("--sightings", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs (medians are reported)")
    parser.add_argument("--seconds", type=float, default=8.0, help="per scenario")
    parser.add_argument("--max-requests", type=int, default=100_000, help="per scenario")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--cold-requests", type=int, default=2000, help="requests of each cache-miss scenario")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra setting for the product server, e.g. API_LOG_REQUESTS=false (repeatable)",
    )
    parser.add_argument("--store", choices=("embedded", "http"), default="embedded",
                        help="the product's store: embedded chDB, or a ClickHouse server (the tests' HTTP stand-in)")
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
    extra_env = dict(item.split("=", 1) for item in args.server_env)
    clickhouse = None
    if args.store == "http":
        sys.path.insert(0, str(BENCH_DIR.parent))
        from tests.clickhouse_http.fixture import ClickHouseHttp

        clickhouse = ClickHouseHttp(load_settings(data_dir=data_dir, _env_file=None).chdb_path).start()
        extra_env.update(clickhouse.env())
    product_port, bare_port = free_port(), free_port()
    product = start_product(data_dir, product_port, data_dir / "server.log", extra_env)
    body = data_dir / "anomalies-page.json"
    body.write_bytes(fetch(product_port, LIST_URL))
    bare = start_bare(body, bare_port, data_dir / "bare.log")
    idle = {"product": memory_mb(product.pid), "bare": memory_mb(bare.pid)}
    runs: list[dict[str, dict[str, Any]]] = []
    try:
        for run in range(args.runs):
            results: dict[str, dict[str, Any]] = {}
            # Baseline and product back to back, in alternating order, so a drift in the machine's load
            # does not always favour the same one.
            pair = [("bare FastAPI, same bytes", bare, bare_port), ("product, cached answer", product, product_port)]
            for name, server, port in pair if run % 2 == 0 else pair[::-1]:
                results[name] = scenario(server, port, [LIST_URL], args, warm=True, budget=args.max_requests)
            for name, paths in cold_paths(run, args.cold_requests).items():
                results[f"product, {name}"] = scenario(product, product_port, paths, args, warm=False,
                                                       budget=len(paths))
            for name, r in sorted(results.items(), key=lambda item: not item[0].startswith("bare")):
                print(
                    f"run {run + 1}  {name:36s} {r['requests_per_s']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms  "
                    f"p99 {r['p99_ms']:7.2f} ms  CPU {r['server_cpu_ms_per_request']:.3f} ms/req  "
                    f"peak RSS {r['memory']['peak_rss_mb']:.0f} MB  codes {r['status_codes']}"
                )
            runs.append(results)
    finally:
        for server in (product, bare):
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        if clickhouse is not None:
            clickhouse.stop()
    medians = summarise(runs)
    base, hit = medians["bare FastAPI, same bytes"], medians["product, cached answer"]
    misses = [v for k, v in medians.items() if k.startswith("product, misses")]
    ratios = {
        "cpu_per_request_product_to_bare": round(
            hit["server_cpu_ms_per_request"] / base["server_cpu_ms_per_request"], 2),
        "requests_per_s_product_to_bare": round(hit["requests_per_s"] / base["requests_per_s"], 2),
        "p99_product_to_bare": round(hit["p99_ms"] / base["p99_ms"], 2),
        "peak_rss_product_to_bare": round(hit["peak_rss_mb"] / base["peak_rss_mb"], 2),
        "cpu_per_miss_to_bare_request": round(
            min(m["server_cpu_ms_per_request"] for m in misses) / base["server_cpu_ms_per_request"], 1),
    }
    product_peak = max(v["peak_rss_mb"] for k, v in medians.items() if k.startswith("product"))
    targets = {
        "p99_ms_every_run": {"target": TARGET_P99_MS, "met": max(hit["p99_ms_each_run"]) <= TARGET_P99_MS},
        "miss_requests_per_s": {"target": TARGET_MISS_RPS,
                                "met": min(m["requests_per_s"] for m in misses) >= TARGET_MISS_RPS},
        "server_peak_rss_mb": {"target": TARGET_RSS_MB, "measured": product_peak,
                               "met": product_peak <= TARGET_RSS_MB},
    }
    print(f"\nmedians of {args.runs} interleaved runs, {args.concurrency} connections:")
    for name, m in medians.items():
        print(
            f"  {name:36s} {m['requests_per_s']:8.1f} req/s  p50 {m['p50_ms']:6.2f} ms  p99 {m['p99_ms']:6.2f} ms "
            f"(runs {m['p99_ms_each_run']})  CPU {m['server_cpu_ms_per_request']:.3f} ms/req  "
            f"peak RSS {m['peak_rss_mb']:.0f} MB (private {m['anon_mb']:.0f}, file {m['file_mb']:.0f})"
        )
    print("  ratios product / bare: " + ", ".join(f"{k} {v}" for k, v in ratios.items()))
    print("  targets: " + ", ".join(f"{k} {'met' if v['met'] else 'NOT met'}" for k, v in targets.items()))
    path = write_results(
        "api" if args.store == "embedded" else "api_http",
        {
            "config": {
                "store": args.store,
                "server_env": extra_env,
                "runs": args.runs,
                "concurrency": args.concurrency,
                "seconds_per_scenario": args.seconds,
                "cold_requests": args.cold_requests,
                "anomalies": args.anomalies,
                "sightings": args.sightings,
                "servers": "uvicorn uvloop httptools, 1 process each; product in production mode (API key), "
                "request logging on, rate limiter in path; bare: benchmarks/bare_api.py, same bytes",
            },
            "medians": medians,
            "ratios": ratios,
            "targets": targets,
            "memory_idle": idle,
            "runs": runs,
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
    )
    print(f"results: {path}")
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
