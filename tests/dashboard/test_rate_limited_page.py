"""A page the service rate-limits keeps showing its last answer, with a note, instead of going blank."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _page() -> None:
    import streamlit as st

    from santiway_anomaly.dashboard import ui
    from santiway_anomaly.dashboard.client import ApiRateLimited

    def stats(hours: float) -> str:
        if st.session_state.get("limited"):
            raise ApiRateLimited("The service is rate-limiting this key (100 per 1 minute).", 42)
        return f"{hours:g} h: 17 anomalies"

    st.markdown(ui.call(stats, 24.0))


def test_last_answer_stays_with_a_note() -> None:
    at = AppTest.from_function(_page, default_timeout=30)
    at.run()
    assert at.markdown[0].value == "24 h: 17 anomalies" and not at.warning
    at.session_state["limited"] = True
    at.run()
    assert at.markdown[0].value == "24 h: 17 anomalies"
    assert "Too many requests" in at.warning[0].value and "showing the answer from" in at.warning[0].value


def test_no_earlier_answer_says_why() -> None:
    at = AppTest.from_function(_page, default_timeout=30)
    at.session_state["limited"] = True
    at.run()
    assert not at.markdown and "Too many requests" in at.warning[0].value
