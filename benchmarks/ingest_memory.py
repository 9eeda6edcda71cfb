"""Memory of the service under concurrent large POST /ingest bodies (issue 13).

Starts `santiway-anomaly serve` on a fresh store, sends `--clients` bodies of `--mb` MiB of NDJSON at
once (each client its own rows), and samples the server's resident memory (/proc/PID/status) every
50 ms: peak, and what stays held afterwards. Usage: python benchmarks/ingest_memory.py [--clients 8]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import scratch_dir, write_results  # noqa: E402

KEY = "bench-memory-key-0123456789"


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _body(client: int, mib: int) -> bytes:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    lines: list[bytes] = []
    size, i = 0, 0
    while size < mib * 1024 * 1024:
        line = json.dumps({
            "ts": (start + timedelta(milliseconds=i * 7 + client)).isoformat(), "device_id":
            f"3C:22:{client:02X}:{(i >> 16) & 255:02X}:{(i >> 8) & 255:02X}:{i & 255:02X}", "sensor_id": f"s-{i % 50}",
            "folder": f"folder-{i % 10}", "network_type": "wifi", "rssi": -60 - i % 30, "lat": 55.75, "lon": 37.61,
        }).encode()
        lines.append(line)
        size += len(line) + 1
        i += 1
    return b"\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--mb", type=int, default=32, help="MiB per body (API_MAX_INGEST_BYTES is 32 MiB)")
    args = parser.parse_args()
    work = scratch_dir("ingest-memory")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {**os.environ, "DATA_DIR": str(work / "data"), "API_PORT": str(port), "API_HOST": "127.0.0.1",
           "VALID_API_KEYS": KEY, "API_MAX_INGEST_BYTES": str(args.mb * 1024 * 1024 + 1024),
           "RATE_LIMIT_DEFAULT": "100000/minute", "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen([sys.executable, "-m", "santiway_anomaly.cli.main", "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/health", timeout=2).status_code in (200, 503):
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        bodies = [_body(c, args.mb) for c in range(args.clients)]
        idle = _rss_mb(server.pid)
        peak = idle
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _rss_mb(server.pid))
                time.sleep(0.05)

        statuses: list[int] = []

        def post(body: bytes) -> None:
            r = httpx.post(url + "/ingest", content=body, timeout=600,
                           headers={"X-API-Key": KEY, "Content-Type": "application/x-ndjson"})
            statuses.append(r.status_code)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.perf_counter()
        posts = [threading.Thread(target=post, args=(b,)) for b in bodies]
        for t in posts:
            t.start()
        for t in posts:
            t.join()
        seconds = time.perf_counter() - started
        time.sleep(2)
        done.set()
        sampler.join()
        after = _rss_mb(server.pid)
        print(f"{args.clients} x {args.mb} MiB bodies in {seconds:.1f}s, statuses {sorted(statuses)}")
        print(f"server RSS: idle {idle:.0f} MB, peak {peak:.0f} MB, 2 s after {after:.0f} MB")
        write_results("ingest_memory", {"clients": args.clients, "mib_per_body": args.mb, "seconds": round(seconds, 1),
                                        "statuses": sorted(statuses), "rss_idle_mb": round(idle),
                                        "rss_peak_mb": round(peak), "rss_after_mb": round(after)})
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
