"""Every false alarm of a world, in a form one can diagnose (issue 11: "evaluation you can diagnose").

A false alarm is an alarm on a clean day (no injected anomaly: every one is false), or an alarm on an
anomaly day that matches no truth event under the matching rule. Each is listed with its rule (the
detector's `pattern`: lingering / returning / following for stationary), subject, window, score, the main
evidence (reasons, against, the scalar fields of `details`), who the device was in the world (role and
MAC behaviour from `devices.parquet`) and the nearest planted event of the same device, if there is one:
a false alarm one hour beside a planted event of the same device points at the matching rule or the
truth, one on a visitor with no planted event points at the detector.

The list is capped per world (`cap`); `left_out` says how many were not listed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from santiway_anomaly.catalog import DETECTORS
from santiway_anomaly.evaluation.matching import Detection
from santiway_anomaly.evaluation.truth import TruthEvent

EVIDENCE_KEYS = 14  # scalar fields of `details` kept per alarm: enough to read the rule, small enough to read the file
SKIP_KEYS = frozenset({"pattern", "reasons", "against", "other_patterns"})
DETECTOR_OF = {d.anomaly_type: d.name for d in DETECTORS}


@dataclass
class FalseAlarms:
    listed: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0

    @property
    def left_out(self) -> int:
        return self.total - len(self.listed)


def _gap_hours(d: Detection, t: TruthEvent) -> float:
    """Hours between the two windows (0 when they overlap)."""
    if d.window_start < t.window_end and t.window_start < d.window_end:
        return 0.0
    gap = t.window_start - d.window_end if t.window_start >= d.window_end else d.window_start - t.window_end
    return round(gap.total_seconds() / 3600, 1)


def nearest_planted(d: Detection, truth: Sequence[TruthEvent]) -> dict[str, Any] | None:
    """The planted event of the same device (any type) nearest in time to `d`, or None."""
    device = "" if d.subject.startswith("folder:") else d.subject
    same = [t for t in truth if (device and t.device_id == device) or t.subject == d.subject]
    if not same:
        return None
    t = min(same, key=lambda e: _gap_hours(d, e))
    return {"anomaly_type": t.anomaly_type, "scenario": t.scenario, "folder": t.folder,
            "window_start": t.window_start.isoformat(), "window_end": t.window_end.isoformat(),
            "gap_hours": _gap_hours(d, t)}


def evidence(details: Mapping[str, Any]) -> dict[str, Any]:
    """The main evidence: reasons, against and the first EVIDENCE_KEYS scalar fields of `details`."""
    out: dict[str, Any] = {"reasons": list(details.get("reasons", [])), "against": list(details.get("against", []))}
    scalars = [(k, v) for k, v in details.items()
               if k not in SKIP_KEYS and (v is None or isinstance(v, (str, int, float, bool)))]
    out.update(scalars[:EVIDENCE_KEYS])
    others = details.get("other_patterns")
    if others:
        out["other_patterns"] = [o.get("pattern") for o in others if isinstance(o, Mapping)]
    return out


def list_false_alarms(clean: Sequence[tuple[str, Detection]], unmatched: Sequence[tuple[str, Detection]],
                      truth: Sequence[TruthEvent], who: Mapping[str, str], cap: int = 25) -> FalseAlarms:
    """`clean` and `unmatched` are (local day, detection) pairs; `who` maps a MAC to "role/MAC behaviour"."""
    rows = [("clean", day, d) for day, d in clean] + [("anomaly", day, d) for day, d in unmatched]
    rows.sort(key=lambda r: (r[2].anomaly_type, -r[2].score, r[1], r[2].subject))
    listed = []
    for kind, day, d in rows[:cap]:
        listed.append({
            "day": day, "day_kind": kind, "detector": DETECTOR_OF.get(d.anomaly_type, ""), "type": d.anomaly_type,
            "rule": str(d.details.get("pattern") or d.anomaly_type), "subject": d.subject,
            "who": "folder" if d.subject.startswith("folder:") else who.get(d.subject, "unknown"),
            "folder": d.folder, "window_start": _iso(d.window_start), "window_end": _iso(d.window_end),
            "score": d.score, "severity": d.severity, "evidence": evidence(d.details),
            "nearest_planted": nearest_planted(d, truth)})
    return FalseAlarms(listed, len(rows))


def _iso(t: datetime) -> str:
    return t.isoformat()


def markdown(worlds: Sequence[Mapping[str, Any]], per_world: int = 4) -> list[str]:
    """A short section: per world, its false alarms (up to `per_world`), the rest counted."""
    rows = [w for w in worlds if w.get("false_alarms")]
    lines = ["", "## False alarms (clean and anomaly days)", ""]
    if not rows:
        return [*lines, "None."]
    lines += ["Every alarm on a clean day, and every alarm on an anomaly day that matched no planted event, with "
              "its rule, who the device was and the nearest planted event of the same device (`worlds.json`, "
              "`worlds[].false_alarms`, capped per world).", ""]
    for w in rows:
        fa = w["false_alarms"]
        for a in fa[:per_world]:
            near = a["nearest_planted"]
            near_text = "no planted event of this device" if near is None else (
                f"nearest planted: {near['scenario'] or near['anomaly_type']} {near['gap_hours']} h away")
            why = "; ".join(a["evidence"]["reasons"][:2])
            against = "; ".join(a["evidence"]["against"][:2]) or "nothing against"
            lines.append(f"- {w['world']} {a['day']} ({a['day_kind']} day): {a['type']}/{a['rule']} {a['subject']} "
                         f"({a['who']}, {a['folder']}) score {a['score']:.2f}: {why} | against: {against} | "
                         f"{near_text}")
        more = len(fa) - per_world + w.get("false_alarms_left_out", 0)
        if more > 0:
            lines.append(f"- {w['world']}: {more} more")
    return lines
