"""Known-answer tests: tiny hand-made inputs whose features can be worked out on paper."""

from __future__ import annotations

import numpy as np
import pytest

from santiway_anomaly.features.catalog import FEATURE_NAMES
from santiway_anomaly.features.compute import HourlyInput, compute_features

H = 72  # three days; history 48 h -> profile over 2 previous days


def blank(devices: int = 1) -> dict[str, np.ndarray]:
    z = np.zeros((devices, H))
    fields = ["count", "minutes", "rssi_mean", "rssi_std", "rssi_min", "rssi_max", "lat", "lon", "lat_std",
              "lon_std", "lat_min", "lat_max", "lon_min", "lon_max", "sensors", "folders", "folder_hash",
              "sensor_hash", "is_wifi", "is_ble", "randomized", "folder_devices", "folder_sightings",
              "folder_randomized", "vendor_present_share", "vendor_mean_count", "vendor_mean_signal"]
    return {k: z.copy() for k in fields}


def run(arrays: dict[str, np.ndarray], devices: int = 1, **extra: object) -> dict[str, np.ndarray]:
    h = HourlyInput(**arrays, vendor_known=np.ones(devices), vendor_rarity=np.full(devices, 0.5),
                    local_hour=np.arange(H) % 24, history_hours=48, **extra)  # type: ignore[arg-type]
    out = compute_features(h)
    assert out.shape == (devices, H, 98) and out.dtype == np.float32
    return {name: out[:, :, i] for i, name in enumerate(FEATURE_NAMES)}


def seen(a: dict[str, np.ndarray], t: int, count: float, rssi: float = -60.0, lat: float = 55.0,
         lon: float = 37.0, minutes: float = 5, sensors: float = 1, folder_hash: float = 1.0) -> None:
    a["count"][0, t] = count
    a["minutes"][0, t] = minutes
    a["rssi_mean"][0, t] = rssi
    a["rssi_std"][0, t] = 2.0
    a["rssi_min"][0, t] = rssi - 5
    a["rssi_max"][0, t] = rssi + 5
    a["lat"][0, t] = a["lat_min"][0, t] = a["lat_max"][0, t] = lat
    a["lon"][0, t] = a["lon_min"][0, t] = a["lon_max"][0, t] = lon
    a["sensors"][0, t] = sensors
    a["folders"][0, t] = 1
    a["folder_hash"][0, t] = folder_hash
    a["sensor_hash"][0, t] = 7.0
    a["is_wifi"][0, t] = 1
    a["folder_devices"][0, t] = 3
    a["folder_sightings"][0, t] = 4 * count
    a["folder_randomized"][0, t] = 1
    a["vendor_present_share"][0, t] = 0.25
    a["vendor_mean_count"][0, t] = count / 2
    a["vendor_mean_signal"][0, t] = 50.0


def test_basic_group_known_answers() -> None:
    a = blank()
    seen(a, 2, 10, rssi=-60, lat=55.0, lon=37.0)   # 02:00 local: night
    seen(a, 5, 4, rssi=-80, lat=55.009, lon=37.0)  # ~1000.8 m north, 3 hours later
    f = run(a)
    assert f["event_count"][0, 2] == 10 and f["event_count"][0, 3] == 0  # silent hour = real zero
    assert f["log_event_count"][0, 2] == pytest.approx(np.log(11))
    assert f["present"][0].sum() == 2
    assert f["signal_mean"][0, 2] == 60 and f["signal_mean"][0, 5] == 40 and f["signal_mean"][0, 3] == 0
    assert f["signal_min"][0, 2] == 55 and f["signal_max"][0, 2] == 65
    assert f["displacement_m"][0, 5] == pytest.approx(1000.8, abs=1.0)
    assert f["velocity_kmh"][0, 5] == pytest.approx(1.0008 / 3, rel=1e-3)
    assert f["displacement_m"][0, 2] == 0  # nothing before
    assert f["night_presence"][0, 2] == 1 and f["night_presence"][0, 3] == 0
    assert f["hour_sin"][0, 6] == pytest.approx(1.0) and f["hour_cos"][0, 0] == pytest.approx(1.0)
    assert f["is_wifi"][0, 2] == 1 and f["is_ble"][0, 2] == 0


def test_extended_group_known_answers() -> None:
    a = blank()
    for day in range(3):
        seen(a, 24 * day + 10, 6)          # every day at 10:00
    seen(a, 48 + 11, 3)                    # and on the last day also at 11:00
    f = run(a)
    t = 48 + 11
    assert f["count_mean_3h"][0, t] == pytest.approx((6 + 3) / 3)
    assert f["count_mean_24h"][0, t] == pytest.approx((6 + 3) / 24)  # yesterday 10:00 is outside
    assert f["presence_frac_6h"][0, t] == pytest.approx(2 / 6)
    assert f["count_diff_1h"][0, t] == -3
    assert f["count_max_24h"][0, t] == 6
    assert f["presence_lag24"][0, 58] == 1 and f["count_lag24"][0, 58] == 6
    assert f["count_diff_24h"][0, 58] == 0
    assert f["profile_presence"][0, 58] == 1.0 and f["profile_count"][0, 58] == 6.0
    assert f["profile_presence"][0, t] == 0.0 and f["presence_vs_profile"][0, t] == 1.0
    assert f["count_vs_profile"][0, t] == 3.0
    assert f["session_hours"][0, t] == 2 and f["session_hours"][0, 58] == 1
    assert f["hours_since_seen"][0, 58] == 24 and f["hours_since_seen"][0, t] == 1
    # the 24 h before 10:00 on day 3 have the same shape as the 24 h before that
    assert f["count_autocorr_lag24"][0, 58] == pytest.approx(1.0)
    assert f["presence_frac_history"][0, 58] == pytest.approx(2 / 48)
    assert f["count_ewm_fast"][0, 58] == pytest.approx(3.0 + 0.5 ** 24 * 6 * 0.5, rel=1e-6)


def test_advanced_group_known_answers() -> None:
    a = blank()
    seen(a, 10, 8, rssi=-60, sensors=2, folder_hash=1.0)
    seen(a, 11, 4, rssi=-75, sensors=1, folder_hash=2.0)
    f = run(a)
    assert f["rssi_range"][0, 10] == 10
    assert f["signal_drop"][0, 11] == 1 and f["signal_drop"][0, 10] == 0  # 60 -> 45 dB
    assert f["folder_change"][0, 11] == 1 and f["sensor_change"][0, 11] == 0
    assert f["multi_sensor"][0, 10] == 1 and f["sensors_per_event"][0, 10] == pytest.approx(0.25)
    assert f["folder_devices_log"][0, 10] == pytest.approx(np.log(4))
    assert f["folder_event_share"][0, 10] == pytest.approx(0.25)
    assert f["folder_randomized_frac"][0, 10] == pytest.approx(1 / 3)
    assert f["vendor_presence_share"][0, 10] == 0.25 and f["vendor_count_ratio"][0, 10] == 2.0
    assert f["vendor_signal_diff"][0, 10] == 10.0 and f["vendor_signal_diff"][0, 12] == 0
    assert f["vendor_known"][0, 0] == 1 and f["vendor_rarity"][0, 0] == 0.5
    assert f["proximity_index"][0, 10] == pytest.approx(8 * 60 / 120)
    assert f["signal_accel"][0, 11] == pytest.approx(45 - 2 * 60)
    assert f["minutes_x_sensors"][0, 10] == 10
    assert f["count_x_signal"][0, 10] == pytest.approx(np.log(9) * 0.6, rel=1e-6)
    # slope of signal over hours 6..11 = least squares of (0,0,0,0,60,45)
    y = np.array([0, 0, 0, 0, 60, 45.0])
    assert f["signal_slope_6h"][0, 11] == pytest.approx(np.polyfit(np.arange(6), y, 1)[0], rel=1e-5)


def test_devices_are_independent() -> None:
    a = blank(2)
    a["count"][1, 30] = 5
    a["rssi_mean"][1, 30] = -50
    f = run(a, devices=2)
    assert f["event_count"][0].sum() == 0 and f["signal_mean"][0].sum() == 0
    assert f["signal_mean"][1, 30] == 70
