"""Live: notifications from the service's WebSocket as they arrive."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from santiway_anomaly.dashboard import charts, ui
from santiway_anomaly.dashboard.client import ApiError
from santiway_anomaly.dashboard.feed import FeedState, NotificationFeed

SHOWN = 50
# The Live page opens with the notifications of the last HISTORY_HOURS (replayed by the hub), then streams.
HISTORY_HOURS = 6.0
STATUS_TEXT = {
    "connected": ":green[:material/check_circle:] connected",
    "connecting": ":orange[:material/sync:] connecting…",
    "refused": ":red[:material/key_off:] refused",
    "unreachable": ":red[:material/cloud_off:] not reachable",
    "unavailable": ":orange[:material/notifications_off:] not available",
    "stopped": ":gray[:material/stop_circle:] stopped",
}


def feed(min_severity: str = "info") -> NotificationFeed:
    """This browser session's feed; a new one when the URL, key or filter changed or the old one died."""
    url = ui.client().ws_url(min_severity=min_severity)
    current: NotificationFeed | None = st.session_state.get("live_feed")
    if current is None or current.url != url or not current.alive:
        if current is not None:
            current.stop()
        idle = max(60.0, 20 * ui.settings().dashboard_refresh_s)  # many missed refreshes: the tab is gone
        current = NotificationFeed(url, idle_s=idle, resume=current, history_s=HISTORY_HOURS * 3600).start()
        st.session_state["live_feed"] = current
    return current


def per_minute(frame: pd.DataFrame, minutes: int = 30) -> pd.DataFrame:
    """Notifications per minute and severity over the last `minutes` (empty minutes as 0)."""
    now = pd.Timestamp.now(tz="UTC").floor("min")
    start = min(now - pd.Timedelta(minutes=minutes - 1), pd.to_datetime(frame["received"]).min().floor("min"))
    grid = pd.date_range(start, now, freq="min")
    counts = (frame.assign(minute=pd.to_datetime(frame["received"]).dt.floor("min"))
              .groupby(["minute", "severity"]).size().unstack(fill_value=0).reindex(grid, fill_value=0))
    counts.index.name = "minute"
    long = counts.reset_index().melt(id_vars="minute", var_name="severity", value_name="count")
    return long.assign(minute=ui.local(long["minute"]))  # drawn in local time


def _show(state: FeedState) -> None:
    since = f" since {ui.when(state.connected_since)}" if state.connected_since else ""
    history = f" (and those of the last {HISTORY_HOURS:g} h)"
    st.markdown(f"WebSocket: **{STATUS_TEXT.get(state.status, state.status)}**{since} · "
                f"{len(state.messages)} notifications received{history}")
    if state.status == "refused":
        st.error(f"**Wrong or missing API key.** {state.error}. Set DASHBOARD_API_KEY to one of the service's "
                 "VALID_API_KEYS.", icon=":material/key_off:")
    elif state.status == "unavailable":
        st.warning(f"**Notifications are not available from the API.** {state.error}",
                   icon=":material/notifications_off:")
    elif state.status == "unreachable":
        st.error(f"**The notification WebSocket is not reachable.** {state.error}", icon=":material/cloud_off:")
    if not state.messages:
        st.info("Waiting for notifications. They appear here the moment the service detects a new anomaly.")
        return
    zone = ui.settings().zone_for()
    rows: list[dict[str, Any]] = [
        {"received": r.sent_at, "sent": r.sent_at.astimezone(zone).replace(tzinfo=None),
         "severity": str(r.message.get("severity", "")),
         "title": str(r.message.get("title", "")), "text": str(r.message.get("text", "")),
         "device_id": str(r.anomaly.get("device_id", "")), "folder": str(r.anomaly.get("folder", "")),
         "score": float(r.anomaly.get("score", 0.0) or 0.0),
         "link": ui.anomaly_link(str(r.anomaly.get("anomaly_id", "")))}
        for r in sorted(state.messages, key=lambda r: r.sent_at, reverse=True)
    ]
    frame = pd.DataFrame(rows)
    newest = rows[0]
    icon = ui.SEVERITY_ICONS.get(newest["severity"], "")
    sent = f"{newest['sent']:%Y-%m-%d %H:%M:%S} {ui.zone_label(zone)}"
    link = f" · [open]({newest['link']})" if newest["link"] else ""
    st.markdown(f"### {icon} {newest['title']}\n{newest['text']} · sent {sent}{link}")
    st.plotly_chart(charts.arrivals(per_minute(frame)), key="arrivals")
    st.dataframe(frame.drop(columns=["received"]).head(SHOWN), hide_index=True, column_config={
        "sent": st.column_config.DatetimeColumn(f"sent ({ui.zone_label(zone)})", format="YYYY-MM-DD HH:mm:ss"),
        "score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0, format="%.2f"),
        "link": st.column_config.LinkColumn("anomaly", display_text="open"),
    })


def render() -> None:
    st.title("Live notifications")
    s = ui.settings()
    cols = st.columns([2, 2, 3])
    # Filtered by the service's hub (?min_severity=), so a critical-only screen misses nothing critical.
    severity = cols[1].selectbox("Notify from severity", ["info", "warning", "critical"], key="live_severity",
                                 label_visibility="collapsed", format_func=lambda v: f"{v} and above")
    live = feed(str(severity))
    if cols[0].button("Run detection now", help="POST /anomalies/detect-and-notify over the last 24 hours"):
        run = ui.try_call(ui.client().detect, 24.0)
        if isinstance(run, ApiError):
            ui.show_error(run)
        else:
            cols[2].success(f"Detection found {run.detected} anomalies, {run.new} new (notified).")

    @st.fragment(run_every=s.dashboard_refresh_s)
    def updates() -> None:
        _show(live.snapshot())

    updates()
