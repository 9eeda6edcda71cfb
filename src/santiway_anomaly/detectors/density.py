"""density_spike: a folder holds far more distinct devices in an hour than its own baseline.

Score direction and unit: higher = more anomalous, calibrated to [0, 1] from the ratio
robust_count / p95_baseline (alarm / warning / critical at DENSITY_RATIO_*), and held below the
alarm line unless the absolute excess over p95 is at least DENSITY_MIN_EXCESS devices.

Robust count: distinct non-randomized MACs in the hour + the peak of distinct randomized MACs in
any 5-minute slot of the hour. A randomized phone shows one MAC at a time, so the 5-minute peak
does not grow when phones rotate their MACs; the raw count (all distinct MACs) is reported beside it.

Baseline (`fit`): p95 of the robust count over the folder's trailing days at the same local hour of
day when at least DENSITY_MIN_SAME_HOUR_DAYS days exist, else p95 over all its trailing hours.
Hours already flagged (stored density_spike anomalies) do not feed the baseline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Self

import numpy as np
import pandas as pd

from santiway_anomaly.anomaly import ALARM_SCORE, Anomaly, calibrate, severity_for
from santiway_anomaly.config import Settings
from santiway_anomaly.detectors.alarm import PriorAlarm, above_threshold, prior_alarms, suppress_repeats
from santiway_anomaly.detectors.base import Detector, Window, register
from santiway_anomaly.detectors.util import floor_hour, records
from santiway_anomaly.storage.store import Store

_FOLDER_HOURS_SQL = """
SELECT h.folder AS folder, h.hour AS hour,
       -- stable and randomized MACs are disjoint sets: their sum is every distinct device
       h.n_stable + h.n_randomized AS unique_devices,
       h.n_stable AS stable_devices, h.n_randomized AS randomized_macs,
       coalesce(r.peak, 0) AS randomized_peak, h.lat AS lat, h.lon AS lon
FROM
(
    SELECT toString(folder) AS folder, hour,
           uniqExactMerge(stable_devices) AS n_stable,
           uniqExactMerge(randomized_devices) AS n_randomized,
           sum(lat_sum) / sum(sightings) AS lat, sum(lon_sum) / sum(sightings) AS lon
    FROM anomaly_ml.folder_hourly
    WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')} {folder_filter}
    GROUP BY folder, hour
) AS h
LEFT JOIN
(
    SELECT folder, toStartOfHour(slot) AS hour, max(n) AS peak
    FROM
    (
        SELECT toString(folder) AS folder, slot, uniqExactMerge(randomized_devices) AS n
        FROM anomaly_ml.folder_5min
        WHERE slot >= {start:DateTime('UTC')} AND slot < {end:DateTime('UTC')} {folder_filter}
        GROUP BY folder, slot
    )
    GROUP BY folder, hour
) AS r ON h.folder = r.folder AND h.hour = r.hour
"""


def folder_hours(store: Store, start: datetime, end: datetime, folders: list[str] | None = None) -> pd.DataFrame:
    """Per folder per UTC hour in [start, end) (optionally only `folders`): raw and robust counts."""
    sql = _FOLDER_HOURS_SQL.replace(
        "{folder_filter}", "AND folder IN {folders:Array(String)}" if folders is not None else "")
    df = store.query_df(sql, {"start": start, "end": end, "folders": folders or []})
    if df.empty:
        return pd.DataFrame(columns=["folder", "hour", "unique_devices", "stable_devices", "randomized_macs",
                                     "randomized_peak", "lat", "lon", "robust_devices"])
    df["robust_devices"] = df["stable_devices"].astype(float) + df["randomized_peak"].astype(float)
    return df


@register("density")
class DensityDetector(Detector):
    """Per folder per hour distinct-device spikes against the folder's own p95 baseline."""

    name = "density"
    anomaly_type = "density_spike"

    def __init__(self, settings: Settings, folders: list[str] | None = None) -> None:
        self.settings = settings
        self.folders = folders  # None = every folder

    # ---- fit ----------------------------------------------------------------------------

    def fit(self, store: Store, window: Window) -> Self:
        s = self.settings
        if not s.density_ratio_alarm < s.density_ratio_warning < s.density_ratio_critical:
            raise ValueError("DENSITY_RATIO_ALARM < DENSITY_RATIO_WARNING < DENSITY_RATIO_CRITICAL must hold")
        start = floor_hour(window.start)
        hist_start = start - timedelta(days=s.detect_history_days)
        history = folder_hours(store, hist_start, start, self.folders)
        flagged = prior_alarms(store, self.anomaly_type, hist_start, start)
        self.excluded_hours_ = self._drop_flagged(history, flagged)
        history = history[~history["_flagged"]] if "_flagged" in history else history
        self.baseline_ = self._baseline(history, start)
        self.prior_ = prior_alarms(store, self.anomaly_type,
                                   start - timedelta(hours=s.density_cooldown_hours + 1), window.end)
        return self

    @staticmethod
    def _drop_flagged(history: pd.DataFrame, flagged: list[PriorAlarm]) -> int:
        # River's protect_anomaly_detector: an hour already flagged must not become the new normal.
        history["_flagged"] = False
        if history.empty or not flagged:
            return 0
        hours = history["hour"]
        mask = np.zeros(len(history), dtype=bool)
        for p in flagged:
            folder = p.subject.removeprefix("folder:")
            mask |= ((history["folder"] == folder) & (hours >= pd.Timestamp(p.window_start))
                     & (hours < pd.Timestamp(p.window_end))).to_numpy()
        history["_flagged"] = mask
        return int(mask.sum())

    def _baseline(self, history: pd.DataFrame, start: datetime) -> dict[str, dict[str, Any]]:
        """folder -> {"same_hour": {local_hour: (p95, n_days)}, "all_hours": (p95, n_hours)}, vectorised
        over folders (one grid of folder x hour)."""
        s = self.settings
        if history.empty:
            return {}
        end = pd.Timestamp(start)
        first = history.groupby("folder", observed=True)["hour"].min()
        hours = pd.date_range(first.min(), end, freq="h", inclusive="left")
        grid = pd.MultiIndex.from_product([first.index.astype(str), hours], names=["folder", "hour"])
        frame = history.assign(folder=history["folder"].astype(str)).set_index(["folder", "hour"])
        counts = frame["robust_devices"].reindex(grid, fill_value=0.0).reset_index()
        counts["_flagged"] = frame["_flagged"].reindex(grid, fill_value=False).to_numpy()
        # Hours with no sightings are hours with 0 devices, from each folder's first hour on.
        counts = counts[(counts["hour"] >= counts["folder"].map(first.set_axis(first.index.astype(str))))
                        & ~counts["_flagged"]]
        counts["local_hour"] = 0
        for folder in counts["folder"].unique():
            zone = s.zone_for(str(folder))
            if str(zone) != "UTC":
                mask = counts["folder"] == folder
                counts.loc[mask, "local_hour"] = pd.DatetimeIndex(counts.loc[mask, "hour"]).tz_convert(zone).hour
        utc_rows = counts["folder"].map(lambda f: str(s.zone_for(str(f))) == "UTC").to_numpy()
        counts.loc[utc_rows, "local_hour"] = pd.DatetimeIndex(counts.loc[utc_rows, "hour"]).hour
        q = s.density_quantile
        by_hour = counts.groupby(["folder", "local_hour"])["robust_devices"]
        same = pd.DataFrame({"n": by_hour.size(), "p": by_hour.quantile(q)})
        by_folder = counts.groupby("folder")["robust_devices"]
        everything = pd.DataFrame({"n": by_folder.size(), "p": by_folder.quantile(q)})
        out: dict[str, dict[str, Any]] = {
            str(f): {"same_hour": {}, "all_hours": (float(p), int(n)) if n >= s.density_min_history_hours else None}
            for f, n, p in zip(everything.index, everything["n"], everything["p"], strict=True)}
        for (folder, hour), n, p in zip(same.index, same["n"], same["p"], strict=True):
            if n >= s.density_min_same_hour_days:
                out[str(folder)]["same_hour"][int(hour)] = (float(p), int(n))
        return out

    # ---- score --------------------------------------------------------------------------

    def score(self, store: Store, window: Window) -> pd.DataFrame:
        self.check_fitted()
        s = self.settings
        df = folder_hours(store, floor_hour(window.start), window.end, self.folders)
        if df.empty:
            return df.assign(subject=[], score=[], p95_baseline=[], baseline_kind=[], baseline_n=[])
        p95s, kinds, ns, scores = [], [], [], []
        for row in records(df):
            base = self.baseline_.get(str(row.folder))
            local_hour = pd.Timestamp(row.hour).tz_convert(s.zone_for(str(row.folder))).hour
            p95, kind, n = None, "none", 0
            if base is not None and local_hour in base["same_hour"]:
                (p95, n), kind = base["same_hour"][local_hour], "same_hour"
            elif base is not None and base["all_hours"] is not None:
                (p95, n), kind = base["all_hours"], "all_hours"
            p95s.append(p95)
            kinds.append(kind)
            ns.append(n)
            scores.append(self._score_one(float(row.robust_devices), p95))
        df["p95_baseline"] = p95s
        df["baseline_kind"] = kinds
        df["baseline_n"] = ns
        df["score"] = scores
        df["subject"] = "folder:" + df["folder"].astype(str)
        return df

    def _score_one(self, robust: float, p95: float | None) -> float:
        s = self.settings
        if p95 is None:
            return 0.0
        ratio = robust / max(p95, 1.0)
        value = calibrate(ratio, alarm=s.density_ratio_alarm, warning=s.density_ratio_warning,
                          critical=s.density_ratio_critical)
        if robust - p95 < s.density_min_excess:
            value = min(value, ALARM_SCORE - 0.01)  # a big ratio of a tiny number is not a crowd
        return float(value)

    # ---- alarms -------------------------------------------------------------------------

    def alarms(self, scored: pd.DataFrame, window: Window) -> list[Anomaly]:
        s = self.settings
        candidates: list[Anomaly] = []
        for row in records(scored):
            severity = severity_for(float(row.score))
            if severity is None:
                continue
            hour = pd.Timestamp(row.hour).to_pydatetime()
            p95 = float(row.p95_baseline)
            against = []
            if row.randomized_macs > row.randomized_peak:
                against.append(f"{int(row.randomized_macs)} randomized MACs counted as "
                               f"{int(row.randomized_peak)} devices (peak per 5 minutes)")
            if row.baseline_kind == "all_hours":
                against.append("too few days at this hour of day: baseline over all hours")
            candidates.append(Anomaly(
                anomaly_type=self.anomaly_type, severity=severity, score=round(float(row.score), 4),
                window_start=hour, window_end=hour + timedelta(hours=1), folder=str(row.folder),
                lat=float(row.lat), lon=float(row.lon),
                details={
                    "unique_devices": int(row.unique_devices),
                    "robust_devices": int(row.robust_devices),
                    "stable_devices": int(row.stable_devices),
                    "randomized_macs": int(row.randomized_macs),
                    "randomized_peak_5min": int(row.randomized_peak),
                    "p95_baseline": round(p95, 2),
                    "baseline": row.baseline_kind,
                    "baseline_samples": int(row.baseline_n),
                    "ratio": round(float(row.robust_devices) / max(p95, 1.0), 2),
                    "excess": round(float(row.robust_devices) - p95, 1),
                    "reasons": [f"{int(row.robust_devices)} devices vs p95 {p95:.1f} "
                                f"({row.baseline_kind.replace('_', ' ')})"],
                    "against": against,
                },
            ))
        return suppress_repeats(above_threshold(candidates), self.prior_,
                                timedelta(hours=s.density_cooldown_hours))
