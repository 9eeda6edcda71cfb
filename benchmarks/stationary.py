"""Stationary surveillance on simulated worlds and on the lab captures: precision, recall, F1 and
alarms on clean days (per 1,000 devices per day), and alarms per recorded lab day.

    # a world: simulate it, then judge its last K local days (anomalies are in the last 3 only)
    santiway-anomaly simulate --devices 2000 --folders 10 --days 14 --seed 123 \\
        --timezone America/New_York --mobile-sensors 3 --start 2026-01-05 --out /tmp/w/B
    DATA_DIR=/tmp/d/B TIMEZONE=America/New_York python benchmarks/stationary.py world /tmp/w/B --devices 2000
    # the lab captures (every recorded local day)
    DATA_DIR=/tmp/d/lab TIMEZONE=Europe/Prague python benchmarks/stationary.py lab

Ingests once per DATA_DIR (a marker file), clears stored anomalies, then runs `stationary` once per
local day (`detect --hours 24 --until <local midnight>`). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from santiway_anomaly.config import Settings, load_settings
from santiway_anomaly.detectors.runner import run_detection
from santiway_anomaly.evaluation.matching import evaluate
from santiway_anomaly.evaluation.truth import load_truth
from santiway_anomaly.ingest.pipeline import ingest_file
from santiway_anomaly.storage.store import Store

LAB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lab-probes-2022-2023"


def _open(settings: Settings, sightings: Path) -> Store:
    store = Store.open(settings)
    marker = settings.data_dir / "ingested"
    if not marker.exists():
        ingest_file(store, sightings, settings)
        marker.write_text("ok")
    store.command("TRUNCATE TABLE anomaly_ml.anomalies")
    return store


def _run(store: Store, settings: Settings, day: date, zone: ZoneInfo) -> list[Any]:
    until = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
    return run_detection(store, settings, hours=24, until=until, detectors=["stationary"]).anomalies


def world(directory: Path, devices: int, judged: int) -> dict[str, Any]:
    settings = load_settings()
    store = _open(settings, directory / "sightings.parquet")
    zone = ZoneInfo(settings.timezone)
    last = store.scalar("SELECT max(ts) FROM santi.way_data").replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
    end_day = (last + timedelta(hours=1)).date()  # the data ends at local midnight
    first_anomaly_day = end_day - timedelta(days=3)
    truth = [t for t in load_truth(directory / "truth.jsonl") if t.anomaly_type == "stationary_surveillance"]
    started = time.time()
    clean: list[Any] = []
    clean_days = 0
    for k in range(judged, 0, -1):
        day = end_day - timedelta(days=k)
        found = _run(store, settings, day, zone)
        if day < first_anomaly_day:
            clean_days += 1
            clean += [(a.device_id, a.details.get("pattern"), a.severity) for a in found]
    since = datetime.combine(first_anomaly_day, datetime.min.time(), zone)
    sc = evaluate(store, truth, since=since, types=["stationary_surveillance"])["stationary_surveillance"]
    return {"world": directory.name, "devices": devices, "precision": sc.precision, "recall": sc.recall,
            "f1": sc.f1, "detections": sc.detections, "truth": sc.truth_events, "clean_days": clean_days,
            "clean_alarms": len(clean),
            "clean_per_1k_devices_day": round(1000 * len(clean) / max(1, clean_days) / devices, 3),
            "seconds": round(time.time() - started, 1), "missed": [m["scenario"] for m in sc.missed],
            "false_positives": sc.false_positives[:20], "clean": clean[:20]}


def lab() -> dict[str, Any]:
    settings = load_settings()
    store = _open(settings, LAB / "sightings.parquet")
    zone = ZoneInfo("Europe/Prague")
    days = [date.fromisoformat(d) for d in json.loads((LAB / "meta.json").read_text())["days_used"]]
    by: collections.Counter[str] = collections.Counter()
    rows = []
    for day in days:
        for a in _run(store, settings, day, zone):
            by[f"{day.year}/{a.details.get('pattern')}"] += 1
            rows.append((day.isoformat(), a.device_id, a.details.get("pattern"), a.severity))
    return {"days": dict(collections.Counter(str(d.year) for d in days)), "alarms": dict(sorted(by.items())),
            "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    w = sub.add_parser("world")
    w.add_argument("directory", type=Path)
    w.add_argument("--devices", type=int, required=True, help="the world's --devices (the rate's denominator)")
    w.add_argument("--days", type=int, default=6, help="last local days judged (the last 3 hold the anomalies)")
    sub.add_parser("lab")
    args = parser.parse_args()
    result = world(args.directory, args.devices, args.days) if args.what == "world" else lab()
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
