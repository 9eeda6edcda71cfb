"""The ML detector (ml_behavior) in the world-families evaluation, run as `detect --hours 72` runs it.

Per world (issue 12, "Done when"):
- anomaly window: one run over the 72 hours of the last ANOMALY_DAYS local days
  (`Window.last_hours(72, until=<midnight after the last day>)`), scored against the world's devices
  that changed (simulate/families/changes.py); precision, recall, F1 under the matching rule of
  `evaluation/matching.py`, and recall per kind of change;
- clean days: the same detector over the clean days before, in 72-hour runs tiled back from the
  anomaly window (the first one shorter when the clean days do not divide by three), in time order,
  as a deployment running `detect --hours 72` every third day would; every alarm there is false.
  False alarms per 1,000 devices per clean day (the world's physical devices, as for the rule
  detectors) and per 1,000 device-days the detector actually scored (stable MACs out of learning).

The detector is built and its anomalies stored exactly as `run_detection` does (build, detect,
save_anomalies); it is called directly only to read how many devices it scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from loguru import logger

ML_NAME = "ml"
ML_TYPE = "ml_behavior"
WINDOW_DAYS = 3  # `detect --hours 72`


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, dtime(0), tzinfo=zone).astimezone(UTC)


def _run(store: Any, settings: Any, first: date, days: int) -> tuple[list[Any], int, int]:
    """One `detect --hours 24*days` run ending at the midnight after first + days - 1: the anomalies
    it stored (new ones only), the devices and the device-days it scored."""
    from santiway_anomaly.detectors.base import Window, build
    from santiway_anomaly.detectors.runner import load_detectors
    from santiway_anomaly.storage.anomalies import save_anomalies

    load_detectors()
    zone = ZoneInfo(settings.timezone)
    start, end = _midnight(first, zone), _midnight(first + timedelta(days=days), zone)
    det = build(ML_NAME, settings=settings)
    found = det.detect(store, Window(start, end))
    scores = getattr(det, "scores_", None)
    if scores is None or len(scores) == 0:
        return list(save_anomalies(store, found)), 0, 0
    return list(save_anomalies(store, found)), int(scores["device_id"].nunique()), len(scores)


def clean_windows(clean_days: Sequence[date]) -> list[tuple[date, int]]:
    """(first day, days) of the runs over the clean days: 3-day windows ending at the last clean day,
    tiled back; the earliest one shorter if needed. In time order."""
    out: list[tuple[date, int]] = []
    days = sorted(clean_days)
    end = len(days)
    while end > 0:
        n = min(WINDOW_DAYS, end)
        out.append((days[end - n], n))
        end -= n
    return out[::-1]


def detect_ml(store: Any, settings: Any, clean_days: Sequence[date],
              anomaly_days: Sequence[date]) -> dict[str, Any]:
    """Clean-day runs then the anomaly-window run; what each stored, and the devices scored."""
    clean: list[Any] = []
    clean_device_days = 0
    for first, n in clean_windows(clean_days):
        found, _, device_days = _run(store, settings, first, n)
        clean += found
        clean_device_days += device_days
    a_days = sorted(anomaly_days)
    found, scored, _ = _run(store, settings, a_days[0], len(a_days))
    logger.debug("ml: {} clean-day alarms, {} in the anomaly window", len(clean), len(found))
    return {"clean": clean, "window": found, "scored_devices": scored, "clean_scored_device_days": clean_device_days}


def ml_type_scores(ml: dict[str, Any], truth: Sequence[Any], n_clean_days: int, devices: int) -> dict[str, Any]:
    """The ml_behavior row of a world: the rule detectors' fields plus recall per kind of change and
    false alarms per 1,000 scored devices."""
    from santiway_anomaly.evaluation.matching import Detection, match

    def det(a: Any) -> Detection:
        return Detection(a.anomaly_id, a.anomaly_type, a.subject, a.window_start, a.window_end, a.score, a.severity)

    window = [det(a) for a in ml["window"] if a.anomaly_type == ML_TYPE]
    clean = [det(a) for a in ml["clean"] if a.anomaly_type == ML_TYPE]
    events = [t for t in truth if t.anomaly_type == ML_TYPE]
    s = match(window, events, types=[ML_TYPE])[ML_TYPE]
    n_clean = max(n_clean_days, 1)
    fa = len(clean)
    missed = {(m["subject"], m["window_start"]) for m in s.missed}
    by_kind: dict[str, dict[str, int]] = {}
    for t in events:
        kind = str(t.details.get("kind", t.scenario))
        k = by_kind.setdefault(kind, {"truth": 0, "found": 0})
        k["truth"] += 1
        k["found"] += (t.subject, t.window_start.isoformat()) not in missed
    scored = ml["scored_devices"]
    return {
        "detections": s.detections, "correct": s.true_positives, "truth_events": s.truth_events, "found": s.found,
        "precision": s.precision, "recall": s.recall,
        "f1": 0.0 if s.f1 is None and s.recall is not None else s.f1,
        "clean_day_alarms": fa, "fa_per_clean_day": fa / n_clean,
        "fa_per_1000_devices_per_clean_day": fa / n_clean / (devices / 1000),
        "scored_devices": scored, "clean_scored_device_days": ml["clean_scored_device_days"],
        # per 1,000 device-days the detector scored: the same rate with learning devices left out
        "fa_per_1000_scored_devices_per_clean_day":
            1000 * fa / ml["clean_scored_device_days"] if ml["clean_scored_device_days"] else None,
        "recall_by_kind": by_kind,
        "false_positives": s.false_positives[:10], "missed": s.missed,
        "clean_examples": [{"subject": d.subject, "window_start": d.window_start.isoformat(), "score": d.score}
                           for d in clean[:10]],
    }
