"""Distinct devices per folder per hour beside the p95 baseline the density detector judges them by.

The numbers are the density detector's own (`DensityDetector.fit` + `hourly`), so the chart an
operator reads and the alarm that fired cannot disagree: raw distinct MACs, the robust count
(stable MACs + the 5-minute peak of randomized ones), the p95 baseline and which baseline it is.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from santiway_anomaly.config import Settings
from santiway_anomaly.coverage import load_coverage
from santiway_anomaly.detectors.base import Window
from santiway_anomaly.detectors.context import DetectionContext
from santiway_anomaly.detectors.density import DensityDetector
from santiway_anomaly.occupancy import occupancy_hours
from santiway_anomaly.storage.store import Store

# Length of the windows the series is judged in (the specification's detection window, 24 h).
CHUNK = timedelta(hours=24)
MAX_FITS = 14


def folder_coverage(store: Store, settings: Settings, since: datetime, until: datetime) -> dict[str, Any]:
    """Per folder: learning or ready, covered days and hours in [since, until) (coverage.py)."""
    coverage = load_coverage(store, settings, since, until)
    summary = coverage.summary(until)
    return {"since": since, "until": until, "learning_min_days": settings.learning_min_days,
            "mobile_sensors": coverage.mobile_sensors,
            "data": [{"folder": f, **v} for f, v in sorted(summary.items())]}


def folder_series(store: Store, settings: Settings, since: datetime, until: datetime,
                  folder: str | None = None) -> dict[str, Any]:
    """Per folder per UTC hour in [since, until): counts, p95 baseline (None without history), score."""
    window = Window(since, until)
    # One fit per day of the window, as continuous detection judges each day against the days before
    # it: over a week, the baseline moves with the data instead of being the week before's.
    start = window.start.replace(minute=0, second=0, microsecond=0)  # whole hours: none scored twice
    # At most MAX_FITS fits: a 90-day window is judged in whole-hour chunks of about a week.
    step = max(CHUNK, timedelta(hours=math.ceil((window.end - start) / timedelta(hours=1) / MAX_FITS)))
    chunks = []
    while start < window.end:
        chunks.append(Window(start, min(start + step, window.end)))
        start = chunks[-1].end
    # One context for every chunk: the sensors' reports and heartbeats behind each chunk's coverage are
    # read from the store once, not once per chunk.
    context = DetectionContext(store, settings)
    detectors = [DensityDetector(settings).using(context) for _ in chunks]
    for detector, chunk in zip(detectors, chunks, strict=True):
        context.expect_coverage(detector.coverage_ranges(chunk))
    parts = [d.fit(store, c).hourly(store, c) for d, c in zip(detectors, chunks, strict=True)]
    parts = [p for p in parts if len(p)]
    scored = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if folder is not None and not scored.empty:
        scored = scored[scored["folder"] == folder]
    rows: list[dict[str, Any]] = []
    ordered = scored.sort_values(["folder", "hour"]) if len(scored) else scored
    people = _people(store, settings, window, folder) if len(ordered) else {}
    for row in ordered.to_dict("records"):
        p95 = row["p95_baseline"]
        hour = pd.Timestamp(row["hour"])
        estimate = people.get((str(row["folder"]), hour.tz_localize("UTC") if hour.tzinfo is None else hour))
        rows.append({
            "folder": str(row["folder"]),
            "hour": (hour.tz_localize("UTC") if hour.tzinfo is None else hour).to_pydatetime(),
            "unique_devices": int(row["unique_devices"]),
            "robust_devices": float(row["robust_devices"]),
            "p95_baseline": None if p95 is None or pd.isna(p95) else round(float(p95), 2),
            "baseline": str(row["baseline_kind"]),
            "baseline_samples": int(row["baseline_n"]),
            "score": round(float(row["score"]), 4),
            "state": str(row.get("state", "ready")),
            "covered": bool(row.get("covered", True)),
            # an hour without sightings holds nobody near a sensor
            **(estimate or {"people": 0.0, "people_low": 0.0, "people_high": 0.0}),
        })
    return {
        "since": window.start,
        "until": window.end,
        "history_days": settings.detect_history_days,
        "folders": sorted({r["folder"] for r in rows}),
        "data": rows,
    }


def _people(store: Store, settings: Settings, window: Window, folder: str | None
            ) -> dict[tuple[str, pd.Timestamp], dict[str, float]]:
    """(folder, UTC hour) -> the occupancy estimate and its interval (occupancy.py)."""
    df = occupancy_hours(store, settings, window.start, window.end, [folder] if folder is not None else None)
    return {(str(r["folder"]), pd.Timestamp(r["hour"])): {k: float(r[k]) for k in ("people", "people_low",
                                                                                  "people_high")}
            for r in df.to_dict("records")}
