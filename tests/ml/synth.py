"""A small hand-made office: regular staff with daily schedules, a few of whom change behaviour.

Used by the ML tests to insert real sightings into the shared store (no mocks of our storage).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from santiway_anomaly.sightings import STORED_SCHEMA

T0 = datetime(2026, 3, 2, tzinfo=UTC)
LAT, LON = 55.75, 37.62


def mac(prefix: int, i: int) -> str:
    return f"02:{prefix:02X}:00:00:{i // 256:02X}:{i % 256:02X}".replace("02:", "00:", 1)


def office(n_devices: int = 30, days: int = 12, changed: int = 0, change_days: int = 2, seed: int = 0,
           per_hour: int = 3) -> tuple[pa.Table, list[str], list[str]]:
    """Sightings of `n_devices` office workers over `days` days from T0; the first `changed` devices
    arrive in the afternoon, in another folder and at a weak signal during the last `change_days`.
    Returns (table, all device ids, changed device ids)."""
    rng = np.random.default_rng(seed)
    devices = [mac(0x20, i) for i in range(n_devices)]
    arrive = rng.uniform(8.0, 9.5, n_devices)
    stay = rng.integers(7, 9, n_devices)
    rssi0 = rng.uniform(-70, -50, n_devices)
    sensor = rng.integers(0, 3, n_devices)
    cols: dict[str, list[object]] = {name: [] for name in STORED_SCHEMA.names}
    for d in range(days):
        day = T0 + timedelta(days=d)
        for i, dev in enumerate(devices):
            late = i < changed and d >= days - change_days
            start_h = int(arrive[i] + rng.normal(0, 0.3)) if not late else 14
            folder, rssi_base = ("office", rssi0[i]) if not late else ("warehouse", rssi0[i] - 25)
            for h in range(start_h, min(start_h + int(stay[i]), 23)):
                minutes = rng.choice(60, size=per_hour, replace=False)
                for m in minutes:
                    cols["ts"].append(day + timedelta(hours=h, minutes=int(m), seconds=int(rng.integers(60))))
                    cols["device_id"].append(dev)
                    cols["sensor_id"].append(f"s{sensor[i]}" if not late else "w1")
                    cols["folder"].append(folder)
                    cols["network_type"].append("wifi" if i % 3 else "ble")
                    cols["rssi"].append(int(np.clip(rssi_base + rng.normal(0, 3), -119, -1)))
                    cols["lat"].append(LAT + rng.normal(0, 2e-5) + (0.01 if late else 0.0))
                    cols["lon"].append(LON + rng.normal(0, 2e-5))
                    cols["vendor"].append("Apple" if i % 2 else "Samsung")
                    cols["is_randomized"].append(0)
    return pa.table(cols, schema=STORED_SCHEMA), devices, devices[:changed]
