"""Large id sets: `col IN {ids:Array(String)}` against the storage helper (`storage/idsets.py`).

A store of `--devices` devices (`--rows-per-device` sightings each, the views attached), then, for each
size, the same query over the raw sightings (sorted by device) filtered by that many ids, in two forms:
- `literal`: `device_id IN {ids:Array(String)}` (chDB turns the array into a literal set);
- `helper`: `in_ids("device_id", "ids")` = `device_id IN (SELECT arrayJoin({ids:Array(String)}))`,
  the baseline of the same run.
Half of the ids are stored devices, half unknown, so both the match and the miss paths run. The forms
are interleaved, `--repeat` times each, and the median is reported. A literal-form query that runs past
`--cap` seconds is cut off (it runs in a child process that is stopped) and reported as "> cap".
Usage: python benchmarks/idsets.py [--sizes 1000,10000,60000,200000] [--cap 900]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import scratch_dir, write_results  # noqa: E402
from santiway_anomaly.config import load_settings  # noqa: E402
from santiway_anomaly.storage import Store  # noqa: E402
from santiway_anomaly.storage.idsets import in_ids  # noqa: E402

QUERY = "SELECT count(), uniqExact(device_id) FROM santi.way_data WHERE {where}"
SLOW_S = 60.0
FORMS = {"literal": "device_id IN {ids:Array(String)}", "helper": in_ids("device_id", "ids")}


def mac(i: int, prefix: int) -> str:
    return ":".join(f"{b:02X}" for b in ((prefix, (i >> 32) & 255, (i >> 24) & 255, (i >> 16) & 255,
                                          (i >> 8) & 255, i & 255)))


def fill(store: Store, devices: int, per_device: int) -> None:
    rng = np.random.default_rng(11)
    start = datetime(2026, 3, 2, tzinfo=UTC)
    ids = np.array([mac(i, 0x00) for i in range(devices)])
    rows = devices * per_device
    table = pa.table({
        "ts": pa.array([start + timedelta(seconds=int(s)) for s in rng.integers(0, 86_400, size=rows)],
                       pa.timestamp("ms", tz="UTC")),
        "device_id": pa.array(np.repeat(ids, per_device)),
        "sensor_id": pa.array(np.char.add("s-", rng.integers(0, 50, size=rows).astype(str))),
        "folder": pa.array(np.char.add("f-", rng.integers(0, 10, size=rows).astype(str))),
        "network_type": pa.array(["wifi"] * rows),
        "rssi": pa.array(rng.integers(-90, -40, size=rows), pa.int16()),
        "lat": pa.array(55.0 + rng.normal(0, 0.001, size=rows)),
        "lon": pa.array(37.0 + rng.normal(0, 0.001, size=rows)),
        "vendor": pa.array([""] * rows),
        "is_randomized": pa.array(np.zeros(rows, dtype=np.uint8)),
    })
    for offset in range(0, rows, 200_000):
        store.insert_arrow("santi.way_data", table.slice(offset, 200_000))


def id_list(size: int, devices: int) -> list[str]:
    known = [mac(i, 0x00) for i in range(0, devices, max(1, devices // (size // 2)))][: size // 2]
    return known + [mac(i, 0x02) for i in range(size - len(known))]


def _timed(data_dir: str, form: str, ids: list[str], out: Any) -> None:
    with Store.open(load_settings(data_dir=Path(data_dir), _env_file=None), apply_schema=False) as store:
        started = time.perf_counter()
        rows = store.query_rows(QUERY.format(where=FORMS[form]), {"ids": ids})
        out.put((time.perf_counter() - started, [int(v) for v in rows[0]]))


def run_once(data_dir: Path, form: str, ids: list[str], cap: float) -> tuple[float | None, list[int] | None]:
    """One query in a child process (chDB: one process per directory), stopped after `cap` seconds."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_timed, args=(str(data_dir), form, ids, out))
    child.start()
    child.join(cap + 30)  # + the child's start-up (imports, opening the store)
    if child.is_alive():
        child.kill()
        child.join()
        return None, None
    seconds, answer = out.get(timeout=10)
    return seconds, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=250_000)
    parser.add_argument("--rows-per-device", type=int, default=4)
    parser.add_argument("--sizes", default="1000,10000,60000,200000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cap", type=float, default=900.0, help="Seconds after which a literal-form query is cut")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = scratch_dir("idsets")
    try:
        with Store.open(load_settings(data_dir=work, _env_file=None)) as store:
            fill(store, args.devices, args.rows_per_device)
        figures: dict[str, Any] = {"devices": args.devices, "rows": args.devices * args.rows_per_device,
                                   "repeat": args.repeat, "cap_seconds": args.cap, "sizes": {}}
        for size in sizes:
            ids = id_list(size, args.devices)
            runs: dict[str, list[float]] = {"literal": [], "helper": []}
            answers: dict[str, list[int] | None] = {}
            cut = slow = False
            for _ in range(args.repeat):
                for form in ("literal", "helper"):
                    if form == "literal" and (cut or slow):
                        continue
                    seconds, answer = run_once(work, form, ids, args.cap)
                    if seconds is None:
                        cut = True
                        print(f"{size:>7} ids  {form:<8} > {args.cap:.0f} s (stopped)", flush=True)
                        continue
                    runs[form].append(seconds)
                    answers[form] = answer
                    print(f"{size:>7} ids  {form:<8} {seconds:9.3f} s  {answer}", flush=True)
                    # A literal-form run of minutes is measured once: the shared cores are not ours.
                    slow = slow or (form == "literal" and seconds > SLOW_S)
            if "literal" in answers:
                assert answers["literal"] == answers["helper"], answers
            literal = statistics.median(runs["literal"]) if runs["literal"] and not cut else None
            helper = statistics.median(runs["helper"])
            figures["sizes"][str(size)] = {
                "literal_seconds_runs": [round(s, 3) for s in runs["literal"]],
                "literal_seconds_median": round(literal, 3) if literal is not None else f"> {args.cap:.0f}",
                "helper_seconds_runs": [round(s, 3) for s in runs["helper"]],
                "helper_seconds_median": round(helper, 3),
                "literal_to_helper_ratio": round(literal / helper, 1) if literal is not None else None,
                "matched_rows": answers["helper"][0] if answers.get("helper") else None,
            }
        path = write_results("idsets", figures)
        print(json.dumps(figures["sizes"], indent=2))
        print(f"written {path}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
