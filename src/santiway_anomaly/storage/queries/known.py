"""Known devices: the operators' allowlist (`anomaly_ml.known_devices`) and learned fixtures.

A fixture (printer, access point, smart TV, a far network card) is "always there, for days": it is
learned from the hourly aggregates relative to the time the sensors were listening (coverage.py),
never hard-coded. Operators can also mark any device as known, for one anomaly
type or for `all`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from santiway_anomaly.config import Settings
from santiway_anomaly.coverage import load_coverage
from santiway_anomaly.detectors.util import floor_hour
from santiway_anomaly.storage.queries.fixtures import fixture_candidate_hours
from santiway_anomaly.storage.store import Store

ALL = "all"


@dataclass(frozen=True)
class KnownDevice:
    device_id: str
    reason: str
    note: str
    added_by: str
    added_at: datetime


def load_allowlist(store: Store) -> dict[str, set[str]]:
    """device_id -> the anomaly types (or `all`) it is exempt from; latest row per key wins."""
    rows = store.query_rows(
        "SELECT device_id, reason FROM anomaly_ml.known_devices FINAL WHERE active = 1"
    )
    allow: dict[str, set[str]] = {}
    for device_id, reason in rows:
        allow.setdefault(str(device_id), set()).add(str(reason))
    return allow


def is_exempt(allow: dict[str, set[str]], device_id: str, anomaly_type: str) -> bool:
    reasons = allow.get(device_id)
    return bool(reasons) and (ALL in reasons or anomaly_type in reasons)  # type: ignore[operator]


def list_known(store: Store) -> list[KnownDevice]:
    rows = store.query_rows(
        "SELECT device_id, reason, note, added_by, added_at FROM anomaly_ml.known_devices FINAL "
        "WHERE active = 1 ORDER BY device_id, reason"
    )
    return [KnownDevice(str(d), str(r), str(n), str(b), _utc(a)) for d, r, n, b, a in rows]


def add_known(store: Store, device_ids: Sequence[str], reason: str = ALL, note: str = "",
              added_by: str = "operator") -> None:
    now = datetime.now(UTC)
    store.insert_rows(
        "anomaly_ml.known_devices",
        [[d, reason, note, added_by, now, 1] for d in device_ids],
        ["device_id", "reason", "note", "added_by", "added_at", "active"],
    )


def remove_known(store: Store, device_ids: Sequence[str], reason: str = ALL) -> None:
    """Deactivate (a newer row with active = 0 replaces the old one in ReplacingMergeTree)."""
    now = datetime.now(UTC)
    store.insert_rows(
        "anomaly_ml.known_devices",
        [[d, reason, "", "operator", now, 0] for d in device_ids],
        ["device_id", "reason", "note", "added_by", "added_at", "active"],
    )


def fixture_history(settings: Settings, before: datetime) -> tuple[datetime, datetime]:
    """The range fixture learning reads, and whose coverage (`listening`) it needs: the DETECT_HISTORY_DAYS
    before `before`, in whole hours."""
    end = floor_hour(before)
    return end - timedelta(days=settings.detect_history_days), end


def learn_fixtures(store: Store, settings: Settings, before: datetime,
                   device_ids: Sequence[str] | None = None, *,
                   listening: pd.DataFrame | None = None) -> dict[str, dict[str, float]]:
    """Fixtures (printers, access points, Raspberry Pis, far network cards) learned relative to covered
    time over the `detect_history_days` before `before`: a device heard in at least FIXTURE_HOUR_COVERAGE
    of the covered hours of a covered local day is *present* that day; it is a fixture when present on at
    least FIXTURE_MIN_DAYS days and on at least FIXTURE_DAY_SHARE of the covered days since it was first
    heard. Hours when its folder's sensors were silent count neither for nor against it, so a fixture is
    learned on gappy data; a weak device at the edge of range that is heard in most hours qualifies.

    Returns device_id -> evidence (`present_days`, `covered_days`, `hour_share`: the median share of
    covered hours heard on covered days; `hours_seen`, `span_hours`, `coverage`: heard hours of all hours
    since first heard). With `device_ids`, only those devices are examined (the detectors ask about their
    suspects only, which keeps this cheap). `listening` (`Coverage.covered` of at least
    [before - history, before)) saves loading it again.
    """
    if device_ids is not None and not device_ids:
        return {}
    s = settings
    start, end = fixture_history(s, before)
    # Fewer heard hours than FIXTURE_MIN_DAYS present days of the fewest covered hours cannot qualify.
    min_hours = max(1, math.ceil(s.fixture_min_days * 24 * s.coverage_day_share * s.fixture_hour_coverage))
    rows = fixture_candidate_hours(store, start, end, list(device_ids) if device_ids is not None else None,
                                   min_hours)
    if rows.empty:
        return {}
    if listening is None:
        listening = load_coverage(store, s, start, end).covered
    rows = rows.assign(hour=pd.to_datetime(rows["hour"], utc=True), folder=rows["folder"].astype(str),
                       device_id=rows["device_id"].astype(str)).drop_duplicates(["device_id", "hour"])
    hours = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="h", inclusive="left")
    covered_all = listening.reindex(index=hours, fill_value=False)
    # Each device's main folder: the one it was heard in most hours.
    per_folder = rows.groupby(["device_id", "folder"]).size().sort_values(ascending=False)
    main_folder = per_folder.reset_index().drop_duplicates("device_id").set_index("device_id")["folder"]
    out: dict[str, dict[str, float]] = {}
    # Each device's rows go with its main folder: one grouping pass (rows in their order within a folder),
    # not a scan of every row per folder (hundreds of folders on a large site).
    for folder, mine in rows.groupby(rows["device_id"].map(main_folder), sort=True):
        covered: npt.NDArray[np.bool_]
        if folder in covered_all.columns:
            covered = covered_all[folder].fillna(False).to_numpy(dtype=bool)
        else:  # never reported in the coverage range: nothing is known about its hours
            covered = np.zeros(len(hours), dtype=bool)
        zone = s.zone_for(str(folder))
        out.update(_fixtures_in_folder(s, hours, zone, covered, mine))
    return out


def _fixtures_in_folder(s: Settings, hours: pd.DatetimeIndex, zone: ZoneInfo, covered: npt.NDArray[np.bool_],
                        mine: pd.DataFrame) -> dict[str, dict[str, float]]:
    """The fixture rule for the devices of one folder, as devices x local days matrices (no loop over
    devices: the night detector asks about thousands of night-active devices on a large site)."""
    local_days = np.asarray(hours.tz_convert(zone).date)
    day_codes, _ = pd.factorize(local_days)  # hours ascend, so local days are contiguous runs
    n_days = int(day_codes.max()) + 1 if len(day_codes) else 0
    day_start = np.searchsorted(day_codes, np.arange(n_days), side="left")
    day_end = np.searchsorted(day_codes, np.arange(n_days), side="right")
    idx = hours.get_indexer(pd.DatetimeIndex(mine["hour"]))
    keep = idx >= 0
    dev_codes, devices = pd.factorize(mine["device_id"].to_numpy()[keep])
    idx = idx[keep]
    n_dev = len(devices)
    first = np.full(n_dev, len(hours), dtype=np.int64)
    np.minimum.at(first, dev_codes, idx)
    # Hours since each device was first heard, and covered ones among them, per local day.
    start = np.maximum(day_start[None, :], first[:, None])
    end = np.broadcast_to(day_end[None, :], start.shape)
    in_span = np.clip(end - start, 0, None)
    cum = np.concatenate([[0], np.cumsum(covered)])
    cov_day = np.where(in_span > 0, cum[end] - cum[np.minimum(start, end)], 0)
    heard_day = np.zeros((n_dev, n_days), dtype=np.int64)
    hit = covered[idx]
    np.add.at(heard_day, (dev_codes[hit], day_codes[idx[hit]]), 1)
    covered_day = (in_span > 0) & (cov_day > 0) & (cov_day >= s.coverage_day_share * in_span)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(covered_day, heard_day / np.maximum(cov_day, 1), np.nan)
    present = ((share >= s.fixture_hour_coverage) & covered_day).sum(axis=1)
    n_cov = covered_day.sum(axis=1)
    fixture = (n_cov > 0) & (present >= s.fixture_min_days) & (present >= s.fixture_day_share * n_cov)
    seen = np.bincount(dev_codes, minlength=n_dev)
    out: dict[str, dict[str, float]] = {}
    for k in np.flatnonzero(fixture):
        span_hours = len(hours) - int(first[k])
        # hours_seen / span_hours / coverage keep the older callers' keys (stationary's reasons).
        out[str(devices[k])] = {"present_days": int(present[k]), "covered_days": int(n_cov[k]),
                                "hour_share": round(float(np.nanmedian(share[k])), 3), "hours_seen": int(seen[k]),
                                "span_hours": span_hours, "coverage": round(int(seen[k]) / span_hours, 3)}
    return out


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
