"""Devices now: who is heard in each folder in the last minutes (new, known, fixture; stable or randomized)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from santiway_anomaly.dashboard import ui

MINUTES = {"5 minutes": 5, "15 minutes": 15, "30 minutes": 30, "1 hour": 60, "3 hours": 180, "12 hours": 720,
           "24 hours": 1440}
STATUS_ORDER = ["new", "seen before", "fixture", "known"]


def render() -> None:
    st.title("Devices now")
    s = ui.settings()
    cols = st.columns([2, 3])
    choice = cols[0].selectbox("Heard in the last", list(MINUTES), index=1, key="now_minutes")
    folder = cols[1].text_input("Folder (empty: all)", key="now_folder").strip()
    result = ui.call(ui.client().devices_now, float(MINUTES[str(choice)]), folder or None)
    st.caption(f"{result.count} devices heard between {ui.when(result.since)} and {ui.when(result.until)} · "
               "click a column header to sort · new: never seen on an earlier day · fixture: always there "
               "(learned) · known: on the operators' list")
    if result.truncated:
        st.warning(f"More devices were heard than the {result.count} listed (newest first).")
    if not result.data:
        st.info("No device was heard in this window.")
        return
    rows = []
    for d in result.data:
        zone = s.zone_for(d.folder)
        rows.append({
            "folder": d.folder, "device_id": d.device_id, "status": d.status, "mac": d.mac, "vendor": d.vendor,
            "network": d.network_type,
            "first_seen": d.first_seen_here.astimezone(zone).replace(tzinfo=None),
            "last_seen": d.last_seen.astimezone(zone).replace(tzinfo=None),
            "zone": ui.zone_label(zone), "sightings": d.sightings, "sensors": d.sensors,
            "rssi_avg": d.rssi_avg, "rssi_max": d.rssi_max, "analysis": f"device?device={d.device_id}",
        })
    frame = pd.DataFrame(rows)
    summary = (frame.pivot_table(index="folder", columns="status", values="device_id", aggfunc="count", fill_value=0)
               .reindex(columns=[c for c in STATUS_ORDER if c in set(frame["status"])]))
    summary["randomized"] = frame[frame["mac"] == "randomized"].groupby("folder").size()
    summary = summary.fillna(0).astype(int).reset_index()
    st.dataframe(summary, hide_index=True, key="now_summary")
    st.dataframe(frame, hide_index=True, key="now_table", column_config={
        "first_seen": st.column_config.DatetimeColumn("first seen (local)", format="YYYY-MM-DD HH:mm:ss"),
        "last_seen": st.column_config.DatetimeColumn("last seen (local)", format="YYYY-MM-DD HH:mm:ss"),
        "rssi_avg": st.column_config.NumberColumn("signal avg (dBm)", format="%.1f"),
        "rssi_max": st.column_config.NumberColumn("signal max (dBm)"),
        "analysis": st.column_config.LinkColumn("analysis", display_text="open device"),
    })
