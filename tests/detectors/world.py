"""Hand-built sighting histories for the detector tests (inserted straight into santi.way_data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from santiway_anomaly.sightings import STORED_SCHEMA
from santiway_anomaly.storage import Store

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday; history days are T0 + 0..13, the scored day T0 + 14
DAY = timedelta(days=1)
BASE_LAT, BASE_LON = 55.7500, 37.6100
M_LAT = 1 / 111_320  # degrees latitude per metre


def truncate_data(store: Store) -> None:
    """Empty every MergeTree table of the product's databases (the applied migrations stay recorded)."""
    for db, name in store.query_rows(
            "SELECT database, name FROM system.tables WHERE database IN ('santi', 'anomaly_ml') "
            "AND engine LIKE '%MergeTree%' AND name != 'schema_migrations'"):
        store.command(f"TRUNCATE TABLE {db}.{name}")


def mac(prefix: int, n: int, randomized: bool = False) -> str:
    first = 0x02 if randomized else 0x00  # the locally administered bit marks a randomized MAC
    b = [first, prefix & 0xFF, (n >> 24) & 0xFF, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF]
    return ":".join(f"{x:02X}" for x in b)


@dataclass
class World:
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(7))
    cols: dict[str, list[object]] = field(default_factory=lambda: {n: [] for n in STORED_SCHEMA.names})

    def track(self, device: str, start: datetime, end: datetime, *, every_s: float = 300, sensor: str = "S1",
              folder: str = "office", lat: float = BASE_LAT, lon: float = BASE_LON, rssi: float = -60,
              rssi_sd: float = 2.0, randomized: bool = False, path: list[tuple[float, float]] | None = None,
              network: str = "wifi") -> None:
        """Sightings of `device` every ~`every_s` seconds in [start, end); with `path`, the position moves
        linearly through the (lat, lon) points (a moving sensor's view)."""
        span = (end - start).total_seconds()
        n = max(1, int(span // every_s))
        offsets = np.sort(np.clip(np.arange(n) * every_s + self.rng.uniform(0, every_s * 0.3, n), 0, span - 1))
        if path:
            pos = np.linspace(0, len(path) - 1, n)
            lats = np.interp(pos, np.arange(len(path)), [p[0] for p in path])
            lons = np.interp(pos, np.arange(len(path)), [p[1] for p in path])
        else:
            lats, lons = np.full(n, lat), np.full(n, lon)
        for off, la, lo in zip(offsets, lats, lons, strict=True):
            self.cols["ts"].append(start + timedelta(seconds=float(off)))
            self.cols["device_id"].append(device)
            self.cols["sensor_id"].append(sensor)
            self.cols["folder"].append(folder)
            self.cols["network_type"].append(network)
            self.cols["rssi"].append(int(np.clip(round(self.rng.normal(rssi, rssi_sd)), -120, 0)))
            self.cols["lat"].append(float(la))
            self.cols["lon"].append(float(lo))
            self.cols["vendor"].append("" if randomized else "TestVendor")
            self.cols["is_randomized"].append(1 if randomized else 0)

    def daily(self, device: str, days: range, start_h: float, end_h: float, **kw: object) -> None:
        for d in days:
            day = T0 + d * DAY
            self.track(device, day + timedelta(hours=start_h), day + timedelta(hours=end_h), **kw)  # type: ignore[arg-type]

    def table(self) -> pa.Table:
        return pa.table({n: self.cols[n] for n in STORED_SCHEMA.names}, schema=STORED_SCHEMA)

    def insert_alone(self, store: Store) -> int:
        """Empty every data table of the store, then insert this world: each test module's world alone."""
        truncate_data(store)
        return self.insert(store)

    def insert(self, store: Store) -> int:
        table = self.table()
        for i in range(0, table.num_rows, 100_000):
            store.insert_arrow("santi.way_data", table.slice(i, 100_000))
        return table.num_rows
