"""`santiway-anomaly occupancy`: export the estimated people per folder per hour (issue 16).

Reads the embedded store; while the service owns it (one process per chDB directory), asks the
running service instead (GET /folders/occupancy), so the export works either way.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from datetime import datetime
from typing import Annotated, Any

import typer

from santiway_anomaly.cli.common import EXIT_STORE, open_store, settings_or_exit
from santiway_anomaly.cli.detect import parse_time
from santiway_anomaly.config import Settings
from santiway_anomaly.storage import StoreLockedError

FIELDS = ["hour", "folder", "unique_devices", "people", "people_low", "people_high"]


def register(app: typer.Typer) -> None:
    app.command("occupancy")(occupancy)


def occupancy(
    since: Annotated[str, typer.Option(help="Start: ISO-8601 time (UTC unless an offset is given)")],
    until: Annotated[str, typer.Option(help="End (exclusive): ISO-8601 time, or `now`")],
    folder: Annotated[str | None, typer.Option(help="Only this folder")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV with a header (the default)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document {since, until, data, count}")] = False,
    url: Annotated[str | None, typer.Option(help="Service base URL when the store is in use "
                                                 "(default: http://127.0.0.1:API_PORT)")] = None,
) -> None:
    """Per folder and UTC hour with sightings: hour, folder, unique_devices (raw MACs), people (the
    estimate), people_low, people_high. Key for the service: OCCUPANCY_API_KEY, else the first of
    VALID_API_KEYS."""
    if as_csv and as_json:
        raise typer.BadParameter("choose one of --csv and --json")
    settings = settings_or_exit()
    start = parse_time(since)
    end = parse_time(until) or datetime.now().astimezone()
    if start is None or start >= end:
        raise typer.BadParameter("--since must be a time before --until")
    try:
        report = _from_store(settings, start, end, folder)
    except StoreLockedError:
        report = _from_service(settings, url, start, end, folder)
    rows = [{k: _iso(v) for k, v in r.items()} for r in report["data"]]
    if as_json:
        typer.echo(json.dumps({"since": _iso(report["since"]), "until": _iso(report["until"]), "data": rows,
                               "count": len(rows)}))
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=FIELDS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)


def _iso(value: Any) -> Any:
    """Times as ISO 8601 UTC with Z, whether they came from the store (datetime) or the API (text)."""
    if isinstance(value, str) and value[:4].isdigit() and "T" in value:
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _from_store(settings: Settings, start: datetime, end: datetime, folder: str | None) -> dict[str, Any]:
    from santiway_anomaly.occupancy import occupancy_report
    from santiway_anomaly.storage import Store

    if settings.embedded:
        # Probe the lock first: open_store would turn a locked store into an exit.
        store = Store.open(settings)
        try:
            return occupancy_report(store, settings, start, end, folder)
        finally:
            store.close()
    with open_store(settings) as store:
        return occupancy_report(store, settings, start, end, folder)


def _from_service(settings: Settings, url: str | None, start: datetime, end: datetime,
                  folder: str | None) -> dict[str, Any]:
    import httpx

    base = (url or f"http://127.0.0.1:{settings.api_port}").rstrip("/")
    key = os.environ.get("OCCUPANCY_API_KEY") or (settings.valid_api_keys[0] if settings.valid_api_keys else "")
    params: dict[str, Any] = {"hours": (end - start).total_seconds() / 3600, "until": end.isoformat()}
    if folder is not None:
        params["folder"] = folder
    try:
        response = httpx.get(f"{base}/folders/occupancy", params=params,
                             headers={"X-API-Key": key} if key else None, timeout=120)
    except httpx.HTTPError as exc:
        typer.secho(f"error: the store is in use by the service, and {base} did not answer ({exc})", err=True,
                    fg=typer.colors.RED)
        raise typer.Exit(EXIT_STORE) from None
    if response.status_code != 200:
        typer.secho(f"error: {base}/folders/occupancy answered {response.status_code}: {response.text[:300]}",
                    err=True, fg=typer.colors.RED)
        raise typer.Exit(EXIT_STORE)
    result: dict[str, Any] = response.json()
    return result
