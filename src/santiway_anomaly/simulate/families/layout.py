"""A family world's layout: local days, folders, sensors, devices, and presences as numpy columns.

Positions are metres on a local plane around a base point; sightings carry the hearing sensor's
position (what a real sniffer reports). Folders sit on a grid 450 m apart, so two folders never
share a 100 m spot and a moving sensor's stops are far enough apart to count as places.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from santiway_anomaly.simulate.families.spec import ANOMALY_DAYS, FamilySpec

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

FOLDER_SPACING_M = 450.0
BASE_LAT, BASE_LON = 49.19, 16.60
M_PER_DEG_LAT = 111_320.0

# MAC behaviour of a device
STABLE, ROTATING, STICKY_DAY, PER_PRESENCE = 0, 1, 2, 3


@dataclass
class Sensor:
    sensor_id: str
    folder: int  # -1 for a moving sensor
    x: float
    y: float
    gain_db: float = 0.0  # added to every reading of this sensor (its hardware and mounting)


@dataclass
class Layout:
    spec: FamilySpec
    seed: int
    scale: float
    zone: ZoneInfo
    start_date: date
    folders: list[str]
    folder_xy: F64  # (n_folders, 2)
    sensors: list[Sensor]
    folder_sensors: list[list[int]]

    @property
    def days(self) -> int:
        return self.spec.days

    @property
    def anomaly_first_day(self) -> int:
        return self.spec.days - ANOMALY_DAYS

    def day_start(self, d: int) -> float:
        """Epoch seconds of local midnight starting day `d` (no DST change falls in a world's span)."""
        local = datetime.combine(self.start_date + timedelta(days=d), datetime.min.time(), tzinfo=self.zone)
        return local.timestamp()

    def local_date(self, d: int) -> date:
        return self.start_date + timedelta(days=d)

    def weekday(self, d: int) -> int:
        return self.local_date(d).weekday()

    def to_latlon(self, x: F64, y: F64) -> tuple[F64, F64]:
        lat = BASE_LAT + y / M_PER_DEG_LAT
        lon = BASE_LON + x / (M_PER_DEG_LAT * np.cos(np.radians(BASE_LAT)))
        return lat, lon


def make_layout(spec: FamilySpec, seed: int, scale: float, rng: np.random.Generator) -> Layout:
    zone = ZoneInfo(spec.timezone)
    # May to July: no DST change in any of the families' zones, so a local day is 24 h.
    start = date(2026, 5, 4) + timedelta(days=int(rng.integers(0, 42)))
    side = int(np.ceil(np.sqrt(spec.folders)))
    xy = np.array([[(i % side) * FOLDER_SPACING_M, (i // side) * FOLDER_SPACING_M] for i in range(spec.folders)],
                  dtype=np.float64)
    kinds = ("office", "lab", "hall", "store", "lobby", "depot", "annex", "clinic")
    names = [f"{kinds[i % len(kinds)]}-{i + 1}" for i in range(spec.folders)]
    sensors: list[Sensor] = []
    folder_sensors: list[list[int]] = []
    lo, hi = spec.sensors_per_folder
    for f in range(spec.folders):
        ids = []
        for k in range(int(rng.integers(lo, hi + 1))):
            # sensors of one folder stay within ~35 m of its centre: one spot, several rooms
            dx, dy = rng.uniform(-35, 35, size=2) if k else (0.0, 0.0)
            ids.append(len(sensors))
            sensors.append(Sensor(f"{names[f]}-s{k + 1}", f, float(xy[f, 0] + dx), float(xy[f, 1] + dy)))
        folder_sensors.append(ids)
    for m in range(spec.mobile_sensors):
        sensors.append(Sensor(f"mobile-{m + 1}", -1, float(xy[0, 0]), float(xy[0, 1])))
    if spec.sensor_gain_db != (0.0, 0.0):
        # A stream of its own, so that the families without a gain keep their worlds draw for draw.
        gains = np.random.default_rng(seed * 7907 + 3).uniform(*spec.sensor_gain_db, len(sensors))
        for sensor, gain in zip(sensors, gains, strict=True):
            sensor.gain_db = float(gain)
    return Layout(spec, seed, scale, zone, start, names, xy, sensors, folder_sensors)


@dataclass
class Devices:
    """Per device: MAC behaviour, rotation period and phase, OUI index, network, role label."""

    mode: list[I64] = field(default_factory=list)
    rot_s: list[F64] = field(default_factory=list)
    oui: list[I64] = field(default_factory=list)
    net: list[I64] = field(default_factory=list)
    role: list[str] = field(default_factory=list)  # one label per block
    role_n: list[int] = field(default_factory=list)
    count: int = 0

    def add(self, n: int, role: str, mode: I64, rng: np.random.Generator, *,
            rot_range: tuple[float, float] = (900, 1800), oui: I64 | None = None, net: I64 | None = None) -> I64:
        ids = np.arange(self.count, self.count + n, dtype=np.int64)
        self.mode.append(mode.astype(np.int64))
        self.rot_s.append(rng.uniform(rot_range[0], rot_range[1], size=n))
        self.oui.append(oui if oui is not None else rng.integers(0, 11, size=n).astype(np.int64))
        self.net.append(net if net is not None else np.zeros(n, dtype=np.int64))
        self.role.append(role)
        self.role_n.append(n)
        self.count += n
        return ids

    def arrays(self) -> tuple[I64, F64, I64, I64]:
        def cat(parts: list[Any], dtype: type) -> Any:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        return cat(self.mode, np.int64), cat(self.rot_s, np.float64), cat(self.oui, np.int64), cat(self.net, np.int64)

    def roles(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r, n in zip(self.role, self.role_n, strict=True):
            out[r] = out.get(r, 0) + n
        return out


PRESENCE_FIELDS = ("dev", "folder", "sensor", "start", "end", "rssi", "sd", "rate", "tag", "solo", "x", "y")


@dataclass
class Presences:
    """A device in range of a sensor from `start` to `end` (epoch s): mean RSSI at that sensor, its
    spread, sightings per minute. `solo` presences are heard by their sensor only (a moving sensor
    at a stop, at position x, y); the others by every sensor of the folder, weaker further away."""

    cols: dict[str, list[npt.NDArray[np.generic]]] = field(
        default_factory=lambda: {k: [] for k in PRESENCE_FIELDS})

    def add(self, dev: I64, folder: I64 | int, sensor: I64 | int, start: F64, end: F64, rssi: F64 | float,
            sd: F64 | float, rate: F64 | float, tag: int = -1, solo: bool = False,
            x: F64 | float = np.nan, y: F64 | float = np.nan) -> None:
        n = len(dev)
        if n == 0:
            return
        values = {"dev": dev, "folder": folder, "sensor": sensor, "start": start, "end": end, "rssi": rssi,
                  "sd": sd, "rate": rate, "tag": tag, "solo": solo, "x": x, "y": y}
        for k, v in values.items():
            self.cols[k].append(np.broadcast_to(np.asarray(v), (n,)).copy())

    def arrays(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, parts in self.cols.items():
            out[k] = np.concatenate(parts) if parts else np.zeros(0)
        keep = out["end"] > out["start"]
        return {k: v[keep] for k, v in out.items()}
