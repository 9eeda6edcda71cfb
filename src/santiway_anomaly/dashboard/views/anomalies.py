"""Anomalies: a filterable, sortable list; one anomaly in detail with its reasons and feedback buttons."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st

from santiway_anomaly.catalog import ANOMALY_TYPES
from santiway_anomaly.dashboard import charts, evidence, ui
from santiway_anomaly.dashboard.client import ApiError

TYPES = list(ANOMALY_TYPES)
PAGE_SIZES = [50, 100, 250, 1000]


def _filters() -> dict[str, Any]:
    cols = st.columns([2, 2, 2, 3, 2, 1.3])
    hours = ui.hours_picker(key="anom_hours")
    with cols[0]:
        anomaly_type = st.selectbox("Type", ["all", *TYPES], format_func=lambda t: "all" if t == "all"
                                    else charts.type_label(t), key="anom_type")
    with cols[1]:
        severity = st.selectbox("Severity", ["all", *charts.SEVERITY_ORDER], key="anom_severity")
    with cols[2]:
        min_score = st.slider("Minimum score", 0.0, 1.0, 0.0, 0.05, key="anom_min_score")
    with cols[3]:
        device = st.text_input("Device (MAC)", key="anom_device", placeholder="AA:BB:CC:DD:EE:FF")
    with cols[4]:
        folder = st.text_input("Folder", key="anom_folder")
    with cols[5]:
        limit = st.selectbox("Rows", PAGE_SIZES, index=1, key="anom_limit")
    return {
        "anomaly_type": None if anomaly_type == "all" else anomaly_type,
        "severity": None if severity == "all" else severity,
        "min_score": min_score or None,
        "device_id": device.strip() or None,
        "folder": folder.strip() or None,
        "since": datetime.now(UTC) - timedelta(hours=hours),
        "limit": int(limit),
    }


def _reasons(details: dict[str, Any]) -> list[str]:
    """Plain sentences from `details`: its `reasons`/`reason`/`why` (what fired) and `against` (what spoke
    against), however a detector nests them."""
    out: list[str] = []

    def take(value: Any, prefix: str = "") -> None:
        if isinstance(value, dict):
            take(value.get("why") or value.get("reason"), prefix)
            take(value.get("against"), "against: ")
        elif isinstance(value, list):
            for item in value:
                take(item, prefix)
        elif value not in (None, ""):
            out.append(prefix + str(value))

    for key in ("reasons", "reason", "why"):
        take(details.get(key))
    take(details.get("against"), "against: ")
    return list(dict.fromkeys(out))


def _feedback(anomaly: Any, key_prefix: str = "") -> None:
    api = ui.client()
    st.markdown("**Feedback**")
    given = ui.try_call(api.get_feedback, anomaly.anomaly_id)
    if isinstance(given, ApiError):
        ui.show_error(given)
    elif given:
        verdict = str(given.get("verdict", "")).replace("_", " ")
        note = f": {given['note']}" if given.get("note") else ""
        st.caption(f"Marked **{verdict}** by {given.get('added_by', '?')} at {str(given.get('added_at', ''))[:16]}"
                   f"{note}")
    note = st.text_input("Note (optional)", key=f"{key_prefix}note_{anomaly.anomaly_id}")
    cols = st.columns(3)
    result: dict[str, Any] | ApiError | None = None
    if cols[0].button(":material/thumb_down: False alarm", key=f"{key_prefix}fa_{anomaly.anomaly_id}"):
        result = ui.try_call(api.feedback, anomaly.anomaly_id, "false_alarm", note)
    if cols[1].button(":material/thumb_up: Confirmed", key=f"{key_prefix}ok_{anomaly.anomaly_id}"):
        result = ui.try_call(api.feedback, anomaly.anomaly_id, "confirmed", note)
    if anomaly.device_id:
        reason = cols[2].selectbox("Exempt from", [anomaly.anomaly_type, "all"],
                                   key=f"{key_prefix}kr_{anomaly.anomaly_id}",
                                   format_func=lambda r: "all anomaly types" if r == "all" else charts.type_label(r))
        if cols[2].button(":material/verified: Mark device as known",
                          key=f"{key_prefix}known_{anomaly.anomaly_id}"):
            result = ui.try_call(api.mark_known, anomaly.device_id, str(reason), note)
    if isinstance(result, ApiError):
        ui.show_error(result)
    elif result is not None:
        st.success("Saved. " + ", ".join(f"{k}: {v}" for k, v in result.items() if not isinstance(v, dict | list)))


def _detail(anomaly: Any, key_prefix: str = "") -> None:
    st.subheader(f"{ui.SEVERITY_ICONS.get(anomaly.severity, '')} {charts.type_label(anomaly.anomaly_type)}")
    cols = st.columns(4)
    cols[0].metric("Score", f"{anomaly.score:.2f}")
    cols[1].metric("Severity", anomaly.severity)
    cols[2].metric("Folder", anomaly.folder or "—")
    with cols[3]:  # a MAC does not fit a metric's large type
        st.markdown(f"Device\n\n`{anomaly.device_id}`" if anomaly.device_id else "Device\n\nfolder-level")
    st.caption(f"Window {ui.when(anomaly.window_start, anomaly.folder)} → {ui.when(anomaly.window_end, anomaly.folder)}"
               f" · detected {ui.when(anomaly.detected_at, anomaly.folder)} · id `{anomaly.anomaly_id}`"
               + (f" · model {anomaly.model_version}" if anomaly.model_version else ""))
    reasons = _reasons(anomaly.details)
    if reasons:
        st.markdown("**Why it fired**\n\n" + "\n".join(f"- {r}" for r in reasons))
    if evidence.is_following(anomaly):
        evidence.following_map(anomaly, key=f"{key_prefix}following_{anomaly.anomaly_id}")
    if anomaly.device_id:
        st.markdown(f"[Open the analysis of device {anomaly.device_id}](device?device={anomaly.device_id})")
    with st.expander("All details (JSON)"):
        st.code(json.dumps(anomaly.details, indent=2, ensure_ascii=False, default=str), language="json")
    _feedback(anomaly, key_prefix)


def _linked(api: Any) -> None:
    """`?anomaly=ID` (from a notification, another page, a message to a colleague) opens that anomaly first."""
    linked = str(st.query_params.get("anomaly", "")).strip().lower()
    if not linked:
        return
    found = ui.try_call(api.anomaly, linked)
    if isinstance(found, ApiError):
        ui.show_error(found)
    else:
        with st.container(border=True):
            _detail(found, key_prefix="linked_")
    st.divider()


def render() -> None:
    st.title("Anomalies")
    api = ui.client()
    _linked(api)
    filters = _filters()
    signature = repr({k: v for k, v in filters.items() if k != "since"})
    if st.session_state.get("anom_signature") != signature:  # new filters start at the first page
        st.session_state["anom_signature"] = signature
        st.session_state["anom_page"] = 0
    page_no = int(st.session_state.get("anom_page", 0))
    page = ui.call(api.anomalies, offset=page_no * filters["limit"], **filters)
    frame = ui.anomalies_frame(page.data)
    first = page.offset + 1 if page.data else 0
    st.caption(f"{page.count} anomalies match · showing {first}–{page.offset + len(page.data)} · "
               "click a column header to sort, a row to open it")
    if not page.data:
        st.info("No anomalies match these filters.")
        return
    frame["link"] = [ui.anomaly_link(i) for i in frame["anomaly_id"]]
    zone = ui.zone_label(ui.zone())
    event = st.dataframe(
        frame[["severity", "type", "score", "device_id", "folder", "vendor", "window_start", "detected_at", "link"]],
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="anom_table",
        column_config={
            "score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0, format="%.2f"),
            "window_start": st.column_config.DatetimeColumn(f"window ({zone})", format="YYYY-MM-DD HH:mm"),
            "detected_at": st.column_config.DatetimeColumn(f"detected ({zone})", format="YYYY-MM-DD HH:mm"),
            "link": st.column_config.LinkColumn("link", display_text="open"),
        },
    )
    nav = st.columns([1, 1, 6])
    if page_no > 0 and nav[0].button(":material/chevron_left: Previous"):
        st.session_state["anom_page"] = page_no - 1
        st.rerun()
    if page.next_offset is not None and nav[1].button("Next :material/chevron_right:"):
        st.session_state["anom_page"] = page_no + 1
        st.rerun()
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    ids = list(frame["anomaly_id"])
    # A newly clicked row drives the picker; afterwards the picker can be changed on its own.
    if rows and rows != st.session_state.get("anom_rows_applied"):
        st.session_state["anom_pick"] = ids[rows[0]]
    st.session_state["anom_rows_applied"] = rows
    if st.session_state.get("anom_pick") not in ids:
        st.session_state["anom_pick"] = ids[0]
    picked = st.selectbox("Anomaly", ids, key="anom_pick",
                          format_func=lambda i: frame.loc[frame["anomaly_id"] == i, "label"].iloc[0])
    st.divider()
    _detail(next(a for a in page.data if a.anomaly_id == picked))
