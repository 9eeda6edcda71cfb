"""Ordinary life of a family world, vectorised over devices x days: fixtures and infrastructure,
staff with weekday rhythms, visitors, passers-by, night staff, sessions, weekly events, patrols.

Nothing here is an anomaly; the injected ones live in `inject.py`. Times are local hours turned
into epoch seconds through `Layout.day_start`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from santiway_anomaly.simulate.families.layout import (
    F64,
    I64,
    PER_PRESENCE,
    ROTATING,
    STABLE,
    STICKY_DAY,
    Devices,
    Layout,
    Presences,
)

H = 3600.0
FIXTURE_OUIS = np.array([16, 17, 18, 19, 25, 14, 15, 21, 22, 23], dtype=np.int64)  # APs, printers, IoT, Pis
LAPTOP_OUIS = np.array([11, 12, 13], dtype=np.int64)


@dataclass
class Stop:
    sensor: int
    day: int
    round_no: int
    folder: int
    start: float
    end: float
    x: float
    y: float


@dataclass
class Life:
    """What the injectors and the world description need to know about ordinary life."""

    staff: dict[int, list[int]] = field(default_factory=dict)  # folder -> staff device ids
    stable_staff: list[int] = field(default_factory=list)
    stops: list[Stop] = field(default_factory=list)
    timetable: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    night_folders: list[int] = field(default_factory=list)
    weak_fixture: int = -1
    outages: list[tuple[int, float, float, str]] = field(default_factory=list)
    late_visitors: list[tuple[int, int]] = field(default_factory=list)  # (device, folder): no visit in the warm-up


def phone_modes(n: int, layout: Layout, rng: np.random.Generator) -> I64:
    """People's phones: stable, sticky-per-day or rotating MACs, in the family's shares."""
    s = layout.spec
    u = rng.random(n)
    return np.where(u < s.stable_share, STABLE, np.where(u < s.stable_share + s.sticky_share, STICKY_DAY, ROTATING))


def _scaled(n: float, layout: Layout, minimum: int = 1) -> int:
    return max(minimum, int(round(n * layout.scale)))


def _pick_sensor(layout: Layout, folders: I64, rng: np.random.Generator) -> I64:
    counts = np.array([len(s) for s in layout.folder_sensors], dtype=np.int64)
    first = np.array([s[0] for s in layout.folder_sensors], dtype=np.int64)
    return first[folders] + (rng.random(len(folders)) * counts[folders]).astype(np.int64)


def fixtures(layout: Layout, devs: Devices, pres: Presences, life: Life, rng: np.random.Generator) -> None:
    """Always-on devices: near ones heard all the time, far ones (-85..-95 dBm) in some hours only."""
    t0, t1 = layout.day_start(0), layout.day_start(layout.days)
    for f in range(len(layout.folders)):
        n = int(rng.integers(layout.spec.fixtures_per_folder[0], layout.spec.fixtures_per_folder[1] + 1))
        ids = devs.add(n, "fixture", np.full(n, STABLE), rng, oui=rng.choice(FIXTURE_OUIS, size=n))
        sensors = _pick_sensor(layout, np.full(n, f), rng)
        pres.add(ids, f, sensors, np.full(n, t0), np.full(n, t1), rng.uniform(-75, -45, n), rng.uniform(2, 4, n),
                 rng.uniform(0.05, 0.3, n))
        lo, hi = layout.spec.far_infra_per_folder
        n_far = int(rng.integers(lo, hi + 1)) + (1 if f == 0 else 0)
        if n_far == 0:
            continue
        far = devs.add(n_far, "far_infrastructure", np.full(n_far, STABLE), rng,
                       oui=rng.choice(FIXTURE_OUIS, size=n_far))
        rssi = rng.uniform(-93, -86, n_far)
        if f == 0:  # the named hard negative: a fixture heard at -92 dBm
            life.weak_fixture = int(far[-1])
            rssi[-1] = -92.0
        _intermittent(layout, far, f, rssi, rng.uniform(0.3, 0.8, n_far), pres, rng)


def _intermittent(layout: Layout, ids: I64, folder: int, rssi: F64, p_hour: F64, pres: Presences,
                  rng: np.random.Generator) -> None:
    hours = layout.days * 24
    heard = rng.random((len(ids), hours)) < p_hour[:, None]
    di, hi = np.nonzero(heard)
    start = layout.day_start(0) + hi * H + rng.uniform(0, 40 * 60, len(hi))
    sensors = _pick_sensor(layout, np.full(len(di), folder), rng)
    pres.add(ids[di], folder, sensors, start, start + rng.uniform(120, 1200, len(hi)), rssi[di], 2.0, 0.4)


def staff(layout: Layout, devs: Devices, pres: Presences, life: Life, n: int, rng: np.random.Generator) -> None:
    """Weekday rhythm: arrive ~08:30, stay ~8.5 h, lunch away on most days; part-timers 2-3 days a week."""
    if n <= 0:
        return
    nf = len(layout.folders)
    folder = rng.integers(0, nf, n)
    modes = phone_modes(n, layout, rng)
    laptop = rng.random(n) < 0.25
    modes[laptop] = STABLE
    oui = np.where(laptop, rng.choice(LAPTOP_OUIS, size=n), rng.integers(0, 11, n))
    ids = devs.add(n, "staff", modes, rng, oui=oui)
    for f in range(nf):
        life.staff[f] = ids[folder == f].tolist()
    life.stable_staff = ids[modes == STABLE].tolist()
    sensor = _pick_sensor(layout, folder, rng)
    desk_rssi = rng.uniform(-75, -50, n)
    arrive = rng.normal(8.5, 0.6, n)
    length = rng.normal(8.5, 0.7, n)
    p_work = np.where(rng.random(n) < 0.15, 0.45, 0.9)  # part-timers
    weekday = np.array([layout.weekday(d) < 5 for d in range(layout.days)])
    p = np.where(weekday[None, :], p_work[:, None], 0.04)
    di, dd = np.nonzero(rng.random((n, layout.days)) < p)
    day0 = np.array([layout.day_start(d) for d in range(layout.days)])[dd]
    a = day0 + np.clip(arrive[di] + rng.normal(0, 0.3, len(di)), 6.5, 11) * H
    b = a + np.clip(length[di] + rng.normal(0, 0.5, len(di)), 3, 11) * H
    lunch = rng.random(len(di)) < 0.6
    l0 = day0 + rng.uniform(11.8, 13.2, len(di)) * H
    l1 = l0 + np.where(lunch, rng.uniform(0.4, 1.0, len(di)) * H, 0.0)
    rate = rng.uniform(0.15, 0.5, n)
    for s0, s1 in ((a, np.minimum(l0, b)), (np.maximum(l1, a), b)):
        pres.add(ids[di], folder[di], sensor[di], s0, s1, desk_rssi[di], rng.uniform(3, 6, len(di)), rate[di])


def visitors(layout: Layout, devs: Devices, pres: Presences, life: Life, n: int, rng: np.random.Generator) -> None:
    """Known faces: random days (2-20 % of days) or one fixed weekday; stays of 10 min to 2 h. Those
    without a visit in the warm-up days are noted in `life.late_visitors` (see `first_visits`)."""
    if n <= 0:
        return
    folder = rng.integers(0, len(layout.folders), n)
    ids = devs.add(n, "visitor", phone_modes(n, layout, rng), rng)
    weekly = rng.random(n) < 0.3
    fixed_day = rng.integers(0, 5, n)
    p_day = rng.uniform(0.02, 0.2, n)
    wd = np.array([layout.weekday(d) for d in range(layout.days)])
    p = np.where(weekly[:, None], np.where(wd[None, :] == fixed_day[:, None], 0.85, 0.0), p_day[:, None])
    di, dd = np.nonzero(rng.random((n, layout.days)) < p)
    day0 = np.array([layout.day_start(d) for d in range(layout.days)])[dd]
    a = day0 + rng.uniform(9, 17, len(di)) * H
    stay = np.clip(rng.lognormal(np.log(50 * 60), 0.6, len(di)), 600, 2 * H)
    pres.add(ids[di], folder[di], _pick_sensor(layout, folder[di], rng), a, a + stay, rng.uniform(-85, -62, len(di)),
             rng.uniform(3, 6, len(di)), rng.uniform(0.2, 0.6, len(di)))
    known = np.zeros(n, dtype=bool)
    known[di[dd < layout.spec.warmup_days]] = True
    life.late_visitors = [(int(ids[i]), int(folder[i])) for i in np.flatnonzero(~known)]


def first_visits(layout: Layout, pres: Presences, life: Life, rng: np.random.Generator) -> None:
    """A known face has been here before: each late visitor (no visit in the warm-up) gets one visit on
    a weekday of the warm-up, drawn like its other visits. Without it, a visitor whose first visits fall
    in one week of the anomaly days is, by the definition of DESIGN.md and `inject.py` ("a new device at
    the same spot on 3 days"), a returning stranger that the truth does not list (patrols-7501,
    large_site-7502). `rng` is a stream of its own, so that every other sighting of the world stays as
    it was."""
    if not life.late_visitors:
        return
    warm = [d for d in range(min(layout.spec.warmup_days, layout.days)) if layout.weekday(d) < 5]
    if not warm:
        return
    ids = np.array([d for d, _ in life.late_visitors], dtype=np.int64)
    folder = np.array([f for _, f in life.late_visitors], dtype=np.int64)
    day = rng.choice(np.array(warm), size=len(ids))
    a = np.array([layout.day_start(int(d)) for d in day]) + rng.uniform(9, 17, len(ids)) * H
    stay = np.clip(rng.lognormal(np.log(50 * 60), 0.6, len(ids)), 600, 2 * H)
    pres.add(ids, folder, _pick_sensor(layout, folder, rng), a, a + stay, rng.uniform(-85, -62, len(ids)),
             rng.uniform(3, 6, len(ids)), rng.uniform(0.2, 0.6, len(ids)))


def passers(layout: Layout, devs: Devices, pres: Presences, n: int, rng: np.random.Generator) -> None:
    """One-off walk-bys: a new device each, 1-6 minutes, weak, mostly randomized, 07:00-22:00."""
    if n <= 0:
        return
    modes = np.where(rng.random(n) < 0.8, ROTATING, STABLE)
    ids = devs.add(n, "passer_by", modes, rng)
    folder = rng.integers(0, len(layout.folders), n)
    day = rng.integers(0, layout.days, n)
    day0 = np.array([layout.day_start(d) for d in range(layout.days)])[day]
    hour = np.clip(rng.normal(14, 3.5, n), 7, 22)
    a = day0 + hour * H
    pres.add(ids, folder, _pick_sensor(layout, folder, rng), a, a + rng.uniform(60, 360, n),
             rng.uniform(-92, -72, n), 3.0, rng.uniform(0.5, 1.5, n))


def night_staff(layout: Layout, devs: Devices, pres: Presences, life: Life, rng: np.random.Generator) -> int:
    """Guards and night shift: 22:00-06:30 on most nights, walking between the folder's sensors."""
    k = min(layout.spec.night_staff_folders, len(layout.folders))
    if k == 0:
        return 0
    life.night_folders = sorted(rng.choice(len(layout.folders), size=k, replace=False).tolist())
    total = 0
    for f in life.night_folders:
        n = _scaled(int(rng.integers(6, 13)), layout, minimum=3)
        total += n
        modes = np.where(rng.random(n) < 0.5, STABLE, np.where(rng.random(n) < 0.6, STICKY_DAY, ROTATING))
        ids = devs.add(n, "night_staff", modes, rng)
        di, dd = np.nonzero(rng.random((n, layout.days - 1)) < 0.65)
        day0 = np.array([layout.day_start(d) for d in range(layout.days - 1)])[dd]
        a = day0 + rng.uniform(21.5, 23.0, len(di)) * H
        b = day0 + 24 * H + rng.uniform(5.5, 7.0, len(di)) * H
        mid = a + (b - a) * rng.uniform(0.3, 0.7, len(di))
        for s0, s1 in ((a, mid), (mid, b)):  # half the night at one sensor, half at another
            pres.add(ids[di], f, _pick_sensor(layout, np.full(len(di), f), rng), s0, s1, rng.uniform(-78, -55, len(di)),
                     4.0, rng.uniform(0.2, 0.5, len(di)))
    return total


def sessions(layout: Layout, devs: Devices, pres: Presences, life: Life, rng: np.random.Generator) -> int:
    """A weekly timetable per folder: 3-5 sessions of 1-3 h with 10-40 people sitting near a sensor;
    most phones randomized, many keeping one MAC for the whole session."""
    total = 0
    for f in range(len(layout.folders)):
        for _ in range(int(rng.integers(3, 6))):
            wd, hour = int(rng.integers(0, 5)), float(rng.integers(8, 16))
            dur, size = float(rng.choice([1.0, 1.5, 2.0, 2.5, 3.0])), int(rng.integers(10, 41))
            pool = _scaled(size * 1.25, layout, minimum=8)
            total += pool
            u = rng.random(pool)
            modes = np.where(u < 0.25, STABLE, np.where(u < 0.7, PER_PRESENCE, ROTATING))
            ids = devs.add(pool, "student", modes, rng)
            sensor = _pick_sensor(layout, np.full(pool, f), rng)
            seat = rng.uniform(-72, -50, pool)
            days = [d for d in range(layout.days) if layout.weekday(d) == wd]
            life.timetable.append({"folder": layout.folders[f], "weekday": wd, "start_hour": hour,
                                   "hours": dur, "size": size, "students": pool})
            for d in days:
                come = rng.random(pool) < 0.8
                t0 = layout.day_start(d) + hour * H
                m = int(come.sum())
                pres.add(ids[come], f, sensor[come], t0 + rng.uniform(-600, 600, m),
                         t0 + dur * H + rng.uniform(-600, 300, m), seat[come], rng.uniform(2, 4, m),
                         rng.uniform(0.2, 0.6, m))
    return total


def hourly_counts(layout: Layout, arrays: dict[str, Any]) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Distinct devices present per folder per hour of the world (fixed sensors only)."""
    nf, hours = len(layout.folders), layout.days * 24
    keep = ~arrays["solo"].astype(bool)
    t0 = layout.day_start(0)
    h0 = np.clip(((arrays["start"][keep] - t0) // H).astype(np.int64), 0, hours - 1)
    h1 = np.clip(((arrays["end"][keep] - t0 - 1e-3) // H).astype(np.int64), 0, hours - 1)
    n = h1 - h0 + 1
    rep = np.repeat(np.arange(len(h0)), n)
    hour = h0[rep] + (np.arange(len(rep)) - np.repeat(np.cumsum(n) - n, n))
    folder = arrays["folder"][keep].astype(np.int64)[rep]
    key = np.unique((arrays["dev"][keep].astype(np.int64)[rep] * nf + folder) * hours + hour)
    cell = key % (nf * hours)
    return np.bincount(cell, minlength=nf * hours).reshape(nf, hours)


def level_at(counts: np.ndarray[Any, np.dtype[np.int64]], layout: Layout, folder: int, day: int,
             hour: int) -> float:
    """A folder's usual count at a local hour: p95 over the earlier days at that hour (DESIGN.md's
    density baseline), so that 2x of it is a spike on any weekday, not only against a quiet Sunday."""
    vals = [counts[folder, d * 24 + hour] for d in range(day)] or [0]
    return float(np.percentile(vals, 95))


def weekly_event(layout: Layout, devs: Devices, pres: Presences, life: Life, rng: np.random.Generator) -> int:
    """A market day / Friday meeting that doubles one folder's count at a fixed weekday and hour; it
    falls on an anomaly day too (normal there, not a spike)."""
    f = 0
    day_in_window = layout.anomaly_first_day + 1
    wd = layout.weekday(day_in_window)
    hour, dur = int(rng.choice([10, 11, 16])), int(rng.integers(2, 4))
    counts = hourly_counts(layout, pres.arrays())
    level = max(level_at(counts, layout, f, day_in_window, hour), 8.0)
    size = int(round(level * rng.uniform(0.9, 1.3)))
    pool = _scaled(size * 1.5, layout, minimum=10)
    u = rng.random(pool)
    modes = np.where(u < 0.25, STABLE, np.where(u < 0.4, PER_PRESENCE, ROTATING))
    ids = devs.add(pool, "event_goer", modes, rng)
    days = [d for d in range(layout.days) if layout.weekday(d) == wd]
    for d in days:
        come = rng.random(pool) < 0.65
        m = int(come.sum())
        t0 = layout.day_start(d) + hour * H
        a = t0 + rng.uniform(0, 1800, m)
        b = np.minimum(a + rng.uniform(45, 150, m) * 60, t0 + dur * H)
        pres.add(ids[come], f, _pick_sensor(layout, np.full(m, f), rng), a, b, rng.uniform(-85, -58, m), 4.0,
                 rng.uniform(0.3, 0.8, m))
    life.events.append({"folder": layout.folders[f], "weekday": wd, "start_hour": hour, "hours": dur,
                        "size": size, "usual_level": level, "days": [layout.local_date(d).isoformat() for d in days]})
    return pool


def plan_rounds(layout: Layout, life: Life, rng: np.random.Generator) -> None:
    """Mobile sensors on rounds of 4-6 stops 45-90 min apart (guards by day and night, a van by day)."""
    mobile = [i for i, s in enumerate(layout.sensors) if s.folder < 0]
    nf = len(layout.folders)
    for k, m in enumerate(mobile):
        starts = (9.0, 14.0, 22.5) if k % 2 == 0 else (8.0, 13.0)
        for d in range(layout.days):
            for r, h in enumerate(starts):
                n_stops = min(nf, int(rng.integers(4, 7)))
                order = rng.permutation(nf)[:n_stops]
                t = layout.day_start(d) + (h + rng.uniform(0, 0.5)) * H
                for f in order:
                    x = float(layout.folder_xy[f, 0] + rng.uniform(-20, 20))
                    y = float(layout.folder_xy[f, 1] + rng.uniform(-20, 20))
                    life.stops.append(Stop(m, d, r, int(f), t, t + rng.uniform(5, 15) * 60, x, y))
                    t += rng.uniform(45, 90) * 60


def patrols(layout: Layout, devs: Devices, pres: Presences, life: Life, rng: np.random.Generator) -> None:
    """What a mobile sensor hears at each stop: its companion (the guard, the driver) and most of the
    people of the folder present then."""
    mobile = [i for i, s in enumerate(layout.sensors) if s.folder < 0]
    if not mobile:
        return
    companions = devs.add(len(mobile), "sensor_companion", np.full(len(mobile), STABLE), rng)
    arrays = pres.arrays()
    for s in life.stops:
        sel = np.nonzero((arrays["folder"] == s.folder) & (arrays["start"] < s.end) & (arrays["end"] > s.start)
                         & ~arrays["solo"].astype(bool))[0]
        sel = sel[rng.random(len(sel)) < 0.7]
        pres.add(arrays["dev"][sel].astype(np.int64), s.folder, s.sensor, np.maximum(arrays["start"][sel], s.start),
                 np.minimum(arrays["end"][sel], s.end), arrays["rssi"][sel] - rng.uniform(0, 10, len(sel)),
                 4.0, arrays["rate"][sel], solo=True, x=s.x, y=s.y)
        comp = companions[mobile.index(s.sensor)]
        pres.add(np.array([comp]), s.folder, s.sensor, np.array([s.start]), np.array([s.end]), -47.0, 2.0, 1.0,
                 solo=True, x=s.x, y=s.y)


def outages(layout: Layout, life: Life, rng: np.random.Generator) -> None:
    """Sensors off for hours to days before the anomaly days, a folder dark for ~1.5 days, a sensor
    installed late, partial days, and short restarts anywhere."""
    t0 = layout.day_start(0)
    last = layout.day_start(layout.anomaly_first_day) - 1
    fixed = [i for i, s in enumerate(layout.sensors) if s.folder >= 0]
    out = life.outages
    for s in fixed:
        if rng.random() < 0.6:
            a = rng.uniform(layout.day_start(1), last - 20 * H)
            out.append((s, a, a + rng.uniform(3, 20) * H, "hours"))
        for _ in range(int(rng.integers(2, 6))):  # restarts: a few minutes of silence
            a = rng.uniform(t0, layout.day_start(layout.days) - H)
            out.append((s, a, a + rng.uniform(180, 900), "restart"))
    s = int(rng.choice(fixed))
    a = layout.day_start(int(rng.integers(2, max(3, layout.anomaly_first_day - 3))))
    out.append((s, a, min(a + rng.uniform(24, 48) * H, last), "days"))
    f = int(rng.integers(0, len(layout.folders)))
    a = layout.day_start(int(rng.integers(3, max(4, layout.anomaly_first_day - 2)))) + rng.uniform(0, 12) * H
    for s in layout.folder_sensors[f]:
        out.append((s, a, min(a + rng.uniform(30, 40) * H, last), "folder_dark"))
    late = int(rng.choice(fixed))
    out.append((late, t0, layout.day_start(2) + 12 * H, "installed_late"))
    partial = int(rng.choice(fixed))
    for d in rng.choice(np.arange(layout.spec.warmup_days, layout.anomaly_first_day), size=2, replace=False):
        day = layout.day_start(int(d))
        out.append((partial, day, day + 10 * H, "partial_day"))
        out.append((partial, day + 18 * H, day + 24 * H, "partial_day"))
