"""Device: one device's activity, places, signal, ML score against p95/p99 and what drove it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from santiway_anomaly.api.schemas import DeviceProfilePublic
from santiway_anomaly.dashboard import charts, evidence, maps, ui
from santiway_anomaly.dashboard.client import ApiError


def _device_id() -> str:
    # ?device=... (links from other pages) pre-fills the box once; the box then rules.
    linked = st.query_params.get("device", "")
    if linked and st.session_state.get("device_linked") != linked:
        st.session_state["device_linked"] = linked
        st.session_state["device_id"] = linked
    value = st.text_input("Device (MAC, any common notation)", key="device_id", placeholder="AA:BB:CC:DD:EE:FF")
    return str(value).strip()


def _suggestions(hours: float) -> None:
    stats = ui.try_call(ui.client().stats, hours)
    if isinstance(stats, ApiError):
        ui.show_error(stats)
        return
    if stats.top_devices:
        st.markdown("Devices with the most anomalies in this window:\n\n" + "\n".join(
            f"- [{t.key}](device?device={t.key}) · {t.count} anomalies, max score {t.max_score:.2f}"
            for t in stats.top_devices))


def _ml(profile: DeviceProfilePublic, device: str, hours: float) -> None:
    ml = profile.ml
    st.subheader("ML score")
    if not ml.available or ml.raw_score is None:
        st.info(f"**No ML score.** {ml.reason}")
    else:
        level = {"normal": ":green[normal]", "above_p95": ":orange[above p95]", "above_p99": ":red[above p99]"}.get(
            str(ml.level), str(ml.level))
        window = f" · window {ui.when(ml.window_start)} → {ui.when(ml.window_end)}" if ml.window_start else ""
        calibrated = f" · calibrated score **{ml.score:.2f}**" if ml.score is not None else ""
        st.markdown(f"Level: **{level}**{calibrated}{window} · model `{ml.model_version or '?'}`")
        st.plotly_chart(charts.ml_score(ml.raw_score, ml.threshold_95, ml.threshold_99), key="ml_score")
    # The model judges whole windows of WINDOW_SIZE hours: the explanation covers the latest one.
    explained = ui.try_call(ui.client().explain, device, float(ui.settings().window_size), 15)
    if isinstance(explained, ApiError):
        ui.show_error(explained)
        return
    if not explained.attributions:
        st.info("The model returned no feature attributions for this window.")
        return
    frame = pd.DataFrame([a.model_dump() for a in explained.attributions])
    st.caption(f"Method: {explained.method}")
    st.plotly_chart(charts.attributions(frame), key="attributions")


def render() -> None:
    st.title("Device")
    api = ui.client()
    cols = st.columns([3, 1])
    with cols[0]:
        device = _device_id()
    with cols[1]:
        hours = ui.hours_picker(key="device_hours")
    if not device:
        st.info("Enter a device's MAC address, or pick one below.")
        _suggestions(hours)
        return
    profile = ui.call(api.analyze_device, device, hours)
    boxes = st.columns(5)
    cols = list(boxes)
    cols[0].metric("Folders", len(profile.folders))
    cols[1].metric("Network", profile.network_type or "—")
    cols[2].metric("Randomized MAC", "yes" if profile.is_randomized else "no")
    cols[3].metric("Sightings", profile.signal.sightings if profile.signal else 0)
    cols[4].metric("Anomalies", len(profile.anomalies))
    st.caption(f"{profile.device_id} · {profile.vendor or 'unknown vendor'} · first seen "
               f"{ui.when(profile.first_seen)} · last seen {ui.when(profile.last_seen)} · window "
               f"{ui.when(profile.since)} → {ui.when(profile.until)}")
    if not profile.activity_by_hour:
        st.warning(f"Device {profile.device_id} was not seen in the last {hours:g} hours; choose a longer window.")
        return

    activity = pd.DataFrame([h.model_dump() for h in profile.activity_by_hour])
    activity = ui.with_gaps(activity.assign(hour=ui.local(activity["hour"])))
    zone = ui.zone_label(ui.zone())
    left, right = st.columns(2)
    with left:
        st.plotly_chart(charts.activity_by_hour(activity, zone), key="activity")
    with right:
        st.plotly_chart(charts.signal_over_time(activity, zone), key="signal")

    left, right = st.columns([3, 2])
    with left:
        if profile.places:
            places = pd.DataFrame([p.model_dump() for p in profile.places])
            st.plotly_chart(charts.places_map(places, maps.basemap()), key="places")
    with right:
        if profile.movement:
            m = profile.movement
            st.subheader("Movement")
            st.markdown(f"- path **{m.path_km:.2f} km**, radius of gyration **{m.radius_of_gyration_m:.0f} m**\n"
                        f"- fastest move **{m.max_speed_mps:.1f} m/s**\n"
                        f"- **{m.distinct_folders}** folders ({m.folder_changes} changes), "
                        f"**{m.distinct_sensors}** sensors")
        if profile.folders:
            st.dataframe(pd.DataFrame([f.model_dump() for f in profile.folders]), hide_index=True)

    _ml(profile, profile.device_id, hours)

    if profile.anomalies:
        st.subheader("This device's anomalies")
        frame = ui.anomalies_frame(profile.anomalies)
        st.dataframe(frame[["severity", "type", "score", "folder", "window_start", "detected_at"]], hide_index=True)
    following = [a for a in profile.anomalies if evidence.is_following(a)]
    if following:
        newest = max(following, key=lambda a: a.window_start)
        st.subheader("Following: where the moving sensor heard this device")
        st.markdown(f"[Open this anomaly]({ui.anomaly_link(newest.anomaly_id)})"
                    + (f" · {len(following) - 1} earlier following anomalies in the table above"
                       if len(following) > 1 else ""))
        evidence.following_map(newest, key="device_following")
