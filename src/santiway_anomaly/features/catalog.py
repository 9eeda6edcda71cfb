"""The 98 features per device per hour: the single source of names, groups, definitions and units.

The specification (SEED.md, "ML Model") splits them into 20 basic, 50 extended and 28 advanced
features; `docs/features.md` is generated from this table (`python -m santiway_anomaly.features.docs`)
and `compute.py` must produce exactly these names in this order (a test checks it).

Conventions: an hour without sightings is a real zero for every per-hour measurement (no missing
rows); "signal" is RSSI + 120 dB, so 0 means "not heard" and a stronger signal is a larger number;
trailing windows include the current hour; the "profile" is the device's own behaviour at the
same local hour on the previous days of history (up to `FEATURE_HISTORY_HOURS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Group = Literal["basic", "extended", "advanced"]


@dataclass(frozen=True)
class Feature:
    name: str
    group: Group
    family: str
    unit: str
    definition: str


_B: list[tuple[str, str, str, str]] = [
    # (name, family, unit, definition)
    ("event_count", "event count", "sightings", "sightings of the device in the hour"),
    ("log_event_count", "event count", "log(1+sightings)", "natural log of 1 + event_count"),
    ("active_minutes", "event count", "minutes", "distinct minutes with at least one sighting"),
    ("present", "event count", "0/1", "1 if the device was seen in the hour"),
    ("signal_mean", "signal strength", "dB above -120 dBm", "mean RSSI + 120 (0 when not seen)"),
    ("rssi_std", "signal strength", "dB", "standard deviation of RSSI within the hour"),
    ("signal_min", "signal strength", "dB above -120 dBm", "weakest RSSI + 120"),
    ("signal_max", "signal strength", "dB above -120 dBm", "strongest RSSI + 120"),
    ("lat_spread_m", "spatial", "m", "standard deviation of sighting latitude, in metres"),
    ("lon_spread_m", "spatial", "m", "standard deviation of sighting longitude, in metres"),
    ("bbox_diag_m", "spatial", "m", "diagonal of the box around all sightings of the hour"),
    ("sensor_count", "spatial", "sensors", "distinct sensors that saw the device"),
    ("folder_count", "spatial", "folders", "distinct folders the device was seen in"),
    ("displacement_m", "velocity", "m", "distance from the previous seen hour's centroid to this hour's"),
    ("velocity_kmh", "velocity", "km/h", "displacement_m / hours since the previous seen hour"),
    ("hour_sin", "temporal", "-1..1", "sine of the local hour of day (2π·hour/24)"),
    ("hour_cos", "temporal", "-1..1", "cosine of the local hour of day"),
    ("night_presence", "temporal", "0/1", "present during local 00:00-06:00"),
    ("is_wifi", "network type", "0/1", "seen as a WiFi device in the hour"),
    ("is_ble", "network type", "0/1", "seen as a Bluetooth (BLE) device in the hour"),
]

_E: list[tuple[str, str, str, str]] = [
    # rolling windows (trailing, current hour included; all hours count, absent hours as zeros)
    ("count_mean_3h", "rolling windows", "sightings", "mean event_count over the last 3 hours"),
    ("count_mean_6h", "rolling windows", "sightings", "mean event_count over the last 6 hours"),
    ("count_mean_12h", "rolling windows", "sightings", "mean event_count over the last 12 hours"),
    ("count_mean_24h", "rolling windows", "sightings", "mean event_count over the last 24 hours"),
    ("count_std_6h", "rolling windows", "sightings", "standard deviation of event_count, last 6 hours"),
    ("count_std_24h", "rolling windows", "sightings", "standard deviation of event_count, last 24 hours"),
    ("presence_frac_6h", "rolling windows", "fraction", "share of the last 6 hours with the device present"),
    ("presence_frac_24h", "rolling windows", "fraction", "share of the last 24 hours with the device present"),
    ("minutes_mean_6h", "rolling windows", "minutes", "mean active_minutes over the last 6 hours"),
    ("minutes_mean_24h", "rolling windows", "minutes", "mean active_minutes over the last 24 hours"),
    ("signal_mean_6h", "rolling windows", "dB", "mean signal_mean over the present hours of the last 6"),
    ("signal_mean_24h", "rolling windows", "dB", "mean signal_mean over the present hours of the last 24"),
    ("signal_std_24h", "rolling windows", "dB", "standard deviation of signal_mean, present hours, last 24"),
    ("sensors_mean_24h", "rolling windows", "sensors", "mean sensor_count over the last 24 hours"),
    ("folders_mean_24h", "rolling windows", "folders", "mean folder_count over the last 24 hours"),
    ("displacement_sum_6h", "rolling windows", "m", "total displacement_m over the last 6 hours"),
    ("displacement_sum_24h", "rolling windows", "m", "total displacement_m over the last 24 hours"),
    ("count_ewm_fast", "rolling windows", "sightings", "exponential moving mean of event_count, α = 0.5"),
    ("count_ewm_slow", "rolling windows", "sightings", "exponential moving mean of event_count, α = 0.1"),
    ("night_hours_24h", "rolling windows", "hours", "night hours with the device present, last 24 hours"),
    # statistics
    ("count_zscore_24h", "statistics", "σ", "(event_count - count_mean_24h) / (count_std_24h + 1)"),
    ("count_diff_1h", "statistics", "sightings", "event_count minus the previous hour's"),
    ("count_diff_24h", "statistics", "sightings", "event_count minus the same hour the day before"),
    ("signal_diff_1h", "statistics", "dB", "signal_mean minus the previous hour's"),
    ("signal_zscore_24h", "statistics", "σ",
     "(signal_mean - signal_mean_24h) / (signal_std_24h + 1), 0 when not seen"),
    ("minutes_diff_24h", "statistics", "minutes", "active_minutes minus the same hour the day before"),
    ("count_max_24h", "statistics", "sightings", "largest event_count of the last 24 hours"),
    ("signal_max_24h", "statistics", "dB", "largest signal_max of the last 24 hours"),
    ("signal_min_24h", "statistics", "dB", "smallest signal_min over the present hours of the last 24"),
    ("rssi_std_mean_24h", "statistics", "dB", "mean rssi_std over the present hours of the last 24"),
    # autocorrelation
    ("presence_lag24", "autocorrelation", "0/1", "present at the same hour the day before"),
    ("count_lag24", "autocorrelation", "sightings", "event_count at the same hour the day before"),
    ("presence_agree_lag1", "autocorrelation", "0/1", "1 if presence equals the previous hour's"),
    ("count_autocorr_lag1", "autocorrelation", "-1..1",
     "correlation of event_count with itself one hour earlier, over the last 24 hours"),
    ("count_autocorr_lag24", "autocorrelation", "-1..1",
     "correlation of the last 24 hours of event_count with the 24 hours before"),
    ("presence_autocorr_lag1", "autocorrelation", "-1..1",
     "correlation of presence with itself one hour earlier, over the last 24 hours"),
    ("signal_autocorr_lag1", "autocorrelation", "-1..1",
     "correlation of signal_mean with itself one hour earlier, over the last 24 hours"),
    ("location_shift_lag24_m", "autocorrelation", "m",
     "distance between this hour's centroid and the same hour's the day before (both seen, else 0)"),
    # behavioural patterns (the device's own history)
    ("profile_presence", "behavioural patterns", "fraction",
     "share of previous days (history) with the device present at this local hour"),
    ("profile_count", "behavioural patterns", "sightings", "mean event_count at this hour on previous days"),
    ("count_vs_profile", "behavioural patterns", "sightings", "event_count - profile_count"),
    ("presence_vs_profile", "behavioural patterns", "-1..1", "present - profile_presence"),
    ("profile_signal", "behavioural patterns", "dB", "mean signal_mean at this hour on previous days"),
    ("signal_vs_profile", "behavioural patterns", "dB", "signal_mean - profile_signal, 0 when not seen"),
    ("minutes_vs_profile", "behavioural patterns", "minutes",
     "active_minutes - mean active_minutes at this hour on previous days"),
    ("home_distance_m", "behavioural patterns", "m",
     "distance from this hour's centroid to the device's mean centroid over the history (0 when not seen)"),
    ("presence_frac_history", "behavioural patterns", "fraction", "share of history hours with the device present"),
    ("hours_since_seen", "behavioural patterns", "hours", "hours since the previous seen hour (capped at history)"),
    ("session_hours", "behavioural patterns", "hours", "consecutive present hours ending at this hour"),
    ("night_share_history", "behavioural patterns", "fraction",
     "share of the device's present history hours that fell at local night"),
]

_A: list[tuple[str, str, str, str]] = [
    # signal dynamics
    ("rssi_range", "signal dynamics", "dB", "signal_max - signal_min"),
    ("rssi_cv", "signal dynamics", "ratio", "rssi_std / signal_mean (0 when not seen)"),
    ("signal_slope_6h", "signal dynamics", "dB/hour", "least-squares slope of signal_mean over the last 6 hours"),
    ("signal_accel", "signal dynamics", "dB/hour²", "second difference of signal_mean"),
    ("signal_volatility_6h", "signal dynamics", "dB", "mean absolute hour-to-hour change of signal_mean, last 6 h"),
    ("rssi_spread_ratio", "signal dynamics", "ratio", "rssi_std / (rssi_range + 1)"),
    ("signal_drop", "signal dynamics", "0/1", "signal_mean fell by more than 10 dB since the previous hour"),
    ("proximity_index", "signal dynamics", "sightings", "event_count × signal_mean / 120"),
    # network patterns
    ("folder_devices_log", "network patterns", "log(1+devices)",
     "log of 1 + distinct devices in the device's folder that hour"),
    ("folder_event_share", "network patterns", "fraction", "event_count / all sightings in the device's folder"),
    ("folder_randomized_frac", "network patterns", "fraction",
     "share of randomized MACs among the folder's devices that hour"),
    ("sensors_per_event", "network patterns", "ratio", "sensor_count / event_count"),
    ("multi_sensor", "network patterns", "0/1", "seen by more than one sensor"),
    ("folder_change", "network patterns", "0/1", "folder set differs from the previous seen hour's"),
    ("sensor_change", "network patterns", "0/1", "sensor set differs from the previous seen hour's"),
    # vendor behaviour
    ("is_randomized", "vendor behaviour", "0/1", "the MAC is locally administered (randomized)"),
    ("vendor_known", "vendor behaviour", "0/1", "the vendor is known (not empty or unknown)"),
    ("vendor_rarity", "vendor behaviour", "nats", "-log of the vendor's share of all devices in the data"),
    ("vendor_presence_share", "vendor behaviour", "fraction",
     "share of the vendor's devices present in this hour"),
    ("vendor_count_ratio", "vendor behaviour", "ratio",
     "event_count / mean event_count of the vendor's present devices that hour"),
    ("vendor_signal_diff", "vendor behaviour", "dB",
     "signal_mean - mean signal of the vendor's present devices that hour (0 when not seen)"),
    # cross-interactions
    ("count_x_signal", "cross-interactions", "sightings·dB/100", "log_event_count × signal_mean / 100"),
    ("night_x_count", "cross-interactions", "log(1+sightings)", "night_presence × log_event_count"),
    ("velocity_x_sensors", "cross-interactions", "km/h·sensors", "velocity_kmh × sensor_count"),
    ("presence_x_crowd", "cross-interactions", "log(1+devices)", "present × folder_devices_log"),
    ("night_x_profile_surprise", "cross-interactions", "-1..1", "night_presence × presence_vs_profile"),
    ("signal_x_displacement", "cross-interactions", "dB·km", "signal_mean × displacement_m / 1000"),
    ("minutes_x_sensors", "cross-interactions", "minutes·sensors", "active_minutes × sensor_count"),
]


def _build() -> tuple[Feature, ...]:
    out: list[Feature] = []
    for group, rows in (("basic", _B), ("extended", _E), ("advanced", _A)):
        out.extend(Feature(name, group, family, unit, definition)  # type: ignore[arg-type]
                   for name, family, unit, definition in rows)
    return tuple(out)


FEATURES: tuple[Feature, ...] = _build()
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
BASIC_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.group == "basic")
GROUP_SIZES: dict[str, int] = {"basic": 20, "extended": 50, "advanced": 28}
BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}

if len(FEATURES) != 98 or len(BY_NAME) != 98 or any(
    sum(f.group == g for f in FEATURES) != n for g, n in GROUP_SIZES.items()
):
    raise RuntimeError("the feature catalog must hold 20 basic + 50 extended + 28 advanced unique features")


def feature_set(extended: bool) -> tuple[str, ...]:
    """The 98 names with `extended`, else the 20 basic ones (the spec's two model sizes)."""
    return FEATURE_NAMES if extended else BASIC_NAMES
