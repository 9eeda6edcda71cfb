"""`santiway-anomaly simulate`: a realistic sensor feed with labelled anomalies (files or live)."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from santiway_anomaly.cli.common import configure_logging

if TYPE_CHECKING:
    from santiway_anomaly.simulate.options import SimOptions

FORMAT_HELP = "parquet (default), csv, or both"


def simulate(
    devices: Annotated[int, typer.Option(min=20, help="Devices in the world (anomalous ones are added on top)")]
    = 2000,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days to simulate")] = 14,
    folders: Annotated[int, typer.Option(min=1, max=500, help="Folders (places with fixed sensors)")] = 10,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed and options give the same files")] = 42,
    out: Annotated[Path, typer.Option(help="Output directory (sightings, truth.jsonl, world.json, devices.csv)")]
    = Path("sim"),
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "parquet",
    anomaly_days: Annotated[int, typer.Option(min=0, help="Inject anomalies only in the last K days")] = 3,
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD (local to --timezone); default: "
                                                   "DAYS days before today, so the data ends at today 00:00")] = None,
    sightings_per_hour: Annotated[float, typer.Option(min=0.1, max=3600, help="Mean sightings per hour of a "
                                                      "present device at each sensor that hears it (density)")] = 40.0,
    timezone: Annotated[str, typer.Option(help="IANA time zone of the world's local time (night = 00-06 there)")]
    = "UTC",
    mobile_sensors: Annotated[int | None, typer.Option(min=0, help="Mobile sensors (default: one per 6 folders)")]
    = None,
    anomalies_per_day: Annotated[int | None, typer.Option(min=0, help="Injected anomalies per scenario per "
                                                          "anomaly day (default: 2, more for big worlds)")] = None,
    behaviour_changes: Annotated[int | None, typer.Option(min=0, help="Devices whose behaviour changes in the "
                                                          "anomaly days (default: 1% of devices, >= 10)")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
    live: Annotated[bool, typer.Option("--live", help="Stream a feed in real time instead of writing files")]
    = False,
    speed: Annotated[float, typer.Option(min=0.01, max=100_000, help="--live: simulated seconds per wall second")]
    = 1.0,
    inject_every: Annotated[float, typer.Option(min=0, help="--live: wall seconds between injected anomalies "
                                                "(0 = none)")] = 300.0,
    batch_seconds: Annotated[float, typer.Option(min=0.2, help="--live: wall seconds between batches")] = 2.0,
    duration: Annotated[float | None, typer.Option(min=1, help="--live: stop after this many wall seconds")] = None,
    api_url: Annotated[str | None, typer.Option(help="--live: post to a running service (POST URL/ingest) "
                                                "instead of writing to the store")] = None,
    api_key: Annotated[str, typer.Option(envvar="SIMULATE_API_KEY", show_default=False,
                                         help="--live: X-API-Key for --api-url (env SIMULATE_API_KEY)")] = "",
    family: Annotated[str | None, typer.Option(help="Write a world of this family instead (sessions, small_site, "
                                               "...; see `evaluate --help`): its own size, days and time zone, "
                                               "with --seed and --scale")] = None,
    scale: Annotated[float, typer.Option(min=0.01, max=100, help="--family: the world's size as a multiple of "
                                         "the family's")] = 1.0,
    probes: Annotated[bool, typer.Option("--probes", help="--family: phones send probe fields (seq, ies, ssid) "
                                         "and change MAC the way real phones do, and DIR/people.csv holds the "
                                         "true number of people per folder and UTC hour")] = False,
) -> None:
    """Simulate folders with fixed and mobile sensors and a population of devices (fixtures, staff,
    night shift, visitors, commuters, passers-by with rotating randomized MACs), inject labelled
    anomalies of all four types in the last days, and write sightings plus ground truth.

    Files: DIR/sightings.parquet|csv, DIR/truth.jsonl (one anomaly per line), DIR/world.json
    (places, patrol rounds, roles, hard negatives) and DIR/devices.csv (every device and its role).

    With --live, stream into the store (or to --api-url) in real time until Ctrl-C; the same
    --seed, --devices and --folders as a history run continue the same world.

    With --family, write a world of one of the evaluation's world families instead (its own size, days
    and time zone; --seed and --scale choose the world); add --probes for probe fields and
    DIR/people.csv, the true number of people per folder and hour (docs/occupancy.md).
    """
    from santiway_anomaly.simulate.options import SimOptions

    configure_logging(os.environ.get("LOG_LEVEL", "INFO").upper())
    if family is not None or probes:
        _family(family, seed, scale, probes, out, live)
        return
    try:
        first = date.fromisoformat(start) if start else None
        opts = SimOptions(devices=devices, days=days, folders=folders, seed=seed, start=first,
                          anomaly_days=anomaly_days, sightings_per_hour=sightings_per_hour, timezone=timezone,
                          mobile_sensors=mobile_sensors, anomalies_per_day=anomalies_per_day,
                          behaviour_changes=behaviour_changes)
        if fmt not in ("parquet", "csv", "both"):
            raise ValueError(f"--format must be {FORMAT_HELP}, got {fmt!r}")
    except ValueError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from None
    if live:
        _live(opts, out, speed=speed, inject_every=inject_every, batch_seconds=batch_seconds, duration=duration,
              api_url=api_url, api_key=api_key)
        return
    _files(opts, out, fmt, progress)


def _family(family: str | None, seed: int, scale: float, probes: bool, out: Path, live: bool) -> None:
    """A world of one family (simulate/families), the kind the evaluation runs on."""
    from santiway_anomaly.simulate.families import FAMILIES, generate

    if family is None:
        problem = "--probes needs --family: the family worlds model phones and the people carrying them"
    elif live:
        problem = "--family writes files; it cannot be combined with --live"
    elif family not in FAMILIES:
        problem = f"unknown family {family!r}; choose from {', '.join(FAMILIES)}"
    else:
        problem = ""
    if problem or family is None:
        typer.secho(f"error: {problem}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    info = generate(family, seed, out, scale=scale, probes=probes)
    typer.echo(f"{info.sightings:,} sightings from {info.devices:,} devices ({info.macs:,} MACs) in "
               f"{len(info.folders)} folders, {info.start} .. {info.end}, in {info.seconds:.1f}s")
    for name in ("sightings.parquet", "truth.jsonl", "world.json", *(("people.csv",) if probes else ())):
        typer.echo(f"  {out / name}")


def _files(opts: SimOptions, out: Path, fmt: str, progress: bool) -> None:
    from tqdm import tqdm

    from santiway_anomaly.simulate.run import Simulation, run

    sim = Simulation(opts)
    with tqdm(total=sim.steps, unit="batch", desc="simulate", disable=not progress) as bar:
        summary = run(opts, out, fmt, progress=bar.update, sim=sim)
    typer.echo(f"{summary.sightings:,} sightings from {summary.devices:,} devices in {summary.seconds:.1f}s "
               f"({summary.rate:,.0f}/s)")
    typer.echo("injected anomalies: " + (", ".join(f"{k} {v}" for k, v in sorted(summary.anomalies.items()))
                                         or "none"))
    for path in summary.files:
        typer.echo(f"  {path}")


def _live(opts: SimOptions, out: Path, *, speed: float, inject_every: float, batch_seconds: float,
          duration: float | None, api_url: str | None, api_key: str) -> None:
    from santiway_anomaly.cli.common import open_store, settings_or_exit
    from santiway_anomaly.simulate.live import ApiSink, LiveFeed, StoreSink, run_live

    settings = settings_or_exit()
    out.mkdir(parents=True, exist_ok=True)
    # A folder rests between injected crowds as long as the density detector's cooldown lasts.
    feed = LiveFeed(opts, crowd_rest_hours=settings.density_cooldown_hours)
    (out / "world.json").write_text(json.dumps(feed.world.describe(itinerary_days=range(0, 1)), indent=1) + "\n",
                                    encoding="utf-8")
    truth = out / "truth.jsonl"
    typer.echo(f"live feed: {opts.devices} devices in {len(feed.world.folders)} folders, speed x{speed}, "
               f"an anomaly every {inject_every:g}s; truth -> {truth}; Ctrl-C stops")
    if api_url:
        totals = run_live(feed, ApiSink(api_url, api_key), truth, speed=speed, inject_every=inject_every,
                          batch_seconds=batch_seconds, duration=duration)
    else:
        with open_store(settings) as store:
            totals = run_live(feed, StoreSink(store, settings), truth, speed=speed, inject_every=inject_every,
                              batch_seconds=batch_seconds, duration=duration)
    typer.echo(f"live feed stopped: {totals['sightings']:,} sightings generated, {totals['accepted']:,} accepted, "
               f"{totals['injected']} anomalies injected")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
