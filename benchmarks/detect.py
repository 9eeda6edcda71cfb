"""Detection benchmark: one day of N devices (default 100,000) and >= 10 M sightings, plus trailing
history days, in the embedded store; times all four detectors (density, night, stationary, ml) next
to a real scan of the window as the baseline (a SELECT that reads the window's columns and sums
them; `SELECT count()` is answered from metadata and measures nothing).

Each detector runs in its own process (the store is closed in between: one process per chDB
directory), so its peak memory (ru_maxrss, chDB included) is its own; then all four run together in one
process as `detect` runs them (`all`: one run, one shared context, coverage read once). The scan and
the detectors run in --runs interleaved rounds (scan, density, night, stationary, ml, all; again); the
figures are the medians, and the ratios are median over median scan (the shared 2-core machine's load
moves single runs by 2x). Each run also reports its process CPU seconds (user + system, every thread,
chDB's included): on a loaded machine the wall time includes waiting for a core, the CPU time much less so,
and `cpu_ratio_to_scan` / `cpu_speedup` compare those.

With --before SRC (the `src` directory of another checkout, e.g. `git worktree add /tmp/before <commit>`),
every round also runs the same children with that code on the same store, right after this code's:
the result gains `before` (its medians) and `speedup` (before over after, per detector and `all`).

    .venv/bin/python benchmarks/detect.py [--devices 100000] [--per-device 100] [--history-days 14] [--runs 3]
    # build the 100k store once, then reuse it:
    .venv/bin/python benchmarks/detect.py --data-dir DIR --keep --reuse
    # and compare with an older checkout in the same run:
    .venv/bin/python benchmarks/detect.py --data-dir DIR --keep --reuse --before /tmp/before/src

The data is generated inside ClickHouse (`INSERT ... SELECT ... FROM numbers(...)`, vectorised, no
Python loop over sightings): office workers on weekday-like hours, fixtures around the clock, night
staff, short-lived randomized MACs, and devices travelling with mobile sensors. Results are printed
and written to benchmarks/results/detect.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from santiway_anomaly.config import load_settings
from santiway_anomaly.detectors.base import Window, build
from santiway_anomaly.detectors.runner import load_detectors, run_detection
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


SCAN = """
SELECT count(), sum(rssi), sum(lat), sum(lon), sum(cityHash64(device_id)), sum(cityHash64(sensor_id)),
       uniqExact(device_id)
FROM santi.way_data WHERE ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
"""
DETECTORS = ("density", "night", "stationary", "ml")


ALL = "all"  # the four detectors in one run, as `detect` runs them


def run_one(data_dir: Path, name: str, start: datetime, end: datetime) -> None:
    """Child process: run one detector (or `all`, one run of every detector) over the window and print
    seconds, anomalies and peak RSS. Nothing is stored: every round sees the same store."""
    settings = load_settings(data_dir=data_dir, _env_file=None, log_level="WARNING")
    load_detectors()
    with Store.open(settings) as store:
        started, cpu0 = time.perf_counter(), _cpu()
        if name == ALL:
            run = run_detection(store, settings, hours=(end - start).total_seconds() / 3600, until=end,
                                detectors=list(DETECTORS), save=False)
            if run.errors:
                raise SystemExit(f"detection failed: {run.errors}")
            anomalies = run.anomalies
        else:
            anomalies = build(name, settings=settings).detect(store, Window(start, end))
        seconds, cpu = time.perf_counter() - started, _cpu() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes
    sys.stdout.write(json.dumps({"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
                                 "anomalies": len(anomalies), "peak_mb": round(peak_mb, 1)}) + "\n")


def _cpu() -> float:
    """CPU seconds of this process so far, user + system, over all its threads (chDB's too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def scan_once(data_dir: Path, start: datetime, end: datetime) -> None:
    """Child process: the baseline, a real scan of the window's columns (not answered from metadata)."""
    settings = load_settings(data_dir=data_dir, _env_file=None, log_level="WARNING")
    with Store.open(settings) as store:
        started, cpu0 = time.perf_counter(), _cpu()
        store.query_rows(SCAN, {"start": start, "end": end})
        seconds, cpu = time.perf_counter() - started, _cpu() - cpu0
    sys.stdout.write(json.dumps({"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3)}) + "\n")


def prepare(args: argparse.Namespace, data_dir: Path) -> None:
    """Child process: generate the days (unless reused), scan the window, print the facts as JSON."""
    settings = load_settings(data_dir=data_dir, _env_file=None, log_level="WARNING")
    with Store.open(settings) as store:
        days = args.history_days + 1
        gen_s = 0.0
        reuse = args.reuse and int(store.scalar("SELECT count() FROM santi.way_data")) > 0
        for d in range(0 if reuse else days):
            per = args.per_device if d == days - 1 else args.history_per_device
            gen_s += generate(store, DAY0 + timedelta(days=d), d, args.devices, per, args.folders, days)
            sys.stderr.write(f"generated day {d + 1}/{days}: {gen_s:.1f} s so far\n")
        params = {"start": DAY0 + timedelta(days=days - 1), "end": DAY0 + timedelta(days=days)}
        started = time.perf_counter()
        rows = int(store.query_rows(SCAN, params)[0][0])
        scan_s = time.perf_counter() - started
        devices = int(store.scalar("SELECT uniqExact(device_id) FROM santi.way_data WHERE "
                                   "ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}", params))
        total_rows = int(store.scalar("SELECT count() FROM santi.way_data"))
    sys.stdout.write(json.dumps({"window_rows": rows, "window_devices": devices, "stored_rows": total_rows,
                                 "generate_seconds": round(gen_s, 1), "reused_data": reuse,
                                 "scan_seconds": round(scan_s, 3)}) + "\n")


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
    parser.add_argument("--detectors", default=",".join(DETECTORS), help="comma-separated detectors to time")
    parser.add_argument("--run-one", default=None, help=argparse.SUPPRESS)  # internal: the child process
    parser.add_argument("--window-start", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)  # internal: generate + scan
    parser.add_argument("--scan-only", action="store_true", help=argparse.SUPPRESS)  # internal: one scan
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--before", type=Path, default=None,
                        help="the src directory of another checkout: its detectors are timed in the same rounds")
    parser.add_argument("--no-all", action="store_true", help="do not time the four detectors in one run")
    args = parser.parse_args()
    if args.run_one:
        start = datetime.fromisoformat(args.window_start)
        run_one(args.data_dir, args.run_one, start, start + timedelta(days=1))
        return
    if args.scan_only:
        start = datetime.fromisoformat(args.window_start)
        scan_once(args.data_dir, start, start + timedelta(days=1))
        return

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="santiway-bench-detect-"))
    if args.prepare:
        prepare(args, data_dir)
        return
    try:
        days = args.history_days + 1
        window = Window(DAY0 + timedelta(days=days - 1), DAY0 + timedelta(days=days))
        child = [sys.executable, __file__, "--data-dir", str(data_dir)]
        prep_cmd = [*child, "--prepare", "--devices", str(args.devices), "--per-device", str(args.per_device),
                    "--history-days", str(args.history_days), "--history-per-device", str(args.history_per_device),
                    "--folders", str(args.folders), *(["--reuse"] if args.reuse else [])]
        prep = json.loads(subprocess.run(prep_cmd, capture_output=True, text=True, check=True)
                          .stdout.strip().splitlines()[-1])
        names = [n.strip() for n in args.detectors.split(",") if n.strip()]
        if not args.no_all:
            names.append(ALL)
        trees = {"after": dict(os.environ)}
        if args.before is not None:
            trees["before"] = {**os.environ, "PYTHONPATH": str(args.before.resolve())}
        runs: dict[str, dict[str, list[dict[str, float]]]] = {t: {n: [] for n in names} for t in trees}
        scans: list[dict[str, float]] = []
        for r in range(args.runs):
            out = subprocess.run([*child, "--scan-only", "--window-start", window.start.isoformat()],
                                 capture_output=True, text=True, check=True).stdout
            scans.append(json.loads(out.strip().splitlines()[-1]))
            for name in names:
                for tree, env in trees.items():
                    out = subprocess.run([*child, "--run-one", name, "--window-start", window.start.isoformat()],
                                         capture_output=True, text=True, check=True, env=env).stdout
                    runs[tree][name].append(json.loads(out.strip().splitlines()[-1]))
            sys.stderr.write(f"round {r + 1}/{args.runs}: scan {scans[-1]['seconds']:.2f} s, " + ", ".join(
                f"{n} {runs['after'][n][-1]['seconds']:.2f} s" + (
                    f" (before {runs['before'][n][-1]['seconds']:.2f} s)" if "before" in runs else "")
                for n in names) + "\n")
        scan_s = statistics.median(x["seconds"] for x in scans)
        medians = {t: {n: round(statistics.median(x["seconds"] for x in runs[t][n]), 3) for n in names}
                   for t in trees}
        timings = medians["after"]
        peaks = {n: round(statistics.median(x["peak_mb"] for x in runs["after"][n]), 1) for n in names}
        scan_cpu = statistics.median(x["cpu_seconds"] for x in scans)
        cpu = {t: {n: round(statistics.median(x["cpu_seconds"] for x in runs[t][n]), 3) for n in names}
               for t in trees}
        found = {n: int(runs["after"][n][-1]["anomalies"]) for n in names}
        singles = [n for n in names if n != ALL]
        total = round(sum(timings[n] for n in singles), 3)
        ml_ok = "ml" not in timings or (timings["ml"] <= 15.0 and peaks["ml"] <= 2048)
        result = {
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
            "load_average": [round(x, 1) for x in os.getloadavg()],
            "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
            **prep, "history_days": args.history_days, "runs": args.runs, "scan_seconds": scan_s,
            "scan_runs": [x["seconds"] for x in scans],
            "detector_runs": {n: [x["seconds"] for x in runs["after"][n]] for n in names},
            "detector_seconds": timings, "peak_mb": peaks,
            "total_seconds": total, "ratio_to_scan": {k: round(v / max(scan_s, 1e-6), 1) for k, v in timings.items()},
            "scan_cpu_seconds": scan_cpu, "detector_cpu_seconds": cpu["after"],
            "cpu_ratio_to_scan": {k: round(v / max(scan_cpu, 1e-6), 1) for k, v in cpu["after"].items()},
            "anomalies": found, "limit_seconds": 30.0, "within_limit": total <= 30.0,
            "ml_limit": {"seconds": 15.0, "peak_mb": 2048, "ok": ml_ok},
        }
        if "before" in medians:
            before = medians["before"]
            result["before"] = {
                "src": str(args.before), "detector_runs": {n: [x["seconds"] for x in runs["before"][n]] for n in names},
                "detector_seconds": before,
                "peak_mb": {n: round(statistics.median(x["peak_mb"] for x in runs["before"][n]), 1) for n in names},
                "anomalies": {n: int(runs["before"][n][-1]["anomalies"]) for n in names},
                "total_seconds": round(sum(before[n] for n in singles), 3),
                "ratio_to_scan": {k: round(v / max(scan_s, 1e-6), 1) for k, v in before.items()},
                "detector_cpu_seconds": cpu["before"],
                "cpu_ratio_to_scan": {k: round(v / max(scan_cpu, 1e-6), 1) for k, v in cpu["before"].items()}}
            result["speedup"] = {n: round(before[n] / max(timings[n], 1e-6), 2) for n in names}
            result["cpu_speedup"] = {n: round(cpu["before"][n] / max(cpu["after"][n], 1e-6), 2) for n in names}
        print(f"\nwindow {window.start:%Y-%m-%d}: {prep['window_rows']:,} sightings, {prep['window_devices']:,} "
              f"devices ({prep['stored_rows']:,} rows stored, {args.history_days} history days)")
        print(f"medians of {args.runs} interleaved runs")
        print(f"{'scan of window':<16} {scan_s:8.3f} s   (baseline: reads the window's columns, sums and "
              f"uniqExact(device_id)); CPU {scan_cpu:.3f} s")
        for name, seconds in timings.items():
            print(f"{name:<16} {seconds:8.3f} s   x{seconds / max(scan_s, 1e-6):6.1f} scan   "
                  f"CPU {cpu['after'][name]:7.2f} s x{cpu['after'][name] / max(scan_cpu, 1e-6):6.1f}   "
                  f"peak {peaks[name]:7.0f} MB   {found[name]} anomalies")
        print(f"{'sum of the four':<16} {total:8.3f} s   (limit 30 s: {'ok' if total <= 30 else 'OVER'}; "
              f"ml limit 15 s / 2 GB: {'ok' if ml_ok else 'OVER'})")
        if "before" in result:
            b = result["before"]
            print(f"before ({args.before}):")
            for name, seconds in b["detector_seconds"].items():
                print(f"{name:<16} {seconds:8.3f} s   x{seconds / max(scan_s, 1e-6):6.1f} scan   "
                      f"CPU {cpu['before'][name]:7.2f} s   "
                      f"peak {b['peak_mb'][name]:7.0f} MB   {b['anomalies'][name]} anomalies   "
                      f"speed-up x{result['speedup'][name]:.2f} (CPU x{result['cpu_speedup'][name]:.2f})")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"written {args.out}")
    finally:
        if not args.keep and args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
