"""Detection benchmark: one day of N devices (default 100,000) and >= 10 M sightings, plus trailing
history days, in the embedded store; times each rule detector next to a plain `SELECT count()`
over the same window (the floor any query over that day pays).

    .venv/bin/python benchmarks/detect.py [--devices 100000] [--per-device 100] [--history-days 7]

The data is generated inside ClickHouse (`INSERT ... SELECT ... FROM numbers(...)`, vectorised, no
Python loop over sightings): office workers on weekday-like hours, fixtures around the clock, night
staff, short-lived randomized MACs, and devices travelling with mobile sensors. Results are printed
and written to benchmarks/results/detect.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from santiway_anomaly.config import load_settings
from santiway_anomaly.detectors.base import Window, build
from santiway_anomaly.detectors.runner import load_detectors
from santiway_anomaly.storage import Store

DAY0 = datetime(2026, 3, 2, tzinfo=UTC)

# One row per (device, k): `per` sightings per device per day. Roles by device number:
#   dev % 100 == 99 -> fixture (all day);  dev % 10 in (7, 8) -> randomized MAC, a new MAC every day,
#   50 minutes at a random hour;  dev % 10 == 9 -> night staff (from 22:00);  dev % 1000 == 3 -> travels
#   with a mobile sensor;  dev % 1000 == 5 -> a stranger lingering on the detected day only;
#   dev % 1000 == 6 -> a stranger visiting on the last three days only;  else office hours.
GENERATE = """
INSERT INTO santi.way_data (ts, device_id, sensor_id, folder, network_type, rssi, lat, lon, vendor, is_randomized)
SELECT
    toDateTime64({day:DateTime('UTC')}, 3, 'UTC') + toIntervalMillisecond(toInt64(1000 * least(86399.0, greatest(0.0,
        multiIf(fixture, k * 86400.0 / {per:UInt32},
                randomized, (cityHash64(dev, {d:UInt32}) % 23) * 3600.0 + k * 30.0,
                night, 22 * 3600.0 + k * 36000.0 / {per:UInt32} - 86400.0 * (k >= {per:UInt32} / 5),
                lingerer OR returner, (9 + dev % 5) * 3600.0 + k * if(lingerer, 14400.0, 3000.0) / {per:UInt32},
                8 * 3600.0 + (dev % 60) * 60.0 + k * 36000.0 / {per:UInt32})
        + (cityHash64(n) % 30000) / 1000.0)))) AS ts,
    upper(concat(if(randomized, '02', '00'), ':BE:',
          substring(h, 1, 2), ':', substring(h, 3, 2), ':', substring(h, 5, 2), ':', substring(h, 7, 2))) AS device_id,
    if(mobile, concat('m-', toString(dev % 7)), concat('s-', toString(folder_no), '-', toString(dev % 3))) AS sensor_id,
    if(mobile, concat('route-', toString(dev % 7)), concat('f-', toString(folder_no))) AS folder,
    if(dev % 4 = 0, 'ble', 'wifi') AS network_type,
    toInt16(if(lingerer OR returner OR fixture, -55 - (cityHash64(n, 1) % 5), -40 - (cityHash64(n, 1) % 45))) AS rssi,
    55.0 + (folder_no % 20) * 0.01 + (dev % 3) * 0.0003 + if(mobile, k * 0.0005, 0) AS lat,
    37.0 + intDiv(folder_no, 20) * 0.01 AS lon,
    'Bench' AS vendor,
    toUInt8(randomized) AS is_randomized
FROM
(
    SELECT number AS n, intDiv(number, {per:UInt32}) AS dev, number % {per:UInt32} AS k,
           dev % 100 = 99 AS fixture, (dev % 10 IN (7, 8)) AND NOT fixture AS randomized,
           dev % 10 = 9 AND NOT fixture AS night, dev % 1000 = 3 AS mobile,
           dev % 1000 = 5 AS lingerer, dev % 1000 = 6 AS returner,
           -- a randomized MAC is a new device every day
           leftPad(hex(if(randomized, cityHash64(dev, {d:UInt32}) % 4294967296, dev)), 8, '0') AS h,
           -- strangers spread over the folders (one per folder, not a crowd of them in one)
           if(lingerer OR returner, intDiv(dev, 1000), dev) % {folders:UInt32} AS folder_no
    FROM numbers({rows:UInt64})
    WHERE (NOT lingerer OR {last:UInt8}) AND (NOT returner OR {last3:UInt8})
)
"""


def generate(store: Store, day: datetime, d: int, devices: int, per: int, folders: int, days: int) -> float:
    started = time.perf_counter()
    store.command(GENERATE, {"day": day, "d": d, "per": per, "rows": devices * per, "folders": folders,
                             "last": int(d == days - 1), "last3": int(d >= days - 3)})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--per-device", type=int, default=100, help="sightings per device per day")
    parser.add_argument("--history-days", type=int, default=14,
                        help="days of history before the detected day (>= 14 so that returning is judged: "
                             "7 days of look-back + 7 days before it)")
    parser.add_argument("--history-per-device", type=int, default=30,
                        help="sightings per device per history day (fewer than the detected day: faster)")
    parser.add_argument("--folders", type=int, default=200)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: a temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--reuse", action="store_true",
                        help="with --data-dir: skip generation when the store already holds the days")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "detect.json")
    args = parser.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="santiway-bench-detect-"))
    settings = load_settings(data_dir=data_dir, _env_file=None, log_level="WARNING")
    store = Store.open(settings)
    try:
        days = args.history_days + 1
        gen_s = 0.0
        reuse = args.reuse and int(store.scalar("SELECT count() FROM santi.way_data")) > 0
        for d in range(0 if reuse else days):
            per = args.per_device if d == days - 1 else args.history_per_device
            gen_s += generate(store, DAY0 + timedelta(days=d), d, args.devices, per, args.folders, days)
            print(f"generated day {d + 1}/{days}: {gen_s:.1f} s so far", flush=True)
        window = Window(DAY0 + timedelta(days=days - 1), DAY0 + timedelta(days=days))
        params = {"start": window.start, "end": window.end}
        started = time.perf_counter()
        rows = int(store.scalar("SELECT count() FROM santi.way_data WHERE ts >= {start:DateTime64(3, 'UTC')} "
                                "AND ts < {end:DateTime64(3, 'UTC')}", params))
        count_s = time.perf_counter() - started
        devices = int(store.scalar("SELECT uniqExact(device_id) FROM santi.way_data WHERE "
                                   "ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}", params))
        total_rows = int(store.scalar("SELECT count() FROM santi.way_data"))
        load_detectors()
        timings: dict[str, float] = {}
        found: dict[str, int] = {}
        for name in ("density", "night", "stationary"):
            started = time.perf_counter()
            anomalies = build(name, settings=settings).detect(store, window)
            timings[name] = round(time.perf_counter() - started, 3)
            found[name] = len(anomalies)
        total = round(sum(timings.values()), 3)
        result = {
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
            "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
            "window_rows": rows, "window_devices": devices, "stored_rows": total_rows,
            "history_days": args.history_days, "generate_seconds": round(gen_s, 1), "reused_data": reuse,
            "select_count_seconds": round(count_s, 3), "detector_seconds": timings, "total_seconds": total,
            "anomalies": found, "limit_seconds": 30.0, "within_limit": total <= 30.0,
        }
        print(f"\nwindow {window.start:%Y-%m-%d}: {rows:,} sightings, {devices:,} devices "
              f"({total_rows:,} rows stored, {args.history_days} history days)")
        print(f"{'SELECT count()':<16} {count_s:8.3f} s   (baseline)")
        for name, seconds in timings.items():
            print(f"{name:<16} {seconds:8.3f} s   {found[name]} anomalies")
        print(f"{'all detectors':<16} {total:8.3f} s   (limit 30 s: {'ok' if total <= 30 else 'OVER'})")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"written {args.out}")
    finally:
        store.close()
        if not args.keep and args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
