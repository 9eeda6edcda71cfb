"""Cheaper reads of the detectors (issue 17 item 2) return what the detectors judged by before: the density
baseline's history counts, the rows handed to the detectors' loops, the asked devices' fixture hours."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from santiway_anomaly.config import Settings
from santiway_anomaly.detectors.util import floor_hour, records
from santiway_anomaly.storage import Store
from santiway_anomaly.storage.queries.fixtures import fixture_candidate_hours
from santiway_anomaly.storage.queries.folders import folder_hour_counts, folder_hours
from santiway_anomaly.storage.queries.night import night_params, night_sessions
from tests.detectors.conftest import NIGHT_SHIFT, PRINTER, STAFF
from tests.detectors.test_rule_detectors import WINDOW


def _history(settings: Settings) -> tuple[datetime, datetime]:
    end = floor_hour(WINDOW.start)
    return end - timedelta(days=settings.detect_history_days), end


def test_the_baseline_history_counts_are_those_of_folder_hours(world_store: Store, settings: Settings) -> None:
    start, end = _history(settings)
    full = folder_hours(world_store, start, end)
    counts = folder_hour_counts(world_store, start, end)
    assert len(full) > 100
    key = ["folder", "hour"]
    both = full[[*key, "robust_devices"]].merge(counts[[*key, "robust_devices"]], on=key, how="outer",
                                                 suffixes=("_full", "_counts"), indicator=True)
    assert (both["_merge"] == "both").all()
    assert (both["robust_devices_full"] == both["robust_devices_counts"]).all()
    one = folder_hour_counts(world_store, start, end, [str(full["folder"].iloc[0])])
    assert set(one["folder"].astype(str)) == {str(full["folder"].iloc[0])}


def test_records_are_the_rows_of_itertuples(world_store: Store, settings: Settings) -> None:
    params = night_params(settings.timezone, settings.night_start_hour, settings.night_end_hour)
    start, _ = _history(settings)
    sessions = night_sessions(world_store, {**params, "folders": []}, "1", start, WINDOW.end)
    assert len(sessions) > 10 and isinstance(sessions["first_ts"].iloc[0], pd.Timestamp)
    ours, theirs = list(records(sessions)), list(sessions.itertuples(index=False))
    assert ours == theirs
    assert ours[0]._fields == theirs[0]._fields
    assert [[type(v) for v in row] for row in ours] == [[type(v) for v in row] for row in theirs]
    assert list(records(sessions.iloc[:0])) == []


def test_fixture_hours_of_asked_devices_leave_out_the_rarely_heard(world_store: Store, settings: Settings) -> None:
    start, end = _history(settings)
    asked = [PRINTER, *STAFF[:3], *NIGHT_SHIFT]
    everyone = fixture_candidate_hours(world_store, start, end, None, 1)
    heard = everyone[everyone["device_id"].isin(asked)].groupby("device_id")["hour"].nunique()
    # a threshold between the printer (heard around the clock) and the people: some asked devices fall below
    cut = int(heard.max())
    assert (heard < cut).any() and (heard >= cut).any()
    for min_hours in (1, cut):
        got = fixture_candidate_hours(world_store, start, end, asked, min_hours)
        expected = everyone[everyone["device_id"].isin(set(heard.index[heard >= min_hours]))]
        key = ["device_id", "hour", "folder"]
        assert sorted(map(tuple, got[key].astype(str).to_numpy())) == \
            sorted(map(tuple, expected[key].astype(str).to_numpy()))
    assert fixture_candidate_hours(world_store, start, end, asked, 10_000).empty
