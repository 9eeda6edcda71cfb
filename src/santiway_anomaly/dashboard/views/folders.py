"""Folders: distinct devices per hour against each folder's p95 baseline band, per folder."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from santiway_anomaly.dashboard import charts, ui

SHOWN = 6  # folders drawn at first: the busiest ones


def render() -> None:
    st.title("Folders")
    api = ui.client()
    hours = ui.hours_picker(key="folders_hours", default="24 hours")
    series = ui.call(api.folder_hourly, hours)
    frame = pd.DataFrame([row.model_dump() for row in series.data])
    st.caption(f"{ui.when(series.since)} → {ui.when(series.until)} · baseline: p95 of the same folder over the "
               f"previous {series.history_days} days, same local hour where enough days exist · "
               "the robust count (stable MACs + the 5-minute peak of randomized probe fingerprints) is what the "
               "detector judges · people: the occupancy estimate (devices near a sensor, one phone's MACs "
               "merged, presence averaged over the hour) with its interval")
    if frame.empty:
        st.info(f"No sightings in any folder in the last {hours:g} hours.")
        return
    over = frame[frame["p95_baseline"].notna() & (frame["robust_devices"] > frame["p95_baseline"])]
    cols = st.columns(4)
    cols[0].metric("Folders", len(series.folders))
    cols[1].metric("Hours above p95", len(over))
    cols[2].metric("Highest score", f"{frame['score'].max():.2f}")
    if "people" in frame and frame["people"].notna().any():
        cols[3].metric("Most people in an hour", f"{frame['people'].max():.0f}",
                       help=f"raw distinct MACs in the busiest hour: {int(frame['unique_devices'].max())}")
    coverage = ui.call(api.folder_coverage)
    learning = [c.folder for c in coverage.data if c.state == "learning"]
    if learning:
        st.warning(f"Learning (fewer than {coverage.learning_min_days} covered days of history, no crowd alarm "
                   f"yet): {', '.join(learning)}")
    with st.expander("Coverage: when each folder's sensors were listening (last 14 days)"):
        st.dataframe(pd.DataFrame([c.model_dump() for c in coverage.data]), hide_index=True)
        st.caption("A sensor silent at an hour it normally reports in was off: that hour is missing data, not zero "
                   "devices, and no baseline counts it.")
    busiest = list(frame.groupby("folder")["robust_devices"].max().sort_values(ascending=False).index)
    chosen = st.multiselect("Folders", busiest, default=busiest[:SHOWN], key="folders_chosen")
    for folder in chosen:
        part = frame[frame["folder"] == folder].drop(columns=["folder"])
        part = ui.with_gaps(part.assign(hour=ui.local(part["hour"], str(folder))))
        zone = ui.zone_label(ui.zone(str(folder)))
        st.plotly_chart(charts.folder_density(part, str(folder), zone), key=f"folder_{folder}")
