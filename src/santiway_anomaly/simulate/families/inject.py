"""Injected anomalies (last ANOMALY_DAYS local days only) and hard negatives, per the detector
definitions of DESIGN.md, not per any detector's code:

- density crowd: extra people for 1-3 h, 2-4x the folder's own usual count at that local hour, most
  with randomized MACs that rotate (counted as persons);
- night intruder: a device never seen before, 20-120 min at night (00:00-06:00 local) in a folder;
- lingering stranger: a new device 2.5-6 h within a few metres of one sensor, strong steady signal;
- returning stranger: a new device at the same spot on 3 days; the truth window is the last visit;
- follower: a new device heard by a moving sensor at >= 4 stops of one round.

Hard negatives (no truth; a correct detector stays silent): one device rotating its MAC every
minute for 2 h (a fake crowd), an employee arriving at 05:45, a fixture heard at -92 dBm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from santiway_anomaly.simulate.families.layout import ROTATING, STABLE, Devices, Layout, Presences
from santiway_anomaly.simulate.families.life import H, Life, hourly_counts, level_at


@dataclass
class Item:
    """One truth line in the making; the window comes from the plan (crowds) or from what was heard."""

    tag: int
    anomaly_type: str
    scenario: str
    folder: int
    dev: int = -1
    window: tuple[float, float] | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Injected:
    items: list[Item] = field(default_factory=list)
    hard_negatives: list[dict[str, Any]] = field(default_factory=list)

    def new(self, anomaly_type: str, scenario: str, folder: int, **kw: Any) -> Item:
        item = Item(len(self.items), anomaly_type, scenario, folder, **kw)
        self.items.append(item)
        return item


def inject(layout: Layout, devs: Devices, pres: Presences, life: Life, rng: np.random.Generator) -> Injected:
    spec = layout.spec
    out = Injected()
    days = list(range(layout.anomaly_first_day, layout.days))
    nf = len(layout.folders)
    counts = hourly_counts(layout, pres.arrays())
    event_slots = {(e["folder"], e["weekday"]) for e in life.events}
    used: set[tuple[int, int]] = set()  # (folder, day) with a crowd: one per folder-day keeps them apart
    for _ in range(spec.crowds):
        for _try in range(50):
            f, d = int(rng.integers(0, nf)), int(rng.choice(days))
            if (f, d) not in used and (layout.folders[f], layout.weekday(d)) not in event_slots:
                break
        used.add((f, d))
        hour, n_hours = int(rng.integers(10, 16)), int(rng.integers(1, 4))
        level = level_at(counts, layout, f, d, hour)
        factor = float(rng.uniform(2, 4))
        extra = max(int(round(level * (factor - 1))), 15)
        t0 = layout.day_start(d) + hour * H
        item = out.new("density_spike", "crowd", f, window=(t0, t0 + n_hours * H),
                       details={"usual_level": level, "factor": round(factor, 2), "extra_people": extra,
                                "hours": n_hours})
        u = rng.random(extra)
        modes = np.where(u < 0.25, STABLE, np.where(u < 0.45, 3, ROTATING))
        ids = devs.add(extra, "crowd", modes, rng)
        arrive = t0 + rng.uniform(0, 480, extra)
        leave = t0 + n_hours * H - rng.uniform(0, 480, extra)
        sensors = np.array(layout.folder_sensors[f])[rng.integers(0, len(layout.folder_sensors[f]), extra)]
        pres.add(ids, f, sensors, arrive, leave, rng.uniform(-80, -55, extra), 4.0, rng.uniform(0.3, 0.8, extra),
                 tag=item.tag)
        item.details["randomized_people"] = int((modes != STABLE).sum())
    intruder_folders = life.night_folders or list(range(nf))
    for _ in range(spec.night_intruders):
        f, d = int(rng.choice(intruder_folders)), int(rng.choice(days))
        a = layout.day_start(d) + float(rng.uniform(0.5, 4.0)) * H
        dur = float(rng.uniform(20, 120)) * 60
        dev = int(devs.add(1, "intruder", np.array([STABLE]), rng)[0])
        item = out.new("night_activity", "night_intruder", f, dev=dev,
                       details={"minutes": round(dur / 60), "guarded_folder": f in life.night_folders})
        _one(pres, layout, dev, f, a, a + dur, float(rng.uniform(-78, -55)), 3.0, float(rng.uniform(0.5, 1.0)),
             item.tag, rng)
    for _ in range(spec.lingering):
        f, d = int(rng.integers(0, nf)), int(rng.choice(days))
        a = layout.day_start(d) + float(rng.uniform(9, 13)) * H
        dur = float(rng.uniform(2.5, 6)) * H
        dev = int(devs.add(1, "lingerer", np.array([STABLE]), rng)[0])
        item = out.new("stationary_surveillance", "lingering", f, dev=dev, details={"hours": round(dur / H, 2)})
        _one(pres, layout, dev, f, a, a + dur, float(rng.uniform(-58, -45)), float(rng.uniform(1.5, 2.5)),
             float(rng.uniform(0.6, 1.2)), item.tag, rng)
    for _ in range(spec.returning):
        f = int(rng.integers(0, nf))
        sensor = int(rng.choice(layout.folder_sensors[f]))
        dev = int(devs.add(1, "returner", np.array([STABLE]), rng)[0])
        item = out.new("stationary_surveillance", "returning", f, dev=dev, details={"days": len(days)})
        rssi = float(rng.uniform(-68, -55))
        for d in days:
            a = layout.day_start(d) + rng.uniform(9, 17) * H
            tag = item.tag if d == days[-1] else -2  # the truth window is the last visit
            pres.add(np.array([dev]), f, sensor, np.array([a]), np.array([a + rng.uniform(25, 80) * 60]), rssi, 3.0,
                     0.6, tag=tag)
    _followers(layout, devs, pres, life, out, days, rng)
    _hard_negatives(layout, devs, pres, life, out, days, rng)
    return out


def _one(pres: Presences, layout: Layout, dev: int, f: int, a: float, b: float, rssi: float, sd: float, rate: float,
         tag: int, rng: np.random.Generator) -> None:
    sensor = int(rng.choice(layout.folder_sensors[f]))
    pres.add(np.array([dev]), f, sensor, np.array([a]), np.array([b]), rssi, sd, rate, tag=tag)


def _followers(layout: Layout, devs: Devices, pres: Presences, life: Life, out: Injected, days: list[int],
               rng: np.random.Generator) -> None:
    rounds: dict[tuple[int, int, int], list[Any]] = {}
    for s in life.stops:
        if s.day in days and s.round_no == 0:  # a daytime round
            rounds.setdefault((s.sensor, s.day, s.round_no), []).append(s)
    keys = [k for k, v in rounds.items() if len(v) >= 4]
    for n in range(min(layout.spec.followers, len(keys))):
        stops = rounds[keys[int(rng.integers(0, len(keys)))] if n >= len(keys) else keys[n]]
        k = int(rng.integers(4, len(stops) + 1))
        first = int(rng.integers(0, len(stops) - k + 1))
        chosen = stops[first:first + k]
        dev = int(devs.add(1, "follower", np.array([STABLE]), rng)[0])
        gaps = [round((b.start - a.start) / 60) for a, b in zip(chosen, chosen[1:], strict=False)]
        item = out.new("stationary_surveillance", "following", chosen[0].folder, dev=dev,
                       details={"stops": k, "sensor": layout.sensors[chosen[0].sensor].sensor_id,
                                "gaps_minutes": gaps})
        for s in chosen:
            rssi = float(rng.uniform(-65, -50))
            pres.add(np.array([dev]), s.folder, s.sensor, np.array([s.start]), np.array([s.end]), rssi, 3.0, 1.0,
                     tag=item.tag, solo=True, x=s.x, y=s.y)


def _hard_negatives(layout: Layout, devs: Devices, pres: Presences, life: Life, out: Injected, days: list[int],
                    rng: np.random.Generator) -> None:
    f, d = int(rng.integers(0, len(layout.folders))), int(rng.choice(days))
    a = layout.day_start(d) + 11 * H
    fake = int(devs.add(1, "fake_crowd", np.array([ROTATING]), rng, rot_range=(60, 60))[0])
    pres.add(np.array([fake]), f, layout.folder_sensors[f][0], np.array([a]), np.array([a + 2 * H]), -60.0, 3.0, 3.0,
             tag=-3)
    out.hard_negatives.append({"kind": "fake_crowd", "dev": fake, "folder": layout.folders[f],
                               "note": "one device rotating its MAC every minute for 2 h",
                               "window": (a, a + 2 * H)})
    weekdays = [x for x in days if layout.weekday(x) < 5] or days
    if life.stable_staff:
        dev = int(rng.choice(life.stable_staff))
        d = int(rng.choice(weekdays))
        arrays_folder = _staff_folder(life, dev)
        a = layout.day_start(d) + 5.75 * H
        pres.add(np.array([dev]), arrays_folder, layout.folder_sensors[arrays_folder][0], np.array([a]),
                 np.array([a + 3.5 * H]), -62.0, 4.0, 0.4, tag=-3)
        out.hard_negatives.append({"kind": "early_employee", "dev": dev, "folder": layout.folders[arrays_folder],
                                   "note": f"staff device arriving 05:45 on {layout.local_date(d).isoformat()}",
                                   "window": (a, a + 3.5 * H)})
    if life.weak_fixture >= 0:
        out.hard_negatives.append({"kind": "weak_fixture", "dev": life.weak_fixture, "folder": layout.folders[0],
                                   "note": "always-on device heard at -92 dBm in some hours, day and night",
                                   "window": (layout.day_start(0), layout.day_start(layout.days))})


def _staff_folder(life: Life, dev: int) -> int:
    for f, ids in life.staff.items():
        if dev in ids:
            return f
    return 0
