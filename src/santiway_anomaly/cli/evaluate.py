"""`santiway-anomaly evaluate --truth truth.jsonl`: score stored anomalies against ground truth."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from santiway_anomaly.cli.common import EXIT_CONFIG, open_store, settings_or_exit


def evaluate(
    truth: Annotated[Path, typer.Option(help="Ground truth, one JSON object per line (the simulator's "
                                              "truth.jsonl)", exists=True, dir_okay=False, readable=True)],
    out: Annotated[Path, typer.Option(help="Directory for evaluation.md and evaluation.json")] = Path("reports"),
    tolerance_minutes: Annotated[float, typer.Option(help="Windows match when they overlap within this many "
                                                          "minutes", min=0)] = 60.0,
    since: Annotated[str | None, typer.Option(help="Only truth and anomalies whose windows end after this "
                                                   "ISO-8601 time")] = None,
    until: Annotated[str | None, typer.Option(help="Only truth and anomalies whose windows start before this "
                                                   "ISO-8601 time")] = None,
    section: Annotated[list[str] | None, typer.Option(help="Only these report sections (repeat), e.g. "
                                                           "rule_detectors; default: all")] = None,
) -> None:
    """Per anomaly type: precision, recall and F1 of the stored anomalies against the truth (matching
    rule: same type, same subject, windows overlapping within the tolerance). Writes a Markdown and a
    JSON report and prints the Markdown."""
    from santiway_anomaly.cli.detect import parse_time
    from santiway_anomaly.evaluation import EvalContext, MatchingRule, build_report, load_truth, write_report
    from santiway_anomaly.evaluation.truth import TruthError

    settings = settings_or_exit()
    try:
        events = load_truth(truth)
    except TruthError as exc:
        typer.secho(f"error: {truth}: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(EXIT_CONFIG) from None
    with open_store(settings) as store:
        ctx = EvalContext(store=store, settings=settings, truth=events, truth_path=truth,
                          rule=MatchingRule(timedelta(minutes=tolerance_minutes)),
                          since=parse_time(since), until=parse_time(until))
        sections = build_report(ctx, section or None)
        md, js = write_report(sections, out, ctx)
    typer.echo(md.read_text(encoding="utf-8"))
    typer.echo(f"report: {md} and {js}")


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
