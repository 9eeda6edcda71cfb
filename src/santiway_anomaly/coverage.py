"""Coverage: when each sensor, and so each folder, was listening (DESIGN.md "Coverage").

Missing data is not zero devices. Coverage is derived from the sightings themselves:

- A sensor's *home* is the folder it reports in most; a sensor with less than COVERAGE_HOME_SHARE
  of its hours in one folder moves between folders (a patrol) and says nothing about coverage.
- A fixed sensor is *listening* in an hour when it reported then, or when the hour lies on one of
  its active local days (days with any report) at a local hour of day in which it does not
  normally report (on fewer than COVERAGE_NORMAL_SHARE of its active days): that silence is a
  quiet hour with 0 devices. A silence at an hour in which it normally reports is an outage, and so
  is a whole day without a single report. With fewer than 3 active days every silence is an outage.
- A folder-hour is *covered* when at least COVERAGE_MIN_SHARE of the folder's fixed sensors were
  listening (a sensor is the folder's between its first and last active day). A folder with no
  fixed sensor is covered exactly in the hours in which something reported there.
- In a folder with a *heartbeat* (a stable device heard in nearly every hour anything was heard there,
  day and night: the lab's Raspberry Pis, an access point), silence is the sensor being off, whatever the
  hour: such a sensor is never quiet while it listens, so only the hours it reported in are covered.
- The first covered hour after an uncovered one is a *restart* hour: a sensor coming back hears
  every device around at once, so it is not judged as a spike.
- A local day (or night) is covered when at least COVERAGE_DAY_SHARE of its hours are.
- A subject with fewer than LEARNING_MIN_DAYS covered days of history is *learning*: no
  baseline-relative alarm for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd

from santiway_anomaly.config import Settings
from santiway_anomaly.detectors.util import floor_hour, utc
from santiway_anomaly.storage.queries.coverage import sensor_hours
from santiway_anomaly.storage.queries.fixtures import heartbeat_folders
from santiway_anomaly.storage.store import Store

State = Literal["learning", "ready"]
MIN_ACTIVE_DAYS_FOR_RHYTHM = 3  # below this a sensor's normal hours are unknown: every silence is an outage
# A heartbeat needs this many heard hours in the folder (ours: half a day; fewer says nothing).
HEARTBEAT_MIN_HOURS = 12
# ... at this many distinct hours of the day (ours: three quarters of the day; a 9-hour shift reaches 9-10).
HEARTBEAT_HOURS_OF_DAY = 18


@dataclass
class Coverage:
    """Coverage of every folder for every UTC hour in [start, end)."""

    settings: Settings
    start: datetime
    end: datetime
    hours: pd.DatetimeIndex
    share: pd.DataFrame  # hours x folders: share of the folder's fixed sensors listening, in [0, 1]
    reported: pd.DataFrame  # hours x folders: something reported in the folder
    fixed_sensors: dict[str, list[str]] = field(default_factory=dict)  # folder -> its fixed sensors
    mobile_sensors: list[str] = field(default_factory=list)
    heartbeat: frozenset[str] = frozenset()  # folders whose silence is always an outage

    def with_heartbeat(self, folders: Iterable[str]) -> Coverage:
        """The same coverage where, in `folders` (those with a heartbeat), only reported hours count as
        listening: their sensors hear an always-on device whenever they are on."""
        beats = frozenset(str(f) for f in folders) & set(self.folders)
        if not beats:
            return replace(self, heartbeat=frozenset())
        share = self.share.copy()
        for folder in sorted(beats):
            share[folder] = share[folder].where(self.reported[folder].fillna(False).astype(bool), 0.0)
        return replace(self, share=share, heartbeat=beats)

    # ---- hours ------------------------------------------------------------------------------

    @property
    def folders(self) -> list[str]:
        return [str(c) for c in self.share.columns]

    @cached_property
    def covered(self) -> pd.DataFrame:
        """hours x folders, True where the folder-hour is covered."""
        return self.share >= self.settings.coverage_min_share

    @cached_property
    def restart(self) -> pd.DataFrame:
        """hours x folders, True on the first covered hour after an uncovered one."""
        cov = self.covered
        before = cov.shift(1, fill_value=True)
        return cov & ~before

    @cached_property
    def _positions(self) -> tuple[dict[pd.Timestamp, int], dict[str, int]]:
        return ({ts: i for i, ts in enumerate(self.share.index)},
                {str(f): j for j, f in enumerate(self.share.columns)})

    def _lookup(self, matrix: pd.DataFrame, folder: str, hour: datetime) -> bool:
        rows, cols = self._positions
        i = rows.get(pd.Timestamp(floor_hour(hour)))
        j = cols.get(folder)
        return False if i is None or j is None else bool(matrix.iat[i, j])

    def is_covered(self, folder: str, hour: datetime) -> bool:
        return self._lookup(self.covered, folder, hour)

    def is_restart(self, folder: str, hour: datetime) -> bool:
        return self._lookup(self.restart, folder, hour)

    def covered_hours(self, folder: str, before: datetime | None = None) -> pd.DatetimeIndex:
        if folder not in self.share.columns:
            return pd.DatetimeIndex([], tz="UTC")
        col = self.covered[folder]
        if before is not None:
            col = col[col.index < pd.Timestamp(utc(before))]
        return pd.DatetimeIndex(col.index[col.to_numpy()])

    # ---- days -------------------------------------------------------------------------------

    def covered_days(self, folder: str, *, before: datetime | None = None,
                     hours_of_day: Iterable[int] | None = None) -> list[date]:
        """Local days of `folder` (its TIMEZONE) with at least COVERAGE_DAY_SHARE of their hours
        covered; with `hours_of_day` only those local hours count (a night is hours 0..5)."""
        if folder not in self.share.columns:
            return []
        col = self.covered[folder]
        if before is not None:
            col = col[col.index < pd.Timestamp(utc(before))]
        if col.empty:
            return []
        local = pd.DatetimeIndex(col.index).tz_convert(self.settings.zone_for(folder))
        frame = pd.DataFrame({"day": local.date, "hour": local.hour, "covered": col.to_numpy()})
        if hours_of_day is not None:
            frame = frame[frame["hour"].isin(set(hours_of_day))]
            expected = len(set(hours_of_day))
        else:
            expected = 24
        if frame.empty:
            return []
        # A day at the edge of the range has fewer hours in it: judge it by the hours it should have.
        per_day = frame.groupby("day")["covered"].sum()
        need = self.settings.coverage_day_share * expected
        return [d for d, n in per_day.items() if n >= need]  # type: ignore[misc]

    def state(self, folder: str, before: datetime) -> State:
        return "ready" if len(self.covered_days(folder, before=before)) >= self.settings.learning_min_days \
            else "learning"

    def summary(self, before: datetime) -> dict[str, dict[str, object]]:
        """folder -> {state, covered_days, covered_hours, hours, sensors}: what /health and the
        folder pages show."""
        out: dict[str, dict[str, object]] = {}
        for folder in self.folders:
            hours = self.covered_hours(folder, before)
            total = int((self.share.index < pd.Timestamp(utc(before))).sum())
            out[folder] = {"state": self.state(folder, before),
                           "covered_days": len(self.covered_days(folder, before=before)),
                           "covered_hours": len(hours), "hours": total,
                           "fixed_sensors": len(self.fixed_sensors.get(folder, []))}
        return out


Span = tuple[datetime, datetime]


def hour_span(start: datetime, end: datetime) -> Span:
    """[start, end) widened to whole UTC hours: the range a coverage is computed for."""
    return floor_hour(start), floor_hour(end - timedelta(microseconds=1)) + timedelta(hours=1)


def load_coverage(store: Store, settings: Settings, start: datetime, end: datetime) -> Coverage:
    """Coverage of every folder that reported in [start, end) (hour-aligned), heartbeats included."""
    return CoverageReader(store, settings).coverage(start, end)


class CoverageReader:
    """Coverage of several ranges from one read of the store: a detection run asks for up to four (each
    detector's history, the returning look-back, fixture learning), and each is computed exactly as
    `load_coverage` of that range alone would (a sensor's rhythm, home folder and active days depend on
    the range, so one range's coverage is not a slice of another's).

    The ranges announced with `expect` before the first `coverage` are read together: the sensors' reports
    once over their union (every range's own are a subset of its rows), and the heartbeats of all of them
    in one query. A range asked for later costs a read of its own."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._expected: list[Span] = []
        self._reports: list[tuple[Span, pd.DataFrame]] = []  # (hour-aligned span read, its report rows)
        self._beats: dict[Span, frozenset[str]] = {}
        self._made: dict[Span, Coverage] = {}

    def expect(self, ranges: Iterable[Span]) -> None:
        """Announce ranges that will be asked for, so that one read serves them all."""
        for start, end in ranges:
            span = hour_span(start, end)
            if span not in self._expected:
                self._expected.append(span)

    def coverage(self, start: datetime, end: datetime) -> Coverage:
        span = hour_span(start, end)
        if span not in self._made:
            self._read([span, *[e for e in self._expected if e not in self._beats]])
            coverage = coverage_from_reports(self._rows(span), self.settings, *span)
            self._made[span] = coverage.with_heartbeat(self._beats[span]) if coverage.folders else coverage
        return self._made[span]

    def _read(self, spans: list[Span]) -> None:
        s = self.settings
        missing = [x for x in spans if x not in self._beats]
        if missing:
            found = heartbeat_folders(self.store, missing, s.fixture_heartbeat_share, HEARTBEAT_MIN_HOURS,
                                      HEARTBEAT_HOURS_OF_DAY)
            self._beats.update({x: frozenset(b) for x, b in zip(missing, found, strict=True)})
        unread = [x for x in spans if not any(_inside(x, read) for read, _ in self._reports)]
        if unread:
            union = (min(a for a, _ in unread), max(b for _, b in unread))
            self._reports.append((union, sensor_hours(self.store, *union)))

    def _rows(self, span: Span) -> pd.DataFrame:
        """The report rows of `span`, cut from a read that holds it (rows are whole UTC hours)."""
        read, rows = next((r, rows) for r, rows in self._reports if _inside(span, r))
        if read == span or rows.empty:
            return rows
        hour = pd.to_datetime(rows["hour"], utc=True)
        keep = ((hour >= pd.Timestamp(span[0])) & (hour < pd.Timestamp(span[1]))).to_numpy()
        return rows[keep].reset_index(drop=True)


def _inside(inner: Span, outer: Span) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def coverage_from_reports(reports: pd.DataFrame, settings: Settings, start: datetime, end: datetime) -> Coverage:
    """The same from (sensor, folder, hour) report rows: the pure part, testable without a store."""
    hours = pd.date_range(pd.Timestamp(utc(start)), pd.Timestamp(utc(end)), freq="h", inclusive="left")
    if reports.empty:
        empty = pd.DataFrame(index=hours, dtype=float)
        return Coverage(settings, utc(start), utc(end), hours, empty, empty.astype(bool))
    rep = reports.assign(hour=pd.to_datetime(reports["hour"], utc=True), sensor=reports["sensor"].astype(str),
                         folder=reports["folder"].astype(str))
    folders = sorted(rep["folder"].unique())
    reported = (rep.groupby(["hour", "folder"]).size().unstack("folder").reindex(index=hours, columns=folders)
                .notna())

    # Home folder and mobility, by distinct hours.
    per = rep.groupby(["sensor", "folder"])["hour"].nunique()
    total = rep.groupby("sensor")["hour"].nunique()
    best = per.groupby(level="sensor").idxmax().map(lambda k: k[1])
    home_share = per.groupby(level="sensor").max() / total
    fixed = home_share[home_share >= settings.coverage_home_share].index.tolist()
    mobile = sorted(set(total.index) - set(fixed))

    # hours x folders, filled column by column as a plain array (a DataFrame column assignment per folder
    # cost more than the arithmetic on a site of hundreds of folders)
    share_mat = np.zeros((len(hours), len(folders)), dtype=np.float64)
    col_of = {str(f): j for j, f in enumerate(folders)}
    fixed_by_folder: dict[str, list[str]] = {}
    for sensor in fixed:
        fixed_by_folder.setdefault(str(best[sensor]), []).append(str(sensor))
    by_zone: dict[str, list[str]] = {}
    for folder in fixed_by_folder:
        by_zone.setdefault(str(settings.zone_for(folder)), []).append(folder)
    for zone_name, zone_folders in by_zone.items():
        sensors = [x for f in zone_folders for x in fixed_by_folder[f]]
        listening, member = _listening(rep[rep["sensor"].isin(sensors)], sensors, hours, zone_name, settings)
        owner = np.array([best[x] for x in sensors])
        for folder in zone_folders:
            cols = owner == folder
            n_member = member[:, cols].sum(axis=1)
            share_mat[:, col_of[folder]] = np.where(n_member > 0, (listening[:, cols] & member[:, cols]).sum(axis=1)
                                                    / np.maximum(n_member, 1), 0.0)
    # Folders without a fixed sensor: covered exactly where something reported.
    for folder in folders:
        if folder not in fixed_by_folder:
            share_mat[:, col_of[folder]] = reported[folder].to_numpy(dtype=np.float64)
    share = pd.DataFrame(share_mat, index=hours, columns=folders)
    return Coverage(settings, utc(start), utc(end), hours, share, reported, fixed_by_folder, mobile)


def _listening(rows: pd.DataFrame, sensors: list[str], hours: pd.DatetimeIndex, zone: str,
               settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """hours x sensors: listening (reported, or a quiet hour of an active day) and membership (between
    the sensor's first and last active day), for sensors sharing one time zone, all at once."""
    local = hours.tz_convert(zone)
    day_code, _ = pd.factorize(pd.Index(local.date), sort=True)
    hod = np.asarray(local.hour)
    heard = (rows.groupby(["hour", "sensor"]).size().unstack("sensor").reindex(index=hours, columns=sensors)
             .notna().to_numpy())
    active = pd.DataFrame(heard).groupby(day_code).any().to_numpy()  # days x sensors
    on_active = active[day_code]  # hours x sensors
    n_active = active.sum(axis=0)
    # Share of active days on which each sensor reported at each local hour of day.
    counts = pd.DataFrame(heard & on_active).groupby(hod).sum().reindex(range(24), fill_value=0).to_numpy()
    days_at = pd.DataFrame(on_active).groupby(hod).sum().reindex(range(24), fill_value=0).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(days_at > 0, counts / np.maximum(days_at, 1), 0.0)
    quiet = (p[hod] < settings.coverage_normal_share) & (n_active >= MIN_ACTIVE_DAYS_FOR_RHYTHM)[None, :]
    listening = heard | (on_active & quiet)
    idx = np.arange(active.shape[0])[:, None]
    first = np.where(active.any(axis=0), np.where(active, idx, active.shape[0]).min(axis=0), active.shape[0])
    last = np.where(active, idx, -1).max(axis=0)
    member = (day_code[:, None] >= first[None, :]) & (day_code[:, None] <= last[None, :])
    return listening, member
