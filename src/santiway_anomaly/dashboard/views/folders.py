"""Folders: distinct devices per hour against each folder's p95 baseline.

The REST API has no per-folder hourly series yet; what it does have is every density anomaly with
the hour's distinct devices and the p95 baseline it was judged against (`details`). The page draws
those, per folder, and says plainly that the full series is not available from the API.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from santiway_anomaly.dashboard import charts, ui

MAX_ROWS = 1000


def render() -> None:
    st.title("Folders")
    api = ui.client()
    hours = ui.hours_picker(key="folders_hours", default="7 days")
    st.info("**Not available from the API:** the hour-by-hour count of distinct devices per folder (the REST "
            "API has no folder series endpoint). Shown instead: the hours in which the density detector "
            "fired, each with its distinct devices and the folder's p95 baseline.", icon=":material/info:")
    since = datetime.now(UTC) - timedelta(hours=hours)
    page = ui.call(api.anomalies, anomaly_type="density_spike", since=since, limit=MAX_ROWS)
    rows = [
        {"folder": a.folder, "hour": a.window_start, "severity": a.severity, "score": a.score,
         "unique_devices": a.details.get("unique_devices"), "p95_baseline": a.details.get("p95_baseline"),
         "ratio": a.details.get("ratio")}
        for a in page.data
    ]
    frame = pd.DataFrame(rows, columns=["folder", "hour", "severity", "score", "unique_devices", "p95_baseline",
                                        "ratio"]).dropna(subset=["unique_devices", "p95_baseline"])
    if frame.empty:
        st.success(f"No density spikes in the last {hours:g} hours: every folder stayed within its baseline.")
        return
    counts = frame.groupby("folder").size().sort_values(ascending=False)
    st.plotly_chart(charts.counts_bar(list(counts.index), list(counts.values), "Density spikes per folder"),
                    key="per_folder")
    folders = list(counts.index)
    chosen = st.multiselect("Folders", folders, default=folders[:4], key="folders_chosen")
    for folder in chosen:
        part = frame[frame["folder"] == folder].sort_values("hour")
        st.plotly_chart(charts.folder_density(part, str(folder)), key=f"folder_{folder}")
