"""Model: the current ML model's metadata, thresholds, training curve and the scores it produced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st

from santiway_anomaly.dashboard import charts, ui
from santiway_anomaly.dashboard.client import ApiError

SCORE_ROWS = 1000


def _trained(value: Any) -> str:
    try:
        return ui.when(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        return str(value or "—")


def _summary(meta: dict[str, Any]) -> None:
    training = meta.get("training") or {}
    data = meta.get("data_range") or {}
    st.markdown(f"Version **`{meta.get('model_version', '—')}`** · {meta.get('model_type', '—')} · trained "
                f"{_trained(meta.get('trained_at'))}")
    cols = st.columns(5)
    cols[0].metric("Features", str(meta.get("input_channels", "—")))
    cols[1].metric("Window (h)", str(meta.get("window_size", "—")))
    cols[2].metric("Training days", str(data.get("days", "—")))
    cols[3].metric("Devices", str(training.get("devices", "—")))
    cols[4].metric("Epochs (best)", f"{training.get('epochs_run', '—')} ({training.get('best_epoch', '—')})")
    st.caption(f"Data source: {meta.get('data_source', '—')} · {data.get('start', '?')} → {data.get('end', '?')}")


def render() -> None:
    st.title("Model")
    api = ui.client()
    current = ui.call(api.model)
    if not current.loaded:
        st.warning(f"**No ML model is loaded.** {current.reason}")
        return
    meta = current.metadata
    _summary(meta)
    thresholds = {k: float(v) for k, v in (meta.get("thresholds") or {}).items() if isinstance(v, int | float)}
    if thresholds:
        st.subheader("Thresholds")
        st.markdown(" · ".join(f"**{k}** {v:.4g}" for k, v in sorted(thresholds.items())) +
                    "  — above p95: warning, above p99: critical")
    training = meta.get("training") or {}
    left, right = st.columns(2)
    with left:
        history = training.get("history") or []
        if history:
            st.plotly_chart(charts.training_curve(history, training.get("best_epoch")), key="curve")
        else:
            st.info("The model's metadata has no training history.")
    with right:
        since = datetime.now(UTC) - timedelta(days=30)
        page = ui.try_call(api.anomalies, anomaly_type="ml_behavior", since=since, limit=SCORE_ROWS)
        if isinstance(page, ApiError):
            ui.show_error(page)
        else:
            scores = [float(a.details["raw_score"]) for a in page.data if "raw_score" in a.details]
            if scores:
                st.plotly_chart(charts.score_histogram(
                    scores, thresholds, f"ML anomaly scores, 30 days ({len(scores)})"),
                    key="scores")
            else:
                st.info("No ML anomalies in the last 30 days: nothing scored above p95.")
    with st.expander("Architecture and libraries"):
        st.json({"architecture": meta.get("architecture", {}), "libraries": meta.get("libraries", {}),
                 "training": {k: v for k, v in training.items() if k != "history"}})
