"""night_activity: activity between NIGHT_START_HOUR and NIGHT_END_HOUR local time that the
device's own history (or, for a new device, its folder's) says should not be there.

Score direction and unit: higher = more anomalous, calibrated to [0, 1] from the device's active
minutes in the night (alarm / warning / critical at NIGHT_MINUTES_*), weighted by how much of a
daytime device its history makes it (1 - share of its active days that had night activity).

Who is judged how:
- a device with at least NIGHT_MIN_HISTORY_DAYS active days is judged by its own history: a
  consistent night history (night-shift staff, fixtures) is not an anomaly;
- a device with less history is judged by the folder: an anomaly only where the folder is quiet at
  night (p95 of stable night devices <= NIGHT_QUIET_FOLDER_DEVICES);
- randomized MACs are judged as a population per folder: the night's peak of distinct randomized
  MACs per 5 minutes against the folder's p95 of earlier nights (subject `folder:<name>`);
- a night session that starts within NIGHT_GRACE_MINUTES of the night's end and runs on into the
  morning is an early arrival, and one that ends within the grace after the night's start having
  begun in the evening is a late leave: neither is night activity.

The night of local date D is [D NIGHT_START_HOUR, D NIGHT_END_HOUR) (starting the evening before
when NIGHT_START_HOUR > NIGHT_END_HOUR); each anomaly's window is that night, so a device yields at
most one anomaly per night and re-running never duplicates it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any, Self
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from santiway_anomaly.anomaly import Anomaly, calibrate, severity_for
from santiway_anomaly.config import Settings
from santiway_anomaly.detectors.alarm import above_threshold
from santiway_anomaly.detectors.base import Detector, Window, register
from santiway_anomaly.detectors.known import is_exempt, load_allowlist
from santiway_anomaly.detectors.util import as_date, floor_hour, records, utc
from santiway_anomaly.storage.store import Store

# Shared SQL fragments; `t` is a UTC DateTime expression. The night label is the local date on which
# the night ends, and stays the same from the hour before the night to the hour after it.
_LOCAL = "toTimeZone({t}, {{tz:String}})"
_HOUR = "toHour(" + _LOCAL + ")"
_IS_NIGHT = "((" + _HOUR + " + 24 - {{ns:UInt8}}) % 24) < {{dur:UInt8}}"
_IS_MORNING = "((" + _HOUR + " + 24 - {{ne:UInt8}}) % 24) = 0"
_IS_EVENING = "((" + _HOUR + " + 24 - {{ns:UInt8}}) % 24) = 23"
_LABEL = "toDate(" + _LOCAL + " + INTERVAL {{shift:UInt8}} HOUR, {{tz:String}})"


def _frag(template: str, t: str) -> str:
    return template.format(t=t)


def _folder_clause(folders: list[str] | None, exclude: list[str]) -> tuple[str, dict[str, Any]]:
    if folders is not None:
        return "folder IN {folders:Array(String)}", {"folders": folders}
    if exclude:
        return "folder NOT IN {folders:Array(String)}", {"folders": exclude}
    return "1", {"folders": []}


def _by_night(df: pd.DataFrame, folder: str) -> dict[date, float]:
    if df.empty:  # an empty answer has no columns at all
        return {}
    rows = df[df["folder"] == folder]
    return {as_date(d): float(n) for d, n in zip(rows["night"], rows["n"], strict=True)}


@register("night")
class NightDetector(Detector):
    """Per device per night: night activity against the device's (or folder's) own history."""

    name = "night"
    anomaly_type = "night_activity"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # ---- helpers ------------------------------------------------------------------------

    def _night_params(self, tz: str) -> dict[str, Any]:
        s = self.settings
        dur = (s.night_end_hour - s.night_start_hour) % 24
        if dur == 0:
            raise ValueError("NIGHT_START_HOUR and NIGHT_END_HOUR must differ")
        return {"tz": tz, "ns": s.night_start_hour, "ne": s.night_end_hour, "dur": dur,
                "shift": (24 - s.night_start_hour + 1) % 24}

    def _tz_groups(self) -> list[tuple[str, list[str] | None, list[str]]]:
        """(time zone, folders in it or None for "every other folder", folders to exclude)."""
        by_tz: dict[str, list[str]] = defaultdict(list)
        for folder, tz in self.settings.folder_timezones.items():
            by_tz[tz].append(folder)
        groups: list[tuple[str, list[str] | None, list[str]]] = [
            (tz, sorted(fs), []) for tz, fs in sorted(by_tz.items())]
        groups.append((self.settings.timezone, None, sorted(self.settings.folder_timezones)))
        return groups

    def _night_bounds(self, label: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        s = self.settings
        end = datetime.combine(label, time(s.night_end_hour), tzinfo=zone)
        dur = (s.night_end_hour - s.night_start_hour) % 24
        return utc(end - timedelta(hours=dur)), utc(end)

    # ---- fit ----------------------------------------------------------------------------

    def fit(self, store: Store, window: Window) -> Self:
        s = self.settings
        if s.night_minutes_alarm >= s.night_minutes_warning or s.night_minutes_warning >= s.night_minutes_critical:
            raise ValueError("NIGHT_MINUTES_ALARM < NIGHT_MINUTES_WARNING < NIGHT_MINUTES_CRITICAL must hold")
        self.history_start_ = floor_hour(window.start) - timedelta(days=s.detect_history_days)
        self.history_end_ = floor_hour(window.start)
        self.allow_ = load_allowlist(store)
        self.folder_nights_: dict[str, dict[str, float]] = {}
        self._nights: dict[str, list[date]] = {}
        for tz, folders, exclude in self._tz_groups():
            self.folder_nights_.update(self._folder_night_baseline(store, tz, folders, exclude))
        return self

    def _folder_night_baseline(self, store: Store, tz: str, folders: list[str] | None,
                               exclude: list[str]) -> dict[str, dict[str, float]]:
        """folder -> number of history nights and p95 over them of the peak randomized MACs per 5
        minutes (nights without sightings counting as 0)."""
        s = self.settings
        where, fparams = _folder_clause(folders, exclude)
        params = {**self._night_params(tz), **fparams, "start": self.history_start_, "end": self.history_end_}
        random = store.query_df(
            f"""
            SELECT folder, night, max(n) AS n FROM (
                SELECT toString(folder) AS folder, slot, {_frag(_LABEL, 'slot')} AS night,
                       uniqExactMerge(randomized_devices) AS n
                FROM anomaly_ml.folder_5min
                WHERE slot >= {{start:DateTime('UTC')}} AND slot < {{end:DateTime('UTC')}} AND {where}
                  AND {_frag(_IS_NIGHT, 'slot')}
                GROUP BY folder, slot)
            GROUP BY folder, night
            """, params)
        first_seen = store.query_df(
            f"""
            SELECT toString(folder) AS folder, min(hour) AS first_hour FROM anomaly_ml.folder_hourly
            WHERE hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}} AND {where}
            GROUP BY folder
            """, params)
        out: dict[str, dict[str, float]] = {}
        zone = ZoneInfo(tz)
        last_night = (pd.Timestamp(self.history_end_).tz_convert(zone) - pd.Timedelta(hours=s.night_end_hour)).date()
        for row in records(first_seen):
            first = (pd.Timestamp(row.first_hour).tz_convert(zone) + pd.Timedelta(hours=1)).date()
            nights = pd.date_range(first, last_night, freq="D").date
            n_nights = len(nights)
            if n_nights == 0:
                continue
            random_n = _by_night(random, str(row.folder))
            rv = np.array([random_n.get(d, 0.0) for d in nights])
            self._nights[str(row.folder)] = list(nights)
            # stable_p95 is filled in lazily (`_ensure_stable`), only for folders a new device visits
            # at night: it is the one costly baseline, and most runs never need it.
            out[str(row.folder)] = {"nights": float(n_nights), "random_p95": float(np.quantile(rv, 0.95))}
        return out

    def _ensure_stable(self, store: Store, tz: str, folders: list[str]) -> None:
        """p95 over history nights of the folder's distinct stable devices at night, learned fixtures
        left out (a folder whose only night life is its access points and printers is quiet)."""
        s = self.settings
        need = sorted(f for f in set(folders)
                      if f in self.folder_nights_ and "stable_p95" not in self.folder_nights_[f])
        if not need:
            return
        # Devices already flagged for night activity do not feed the baseline they were judged against
        # (river's protect_anomaly_detector): an intruder last night must not make the folder "busy".
        flagged = [str(r[0]) for r in store.query_rows(
            "SELECT DISTINCT device_id FROM anomaly_ml.anomalies FINAL WHERE anomaly_type = 'night_activity' "
            "AND device_id != '' AND window_end > {start:DateTime64(3, 'UTC')} "
            "AND window_start < {end:DateTime64(3, 'UTC')}",
            {"start": self.history_start_, "end": self.history_end_})]
        params = {**self._night_params(tz), "need": need, "start": self.history_start_, "end": self.history_end_,
                  "fixture_span": s.fixture_min_days * 24, "coverage": s.fixture_hour_coverage, "flagged": flagged}
        # Fixtures are learned among the night-active devices of these folders only.
        stable = store.query_df(
            f"""
            SELECT folder, night, uniqExact(device_id) AS n FROM (
                SELECT device_id, {_frag(_LABEL, 'hour')} AS night,
                       arrayJoin(groupUniqArrayArray(folders)) AS folder, max(is_randomized) AS rnd
                FROM anomaly_ml.hourly_features
                WHERE hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}}
                  AND {_frag(_IS_NIGHT, 'hour')}
                GROUP BY device_id, hour
                HAVING hasAny(groupUniqArrayArray(folders), {{need:Array(String)}}))
            WHERE rnd = 0 AND folder IN {{need:Array(String)}} AND device_id NOT IN {{flagged:Array(String)}}
              AND device_id NOT IN (
                SELECT device_id FROM anomaly_ml.hourly_features
                WHERE hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}}
                  AND device_id IN (
                      SELECT device_id FROM anomaly_ml.hourly_features
                      WHERE hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}}
                        AND {_frag(_IS_NIGHT, 'hour')}
                      GROUP BY device_id
                      HAVING hasAny(groupUniqArrayArray(folders), {{need:Array(String)}}))
                GROUP BY device_id
                HAVING dateDiff('hour', min(hour), max(hour)) + 1 >= {{fixture_span:Float64}}
                   AND uniqExact(hour) >= {{coverage:Float64}} * (dateDiff('hour', min(hour), max(hour)) + 1))
            GROUP BY folder, night
            """, params)
        for folder in need:
            counts = _by_night(stable, folder)
            sv = np.array([counts.get(d, 0.0) for d in self._nights[folder]])
            self.folder_nights_[folder]["stable_p95"] = float(np.quantile(sv, 0.95))

    # ---- score --------------------------------------------------------------------------

    def score(self, store: Store, window: Window) -> pd.DataFrame:
        self.check_fitted()
        frames = []
        for tz, folders, exclude in self._tz_groups():
            sessions = self._sessions(store, window, tz, folders, exclude)
            if not sessions.empty:
                frames.append(self._score_devices(store, sessions, tz))
            frames.append(self._score_population(store, window, tz, folders, exclude))
        frames = [f for f in frames if not f.empty]
        if not frames:
            return pd.DataFrame(columns=["subject", "score"])
        return pd.concat(frames, ignore_index=True)

    def _sessions(self, store: Store, window: Window, tz: str, folders: list[str] | None,
                  exclude: list[str]) -> pd.DataFrame:
        where, fparams = _folder_clause(folders, exclude)
        params = {**self._night_params(tz), **fparams, "start": window.start, "end": window.end,
                  "pad_start": window.start - timedelta(hours=1), "pad_end": window.end + timedelta(hours=1)}
        is_night = _frag(_IS_NIGHT, "ts")
        return store.query_df(
            f"""
            SELECT device_id, {_frag(_LABEL, 'ts')} AS night,
                   countIf(nf) AS n_night, uniqExactIf(toStartOfMinute(ts), nf) AS night_minutes,
                   minIf(ts, nf) AS first_ts, maxIf(ts, nf) AS last_ts,
                   countIf({_frag(_IS_MORNING, 'ts')}) AS morning, countIf({_frag(_IS_EVENING, 'ts')}) AS evening,
                   toString(anyIf(folder, nf)) AS folder, toString(any(vendor)) AS vendor,
                   toString(any(network_type)) AS network_type, max(is_randomized) AS is_randomized,
                   avgIf(lat, nf) AS lat, avgIf(lon, nf) AS lon, avgIf(rssi, nf) AS rssi_mean
            FROM
            (
                SELECT *, ts >= {{start:DateTime64(3, 'UTC')}} AND ts < {{end:DateTime64(3, 'UTC')}}
                          AND {is_night} AS nf
                FROM santi.way_data
                WHERE ts >= {{pad_start:DateTime64(3, 'UTC')}} AND ts < {{pad_end:DateTime64(3, 'UTC')}}
                  AND {where}
                  AND ({is_night} OR {_frag(_IS_MORNING, 'ts')} OR {_frag(_IS_EVENING, 'ts')})
            )
            GROUP BY device_id, night
            HAVING n_night > 0 AND is_randomized = 0
            """, params)

    def _device_history(self, store: Store, devices: list[str], tz: str) -> pd.DataFrame:
        params = {**self._night_params(tz), "ids": devices, "start": self.history_start_,
                  "end": self.history_end_}
        return store.query_df(
            f"""
            SELECT device_id,
                   uniqExact(toDate(toTimeZone(hour, {{tz:String}}))) AS active_days,
                   uniqExactIf({_frag(_LABEL, 'hour')}, {_frag(_IS_NIGHT, 'hour')}) AS night_days,
                   uniqExact(hour) AS active_hours,
                   uniqExactIf(hour, {_frag(_IS_NIGHT, 'hour')}) AS night_hours
            FROM anomaly_ml.hourly_features
            WHERE device_id IN {{ids:Array(String)}}
              AND hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}}
            GROUP BY device_id
            """, params)

    def _score_devices(self, store: Store, sessions: pd.DataFrame, tz: str) -> pd.DataFrame:
        s = self.settings
        zone = ZoneInfo(tz)
        hist = self._device_history(store, sorted(sessions["device_id"].unique().tolist()), tz)
        if hist.empty:  # an empty answer has no columns at all
            hist = pd.DataFrame({"device_id": [], "active_days": [], "night_days": [], "active_hours": [],
                                 "night_hours": []})
        hist = hist.set_index("device_id")
        active = sessions["device_id"].map(hist["active_days"]).fillna(0)
        self._ensure_stable(store, tz, sessions.loc[active < s.night_min_history_days, "folder"].astype(str).tolist())
        grace = timedelta(minutes=s.night_grace_minutes)
        out_rows: list[dict[str, Any]] = []
        for row in records(sessions):
            night_start, night_end = self._night_bounds(as_date(row.night), zone)
            active_days = int(hist["active_days"].get(row.device_id, 0))
            night_days = int(hist["night_days"].get(row.device_id, 0))
            active_hours = int(hist["active_hours"].get(row.device_id, 0))
            night_hours = int(hist["night_hours"].get(row.device_id, 0))
            hour_share = night_hours / active_hours if active_hours else 0.0
            reasons: list[str] = []
            against: list[str] = []
            contrast = 1.0
            judged_by = "device"
            if active_days >= s.night_min_history_days:
                share = night_days / active_days
                if night_days >= max(s.night_regular_min_nights, s.night_regular_fraction * active_days):
                    contrast = 0.0
                    against.append(f"consistent night history: active on {night_days} of {active_days} "
                                   "history days at night")
                elif hour_share >= s.night_regular_hour_share:
                    # Heard at random hours (a far beacon at the edge of range): no daytime rhythm to break.
                    contrast = 0.0
                    against.append(f"no daytime rhythm: {night_hours} of its {active_hours} history hours "
                                   "were at night")
                else:
                    contrast = 1.0 - share
                    reasons.append(f"daytime device: night activity on {night_days} of {active_days} "
                                   "history days")
            else:
                judged_by = "folder"
                base = self.folder_nights_.get(str(row.folder))
                if base is None:
                    contrast = 0.0
                    against.append("no history for the device or its folder")
                elif base["stable_p95"] > s.night_quiet_folder_devices:
                    contrast = 0.0
                    against.append(f"new device, but the folder is busy at night "
                                   f"(p95 {base['stable_p95']:.1f} devices)")
                else:
                    reasons.append(f"new device ({active_days} history days) in a folder quiet at night "
                                   f"(p95 {base['stable_p95']:.1f} devices over {int(base['nights'])} nights)")
            first = utc(pd.Timestamp(row.first_ts).to_pydatetime())
            last = utc(pd.Timestamp(row.last_ts).to_pydatetime())
            if first >= night_end - grace and row.morning > 0:
                contrast = 0.0
                against.append("early arrival: the session starts near the night's end and runs into the day")
            elif last < night_start + grace and row.evening > 0:
                contrast = 0.0
                against.append("late leave: the session began in the evening and ends soon after night starts")
            if is_exempt(self.allow_, row.device_id, self.anomaly_type):
                contrast = 0.0
                against.append("on the known-devices list")
            span_min = (last - first).total_seconds() / 60
            if judged_by == "folder" and contrast > 0 and span_min < s.night_new_device_min_minutes:
                contrast = 0.0
                against.append(f"passing through: a new device seen for {span_min:.0f} min "
                               f"(< {s.night_new_device_min_minutes:g})")
            if row.n_night < s.night_min_sightings:
                contrast = 0.0
                against.append(f"only {int(row.n_night)} sightings (minimum {s.night_min_sightings})")
            minutes = float(row.night_minutes)
            score = 0.0 if contrast == 0 else calibrate(
                minutes * contrast, alarm=s.night_minutes_alarm, warning=s.night_minutes_warning,
                critical=s.night_minutes_critical)
            out_rows.append({
                "subject": row.device_id, "score": float(score), "device_id": row.device_id,
                "folder": row.folder, "vendor": row.vendor, "network_type": row.network_type,
                "lat": float(row.lat), "lon": float(row.lon), "window_start": night_start,
                "window_end": night_end,
                "details": {
                    "judged_by": judged_by, "night_sightings": int(row.n_night),
                    "night_minutes": int(minutes), "first_seen": first.isoformat(), "last_seen": last.isoformat(),
                    "local_night": as_date(row.night).isoformat(), "timezone": tz, "history_active_days": active_days,
                    "history_night_days": night_days, "history_night_hour_share": round(hour_share, 3),
                    "rssi_mean": round(float(row.rssi_mean), 1),
                    "reasons": reasons + [f"{int(minutes)} active minutes at night"], "against": against,
                },
            })
        return pd.DataFrame.from_records(out_rows)

    def _score_population(self, store: Store, window: Window, tz: str, folders: list[str] | None,
                          exclude: list[str]) -> pd.DataFrame:
        s = self.settings
        zone = ZoneInfo(tz)
        where, fparams = _folder_clause(folders, exclude)
        params = {**self._night_params(tz), **fparams, "start": window.start, "end": window.end}
        peaks = store.query_df(
            f"""
            SELECT folder, night, max(n) AS peak, argMax(slot, n) AS peak_slot FROM (
                SELECT toString(folder) AS folder, slot, {_frag(_LABEL, 'slot')} AS night,
                       uniqExactMerge(randomized_devices) AS n
                FROM anomaly_ml.folder_5min
                WHERE slot >= {{start:DateTime('UTC')}} AND slot < {{end:DateTime('UTC')}} AND {where}
                  AND {_frag(_IS_NIGHT, 'slot')}
                GROUP BY folder, slot)
            GROUP BY folder, night
            HAVING peak > 0
            """, params)
        out_rows: list[dict[str, Any]] = []
        for row in records(peaks):
            base = self.folder_nights_.get(str(row.folder))
            if base is None:
                continue
            p95 = base["random_p95"]
            ratio = float(row.peak) / max(p95, 1.0)
            score = calibrate(ratio, alarm=s.night_random_ratio, warning=s.night_random_ratio * 1.5,
                              critical=s.night_random_ratio * 2.5)
            if row.peak - p95 < s.night_random_min_excess:
                score = min(score, 0.49)
            night_start, night_end = self._night_bounds(as_date(row.night), zone)
            out_rows.append({
                "subject": f"folder:{row.folder}", "score": float(score), "device_id": "",
                "folder": row.folder, "vendor": "", "network_type": "", "lat": 0.0, "lon": 0.0,
                "window_start": night_start, "window_end": night_end,
                "details": {
                    "judged_by": "randomized_population", "randomized_peak_5min": int(row.peak),
                    "p95_baseline": round(p95, 2), "ratio": round(ratio, 2),
                    "peak_at": utc(pd.Timestamp(row.peak_slot).to_pydatetime()).isoformat(),
                    "local_night": as_date(row.night).isoformat(), "timezone": tz,
                    "reasons": [f"{int(row.peak)} randomized MACs at once at night vs p95 {p95:.1f}"],
                    "against": [],
                },
            })
        return pd.DataFrame.from_records(out_rows)

    # ---- alarms -------------------------------------------------------------------------

    def alarms(self, scored: pd.DataFrame, window: Window) -> list[Anomaly]:
        candidates = []
        for row in scored.to_dict("records"):
            severity = severity_for(float(row["score"]))
            if severity is None:
                continue
            candidates.append(Anomaly(
                anomaly_type=self.anomaly_type, severity=severity, score=round(float(row["score"]), 4),
                window_start=row["window_start"], window_end=row["window_end"], device_id=row["device_id"],
                folder=str(row["folder"]), vendor=str(row["vendor"]), network_type=str(row["network_type"]),
                lat=float(row["lat"]), lon=float(row["lon"]), details=row["details"]))
        # One anomaly per subject per night by construction (the window is the night): no cooldown needed.
        return above_threshold(candidates)
