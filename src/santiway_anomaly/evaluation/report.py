"""The evaluation report: an ordered list of sections, written as Markdown and JSON.

Each part of the product contributes sections through `register_section(builder)`: a builder takes
the `EvalContext` and returns a `Section` (or None to stay out of this report). The rule detectors'
section (per-type precision / recall / F1) is registered here; the ML part registers its own (for
example ROC-AUC against a baseline) from its module, which `santiway-anomaly evaluate` imports when
present (`OPTIONAL_SECTION_MODULES`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from santiway_anomaly.catalog import RULE_ANOMALY_TYPES
from santiway_anomaly.config import Settings
from santiway_anomaly.evaluation.matching import Detection, MatchingRule, TypeScore, evaluate, match
from santiway_anomaly.evaluation.truth import TruthEvent

# Modules imported (if importable) before a report is built, so that they can register sections.
OPTIONAL_SECTION_MODULES = ("santiway_anomaly.evaluation.ml_section",)


@dataclass
class EvalContext:
    """`store` is None when the stored anomalies were read elsewhere (`detections`: through the running
    service's API, which owns the embedded store); sections that need the sightings then say so."""

    store: Any
    settings: Settings
    truth: list[TruthEvent]
    truth_path: Path | None = None
    rule: MatchingRule = field(default_factory=MatchingRule)
    since: datetime | None = None
    until: datetime | None = None
    options: dict[str, Any] = field(default_factory=dict)
    detections: list[Detection] | None = None


@dataclass
class Section:
    key: str  # the section's key in the JSON report
    title: str
    markdown: str
    data: dict[str, Any]


SectionBuilder = Callable[[EvalContext], Section | None]
SECTIONS: list[SectionBuilder] = []
SECTION_KEYS: dict[SectionBuilder, str] = {}  # builder -> the key of its section, when declared


def register_section(builder: SectionBuilder, key: str | None = None) -> SectionBuilder:
    """Add a section builder to every report; with `key`, `evaluate --section` can skip it cheaply."""
    if builder not in SECTIONS:
        SECTIONS.append(builder)
    if key:
        SECTION_KEYS[builder] = key
    return builder


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def local_text(value: datetime | str | None, settings: Settings) -> str:
    """A time as a person reads it in the Markdown report: local (TIMEZONE), to the minute, with its
    offset. The JSON report keeps UTC ISO-8601 for programs."""
    if value is None:
        return "all"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(settings.zone_for()).strftime("%Y-%m-%d %H:%M %Z")


def rule_detectors_section(ctx: EvalContext) -> Section:
    if ctx.detections is not None:
        kept = [t for t in ctx.truth if (ctx.since is None or t.window_end > ctx.since)
                and (ctx.until is None or t.window_start < ctx.until)]
        scores = match(ctx.detections, kept, ctx.rule, RULE_ANOMALY_TYPES)
    else:
        scores = evaluate(ctx.store, ctx.truth, ctx.rule, ctx.since, ctx.until, types=RULE_ANOMALY_TYPES)
    scores.pop("ml_behavior", None)  # the ML section reports its own type
    lines = [f"Matching rule: {ctx.rule.describe()}.", "",
             "| type | detections | correct | truth events | found | precision | recall | F1 |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in scores.values():
        lines.append(f"| {s.anomaly_type} | {s.detections} | {s.true_positives} | {s.truth_events} | {s.found} | "
                     f"{_fmt(s.precision)} | {_fmt(s.recall)} | {_fmt(s.f1)} |")
    for s in scores.values():
        if s.false_positives or s.missed:
            lines += ["", f"**{s.anomaly_type}**: {len(s.false_positives)} false positive(s), "
                          f"{len(s.missed)} missed event(s)."]
            for fp in s.false_positives[:5]:
                lines.append(f"- false positive: {fp['subject']} at {local_text(fp['window_start'], ctx.settings)} "
                             f"(score {fp['score']:.3f})")
            for m in s.missed[:5]:
                lines.append(f"- missed: {m['subject']} {m['scenario']} {local_text(m['window_start'], ctx.settings)}"
                             f" .. {local_text(m['window_end'], ctx.settings)}")
    data = {"rule": ctx.rule.describe(), "tolerance_minutes": ctx.rule.tolerance.total_seconds() / 60,
            "types": {k: v.to_dict() for k, v in scores.items()}}
    return Section("rule_detectors", "Rule detectors: precision, recall, F1 per type", "\n".join(lines), data)


register_section(rule_detectors_section, key="rule_detectors")


def type_scores(section: Section) -> dict[str, TypeScore]:
    """Re-read the per-type scores of the rule-detector section (for callers that want objects)."""
    out: dict[str, TypeScore] = {}
    for name, d in section.data["types"].items():
        out[name] = TypeScore(name, d["detections"], d["true_positives"], d["truth_events"], d["found"])
    return out


def build_report(ctx: EvalContext, keys: list[str] | None = None) -> list[Section]:
    """Every registered section (after importing the optional section modules), or only those whose
    key is in `keys` (then the optional modules are imported only if they are needed)."""
    import importlib

    if keys is None or not set(keys) <= set(SECTION_KEYS.values()):
        for module in OPTIONAL_SECTION_MODULES:
            try:
                importlib.import_module(module)
            except ImportError:
                pass
    sections = []
    for builder in SECTIONS:
        declared = SECTION_KEYS.get(builder)
        if keys is not None and declared is not None and declared not in keys:
            continue
        section = builder(ctx)
        if section is not None and (keys is None or section.key in keys):
            sections.append(section)
    return sections


def write_report(sections: list[Section], out_dir: Path, ctx: EvalContext,
                 name: str = "evaluation") -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    created = now.isoformat(timespec="seconds")
    header = [f"# Evaluation report ({local_text(now, ctx.settings)})", "",
              f"Truth: `{ctx.truth_path}` ({len(ctx.truth)} events)" if ctx.truth_path else "",
              f"Window: {local_text(ctx.since, ctx.settings)} .. {local_text(ctx.until, ctx.settings)} "
              f"(local time, TIMEZONE={ctx.settings.timezone})", ""]
    body = [f"## {s.title}\n\n{s.markdown}\n" for s in sections]
    md = out_dir / f"{name}.md"
    js = out_dir / f"{name}.json"
    md.write_text("\n".join(header + body), encoding="utf-8")
    js.write_text(json.dumps({"created": created, "truth": str(ctx.truth_path) if ctx.truth_path else None,
                              "truth_events": len(ctx.truth),
                              "since": ctx.since.isoformat() if ctx.since else None,
                              "until": ctx.until.isoformat() if ctx.until else None,
                              "sections": {s.key: {"title": s.title, **s.data} for s in sections}},
                             indent=2, default=str), encoding="utf-8")
    return md, js
