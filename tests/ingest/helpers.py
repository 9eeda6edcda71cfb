"""Small hand-made sighting files for the ingest tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

HEADER = "ts,device_id,sensor_id,folder,network_type,rssi,lat,lon,vendor\n"


def random_sightings(n: int, *, seed: int = 1, devices: int = 50, days: int = 2) -> pd.DataFrame:
    """Valid sightings across a few folders, some randomized MACs, spread over `days`."""
    rng = np.random.default_rng(seed)
    macs = [f"3C:22:FB:{i // 256:02X}:{i % 256:02X}:{rng.integers(0, 256):02X}" for i in range(devices)]
    macs[: devices // 5] = [f"DA:A1:19:00:{i // 256:02X}:{i % 256:02X}" for i in range(devices // 5)]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    offsets = rng.integers(0, days * 86_400_000, size=n)
    sensor = rng.integers(0, 6, size=n)
    return pd.DataFrame({
        "ts": [start + timedelta(milliseconds=int(o)) for o in offsets],
        "device_id": rng.choice(macs, size=n),
        "sensor_id": [f"s{s}" for s in sensor],
        "folder": [f"folder-{s // 2}" for s in sensor],
        "network_type": rng.choice(["wifi", "ble"], size=n),
        "rssi": rng.integers(-100, -30, size=n),
        "lat": 55.75 + rng.normal(0, 0.001, size=n),
        "lon": 37.61 + rng.normal(0, 0.001, size=n),
        "vendor": [""] * n,
    })
