"""Overview: the last hours at a glance — counts, anomalies over time, where they are, the newest critical ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from santiway_anomaly.dashboard import charts, maps, ui
from santiway_anomaly.dashboard.client import ApiError

# Anomalies drawn on the map: the API's largest page; beyond it the map shows the newest ones.
MAP_LIMIT = 1000
NEWEST_CRITICAL = 10
# Overview refresh = this many DASHBOARD_REFRESH_S (3 s -> 30 s): counts move slowly, the Live page is fast.
REFRESH_FACTOR = 10


def render() -> None:
    st.title("Overview")
    hours = ui.hours_picker(key="overview_hours")
    # The page redraws itself (an operator leaves it open on a wall screen); widgets above stay put.
    st.fragment(run_every=REFRESH_FACTOR * ui.settings().dashboard_refresh_s)(_body)(hours)


def _body(hours: float) -> None:
    api = ui.client()
    stats = ui.call(api.stats, hours)
    since = datetime.now(UTC) - timedelta(hours=hours)
    page = ui.call(api.anomalies, limit=MAP_LIMIT, since=since)
    frame = ui.anomalies_frame(page.data)

    by_sev = {item.key: item.count for item in stats.by_severity}
    cols = st.columns(4)
    cols[0].metric(f"Anomalies, last {hours:g} h", stats.total)
    for col, severity in zip(cols[1:], charts.SEVERITY_ORDER, strict=True):
        col.metric(f"{ui.SEVERITY_ICONS[severity]} {severity}", by_sev.get(severity, 0))
    st.caption(f"{ui.when(stats.since)} → {ui.when(stats.until)}")

    if stats.total == 0:
        st.success(f"No anomalies in the last {hours:g} hours.")
        return
    if page.count > len(page.data):
        st.caption(f"Charts by type, over time and the map use the newest {len(page.data)} of {page.count} anomalies; "
                   "the counts above are exact.")

    left, right = st.columns(2)
    with left:
        grouped = frame.groupby(["type", "severity"]).size().reset_index(name="count")
        st.plotly_chart(charts.type_severity_bars(grouped), key="by_type")
    with right:
        hourly = (frame.assign(hour=pd.to_datetime(frame["at"]).dt.floor("h"))
                  .groupby(["hour", "severity"]).size().reset_index(name="count"))
        zone = ui.zone_label(ui.zone())
        st.plotly_chart(charts.over_time(hourly, f"Anomalies per hour ({zone})"), key="over_time")

    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(charts.anomaly_map(frame, maps.basemap()), key="map")
    with right:
        st.plotly_chart(charts.counts_bar([t.key for t in stats.top_folders], [t.count for t in stats.top_folders],
                                          "Top folders by anomalies"), key="folders")

    st.subheader("Newest critical anomalies")
    critical = ui.try_call(api.anomalies, severity="critical", limit=NEWEST_CRITICAL, since=since)
    if isinstance(critical, ApiError):
        ui.show_error(critical)
        return
    if not critical.data:
        st.info("No critical anomalies in this window.")
        return
    table = ui.anomalies_frame(critical.data)
    table["device"] = ["device?device=" + d if d != "—" else None for d in table["device_id"]]
    st.dataframe(
        table[["window_start", "type", "score", "device_id", "folder", "vendor", "device"]],
        hide_index=True,
        column_config={
            "window_start": st.column_config.DatetimeColumn(f"window ({ui.zone_label(ui.zone())})",
                                                            format="YYYY-MM-DD HH:mm"),
            "score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0, format="%.2f"),
            "device": st.column_config.LinkColumn("analysis", display_text="open device"),
        },
    )
