"""What every page shares: the API client from settings, plain error messages, small widgets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
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
    """A window length; `?hours=168` in the URL picks the default (shareable links)."""
    choices = list(HOUR_CHOICES)
    linked = st.query_params.get("hours", "")
    by_value = {f"{v:g}": name for name, v in HOUR_CHOICES.items()}
    if linked in by_value:
        default = by_value[linked]
    choice = st.selectbox(label, choices, index=choices.index(default), key=key)
    return HOUR_CHOICES[str(choice)]


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def anomalies_frame(items: list[Any]) -> pd.DataFrame:
    """AnomalyPublic items as a frame with display columns."""
    rows = [
        {
            "severity": a.severity,
            "type": a.anomaly_type,
            "score": round(a.score, 3),
            "device_id": a.device_id or "—",
            "folder": a.folder,
            "vendor": a.vendor,
            "window_start": a.window_start,
            "window_end": a.window_end,
            "detected_at": a.detected_at,
            "lat": a.lat,
            "lon": a.lon,
            "anomaly_id": a.anomaly_id,
        }
        for a in items
    ]
    columns = ["severity", "type", "score", "device_id", "folder", "vendor", "window_start", "window_end",
               "detected_at", "lat", "lon", "anomaly_id"]
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
        st.markdown(f"{icon} **{result.status}** · v{result.version}")
        for warning in result.warnings[:3]:
            st.caption(f":material/warning: {warning}")
