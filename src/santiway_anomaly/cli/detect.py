"""`santiway-anomaly detect`, `anomalies` and `known ...`: run the detectors, list what they stored,
and keep the known-devices allowlist."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from santiway_anomaly.cli.common import EXIT_CONFIG, open_store, settings_or_exit

EXIT_DETECTOR_FAILED = 1

known_app = typer.Typer(help="The known-devices allowlist: devices never alerted on (per type or for all).",
                        no_args_is_help=True)


def parse_time(value: str | None, store: Any = None) -> datetime | None:
    """ISO-8601 (UTC unless an offset is given), `now`, or `latest` (the newest stored sighting)."""
    if value is None or value == "now":
        return None
    if value == "latest":
        if store is None:
            raise typer.BadParameter("`latest` needs the store")
        from santiway_anomaly.storage.queries.ingest import newest_sighting

        newest = newest_sighting(store)
        if newest is None:
            raise typer.BadParameter("the store holds no sightings, so there is no `latest` time")
        return newest
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"not an ISO-8601 time, `now` or `latest`: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def detect(
    hours: Annotated[float, typer.Option(help="Window length in hours, ending at --until", min=0.01)] = 24.0,
    until: Annotated[str | None, typer.Option(help="End of the window: ISO-8601 time (UTC unless an offset "
                                                   "is given), `now` (default) or `latest` (newest sighting)")] = None,
    detectors: Annotated[str | None, typer.Option(help="Comma-separated detector names (default: all "
                                                       "registered: density, night, stationary, ml)")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the run (window, counts, new anomalies) as JSON")] = False,
) -> None:
    """Run the detectors over the window and store the anomalies found. Idempotent: running twice
    stores each anomaly once. Prints a summary by type and severity.

    Exit code: 0 ok, 1 a detector failed (the others still ran), 2 bad arguments, 3 store unavailable.
    """
    from santiway_anomaly.cli.service import store_or_service
    from santiway_anomaly.detectors.runner import run_detection
    from santiway_anomaly.storage import Store

    settings = settings_or_exit()
    names = [n.strip() for n in detectors.split(",") if n.strip()] if detectors else None
    with store_or_service(settings) as target:
        if not isinstance(target, Store):
            if until == "latest":
                raise typer.BadParameter("`--until latest` reads the store, which the service owns: give a time")
            _detect_via_api(target.detect_run(hours, parse_time(until), detectors), as_json, settings.zone_for())
            return
        end = parse_time(until, target)
        try:
            run = run_detection(target, settings, hours=hours, until=end, detectors=names)
        except ValueError as exc:
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(EXIT_CONFIG) from None
    if as_json:
        typer.echo(json.dumps({
            "window": {"start": run.window.start.isoformat(), "end": run.window.end.isoformat()},
            "detected": len(run.anomalies), "new": len(run.new),
            "by_type": dict(Counter(a.anomaly_type for a in run.anomalies)),
            "timings": run.timings, "errors": run.errors, "skipped": run.skipped,
            "anomalies": [a.to_dict() for a in run.new],
        }, ensure_ascii=False, indent=2))
    else:
        typer.echo(window_line(run.window.start, run.window.end, settings.zone_for()))
        typer.echo(summary_table(run.anomalies, {a.anomaly_id for a in run.new}))
        for name, seconds in run.timings.items():
            typer.echo(f"  {name:<12} {seconds:8.2f} s")
        for name, reason in run.skipped.items():
            typer.secho(f"  {name}: skipped ({reason})", fg=typer.colors.YELLOW)
        for name, message in run.errors.items():
            typer.secho(f"  {name}: FAILED: {message}", err=True, fg=typer.colors.RED)
    if run.errors:
        raise typer.Exit(EXIT_DETECTOR_FAILED)


def window_line(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """The window in local time, the zone named (and in UTC, which the store keeps)."""
    a, b = start.astimezone(zone), end.astimezone(zone)
    return (f"window {a:%Y-%m-%d %H:%M} .. {b:%Y-%m-%d %H:%M} {zone.key} "
            f"({start.astimezone(UTC):%Y-%m-%d %H:%M} .. {end.astimezone(UTC):%H:%M} UTC)")


def _detect_via_api(run: Any, as_json: bool, zone: ZoneInfo) -> None:
    """The service's answer, printed as `detect` prints its own run (the service also notifies the new ones)."""
    if as_json:
        typer.echo(json.dumps({
            "window": {"start": run.window.start.isoformat(), "end": run.window.end.isoformat()},
            "detected": run.detected, "new": run.new, "by_type": run.by_type, "timings": run.timings,
            "errors": run.errors, "skipped": run.skipped,
            "anomalies": [a.model_dump(mode="json") for a in run.anomalies],
        }, ensure_ascii=False, indent=2))
    else:
        typer.echo(window_line(run.window.start, run.window.end, zone))
        new = Counter(a.anomaly_type for a in run.anomalies)
        typer.echo(f"{'type':<26}{'total':>10}{'new':>8}")
        for name in sorted(run.by_type):
            typer.echo(f"{name:<26}{run.by_type[name]:>10}{new[name]:>8}")
        if not run.by_type:
            typer.echo("(no anomalies)")
        for name, seconds in run.timings.items():
            typer.echo(f"  {name:<12} {seconds:8.2f} s")
        for name, reason in run.skipped.items():
            typer.secho(f"  {name}: skipped ({reason})", fg=typer.colors.YELLOW)
        for name, message in run.errors.items():
            typer.secho(f"  {name}: FAILED: {message}", err=True, fg=typer.colors.RED)
        if run.new:
            typer.echo(f"{run.new} new anomalies were notified by the service")
    if run.errors:
        raise typer.Exit(EXIT_DETECTOR_FAILED)


def summary_table(anomalies: list[Any], new_ids: set[str]) -> str:
    """Counts by type and severity (found / newly stored)."""
    severities = ("critical", "warning", "info")
    rows = Counter((a.anomaly_type, a.severity) for a in anomalies)
    fresh = Counter((a.anomaly_type, a.severity) for a in anomalies if a.anomaly_id in new_ids)
    types = sorted({t for t, _ in rows})
    lines = [f"{'type':<26}" + "".join(f"{s:>14}" for s in severities) + f"{'total':>10}{'new':>8}"]
    for t in types:
        cells = "".join(f"{rows[(t, s)]:>14}" for s in severities)
        lines.append(f"{t:<26}{cells}{sum(rows[(t, s)] for s in severities):>10}"
                     f"{sum(fresh[(t, s)] for s in severities):>8}")
    if not types:
        lines.append("(no anomalies)")
    return "\n".join(lines)


def anomalies(
    anomaly_type: Annotated[str | None, typer.Option("--type", help="density_spike | night_activity | "
                                                                   "stationary_surveillance | ml_behavior")] = None,
    since: Annotated[str | None, typer.Option(help="Only anomalies whose window ends after this ISO-8601 time")] = None,
    until: Annotated[str | None, typer.Option(help="Only anomalies whose window starts before this time")] = None,
    device: Annotated[str | None, typer.Option(help="Device MAC (AA:BB:CC:DD:EE:FF)")] = None,
    folder: Annotated[str | None, typer.Option(help="Folder name")] = None,
    severity: Annotated[str | None, typer.Option(help="info | warning | critical")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest window first; 0 = all", min=0)] = 100,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print a JSON list of anomaly objects (DESIGN.md contract)")] = False,
) -> None:
    """List stored anomalies, newest window first. When more match than --limit, says so (on stderr with
    --json, whose output stays a plain list); --limit 0 lists them all."""
    from santiway_anomaly.anomaly import SEVERITIES
    from santiway_anomaly.catalog import ANOMALY_TYPES
    from santiway_anomaly.cli.service import store_or_service
    from santiway_anomaly.storage import Store
    from santiway_anomaly.storage.anomalies import AnomalyFilter, count_anomalies, list_anomalies

    if anomaly_type is not None and anomaly_type not in ANOMALY_TYPES:
        raise typer.BadParameter(f"--type must be one of {', '.join(ANOMALY_TYPES)}")
    if severity is not None and severity not in SEVERITIES:
        raise typer.BadParameter(f"--severity must be one of {', '.join(SEVERITIES)}")
    settings = settings_or_exit()
    flt = AnomalyFilter(anomaly_type=anomaly_type, severity=severity, device_id=device.upper() if device else None,
                        folder=folder, since=parse_time(since), until=parse_time(until), limit=limit or 10**9)
    with store_or_service(settings) as target:
        if isinstance(target, Store):
            total = count_anomalies(target, flt)
            rows = list_anomalies(target, replace(flt, limit=min(flt.limit, max(total, 1))))
        else:
            rows, total = _anomalies_via_api(target, flt, settings.api_max_limit)
    if total > len(rows):
        more = f"{len(rows)} of {total} anomalies shown; --limit {total} (or 0) lists them all"
        if as_json:
            typer.secho(f"warning: {more}", err=True, fg=typer.colors.YELLOW)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=_json_default))
        return
    if not rows:
        typer.echo("no anomalies")
        return
    zone = settings.zone_for()
    header = f"window_start ({zone.key})"
    typer.echo(f"{header:<26} {'type':<24} {'severity':<9} {'score':>6}  subject / folder")
    for r in rows:
        subject = r["device_id"] or f"folder:{r['folder']}"
        where = f" ({r['folder']})" if r["device_id"] and r["folder"] else ""
        start = _aware(r["window_start"]).astimezone(zone)
        typer.echo(f"{start:%Y-%m-%d %H:%M %Z}{'':<{max(0, 26 - len(f'{start:%Y-%m-%d %H:%M %Z}'))}} "
                   f"{r['anomaly_type']:<24} {r['severity']:<9} {r['score']:>6.3f}  {subject}{where}")
    if total > len(rows):
        typer.echo(f"... {total - len(rows)} more (use --limit {total}, or --limit 0 for all)")


def _aware(value: Any) -> datetime:
    stamp = datetime.fromisoformat(value) if isinstance(value, str) else value
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp


def _anomalies_via_api(api: Any, flt: Any, page_size: int) -> tuple[list[dict[str, Any]], int]:
    """Every anomaly asked for, page by page (the API answers at most API_MAX_LIMIT per request)."""
    rows: list[dict[str, Any]] = []
    total = 0
    while len(rows) < flt.limit:
        page = api.anomalies(limit=min(page_size, flt.limit - len(rows)), offset=len(rows),
                             anomaly_type=flt.anomaly_type, severity=flt.severity, device_id=flt.device_id,
                             folder=flt.folder, since=flt.since, until=flt.until)
        total = page.count
        rows.extend(a.model_dump() for a in page.data)
        if page.next_offset is None or not page.data:
            break
    return rows, total


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _mac(value: str) -> str:
    import re

    hexes = re.sub(r"[^0-9A-Fa-f]", "", value)
    if len(hexes) != 12:
        raise typer.BadParameter(f"not a MAC address: {value!r}")
    return ":".join(hexes[i:i + 2] for i in range(0, 12, 2)).upper()


_REASON_HELP = "Anomaly type the device is exempt from, or `all`"


@known_app.command("add")
def known_add(
    devices: Annotated[list[str], typer.Argument(help="Device MACs, any common notation")],
    reason: Annotated[str, typer.Option(help=_REASON_HELP)] = "all",
    note: Annotated[str, typer.Option(help="Why (shown in `known list`)")] = "",
) -> None:
    """Mark devices as known: no anomalies of the given type (or any) are raised for them. While the service
    runs, through its API."""
    from santiway_anomaly.catalog import ANOMALY_TYPES
    from santiway_anomaly.cli.service import store_or_service
    from santiway_anomaly.storage import Store
    from santiway_anomaly.storage.queries.known import add_known

    if reason != "all" and reason not in ANOMALY_TYPES:
        raise typer.BadParameter(f"--reason must be `all` or one of {', '.join(ANOMALY_TYPES)}")
    macs = [_mac(d) for d in devices]
    settings = settings_or_exit()
    with store_or_service(settings) as target:
        if isinstance(target, Store):
            add_known(target, macs, reason=reason, note=note)
        else:  # recorded by the service under its key's id
            for mac in macs:
                target.mark_known(mac, reason, note)
    typer.echo(f"added {len(macs)} known device(s) for {reason}")


@known_app.command("remove")
def known_remove(
    devices: Annotated[list[str], typer.Argument(help="Device MACs")],
    reason: Annotated[str, typer.Option(help=_REASON_HELP)] = "all",
) -> None:
    """Take devices off the allowlist (for the given reason). While the service runs, through its API."""
    from santiway_anomaly.catalog import ANOMALY_TYPES
    from santiway_anomaly.cli.service import store_or_service
    from santiway_anomaly.storage import Store
    from santiway_anomaly.storage.queries.known import remove_known

    if reason != "all" and reason not in ANOMALY_TYPES:
        raise typer.BadParameter(f"--reason must be `all` or one of {', '.join(ANOMALY_TYPES)}")
    macs = [_mac(d) for d in devices]
    settings = settings_or_exit()
    with store_or_service(settings) as target:
        if isinstance(target, Store):
            remove_known(target, macs, reason=reason)
        else:
            for mac in macs:
                target.unmark_known(mac, reason)
    typer.echo(f"removed {len(macs)} device(s) for {reason}")


@known_app.command("list")
def known_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List the active allowlist."""
    from dataclasses import asdict

    from santiway_anomaly.cli.service import store_or_service
    from santiway_anomaly.storage import Store
    from santiway_anomaly.storage.queries.known import list_known

    settings = settings_or_exit()
    with store_or_service(settings) as target:
        known = [asdict(k) for k in list_known(target)] if isinstance(target, Store) else target.known()
    if as_json:
        typer.echo(json.dumps(known, default=_json_default, indent=2))
        return
    zone = settings.zone_for()
    for k in known:
        added = _aware(k["added_at"]).astimezone(zone)
        typer.echo(f"{k['device_id']}  {k['reason']:<24} {k['added_by']:<16} {added:%Y-%m-%d %H:%M %Z}  {k['note']}")
    if not known:
        typer.echo("no known devices")


@known_app.command("learn")
def known_learn(
    until: Annotated[str | None, typer.Option(help="Learn from the history before this time (ISO-8601, `now`, "
                                                   "`latest`)")] = None,
    apply: Annotated[bool, typer.Option(help="Store the learned fixtures in the allowlist (reason "
                                             "stationary_surveillance)")] = False,
) -> None:
    """Show the fixtures learned from history (heard in most covered hours of most covered days, so gaps
    in the recording do not count against them); with --apply, store them.
    The detectors learn fixtures on every run anyway: --apply only makes them visible and editable."""
    from santiway_anomaly.storage.queries.known import add_known, learn_fixtures

    settings = settings_or_exit()
    with open_store(settings) as store:
        before = parse_time(until, store) or datetime.now(UTC)
        fixtures = learn_fixtures(store, settings, before)
        for device, ev in sorted(fixtures.items()):
            typer.echo(f"{device}  present on {ev['present_days']:g} of {ev['covered_days']:g} covered days, "
                       f"heard in {ev['hour_share']:.0%} of their covered hours (median)")
        if apply and fixtures:
            add_known(store, sorted(fixtures), reason="stationary_surveillance", note="learned fixture",
                      added_by="fixture-learner")
    typer.echo(f"{len(fixtures)} fixture(s) learned" + (", stored" if apply and fixtures else ""))


def register(app: typer.Typer) -> None:
    app.command("detect")(detect)
    app.command("anomalies")(anomalies)
    app.add_typer(known_app, name="known")
