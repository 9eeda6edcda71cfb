"""Following: a device seen with a moving sensor at several of its stops, places far enough apart.

Judged along the sensor's round, not by the clock: the sensor's stops (places where it stayed at least
FOLLOW_STOP_MIN_SLOTS slots) are put in order, and a device's episode with the sensor goes on across
long gaps (a patrol's stops 48-84 min apart) while the device is at consecutive stops; it ends when the
sensor made more than FOLLOW_MAX_MISSED_STOPS stops without it or after FOLLOW_MAX_GAP_MINUTES without
it. Raw value: the episode's minutes with the sensor. Level: the lower of the time level
(FOLLOW_MINUTES_*, AirGuard 30/60/120 min) and the places level (FOLLOW_LOCATIONS_*, AirGuard 2/3/4
places >= FOLLOW_DISTANCE_M apart). Evidence against: a crowd moving with the sensor, the sensor
carrier's companion (veto), the operators' list (veto).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from santiway_anomaly.detectors.findings import Against, Finding
from santiway_anomaly.detectors.stationary_common import Context, common_against, day_bounds
from santiway_anomaly.detectors.util import M_PER_DEG_LAT, floor_hour, haversine_m, piecewise_level, records
from santiway_anomaly.storage.queries import stationary as sql


def following_findings(ctx: Context) -> list[Finding]:
    s = ctx.settings
    w = ctx.window
    moving = ctx.store.query_df(sql.MOVING_SENSORS, {"start": w.start, "end": w.end, "distance": s.follow_distance_m})
    if moving.empty:
        return []
    sensors = moving["sensor_id"].astype(str).tolist()
    slot = s.slot_minutes * 60
    slots = ctx.store.query_df(sql.CO_SLOTS, {"start": w.start, "end": w.end, "slot": slot, "sensors": sensors,
                                              "min_slots": s.follow_min_slots, "distance": s.follow_distance_m})
    if slots.empty:
        return []
    track = ctx.store.query_df(sql.SENSOR_TRACK, {"start": w.start, "end": w.end, "slot": slot, "sensors": sensors})
    stops = {str(k): _stops(g, s.follow_distance_m, s.follow_stop_min_slots, slot)
             for k, g in track.groupby("sensor_id")}
    episodes = _episodes(ctx, slots, stops)
    if episodes.empty:
        return []
    hist_end = floor_hour(w.start)
    companions = ctx.store.query_df(sql.SENSOR_DAYS, {
        "ids": sorted(episodes["device_id"].unique().tolist()), "sensors": sensors,
        "start": hist_end - timedelta(days=s.detect_history_days), "end": hist_end})
    companion_days = {(str(r.device_id), str(r.sensor)): int(r.days) for r in records(companions)}
    cdays_of = np.array([companion_days.get((str(d), str(x)), 0)
                         for d, x in zip(episodes["device_id"], episodes["sensor_id"], strict=True)], dtype=np.int64)
    # The carrier's companions are not a crowd moving with the sensor: they are left out of the count.
    cot = _cotravellers(episodes, cdays_of < s.companion_min_days)
    found: list[Finding] = []
    for row, n_cot, cdays in zip(records(episodes), cot, cdays_of, strict=True):
        start = datetime.fromtimestamp(int(row.first), UTC)
        end = datetime.fromtimestamp(int(row.last) + slot, UTC)
        day_start, day_end = day_bounds(start.date())
        against: list[Against] = []
        if cdays >= s.companion_min_days:
            against.append(Against(f"companion of the sensor: with it on {cdays} earlier days", 0.0))
        if n_cot > s.follow_crowd_max:
            against.append(Against(f"crowd: {n_cot} other devices moved with the sensor (> {s.follow_crowd_max})",
                                   s.follow_crowd_factor))
        stop_share = int(row.stops_with) / max(1, int(row.stops_in_span))
        if int(row.stops_in_span) and stop_share < s.follow_min_stop_share:
            against.append(Against(f"at only {int(row.stops_with)} of the sensor's {int(row.stops_in_span)} stops "
                                   f"meanwhile (< {s.follow_min_stop_share:.0%})", s.follow_partial_factor))
        share = f"{int(row.stops_with)} of the sensor's {int(row.stops_in_span)} stops meanwhile"
        found.append(Finding(
            subject=str(row.device_id), window_start=day_start, window_end=day_end, level=float(row.level),
            raw=float(row.minutes), pattern="following",
            reasons=[f"with moving sensor {row.sensor_id} for {row.minutes:.0f} min across {int(row.locations)} "
                     f"places >= {s.follow_distance_m:.0f} m apart ({share})"],
            against=against,
            evidence={"sensor_id": str(row.sensor_id), "minutes": round(float(row.minutes), 1),
                      "locations": int(row.locations), "slots": int(row.slots), "start": start.isoformat(),
                      "end": end.isoformat(), "stops_with_device": int(row.stops_with),
                      "sensor_stops_in_span": int(row.stops_in_span), "cotravellers": int(n_cot),
                      "companion_days": int(cdays), "rssi_mean": round(float(row.rssi), 1),
                      "randomized": bool(row.is_randomized)},
            device_id=str(row.device_id), folder=str(row.folder), vendor=str(row.vendor),
            network_type=str(row.network_type), lat=float(row.lat), lon=float(row.lon)))
    # One finding per device: its strongest episode.
    best: dict[str, Finding] = {}
    for f in found:
        if f.device_id not in best or f.adjusted_level > best[f.device_id].adjusted_level:
            best[f.device_id] = f
    live = [f for f in best.values() if f.adjusted_level >= 1.0]
    for device, extra in common_against(ctx, [f.device_id for f in live], "following").items():
        best[device].against.extend(extra)
    return list(best.values())


def _stops(track: pd.DataFrame, distance: float, min_slots: int, slot: int) -> pd.DataFrame:
    """The sensor's stops in time order: runs of consecutive slots at one place (a place = within half
    FOLLOW_DISTANCE_M of the place's first position), at least `min_slots` long."""
    t = track["s"].to_numpy(dtype=np.int64)
    lat, lon = track["lat"].to_numpy(dtype=float), track["lon"].to_numpy(dtype=float)
    place = np.empty(len(t), dtype=np.int64)
    anchors: list[tuple[float, float]] = []
    for i in range(len(t)):  # one sensor's slots of a day: at most 288 at 5-minute slots
        if anchors:
            d = haversine_m([a[0] for a in anchors], [a[1] for a in anchors], lat[i], lon[i])
            k = int(d.argmin())
            if d[k] <= distance / 2:
                place[i] = k
                continue
        anchors.append((float(lat[i]), float(lon[i])))
        place[i] = len(anchors) - 1
    new_run = np.ones(len(t), dtype=bool)
    new_run[1:] = (place[1:] != place[:-1]) | (np.diff(t) > slot * 3)  # a 15-min silence at one place is one stop
    run = np.cumsum(new_run)
    frame = pd.DataFrame({"run": run, "s": t, "place": place})
    agg = frame.groupby("run").agg(start=("s", "min"), end=("s", "max"), n=("s", "size"), place=("place", "first"))
    agg = agg[agg["n"] >= min_slots].reset_index(drop=True)
    agg["end"] = agg["end"] + slot
    return agg


def _episodes(ctx: Context, slots: pd.DataFrame, stops: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Split each (device, sensor) track into episodes along the sensor's stops; score each."""
    s = ctx.settings
    slot = s.slot_minutes * 60
    slots = slots.sort_values(["sensor_id", "device_id", "s"]).reset_index(drop=True)
    stop_idx = np.full(len(slots), -1, dtype=np.int64)
    for sensor, idx in slots.groupby("sensor_id").groups.items():
        st = stops.get(str(sensor))
        if st is None or st.empty:
            continue
        t = slots.loc[idx, "s"].to_numpy(dtype=np.int64)
        j = np.searchsorted(st["start"].to_numpy(), t, side="right") - 1
        inside = (j >= 0) & (t < st["end"].to_numpy()[np.clip(j, 0, None)])
        stop_idx[np.asarray(idx)] = np.where(inside, j, -1)
    slots = slots.assign(stop=stop_idx)
    key = slots["device_id"].astype(str) + "|" + slots["sensor_id"].astype(str)
    # The last stop the device was seen at, carried over slots in transit (stop -1).
    last_stop = slots["stop"].where(slots["stop"] >= 0).groupby(key).ffill()
    prev_stop = last_stop.groupby(key).shift(1)
    t = slots["s"].to_numpy(dtype=np.int64)
    gap = np.diff(t, prepend=t[0])
    new_key = np.ones(len(slots), dtype=bool)
    new_key[1:] = key.to_numpy()[1:] != key.to_numpy()[:-1]
    missed = (slots["stop"] - prev_stop - 1).fillna(0).to_numpy()
    split = new_key | (gap > s.follow_max_gap_minutes * 60) | ((slots["stop"].to_numpy() >= 0) &
                                                              (missed > s.follow_max_missed_stops))
    slots = slots.assign(ep=np.cumsum(split))
    counts = slots.groupby("ep")["s"].transform("size").to_numpy()
    slots = slots[counts >= s.follow_min_slots]
    t_levels = (s.follow_minutes_alarm, s.follow_minutes_warning, s.follow_minutes_critical)
    l_levels = (float(s.follow_locations_alarm), float(s.follow_locations_warning),
                float(s.follow_locations_critical))
    rows: list[dict[str, Any]] = []
    for _, ep in slots.groupby("ep", sort=False):
        lat, lon = ep["lat"].to_numpy(), ep["lon"].to_numpy()
        locations = _distinct_locations(lat, lon, s.follow_distance_m)
        first, last = int(ep["s"].iloc[0]), int(ep["s"].iloc[-1])
        minutes = (last - first + slot) / 60
        st = stops.get(str(ep["sensor_id"].iloc[0]))
        in_span = int(((st["end"] > first) & (st["start"] <= last)).sum()) if st is not None else 0
        seen = ep["stop"].to_numpy()
        rows.append({
            "device_id": ep["device_id"].iloc[0], "sensor_id": ep["sensor_id"].iloc[0], "first": first,
            "last": last, "minutes": minutes, "locations": locations, "slots": len(ep),
            "stops_with": int(len(np.unique(seen[seen >= 0]))), "stops_in_span": in_span,
            "level": min(piecewise_level(minutes, t_levels), piecewise_level(float(locations), l_levels)),
            "lat": float(lat.mean()), "lon": float(lon.mean()), "rssi": float(ep["rssi"].mean()),
            "folder": ep["folder"].iloc[-1], "vendor": ep["vendor"].iloc[0],
            "network_type": ep["network_type"].iloc[0], "is_randomized": int(ep["is_randomized"].max()),
        })
    return pd.DataFrame.from_records(rows)


def _distinct_locations(lat: np.ndarray, lon: np.ndarray, step: float) -> int:
    """Greedy count of places pairwise >= `step` metres apart, in time order."""
    if len(lat) == 0:
        return 0
    # Cheap pre-filter: positions within a tenth of the step of the previous one add no place.
    keep = np.ones(len(lat), dtype=bool)
    keep[1:] = (np.abs(np.diff(lat)) + np.abs(np.diff(lon))) * M_PER_DEG_LAT > step / 10
    anchors_lat: list[float] = []
    anchors_lon: list[float] = []
    for la, lo in zip(lat[keep], lon[keep], strict=True):
        if not anchors_lat or haversine_m(anchors_lat, anchors_lon, la, lo).min() >= step:
            anchors_lat.append(float(la))
            anchors_lon.append(float(lo))
    return len(anchors_lat)


def _cotravellers(episodes: pd.DataFrame, eligible: np.ndarray) -> np.ndarray:
    """Per episode: other (eligible) devices following the same sensor at alarm level during at least
    half of it. A crowd moving with the sensor (bus, train) is evidence against each of its members."""
    cot = np.zeros(len(episodes), dtype=np.int64)
    strong = (episodes["level"].to_numpy() >= 1.0) & eligible
    first = episodes["first"].to_numpy(dtype=np.int64)
    last = episodes["last"].to_numpy(dtype=np.int64)
    for _, idx in episodes.groupby("sensor_id").indices.items():
        s0, e0 = first[idx], last[idx]
        overlap = np.minimum(e0[:, None], e0[None, :]) - np.maximum(s0[:, None], s0[None, :])
        mates = (overlap >= 0.5 * (e0 - s0)[:, None]) & strong[idx][None, :]
        np.fill_diagonal(mates, False)
        cot[idx] = mates.sum(axis=1)
    return cot
