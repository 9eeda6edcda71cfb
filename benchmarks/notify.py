"""Notification latency: from the moment an anomaly is stored to its arrival at 1 and at 100 WebSocket
clients (p50/p99), next to a plain WebSocket echo round trip on the same server in the same run.

The service runs as it does in production (create_app + uvicorn on 127.0.0.1, embedded store in a scratch
directory); the clients run in a separate process so that they do not share the server's GIL. Each round
stores one anomaly through the service's own store (`save_anomalies`, as a detection run does), notes the
wall-clock time when the store returned, publishes it, and waits until every client has it.

    .venv/bin/python benchmarks/notify.py [--rounds 100] [--clients 100]

Prints the figures and writes benchmarks/results/notify.json. Target: p99 <= 100 ms at 100 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect  # module level: the echo route's annotations resolve here

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import scratch_dir, write_results  # noqa: E402

KEY = "bench-notify-key-0001"
DEFLATE = "--no-deflate" not in sys.argv


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary(ms: list[float]) -> dict[str, float]:
    return {"n": len(ms), "p50_ms": round(pct(ms, 50), 2), "p99_ms": round(pct(ms, 99), 2),
            "mean_ms": round(statistics.fmean(ms), 2), "max_ms": round(max(ms), 2)}


# ---- client process ---------------------------------------------------------------------------------


def client_main(port: int, n_clients: int, rounds: int, echo_rounds: int, pipe: Connection) -> None:
    asyncio.run(_clients(port, n_clients, rounds, echo_rounds, pipe))


async def _clients(port: int, n_clients: int, rounds: int, echo_rounds: int, pipe: Connection) -> None:
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{port}/ws/notifications/?api_key={KEY}"
    echo_url = f"ws://127.0.0.1:{port}/bench/echo"
    # Echo baseline: one client, sequential round trips; then n clients at once.
    echo = [await connect(echo_url, ping_interval=None) for _ in range(n_clients)]
    one: list[float] = []
    for _ in range(echo_rounds):
        t0 = time.perf_counter()
        await echo[0].send("x" * 600)  # about the size of a notification
        await echo[0].recv()
        one.append((time.perf_counter() - t0) * 1000)

    async def rtt(ws: Any) -> float:
        t0 = time.perf_counter()
        await ws.send("x" * 600)
        await ws.recv()
        return (time.perf_counter() - t0) * 1000

    many: list[float] = []
    for _ in range(max(1, echo_rounds // 10)):
        many += await asyncio.gather(*(rtt(ws) for ws in echo))
    for ws in echo:
        await ws.close()

    results: dict[str, Any] = {"echo_1": one, "echo_n": many}
    for n in (1, n_clients):
        conns = [await connect(url, ping_interval=None, open_timeout=30) for _ in range(n)]
        for ws in conns:
            json.loads(await ws.recv())  # connection.established
        arrivals: dict[str, list[float]] = {}
        done = asyncio.Event()
        tasks = [asyncio.create_task(_reader(ws, len(conns), rounds, arrivals, done, pipe)) for ws in conns]
        await asyncio.get_running_loop().run_in_executor(None, pipe.send, ("ready", n))
        await asyncio.wait_for(done.wait(), 600)
        await asyncio.gather(*tasks)
        results[f"arrivals_{n}"] = arrivals
        for ws in conns:
            await ws.close()
    pipe.send(("results", results))


async def _reader(ws: Any, n_conns: int, target: int, arrivals: dict[str, list[float]], done: asyncio.Event,
                  pipe: Connection) -> None:
    """Record the arrival time of each notification; tell the server when every client has one."""
    loop = asyncio.get_running_loop()
    seen = 0
    while seen < target:
        message = json.loads(await ws.recv())
        if message.get("type") != "anomaly.detected":
            continue
        anomaly_id = message["anomaly"]["anomaly_id"]
        arrivals.setdefault(anomaly_id, []).append(time.time())
        seen += 1
        if len(arrivals[anomaly_id]) == n_conns:
            await loop.run_in_executor(None, pipe.send, ("round", anomaly_id))
    if len(arrivals) == target and all(len(v) == n_conns for v in arrivals.values()):
        done.set()


# ---- server (this process) ----------------------------------------------------------------------------


def start_service(data_dir: Path) -> tuple[Any, Any, asyncio.AbstractEventLoop, threading.Thread, int]:
    import socket

    import uvicorn

    from santiway_anomaly.api.main import create_app
    from santiway_anomaly.config import load_settings

    settings = load_settings(data_dir=data_dir, valid_api_keys=[KEY], _env_file=None, notify_cooldown_s=0.0,
                             api_log_requests=False, log_level="WARNING", notify_ws_heartbeat_s=600)
    app = create_app(settings)

    async def echo(websocket: WebSocket) -> None:  # the baseline: the same stack, no notification logic
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            return

    app.add_api_websocket_route("/bench/echo", echo)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           ws_ping_interval=None, ws_per_message_deflate=DEFLATE))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    asyncio.run_coroutine_threadsafe(app.state.dispatcher.ready.wait(), loop).result(60)
    return app, server, loop, thread, port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=100, help="notifications per client count")
    parser.add_argument("--clients", type=int, default=100, help="the larger client count")
    parser.add_argument("--echo-rounds", type=int, default=300, help="echo round trips of the baseline")
    parser.add_argument("--no-deflate", action="store_true",
                        help="serve without permessage-deflate (uvicorn compresses each message by default)")
    args = parser.parse_args()

    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")

    from santiway_anomaly.anomaly import Anomaly
    from santiway_anomaly.storage.anomalies import save_anomalies

    data_dir = scratch_dir("notify")
    app, server, loop, thread, port = start_service(data_dir)
    runner, service = app.state.runner, app.state.dispatcher
    parent, child = mp.get_context("spawn").Pipe()
    proc = mp.get_context("spawn").Process(target=client_main,
                                           args=(port, args.clients, args.rounds, args.echo_rounds, child))
    proc.start()

    stored_at: dict[str, float] = {}
    publish_ms: dict[int, list[float]] = {}
    base = datetime(2026, 1, 1, tzinfo=UTC)
    counter = 0
    try:
        for _ in (1, args.clients):
            kind, n = parent.recv()
            assert kind == "ready", kind
            publish_ms[n] = []
            for _ in range(args.rounds):
                counter += 1
                start = base + timedelta(hours=counter)
                anomaly = Anomaly(anomaly_type="density_spike", severity="critical", score=0.853,
                                  window_start=start, window_end=start + timedelta(hours=1), folder="office",
                                  vendor="Apple Inc.", network_type="wifi", lat=55.7558, lon=37.6173,
                                  details={"unique_devices": 150, "p95_baseline": 80})

                async def store_and_publish(a: Anomaly = anomaly) -> tuple[float, float]:
                    new = await runner(save_anomalies, [a])
                    stored = time.time()  # the moment the anomaly is in the store
                    await service.publish(new)
                    return stored, time.time()

                stored, published = asyncio.run_coroutine_threadsafe(store_and_publish(), loop).result(60)
                stored_at[anomaly.anomaly_id] = stored
                publish_ms[n].append((published - stored) * 1000)
                kind, anomaly_id = parent.recv()  # every client has it: next round
                assert kind == "round" and anomaly_id == anomaly.anomaly_id
        kind, results = parent.recv()
        assert kind == "results"
    finally:
        proc.join(60)
        server.should_exit = True
        thread.join(60)
        shutil.rmtree(data_dir, ignore_errors=True)

    figures: dict[str, Any] = {
        "rounds": args.rounds,
        "per_message_deflate": DEFLATE,  # uvicorn's default, as `santiway-anomaly serve` runs
        "load_average_1m": round(os.getloadavg()[0], 2),  # the machine is shared: read p99 with this
        "echo_round_trip_1_client": summary(results["echo_1"]),
        f"echo_round_trip_{args.clients}_clients": summary(results["echo_n"]),
    }
    for n in (1, args.clients):
        lat = [(t - stored_at[aid]) * 1000 for aid, times in results[f"arrivals_{n}"].items() for t in times]
        last = [(max(times) - stored_at[aid]) * 1000 for aid, times in results[f"arrivals_{n}"].items()]
        figures[f"stored_to_arrival_{n}_clients"] = summary(lat)
        figures[f"stored_to_last_client_{n}_clients"] = summary(last)
        figures[f"publish_call_{n}_clients"] = summary(publish_ms[n])
    p99 = figures[f"stored_to_arrival_{args.clients}_clients"]["p99_ms"]
    figures["target"] = {"p99_ms_at_100_clients": 100, "met": bool(p99 <= 100)}
    path = write_results("notify", figures)
    for key, value in figures.items():
        print(f"{key:36s} {value}")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
