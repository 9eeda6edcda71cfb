"""Plotly figures for the pages: pure functions from API answers (or frames made of them) to figures.

Maps are drawn by default as plain longitude/latitude scatter plots with an equal-distance aspect
ratio and the folders' names written on them, not on map tiles: tile servers (OpenStreetMap, Carto)
are on the internet, and the dashboard must work on an isolated network (measured here: with tiles and
no internet, plotly's map draws nothing at all, not even the points). Two opt-in backgrounds
(`Basemap`): a picture of the site (DASHBOARD_MAP_IMAGE, e.g. a site plan or a map exported once,
stretched over DASHBOARD_MAP_IMAGE_BOUNDS), sent with the page so it needs no network; or map tiles
(DASHBOARD_MAP_TILES) that the operator's browser fetches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go

SEVERITY_COLORS = {"critical": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}
SEVERITY_ORDER = ["critical", "warning", "info"]
TYPE_LABELS = {
    "density_spike": "Device crowd (density)",
    "night_activity": "Night activity",
    "stationary_surveillance": "Stationary surveillance",
    "ml_behavior": "Unusual behaviour (ML)",
}
P95_COLOR, P99_COLOR = "#ff7f0e", "#d62728"
LAYOUT: dict[str, Any] = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "height": 320}


def _fig(title: str, **layout: Any) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=title, **{**LAYOUT, **layout})
    return fig


def type_label(anomaly_type: str) -> str:
    return TYPE_LABELS.get(anomaly_type, anomaly_type)


def type_severity_bars(frame: pd.DataFrame, title: str = "Anomalies by type and severity") -> go.Figure:
    """Stacked horizontal bars: one per anomaly type, split by severity. `frame`: type, severity, count."""
    fig = _fig(title, barmode="stack", legend_title_text="severity")
    for severity in SEVERITY_ORDER:
        part = frame[frame["severity"] == severity]
        if len(part):
            fig.add_bar(y=[type_label(t) for t in part["type"]], x=part["count"], orientation="h",
                        name=severity, marker_color=SEVERITY_COLORS[severity])
    fig.update_xaxes(title="anomalies")
    return fig


def counts_bar(keys: Sequence[str], counts: Sequence[int], title: str,
               colors: Sequence[str] | None = None) -> go.Figure:
    fig = _fig(title)
    fig.add_bar(x=list(keys), y=list(counts), marker_color=list(colors) if colors else None)
    fig.update_yaxes(title="anomalies")
    return fig


def over_time(frame: pd.DataFrame, title: str = "Anomalies per hour") -> go.Figure:
    """Stacked bars per hour by severity. `frame`: hour, severity, count."""
    fig = _fig(title, barmode="stack", legend_title_text="severity")
    for severity in SEVERITY_ORDER:
        part = frame[frame["severity"] == severity]
        if len(part):
            fig.add_bar(x=part["hour"], y=part["count"], name=severity, marker_color=SEVERITY_COLORS[severity])
    fig.update_yaxes(title="anomalies")
    return fig


def _equal_aspect(fig: go.Figure, lats: Sequence[float], lons: Sequence[float] = ()) -> None:
    # One degree of latitude is 1/cos(lat) times longer on the ground than one of longitude.
    mean_lat = sum(lats) / len(lats) if lats else 0.0
    ratio = 1.0 / max(math.cos(math.radians(mean_lat)), 0.05)
    fig.update_yaxes(title="latitude", scaleanchor="x", scaleratio=ratio)
    fig.update_xaxes(title="longitude")
    if lons:
        # Room on both sides for the names written beside the outermost points.
        pad = max((max(lons) - min(lons)) * 0.12, 0.001)
        fig.update_xaxes(range=[min(lons) - pad, max(lons) + pad])


@dataclass(frozen=True)
class Basemap:
    """What a map is drawn on. `image`: a data: URI stretched over `bounds` (west, south, east, north),
    drawn under the points on the longitude/latitude axes; `tiles`: a plotly map style (internet)."""

    tiles: str = ""
    image: str = ""
    bounds: tuple[float, float, float, float] | None = None


NO_BASEMAP = Basemap()
FOLDER_LABEL_COLOR = "#444444"


def _points(fig: go.Figure, base: Basemap, lats: Any, lons: Any, **trace: Any) -> None:
    if base.tiles:
        fig.add_trace(go.Scattermap(lat=lats, lon=lons, **trace))
    else:
        fig.add_scatter(x=lons, y=lats, **trace)


def _frame_map(fig: go.Figure, base: Basemap, lats: Sequence[float], lons: Sequence[float]) -> None:
    if not base.tiles:
        _equal_aspect(fig, lats, lons)
        if base.image and base.bounds:
            west, south, east, north = base.bounds
            fig.add_layout_image(source=base.image, xref="x", yref="y", x=west, y=north, sizex=east - west,
                                 sizey=north - south, sizing="stretch", layer="below", opacity=0.9)
        return
    center = {"lat": sum(lats) / len(lats), "lon": sum(lons) / len(lons)} if lats else {"lat": 0, "lon": 0}
    span = max((max(lats) - min(lats)) if lats else 0, (max(lons) - min(lons)) if lons else 0, 0.002)
    zoom = max(1.0, min(16.0, math.log2(360 / span) - 1))
    fig.update_layout(map={"style": base.tiles, "center": center, "zoom": zoom})


def _map_title(title: str, base: Basemap) -> str:
    if base.tiles:
        return title
    return f"{title} (site picture: longitude / latitude)" if base.image else f"{title} (longitude / latitude)"


def _folder_labels(fig: go.Figure, base: Basemap, frame: pd.DataFrame) -> None:
    """Each folder's name once per place where it has points (a place: positions equal to ~110 m, three
    decimals of a degree), not once per point. `frame`: folder, lat, lon."""
    named = frame[frame["folder"].astype(str) != ""]
    if named.empty:
        return
    cells = named.assign(cell_lat=named["lat"].round(3), cell_lon=named["lon"].round(3))
    places = cells.groupby(["folder", "cell_lat", "cell_lon"], sort=True)[["lat", "lon"]].mean().reset_index()
    _points(fig, base, places["lat"], places["lon"], mode="text", text=places["folder"], name="folders",
            textposition="bottom center", textfont={"color": FOLDER_LABEL_COLOR, "size": 12},
            hoverinfo="skip", showlegend=False)


def anomaly_map(frame: pd.DataFrame, base: Basemap = NO_BASEMAP) -> go.Figure:
    """Points of anomalies coloured by severity, sized by score, folders named.
    `frame`: lat, lon, severity, score, label, folder."""
    fig = _fig(_map_title("Where", base), height=420, legend_title_text="severity")
    located = frame[(frame["lat"] != 0) | (frame["lon"] != 0)]
    for severity in SEVERITY_ORDER:
        part = located[located["severity"] == severity]
        if len(part):
            _points(fig, base, part["lat"], part["lon"], mode="markers", name=severity,
                    marker={"color": SEVERITY_COLORS[severity], "size": 8 + 14 * part["score"], "opacity": 0.7},
                    text=part["label"], hovertemplate="%{text}<extra></extra>")
    if "folder" in located:
        _folder_labels(fig, base, located)
    _frame_map(fig, base, list(located["lat"]), list(located["lon"]))
    return fig


def places_map(frame: pd.DataFrame, base: Basemap = NO_BASEMAP) -> go.Figure:
    """A device's places sized by dwell minutes, named by folder. `frame`: lat, lon, folder, dwell_minutes,
    sightings."""
    fig = _fig(_map_title("Places", base), height=380)
    size = 10 + 30 * frame["dwell_minutes"] / max(float(frame["dwell_minutes"].max()), 1.0)
    _points(fig, base, frame["lat"], frame["lon"], mode="markers+text", text=frame["folder"],
            textposition="top center", marker={"size": size, "color": "#1f77b4", "opacity": 0.6},
            customdata=frame[["dwell_minutes", "sightings"]],
            hovertemplate="%{text}<br>%{customdata[0]} min, %{customdata[1]} sightings<extra></extra>")
    _frame_map(fig, base, list(frame["lat"]), list(frame["lon"]))
    return fig


def following_map(path: pd.DataFrame, stops: pd.DataFrame, base: Basemap = NO_BASEMAP,
                  title: str = "Following: the sensor's path and where it heard the device") -> go.Figure:
    """The evidence of a following anomaly. The moving sensor's path in time order (grey line) and the
    stops where it heard the device, numbered in order and named by folder (red). A follower's numbers
    walk along the path. `path`: lat, lon, when; `stops`: order, folder, lat, lon, when, sightings, rssi_mean."""
    fig = _fig(_map_title(title, base), height=460, legend={"orientation": "h", "y": -0.12})
    _points(fig, base, path["lat"], path["lon"], mode="lines+markers", name="sensor's path",
            line={"color": "#7f7f7f", "width": 2}, marker={"size": 4, "color": "#7f7f7f"},
            text=path["when"], hovertemplate="sensor at %{text}<extra></extra>")
    labels = [f"{int(o)}. {f}" for o, f in zip(stops["order"], stops["folder"], strict=True)]
    _points(fig, base, stops["lat"], stops["lon"], mode="markers+text", name="device heard (stops in order)",
            text=labels, textposition="top right", textfont={"color": SEVERITY_COLORS["critical"], "size": 13},
            marker={"size": 16, "color": SEVERITY_COLORS["critical"], "opacity": 0.8,
                    "line": {"color": "white", "width": 1}},
            customdata=stops[["when", "sightings", "rssi_mean"]],
            hovertemplate="%{text}<br>%{customdata[0]}<br>%{customdata[1]} sightings, "
                          "mean %{customdata[2]} dBm<extra></extra>")
    _frame_map(fig, base, [*path["lat"], *stops["lat"]], [*path["lon"], *stops["lon"]])
    return fig


def activity_by_hour(frame: pd.DataFrame, zone: str = "UTC") -> go.Figure:
    """Sightings (bars) and active minutes (line) per hour. `frame`: hour (in `zone`), events, active_minutes."""
    fig = _fig(f"Activity by hour ({zone})", legend={"orientation": "h", "y": -0.2})
    fig.add_bar(x=frame["hour"], y=frame["events"], name="sightings", marker_color="#1f77b4")
    fig.add_scatter(x=frame["hour"], y=frame["active_minutes"], name="active minutes", yaxis="y2",
                    mode="lines+markers", line={"color": "#2ca02c"})
    fig.update_layout(yaxis={"title": "sightings"},
                      yaxis2={"title": "active minutes", "overlaying": "y", "side": "right", "range": [0, 61]})
    return fig


def signal_over_time(frame: pd.DataFrame, zone: str = "UTC") -> go.Figure:
    """Mean RSSI per hour. `frame`: hour (in `zone`), rssi_mean; hours without data break the line."""
    fig = _fig(f"Signal over time (mean RSSI per hour, {zone})")
    fig.add_scatter(x=frame["hour"], y=frame["rssi_mean"], mode="lines+markers", line={"color": "#9467bd"},
                    name="RSSI")
    fig.update_yaxes(title="dBm")
    return fig


def ml_score(score: float, p95: float | None, p99: float | None) -> go.Figure:
    """The device's reconstruction error as a bar against the model's p95 and p99 thresholds."""
    fig = _fig("ML score against the model's thresholds", height=200)
    color = "#2ca02c"
    if p99 is not None and score > p99:
        color = P99_COLOR
    elif p95 is not None and score > p95:
        color = P95_COLOR
    fig.add_bar(x=[score], y=["score"], orientation="h", marker_color=color, name="score",
                text=[f"{score:.4g}"], textposition="outside")
    for value, name, line_color in ((p95, "p95", P95_COLOR), (p99, "p99", P99_COLOR)):
        if value is not None:
            fig.add_vline(x=value, line={"color": line_color, "dash": "dash"}, annotation_text=name)
    top = max([score, p95 or 0.0, p99 or 0.0]) * 1.25
    fig.update_xaxes(range=[0, top or 1.0], title="reconstruction error")
    return fig


def attributions(frame: pd.DataFrame) -> go.Figure:
    """Feature attributions, largest on top. `frame`: feature, attribution, description."""
    ordered = frame.iloc[::-1]
    colors = [P99_COLOR if a > 0 else "#1f77b4" for a in ordered["attribution"]]
    fig = _fig("What drove the ML score (feature attributions)", height=max(260, 22 * len(frame) + 80))
    fig.add_bar(x=ordered["attribution"], y=ordered["feature"], orientation="h", marker_color=colors,
                customdata=ordered[["description"]], hovertemplate="%{y}: %{x:.4g}<br>%{customdata[0]}<extra></extra>")
    fig.update_xaxes(title="attribution (towards a higher score > 0)")
    return fig


def colocation_timeline(frame: pd.DataFrame, zone: str = "UTC") -> go.Figure:
    """Where each device was, hour by hour: one row per device, one colour per folder; the same colour in
    the same column on two rows means both were in that folder that hour. `frame`: device, hour, folder, events."""
    fig = _fig(f"Co-location timeline (folder per device per hour, {zone})",
               height=140 + 40 * frame["device"].nunique(),
               legend_title_text="folder")
    for folder, part in frame.groupby("folder", sort=True):
        fig.add_scatter(x=part["hour"], y=part["device"], mode="markers", name=str(folder),
                        marker={"symbol": "square", "size": 14}, customdata=part[["events"]],
                        hovertemplate="%{y}<br>%{x}<br>" + str(folder) + ": %{customdata[0]} sightings<extra></extra>")
    fig.update_yaxes(type="category", title="")
    return fig


def pair_heatmap(devices: Sequence[str], values: dict[tuple[str, str], float], title: str) -> go.Figure:
    """A symmetric device x device matrix (co-located minutes, similarity)."""
    z = [[values.get((a, b), values.get((b, a), float("nan"))) if a != b else float("nan") for b in devices]
         for a in devices]
    fig = _fig(title, height=120 + 45 * len(devices))
    fig.add_heatmap(z=z, x=list(devices), y=list(devices), colorscale="Reds", zmin=0,
                    texttemplate="%{z:.2f}")
    return fig


def hourly_profiles(frame: pd.DataFrame) -> go.Figure:
    """Sightings by local hour of day per device. `frame`: device, hour_of_day, sightings."""
    fig = _fig("Hour-of-day profile (local time)", legend_title_text="device")
    for device, part in frame.groupby("device", sort=False):
        fig.add_scatter(x=part["hour_of_day"], y=part["sightings"], mode="lines+markers", name=str(device))
    fig.update_xaxes(title="hour of day", dtick=2)
    fig.update_yaxes(title="sightings")
    return fig


def folder_density(frame: pd.DataFrame, folder: str, zone: str = "UTC") -> go.Figure:
    """Distinct devices per hour against the folder's p95 baseline band; hours above it marked by score.
    `frame`: hour (in `zone`), unique_devices, robust_devices, p95_baseline, score, and (optional) people,
    people_low, people_high; an hour with no row (NaN) is a gap in the lines and the band, not a straight
    line across it."""
    fig = _fig(f"{folder}: devices per hour vs p95 baseline ({zone})", legend={"orientation": "h", "y": -0.25})
    fig.add_scatter(x=frame["hour"], y=frame["p95_baseline"], mode="lines", name="p95 baseline",
                    line={"color": "#7f7f7f", "dash": "dash", "shape": "hv"}, fill="tozeroy",
                    fillcolor="rgba(127,127,127,0.15)")
    fig.add_bar(x=frame["hour"], y=frame["robust_devices"], name="devices (robust count)", marker_color=[
        SEVERITY_COLORS["critical"] if s >= 0.85 else SEVERITY_COLORS["warning"] if s >= 0.7
        else P95_COLOR if s >= 0.5 else "#1f77b4" for s in frame["score"].fillna(0.0)], opacity=0.8)
    fig.add_scatter(x=frame["hour"], y=frame["unique_devices"], mode="lines", name="distinct MACs (raw)",
                    line={"color": "#9467bd", "width": 1})
    if "people" in frame and frame["people"].notna().any():
        # the occupancy estimate with its interval as error bars (GET /folders/occupancy)
        fig.add_scatter(x=frame["hour"], y=frame["people"], mode="lines+markers", name="people (estimate)",
                        line={"color": "#2ca02c", "width": 2},
                        error_y={"type": "data", "symmetric": False,
                                 "array": (frame["people_high"] - frame["people"]).clip(lower=0),
                                 "arrayminus": (frame["people"] - frame["people_low"]).clip(lower=0)})
    fig.update_yaxes(title="devices / people per hour", rangemode="tozero")
    return fig


def training_curve(history: Sequence[dict[str, Any]], best_epoch: int | None) -> go.Figure:
    fig = _fig("Training curve", legend={"orientation": "h", "y": -0.25})
    frame = pd.DataFrame(list(history))
    x = frame["epoch"] if "epoch" in frame else pd.Series(range(1, len(frame) + 1))
    for column, color in (("train_loss", "#1f77b4"), ("val_loss", "#ff7f0e")):
        if column in frame:
            fig.add_scatter(x=x, y=frame[column], mode="lines+markers", name=column.replace("_", " "),
                            line={"color": color})
    if best_epoch is not None:
        fig.add_vline(x=best_epoch, line={"color": "#2ca02c", "dash": "dot"}, annotation_text="best")
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="loss", type="log")
    return fig


def score_histogram(scores: Sequence[float], thresholds: dict[str, float], title: str) -> go.Figure:
    fig = _fig(title)
    fig.add_histogram(x=list(scores), nbinsx=30, marker_color="#9467bd", name="scores")
    for name, color in (("p50", "#2ca02c"), ("p95", P95_COLOR), ("p99", P99_COLOR)):
        if name in thresholds:
            fig.add_vline(x=thresholds[name], line={"color": color, "dash": "dash"}, annotation_text=name)
    fig.update_xaxes(title="reconstruction error")
    fig.update_yaxes(title="count")
    return fig


def arrivals(frame: pd.DataFrame) -> go.Figure:
    """Notifications per minute by severity. `frame`: minute, severity, count."""
    fig = _fig("Notifications per minute (local time)", barmode="stack", height=260, legend_title_text="severity")
    for severity in SEVERITY_ORDER:
        part = frame[frame["severity"] == severity]
        if len(part):
            fig.add_bar(x=part["minute"], y=part["count"], name=severity, marker_color=SEVERITY_COLORS[severity])
    return fig
