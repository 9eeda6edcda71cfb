"""night_activity: activity between NIGHT_START_HOUR and NIGHT_END_HOUR local time that the
device's own history (or, for a new device, its folder's known night population) says should not be
there. docs/detectors.md "night" is the operator's version of this page.

Raw score and level: the device's distinct active minutes at night (`raw`), placed on the level
scale at NIGHT_MINUTES_ALARM / _WARNING / _CRITICAL (1 / 2 / 3); higher = more anomalous. Evidence
against multiplies the level by a documented factor (`Against`), and the shared step
(`FindingDetector`) turns it into the common [0, 1] score.

Every baseline counts covered time only (coverage.py): a night on which the folder's sensors were
not listening is no night of anybody's history, and a device's history starts at its first sighting
(the nights before it are not its quiet nights). Nothing is dropped from a baseline because it
alarmed; only devices whose night alarm an operator confirmed leave the folder's known night population.

Who is judged how:
- *own history*: a device with >= NIGHT_MIN_HISTORY_DAYS active days and >= NIGHT_MIN_HISTORY_NIGHTS
  covered nights since its first sighting. A night device (heard at night on >= max(NIGHT_REGULAR_MIN_NIGHTS,
  NIGHT_REGULAR_FRACTION x covered nights)) or a device without a daytime rhythm (share of covered night
  hours heard >= NIGHT_RHYTHM_RATIO x share of covered day hours heard) is vetoed (factor 0); a device
  heard on some earlier nights gets factor 1 - nights heard / covered nights.
- *folder* (a new device): judged against the folder's known night population, the stable devices heard
  at night there on >= NIGHT_KNOWN_MIN_NIGHTS earlier covered nights. A known one is vetoed; a new one
  active for NIGHT_NEW_DEVICE_MIN_MINUTES or more is a stranger there, however many people work there at
  night (issue 11 item 5): their number says nothing about a device none of them is. What does speak for
  it: it came and left with one of them (both ends of its night within NIGHT_SHIFT_TOLERANCE_MINUTES of a
  known night person's, equipment heard round the clock not counted): on their shift, vetoed. A folder
  with fewer than LEARNING_MIN_DAYS covered nights is learning: vetoed.
- randomized MACs are judged as a population per folder (subject `folder:<name>`): the night's peak of
  distinct randomized MACs per 5 minutes against p95 over the folder's covered nights (raw = ratio,
  levels NIGHT_RANDOM_RATIO x 1 / 1.5 / 2.5); an excess below NIGHT_RANDOM_MIN_EXCESS MACs vetoes.
- for every device: a far reading (never closer than NIGHT_FAR_RSSI_DBM tonight: beyond the folder's
  walls), a learned fixture (known.learn_fixtures; asked only about findings nothing else
  vetoed, which keeps a large site cheap), the operators' known list, fewer than
  NIGHT_MIN_SIGHTINGS sightings, an early arrival (a session starting within NIGHT_GRACE_MINUTES of the
  night's end and running into the day) or a late leave: factor 0.

The night of local date D is [D NIGHT_START_HOUR, D NIGHT_END_HOUR) (starting the evening before when
NIGHT_START_HOUR > NIGHT_END_HOUR); each finding's window is that night, so a device yields at most
one anomaly per night and re-running never duplicates it.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Self
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from santiway_anomaly.config import Settings
from santiway_anomaly.coverage import Span
from santiway_anomaly.detectors.base import FindingDetector, Window, register
from santiway_anomaly.detectors.findings import Against, Finding
from santiway_anomaly.detectors.util import as_date, floor_hour, piecewise_level, records, utc
from santiway_anomaly.storage.queries.known import is_exempt, load_allowlist
from santiway_anomaly.storage.queries.night import (
    confirmed_devices,
    device_history,
    folder_clause,
    folder_night_devices,
    night_params,
    night_sensor_maxima,
    night_sessions,
    randomized_night_peaks,
)
from santiway_anomaly.storage.store import Store

VETO = 0.0


@dataclass
class FolderNights:
    """One folder's covered history, hour by hour and night by night (before the scored window)."""

    hours: pd.DatetimeIndex  # UTC hours of the history
    night_after: npt.NDArray[np.int64]  # heard night hours (listening, something heard) from hour i on
    day_after: npt.NDArray[np.int64]  # heard day hours from hour i on
    nights: list[date]  # covered nights (labels), ascending
    heard_ends: list[datetime]  # end times (UTC) of the covered nights on which something was heard, ascending

    def __post_init__(self) -> None:
        # The hours as epoch seconds: `since` runs once or twice per night session (thousands on a large
        # site), and a search in a plain array costs a fraction of a DatetimeIndex search.
        self._hours_s = np.asarray(self.hours.as_unit("s").asi8, dtype=np.float64)

    def since(self, first: datetime) -> tuple[int, int, int]:
        """Heard covered nights ending after `first`, heard night hours and heard day hours from `first` on."""
        i = int(np.searchsorted(self._hours_s, utc(first).timestamp(), side="left"))
        n = len(self.heard_ends) - bisect.bisect_right(self.heard_ends, first)
        if i >= len(self.hours):
            return n, 0, 0
        return n, int(self.night_after[i]), int(self.day_after[i])


@register("night")
class NightDetector(FindingDetector):
    """Per device per night: night activity against the device's own history or its folder's known
    night population; per folder per night: a crowd of randomized MACs at night."""

    name = "night"
    anomaly_type = "night_activity"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # ---- helpers ------------------------------------------------------------------------

    @property
    def _duration(self) -> int:
        return (self.settings.night_end_hour - self.settings.night_start_hour) % 24

    def _params(self, tz: str) -> dict[str, Any]:
        return night_params(tz, self.settings.night_start_hour, self.settings.night_end_hour)

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
        end = datetime.combine(label, time(self.settings.night_end_hour), tzinfo=zone)
        return utc(end - timedelta(hours=self._duration)), utc(end)

    def _folder_nights(self, listening: pd.DataFrame, reported: pd.DataFrame, folder: str) -> FolderNights:
        s = self.settings
        hours = pd.date_range(pd.Timestamp(self.history_start_), pd.Timestamp(self.history_end_), freq="h",
                              inclusive="left")
        if folder in listening.columns:
            covered = listening[folder].reindex(hours, fill_value=False).to_numpy(dtype=bool)
            heard = covered & reported[folder].reindex(hours, fill_value=False).fillna(False).to_numpy(dtype=bool)
        else:
            covered = heard = np.zeros(len(hours), dtype=bool)
        zone = s.zone_for(folder)
        local = hours.tz_convert(zone)
        night = ((np.asarray(local.hour) + 24 - s.night_start_hour) % 24) < self._duration
        labels = np.asarray((local + pd.Timedelta(hours=(24 - s.night_start_hour + 1) % 24)).date)
        night_after = np.cumsum((heard & night)[::-1])[::-1].astype(np.int64)
        day_after = np.cumsum((heard & ~night)[::-1])[::-1].astype(np.int64)
        frame = pd.DataFrame({"label": labels[night], "covered": covered[night], "heard": heard[night]})
        per_night = frame.groupby("label").agg(covered=("covered", "sum"), heard=("heard", "sum"))
        # A night at the edge of the history has fewer hours in it: it must still be mostly covered.
        good = per_night[per_night["covered"] >= s.coverage_day_share * self._duration]
        nights = sorted(as_date(d) for d in good.index)
        # A device's absence counts only on nights the folder heard something: coverage.py takes a silent
        # night of a sensor that rarely reports at night for a quiet one, and where recordings are
        # sessions of a few hours (the lab), that night was never recorded.
        heard_nights = sorted(as_date(d) for d in good.index[good["heard"].to_numpy() > 0])
        ends = [self._night_bounds(d, zone)[1] for d in heard_nights]
        return FolderNights(hours, night_after, day_after, nights, ends)

    def folder_nights(self, folder: str) -> FolderNights:
        if folder not in self.folders_:
            self.folders_[folder] = self._folder_nights(self.listening_, self.coverage_.reported, folder)
        return self.folders_[folder]

    # ---- fit ----------------------------------------------------------------------------

    def coverage_ranges(self, window: Window) -> list[Span]:
        """The history before the window (fixture learning reads the same range)."""
        end = floor_hour(window.start)
        return [(end - timedelta(days=self.settings.detect_history_days), end)]

    def fit(self, store: Store, window: Window) -> Self:
        s = self.settings
        self.history_start_ = floor_hour(window.start) - timedelta(days=s.detect_history_days)
        self.history_end_ = floor_hour(window.start)
        self.allow_ = load_allowlist(store)
        self.context_ = self.run_context(store, window)
        self.coverage_ = self.context_.coverage(self.history_start_, self.history_end_)
        self.listening_ = self.coverage_.covered
        # Only operator-confirmed night alarms leave the baselines (DESIGN.md "Baselines that do not
        # feed on their own alarms"): robust statistics absorb the rest.
        self.confirmed_ = confirmed_devices(store, self.anomaly_type, self.history_start_, self.history_end_)
        self.calibration_ = self.context_.calibration(window.start)  # the sensors' levels (calibration.py)
        self.folders_: dict[str, FolderNights] = {}
        self.prior_ = []  # one finding per subject per night by construction: nothing to suppress
        return self

    # ---- findings -----------------------------------------------------------------------

    def findings(self, store: Store, window: Window) -> list[Finding]:
        self.check_fitted()
        groups = []
        for tz, folders, exclude in self._tz_groups():
            params = self._params(tz)
            where, fparams = folder_clause(folders, exclude)
            sessions = night_sessions(store, {**params, **fparams}, where, window.start, window.end)
            groups.append((tz, params, where, fparams, sessions))
        self.folders_ = {}
        found: list[Finding] = []
        for tz, params, where, fparams, sessions in groups:
            if not sessions.empty:
                found.extend(self._device_findings(store, sessions, tz, params, window))
            found.extend(self._population_findings(store, window, tz, {**params, **fparams}, where))
        return found

    def _device_findings(self, store: Store, sessions: pd.DataFrame, tz: str,
                         params: dict[str, Any], window: Window) -> list[Finding]:
        s = self.settings
        zone = ZoneInfo(tz)
        ids = sorted(sessions["device_id"].astype(str).unique().tolist())
        hist = device_history(store, params, ids, self.history_start_, self.history_end_)
        hist_rows: dict[str, dict[str, Any]] = {
            str(r["device_id"]): r for r in hist.to_dict("records")}  # type: ignore[misc]
        judged: dict[str, dict[str, Any] | None] = {}
        rows = list(records(sessions))  # read once: every pass below walks the same rows
        for row in rows:
            judged[row.device_id] = self._own_history(row, hist_rows.get(str(row.device_id)))
        new_folders = sorted({str(r.folder) for r in rows if judged[r.device_id] is None})
        population = folder_night_devices(store, params, new_folders, self.history_start_, self.history_end_)
        population = population.assign(device_id=population["device_id"].astype(str),
                                       folder=population["folder"].astype(str), night=population["night"].map(as_date))
        population = population[~population["device_id"].isin(self.confirmed_)]
        per_device = population.groupby(["folder", "device_id"])["night"].nunique()
        nights_here: dict[tuple[str, str], int] = {
            (str(f), str(d)): int(n) for f, d, n in zip(per_device.index.get_level_values(0),
                                                        per_device.index.get_level_values(1), per_device, strict=True)}
        known_here: dict[str, int] = defaultdict(int)  # the size of each folder's known night population
        for (folder, _device), n in nights_here.items():
            known_here[folder] += n >= s.night_known_min_nights
        grace = timedelta(minutes=s.night_grace_minutes)
        calibrated = self._calibrated_maxima(store, sessions, params, window)
        out: list[Finding] = []
        for row in rows:
            device, folder = str(row.device_id), str(row.folder)
            label = as_date(row.night)
            night_start, night_end = self._night_bounds(label, zone)
            first = utc(pd.Timestamp(row.first_ts).to_pydatetime())
            last = utc(pd.Timestamp(row.last_ts).to_pydatetime())
            minutes = float(row.night_minutes)
            reasons: list[str] = []
            against: list[Against] = []
            own = judged[device]
            evidence: dict[str, Any] = {
                "night_sightings": int(row.n_night), "night_minutes": int(minutes), "first_seen": first.isoformat(),
                "last_seen": last.isoformat(), "local_night": label.isoformat(), "timezone": tz,
                "rssi_mean": round(float(row.rssi_mean), 1), "rssi_max": int(row.rssi_max)}
            if own is not None:
                evidence.update(judged_by="device", **own)
                self._judge_by_device(device, own, reasons, against)
            else:
                covered_nights = len(self.folder_nights(folder).nights)
                known_nights = int(nights_here.get((folder, device), 0))
                evidence.update(judged_by="folder",
                                history_active_days=int(hist_rows.get(device, {}).get("active_days", 0)),
                                folder_covered_nights=covered_nights, earlier_nights_here=known_nights,
                                folder_known_night_devices=known_here[folder])
                self._judge_by_folder(evidence, (last - first).total_seconds() / 60, reasons, against)
            if is_exempt(self.allow_, device, self.anomaly_type):
                against.append(Against("on the known-devices list", VETO))
            if first >= night_end - grace and row.morning > 0:
                against.append(Against("early arrival: the session starts near the night's end and runs into "
                                       "the day", VETO))
            elif last < night_start + grace and row.evening > 0:
                against.append(Against("late leave: the session began in the evening and ends soon after the "
                                       "night starts", VETO))
            strongest, via = float(row.rssi_max), ""
            if (device, label) in calibrated:  # on the reference scale (calibration.py)
                strongest, sensor = calibrated[(device, label)]
                evidence.update(rssi_max_calibrated=round(strongest, 1), rssi_max_sensor=sensor)
                via = f" calibrated ({self.calibration_.describe(sensor)})" if self.calibration_.offset(sensor) else ""
            if strongest < s.night_far_rssi_dbm:
                against.append(Against(f"far: never closer than {strongest:.0f} dBm{via} tonight, beyond the "
                                       f"folder (NIGHT_FAR_RSSI_DBM {s.night_far_rssi_dbm})", VETO))
            if row.n_night < s.night_min_sightings:
                against.append(Against(f"only {int(row.n_night)} sightings (NIGHT_MIN_SIGHTINGS "
                                       f"{s.night_min_sightings})", VETO))
            reasons.append(f"{int(minutes)} active minutes at night")
            level = piecewise_level(minutes, (s.night_minutes_alarm, s.night_minutes_warning,
                                              s.night_minutes_critical))
            out.append(Finding(
                subject=device, window_start=night_start, window_end=night_end, level=level, raw=minutes,
                pattern="night_device", reasons=reasons, against=against, evidence=evidence, device_id=device,
                folder=folder, vendor=str(row.vendor), network_type=str(row.network_type), lat=float(row.lat),
                lon=float(row.lon)))
        self._with_the_night_shift(out, rows, nights_here, hist_rows)
        self._fixtures(store, out)
        return out

    def _calibrated_maxima(self, store: Store, sessions: pd.DataFrame, params: dict[str, Any],
                           window: Window) -> dict[tuple[str, date], tuple[float, str]]:
        """(device, night) -> (strongest night reading on the reference scale, the sensor that gave it), for
        the devices whose far veto the sensors' offsets could change (calibration.py); none when no sensor
        has an offset. A reading is corrected by its own sensor's offset before the strongest is taken."""
        offsets = self.calibration_.offsets
        if not offsets:
            return {}
        cut = self.settings.night_far_rssi_dbm + max(0.0, max(offsets.values()))
        ids = sorted({str(d) for d, m in zip(sessions["device_id"], sessions["rssi_max"], strict=True) if m < cut})
        df = night_sensor_maxima(store, params, ids, window.start, window.end)
        out: dict[tuple[str, date], tuple[float, str]] = {}
        for device, night, sensor, rssi in zip(df["device_id"], df["night"], df["sensor"], df["rssi_max"],
                                               strict=True):
            key, value = (str(device), as_date(night)), self.calibration_.correct(float(rssi), str(sensor))
            if key not in out or value > out[key][0]:
                out[key] = (value, str(sensor))
        return out

    def _with_the_night_shift(self, found: list[Finding], sessions: Sequence[Any],
                              nights_here: Mapping[tuple[str, str], int], hist_rows: Mapping[str, Any]) -> None:
        """A new device that came and left together with a person of its folder's known night population
        (both ends of its night within NIGHT_SHIFT_TOLERANCE_MINUTES of theirs) is on their shift: a new
        colleague or a replaced phone, not a stranger (factor 0). Round-the-clock equipment (heard by day
        and by night alike) vouches for nobody: people who work at night keep a rhythm. The companions are
        tonight's sessions, their rhythm the history already read for them: no query of its own."""
        s = self.settings
        new = [f for f in found if f.adjusted_level > 0 and f.evidence["judged_by"] == "folder"]
        if not new:
            return
        tolerance = timedelta(minutes=s.night_shift_tolerance_minutes)
        people: dict[tuple[str, date], list[tuple[datetime, datetime, str, int]]] = defaultdict(list)
        for row in sessions:
            device, folder = str(row.device_id), str(row.folder)
            known = int(nights_here.get((folder, device), 0))
            h = hist_rows.get(device)
            if known < s.night_known_min_nights or h is None or self._round_the_clock(h, folder):
                continue
            people[(folder, as_date(row.night))].append(
                (utc(pd.Timestamp(row.first_ts).to_pydatetime()), utc(pd.Timestamp(row.last_ts).to_pydatetime()),
                 device, known))
        for f in new:
            first = datetime.fromisoformat(f.evidence["first_seen"])
            last = datetime.fromisoformat(f.evidence["last_seen"])
            for a, b, device, known in people.get((f.folder, date.fromisoformat(f.evidence["local_night"])), []):
                if abs(first - a) <= tolerance and abs(last - b) <= tolerance:
                    f.against.append(Against(f"on the night shift: came and left with {device}, known at night "
                                             f"here on {known} earlier covered nights", VETO))
                    f.evidence["shift_companion"] = device
                    break

    def _round_the_clock(self, h: Mapping[Any, Any], folder: str) -> bool:
        """Heard by night and by day alike (neither hour rate below NIGHT_RHYTHM_RATIO times the other):
        equipment, not a person who works at night (they are away by day)."""
        _nights, night, day = self._hour_rates(h, folder)
        return min(night, day) > 0 and min(night, day) >= self.settings.night_rhythm_ratio * max(night, day)

    def _fixtures(self, store: Store, found: list[Finding]) -> None:
        """The costly evidence against, asked only about the findings nothing else vetoed (a device already
        known as a night device needs no fixture learning): a learned fixture (factor 0)."""
        open_ = [f for f in found if f.adjusted_level > 0]
        asked = sorted({f.subject for f in open_})
        if not asked:
            return
        fixtures = self.context_.fixtures(self.history_end_, asked, self.listening_)
        for f in open_:
            if f.subject in fixtures:
                fx = fixtures[f.subject]
                f.against.append(Against(f"a learned fixture: present on {fx['present_days']:g} of its "
                                         f"{fx['covered_days']:g} covered days", VETO))

    def _hour_rates(self, h: Mapping[Any, Any], folder: str) -> tuple[int, float, float]:
        """From a `device_history` row: the folder's covered nights since the device's first sighting, and
        the shares of covered night and day hours it was heard in (not capped)."""
        first = utc(pd.Timestamp(h["first_hour"]).to_pydatetime())
        nights_cov, night_hours_cov, day_hours_cov = self.folder_nights(folder).since(first)
        night_rate = int(h["night_hours"]) / night_hours_cov if night_hours_cov else 0.0
        day_rate = int(h["day_hours"]) / day_hours_cov if day_hours_cov else 0.0
        return nights_cov, night_rate, day_rate

    def _own_history(self, row: Any, h: dict[str, Any] | None) -> dict[str, Any] | None:
        """The device's covered history since its first sighting, or None when it is too short to judge."""
        s = self.settings
        if h is None:
            return None
        nights_cov, night_rate, day_rate = self._hour_rates(h, str(row.folder))
        if int(h["active_days"]) < s.night_min_history_days or nights_cov < s.night_min_history_nights:
            return None
        heard = len(h["nights"])
        return {"history_active_days": int(h["active_days"]), "history_covered_nights": nights_cov,
                "history_night_nights": heard, "night_hour_rate": round(min(night_rate, 1.0), 3),
                "day_hour_rate": round(min(day_rate, 1.0), 3)}

    def _judge_by_device(self, device: str, own: dict[str, Any], reasons: list[str],
                         against: list[Against]) -> None:
        s = self.settings
        heard, covered = own["history_night_nights"], own["history_covered_nights"]
        night_rate, day_rate = own["night_hour_rate"], own["day_hour_rate"]
        reasons.append(f"daytime device: heard at night on {heard} of its {covered} covered nights since "
                       "first seen")
        if device in self.confirmed_:
            return  # its earlier nights were confirmed intrusions: they make it no night device
        if heard >= max(s.night_regular_min_nights, s.night_regular_fraction * covered):
            against.append(Against(f"a night device: heard at night on {heard} of its {covered} covered nights",
                                   VETO))
        elif night_rate > 0 and night_rate >= s.night_rhythm_ratio * day_rate:
            against.append(Against(f"no daytime rhythm: heard in {night_rate:.0%} of covered night hours and "
                                   f"{day_rate:.0%} of covered day hours", VETO))
        elif heard > 0:
            against.append(Against(f"heard at night before on {heard} of {covered} covered nights",
                                   max(0.0, 1.0 - heard / max(covered, heard + 1))))

    def _judge_by_folder(self, evidence: Mapping[str, Any], span_min: float, reasons: list[str],
                         against: list[Against]) -> None:
        s = self.settings
        covered_nights, known_nights = evidence["folder_covered_nights"], evidence["earlier_nights_here"]
        reasons.append("new device, not in the folder's known night population "
                       f"({evidence['folder_known_night_devices']} devices over {covered_nights} covered nights)")
        if covered_nights < s.learning_min_days:
            against.append(Against(f"the folder is still learning: {covered_nights} covered nights "
                                   f"(LEARNING_MIN_DAYS {s.learning_min_days})", VETO))
        if known_nights >= s.night_known_min_nights:
            against.append(Against(f"known at night here: heard on {known_nights} earlier covered nights", VETO))
        if span_min < s.night_new_device_min_minutes:
            against.append(Against(f"passing through: a new device seen for {span_min:.0f} min "
                                   f"(NIGHT_NEW_DEVICE_MIN_MINUTES {s.night_new_device_min_minutes:g})", VETO))

    def _population_findings(self, store: Store, window: Window, tz: str, params: dict[str, Any],
                             where: str) -> list[Finding]:
        s = self.settings
        zone = ZoneInfo(tz)
        tonight = randomized_night_peaks(store, params, where, window.start, window.end)
        tonight = tonight[tonight["peak"] > 0]
        if tonight.empty:
            return []
        history = randomized_night_peaks(store, params, where, self.history_start_, self.history_end_)
        # Each folder's past peaks from one pass over the history (not a pass per folder of tonight).
        past_of: dict[str, dict[date, float]] = defaultdict(dict)
        for f, n, p in zip(history["folder"], history["night"], history["peak"], strict=True):
            past_of[str(f)][as_date(n)] = float(p)
        out: list[Finding] = []
        for row in records(tonight):
            folder = str(row.folder)
            nights = self.folder_nights(folder).nights
            past = past_of.get(folder, {})
            # Covered nights without a randomized MAC had 0 of them; uncovered nights are not counted.
            values = np.array([past.get(n, 0.0) for n in nights])
            p95 = float(np.quantile(values, 0.95)) if len(values) else 0.0
            ratio = float(row.peak) / max(p95, 1.0)
            r = s.night_random_ratio
            level = piecewise_level(ratio, (r, r * 1.5, r * 2.5))
            against: list[Against] = []
            if len(nights) < s.learning_min_days:
                against.append(Against(f"the folder is still learning: {len(nights)} covered nights "
                                       f"(LEARNING_MIN_DAYS {s.learning_min_days})", VETO))
            if row.peak - p95 < s.night_random_min_excess:
                against.append(Against(f"only {row.peak - p95:.0f} randomized MACs above p95 "
                                       f"(NIGHT_RANDOM_MIN_EXCESS {s.night_random_min_excess})", VETO))
            night_start, night_end = self._night_bounds(as_date(row.night), zone)
            out.append(Finding(
                subject=f"folder:{folder}", window_start=night_start, window_end=night_end, level=level, raw=ratio,
                pattern="randomized_population", folder=folder,
                reasons=[f"{int(row.peak)} randomized MACs at once at night vs p95 {p95:.1f} over "
                         f"{len(nights)} covered nights"],
                against=against,
                evidence={"judged_by": "randomized_population", "randomized_peak_5min": int(row.peak),
                          "p95_baseline": round(p95, 2), "ratio": round(ratio, 2), "covered_nights": len(nights),
                          "peak_at": utc(pd.Timestamp(row.peak_slot).to_pydatetime()).isoformat(),
                          "local_night": as_date(row.night).isoformat(), "timezone": tz}))
        return out
