"""ml_behavior: the personal detector. Is this device's day unlike the device's own covered history?

Issue 12: "find the devices that changed, not the unusual ones". One window per device per local day
(TIMEZONE): every local day that *ends* inside the run's window is scored, so `detect --hours 72`
scores the three days before `--until`, and hourly continuous runs score each device-day once, in
the run after its local midnight (a partial day would look like a change by itself).

- Daily vector and score: ml/personal.py (robust z against the device's median/MAD; raw score unit
  robust z, higher = more anomalous).
- History: the DETECT_HISTORY_DAYS before the first scored day, only days on which the device was
  seen and its main folder was covered (coverage.py). A device with fewer than LEARNING_MIN_DAYS
  such days is *learning* and not scored; a scored day whose folder was not covered is not scored.
- Alarm line by the false-alarm budget ML_BUDGET_PER_1000_DEVICES_PER_DAY, calibrated on the
  ML_HOLDOUT_DAYS held-out normal days before the scored range (a time split); info, warning and
  critical at the budget, a tenth and a hundredth of it.
- Fixtures (storage/queries/known.py `learn_fixtures`, or usually active >= ALWAYS_ON_HOURS h of its
  covered days) and operator-known devices are vetoed (Against 0).
- Randomized MACs are skipped unless ML_INCLUDE_RANDOMIZED: a rotating MAC has no history.

The TCN autoencoder is not needed: the side-by-side evaluation (benchmarks/ml_compare.py, README)
found the personal baseline better on the simulated worlds, so it is the default and runs without a
trained model; `details.method` says so.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Self
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from loguru import logger

from santiway_anomaly.config import Settings
from santiway_anomaly.coverage import Span
from santiway_anomaly.detectors.base import FindingDetector, Window, register
from santiway_anomaly.detectors.findings import Against, Finding
from santiway_anomaly.ml import personal
from santiway_anomaly.storage.queries.alarm import prior_alarms
from santiway_anomaly.storage.queries.known import fixture_history, is_exempt, load_allowlist
from santiway_anomaly.storage.queries.ml_behavior import DAILY_COLUMNS, device_days, device_info
from santiway_anomaly.storage.store import Store

CALIBRATION_DEVICES = 20_000
# A device usually active in at least this many hours of its covered days is infrastructure (issue 12:
# 19 of 22 lab ML alarms were always-on fixtures): vetoed like a learned fixture.
ALWAYS_ON_HOURS = 20.0
# Equipment heard only now and then (a far network card at -90 dBm, a printer waking up) is never
# on for 20 h of one day, yet over its history it is heard at nearly every hour of day and on nearly
# every covered day; people are not (the world families' far infrastructure scored up to 5.6 on
# hours "it is rarely seen at", issue 12). Such a device is vetoed and left out of the calibration.
ROUND_THE_CLOCK_HOURS = 20  # distinct hours of day heard at over its covered history days
ROUND_THE_CLOCK_DAYS = 0.9  # share of its home folder's covered history days it was heard on
ACTIVE_HOURS = personal.FEATURE_NAMES.index("active_hours")
METHOD = "personal baseline (robust z vs the device's own covered days; no TCN)"


def scored_days(window: Window, zone: ZoneInfo) -> list[date]:
    """Local days whose end (next local midnight) lies in (window.start, window.end]."""
    first = window.start.astimezone(zone).date()
    last = window.end.astimezone(zone).date()
    out = []
    d = first - timedelta(days=1)
    while d <= last:
        end = day_start(d + timedelta(days=1), zone)
        if window.start < end <= window.end:
            out.append(d)
        d += timedelta(days=1)
    return out


def day_start(d: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC)


@register("ml")
class MLBehaviorDetector(FindingDetector):
    name = "ml"
    anomaly_type = "ml_behavior"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # ---- fit: load the days, the baselines and the calibration --------------------------------
    def coverage_ranges(self, window: Window) -> list[Span]:
        """The scored days with their history (local days), and fixture learning's history."""
        s = self.settings
        zone = ZoneInfo(s.timezone)
        days = scored_days(window, zone)
        ranges = [fixture_history(s, window.start)]
        if days:
            ranges.append((day_start(days[0] - timedelta(days=s.detect_history_days), zone),
                           day_start(days[-1] + timedelta(days=1), zone)))
        return ranges

    def fit(self, store: Store, window: Window) -> Self:
        s = self.settings
        zone = ZoneInfo(s.timezone)
        self.context_ = self.run_context(store, window)
        self.days_ = scored_days(window, zone)
        self.allow_ = load_allowlist(store)
        lookback = timedelta(hours=24 + s.ml_alarm_cooldown_hours)
        self.prior_ = prior_alarms(store, self.anomaly_type, window.start - lookback, window.end)
        self.scores_ = pd.DataFrame()
        self.shared_shift_: dict[date, np.ndarray] = {}  # scored day -> median z of its devices
        self.calibration_ = personal.BudgetCalibration.fit(np.array([]), s.ml_budget_per_1000_devices_per_day,
                                                           s.ml_min_line)
        if not self.days_:
            return self
        first, last = self.days_[0], self.days_[-1]
        hist_first = first - timedelta(days=s.detect_history_days)
        start, end = day_start(hist_first, zone), day_start(last + timedelta(days=1), zone)
        frame = device_days(store, start, end, s.timezone, s.ml_include_randomized)
        self._prepare(store, frame, start, end, hist_first, first)
        return self

    def _prepare(self, store: Store, frame: pd.DataFrame, start: datetime, end: datetime,
                 hist_first: date, first: date) -> None:
        s = self.settings
        all_days = [hist_first + timedelta(days=i) for i in range((self.days_[-1] - hist_first).days + 1)]
        n_hist = (first - hist_first).days
        if frame.empty:
            return
        dev_codes, devices = pd.factorize(frame["device_id"])
        day0 = np.datetime64(hist_first, "D")
        day_codes = (pd.to_datetime(frame["day"]).to_numpy().astype("datetime64[D]") - day0).astype(np.int64)
        keep = (day_codes >= 0) & (day_codes < len(all_days))
        # float32: 100,000 devices x 15 days x 10 features in 60 MB; z-scores need no more precision.
        X = np.full((len(devices), len(all_days), len(personal.FEATURES)), np.nan, dtype=np.float32)
        cols = {c: frame[c].to_numpy(dtype=np.float64) for c in DAILY_COLUMNS}
        row_bits = personal.hour_bits(frame["hours_mask"].to_numpy())
        X[dev_codes[keep], day_codes[keep]] = personal.daily_matrix(cols, row_bits)[keep]
        hours = np.zeros((len(devices), len(all_days)), dtype=np.uint32)  # active-hour masks
        hours[dev_codes[keep], day_codes[keep]] = frame["hours_mask"].to_numpy(dtype=np.uint32)[keep]
        masks = np.zeros((len(devices), len(all_days)), dtype=np.uint64)
        masks[dev_codes[keep], day_codes[keep]] = frame["folder_mask"].to_numpy(dtype=np.uint64)[keep]
        # Covered device-days: the device's home folder (its most frequent main folder over the
        # history days) was listening for most of that local day. The home folder, not the day's:
        # a device that went somewhere new is judged by whether its usual place could hear it.
        day_cov = _covered_days(self.context_.coverage(start, end), s, all_days)  # days x folders
        in_hist = keep & (day_codes < n_hist)
        folder_codes, folder_names = pd.factorize(frame["folder"])
        visits = pd.DataFrame({"d": dev_codes[in_hist], "f": folder_codes[in_hist]})
        home_col = np.full(len(devices), -1, dtype=np.int64)  # column of day_cov, -1 = unknown
        if len(visits):
            top = visits.groupby(["d", "f"]).size().reset_index(name="n").sort_values("n", kind="stable")
            last = top.drop_duplicates("d", keep="last")
            cols_of = day_cov.columns.get_indexer(pd.Index(folder_names))
            home_col[last["d"].to_numpy()] = cols_of[last["f"].to_numpy()]
        cov_mat = np.concatenate([day_cov.to_numpy(dtype=bool), np.zeros((len(all_days), 1), dtype=bool)], axis=1)
        covered = cov_mat[:, home_col].T  # home_col -1 -> the all-False column
        covered &= np.isfinite(X[:, :, 0])
        hist_cov = covered[:, :n_hist]
        hours_heard = np.bitwise_count(np.bitwise_or.reduce(np.where(hist_cov, hours[:, :n_hist], 0), axis=1))
        home_days = cov_mat[:n_hist, home_col].sum(axis=0)
        self.round_the_clock_ = (hours_heard >= ROUND_THE_CLOCK_HOURS) & (
            hist_cov.sum(axis=1) >= ROUND_THE_CLOCK_DAYS * np.maximum(home_days, 1))

        # Calibration on held-out normal days: the last ML_HOLDOUT_DAYS of history, each judged
        # against the device's days before it (a time split, as a scored day is; an expanding
        # history, so the baselines are nearly as long as the scored days' own).
        # At most CALIBRATION_DEVICES devices (every k-th): 60,000 held-out device-days pin a
        # 1-in-1,000 tail as well as 300,000 do, at a fifth of the cost at 100,000 devices.
        sample = np.arange(0, len(devices), max(1, len(devices) // CALIBRATION_DEVICES))
        hold: list[np.ndarray] = []
        for j in range(max(n_hist - s.ml_holdout_days, 0), n_hist):
            Xc, med_c, scale_c, n_c = context(X[sample], hours[sample], masks[sample], covered[sample], j)
            # equipment is vetoed whatever it scores: it must not set the line for people
            on = med_c[:, ACTIVE_HOURS] >= ALWAYS_ON_HOURS
            rows = covered[sample, j] & (n_c >= s.learning_min_days) & ~self.round_the_clock_[sample] & ~on
            if rows.any():
                z = personal.remove_shared_shift(personal.zscores(Xc[rows, j], med_c[rows], scale_c[rows]))
                hold.append(personal.raw_score(z))
        holdout = np.concatenate(hold) if hold else np.array([])
        self.calibration_ = personal.BudgetCalibration.fit(holdout, s.ml_budget_per_1000_devices_per_day,
                                                           s.ml_min_line)

        # Scoring: each scored day against every covered history day before the scored range.
        Xs, med, scale, n_days = context(X, hours, masks, covered, n_hist)
        folder_of = np.full((len(devices), len(all_days)), "", dtype=object)
        folder_of[dev_codes[keep], day_codes[keep]] = frame["folder"].to_numpy()[keep]
        parts = []
        for j in range(n_hist, len(all_days)):
            present = np.isfinite(Xs[:, j, 0])
            idx = np.flatnonzero(covered[:, j] & (n_days >= s.learning_min_days))
            ready = n_days >= s.learning_min_days
            logger.debug("ml: day {}: {} devices scored, {} learning, {} on uncovered days", all_days[j], len(idx),
                         int((present & ~ready).sum()), int((present & ready & ~covered[:, j]).sum()))
            if not len(idx):
                continue
            z = personal.zscores(Xs[idx, j], med[idx], scale[idx])
            shared = np.nanmedian(z, axis=0) if len(idx) >= personal.SHARED_MIN_DEVICES else np.zeros(z.shape[1])
            self.shared_shift_[all_days[j]] = np.nan_to_num(shared, nan=0.0)
            z = personal.remove_shared_shift(z)
            raw = personal.raw_score(z)
            parts.append(pd.DataFrame({"device_id": devices[idx], "day": all_days[j], "raw": raw,
                                       "level": self.calibration_.level(raw), "dev_i": idx, "day_j": j,
                                       "folder": folder_of[idx, j], "baseline_days": n_days[idx]}))
        self.scores_ = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        self._X, self._med, self._scale = Xs, med, scale
        # The device-day matrices, for the side-by-side evaluation (benchmarks/ml_compare.py).
        self.matrices_ = {"X": X, "hours": hours, "masks": masks, "covered": covered, "n_hist": n_hist,
                          "devices": devices, "days": all_days, "ready": n_days >= s.learning_min_days}
        self._range = (start, end)
        logger.info("ml: {} device-days scored over {} day(s); line {:.2f} from {} held-out device-days",
                    len(self.scores_), len(self.days_), self.calibration_.line, self.calibration_.n_holdout)

    # ---- findings ------------------------------------------------------------------------------
    def findings(self, store: Store, window: Window) -> list[Finding]:
        self.check_fitted()
        if self.scores_.empty:
            return []
        hot = self.scores_[self.scores_["level"] >= 1.0]
        if hot.empty:
            return []
        ids = sorted(set(hot["device_id"]))
        listening = self.context_.coverage(*fixture_history(self.settings, window.start)).covered
        fixtures = self.context_.fixtures(window.start, ids, listening)
        info: dict[Any, Any] = device_info(store, ids, *self._range).to_dict("index")
        zone = ZoneInfo(self.settings.timezone)
        out = []
        for row in hot.to_dict("records"):
            d, j = int(row["dev_i"]), int(row["day_j"])
            device = str(row["device_id"])
            today, usual, scale = self._X[d, j], self._med[d], self._scale[d]
            day = _as_date(row["day"])
            z = personal.zscores(today[None, :], usual[None, :], scale[None, :])[0] - self.shared_shift_.get(
                day, np.zeros(len(today)))
            explained = personal.explain(today, usual, z, top=min(self.settings.ml_top_features, 3))
            meta = info.get(device, {})
            against = []
            if device in fixtures:
                ev = fixtures[device]
                against.append(Against(f"a fixture: heard in {ev['coverage']:.0%} of {ev['span_hours']} hours", 0.0))
            usual_hours = float(usual[personal.FEATURE_NAMES.index("active_hours")])
            if device not in fixtures and usual_hours < ALWAYS_ON_HOURS and self.round_the_clock_[d]:
                against.append(Against("round-the-clock equipment: heard at nearly every hour of day on "
                                       "nearly every covered day", 0.0))
            if device not in fixtures and usual_hours >= ALWAYS_ON_HOURS:
                # learn_fixtures misses equipment on gappy recordings (its span counts unrecorded
                # days); the device's own covered days say it is always on just as well.
                against.append(Against(f"always-on equipment: usually active {usual_hours:.0f} of 24 h on "
                                       "its covered days", 0.0))
            if is_exempt(self.allow_, device, self.anomaly_type):
                against.append(Against("marked known by an operator", 0.0))
            out.append(Finding(
                subject=device, window_start=day_start(day, zone), window_end=day_start(day + timedelta(days=1), zone),
                level=float(row["level"]), raw=float(row["raw"]), pattern="behaviour_change",
                reasons=[e["text"] for e in explained], against=against,
                evidence={"day": day.isoformat(), "features": explained, "baseline_days": int(row["baseline_days"]),
                          "method": METHOD, "calibration": self.calibration_.as_dict()},
                device_id=device, folder=str(row["folder"]), vendor=_text(meta.get("vendor")),
                network_type=_text(meta.get("network_type")), lat=_num(meta.get("lat")), lon=_num(meta.get("lon"))))
        return out

    def cooldown(self) -> timedelta:
        # A change that lasts several days is one episode: the next day re-alarms only if it escalates.
        return timedelta(hours=self.settings.ml_alarm_cooldown_hours)


def context(X: np.ndarray, hours: np.ndarray, masks: np.ndarray, covered: np.ndarray,
            upto: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The device baselines from the covered days before day index `upto`: X with its schedule and
    new-folder columns filled (in place) against those days, and the median, scale and day count."""
    hist = covered[:, :upto]
    usable = np.zeros(covered.shape, dtype=bool)
    usable[:, :upto] = hist
    out = X  # in place: the history-relative columns are placeholders that every context rewrites whole
    out[:, :, personal.OFF], out[:, :, personal.SHIFTED] = personal.schedule_hours(hours, usable)
    out[:, :, personal.NEW_FOLDERS] = personal.new_folders(masks, usable)
    med, scale, n = personal.robust_baseline(np.where(hist[:, :, None], out[:, :upto], np.nan))
    return out, med, scale, n


def _covered_days(cov: Any, settings: Settings, days: list[date]) -> pd.DataFrame:
    """days x folders: the folder's local day (TIMEZONE) had at least COVERAGE_DAY_SHARE of its
    hours covered (coverage.py's rule, for every folder at once)."""
    covered = cov.covered
    if covered.empty:
        return pd.DataFrame(index=pd.Index(days), dtype=bool)
    local = pd.DatetimeIndex(covered.index).tz_convert(settings.timezone).date
    per_day = covered.groupby(local).sum()
    out: pd.DataFrame = (per_day >= settings.coverage_day_share * 24).reindex(pd.Index(days), fill_value=False)
    return out


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if out != out else out
