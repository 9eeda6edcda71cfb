"""How fast the dashboard's pages draw against a real service, and what they cost the service.

Prepares a data directory with the CLI (simulate, ingest, train, detect), starts the service, then
runs every page under Streamlit's AppTest (the page's Python run, API calls included, no browser)
several times and reports the median and max seconds per page, plus GET /folders/hourly alone.

    .venv/bin/python benchmarks/dashboard.py --devices 500 --days 7 --runs 5
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import scratch_dir, write_results  # noqa: E402

KEY = "bench-dashboard-key-0001"
CLI = [sys.executable, "-m", "santiway_anomaly.cli.main"]
PAGES = ["overview", "anomalies", "device", "compare", "folders", "model"]


def cli(data_dir: Path, *args: str) -> float:
    started = time.perf_counter()
    env = {**os.environ, "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    env.pop("VALID_API_KEYS", None)
    subprocess.run([*CLI, *args], cwd=data_dir, env=env, check=False, capture_output=True, timeout=3600)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    data = scratch_dir("dashboard")
    prep = {
        "simulate_s": cli(data, "simulate", "--devices", str(args.devices), "--days", str(args.days), "--out",
                          str(data / "sim")),
        "ingest_s": cli(data, "ingest", str(data / "sim" / "sightings.parquet"), "--no-progress"),
        "train_s": cli(data, "train", "--days", str(args.days), "--epochs", "3", "--quiet", "--until",
                       datetime.now(UTC).strftime("%Y-%m-%dT00:00")),
        "detect_s": cli(data, "detect", "--hours", str(24 * args.days + 24), "--until", "latest"),
    }
    print("prepared:", {k: round(v, 1) for k, v in prep.items()})

    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "DATA_DIR": str(data), "VALID_API_KEYS": KEY, "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "santiway_anomaly.api.main:app", "--host",
                               "127.0.0.1", "--port", str(port)], cwd=data, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        api = httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=120)
        hours = 24 * args.days
        top = [t["key"] for t in api.get("/anomalies/stats", params={"hours": hours}).json()["top_devices"][:2]]
        os.environ.update(DASHBOARD_API_URL=url, DASHBOARD_API_KEY=KEY)
        from streamlit.testing.v1 import AppTest

        for name in ("streamlit", "streamlit.runtime.scriptrunner_utils.script_run_context"):
            logging.getLogger(name).setLevel(logging.ERROR)  # "missing ScriptRunContext" is AppTest's normal

        query = {"hours": str(hours), "device": top[0] if top else "", "devices": ",".join(top)}
        pages: dict[str, dict[str, float]] = {}
        for name in PAGES:
            times = []
            for _ in range(args.runs):
                at = AppTest.from_string(f"from santiway_anomaly.dashboard.views import {name}\n{name}.render()\n",
                                         default_timeout=300)
                for key, value in query.items():
                    at.query_params[key] = value
                started = time.perf_counter()
                at.run()
                times.append(time.perf_counter() - started)
                if at.exception:
                    raise SystemExit(f"{name}: {at.exception[0].value}")
            pages[name] = {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3)}
            print(f"{name:10s} median {pages[name]['median_s']:.3f} s  max {pages[name]['max_s']:.3f} s")
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            api.get("/folders/hourly", params={"hours": hours}).raise_for_status()
            times.append(time.perf_counter() - started)
        folders = {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3)}
        print(f"GET /folders/hourly?hours={hours}: median {folders['median_s']:.3f} s")
    finally:
        server.terminate()
        server.wait(timeout=30)
    path = write_results("dashboard", {"devices": args.devices, "days": args.days, "runs": args.runs,
                                       "prepare": {k: round(v, 2) for k, v in prep.items()},
                                       "pages": pages, "folders_hourly": folders})
    print("written", path)


if __name__ == "__main__":
    main()
