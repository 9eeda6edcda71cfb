"""The background every map of the dashboard is drawn on (charts.Basemap), from the settings."""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path

import streamlit as st

from santiway_anomaly.dashboard import charts, ui


@st.cache_data(show_spinner=False, max_entries=4)
def _data_uri(path: str, mtime: float) -> str:
    # Sent inside the figure as a data: URI: the operator's browser fetches nothing from anywhere.
    kind = mimetypes.guess_type(path)[0] or "image/png"
    return f"data:{kind};base64,{base64.b64encode(Path(path).read_bytes()).decode('ascii')}"


def basemap() -> charts.Basemap:
    s = ui.settings()
    if s.dashboard_map_tiles:
        return charts.Basemap(tiles=s.dashboard_map_tiles)
    if not s.dashboard_map_image:
        return charts.NO_BASEMAP
    image = Path(s.dashboard_map_image)
    try:
        uri = _data_uri(str(image), image.stat().st_mtime)
    except OSError as exc:
        st.warning(f"DASHBOARD_MAP_IMAGE cannot be read ({exc}); the maps are drawn without it.")
        return charts.NO_BASEMAP
    return charts.Basemap(image=uri, bounds=s.map_image_bounds())
