"""The dashboard's entry script: `streamlit run .../dashboard/app.py` (or `santiway-anomaly dashboard`)."""

from __future__ import annotations

import streamlit as st

from santiway_anomaly.dashboard import signin, ui
from santiway_anomaly.dashboard.navigation import PAGES


def main() -> None:
    st.set_page_config(page_title="SantiWay anomalies", page_icon=":material/radar:", layout="wide")
    pages = [st.Page(fn, title=title, url_path=path, icon=icon, default=i == 0)
             for i, (fn, title, path, icon) in enumerate(PAGES)]
    name = signin.operator(ui.settings())  # nothing below runs until someone has signed in
    page = st.navigation(pages)
    with st.sidebar:
        st.caption(f":material/person: {name}")
        if name != "dev":
            st.button("Sign out", on_click=signin.sign_out, key="sign_out")
    ui.sidebar_status()
    page.run()


main()
