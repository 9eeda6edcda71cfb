"""Local time on the dashboard: TIMEZONE (per folder where set) with the zone named, gaps kept as gaps,
ML anomalies placed at the end of the window they judge, any `?hours=` within the limits."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from santiway_anomaly.dashboard import ui


@pytest.fixture(autouse=True)
def moscow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMEZONE", "Europe/Moscow")
    monkeypatch.setenv("FOLDER_TIMEZONES", "tokyo-1=Asia/Tokyo")


def test_times_are_local_and_the_zone_is_named() -> None:
    noon = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert ui.local(noon) == datetime(2026, 12, 1, 15, 0)
    assert ui.local(noon, "tokyo-1") == datetime(2026, 12, 1, 21, 0)
    assert list(ui.local(pd.Series([noon]))) == [pd.Timestamp("2026-12-01 15:00")]
    assert ui.when(noon) == "2026-12-01 15:00 Europe/Moscow (MSK)"
    assert ui.when(noon, "tokyo-1").endswith("Asia/Tokyo (JST)")
    assert ui.zone_label(ui.zone()) == "Europe/Moscow (MSK)"


def test_a_gap_in_the_data_stays_a_gap() -> None:
    hours = pd.to_datetime(["2026-12-01 00:00", "2026-12-01 01:00", "2026-12-01 14:00"])
    frame = pd.DataFrame({"hour": hours, "p95_baseline": [5.0, 6.0, 7.0]})
    filled = ui.with_gaps(frame)
    assert len(filled) == 15 and filled["p95_baseline"].isna().sum() == 12  # 13 hours apart: 12 empty hours


def test_ml_anomalies_are_placed_where_they_happened() -> None:
    start, end = datetime(2026, 12, 1, 0, tzinfo=UTC), datetime(2026, 12, 2, 0, tzinfo=UTC)
    ml = SimpleNamespace(anomaly_type="ml_behavior", window_start=start, window_end=end)
    night = SimpleNamespace(anomaly_type="night_activity", window_start=start, window_end=end)
    assert ui.happened_at(ml) == end and ui.happened_at(night) == start


def _picker() -> None:
    import streamlit as st

    from santiway_anomaly.dashboard import ui

    st.markdown(f"hours={ui.hours_picker():g}")


@pytest.mark.parametrize(("linked", "expected", "warned"), [
    ("48", "hours=48", False), ("168", "hours=168", False), ("100000", "hours=2160", True), ("abc", "hours=24", True),
])
def test_any_hours_within_the_limits(linked: str, expected: str, warned: bool) -> None:
    at = AppTest.from_function(_picker, default_timeout=30)
    at.query_params["hours"] = linked
    at.run()
    assert at.markdown[0].value == expected
    assert bool(at.warning) == warned
