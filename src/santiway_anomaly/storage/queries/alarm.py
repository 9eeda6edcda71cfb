"""The alarm step shared by the rule detectors (Merlion's last step): threshold, then suppression.

A candidate becomes an alarm when its calibrated score reaches the alarm line (0.5). Repeats for
the same subject within a cooldown are suppressed unless the severity escalates; `fit` loads the
alarms already stored (`prior_alarms`), so consecutive runs do not re-alarm a continuing episode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from santiway_anomaly.anomaly import ALARM_SCORE, SEVERITIES, Anomaly
from santiway_anomaly.detectors.util import utc
from santiway_anomaly.storage.store import Store

_RANK = {name: i for i, name in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class PriorAlarm:
    anomaly_id: str
    subject: str
    window_start: datetime
    window_end: datetime
    severity: str


def prior_alarms(store: Store, anomaly_type: str, start: datetime, end: datetime) -> list[PriorAlarm]:
    """Stored alarms of one type whose window overlaps [start, end)."""
    rows = store.query_rows(
        "SELECT anomaly_id, device_id, folder, window_start, window_end, severity "
        "FROM anomaly_ml.anomalies FINAL WHERE anomaly_type = {t:String} "
        "AND window_end > {start:DateTime64(3, 'UTC')} AND window_start < {end:DateTime64(3, 'UTC')} "
        "ORDER BY window_start",
        {"t": anomaly_type, "start": start, "end": end},
    )
    return [PriorAlarm(str(i), str(d) or f"folder:{f}", utc(ws), utc(we), str(s))
            for i, d, f, ws, we, s in rows]


def above_threshold(candidates: Sequence[Anomaly]) -> list[Anomaly]:
    return [a for a in candidates if a.score >= ALARM_SCORE]


def suppress_repeats(candidates: Sequence[Anomaly], prior: Sequence[PriorAlarm],
                     cooldown: timedelta) -> list[Anomaly]:
    """Keep an alarm unless the same subject alarmed within `cooldown` before it at an equal or
    higher severity; a suppressed alarm extends the episode, so a long run of hours stays one alarm."""
    if not candidates or cooldown <= timedelta(0):
        return list(candidates)
    ids = {a.anomaly_id for a in candidates}
    last: dict[str, PriorAlarm] = {}
    for p in sorted(prior, key=lambda p: p.window_start):
        if p.anomaly_id not in ids:  # the same anomaly stored before is not a repeat of itself
            last[p.subject] = p
    kept: list[Anomaly] = []
    for a in sorted(candidates, key=lambda a: (a.subject, a.window_start)):
        prev = last.get(a.subject)
        if (prev is not None and prev.window_start < a.window_start <= prev.window_end + cooldown
                and _RANK[a.severity] <= _RANK[prev.severity]):
            last[a.subject] = PriorAlarm(prev.anomaly_id, prev.subject, prev.window_start,
                                         max(prev.window_end, a.window_end), prev.severity)
            continue
        kept.append(a)
        last[a.subject] = PriorAlarm(a.anomaly_id, a.subject, a.window_start, a.window_end, a.severity)
    return kept
