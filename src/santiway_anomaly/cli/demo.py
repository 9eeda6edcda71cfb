"""`santiway-anomaly demo`: the whole product, live, with one command.

The embedded chDB store can be opened by one process at a time, so the demo itself never opens
it: it runs each step as its own command (simulate, ingest, detect, train) one after another,
then starts the service (which owns the store from then on), the live feed (which posts to the
service) and the dashboard, and stops all of them cleanly on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from santiway_anomaly.cli.common import settings_or_exit
from santiway_anomaly.config import Settings

CLI = [sys.executable, "-m", "santiway_anomaly.cli.main"]


def _step(title: str, args: list[str], env: dict[str, str], *, ok_codes: tuple[int, ...] = (0,)) -> None:
    typer.secho(f"==> {title}", fg=typer.colors.CYAN, bold=True)
    result = subprocess.run([*CLI, *args], env=env, check=False)
    if result.returncode not in ok_codes:
        typer.secho(f"step failed ({title}): exit code {result.returncode}", err=True, fg=typer.colors.RED)
        raise typer.Exit(result.returncode or 1)


def _store_has_data(env: dict[str, str]) -> bool:
    probe = subprocess.run(
        [*CLI, "schema", "status"], env={**env, "LOG_LEVEL": "WARNING"}, capture_output=True, text=True,
        check=False)
    if probe.returncode != 0:
        typer.secho(probe.stderr.strip(), err=True, fg=typer.colors.RED)
        raise typer.Exit(probe.returncode)
    for line in probe.stdout.splitlines():
        if line.startswith("santi.way_data"):
            return int(line.split()[-1].replace(",", "")) > 0
    return False


def daytime_zone(now: datetime | None = None) -> str:
    """An IANA zone in which it is early afternoon now.

    The live feed injects the scenarios that fit the local hour (crowds and lingering by day,
    intruders at night); a demo started in the evening would otherwise show nothing for hours.
    """
    hour = (now or datetime.now(UTC)).hour
    offset = (13 - hour) % 24
    if offset > 12:
        offset -= 24
    # Etc/GMT zones are named with the sign inverted: Etc/GMT-3 is UTC+3.
    return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def demo_world(settings: Settings, devices: int, seed: int) -> dict[str, object]:
    """The simulated world of this data directory: chosen once, reused on every restart."""
    path = settings.data_dir / "demo.json"
    if path.exists():
        world: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
        return world
    world = {"devices": devices, "seed": seed, "folders": 6,
             "timezone": os.environ.get("TIMEZONE") or daytime_zone()}
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(world, indent=2), encoding="utf-8")
    return world


def prepare(settings: Settings, env: dict[str, str], world: dict[str, object], *, days: int,
            epochs: int) -> None:
    """History, first detection and a model: each only if it is not there yet (restarts keep data)."""
    sim_dir = settings.data_dir / "demo-history"
    if not _store_has_data(env):
        _step(f"Simulating {days} days of sightings for {world['devices']} devices (local time {world['timezone']})",
              ["simulate", "--devices", str(world["devices"]), "--days", str(days), "--folders",
               str(world["folders"]), "--seed", str(world["seed"]), "--timezone", str(world["timezone"]),
               "--anomaly-days", "2", "--out", str(sim_dir)], env)
        _step("Ingesting the simulated history", ["ingest", str(sim_dir / "sightings.parquet"), "--no-progress"],
              env, ok_codes=(0, 1))
        # The simulated days end at today 00:00 UTC; three days back cover the injected anomalies.
        _step("Running the detectors over the last three days", ["detect", "--hours", "72"], env)
    else:
        typer.secho(f"==> Store at {settings.chdb_path} already has data: keeping it", fg=typer.colors.CYAN)
    model = Path(env.get("MODEL_PATH", str(settings.model_path)))
    if not model.exists():
        _step(f"Training a first model ({epochs} epochs; retrain later with python ml/train_model.py)",
              ["train", "--days", str(days), "--epochs", str(epochs), "--quiet"], env)
    _step("What is stored", ["schema", "status"], env)


def demo(
    devices: Annotated[int, typer.Option(min=20, max=100_000, help="Devices in the simulated world")] = 400,
    days: Annotated[int, typer.Option(min=3, max=60, help="Days of simulated history")] = 7,
    seed: Annotated[int, typer.Option(help="Seed of the simulated world")] = 7,
    epochs: Annotated[int, typer.Option(min=1, max=200, help="Epochs for the first model")] = 8,
    setup_only: Annotated[bool, typer.Option("--setup-only", help="Prepare store and model, print, exit")] = False,
    live: Annotated[bool, typer.Option(help="Stream a live simulated feed with injected anomalies")] = True,
    dashboard: Annotated[bool, typer.Option(help="Start the Streamlit dashboard")] = True,
    inject_every: Annotated[int, typer.Option(min=10, help="Seconds between injected live anomalies")] = 120,
    detect_interval: Annotated[int, typer.Option(min=5, help="Seconds between detection runs")] = 30,
    verbose: Annotated[bool, typer.Option(help="Show the service's request log and INFO messages")] = False,
) -> None:
    """Run the product end to end: simulated history, detection, a model, the API with continuous
    detection, a live feed with injected anomalies and the dashboard. Ctrl-C stops everything.
    """
    settings = settings_or_exit()
    world = demo_world(settings, devices, seed)
    # The detectors judge night and hours in the world's local time.
    env = {**os.environ, "DATA_DIR": str(settings.data_dir), "TIMEZONE": str(world["timezone"])}
    prepare(settings, env, world, days=days, epochs=epochs)
    if setup_only:
        return

    port = settings.api_port
    api = f"http://127.0.0.1:{port}"
    key = settings.valid_api_keys[0] if settings.valid_api_keys else ""
    env = quiet_env(env, verbose)
    service_env = {**env, "DETECT_INTERVAL": str(detect_interval)}
    children: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], child_env: dict[str, str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([*CLI, *args], env=child_env, start_new_session=True)
        children.append(proc)
        return proc

    def stop_all() -> None:
        for proc in reversed(children):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in reversed(children):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def on_terminate(signum: int, frame: object) -> None:
        # `kill`, `timeout` and `docker stop` send SIGTERM: stop the children as Ctrl-C would, instead of
        # dying at once and leaving them running in their own sessions.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_terminate)
    try:
        typer.secho("==> Starting the service (owns the store from now on)", fg=typer.colors.CYAN, bold=True)
        service = start(["serve", "--port", str(port)], service_env)
        _wait_healthy(api, service)
        if live:
            # The same seed, devices and folders continue the history's world (same places, same people).
            live_args = ["simulate", "--live", "--devices", str(world["devices"]), "--folders",
                         str(world["folders"]), "--seed", str(world["seed"]), "--timezone", str(world["timezone"]),
                         "--inject-every", str(inject_every), "--api-url", api,
                         "--out", str(settings.data_dir / "demo-live")]
            start(live_args, {**env, **({"SIMULATE_API_KEY": key} if key else {})})
        dash_url = ""
        if dashboard:
            start(["dashboard"], {**env, "DASHBOARD_API_URL": api})
            dash_url = f"http://127.0.0.1:{settings.dashboard_port}"
        header = f' -H "X-API-Key: {key}"' if key else ""
        typer.secho("\nSantiWay anomaly detection is running.", fg=typer.colors.GREEN, bold=True)
        typer.echo(f"  API:        {api}   (docs: {api}/docs, metrics: {api}/metrics)")
        typer.echo(f"  WebSocket:  ws://127.0.0.1:{port}/ws/notifications/{'?api_key=' + key if key else ''}")
        if dash_url:
            typer.echo(f"  Dashboard:  {dash_url}")
        typer.echo(f'  Try:        curl -s "{api}/anomalies?limit=5"{header}')
        typer.echo(f'              curl -s -X POST "{api}/anomalies/detect-and-notify?hours=24"{header}')
        typer.echo("  Ctrl-C stops everything; the data in "
                   f"{settings.data_dir} is kept for the next start.")
        while True:
            if service.poll() is not None:
                typer.secho(f"the service exited with code {service.returncode}", err=True, fg=typer.colors.RED)
                raise typer.Exit(1)
            time.sleep(1)
    except KeyboardInterrupt:
        typer.echo("\nstopping ...")
    finally:
        stop_all()


def quiet_env(env: dict[str, str], verbose: bool) -> dict[str, str]:
    """The children's environment. Quiet by default: the dashboard polls every few seconds, and a request
    line per poll buried the demo's own messages; warnings and errors still show. --verbose: everything."""
    return dict(env) if verbose else {**env, "LOG_LEVEL": "WARNING", "API_LOG_REQUESTS": "false"}


def _wait_healthy(api: str, service: subprocess.Popen[bytes], timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.poll() is not None:
            typer.secho(f"the service exited with code {service.returncode}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1)
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code in (200, 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    typer.secho(f"the service did not answer on {api}/health within {timeout:.0f}s", err=True,
                fg=typer.colors.RED)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
