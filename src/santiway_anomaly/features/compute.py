"""Compute the 98 catalog features from dense per-device-hour arrays.

Input arrays have shape (devices, hours): hour t of every device in one column, so every step is
a whole-array operation over all devices at once. The few recurrences (moving averages, hours
since last seen) loop over the hours axis only, never over devices or sightings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from santiway_anomaly.features.catalog import FEATURE_NAMES

Array = np.ndarray

# Degrees to metres (WGS84 mean radius); spreads are small, so a flat-earth factor is enough.
_M_PER_DEG = 111_320.0
_EARTH_R_M = 6_371_000.0
SIGNAL_FLOOR_DBM = 120.0  # signal = RSSI + 120: RSSI is validated to -120..0 dBm (DESIGN.md)
NIGHT_END_HOUR = 6  # local night is 00:00-06:00 (SEED.md "Time Anomalies")


@dataclass
class HourlyInput:
    """Dense (devices, hours) arrays; absent hours hold zeros. `local_hour` is (hours,)."""

    count: Array
    minutes: Array
    rssi_mean: Array
    rssi_std: Array
    rssi_min: Array
    rssi_max: Array
    lat: Array
    lon: Array
    lat_std: Array
    lon_std: Array
    lat_min: Array
    lat_max: Array
    lon_min: Array
    lon_max: Array
    sensors: Array
    folders: Array
    folder_hash: Array
    sensor_hash: Array
    is_wifi: Array
    is_ble: Array
    randomized: Array
    folder_devices: Array
    folder_sightings: Array
    folder_randomized: Array
    vendor_present_share: Array
    vendor_mean_count: Array
    vendor_mean_signal: Array
    vendor_known: Array  # (devices,)
    vendor_rarity: Array  # (devices,)
    local_hour: Array  # (hours,)
    history_hours: int = 168


def shift(a: Array, k: int, fill: float = 0.0) -> Array:
    """Value k hours earlier (k > 0), `fill` before the start."""
    out = np.full_like(a, fill)
    if k < a.shape[1]:
        out[:, k:] = a[:, : a.shape[1] - k]
    return out


def rsum(a: Array, w: int) -> Array:
    """Trailing sum over the last `w` hours, current hour included."""
    c = np.zeros((a.shape[0], a.shape[1] + 1), dtype=np.float64)
    np.cumsum(a, axis=1, out=c[:, 1:])
    lo = np.maximum(np.arange(1, a.shape[1] + 1) - w, 0)
    return np.asarray(c[:, 1:] - c[:, lo])


def rcount(n_hours: int, w: int) -> Array:
    """How many hours a trailing window of `w` covers at each position (shorter at the start)."""
    return np.minimum(np.arange(1, n_hours + 1), w).astype(np.float64)


def rmean(a: Array, w: int) -> Array:
    return np.asarray(rsum(a, w) / rcount(a.shape[1], w))


def rstd(a: Array, w: int) -> Array:
    n = rcount(a.shape[1], w)
    m = rsum(a, w) / n
    return np.asarray(np.sqrt(np.maximum(rsum(a * a, w) / n - m * m, 0.0)))


def rmean_where(a: Array, mask: Array, w: int) -> Array:
    """Trailing mean of `a` over the hours where `mask` is 1 (0 when there are none)."""
    return np.asarray(rsum(a * mask, w) / np.maximum(rsum(mask, w), 1.0))


def rmax(a: Array, w: int, pad: float) -> Array:
    padded = np.concatenate([np.full((a.shape[0], w - 1), pad), a], axis=1)
    return np.asarray(sliding_window_view(padded, w, axis=1).max(axis=-1))


def rmin(a: Array, w: int, pad: float) -> Array:
    padded = np.concatenate([np.full((a.shape[0], w - 1), pad), a], axis=1)
    return np.asarray(sliding_window_view(padded, w, axis=1).min(axis=-1))


def rcorr(x: Array, y: Array, w: int) -> Array:
    """Trailing Pearson correlation of x and y over `w` hours (0 where either is constant)."""
    n = rcount(x.shape[1], w)
    sx, sy = rsum(x, w), rsum(y, w)
    cov = rsum(x * y, w) / n - sx * sy / (n * n)
    vx = rsum(x * x, w) / n - (sx / n) ** 2
    vy = rsum(y * y, w) / n - (sy / n) ** 2
    den = np.sqrt(np.maximum(vx, 0) * np.maximum(vy, 0))
    ok = den > 1e-9
    return np.where(ok, cov / np.where(ok, den, 1.0), 0.0)


def ewm(a: Array, alpha: float) -> Array:
    out = np.empty_like(a, dtype=np.float64)
    acc = a[:, 0].astype(np.float64)
    out[:, 0] = acc
    for t in range(1, a.shape[1]):
        acc = alpha * a[:, t] + (1 - alpha) * acc
        out[:, t] = acc
    return out


def haversine_m(lat1: Array, lon1: Array, lat2: Array, lon2: Array) -> Array:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi, dlmb = p2 - p1, np.radians(lon2 - lon1)
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return np.asarray(2 * _EARTH_R_M * np.arcsin(np.sqrt(np.clip(h, 0, 1))))


def previous_seen_index(present: Array) -> Array:
    """Index of the last present hour strictly before t, or -1."""
    idx = np.where(present > 0, np.arange(present.shape[1])[None, :], -1)
    last = np.maximum.accumulate(idx, axis=1)
    return shift(last.astype(np.float64), 1, fill=-1.0).astype(np.int64)


def profile(x: Array, days: int) -> tuple[Array, Array]:
    """Mean of x at the same hour on up to `days` previous days, and how many days were available."""
    total = np.zeros_like(x, dtype=np.float64)
    n = np.zeros(x.shape[1])
    t = np.arange(x.shape[1])
    for d in range(1, days + 1):
        total += shift(x, 24 * d)
        n += t >= 24 * d
    return total / np.maximum(n, 1), n


def _div(a: Array, b: Array) -> Array:
    return np.where(b > 0, a / np.where(b > 0, b, 1.0), 0.0)


def compute_features(h: HourlyInput) -> Array:
    """All 98 features, shape (devices, hours, 98) float32, in catalog order."""
    f: dict[str, Array] = {}
    count = h.count.astype(np.float64)
    p = (count > 0).astype(np.float64)
    n_hours = count.shape[1]
    t_idx = np.arange(n_hours)
    night = (h.local_hour < NIGHT_END_HOUR).astype(np.float64)[None, :]
    signal = (h.rssi_mean + SIGNAL_FLOOR_DBM) * p
    sig_min = (h.rssi_min + SIGNAL_FLOOR_DBM) * p
    sig_max = (h.rssi_max + SIGNAL_FLOOR_DBM) * p
    hist = int(h.history_hours)
    hist_days = max(hist // 24, 1)

    # ---- basic
    f["event_count"] = count
    f["log_event_count"] = np.log1p(count)
    f["active_minutes"] = h.minutes * p
    f["present"] = p
    f["signal_mean"] = signal
    f["rssi_std"] = h.rssi_std * p
    f["signal_min"] = sig_min
    f["signal_max"] = sig_max
    coslat = np.cos(np.radians(h.lat))
    f["lat_spread_m"] = h.lat_std * _M_PER_DEG * p
    f["lon_spread_m"] = h.lon_std * _M_PER_DEG * coslat * p
    f["bbox_diag_m"] = haversine_m(h.lat_min, h.lon_min, h.lat_max, h.lon_max) * p
    f["sensor_count"] = h.sensors * p
    f["folder_count"] = h.folders * p
    prev = previous_seen_index(p)
    has_prev = (prev >= 0) & (p > 0)
    safe_prev = np.maximum(prev, 0)
    prev_lat = np.take_along_axis(h.lat, safe_prev, axis=1)
    prev_lon = np.take_along_axis(h.lon, safe_prev, axis=1)
    disp = np.where(has_prev, haversine_m(prev_lat, prev_lon, h.lat, h.lon), 0.0)
    gap = np.where(has_prev, t_idx[None, :] - prev, 1)
    f["displacement_m"] = disp
    f["velocity_kmh"] = disp / 1000.0 / gap
    angle = 2 * np.pi * h.local_hour / 24.0
    ones = np.ones_like(count)
    f["hour_sin"] = ones * np.sin(angle)[None, :]
    f["hour_cos"] = ones * np.cos(angle)[None, :]
    f["night_presence"] = p * night
    f["is_wifi"] = h.is_wifi * p
    f["is_ble"] = h.is_ble * p

    # ---- extended: rolling windows
    minutes = f["active_minutes"]
    for w in (3, 6, 12, 24):
        f[f"count_mean_{w}h"] = rmean(count, w)
    f["count_std_6h"] = rstd(count, 6)
    f["count_std_24h"] = rstd(count, 24)
    f["presence_frac_6h"] = rmean(p, 6)
    f["presence_frac_24h"] = rmean(p, 24)
    f["minutes_mean_6h"] = rmean(minutes, 6)
    f["minutes_mean_24h"] = rmean(minutes, 24)
    f["signal_mean_6h"] = rmean_where(signal, p, 6)
    f["signal_mean_24h"] = rmean_where(signal, p, 24)
    m24 = f["signal_mean_24h"]
    f["signal_std_24h"] = np.sqrt(np.maximum(rmean_where(signal * signal, p, 24) - m24 * m24, 0.0))
    f["sensors_mean_24h"] = rmean(f["sensor_count"], 24)
    f["folders_mean_24h"] = rmean(f["folder_count"], 24)
    f["displacement_sum_6h"] = rsum(disp, 6)
    f["displacement_sum_24h"] = rsum(disp, 24)
    f["count_ewm_fast"] = ewm(count, 0.5)
    f["count_ewm_slow"] = ewm(count, 0.1)
    f["night_hours_24h"] = rsum(f["night_presence"], 24)

    # ---- extended: statistics
    f["count_zscore_24h"] = (count - f["count_mean_24h"]) / (f["count_std_24h"] + 1.0)
    f["count_diff_1h"] = count - shift(count, 1)
    f["count_diff_24h"] = count - shift(count, 24)
    f["signal_diff_1h"] = signal - shift(signal, 1)
    f["signal_zscore_24h"] = (signal - m24) / (f["signal_std_24h"] + 1.0) * p
    f["minutes_diff_24h"] = minutes - shift(minutes, 24)
    f["count_max_24h"] = rmax(count, 24, 0.0)
    f["signal_max_24h"] = rmax(sig_max, 24, 0.0)
    low = rmin(np.where(p > 0, sig_min, np.inf), 24, np.inf)
    f["signal_min_24h"] = np.where(np.isfinite(low), low, 0.0)
    f["rssi_std_mean_24h"] = rmean_where(f["rssi_std"], p, 24)

    # ---- extended: autocorrelation
    p24 = shift(p, 24)
    f["presence_lag24"] = p24
    f["count_lag24"] = shift(count, 24)
    f["presence_agree_lag1"] = (p == shift(p, 1)).astype(np.float64)
    f["count_autocorr_lag1"] = rcorr(count, shift(count, 1), 24)
    f["count_autocorr_lag24"] = rcorr(count, shift(count, 24), 24)
    f["presence_autocorr_lag1"] = rcorr(p, shift(p, 1), 24)
    f["signal_autocorr_lag1"] = rcorr(signal, shift(signal, 1), 24)
    both = p * p24
    f["location_shift_lag24_m"] = np.where(
        both > 0, haversine_m(shift(h.lat, 24), shift(h.lon, 24), h.lat, h.lon), 0.0)

    # ---- extended: behavioural patterns (own history)
    prof_p, n_days = profile(p, hist_days)
    prof_c, _ = profile(count, hist_days)
    prof_s_sum, _ = profile(signal, hist_days)
    prof_s = _div(prof_s_sum, prof_p)  # mean signal over the previous days the device was present
    prof_m, _ = profile(minutes, hist_days)
    f["profile_presence"] = prof_p
    f["profile_count"] = prof_c
    f["count_vs_profile"] = count - prof_c
    f["presence_vs_profile"] = np.where(n_days[None, :] > 0, p - prof_p, 0.0)
    f["profile_signal"] = prof_s
    f["signal_vs_profile"] = np.where((prof_p > 0) & (p > 0), signal - prof_s, 0.0)
    f["minutes_vs_profile"] = minutes - prof_m
    p_before = shift(p, 1)
    seen_hist = rsum(p_before, hist)
    home_lat = _div(rsum(shift(h.lat * p, 1), hist), seen_hist)
    home_lon = _div(rsum(shift(h.lon * p, 1), hist), seen_hist)
    f["home_distance_m"] = np.where((seen_hist > 0) & (p > 0), haversine_m(home_lat, home_lon, h.lat, h.lon), 0.0)
    f["presence_frac_history"] = seen_hist / np.maximum(np.minimum(t_idx, hist), 1)[None, :]
    f["hours_since_seen"] = np.where(prev >= 0, np.minimum(t_idx[None, :] - prev, hist), hist).astype(np.float64)
    run = np.zeros_like(count)
    acc = np.zeros(count.shape[0])
    for t in range(n_hours):
        acc = (acc + 1) * p[:, t]
        run[:, t] = acc
    f["session_hours"] = run
    f["night_share_history"] = _div(rsum(shift(p * night, 1), hist), seen_hist)

    # ---- advanced: signal dynamics
    f["rssi_range"] = sig_max - sig_min
    f["rssi_cv"] = _div(f["rssi_std"], signal)
    n6 = rcount(n_hours, 6)
    tt = np.broadcast_to(t_idx.astype(np.float64), count.shape)
    st, ss = rsum(tt, 6), rsum(signal, 6)
    den = n6 * rsum(tt * tt, 6) - st * st
    f["signal_slope_6h"] = _div(n6 * rsum(tt * signal, 6) - st * ss, den)
    f["signal_accel"] = signal - 2 * shift(signal, 1) + shift(signal, 2)
    f["signal_volatility_6h"] = rmean(np.abs(signal - shift(signal, 1)), 6)
    f["rssi_spread_ratio"] = f["rssi_std"] / (f["rssi_range"] + 1.0)
    f["signal_drop"] = ((shift(signal, 1) - signal > 10) & (p > 0) & (p_before > 0)).astype(np.float64)
    f["proximity_index"] = count * signal / SIGNAL_FLOOR_DBM

    # ---- advanced: network patterns
    f["folder_devices_log"] = np.log1p(h.folder_devices) * p
    f["folder_event_share"] = _div(count, h.folder_sightings)
    f["folder_randomized_frac"] = _div(h.folder_randomized, h.folder_devices) * p
    f["sensors_per_event"] = _div(f["sensor_count"], count)
    f["multi_sensor"] = (f["sensor_count"] > 1).astype(np.float64)
    prev_fh = np.take_along_axis(h.folder_hash, safe_prev, axis=1)
    prev_sh = np.take_along_axis(h.sensor_hash, safe_prev, axis=1)
    f["folder_change"] = (has_prev & (prev_fh != h.folder_hash)).astype(np.float64)
    f["sensor_change"] = (has_prev & (prev_sh != h.sensor_hash)).astype(np.float64)

    # ---- advanced: vendor behaviour
    f["is_randomized"] = np.maximum(h.randomized * p, 0)
    f["vendor_known"] = ones * h.vendor_known[:, None]
    f["vendor_rarity"] = ones * h.vendor_rarity[:, None]
    f["vendor_presence_share"] = h.vendor_present_share
    f["vendor_count_ratio"] = _div(count, h.vendor_mean_count)
    f["vendor_signal_diff"] = np.where((p > 0) & (h.vendor_mean_signal > 0), signal - h.vendor_mean_signal, 0.0)

    # ---- advanced: cross-interactions
    f["count_x_signal"] = f["log_event_count"] * signal / 100.0
    f["night_x_count"] = f["night_presence"] * f["log_event_count"]
    f["velocity_x_sensors"] = f["velocity_kmh"] * f["sensor_count"]
    f["presence_x_crowd"] = p * f["folder_devices_log"]
    f["night_x_profile_surprise"] = f["night_presence"] * f["presence_vs_profile"]
    f["signal_x_displacement"] = signal * disp / 1000.0
    f["minutes_x_sensors"] = minutes * f["sensor_count"]

    missing = [n for n in FEATURE_NAMES if n not in f]
    extra = [n for n in f if n not in FEATURE_NAMES]
    if missing or extra:
        raise RuntimeError(f"feature computation out of step with the catalog: missing {missing}, extra {extra}")
    out = np.empty((count.shape[0], n_hours, len(FEATURE_NAMES)), dtype=np.float32)
    for i, name in enumerate(FEATURE_NAMES):
        out[:, :, i] = f[name]
    return out
