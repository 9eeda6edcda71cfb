"""Occupancy benchmark (issue 16): how well hourly counts follow the real number of people.

The lab captures (`shared/data/lab-probes-2022-2023`: one ESP32 sniffer, probe fields, the room's
occupancy every hour) are ingested into a store; then per UTC hour of `occupancy.csv` (an hour
without sightings counts 0) four counts are compared with `occupancy_mean`, Spearman and Pearson,
over all hours and over occupied ones (occupancy_mean >= 1), 2022 (where the near cut was tuned)
and 2023 (held back):
  unique_macs     distinct MACs in the hour (naive)
  robust_old      stable MACs + the 5-minute peak of randomized MACs (the density count before issue 16)
  robust_fp       stable MACs + the 5-minute peak of randomized probe fingerprints (density count now)
  people          the occupancy estimate (santiway_anomaly.occupancy)
Also: the mean estimate and interval per band of true occupancy (saturation check).

    DATA_DIR=/tmp/x python benchmarks/occupancy.py [--lab DIR]

Writes benchmarks/results/occupancy.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results  # noqa: E402
from santiway_anomaly.config import load_settings  # noqa: E402
from santiway_anomaly.ingest.pipeline import ingest_file  # noqa: E402
from santiway_anomaly.occupancy import occupancy_hours  # noqa: E402
from santiway_anomaly.storage import Store  # noqa: E402
from santiway_anomaly.storage.queries.folders import folder_hours  # noqa: E402

DEFAULT_LAB = Path("/work/shared/data/lab-probes-2022-2023")
COUNTS = ["unique_macs", "robust_old", "robust_fp", "people"]


def correlations(frame: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {}
    occupied = frame[frame["occupancy_mean"] >= 1]
    for name, part in (("all_hours", frame), ("occupied_hours", occupied)):
        out[name] = {"hours": len(part), **{
            c: {"spearman": round(float(part[c].corr(part["occupancy_mean"], method="spearman")), 3),
                "pearson": round(float(part[c].corr(part["occupancy_mean"])), 3)} for c in COUNTS}}
    return out


def bands(frame: pd.DataFrame) -> list[dict[str, Any]]:
    cut = pd.cut(frame["occupancy_mean"], [-0.1, 0.5, 5, 10, 15, 20, 30, 100])
    rows = []
    for band, part in frame.groupby(cut, observed=True):
        rows.append({"occupancy": str(band), "hours": len(part),
                     **{c: round(float(part[c].mean()), 1) for c in COUNTS},
                     "people_low": round(float(part["people_low"].mean()), 1),
                     "people_high": round(float(part["people_high"].mean()), 1)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lab", type=Path, default=DEFAULT_LAB)
    args = parser.parse_args()
    settings = load_settings()
    store = Store.open(settings)
    try:
        if not store.scalar("SELECT count() FROM santi.way_data"):
            started = time.perf_counter()
            report = ingest_file(store, args.lab / "sightings.parquet", settings)
            print(f"ingested {report.accepted:,} sightings in {time.perf_counter() - started:.1f}s")  # noqa: T201
        truth = pd.read_csv(args.lab / "occupancy.csv")
        truth["hour"] = pd.to_datetime(truth["hour"], utc=True)
        since = truth["hour"].min().to_pydatetime()
        until = (truth["hour"].max() + pd.Timedelta(hours=1)).to_pydatetime()
        started = time.perf_counter()
        occ = occupancy_hours(store, settings, since, until)
        seconds = time.perf_counter() - started
        raw = folder_hours(store, since, until)
    finally:
        store.close()
    raw["hour"] = pd.to_datetime(raw["hour"], utc=True)
    raw["robust_old"] = raw["stable_devices"].astype(float) + raw["randomized_peak"].astype(float)
    frame = truth.merge(raw[["hour", "unique_devices", "robust_old", "robust_devices"]], on="hour", how="left")
    frame = frame.merge(occ[["hour", "people", "people_low", "people_high"]], on="hour", how="left")
    frame = frame.rename(columns={"unique_devices": "unique_macs", "robust_devices": "robust_fp"}).fillna(0.0)
    figures: dict[str, Any] = {"settings": {"occupancy_near_rssi": settings.occupancy_near_rssi,
                                            "occupancy_rssi_margin": settings.occupancy_rssi_margin},
                               "estimate_seconds": round(seconds, 2), "hours_estimated": len(occ)}
    for year, part in frame.groupby(frame["hour"].dt.year):
        label = f"{year} ({'tune' if year == 2022 else 'report'})"
        figures[label] = {"correlation": correlations(part), "by_true_occupancy": bands(part)}
        for scope in ("all_hours", "occupied_hours"):
            c = figures[label]["correlation"][scope]
            print(f"{label} {scope} ({c['hours']} h): " + "  ".join(  # noqa: T201
                f"{k} {c[k]['spearman']:.2f}/{c[k]['pearson']:.2f}" for k in COUNTS))
        for row in figures[label]["by_true_occupancy"]:
            print(f"  occupancy {row['occupancy']:>12} {row['hours']:5d} h: people {row['people']:5.1f} "  # noqa: T201
                  f"[{row['people_low']:.1f}, {row['people_high']:.1f}]  unique_macs {row['unique_macs']:6.1f}  "
                  f"robust_old {row['robust_old']:6.1f}  robust_fp {row['robust_fp']:6.1f}")
    figures["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(f"results: {write_results('occupancy', figures)}")  # noqa: T201


if __name__ == "__main__":
    main()
