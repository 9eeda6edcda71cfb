"""`santiway-anomaly evaluate --truth truth.jsonl`: score stored anomalies against ground truth."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from santiway_anomaly.catalog import DETECTOR_NAMES
from santiway_anomaly.cli.common import EXIT_CONFIG, settings_or_exit
from santiway_anomaly.storage import Store

if TYPE_CHECKING:
    from santiway_anomaly.dashboard.client import ApiClient
    from santiway_anomaly.evaluation.matching import Detection


def evaluate(
    truth: Annotated[Path | None, typer.Option(help="Ground truth, one JSON object per line (the simulator's "
                                                     "truth.jsonl)", exists=True, dir_okay=False,
                                                readable=True)] = None,
    out: Annotated[Path | None, typer.Option(help="Directory for the report (default: reports; with --worlds "
                                                  "docs/evaluation)")] = None,
    tolerance_minutes: Annotated[float, typer.Option(help="Windows match when they overlap within this many "
                                                          "minutes", min=0)] = 60.0,
    since: Annotated[str | None, typer.Option(help="Only truth and anomalies whose windows end after this "
                                                   "ISO-8601 time")] = None,
    until: Annotated[str | None, typer.Option(help="Only truth and anomalies whose windows start before this "
                                                   "ISO-8601 time")] = None,
    section: Annotated[list[str] | None, typer.Option(help="Only these report sections (repeat), e.g. "
                                                           "rule_detectors; default: all")] = None,
    worlds: Annotated[bool, typer.Option("--worlds", help="Evaluate the detectors across generated "
                                                          "world families (each in a fresh store) instead of "
                                                          "--truth")] = False,
    families: Annotated[str | None, typer.Option(help="With --worlds: comma-separated families (default: "
                                                      "all)")] = None,
    seeds: Annotated[str, typer.Option(help="With --worlds: comma-separated seeds, each run for every "
                                            "family")] = "101",
    scale: Annotated[float, typer.Option(help="With --worlds: device count scale", min=0.01)] = 1.0,
    lab: Annotated[Path | None, typer.Option(help="With --worlds: real captures directory (sightings.parquet, "
                                                  "meta.json); skipped with a message when absent")] = None,
    detectors: Annotated[str, typer.Option(help="With --worlds: detectors to run (ml: one `detect --hours 72` "
                                                "run over the anomaly window)")] = ",".join(DETECTOR_NAMES),
    jobs: Annotated[int, typer.Option(help="With --worlds: worlds evaluated in parallel", min=1)] = 1,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
) -> None:
    """Per anomaly type: precision, recall and F1 of the stored anomalies against the truth (matching
    rule: same type, same subject, windows overlapping within the tolerance). Writes a Markdown and a
    JSON report and prints the Markdown. While the service runs (it owns the embedded store), the stored
    anomalies are read through its API (said on stderr); the ML section, which trains on the sightings,
    is then skipped.

    With --worlds: generate worlds of several families, run the rule detectors once per local day and
    the ML detector as `detect --hours 72` over the 3 anomaly days (and over the clean days before) in a
    fresh store per world, and report per type precision, recall, F1 and false alarms per clean day,
    with the worst world named (docs/evaluation/worlds.md and worlds.json)."""
    from santiway_anomaly.cli.detect import parse_time
    from santiway_anomaly.cli.service import store_or_service
    from santiway_anomaly.evaluation import EvalContext, MatchingRule, build_report, load_truth, write_report
    from santiway_anomaly.evaluation.truth import TruthError

    if worlds:
        _evaluate_worlds(families, seeds, scale, lab, detectors, jobs, out or Path("docs/evaluation"), progress)
        return
    if truth is None:
        typer.secho("error: give --truth FILE, or --worlds", err=True, fg=typer.colors.RED)
        raise typer.Exit(EXIT_CONFIG)
    out = out or Path("reports")
    settings = settings_or_exit()
    try:
        events = load_truth(truth)
    except TruthError as exc:
        typer.secho(f"error: {truth}: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(EXIT_CONFIG) from None
    rule = MatchingRule(timedelta(minutes=tolerance_minutes))
    start, end = parse_time(since), parse_time(until)
    with store_or_service(settings) as target:
        if isinstance(target, Store):
            ctx = EvalContext(store=target, settings=settings, truth=events, truth_path=truth, rule=rule,
                              since=start, until=end)
        else:  # the service owns the store: its anomalies through the API, the same matching here
            ctx = EvalContext(store=None, settings=settings, truth=events, truth_path=truth, rule=rule,
                              since=start, until=end, detections=detections_via_api(target, start, end,
                                                                                    settings.api_max_limit))
        sections = build_report(ctx, section or None)
        md, js = write_report(sections, out, ctx)
    typer.echo(md.read_text(encoding="utf-8"))
    typer.echo(f"report: {md} and {js}")


def detections_via_api(api: ApiClient, since: datetime | None, until: datetime | None,
                       page_size: int) -> list[Detection]:
    """Every stored anomaly whose window overlaps [since, until), page by page (the API answers at most
    API_MAX_LIMIT per request), in the order the store path reads them (window start, id)."""
    from santiway_anomaly.evaluation.matching import Detection

    found: list[Detection] = []
    offset: int | None = 0
    while offset is not None:
        page = api.anomalies(limit=page_size, offset=offset, since=since, until=until)
        found.extend(Detection(a.anomaly_id, a.anomaly_type, a.device_id or f"folder:{a.folder}", a.window_start,
                               a.window_end, a.score, a.severity) for a in page.data)
        offset = page.next_offset if page.data else None
    return sorted(found, key=lambda d: (d.window_start, d.anomaly_id))


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _evaluate_worlds(families: str | None, seeds: str, scale: float, lab: Path | None, detectors: str, jobs: int,
                     out: Path, progress: bool) -> None:
    import shlex
    import sys

    from santiway_anomaly.cli.common import configure_logging
    from santiway_anomaly.evaluation.worlds import run_all, write_outputs
    from santiway_anomaly.simulate.families import FAMILIES

    configure_logging("WARNING")
    try:
        seed_list = [int(s) for s in _split(seeds)]
        tasks = [(f, s) for f in (_split(families) if families else list(FAMILIES)) for s in seed_list]
        result = run_all(tasks, scale, _split(detectors), lab=lab, jobs=jobs, progress=progress)
    except ValueError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(EXIT_CONFIG) from None
    if result.get("lab_note"):
        typer.secho(result["lab_note"], err=True, fg=typer.colors.YELLOW)
    command = "santiway-anomaly " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    md, js = write_outputs(result, out, command)
    typer.echo(md.read_text(encoding="utf-8"))
    typer.echo(f"report: {md} and {js}")


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
