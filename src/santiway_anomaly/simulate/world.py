"""The places: folders at real coordinates, their fixed sensors, and mobile sensors' daily rounds.

Positions are kept in metres on a local plane (x east, y north) around the first anchor and
converted to WGS84 only for output; over a city the equirectangular error is far below GPS jitter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from santiway_anomaly.simulate.rf import F64, I64

M_PER_DEG_LAT = 111_320.0

# Real places in Moscow (SEED.md's example coordinates are Moscow's); folders cluster around them.
ANCHORS: tuple[tuple[str, float, float], ...] = (
    ("Moscow-City", 55.7494, 37.5394),
    ("Paveletskaya", 55.7297, 37.6392),
    ("Kurskaya", 55.7580, 37.6590),
    ("Belorusskaya", 55.7766, 37.5822),
    ("ZIL", 55.6953, 37.6644),
    ("VDNKh", 55.8298, 37.6332),
)
FOLDERS_PER_ANCHOR = 6
# Folders closer than this would blur "places": following needs stops >= 150 m apart.
MIN_FOLDER_SEPARATION_M = 300.0

KIND_CYCLE: tuple[str, ...] = (
    "office", "warehouse", "shop", "bus-stop", "office", "lobby", "datacenter", "canteen",
    "parking", "warehouse", "shop", "office",
)
# kind -> (radius m, min sensors, max sensors)
KIND_PROFILE: dict[str, tuple[float, int, int]] = {
    "office": (40.0, 2, 3),
    "warehouse": (60.0, 2, 3),
    "shop": (30.0, 2, 2),
    "bus-stop": (15.0, 1, 1),
    "lobby": (20.0, 1, 2),
    "datacenter": (35.0, 2, 2),
    "canteen": (25.0, 1, 1),
    "parking": (50.0, 1, 2),
}
FIXED_GPS_SIGMA_M = 1.5  # a parked, powered sensor with a GPS fix
MOBILE_GPS_SIGMA_M = 5.0  # a sensor in a car or bag: consumer GPS in a street canyon
MOBILE_SPEED_MS = 8.0  # ~30 km/h in city traffic
SCAN_BURST_S = 6.0  # a scan's channel sweep; sightings of one scan fall inside it


@dataclass(frozen=True)
class Folder:
    index: int
    name: str
    kind: str
    x: float
    y: float
    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True)
class Sensor:
    index: int
    sensor_id: str
    folder: int  # -1 for a mobile sensor
    x: float
    y: float
    period_s: float
    phase_s: float
    gps_sigma_m: float

    @property
    def mobile(self) -> bool:
        return self.folder < 0


@dataclass(frozen=True)
class MobileUnit:
    index: int
    sensor: int  # index into World.sensors
    route: tuple[int, ...]  # folder indices in visiting order (cyclic)
    spots: tuple[tuple[float, float], ...]  # where it parks at each route folder (x, y)
    shift_start_h: float
    shift_hours: float


@dataclass(frozen=True)
class Stops:
    """One day's mobile-sensor stops (parallel arrays; times are UTC epoch seconds)."""

    unit: I64
    sensor: I64
    folder: I64
    x: F64
    y: F64
    start: F64
    end: F64

    def __len__(self) -> int:
        return len(self.unit)

    def select_overlap(self, t0: float, t1: float) -> Stops:
        m = (self.start < t1) & (self.end > t0)
        return Stops(self.unit[m], self.sensor[m], self.folder[m], self.x[m], self.y[m], self.start[m], self.end[m])


class World:
    def __init__(self, *, n_folders: int, n_mobile: int | None, seed: int, zone: ZoneInfo,
                 start_date: date, days: int) -> None:
        self.seed = seed
        self.zone = zone
        self.start_date = start_date
        self.days = days
        rng = np.random.default_rng([seed, 1])
        self.origin_lat, self.origin_lon = ANCHORS[0][1], ANCHORS[0][2]
        self._m_per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(self.origin_lat))
        self.folders = self._place_folders(n_folders, rng)
        self.sensors: list[Sensor] = []
        for f in self.folders:
            _, lo, hi = KIND_PROFILE[f.kind]
            for k in range(int(rng.integers(lo, hi + 1))):
                r = f.radius_m * 0.6 * math.sqrt(rng.random())
                a = rng.random() * 2 * math.pi
                self.sensors.append(Sensor(len(self.sensors), f"S-{f.name}-{k + 1}", f.index,
                                           f.x + r * math.cos(a), f.y + r * math.sin(a),
                                           float(rng.uniform(45, 75)), float(rng.uniform(0, 45)),
                                           FIXED_GPS_SIGMA_M))
        self.n_fixed_sensors = len(self.sensors)
        if n_mobile is None:
            n_mobile = 0 if n_folders < 4 else max(1, n_folders // 6)
        self.units = self._plan_units(n_mobile if n_folders >= 2 else 0, rng)

    # --- geometry ---------------------------------------------------------------------------
    def to_latlon(self, x: F64, y: F64) -> tuple[F64, F64]:
        return self.origin_lat + y / M_PER_DEG_LAT, self.origin_lon + x / self._m_per_deg_lon

    def to_xy(self, lat: float, lon: float) -> tuple[float, float]:
        return (lon - self.origin_lon) * self._m_per_deg_lon, (lat - self.origin_lat) * M_PER_DEG_LAT

    def _place_folders(self, n: int, rng: np.random.Generator) -> list[Folder]:
        folders: list[Folder] = []
        counts: dict[str, int] = {}
        for i in range(n):
            kind = KIND_CYCLE[i % len(KIND_CYCLE)]
            counts[kind] = counts.get(kind, 0) + 1
            anchor = ANCHORS[(i // FOLDERS_PER_ANCHOR) % len(ANCHORS)]
            ax, ay = self.to_xy(anchor[1], anchor[2])
            spread = 1200.0
            for attempt in range(10_000):
                r = spread * math.sqrt(rng.random())
                a = rng.random() * 2 * math.pi
                x, y = ax + r * math.cos(a), ay + r * math.sin(a)
                if all(math.hypot(x - f.x, y - f.y) >= MIN_FOLDER_SEPARATION_M for f in folders):
                    break
                if attempt % 200 == 199:
                    spread += 300.0  # crowded anchor: widen the disc
            lat, lon = self.to_latlon(np.array(x), np.array(y))
            folders.append(Folder(i, f"{kind}-{counts[kind]}", kind, x, y, float(lat), float(lon),
                                  KIND_PROFILE[kind][0]))
        return folders

    def _plan_units(self, n: int, rng: np.random.Generator) -> list[MobileUnit]:
        units: list[MobileUnit] = []
        bus_stops = [f.index for f in self.folders if f.kind == "bus-stop"]
        for u in range(n):
            length = min(len(self.folders), int(rng.integers(5, 9)))
            first = bus_stops[0] if (u == 0 and bus_stops) else int(rng.integers(len(self.folders)))
            pool = [f.index for f in self.folders if f.index != first]
            chosen = [first] + [int(v) for v in rng.choice(pool, size=length - 1, replace=False)]
            route = [chosen.pop(0)]
            while chosen:  # nearest-neighbour order: a plausible driving round
                last = self.folders[route[-1]]
                nxt = min(chosen, key=lambda j: math.dist((self.folders[j].x, self.folders[j].y), (last.x, last.y)))
                chosen.remove(nxt)
                route.append(nxt)
            spots = []
            for j in route:
                f = self.folders[j]
                # Parks at the kerb by the folder; at a bus stop, right at the shelter.
                r = rng.uniform(4, 10) if f.kind == "bus-stop" else rng.uniform(20, 55)
                a = rng.random() * 2 * math.pi
                spots.append((f.x + r * math.cos(a), f.y + r * math.sin(a)))
            sensor = Sensor(len(self.sensors), f"M-patrol-{u + 1}", -1, spots[0][0], spots[0][1],
                            float(rng.uniform(30, 45)), float(rng.uniform(0, 30)), MOBILE_GPS_SIGMA_M)
            self.sensors.append(sensor)
            # Unit 1 starts at the bus stop in the morning rush (the "crowd near a mobile sensor" case).
            start_h = 7.6 if u == 0 else float(rng.uniform(8.0, 10.0))
            units.append(MobileUnit(u, sensor.index, tuple(route), tuple(spots), start_h,
                                    float(rng.uniform(10.0, 11.0))))
        return units

    # --- time -------------------------------------------------------------------------------
    def day_start(self, d: int) -> float:
        """UTC epoch seconds of local midnight starting day `d` (day 0 = start_date)."""
        local = datetime.combine(self.start_date + timedelta(days=d), time(0), tzinfo=self.zone)
        return local.timestamp()

    @property
    def period_start(self) -> float:
        return self.day_start(0)

    @property
    def period_end(self) -> float:
        return self.day_start(self.days)

    def weekday(self, d: int) -> int:
        return (self.start_date + timedelta(days=d)).weekday()

    def itinerary(self, d: int) -> Stops:
        return _itinerary(self, d)

    # --- description ------------------------------------------------------------------------
    def describe(self, *, itinerary_days: range | None = None) -> dict[str, Any]:
        sensors_by_folder: dict[int, list[dict[str, Any]]] = {}
        for s in self.sensors[: self.n_fixed_sensors]:
            lat, lon = self.to_latlon(np.array(s.x), np.array(s.y))
            sensors_by_folder.setdefault(s.folder, []).append(
                {"sensor_id": s.sensor_id, "lat": round(float(lat), 7), "lon": round(float(lon), 7),
                 "scan_period_s": round(s.period_s, 1)})
        units = []
        for unit in self.units:
            days = itinerary_days if itinerary_days is not None else range(self.days)
            rounds = []
            for d in days:
                st = self.itinerary(d)
                lat, lon = self.to_latlon(st.x, st.y)
                rounds.append({
                    "date": (self.start_date + timedelta(days=d)).isoformat(),
                    "stops": [
                        {"folder": self.folders[int(st.folder[i])].name, "lat": round(float(lat[i]), 7),
                         "lon": round(float(lon[i]), 7), "start": _iso(st.start[i]), "end": _iso(st.end[i])}
                        for i in range(len(st)) if st.unit[i] == unit.index
                    ],
                })
            units.append({"sensor_id": self.sensors[unit.sensor].sensor_id,
                          "route": [self.folders[j].name for j in unit.route], "days": rounds})
        return {
            "origin": {"lat": self.origin_lat, "lon": self.origin_lon, "anchor": ANCHORS[0][0]},
            "timezone": str(self.zone),
            "start": self.start_date.isoformat(),
            "days": self.days,
            "folders": [
                {"name": f.name, "kind": f.kind, "lat": round(f.lat, 7), "lon": round(f.lon, 7),
                 "radius_m": f.radius_m, "sensors": sensors_by_folder.get(f.index, [])}
                for f in self.folders
            ],
            "mobile_sensors": units,
        }


def _iso(epoch: float) -> str:
    from datetime import UTC

    return datetime.fromtimestamp(float(epoch), UTC).isoformat(timespec="seconds")


@lru_cache(maxsize=64)
def _itinerary(world: World, d: int) -> Stops:
    cols: dict[str, list[float]] = {k: [] for k in ("unit", "sensor", "folder", "x", "y", "start", "end")}
    for unit in world.units:
        rng = np.random.default_rng([world.seed, 11, d + 1000, unit.index])
        t = world.day_start(d) + (unit.shift_start_h + rng.normal(0, 0.08)) * 3600
        end_of_shift = t + unit.shift_hours * 3600
        i = 0
        n = len(unit.route)
        while t + 20 * 60 < end_of_shift:
            j = i % n
            dwell = rng.uniform(25, 50) * 60
            x, y = unit.spots[j]
            for key, val in (("unit", unit.index), ("sensor", unit.sensor), ("folder", unit.route[j]),
                             ("x", x), ("y", y), ("start", t), ("end", min(t + dwell, end_of_shift))):
                cols[key].append(float(val))
            nx, ny = unit.spots[(i + 1) % n]
            t += dwell + math.hypot(nx - x, ny - y) / MOBILE_SPEED_MS + rng.uniform(3, 8) * 60
            i += 1
    ints = {k: np.array(cols[k], dtype=np.int64) for k in ("unit", "sensor", "folder")}
    flts = {k: np.array(cols[k], dtype=np.float64) for k in ("x", "y", "start", "end")}
    return Stops(ints["unit"], ints["sensor"], ints["folder"], flts["x"], flts["y"], flts["start"], flts["end"])
