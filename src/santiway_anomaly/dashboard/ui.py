"""What every page shares: the API client from settings, plain error messages, small widgets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import pandas as pd
import streamlit as st

from santiway_anomaly.config import Settings, SettingsError, load_settings
from santiway_anomaly.dashboard.client import (
    ApiAuthError,
    ApiClient,
    ApiError,
    ApiNotFound,
    ApiRateLimited,
    ApiRejected,
    ApiUnavailable,
    ApiUnreachable,
    EndpointMissing,
    effective_key,
)

T = TypeVar("T")

MIN_LINK_HOURS = 0.1  # the API's smallest window (api/params.py MIN_HOURS)
HOUR_CHOICES = {"1 hour": 1.0, "6 hours": 6.0, "24 hours": 24.0, "3 days": 72.0, "7 days": 168.0, "30 days": 720.0}
# Material icons ship with Streamlit; emoji need a colour-emoji font the server's browser may lack.
SEVERITY_ICONS = {"critical": ":red[:material/error:]", "warning": ":orange[:material/warning:]",
                  "info": ":blue[:material/info:]"}


def settings() -> Settings:
    """Settings read afresh on every run (cheap), so a changed key or URL takes effect on reload."""
    try:
        return load_settings()
    except SettingsError as exc:
        st.error(f"**The dashboard's configuration is invalid.**\n\n```\n{exc}\n```")
        st.stop()


@st.cache_resource(show_spinner=False)
def _client(url: str, key: str, timeout: float, operator: str) -> ApiClient:
    return ApiClient(url, key, timeout, operator=operator)


def client() -> ApiClient:
    """The API client for the signed-in operator (app.py signs in before any page runs)."""
    s = settings()
    operator = st.session_state.get("operator", "")
    return _client(s.dashboard_api_url, effective_key(s), s.dashboard_timeout_s, str(operator or ""))


def show_error(exc: ApiError) -> None:
    """One plain box per kind of failure: what happened and what to do, never a stack trace."""
    if isinstance(exc, ApiUnreachable):
        st.error(f"**The anomaly service is not reachable.** {exc}", icon=":material/cloud_off:")
    elif isinstance(exc, ApiAuthError):
        st.error(f"**Wrong or missing API key.** {exc}", icon=":material/key_off:")
    elif isinstance(exc, EndpointMissing):
        st.info(f"**Not available from the API.** {exc}", icon=":material/info:")
    elif isinstance(exc, ApiRateLimited):
        st.warning(f"**Too many requests.** {exc}", icon=":material/hourglass_top:")
    elif isinstance(exc, ApiUnavailable):
        st.warning(f"**The service cannot answer this now.** {exc}", icon=":material/warning:")
    elif isinstance(exc, ApiNotFound):
        st.warning(f"**Not found.** {exc}", icon=":material/search_off:")
    elif isinstance(exc, ApiRejected):
        st.warning(str(exc), icon=":material/block:")
    else:
        st.error(f"**The service failed.** {exc}", icon=":material/error:")


def fail(exc: ApiError) -> NoReturn:
    show_error(exc)
    st.stop()


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call the API; on failure show the plain message and stop this page. When the service is only
    rate-limiting, the last answer to the same call is shown instead, with a note saying so."""
    key = f"last:{getattr(fn, '__name__', fn)}:{args!r}:{sorted(kwargs.items())!r}"
    try:
        result = fn(*args, **kwargs)
    except ApiRateLimited as exc:
        last = st.session_state.get(key)
        if last is None:
            fail(exc)
        at, value = last
        st.warning(f"**Too many requests**: showing the answer from {at:%H:%M:%S} until the service accepts "
                   f"requests again. {exc}", icon=":material/hourglass_top:")
        return value  # type: ignore[no-any-return]
    except ApiError as exc:
        fail(exc)
    st.session_state[key] = (datetime.now(settings().zone_for()), result)
    return result


def try_call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | ApiError:
    """Call the API; on failure return the error so the rest of the page still draws."""
    try:
        return fn(*args, **kwargs)
    except ApiError as exc:
        return exc


def hours_picker(label: str = "Time window", default: str = "24 hours", key: str | None = None) -> float:
    """A window length; `?hours=N` in the URL picks the default (shareable links). Any N within the
    service's limits (0.1 .. API_MAX_HOURS) is offered as it is, not only the preset lengths; a value
    outside them is brought to the nearest limit, and the page says so."""
    choices = dict(HOUR_CHOICES)
    linked = str(st.query_params.get("hours", "")).strip()
    if linked:
        limit = settings().api_max_hours
        try:
            wanted = float(linked)
        except ValueError:
            st.warning(f"?hours={linked} is not a number of hours; showing {default}.")
        else:
            if not MIN_LINK_HOURS <= wanted <= limit:
                clamped = min(max(wanted, MIN_LINK_HOURS), limit)
                st.warning(f"?hours={linked} is outside 0.1 .. {limit:g} (API_MAX_HOURS); showing {clamped:g} hours.")
                wanted = clamped
            by_value = {v: name for name, v in choices.items()}
            default = by_value.get(wanted) or f"{wanted:g} hours"
            choices.setdefault(default, wanted)
    names = sorted(choices, key=lambda n: choices[n])
    choice = st.selectbox(label, names, index=names.index(default), key=key)
    return choices[str(choice)]


def zone(folder: str | None = None) -> Any:
    """The operator's time zone: TIMEZONE, or the folder's own (FOLDER_TIMEZONES) when one is given."""
    return settings().zone_for(folder)


def local(values: Any, folder: str | None = None) -> Any:
    """UTC times (a datetime, or a pandas Series of them) as naive local wall-clock times, for tables and
    charts whose header or title names the zone (`zone_label(zone(folder))`)."""
    target = zone(folder)
    if isinstance(values, pd.Series):
        stamps = pd.to_datetime(values, utc=True)
        return stamps.dt.tz_convert(target).dt.tz_localize(None)
    if isinstance(values, datetime):
        aware = values if values.tzinfo else values.replace(tzinfo=UTC)
        return aware.astimezone(target).replace(tzinfo=None)
    return values


def with_gaps(frame: pd.DataFrame, x: str = "hour", freq: str = "h") -> pd.DataFrame:
    """The frame on a full time grid, missing steps as empty rows: a line breaks there instead of drawing
    a straight segment across hours with no data (plotly does not connect gaps by default)."""
    if frame.empty:
        return frame
    ordered = frame.sort_values(x).set_index(x)
    ordered = ordered[~ordered.index.duplicated(keep="first")]
    grid = pd.date_range(ordered.index.min(), ordered.index.max(), freq=freq)
    return ordered.reindex(grid).rename_axis(x).reset_index()


def anomaly_link(anomaly_id: str) -> str:
    """The dashboard URL (relative to the app) that opens one anomaly: the Anomalies page with ?anomaly=ID."""
    return f"anomalies?anomaly={anomaly_id}" if anomaly_id else ""


def zone_label(zone: Any) -> str:
    """The zone's name as an operator reads it: `Europe/Moscow (MSK)`, or `UTC`."""
    key = str(getattr(zone, "key", zone))
    abbrev = datetime.now(zone).tzname() if key != "UTC" else None
    return f"{key} ({abbrev})" if abbrev and abbrev != key and not abbrev.startswith(("+", "-")) else key


def when(value: datetime | None, folder: str | None = None) -> str:
    """A moment in local time (TIMEZONE, or the folder's own zone), the zone named."""
    if not value:
        return "—"
    zone = settings().zone_for(folder)
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return f"{aware.astimezone(zone):%Y-%m-%d %H:%M} {zone_label(zone)}"


def happened_at(anomaly: Any) -> datetime:
    """When an anomaly happened, for charts over time: the ML detector judges the 24 hours before its
    window's end, so its anomaly is placed at that end (placing it at the window's start drew bars of
    ML anomalies in hours when nothing happened); the rule detectors' windows start when it happened."""
    value: datetime = anomaly.window_end if anomaly.anomaly_type == "ml_behavior" else anomaly.window_start
    return value


def anomalies_frame(items: list[Any]) -> pd.DataFrame:
    """AnomalyPublic items as a frame with display columns; times in local time (`zone()`), naive."""
    rows = [
        {
            "severity": a.severity,
            "type": a.anomaly_type,
            "score": round(a.score, 3),
            "device_id": a.device_id or "—",
            "folder": a.folder,
            "vendor": a.vendor,
            "window_start": local(a.window_start),
            "window_end": local(a.window_end),
            "detected_at": local(a.detected_at),
            "at": local(happened_at(a)),
            "lat": a.lat,
            "lon": a.lon,
            "anomaly_id": a.anomaly_id,
        }
        for a in items
    ]
    columns = ["severity", "type", "score", "device_id", "folder", "vendor", "window_start", "window_end",
               "detected_at", "at", "lat", "lon", "anomaly_id"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["label"] = [f"{t} · {d if d != '—' else f} · {s:.2f}"
                      for t, d, f, s in zip(frame["type"], frame["device_id"], frame["folder"], frame["score"],
                                            strict=True)]
    return frame


def sidebar_status() -> None:
    """Which service the dashboard talks to and whether it is well (on every page)."""
    s = settings()
    api = client()
    with st.sidebar:
        st.caption(f"Service: `{s.dashboard_api_url}`")
        result = try_call(api.health)
        if isinstance(result, ApiError):
            st.error("Service not reachable" if isinstance(result, ApiUnreachable) else "Service problem")
            return
        icon = {"healthy": ":green[:material/check_circle:]", "degraded": ":orange[:material/warning:]",
                "unhealthy": ":red[:material/error:]"}[result.status]
        st.markdown(f"{icon} **{result.status}** · v{result.version or '?'}")
        for warning in (result.warnings or [])[:3]:  # None without a key: status only
            st.caption(f":material/warning: {warning}")
