"""A device's path length is not fooled by GPS jitter: a day in one warehouse is ~0 km, a 3 km trip ~3 km."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from santiway_anomaly.analysis.device import movement
from santiway_anomaly.sightings import STORED_SCHEMA
from tests.conftest import SharedStore

STILL, MOVING = "0A:00:00:00:77:01", "0A:00:00:00:77:02"


def test_jitter_is_not_movement(shared_store: SharedStore) -> None:
    store = shared_store.get()
    rng = random.Random(7)
    t0 = datetime(2026, 6, 1, 8, tzinfo=UTC)
    rows = []
    for m in range(0, 8 * 60):  # eight hours, one fix a minute, +-40 m of GPS noise around one spot
        rows.append({"ts": t0 + timedelta(minutes=m), "device_id": STILL, "sensor_id": "S-w", "folder": "warehouse",
                     "network_type": "wifi", "rssi": -60, "lat": 55.75 + rng.uniform(-4e-4, 4e-4),
                     "lon": 37.61 + rng.uniform(-6e-4, 6e-4), "vendor": "", "is_randomized": 0})
    for m in range(0, 60):  # one hour due north at 50 m a minute: 3 km, with the same noise
        rows.append({"ts": t0 + timedelta(minutes=m), "device_id": MOVING, "sensor_id": "S-car", "folder": "road",
                     "network_type": "wifi", "rssi": -60, "lat": 55.75 + m * 50 / 111_195 + rng.uniform(-4e-4, 4e-4),
                     "lon": 37.61 + rng.uniform(-6e-4, 6e-4), "vendor": "", "is_randomized": 0})
    store.insert_arrow("santi.way_data", pa.Table.from_pylist(rows, schema=STORED_SCHEMA))
    end = t0 + timedelta(hours=9)
    still = movement(store, STILL, t0, end)
    moving = movement(store, MOVING, t0, end)
    assert still["path_km"] < 0.3, still  # summing every fix's wobble gave ~20 km here
    assert 2.4 < moving["path_km"] < 3.3, moving
