"""The evidence of a "following" anomaly on its map: the moving sensor's path and, numbered in order,
the stops where it heard the device (GET /anomalies/{id}/following). Drawn in the anomaly's detail and
on the device's page."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from santiway_anomaly.dashboard import charts, maps, ui
from santiway_anomaly.dashboard.client import ApiError


def is_following(anomaly: Any) -> bool:
    details = anomaly.details or {}
    return details.get("pattern") == "following" and bool(details.get("sensor_id"))


def _clock(value: Any, folder: str) -> str:
    return f"{ui.local(value, folder):%H:%M}"


def following_map(anomaly: Any, key: str) -> None:
    found = ui.try_call(ui.client().following, anomaly.anomaly_id)
    if isinstance(found, ApiError):
        ui.show_error(found)
        return
    if not found.sensor_path or not found.device_stops:
        st.info(f"The sightings behind this anomaly (sensor {found.sensor_id}, {ui.when(found.start)} → "
                f"{ui.when(found.end)}) are no longer stored.")
        return
    folder = anomaly.folder
    path = pd.DataFrame([p.model_dump() for p in found.sensor_path])
    path["when"] = [f"{_clock(t, folder)} · {f}" for t, f in zip(path["time"], path["folder"], strict=True)]
    stops = pd.DataFrame([s.model_dump() for s in found.device_stops])
    stops["when"] = [f"{_clock(a, folder)}–{_clock(b, folder)}"
                     for a, b in zip(stops["first_seen"], stops["last_seen"], strict=True)]
    zone = ui.zone_label(ui.zone(folder))
    st.plotly_chart(charts.following_map(path, stops, maps.basemap()), key=key)
    places = stops["folder"].nunique()
    st.caption(f"Sensor **{found.sensor_id}** from {ui.when(found.start, folder)} to {ui.when(found.end, folder)}: "
               f"the device was heard at **{len(stops)} stops** ({places} folders) along the sensor's path. "
               f"Times in {zone}.")
    table = stops[["order", "folder", "when", "sightings", "rssi_mean"]].rename(
        columns={"when": f"heard ({zone})", "rssi_mean": "mean dBm"})
    st.dataframe(table, hide_index=True, key=f"{key}_stops")
