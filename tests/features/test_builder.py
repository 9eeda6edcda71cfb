"""The builder on the real embedded store: hourly views -> dense features."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from santiway_anomaly.config import Settings
from santiway_anomaly.features.builder import build_features
from santiway_anomaly.sightings import STORED_SCHEMA
from santiway_anomaly.storage import Store

T0 = datetime(2026, 2, 2, tzinfo=UTC)
A, B = "AA:00:00:00:00:01", "AA:00:00:00:00:02"


def table(rows: list[tuple[datetime, str, str, str, int, float]]) -> pa.Table:
    cols: dict[str, list[object]] = {n: [] for n in STORED_SCHEMA.names}
    for ts, dev, sensor, folder, rssi, lat in rows:
        for name, value in zip(STORED_SCHEMA.names,
                               [ts, dev, sensor, folder, "wifi", rssi, lat, 37.0, "Apple", 0], strict=True):
            cols[name].append(value)
    return pa.table(cols, schema=STORED_SCHEMA)


def test_features_from_the_store(empty_store: Store, settings: Settings) -> None:
    day1 = T0 + timedelta(days=1)
    empty_store.insert_arrow("santi.way_data", table([
        (T0 + timedelta(hours=9, minutes=1), A, "s1", "office", -60, 55.0),   # history day
        (day1 + timedelta(hours=9, minutes=1), A, "s1", "office", -60, 55.0),
        (day1 + timedelta(hours=9, minutes=1, seconds=30), A, "s2", "office", -70, 55.0),
        (day1 + timedelta(hours=9, minutes=7), A, "s1", "office", -80, 55.0),
        (day1 + timedelta(hours=9, minutes=30), B, "s1", "office", -50, 55.0),
        (day1 + timedelta(hours=12, minutes=0), A, "s3", "lab", -65, 55.009),
    ]))
    frame = build_features(empty_store, settings, day1, day1 + timedelta(days=1))
    assert list(frame.device_ids) == [A, B]
    assert frame.values.shape == (2, 24, 98)
    assert frame.hours[0] == day1
    f = {n: frame.values[0, :, i] for i, n in enumerate(frame.names)}
    assert f["event_count"][9] == 3 and f["event_count"][10] == 0 and f["event_count"][12] == 1
    assert f["active_minutes"][9] == 2
    assert f["signal_mean"][9] == pytest.approx(50.0)  # mean of -60, -70, -80 + 120
    assert f["signal_min"][9] == 40 and f["signal_max"][9] == 60
    assert f["sensor_count"][9] == 2
    assert f["folder_devices_log"][9] == pytest.approx(np.log(3))  # A and B in the office at 09
    assert f["folder_event_share"][9] == pytest.approx(3 / 4)
    assert f["vendor_presence_share"][9] == pytest.approx(1.0)  # both Apple devices present
    assert f["vendor_count_ratio"][9] == pytest.approx(3 / 2)
    assert f["folder_change"][12] == 1 and f["sensor_change"][12] == 1
    assert f["displacement_m"][12] == pytest.approx(1000.8, abs=1.0)
    assert f["presence_lag24"][9] == 1  # history before the range is read
    assert f["profile_presence"][9] == pytest.approx(1 / 7)
    assert np.count_nonzero(frame.values[1, :, frame.names.index("present")]) == 1
    assert frame.info.loc[A, "folder"] == "lab"


def test_explicit_devices_and_empty_ranges(empty_store: Store, settings: Settings) -> None:
    frame = build_features(empty_store, settings, T0, T0 + timedelta(hours=24))
    assert frame.values.shape == (0, 24, 98)
    frame = build_features(empty_store, settings, T0, T0 + timedelta(hours=24), device_ids=[A])
    assert frame.values.shape == (1, 24, 98) and not frame.values[:, :, 0].any()
    with pytest.raises(ValueError):
        build_features(empty_store, settings, T0, T0)
