"""Devices that changed: the ml_behavior truth of a family world (issue 12: "find the devices that
changed, not the devices that are unusual").

A changed device is a regular one (a staff device with a stable MAC, seen on most weekdays of its
history) whose own days change in the last ANOMALY_DAYS local days, in one of these ways (the
issue's examples, each a change of the device against itself, not against the others):

- schedule: the same working day shifted 4.5-7 h later (cut at 23:30, so it is not a night-time
  intruder);
- places: each changed day it also spends 30-75 min in two folders it has never visited;
- dwell: it comes and goes in 10-25 min visits with 30-60 min away instead of sitting at its desk;
- signal: 10-14 dB stronger (moved next to the sensor) or weaker (moved to the far end) all day;
- rate: 3-4x its usual sightings per minute present (another transmit pattern).

Everything else about the device stays (its folder, its usual arrival where not shifted, its MAC).
Its original sightings of the changed days are replaced by the changed ones; the truth window is the
local days it changed on. A random stream of its own (seeded apart from the world's) keeps every
other sighting of the world identical to a world without changes, so the rule detectors' figures
on their own worlds do not move because of this module.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from santiway_anomaly.simulate.families.inject import Injected
from santiway_anomaly.simulate.families.layout import F64, I64, Layout, Presences
from santiway_anomaly.simulate.families.life import H, Life

KINDS = ("schedule", "places", "dwell", "signal", "rate")
MIN_HISTORY_DAYS = 6  # a device seen on fewer covered days is still learning: not a fair truth
LATEST_END_H = 23.5  # a shifted day ends before local midnight


@dataclass
class Plan:
    dev: int
    kind: str
    folder: int
    days: list[int]  # day indices it changed on


def _day_of(layout: Layout, t: F64) -> I64:
    return ((t - layout.day_start(0)) // (24 * H)).astype(np.int64)


def plant(layout: Layout, pres: Presences, life: Life, injected: Injected, seed: int) -> tuple[list[Plan], Presences]:
    """Pick `spec.changed` staff devices and plan their changed days; returns the plans and the
    presences of the changed days (tagged with their truth items)."""
    rng = np.random.default_rng([seed, zlib.crc32(layout.spec.name.encode()), 0xC4A6])
    p = pres.arrays()
    fixed = ~p["solo"].astype(bool)
    day = _day_of(layout, p["start"])
    a0 = layout.anomaly_first_day
    taken = {int(h["dev"]) for h in injected.hard_negatives}
    pool = [int(d) for d in life.stable_staff if int(d) not in taken]
    rng.shuffle(pool)
    kinds = list(rng.permutation(KINDS))
    plans: list[Plan] = []
    out = Presences()
    for dev in pool:
        if len(plans) >= layout.spec.changed:
            break
        mine = np.flatnonzero(fixed & (p["dev"] == dev))
        hist_days = set(day[mine][day[mine] < a0].tolist())
        changed_days = sorted(set(day[mine][day[mine] >= a0].tolist()))
        if len(hist_days) < MIN_HISTORY_DAYS or not changed_days:
            continue
        kind = str(kinds[len(plans) % len(kinds)])
        folder = int(np.bincount(p["folder"][mine].astype(np.int64)).argmax())
        if kind == "places" and len(layout.folders) < 2:
            kind = "rate"
        item = injected.new("ml_behavior", "behaviour_change", folder, dev=dev,
                            window=(layout.day_start(changed_days[0]), layout.day_start(changed_days[-1] + 1)),
                            details={"kind": kind, "days": len(changed_days)})
        visited = set(p["folder"][mine].astype(np.int64).tolist())
        for d in changed_days:
            rows = mine[day[mine] == d]
            _changed_day(layout, p, rows, kind, d, folder, visited, item, out, rng)
        plans.append(Plan(dev, kind, folder, changed_days))
    return plans, out


def _changed_day(layout: Layout, p: dict[str, Any], rows: I64, kind: str, d: int, folder: int,
                 visited: set[int], item: Any, out: Presences, rng: np.random.Generator) -> None:
    start, end = p["start"][rows].copy(), p["end"][rows].copy()
    rssi, rate, sd = p["rssi"][rows].copy(), p["rate"][rows].copy(), p["sd"][rows]
    sensor, dev = p["sensor"][rows].astype(np.int64), p["dev"][rows].astype(np.int64)
    details = item.details
    if kind == "schedule":
        latest = layout.day_start(d) + LATEST_END_H * H
        shift = float(rng.uniform(4.5, 7.0)) * H  # a late leaver's day is cut at LATEST_END_H
        start, end = np.minimum(start + shift, latest - 0.5 * H), np.minimum(end + shift, latest)
        details["shift_hours"] = round(shift / H, 1)
    elif kind == "signal":
        delta = float(rng.uniform(10, 14)) * (1 if rng.random() < 0.5 else -1)
        rssi = np.minimum(rssi + delta, -35.0)
        details["rssi_change_db"] = round(delta, 1)
    elif kind == "rate":
        factor = float(rng.uniform(3, 4))
        rate = rate * factor
        details["rate_factor"] = round(factor, 2)
    elif kind == "dwell":
        a, b = float(start.min()), float(end.max())
        visits: list[tuple[float, float]] = []
        t = a
        while t < b:
            stay = float(rng.uniform(10, 25)) * 60
            visits.append((t, min(t + stay, b)))
            t += stay + float(rng.uniform(30, 60)) * 60
        va = np.array([v[0] for v in visits])
        vb = np.array([v[1] for v in visits])
        k = len(va)
        out.add(np.full(k, dev[0]), folder, np.full(k, sensor[0]), va, vb, float(rssi[0]), float(sd[0]),
                float(rate[0]), tag=item.tag)
        details["visits_per_day"] = k
        return
    elif kind == "places":
        others = [f for f in range(len(layout.folders)) if f not in visited]
        if not others:
            others = [f for f in range(len(layout.folders)) if f != folder]
        chosen = rng.choice(others, size=min(2, len(others)), replace=False)
        a, b = float(start.min()), float(end.max())
        cuts = []
        for f in chosen:
            length = float(rng.uniform(30, 75)) * 60
            t0 = float(rng.uniform(a, max(a, b - length)))
            s = int(rng.choice(layout.folder_sensors[int(f)]))
            out.add(np.array([dev[0]]), int(f), s, np.array([t0]), np.array([t0 + length]),
                    float(rng.uniform(-75, -58)), 4.0, float(rate[0]), tag=item.tag)
            cuts.append((t0, t0 + length))
        # away from its desk meanwhile
        for c0, c1 in cuts:
            keep_a = (start, np.minimum(end, c0))
            keep_b = (np.maximum(start, c1), end)
            start = np.concatenate([keep_a[0], keep_b[0]])
            end = np.concatenate([keep_a[1], keep_b[1]])
            rssi, rate, sd = np.tile(rssi, 2), np.tile(rate, 2), np.tile(sd, 2)
            sensor, dev = np.tile(sensor, 2), np.tile(dev, 2)
        details["new_folders"] = [layout.folders[int(f)] for f in chosen]
    out.add(dev, folder, sensor, start, end, rssi, sd, rate, tag=item.tag)


def replace_rows(table: pa.Table, tags: I64, row_dev: I64, row_mac: Any, plans: list[Plan], layout: Layout,
                 extra: tuple[pa.Table, I64, I64, Any]) -> tuple[pa.Table, I64, I64, Any]:
    """Drop the changed devices' sightings on their changed days, add the changed ones, sort by time."""
    ts = table.column("ts").cast("int64").to_numpy() / 1000.0
    drop = np.zeros(table.num_rows, dtype=bool)
    day = _day_of(layout, ts)
    for plan in plans:
        drop |= (row_dev == plan.dev) & np.isin(day, plan.days)
    keep = np.flatnonzero(~drop)
    e_table, e_tags, e_dev, e_mac = extra
    merged = pa.concat_tables([table.take(pa.array(keep)), e_table])
    all_ts = merged.column("ts").cast("int64").to_numpy()
    order = np.argsort(all_ts, kind="stable")
    return (merged.take(pa.array(order)), np.concatenate([tags[keep], e_tags])[order],
            np.concatenate([row_dev[keep], e_dev])[order], np.concatenate([row_mac[keep], e_mac])[order])
