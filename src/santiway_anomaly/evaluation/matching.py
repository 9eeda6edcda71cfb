"""The matching rule and per-type precision, recall and F1.

Matching rule: a detection and a truth event match when they have the same anomaly type, the same
subject (device MAC, or `folder:<name>`), and their windows overlap once each is widened by the
tolerance (default 1 hour): d.start < t.end + tol and t.start < d.end + tol.

- precision = detections that match some truth event / all detections of the type;
- recall    = truth events matched by some detection / all truth events of the type;
- F1        = harmonic mean of the two.

One truth event found by several detections (say a crowd flagged in two hours) counts once for
recall, and each of those detections counts as correct for precision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from santiway_anomaly.evaluation.truth import TruthEvent


@dataclass(frozen=True)
class MatchingRule:
    tolerance: timedelta = timedelta(hours=1)

    def overlaps(self, a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
        return a_start < b_end + self.tolerance and b_start < a_end + self.tolerance

    def describe(self) -> str:
        minutes = self.tolerance.total_seconds() / 60
        return (f"same type, same subject, windows overlapping within {minutes:g} min "
                "(d.start < t.end + tol and t.start < d.end + tol)")


@dataclass
class Detection:
    anomaly_id: str
    anomaly_type: str
    subject: str
    window_start: datetime
    window_end: datetime
    score: float = 0.0
    severity: str = ""
    folder: str = ""
    details: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass
class TypeScore:
    anomaly_type: str
    detections: int = 0
    true_positives: int = 0  # detections that match
    truth_events: int = 0
    found: int = 0  # truth events matched
    false_positives: list[dict[str, Any]] = field(default_factory=list)
    missed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.detections if self.detections else None

    @property
    def recall(self) -> float | None:
        return self.found / self.truth_events if self.truth_events else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    def to_dict(self, examples: int = 20) -> dict[str, Any]:
        data = asdict(self)
        data["false_positives"] = self.false_positives[:examples]
        data["missed"] = self.missed[:examples]
        data.update(precision=self.precision, recall=self.recall, f1=self.f1)
        return data


def match(detections: Sequence[Detection], truth: Sequence[TruthEvent],
          rule: MatchingRule = MatchingRule(), types: Iterable[str] | None = None) -> dict[str, TypeScore]:
    """Per-type scores for `detections` against `truth` under `rule`."""
    all_types = sorted(set(types or ()) | {d.anomaly_type for d in detections} | {t.anomaly_type for t in truth})
    by_key: dict[tuple[str, str], list[TruthEvent]] = {}
    for t in truth:
        by_key.setdefault((t.anomaly_type, t.subject), []).append(t)
    scores = {name: TypeScore(name) for name in all_types}
    found: set[int] = set()
    for d in detections:
        s = scores[d.anomaly_type]
        s.detections += 1
        hits = [t for t in by_key.get((d.anomaly_type, d.subject), [])
                if rule.overlaps(d.window_start, d.window_end, t.window_start, t.window_end)]
        if hits:
            s.true_positives += 1
            found.update(id(t) for t in hits)
        else:
            s.false_positives.append({"anomaly_id": d.anomaly_id, "subject": d.subject, "score": d.score,
                                      "window_start": d.window_start.isoformat()})
    for t in truth:
        s = scores[t.anomaly_type]
        s.truth_events += 1
        if id(t) in found:
            s.found += 1
        else:
            s.missed.append({"subject": t.subject, "scenario": t.scenario,
                             "window_start": t.window_start.isoformat(), "window_end": t.window_end.isoformat()})
    return scores


def load_detections(store: Any, since: datetime | None = None, until: datetime | None = None,
                    min_score: float = 0.0) -> list[Detection]:
    """Stored anomalies (every type) whose window overlaps [since, until)."""
    from santiway_anomaly.detectors.util import utc
    from santiway_anomaly.storage.anomalies import stored_windows

    rows = stored_windows(store, since, until, min_score)
    return [Detection(str(i), str(t), str(d) or f"folder:{f}", utc(ws), utc(we), float(sc), str(sev))
            for i, t, d, f, ws, we, sc, sev in rows]


def evaluate(store: Any, truth: Sequence[TruthEvent], rule: MatchingRule = MatchingRule(),
             since: datetime | None = None, until: datetime | None = None,
             types: Iterable[str] | None = None) -> dict[str, TypeScore]:
    """Score the stored anomalies against `truth`, both limited to windows overlapping [since, until)."""
    detections = load_detections(store, since, until)
    kept = [t for t in truth if (since is None or t.window_end > since) and (until is None or t.window_start < until)]
    return match(detections, kept, rule, types)
