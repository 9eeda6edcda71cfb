"""Compare: several devices side by side — where each was hour by hour, and how much they overlap."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from santiway_anomaly.dashboard import charts, ui
from santiway_anomaly.dashboard.client import ApiError

SPLIT = re.compile(r"[\s,;]+")


def _device_list() -> list[str]:
    linked = st.query_params.get("devices", "")
    if linked and st.session_state.get("compare_linked") != linked:
        st.session_state["compare_linked"] = linked
        st.session_state["compare_ids"] = "\n".join(SPLIT.split(linked))
    text = st.text_area("Devices to compare (one MAC per line, two or more)", key="compare_ids", height=110)
    return list(dict.fromkeys(d for d in SPLIT.split(str(text)) if d))


def _timeline(devices: list[str], hours: float) -> None:
    """Each device's folders per hour, from the device analysis (one call per device)."""
    rows = []
    for device in devices:
        profile = ui.try_call(ui.client().analyze_device, device, hours)
        if isinstance(profile, ApiError):
            ui.show_error(profile)
            return
        for h in profile.activity_by_hour:
            for folder in h.folders or ["?"]:
                rows.append({"device": profile.device_id, "hour": ui.local(h.hour), "folder": folder,
                             "events": h.events})
    if rows:
        st.plotly_chart(charts.colocation_timeline(pd.DataFrame(rows), ui.zone_label(ui.zone())), key="timeline")


def render() -> None:
    st.title("Compare devices")
    api = ui.client()
    cols = st.columns([3, 1])
    with cols[0]:
        devices = _device_list()
    with cols[1]:
        hours = ui.hours_picker(key="compare_hours")
    if len(devices) < 2:
        st.info("Enter at least two devices. Devices with the most anomalies recently:")
        stats = ui.try_call(api.stats, hours)
        if isinstance(stats, ApiError):
            ui.show_error(stats)
        elif stats.top_devices:
            keys = [t.key for t in stats.top_devices[:4]]
            st.markdown(f"[Compare {', '.join(keys)}](compare?devices={','.join(keys)})")
        return
    result = ui.call(api.compare, devices, hours)
    ids = [d.device_id for d in result.devices]
    st.caption(f"Window {ui.when(result.since)} → {ui.when(result.until)}")

    _timeline(ids, hours)

    left, right = st.columns(2)
    with left:
        co = {(p.device_a, p.device_b): float(p.co_located_minutes) for p in result.pairs}
        st.plotly_chart(charts.pair_heatmap(ids, co, "Minutes seen by the same sensor"), key="co_minutes")
    with right:
        sim = {(p.device_a, p.device_b): p.similarity for p in result.pairs}
        st.plotly_chart(charts.pair_heatmap(ids, sim, "Similarity (activity, places, co-location)"), key="similarity")

    profiles = pd.DataFrame([
        {"device": d.device_id, "hour_of_day": hour, "sightings": n}
        for d in result.devices for hour, n in enumerate(d.hourly_profile)
    ])
    st.plotly_chart(charts.hourly_profiles(profiles), key="profiles")

    st.subheader("Pairs")
    st.dataframe(pd.DataFrame([p.model_dump() for p in result.pairs]), hide_index=True)
    st.subheader("Devices")
    st.dataframe(pd.DataFrame([d.model_dump(exclude={"hourly_profile"}) for d in result.devices]), hide_index=True)
