"""density_spike: a folder holds far more distinct devices in an hour than its own baseline.

Count: the randomization-robust count (storage/queries/folders.py): distinct stable MACs in the hour
plus the peak of distinct randomized fingerprints (probe ies|ssid when the feed reports them, else
the MAC) in any 5-minute slot of it. Raw MACs stay in the details.

Baseline (`fit`), over *covered* history only (coverage.py): the DENSITY_QUANTILE (p95, as the order
statistic just below it, so a single crowd cannot lift it) of the
folder's count at the same local hour of day over its covered days in the DETECT_HISTORY_DAYS before
the window; a covered hour without sightings is 0 devices, an uncovered hour is no sample at all.
With fewer than DENSITY_MIN_SAME_HOUR_DAYS samples at that hour, the quantile over all its covered
hours is used (evidence x DENSITY_ALL_HOURS_FACTOR). On the folder's quiet weekdays (its weekly rhythm,
learned from its covered days: `_quiet_weekdays`), the quantile is over the same hour (and the
DENSITY_QUIET_SPREAD_HOURS either side) of its quiet days only, when it has DENSITY_MIN_QUIET_DAYS of
them, and never below the mean of that same weekday's days at that hour (a weekly Sunday market is
normal once seen): a Saturday crowd in an office is judged against the office's weekends, not against
its weekdays. A quantile is robust to a few crowds in its
history, so flagged hours are not dropped from it (only an operator's verdict would be).

Score direction and unit: raw = count / baseline (the ratio); level 1 / 2 / 3 at DENSITY_RATIO_ALARM /
_WARNING / _CRITICAL, so higher = more anomalous.

False-alarm budget: each folder's alarm line is raised, where its own history needs it, so that
replaying its covered history (each hour judged against the quantile of the *other* days, leave one
out) would have raised at most DENSITY_BUDGET_PER_WEEK alarm days per week of covered days; the line
never rises above DENSITY_BUDGET_MAX_RATIO.

Evidence against, and its effect on the level:
- the folder is learning (fewer than LEARNING_MIN_DAYS covered days): x0 (no baseline, no alarm);
- the hour is the first after a coverage gap (a restarting sensor hears everyone at once):
  x DENSITY_RESTART_FACTOR (0.5: a clear crowd still shows);
- the excess over the baseline is under DENSITY_MIN_EXCESS devices (a big ratio of a tiny number): x0;
- the baseline is over all hours, not this hour of day: x DENSITY_ALL_HOURS_FACTOR;
- nobody is there: an hour that would alarm (a candidate) whose busiest 5-minute slot holds fewer than
  DENSITY_MIN_EXCESS people at the upper end of the occupancy estimate's interval (`people_high`,
  occupancy.py: near probe fingerprints in the room x mid-range MACs) is a flood of MACs, not a crowd:
  x DENSITY_NO_PEOPLE_FACTOR (0 = veto; 1 = rule off). The estimate is read for the candidates only, in
  one query over just their folder-hours, and `people` / `people_high` go into their details beside the
  raw `unique_devices`. Without probe fields each randomized MAC is its own fingerprint and weighs 1, so
  a real crowd of rotating-MAC phones near the sensor is counted (over-counted, not vetoed).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, Self

import numpy as np
import pandas as pd

from santiway_anomaly.anomaly import ALARM_SCORE
from santiway_anomaly.config import Settings
from santiway_anomaly.coverage import Coverage, Span
from santiway_anomaly.detectors.base import FindingDetector, Window, register
from santiway_anomaly.detectors.context import DetectionContext, SpikeHours
from santiway_anomaly.detectors.findings import Against, Finding
from santiway_anomaly.detectors.util import floor_hour, piecewise_level
from santiway_anomaly.occupancy import busiest_slot_people
from santiway_anomaly.storage.queries.alarm import prior_alarms
from santiway_anomaly.storage.queries.folders import COLUMNS, folder_hour_counts, folder_hours
from santiway_anomaly.storage.store import Store

__all__ = ["DensityDetector", "folder_hours", "spike_hours", "COLUMNS"]


def quantile(values: np.ndarray, q: float) -> float:
    """The q-quantile as the order statistic just below it (numpy's method="lower"): one crowd among
    14 days never lifts a p95 (it is the second largest value there), while an event seen on two of
    those days does (the weekly market is normal)."""
    return float(np.quantile(values, q, method="lower"))


def loo_quantiles(values: np.ndarray, q: float) -> np.ndarray:
    """For each i, `quantile` of `values` without values[i]; NaN when fewer than 2 values.
    Vectorised over i through the sorted order."""
    n = len(values)
    if n < 2:
        return np.full(n, np.nan)
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    k = math.floor((n - 2) * q)
    return np.asarray(ranked[np.where(k < rank, k, k + 1)], dtype=float)


EPOCH_WEEKDAY = 3  # 1970-01-01, local day 0, was a Thursday (Monday = 0)


def _order_statistics(frame: pd.DataFrame, q: float, min_n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """`frame` sorted by folder, local_hour and robust_devices: per (folder, local_hour) group its
    `quantile` p and size n (every group), and per row the quantile of the *other* rows of its group
    (NaN where the group has fewer than max(2, min_n) rows). Vectorised through the sorted order."""
    values = frame["robust_devices"].to_numpy(dtype=float)
    group = frame.groupby(["folder", "local_hour"], sort=False).ngroup().to_numpy()
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    sizes = np.diff(np.r_[starts, len(frame)])
    n = sizes[group]
    first = starts[group]
    rank = np.arange(len(frame)) - first
    enough = n >= max(2, min_n)
    k_all = np.floor((n - 1) * q).astype(np.int64)
    k_loo = np.floor(np.maximum(n - 2, 0) * q).astype(np.int64)
    # Without its own value the order statistic k of the others is at k, or k + 1 at or past its rank.
    loo = np.where(enough, values[np.minimum(first + k_loo + (k_loo >= rank), len(values) - 1)], np.nan)
    table = pd.DataFrame({"folder": frame["folder"].to_numpy()[starts],
                          "local_hour": frame["local_hour"].to_numpy()[starts],
                          "p": values[starts + k_all[starts]], "n": sizes})
    return table.reset_index(drop=True), loo


def _spread_order_statistics(sub: pd.DataFrame, q: float, min_days: int,
                             spread: int) -> tuple[pd.DataFrame, np.ndarray]:
    """`_order_statistics` of the quiet days with each hour's sample pooled with the `spread` hours either
    side of it (a quiet day is flat: 4 weekend days x 3 hours give a tail that 4 samples cannot). Per row
    of `sub` (in its order), the quantile of the pooled samples without the row's own."""
    parts = [sub.assign(local_hour=(sub["local_hour"] + k) % 24, shift=k, orig=np.arange(len(sub)))
             for k in range(-spread, spread + 1)]
    pooled = pd.concat(parts, ignore_index=True).sort_values(["folder", "local_hour", "robust_devices"],
                                                             kind="stable").reset_index(drop=True)
    table, loo = _order_statistics(pooled, q, min_days * (2 * spread + 1))
    own = (pooled["shift"] == 0).to_numpy()
    out = np.full(len(sub), np.nan)
    out[pooled["orig"].to_numpy()[own]] = loo[own]
    return table, out


def _quiet_weekdays(samples: pd.DataFrame, share: float, min_hours: float) -> dict[str, set[int]]:
    """folder -> its quiet weekdays (Monday = 0): the weekly rhythm learned from its own covered history.
    A day's level is its mean count over its covered hours (days with at least `min_hours` of them); a
    weekday is quiet when it has such days and every one of them is under `share` x the folder's median
    day level (an office's weekend; a weekday seen once quiet and once busy is not quiet)."""
    days = samples.groupby(["folder", "local_day"])["robust_devices"].agg(["mean", "size"]).reset_index()
    days = days[days["size"] >= min_hours]
    if days.empty:
        return {}
    days["weekday"] = (days["local_day"].to_numpy(dtype=np.int64) + EPOCH_WEEKDAY) % 7
    days["quiet"] = days["mean"] < share * days.groupby("folder")["mean"].transform("median")
    per = days.groupby(["folder", "weekday"])["quiet"].all().reset_index()
    out: dict[str, set[int]] = {}
    for folder, wd in per[per["quiet"]][["folder", "weekday"]].itertuples(index=False):
        out.setdefault(str(folder), set()).add(int(wd))
    return out


@register("density")
class DensityDetector(FindingDetector):
    """Per folder per hour distinct-device spikes against the folder's own covered-history baseline."""

    name = "density"
    anomaly_type = "density_spike"

    def __init__(self, settings: Settings, folders: list[str] | None = None) -> None:
        self.settings = settings
        self.folders = folders  # None = every folder

    @property
    def _levels(self) -> tuple[float, float, float]:
        s = self.settings
        return (s.density_ratio_alarm, s.density_ratio_warning, s.density_ratio_critical)

    # ---- fit ----------------------------------------------------------------------------

    def coverage_ranges(self, window: Window) -> list[Span]:
        """The history before the window and the window itself (restart hours are judged in it)."""
        return [(floor_hour(window.start) - timedelta(days=self.settings.detect_history_days), window.end)]

    def fit(self, store: Store, window: Window) -> Self:
        s = self.settings
        if not s.density_ratio_alarm < s.density_ratio_warning < s.density_ratio_critical:
            raise ValueError("DENSITY_RATIO_ALARM < DENSITY_RATIO_WARNING < DENSITY_RATIO_CRITICAL must hold")
        start = floor_hour(window.start)
        hist_start = start - timedelta(days=s.detect_history_days)
        self.start_ = start
        self.context_ = self.run_context(store, window)
        self.coverage_ = self.context_.coverage(*self.coverage_ranges(window)[0])
        history = folder_hour_counts(store, hist_start, start, self.folders)  # the robust count is all it needs
        samples = self._samples(history, self.coverage_, start)
        self.baseline_, self.line_ = self._baseline(samples)
        self.prior_ = prior_alarms(store, self.anomaly_type,
                                   start - timedelta(hours=s.density_cooldown_hours + 1), window.end)
        return self

    def _samples(self, history: pd.DataFrame, coverage: Coverage, start: datetime) -> pd.DataFrame:
        """One row per covered folder-hour of history: its robust count (0 where nothing reported)
        and its local hour of day and day."""
        covered = coverage.covered
        covered = covered[covered.index < pd.Timestamp(start)]
        if self.folders is not None:
            covered = covered[[f for f in covered.columns if f in set(self.folders)]]
        if covered.empty or not len(covered.columns):
            return pd.DataFrame(columns=["folder", "hour", "robust_devices", "local_hour", "local_day"])
        stacked = covered.stack()
        stacked = stacked[stacked.to_numpy()]
        idx = stacked.index.set_names(["hour", "folder"])
        frame = pd.DataFrame({"hour": idx.get_level_values("hour"), "folder": idx.get_level_values("folder")})
        counts = history.assign(folder=history["folder"].astype(str),
                                hour=pd.to_datetime(history["hour"], utc=True))
        frame = frame.merge(counts[["folder", "hour", "robust_devices"]], on=["folder", "hour"], how="left")
        frame["robust_devices"] = frame["robust_devices"].fillna(0.0).astype(float)
        frame["local_hour"] = 0
        frame["local_day"] = 0
        # One time-zone look-up per folder, not per folder-hour.
        zones = frame["folder"].map({f: str(self.settings.zone_for(str(f))) for f in frame["folder"].unique()})
        for zone in zones.unique():  # usually one zone: vectorised over every folder in it
            rows = (zones == zone).to_numpy()
            local = pd.DatetimeIndex(frame.loc[rows, "hour"]).tz_convert(zone)
            frame.loc[rows, "local_hour"] = local.hour
            frame.loc[rows, "local_day"] = (local.normalize().tz_localize(None) - pd.Timestamp(0)).days
        return frame

    def _baseline(self, samples: pd.DataFrame) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
        """folder -> {"same_hour": {local_hour: (quantile, n)}, "quiet_hour": {local_hour: (quantile, n)},
        "quiet_weekdays": {weekday}, "weekday_hour": {(weekday, local_hour): mean on its quiet weekdays},
        "all_hours": (quantile, n) | None, "covered_days": n}, and folder -> budget alarm line as a ratio."""
        s = self.settings
        q = s.density_quantile
        if samples.empty:
            return {}, {}
        quiet = _quiet_weekdays(samples, s.density_quiet_day_share, 24 * s.coverage_day_share)
        frame = samples.sort_values(["folder", "local_hour", "robust_devices"], kind="stable").reset_index(drop=True)
        same, loo = _order_statistics(frame, q, s.density_min_same_hour_days)
        frame["loo"] = loo
        weekday = (frame["local_day"].to_numpy(dtype=np.int64) + EPOCH_WEEKDAY) % 7
        # (folder, weekday) pairs of the quiet days, matched as one vectorised look-up (not a test per sample)
        quiet_pairs = pd.MultiIndex.from_tuples([(f, wd) for f, days in quiet.items() for wd in days],
                                                names=["folder", "weekday"])
        on_quiet = pd.MultiIndex.from_arrays([frame["folder"].astype(str).to_numpy(dtype=object), weekday]).isin(
            quiet_pairs) if len(quiet_pairs) else np.zeros(len(frame), dtype=bool)
        quiet_same = same.iloc[:0]
        weekday_hour = pd.DataFrame(columns=["folder", "weekday", "local_hour", "mean"])
        if on_quiet.any():  # the quiet days' own groups: each replayed against the other quiet days
            sub = frame[on_quiet].assign(weekday=weekday[on_quiet])
            quiet_same, quiet_loo = _spread_order_statistics(sub, q, s.density_min_quiet_days,
                                                             s.density_quiet_spread_hours)
            # ... and never below the mean of the same weekday's other days at that hour (a weekly event)
            keys = sub.groupby(["folder", "weekday", "local_hour"], sort=False)["robust_devices"]
            total, count = keys.transform("sum").to_numpy(), keys.transform("size").to_numpy()
            v = sub["robust_devices"].to_numpy(dtype=float)
            same_weekday = np.where(count > 1, (total - v) / np.maximum(count - 1, 1), 0.0)
            frame.loc[on_quiet, "loo"] = np.where(np.isnan(quiet_loo), sub["loo"].to_numpy(),
                                                  np.maximum(quiet_loo, same_weekday))
            pooled_min = s.density_min_quiet_days * (2 * s.density_quiet_spread_hours + 1)
            quiet_same = quiet_same[quiet_same["n"] >= pooled_min]
            weekday_hour = keys.mean().reset_index().rename(columns={"robust_devices": "mean"})
        same = same[same["n"] >= s.density_min_same_hour_days]
        baseline: dict[str, dict[str, Any]] = {}
        lines: dict[str, float] = {}
        for folder, rows in frame.groupby("folder", sort=False):
            v = rows["robust_devices"].to_numpy(dtype=float)
            n_days = int(rows["local_day"].nunique())
            all_hours = (quantile(v, q), len(v)) if len(v) >= s.density_min_history_hours else None
            baseline[str(folder)] = {"same_hour": {}, "quiet_hour": {}, "quiet_weekdays": quiet.get(str(folder), set()),
                                     "weekday_hour": {}, "all_hours": all_hours, "covered_days": n_days}
            lines[str(folder)] = self._budget_line(v, rows["loo"].to_numpy(), rows["local_day"].to_numpy(), n_days)
        for key, table in (("same_hour", same), ("quiet_hour", quiet_same)):
            for folder, hour, p, size in table[["folder", "local_hour", "p", "n"]].itertuples(index=False):
                baseline[str(folder)][key][int(hour)] = (float(p), int(size))
        for folder, wd, hour, mean in weekday_hour[["folder", "weekday", "local_hour", "mean"]].itertuples(index=False):
            baseline[str(folder)]["weekday_hour"][(int(wd), int(hour))] = float(mean)
        return baseline, lines

    def _budget_line(self, values: np.ndarray, loo: np.ndarray, days: np.ndarray, n_days: int) -> float:
        s = self.settings
        ok = ~np.isnan(loo) & (values - loo >= s.density_min_excess)
        if not ok.any():
            return s.density_ratio_alarm
        ratio = values[ok] / np.maximum(loo[ok], 1.0)
        day_max = pd.Series(ratio).groupby(days[ok]).max().sort_values(ascending=False).to_numpy()
        allowed = int(s.density_budget_per_week * n_days / 7)
        if len(day_max) <= allowed:
            return s.density_ratio_alarm
        # Just above the first history day the budget cannot afford.
        line = float(day_max[allowed]) * 1.001
        return float(min(max(line, s.density_ratio_alarm), max(s.density_budget_max_ratio, s.density_ratio_alarm)))

    def alarm_line(self, finding: Finding) -> float:
        ratio = self.line_.get(finding.folder, self.settings.density_ratio_alarm)
        return max(1.0, piecewise_level(ratio, self._levels))

    def cooldown(self) -> timedelta:
        return timedelta(hours=self.settings.density_cooldown_hours)

    # ---- findings -----------------------------------------------------------------------

    def hourly(self, store: Store, window: Window) -> pd.DataFrame:
        """Per folder per hour of the window: counts, baseline, state and the finding (the numbers an
        operator's chart shows are the ones the alarm was judged by)."""
        self.check_fitted()
        df = folder_hours(store, floor_hour(window.start), window.end, self.folders)
        if df.empty:
            return df.assign(p95_baseline=[], baseline_kind=[], baseline_n=[], state=[], score=[], finding=[])
        rows: list[dict[str, Any]] = []
        for rec in df.to_dict("records"):
            finding, extra = self._finding(rec)
            rows.append({**extra, "finding": finding, "score": finding.score(self.alarm_line(finding))})
        self._judge_people(store, rows)
        return pd.concat([df.reset_index(drop=True), pd.DataFrame(rows)], axis=1)

    def _judge_people(self, store: Store, rows: list[dict[str, Any]]) -> None:
        """A crowd is people who are there: the hours that would alarm (candidates) get the occupancy
        estimate of their busiest 5-minute slot, read once for just those folder-hours; a candidate whose
        `people_high` is under DENSITY_MIN_EXCESS is a flood of MACs with nobody near, and its level is
        multiplied by DENSITY_NO_PEOPLE_FACTOR. Updates each row's finding and score in place."""
        s = self.settings
        for row in rows:
            row["people"] = row["people_high"] = None
        if s.density_no_people_factor >= 1:
            return
        candidates = [row for row in rows if row["score"] >= ALARM_SCORE]
        if not candidates:
            return
        keys = [(row["finding"].folder, row["finding"].window_start) for row in candidates]
        busiest = busiest_slot_people(store, s, keys)
        found = {(str(f), pd.Timestamp(h)): (float(p), float(ph)) for f, h, p, ph in
                 busiest[["folder", "hour", "people", "people_high"]].itertuples(index=False)}
        for row, (folder, hour) in zip(candidates, keys, strict=True):
            people, high = found.get((folder, pd.Timestamp(hour)), (0.0, 0.0))
            finding: Finding = row["finding"]
            finding.evidence.update(people=round(people, 2), people_high=round(high, 2))
            row["people"], row["people_high"] = people, high
            if high < s.density_min_excess:
                finding.against.append(Against(
                    f"nobody there: at most {high:.1f} people in the busiest 5 minutes (occupancy estimate, "
                    f"< DENSITY_MIN_EXCESS {s.density_min_excess}) for {finding.evidence['unique_devices']} MACs",
                    s.density_no_people_factor))
                row["score"] = finding.score(self.alarm_line(finding))

    def findings(self, store: Store, window: Window) -> list[Finding]:
        scored = self.hourly(store, window)
        found: list[Finding] = list(scored["finding"]) if len(scored) else []
        if self.folders is None:  # the whole run's answer: the stationary detector reuses it
            self.context_.remember_spike_hours(window.start, window.end, _spikes(scored))
        return found

    def _finding(self, row: dict[Any, Any]) -> tuple[Finding, dict[str, Any]]:
        s = self.settings
        folder = str(row["folder"])
        hour = pd.Timestamp(row["hour"])
        hour = hour.tz_localize("UTC") if hour.tzinfo is None else hour.tz_convert("UTC")
        local_hour = hour.tz_convert(s.zone_for(folder)).hour
        base = self.baseline_.get(folder)
        covered_days = int(base["covered_days"]) if base else 0
        p95: float | None = None
        kind, n = "none", 0
        local = hour.tz_convert(s.zone_for(folder))
        if base is not None and local.weekday() in base["quiet_weekdays"] and local_hour in base["quiet_hour"]:
            (p95, n), kind = base["quiet_hour"][local_hour], "same_hour_quiet_days"
            p95 = max(p95, base["weekday_hour"].get((local.weekday(), local_hour), 0.0))
        elif base is not None and local_hour in base["same_hour"]:
            (p95, n), kind = base["same_hour"][local_hour], "same_hour"
        elif base is not None and base["all_hours"] is not None:
            (p95, n), kind = base["all_hours"], "all_hours"
        robust = float(row["robust_devices"])
        ratio = robust / max(p95, 1.0) if p95 is not None else 0.0
        against: list[Against] = []
        state = "ready" if covered_days >= s.learning_min_days and p95 is not None else "learning"
        if state == "learning":
            against.append(Against(f"learning: {covered_days} covered days of history "
                                   f"(< LEARNING_MIN_DAYS {s.learning_min_days})", 0.0))
        elif self.coverage_.is_restart(folder, hour.to_pydatetime()):
            against.append(Against("first hour after a coverage gap: a restarting sensor hears everyone at once",
                                   s.density_restart_factor))
        if p95 is not None and robust - p95 < s.density_min_excess:
            against.append(Against(f"only {robust - p95:+.0f} devices over the baseline "
                                   f"(< DENSITY_MIN_EXCESS {s.density_min_excess})", 0.0))
        if kind == "all_hours":
            against.append(Against("too few covered days at this hour of day: baseline over all hours",
                                   s.density_all_hours_factor))
        reasons = [f"{robust:.0f} devices vs p95 {p95:.1f} ({kind.replace('_', ' ')}, {n} covered samples)"] \
            if p95 is not None else []
        if row["randomized_macs"] > row["fingerprint_peak"]:
            reasons.append(f"{int(row['randomized_macs'])} randomized MACs counted as "
                           f"{int(row['fingerprint_peak'])} devices (peak of probe fingerprints per 5 minutes)")
        p95_out = round(p95, 2) if p95 is not None else None
        finding = Finding(
            subject=f"folder:{folder}", window_start=hour.to_pydatetime(),
            window_end=(hour + pd.Timedelta(hours=1)).to_pydatetime(),
            level=piecewise_level(ratio, self._levels), raw=ratio, pattern="crowd", reasons=reasons, against=against,
            evidence={
                "unique_devices": int(row["unique_devices"]), "robust_devices": int(robust),
                "stable_devices": int(row["stable_devices"]), "randomized_macs": int(row["randomized_macs"]),
                "randomized_peak_5min": int(row["randomized_peak"]),
                "fingerprint_peak_5min": int(row["fingerprint_peak"]), "p95_baseline": p95_out,
                "baseline": kind, "baseline_samples": int(n), "covered_days": covered_days,
                "ratio": round(ratio, 2), "excess": round(robust - p95, 1) if p95 is not None else None,
                "budget_line_ratio": round(self.line_.get(folder, s.density_ratio_alarm), 2), "state": state,
            },
            folder=folder, lat=float(row["lat"]), lon=float(row["lon"]))
        return finding, {"p95_baseline": p95_out, "baseline_kind": kind, "baseline_n": int(n), "state": state,
                         "covered": self.coverage_.is_covered(folder, hour.to_pydatetime())}


def _spikes(scored: pd.DataFrame) -> SpikeHours:
    spikes = scored[scored["score"] >= ALARM_SCORE] if len(scored) else scored
    return {(str(f), int(pd.Timestamp(h).timestamp()))
            for f, h in zip(spikes.get("folder", []), spikes.get("hour", []), strict=True)}


def spike_hours(context: DetectionContext, window: Window) -> SpikeHours:
    """(folder, UTC hour start in epoch seconds) of the window's hours at density alarm level: the
    density detector's own answer when it ran over the same window in this run (`context`), computed once
    otherwise (and kept in the context for the rest of the run)."""
    found = context.spike_hours(window.start, window.end)
    if found is None:
        det = DensityDetector(context.settings).using(context).fit(context.store, window)
        found = _spikes(det.hourly(context.store, window))
        context.remember_spike_hours(window.start, window.end, found)
    return found
