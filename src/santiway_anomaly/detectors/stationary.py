"""stationary_surveillance: a device that watches a place or a person. Three patterns, each its
own reason in `details`:

- lingering: a stranger stays within STATIONARY_RADIUS_M of one point for hours (LINGER_HOURS_*)
  with a steady signal, near a sensor (Pigtail/CYT: RSSI >= -65 dBm);
- returning: a stranger back at the same spot on several different days (RETURN_DAYS_*) within
  RETURN_LOOKBACK_DAYS;
- following: a device seen with a moving sensor for a long time across several places far enough
  apart (AirGuard: >= 30/60/120 min across >= 2/3/4 locations >= 150 m apart), unless a crowd moves
  with the sensor (Pigtail/CYT: evidence against) or the device is the sensor carrier's companion.

A stranger is a device not seen on REGULAR_MIN_DAYS of the DETECT_HISTORY_DAYS before (before the
window for lingering, before the look-back for returning): staff, residents and fixtures are known
to the site and left out in SQL. A crowd of strangers dwelling together, or a folder holding a
density spike, speaks against lingering.

Score direction and unit: higher = more anomalous, calibrated to [0, 1]; each pattern maps its
evidence onto levels 1 / 2 / 3 (alarm / warning / critical) and the anomaly's score is the
highest pattern's. One anomaly per device per UTC day (the window is that day), so re-running over
overlapping windows never duplicates it.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Self

import numpy as np
import pandas as pd
from loguru import logger

from santiway_anomaly.anomaly import ALARM_SCORE, Anomaly, calibrate, severity_for
from santiway_anomaly.config import Settings
from santiway_anomaly.detectors import stationary_sql as sql
from santiway_anomaly.detectors.alarm import above_threshold
from santiway_anomaly.detectors.base import Detector, Window, register
from santiway_anomaly.detectors.known import is_exempt, learn_fixtures, load_allowlist
from santiway_anomaly.detectors.util import as_date, deg_lat, floor_hour, haversine_m, piecewise_level, records, utc
from santiway_anomaly.storage.store import Store

_BELOW = ALARM_SCORE - 0.01  # evidence against caps a score just under the alarm line


def _level_score(level: float) -> float:
    return calibrate(level, alarm=1.0, warning=2.0, critical=3.0)


def _day(value: datetime) -> date:
    return utc(value).date()


@register("stationary")
class StationaryDetector(Detector):
    """Per device: lingering, returning and following, with fixtures, regulars and crowds against."""

    name = "stationary"
    anomaly_type = "stationary_surveillance"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # ---- fit ----------------------------------------------------------------------------

    def fit(self, store: Store, window: Window) -> Self:
        s = self.settings
        for prefix in ("linger_hours", "follow_minutes", "follow_locations", "return_days"):
            a, w, c = (getattr(s, f"{prefix}_{lvl}") for lvl in ("alarm", "warning", "critical"))
            if not a < w < c:
                raise ValueError(f"{prefix.upper()}_ALARM < _WARNING < _CRITICAL must hold, got {a}, {w}, {c}")
        # Baselines are read per suspect in `score` (fixtures, regulars, companions): learning them for
        # every device would cost as much as the detection itself. What does not depend on suspects:
        self.allow_ = load_allowlist(store)
        self.skipped_: dict[str, str] = {}
        return self

    # ---- score --------------------------------------------------------------------------

    def score(self, store: Store, window: Window) -> pd.DataFrame:
        self.check_fitted()
        linger = self._lingering(store, window)
        returning = self._returning(store, window)
        following = self._following(store, window)
        subjects = sorted(set(linger) | set(returning) | set(following))
        if not subjects:
            return pd.DataFrame(columns=["subject", "score"])
        # History is read only for suspects (a pattern at alarm level): cost scales with them, not devices.
        suspects = sorted({d for parts in (linger, returning, following) for d, p in parts.items()
                           if p["score"] >= ALARM_SCORE})
        fixtures = learn_fixtures(store, self.settings, floor_hour(window.start), suspects)
        linger_suspects = {d: p for d, p in linger.items() if p["score"] >= ALARM_SCORE}
        self._apply_linger_crowds(linger_suspects, set(fixtures))
        self._apply_density_crowds(store, window, linger)
        out_rows: list[dict[str, Any]] = []
        for device in subjects:
            parts = [p for p in (linger.get(device), returning.get(device), following.get(device)) if p]
            against_all: list[str] = []
            if device in fixtures:
                f = fixtures[device]
                against_all.append(f"known fixture (learned): seen {f['hours_seen']} of {f['span_hours']} hours")
            if is_exempt(self.allow_, device, self.anomaly_type):
                against_all.append("on the known-devices list")
            for p in parts:
                if against_all and p["pattern"] != "following":
                    p["score"] = min(p["score"], _BELOW)
                    p["against"] = p["against"] + against_all
                elif "on the known-devices list" in against_all:
                    p["score"] = min(p["score"], _BELOW)
                    p["against"] = p["against"] + ["on the known-devices list"]
            best = max(parts, key=lambda p: p["score"])
            out_rows.append({"subject": device, "device_id": device, "score": float(best["score"]),
                            "day": best["day"], "parts": parts})
        return pd.DataFrame.from_records(out_rows)

    # strangers -----------------------------------------------------------------------------

    def _known_params(self, before: datetime) -> dict[str, Any]:
        """Lingering and returning judge strangers only: a device seen on >= REGULAR_MIN_DAYS days of
        the DETECT_HISTORY_DAYS before `before` (staff, residents, fixtures, part-timers) is left out in
        SQL, before any work is spent on it."""
        s = self.settings
        return {"known_start": before - timedelta(days=s.detect_history_days), "known_end": before,
                "regular_min_days": s.regular_min_days}

    def _enough_history(self, store: Store, before: datetime, pattern: str, need: int) -> bool:
        """Without `need` days of data before `before`, everyone looks like a stranger."""
        s = self.settings
        first = store.scalar(
            "SELECT min(hour) FROM anomaly_ml.hourly_features WHERE hour >= {start:DateTime('UTC')}",
            {"start": before - timedelta(days=s.detect_history_days)})
        days = (before - utc(first)) / timedelta(days=1) if first is not None and first.year > 1970 else 0.0
        if days < need:
            logger.info("stationary: {} not judged: {:.1f} days of history before {} (need {})",
                        pattern, max(days, 0), before.isoformat(), need)
            self.skipped_[pattern] = f"{max(days, 0):.1f} days of history before {before.isoformat()}"
            return False
        return True

    # lingering -----------------------------------------------------------------------------

    def _lingering(self, store: Store, window: Window) -> dict[str, dict[str, Any]]:
        s = self.settings
        slot = s.slot_minutes * 60
        min_run_s = int(s.linger_hours_alarm * 3600 / 2)  # half the alarm level: near misses are scored too
        known_end = floor_hour(window.start)
        if not self._enough_history(store, known_end, "lingering", s.regular_min_days):
            return {}
        df = store.query_df(sql.LINGER, {
            **self._known_params(known_end),
            "start": window.start, "end": window.end, "slot": slot, "gap": s.stationary_max_gap_minutes * 60,
            "dlat": deg_lat(s.stationary_radius_m),
            "min_slots": max(2, math.ceil(min_run_s / (s.stationary_max_gap_minutes * 60))),
            "min_run_s": min_run_s,
        })
        out: dict[str, dict[str, Any]] = {}
        if df.empty:
            return out
        df = df.sort_values(["device_id", "longest_s"], ascending=[True, False]).drop_duplicates("device_id")
        best = self._best_sensor(store, window, df["device_id"].astype(str).tolist())
        levels = (s.linger_hours_alarm, s.linger_hours_warning, s.linger_hours_critical)
        for row in records(df):
            sensor, rssi_mean, rssi_std = best.get(str(row.device_id), ("", float(row.rssi_mean),
                                                                         float(row.rssi_std)))
            row = row._replace(rssi_mean=rssi_mean, rssi_std=rssi_std)
            hours = float(row.longest_s) / 3600
            start = datetime.fromtimestamp(int(row.run_start), UTC)
            score = _level_score(piecewise_level(hours, levels))
            reasons = [f"stayed {hours:.1f} h within {s.stationary_radius_m:.0f} m of one point"]
            against: list[str] = []
            if float(row.rssi_std) > s.linger_max_rssi_std:
                score = min(score, _BELOW)
                against.append(f"unsteady signal: RSSI std {row.rssi_std:.1f} dB > {s.linger_max_rssi_std} dB")
            else:
                reasons.append(f"steady signal: RSSI std {row.rssi_std:.1f} dB")
            # Pigtail/CYT: dwelling means dwelling near; a far, steady signal is a neighbour or a crowd's edge.
            if float(row.rssi_mean) >= s.near_rssi_dbm:
                reasons.append(f"near: mean RSSI {row.rssi_mean:.0f} dBm >= {s.near_rssi_dbm} dBm")
            else:
                score = min(score, _BELOW)
                against.append(f"not near: mean RSSI {row.rssi_mean:.0f} dBm < {s.near_rssi_dbm} dBm")
            if int(row.is_randomized):
                against.append("randomized MAC")
            out[str(row.device_id)] = {
                "pattern": "lingering", "score": float(score), "day": _day(start),
                "run": (int(row.run_start), int(row.run_start) + int(row.longest_s)),
                "spot": (float(row.g), int(row.cy), int(row.cx)),
                "lat": float(row.lat), "lon": float(row.lon), "folder": str(row.folder),
                "vendor": str(row.vendor), "network_type": str(row.network_type),
                "evidence": {"dwell_hours": round(hours, 2), "dwell_start": start.isoformat(),
                             "dwell_end": (start + timedelta(seconds=int(row.longest_s))).isoformat(),
                             "slots": int(row.run_slots), "sightings_at_spot": int(row.sightings),
                             "sensor_id": sensor, "rssi_mean": round(float(row.rssi_mean), 1),
                             "rssi_std": round(float(row.rssi_std), 2)},
                "reasons": reasons, "against": against,
            }
        return out

    def _best_sensor(self, store: Store, window: Window, devices: list[str]) -> dict[str, tuple[str, float, float]]:
        """device -> (sensor, mean RSSI, RSSI std) at the sensor hearing it best (highest mean among the
        sensors with >= 3 readings). "Near" and "steady" are properties of one sensor's readings: when
        sightings are sparse, mixing a near and a far sensor's readings looks like an unsteady signal."""
        if not devices:
            return {}
        df = store.query_df(sql.SENSOR_RSSI, {"ids": devices, "start": window.start, "end": window.end})
        out: dict[str, tuple[str, float, float]] = {}
        if df.empty:
            return out
        df = df[df["n"] >= 3].sort_values(["device_id", "m"], ascending=[True, False]).drop_duplicates("device_id")
        for row in records(df):
            out[str(row.device_id)] = (str(row.sensor), float(row.m), float(row.sd))
        return out

    def _apply_linger_crowds(self, linger: dict[str, dict[str, Any]], fixtures: set[str]) -> None:
        """Other lingering strangers (near, steady, long enough; not fixtures) in the same
        folder, overlapping this dwell for at least half of it: many of them make a meeting, a queue or
        an event, not a watcher (Pigtail/CYT: a crowd is evidence against)."""
        s = self.settings
        strangers = [(d, p) for d, p in linger.items() if d not in fixtures]
        # Grouped by folder: a crowd spreads over the place, not onto one spot.
        by_spot: dict[Any, list[tuple[str, dict[str, Any]]]] = {}
        for d, p in strangers:
            by_spot.setdefault(p["folder"] or p["spot"], []).append((d, p))
        alarm_s = s.linger_hours_alarm * 3600
        for members in by_spot.values():
            runs = np.array([p["run"] for _, p in members], dtype=np.int64).reshape(-1, 2)
            s0, e0 = runs[:, 0], runs[:, 1]
            overlap = np.minimum(e0[:, None], e0[None, :]) - np.maximum(s0[:, None], s0[None, :])
            # A mate dwelt at least half the alarm time, for at least half of this dwell.
            mates = (overlap >= 0.5 * (e0 - s0)[:, None]) & ((e0 - s0) >= alarm_s / 2)[None, :]
            np.fill_diagonal(mates, False)
            for (_, p), n in zip(members, mates.sum(axis=1), strict=True):
                p["evidence"]["crowd"] = int(n)
                if n > s.follow_crowd_max:
                    p["score"] = min(p["score"], _BELOW)
                    p["against"].append(f"crowd: {int(n)} other strangers dwelt in the folder meanwhile "
                                        f"(> {s.follow_crowd_max})")

    def _apply_density_crowds(self, store: Store, window: Window, linger: dict[str, dict[str, Any]]) -> None:
        """A stranger dwelling in a folder while the folder holds a crowd (a density spike by the
        density detector's own rule) is explained by the crowd: evidence against lingering."""
        live = {d: p for d, p in linger.items() if p["score"] >= ALARM_SCORE}
        if not live:
            return
        from santiway_anomaly.detectors.density import DensityDetector

        density = DensityDetector(self.settings, sorted({p["folder"] for p in live.values()})).fit(store, window)
        scored = density.hourly(store, window)
        if scored.empty:
            return
        spikes = scored[scored["score"] >= ALARM_SCORE]
        spike_hours = {(str(f), int(pd.Timestamp(h).timestamp())) for f, h in zip(spikes["folder"], spikes["hour"],
                                                                                     strict=True)}
        for p in live.values():
            start, end = p["run"]
            inside = sum(max(0, min(end, h + 3600) - max(start, h))
                         for h in range(start - start % 3600, end, 3600) if (p["folder"], h) in spike_hours)
            # Explained by the crowd when the dwell lies (almost) wholly inside it: a device there an
            # hour before the crowd came is not one of its members.
            share = inside / max(1, end - start)
            p["evidence"]["dwell_share_in_crowd"] = round(share, 2)
            if share >= 0.75:
                p["score"] = min(p["score"], _BELOW)
                p["against"].append(f"crowd: {share:.0%} of the dwell fell in hours when the folder held "
                                    "a density spike")

    # returning -----------------------------------------------------------------------------

    def _returning(self, store: Store, window: Window) -> dict[str, dict[str, Any]]:
        s = self.settings
        end = window.end
        lookback_start = floor_hour(end) - timedelta(days=s.return_lookback_days)
        # Telling a returner from a newcomer takes about as much history before the look-back as the
        # look-back itself (one day less: a window ending "now" leaves the first day partial).
        need = max(s.regular_min_days, s.return_lookback_days - 1)
        if not self._enough_history(store, lookback_start, "returning", need):
            return {}
        df = store.query_df(sql.RETURNING, {
            **self._known_params(lookback_start),
            "start": lookback_start, "end": end, "dlat": deg_lat(s.stationary_radius_m),
            "min_minutes": s.return_min_minutes, "min_days": s.return_days_alarm,
            "window_start": floor_hour(window.start),
        })
        out: dict[str, dict[str, Any]] = {}
        if df.empty:
            return out
        df = df.sort_values(["device_id", "days"], ascending=[True, False]).drop_duplicates("device_id")
        levels = (float(s.return_days_alarm), float(s.return_days_warning), float(s.return_days_critical))
        for row in records(df):
            days = [as_date(d) for d in row.day_list]
            last = utc(pd.Timestamp(row.last_seen_hour).to_pydatetime())
            out[str(row.device_id)] = {
                "pattern": "returning", "score": _level_score(piecewise_level(float(row.days), levels)),
                "day": _day(last), "spot": (float(row.g), int(row.cy), int(row.cx)),
                "lat": float(row.lat), "lon": float(row.lon), "folder": "", "vendor": "", "network_type": "",
                "lookback_start": lookback_start,
                "evidence": {"days_at_spot": int(row.days), "days": [d.isoformat() for d in days],
                             "minutes_at_spot": int(row.spot_minutes),
                             "lookback_days": s.return_lookback_days},
                "reasons": [f"at the same spot on {int(row.days)} different days in {s.return_lookback_days} days"],
                "against": [],
            }
        return out

    # following -----------------------------------------------------------------------------

    def _following(self, store: Store, window: Window) -> dict[str, dict[str, Any]]:
        s = self.settings
        moving = store.query_df(sql.MOVING_SENSORS, {"start": window.start, "end": window.end,
                                                     "distance": s.follow_distance_m})
        if moving.empty:
            return {}
        sensors = moving["sensor_id"].astype(str).tolist()
        slots = store.query_df(sql.CO_SLOTS, {"start": window.start, "end": window.end,
                                              "slot": s.slot_minutes * 60, "sensors": sensors,
                                              "min_slots": s.follow_min_slots, "distance": s.follow_distance_m})
        episodes = self._episodes(slots)
        if episodes.empty:
            return {}
        episodes = self._crowds(episodes)
        hist_end = floor_hour(window.start)
        companions = store.query_df(sql.SENSOR_DAYS, {
            "ids": sorted(episodes["device_id"].unique().tolist()), "sensors": sensors,
            "start": hist_end - timedelta(days=s.detect_history_days), "end": hist_end})
        companion_days = {(str(r.device_id), str(r.sensor)): int(r.days) for r in records(companions)}
        out: dict[str, dict[str, Any]] = {}
        for row in records(episodes.sort_values("score", ascending=False)):
            device = str(row.device_id)
            if device in out:
                continue
            score = float(row.score)
            against = list(row.against)
            cdays = companion_days.get((device, str(row.sensor_id)), 0)
            if cdays >= s.companion_min_days:
                score = min(score, _BELOW)
                against.append(f"companion of the sensor: with it on {cdays} earlier days")
            if row.cotravellers > s.follow_crowd_max:
                score = min(score, _BELOW)
            out[device] = {
                "pattern": "following", "score": score, "day": _day(row.start),
                "lat": float(row.lat), "lon": float(row.lon), "folder": str(row.folder),
                "vendor": str(row.vendor), "network_type": str(row.network_type),
                "evidence": {"sensor_id": str(row.sensor_id), "minutes": round(float(row.minutes), 1),
                             "locations": int(row.locations), "slots": int(row.slots),
                             "start": row.start.isoformat(), "end": row.end.isoformat(),
                             "cotravellers": int(row.cotravellers), "companion_days": cdays,
                             "rssi_mean": round(float(row.rssi), 1)},
                "reasons": [f"with moving sensor {row.sensor_id} for {row.minutes:.0f} min across "
                            f"{int(row.locations)} places >= {s.follow_distance_m:.0f} m apart"],
                "against": against,
            }
        return out

    def _episodes(self, slots: pd.DataFrame) -> pd.DataFrame:
        """Split each (device, sensor) track at gaps > FOLLOW_MAX_GAP_MINUTES; score each episode."""
        s = self.settings
        if slots.empty:
            return pd.DataFrame()
        slot_s = s.slot_minutes * 60
        gap = s.follow_max_gap_minutes * 60
        t = slots["s"].to_numpy(dtype=np.int64)
        dev = slots["device_id"].astype(str).to_numpy()
        sen = slots["sensor_id"].astype(str).to_numpy()
        key_change = np.ones(len(slots), dtype=bool)
        key_change[1:] = (dev[1:] != dev[:-1]) | (sen[1:] != sen[:-1])
        new_ep = key_change | (np.diff(t, prepend=t[0]) > gap)
        slots = slots.assign(ep=np.cumsum(new_ep))
        counts = slots.groupby("ep")["s"].transform("size").to_numpy()
        slots = slots[counts >= s.follow_min_slots]
        t_levels = (s.follow_minutes_alarm, s.follow_minutes_warning, s.follow_minutes_critical)
        l_levels = (float(s.follow_locations_alarm), float(s.follow_locations_warning),
                    float(s.follow_locations_critical))
        out_rows: list[dict[str, Any]] = []
        for _, ep in slots.groupby("ep", sort=False):
            lat, lon = ep["lat"].to_numpy(), ep["lon"].to_numpy()
            locations = self._distinct_locations(lat, lon)
            first, last = int(ep["s"].iloc[0]), int(ep["s"].iloc[-1])
            minutes = (last - first + slot_s) / 60
            level = min(piecewise_level(minutes, t_levels), piecewise_level(float(locations), l_levels))
            against = []
            if int(ep["is_randomized"].max()):
                against.append("randomized MAC")
            out_rows.append({
                "device_id": ep["device_id"].iloc[0], "sensor_id": ep["sensor_id"].iloc[0],
                "start": datetime.fromtimestamp(first, UTC), "end": datetime.fromtimestamp(last + slot_s, UTC),
                "minutes": minutes, "locations": locations, "slots": len(ep), "level": level,
                "score": _level_score(level), "lat": float(lat.mean()), "lon": float(lon.mean()),
                "rssi": float(ep["rssi"].mean()), "folder": ep["folder"].iloc[-1],
                "vendor": ep["vendor"].iloc[0], "network_type": ep["network_type"].iloc[0],
                "against": against,
            })
        return pd.DataFrame.from_records(out_rows)

    def _distinct_locations(self, lat: np.ndarray, lon: np.ndarray) -> int:
        """Greedy count of places pairwise >= FOLLOW_DISTANCE_M apart, in time order."""
        anchors_lat: list[float] = []
        anchors_lon: list[float] = []
        step = self.settings.follow_distance_m
        for la, lo in zip(lat, lon, strict=True):
            far = not anchors_lat or haversine_m(anchors_lat, anchors_lon, la, lo).min() >= step
            if far:
                anchors_lat.append(float(la))
                anchors_lon.append(float(lo))
        return len(anchors_lat)

    def _crowds(self, episodes: pd.DataFrame) -> pd.DataFrame:
        """Co-travellers: other devices following the same sensor at alarm level during most of the same
        time. A crowd moving with the sensor (bus, train) is evidence against each of its members."""
        s = self.settings
        cot = np.zeros(len(episodes), dtype=int)
        strong = episodes["level"].to_numpy() >= 1.0
        for _, idx in episodes.groupby("sensor_id").groups.items():
            sub = episodes.loc[idx]
            starts = sub["start"].to_numpy()
            ends = sub["end"].to_numpy()
            for i, pos in enumerate(idx):
                overlap = (np.minimum(ends, ends[i]) - np.maximum(starts, starts[i])) / np.timedelta64(1, "s")
                length = (ends[i] - starts[i]) / np.timedelta64(1, "s")
                mates = (overlap >= 0.5 * length) & strong[episodes.index.get_indexer(idx)]
                mates[i] = False
                cot[episodes.index.get_loc(pos)] = int(mates.sum())
        episodes = episodes.assign(cotravellers=cot)
        episodes["against"] = [
            a + ([f"crowd: {c} other devices moved with the sensor (> {s.follow_crowd_max})"]
                 if c > s.follow_crowd_max else ([f"{c} other devices moved with the sensor"] if c else []))
            for a, c in zip(episodes["against"], cot, strict=True)]
        return episodes

    # ---- alarms -------------------------------------------------------------------------

    def alarms(self, scored: pd.DataFrame, window: Window) -> list[Anomaly]:
        candidates = []
        for row in scored.to_dict("records"):
            severity = severity_for(float(row["score"]))
            if severity is None:
                continue
            parts = sorted(row["parts"], key=lambda p: -p["score"])
            best = parts[0]
            day_start = datetime.combine(best["day"], time(0), tzinfo=UTC)
            located = next((p for p in parts if p["folder"]), best)
            details: dict[str, Any] = {
                "patterns": [p["pattern"] for p in parts if p["score"] >= ALARM_SCORE],
                "reasons": [{"pattern": p["pattern"], "score": round(p["score"], 4), **p["evidence"],
                             "why": p["reasons"], "against": p["against"]} for p in parts],
                "against": sorted({a for p in parts for a in p["against"]}),
            }
            candidates.append(Anomaly(
                anomaly_type=self.anomaly_type, severity=severity, score=round(float(row["score"]), 4),
                window_start=day_start, window_end=day_start + timedelta(days=1), device_id=row["device_id"],
                folder=located["folder"], vendor=located["vendor"], network_type=located["network_type"],
                lat=best["lat"], lon=best["lon"], details=details))
        # One anomaly per device per day by construction (the window is the day): no cooldown needed.
        return above_threshold(candidates)
