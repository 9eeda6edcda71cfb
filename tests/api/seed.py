"""A small, known world for the API tests: three devices, two places, 120 anomalies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from santiway_anomaly.anomaly import ANOMALY_TYPES, Anomaly, severity_for
from santiway_anomaly.sightings import STORED_SCHEMA
from santiway_anomaly.storage import Store
from santiway_anomaly.storage.anomalies import save_anomalies

DEVICE_A = "AA:BB:CC:00:00:01"  # in the office for two hours
DEVICE_B = "AA:BB:CC:00:00:02"  # follows A (same sensor, same minutes), then 30 min in the warehouse
DEVICE_C = "11:22:33:44:55:66"  # warehouse only
OFFICE = ("office", "s-office-1", 55.7500, 37.6100)
WAREHOUSE = ("warehouse", "s-wh-1", 55.8000, 37.7000)
N_ANOMALIES = 120


@dataclass
class World:
    now: datetime
    anomalies: list[Anomaly]


def _rows(
    device: str, place: tuple[str, str, float, float], start: datetime, minutes: int, step: int, rssi: int
) -> list[dict[str, object]]:
    folder, sensor, lat, lon = place
    return [
        {
            "ts": start + timedelta(minutes=m),
            "device_id": device,
            "sensor_id": sensor,
            "folder": folder,
            "network_type": "wifi",
            "rssi": rssi - (m % 5),
            "lat": lat + (m % 3) * 1e-5,
            "lon": lon,
            "vendor": "TestVendor",
            "is_randomized": 0,
        }
        for m in range(0, minutes, step)
    ]


def seed(store: Store) -> World:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    t0 = now - timedelta(hours=3)
    rows = (
        _rows(DEVICE_A, OFFICE, t0, 120, 1, -50)
        + _rows(DEVICE_B, OFFICE, t0, 120, 1, -60)
        + _rows(DEVICE_B, WAREHOUSE, t0 + timedelta(minutes=130), 30, 1, -70)
        + _rows(DEVICE_C, WAREHOUSE, t0, 120, 2, -65)
    )
    store.insert_arrow("santi.way_data", pa.Table.from_pylist(rows, schema=STORED_SCHEMA))
    anomalies = []
    hour = now.replace(minute=0)
    devices = [DEVICE_A, DEVICE_B, DEVICE_C]
    for i in range(N_ANOMALIES):
        kind = ANOMALY_TYPES[i % len(ANOMALY_TYPES)]
        score = 0.5 + (i % 50) / 100  # 0.50 .. 0.99
        start = hour - timedelta(hours=1 + i // 4)  # 30 distinct hours back from now
        folder_level = kind == "density_spike"
        anomalies.append(
            Anomaly(
                anomaly_type=kind,
                severity=str(severity_for(score)),
                score=score,
                window_start=start,
                window_end=start + timedelta(hours=1),
                device_id="" if folder_level else devices[i % 3],
                folder=OFFICE[0] if i % 2 else WAREHOUSE[0],
                lat=OFFICE[2],
                lon=OFFICE[3],
                details={"i": i},
            )
        )
    assert len(save_anomalies(store, anomalies)) == N_ANOMALIES
    return World(now=now, anomalies=anomalies)
