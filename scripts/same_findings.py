"""Do two source trees find the same anomalies? The check behind a change that must only make detection faster.

    python scripts/same_findings.py --before /path/to/old/src --workdir DIR                  # simulate (2000 devices)
    python scripts/same_findings.py --before /path/to/old/src --workdir DIR --family guarded --seed 2024

The world is made once (`santiway-anomaly simulate --devices 2000 --days 14 --folders 10 --seed 42`, or one
world of a family, simulate/families) and ingested into one embedded store. Then every detector runs
(`run_detection`, as `detect` runs them, nothing stored) over each of the last --days local days, once with
the code under --before and once with the code under --after (default: this checkout's src), each in a
process of its own (one process per chDB directory; the store is not written, so both see the same data).

Compared, anomaly by anomaly: id, type, device, folder, window, severity, score, vendor, network type,
position and `details` (detected_at aside, the time of the run). Prints the counts per type and every
difference; exit code 1 when the two trees disagree.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
COMPARED = ("anomaly_id", "anomaly_type", "device_id", "folder", "window_start", "window_end", "severity", "score",
            "vendor", "network_type", "lat", "lon", "details", "model_version")


def child(data_dir: Path, timezone: str, untils: list[str], detectors: list[str]) -> None:
    """Run detection with whatever `santiway_anomaly` is on the path; print one JSON object per anomaly."""
    from santiway_anomaly.config import load_settings
    from santiway_anomaly.detectors.runner import run_detection
    from santiway_anomaly.storage import Store

    settings = load_settings(data_dir=data_dir, _env_file=None, log_level="WARNING", timezone=timezone,
                             clickhouse_host="", folder_timezones={})
    with Store.open(settings) as store:
        for until in untils:
            run = run_detection(store, settings, hours=24, until=datetime.fromisoformat(until),
                                detectors=detectors or None, save=False)
            if run.errors:
                raise SystemExit(f"detection up to {until} failed: {run.errors}")
            for a in run.anomalies:
                row = a.to_dict()
                sys.stdout.write(json.dumps({k: row[k] for k in COMPARED}, sort_keys=True, default=str) + "\n")


def make_world(args: argparse.Namespace, work: Path) -> tuple[str, list[date]]:
    """Generate and ingest the world (once: reused when the store exists); its time zone and last days."""
    from santiway_anomaly.config import load_settings
    from santiway_anomaly.ingest.pipeline import ingest_file
    from santiway_anomaly.storage import Store

    meta = work / "world-meta.json"
    if not meta.exists():
        world = work / "world"
        if args.family:
            from santiway_anomaly.simulate.families import generate

            info = generate(args.family, args.seed, world, args.scale)
            timezone = info.timezone
            days = [date.fromisoformat(d) for d in info.clean_days + info.anomaly_days]
        else:
            subprocess.run([sys.executable, "-m", "santiway_anomaly", "simulate", "--devices", str(args.devices),
                            "--days", str(args.sim_days), "--folders", str(args.folders), "--seed", str(args.seed),
                            "--out", str(world)], check=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
            timezone = "UTC"
            first = datetime.fromisoformat(json.loads((world / "world.json").read_text())["options"]["start"]).date()
            days = [first + timedelta(days=i) for i in range(args.sim_days)]
        settings = load_settings(data_dir=work / "data", _env_file=None, log_level="WARNING", timezone=timezone,
                                 clickhouse_host="", folder_timezones={})
        with Store.open(settings) as store:
            ingest_file(store, next(world.glob("sightings.*")), settings)
        meta.write_text(json.dumps({"timezone": timezone, "days": [d.isoformat() for d in days]}))
    data = json.loads(meta.read_text())
    return str(data["timezone"]), [date.fromisoformat(d) for d in data["days"]]


def run_tree(src: Path, work: Path, timezone: str, untils: list[str], detectors: str) -> list[dict[str, Any]]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--workdir", str(work), "--timezone", timezone,
           "--untils", ",".join(untils), "--detectors", detectors]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(src)})
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def same(x: Any, y: Any) -> bool:
    """Equal, floats to 1e-9 of their size: ClickHouse sums in parallel, in no fixed order, so an average
    position can differ in its last bit from one run to the next with the very same code."""
    if isinstance(x, float) and isinstance(y, float | int) or isinstance(y, float) and isinstance(x, int):
        return math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(same(u, v) for u, v in zip(x, y, strict=True))
    return bool(x == y)


def compare(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    """Every difference, as sentences; empty when both found exactly the same anomalies."""
    problems: list[str] = []
    for name, rows in (("before", before), ("after", after)):
        ids = [r["anomaly_id"] for r in rows]
        if len(ids) != len(set(ids)):
            problems.append(f"{name}: the same anomaly found twice in one run's output")
    b = {r["anomaly_id"]: r for r in before}
    a = {r["anomaly_id"]: r for r in after}
    for name, one, other in (("before", b, a), ("after", a, b)):
        for k in sorted(one.keys() - other.keys()):
            r = one[k]
            problems.append(f"only {name}: {r['anomaly_type']} {r['device_id'] or r['folder']} {r['window_start']}")
    for k in sorted(a.keys() & b.keys()):
        for field in COMPARED:
            if not same(a[k][field], b[k][field]):
                problems.append(f"{a[k]['anomaly_type']} {k}: {field} differs: before {b[k][field]!r}, "
                                f"after {a[k][field]!r}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, help="the src directory of the reference tree")
    parser.add_argument("--after", type=Path, default=ROOT / "src", help="the src directory of the changed tree")
    parser.add_argument("--workdir", type=Path, required=True, help="where the world and its store are made (reused)")
    parser.add_argument("--family", default="", help="one world of this family instead of `simulate`")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scale", type=float, default=1.0, help="family worlds: their scale")
    parser.add_argument("--devices", type=int, default=2000, help="simulate: devices")
    parser.add_argument("--sim-days", type=int, default=14, help="simulate: days")
    parser.add_argument("--folders", type=int, default=10, help="simulate: folders")
    parser.add_argument("--days", type=int, default=5, help="detect over each of the world's last N local days")
    parser.add_argument("--detectors", default="", help="comma-separated (default: every registered detector)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--timezone", default="UTC", help=argparse.SUPPRESS)
    parser.add_argument("--untils", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.workdir / "data", args.timezone, args.untils.split(","),
              [d for d in args.detectors.split(",") if d])
        return
    if args.before is None:
        parser.error("--before is required")
    args.workdir.mkdir(parents=True, exist_ok=True)
    timezone, days = make_world(args, args.workdir)
    zone = ZoneInfo(timezone)
    untils = [datetime.combine(d + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC).isoformat()
              for d in days[-args.days:]]
    out = sys.stdout
    found = {name: run_tree(src, args.workdir, timezone, untils, args.detectors)
             for name, src in (("before", args.before), ("after", args.after))}
    for name, rows in found.items():
        per_type: dict[str, int] = {}
        for r in rows:
            per_type[r["anomaly_type"]] = per_type.get(r["anomaly_type"], 0) + 1
        out.write(f"{name:<7} {len(rows):5d} anomalies over {len(untils)} days: {dict(sorted(per_type.items()))}\n")
    problems = compare(found["before"], found["after"])
    for p in problems[:200]:
        out.write(p + "\n")
    out.write("same findings\n" if not problems else f"{len(problems)} difference(s)\n")
    raise SystemExit(1 if problems else 0)


if __name__ == "__main__":
    main()
