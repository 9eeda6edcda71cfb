"""Every dashboard page under Streamlit's AppTest, against the real service over simulated data.

Each page is checked against the API's own answers (the numbers it shows are the service's
numbers), and in the two failure states an operator meets: the service down and a wrong key.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import KEY, OPERATOR, OPERATOR_PASSWORD, Service, free_port

pytestmark = pytest.mark.slow  # the session's service takes ~40 s to prepare

APP = Path(__file__).resolve().parents[2] / "src" / "santiway_anomaly" / "dashboard" / "app.py"
PAGES = ["overview", "anomalies", "device", "compare", "folders", "model", "live"]
WEEK = "168"


def page(name: str, **query: str) -> AppTest:
    at = AppTest.from_string(f"from santiway_anomaly.dashboard.views import {name}\n{name}.render()\n",
                             default_timeout=90)
    for key, value in query.items():
        at.query_params[key] = value
    return at


def shown(at: AppTest) -> str:
    """All the text a person would read on the page."""
    parts: list[str] = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts.extend(str(el.value) for el in getattr(at, kind))
    parts.extend(f"{m.label}: {m.value}" for m in at.metric)
    return "\n".join(parts)


def charts(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def values(data: Any) -> list[Any]:
    """A trace's array: plotly writes numpy data as {dtype, bdata (base64)}."""
    if isinstance(data, dict) and "bdata" in data:
        return list(np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"])).tolist())
    return list(data)


def metric(at: AppTest, label: str) -> str:
    return next(str(m.value) for m in at.metric if label in m.label)


def run_ok(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# --- against the running service -------------------------------------------------------------


def test_overview_counts_are_the_services(dash_env: Service) -> None:
    at = run_ok(page("overview", hours=WEEK))
    stats = dash_env.http().get("/anomalies/stats", params={"hours": 168}).json()
    assert stats["total"] > 0
    assert metric(at, "Anomalies, last 168 h") == str(stats["total"])
    by_sev = {item["key"]: item["count"] for item in stats["by_severity"]}
    for severity in ("critical", "warning", "info"):
        assert metric(at, severity) == str(by_sev.get(severity, 0))
    figures = charts(at)
    assert len(figures) == 4  # by type, over time, map, folders
    by_type = figures[0]
    assert sum(sum(values(trace["x"])) for trace in by_type["data"]) == min(stats["total"], 1000)
    assert "Newest critical anomalies" in shown(at)
    if by_sev.get("critical"):
        assert len(at.dataframe[0].value) == min(by_sev["critical"], 10)


def test_anomalies_filter_detail_and_feedback(dash_env: Service) -> None:
    api = dash_env.http()
    at = run_ok(page("anomalies", hours=WEEK))
    since = (datetime.now(UTC) - timedelta(hours=168)).isoformat()
    total = api.get("/anomalies", params={"since": since, "limit": 1}).json()["count"]
    assert f"{total} anomalies match" in shown(at)
    assert len(at.dataframe[0].value) == min(total, 100)

    at.selectbox(key="anom_severity").set_value("critical")
    run_ok(at)
    critical = api.get("/anomalies", params={"since": since, "limit": 1000, "severity": "critical"}).json()
    assert critical["count"] > 0
    assert f"{critical['count']} anomalies match" in shown(at)
    assert set(at.dataframe[0].value["severity"]) == {"critical"}

    # The detail of the picked anomaly: its id, its reasons, a link to its device.
    chosen = at.selectbox(key="anom_pick").value
    anomaly = next(a for a in critical["data"] if a["anomaly_id"] == chosen)
    text = shown(at)
    assert chosen in text
    if anomaly["device_id"]:
        assert f"device?device={anomaly['device_id']}" in text
    first = _first_reason(anomaly["details"])
    if first:
        assert "Why it fired" in text and first in text

    at.button(key=f"fa_{chosen}").click()
    run_ok(at)
    assert "Saved" in shown(at), shown(at)
    stored = api.get(f"/anomalies/{chosen}/feedback").json()
    assert stored["verdict"] == "false_alarm"
    run_ok(at)  # the next run shows the stored verdict
    assert "Marked **false alarm**" in shown(at)

    if anomaly["device_id"]:
        at.button(key=f"known_{chosen}").click()
        run_ok(at)
        assert "Saved" in shown(at)
        known = api.get("/devices/known").json()
        assert anomaly["device_id"] in {k["device_id"] for k in known["data"]}


def _first_reason(details: dict[str, Any]) -> str | None:
    """The first sentence a detector gave: a string, or a {why: [...]} item (stationary)."""
    value = details.get("reasons") or details.get("reason")
    while isinstance(value, list | dict):
        if isinstance(value, dict):
            value = value.get("why") or value.get("reason")
        else:
            value = value[0] if value else None
    return str(value) if value else None


def _top_devices(service: Service, n: int) -> list[str]:
    stats = service.http().get("/anomalies/stats", params={"hours": 168}).json()
    devices = [t["key"] for t in stats["top_devices"]]
    assert len(devices) >= n, stats["top_devices"]
    return devices[:n]


def test_device_analysis_matches_the_api(dash_env: Service) -> None:
    device = _top_devices(dash_env, 1)[0]
    at = run_ok(page("device", device=device, hours=WEEK))
    profile = dash_env.http().post(f"/analyze/device/{device}", params={"hours": 168}).json()
    assert metric(at, "Anomalies") == str(len(profile["anomalies"]))
    assert metric(at, "Sightings") == str(profile["signal"]["sightings"])
    figures = {f["layout"]["title"]["text"]: f for f in charts(at)}
    activity = figures["Activity by hour (UTC)"]
    # hours without sightings are empty (NaN): a gap in the chart, not a line across it
    assert np.nansum(values(activity["data"][0]["y"])) == sum(h["events"] for h in profile["activity_by_hour"])
    assert "Signal over time (mean RSSI per hour, UTC)" in figures
    assert any(title.startswith("Places") for title in figures)
    text = shown(at)
    assert "ML score" in text
    if profile["ml"]["available"]:
        assert "ML score against the model's thresholds" in figures
    else:
        assert profile["ml"]["reason"].split(" before ")[0] in text  # the reason names "now", which moved on


def test_device_unknown_and_malformed(dash_env: Service) -> None:
    at = run_ok(page("device", device="02:00:00:00:00:01", hours=WEEK))
    assert "never been seen" in shown(at)
    at = run_ok(page("device", device="not-a-mac", hours=WEEK))
    assert "rejected" in shown(at)
    at = run_ok(page("device", hours=WEEK))
    assert "Devices with the most anomalies" in shown(at)


def test_compare_two_devices(dash_env: Service) -> None:
    devices = _top_devices(dash_env, 2)
    at = run_ok(page("compare", devices=",".join(devices), hours=WEEK))
    result = dash_env.http().post("/comparison/compare", json={"device_ids": devices, "hours": 168}).json()
    titles = [f["layout"]["title"]["text"] for f in charts(at)]
    assert titles[0].startswith("Co-location timeline")
    assert "Minutes seen by the same sensor" in titles
    pairs = at.dataframe[0].value
    assert len(pairs) == 1
    assert int(pairs["co_located_minutes"].iloc[0]) == result["pairs"][0]["co_located_minutes"]
    at = run_ok(page("compare", hours=WEEK))
    assert "Enter at least two devices" in shown(at)


def test_folders_devices_per_hour_against_p95(dash_env: Service) -> None:
    at = run_ok(page("folders", hours=WEEK))
    series = dash_env.http().get("/folders/hourly", params={"hours": 168}).json()
    assert series["folders"] and series["data"]
    assert metric(at, "Folders") == str(len(series["folders"]))
    assert any(r["p95_baseline"] is not None for r in series["data"])  # later days are judged against earlier
    figures = charts(at)
    assert len(figures) == min(6, len(series["folders"]))
    folder = figures[0]["layout"]["title"]["text"].split(":")[0]
    rows = [r for r in series["data"] if r["folder"] == folder]
    bars = next(t for t in figures[0]["data"] if t["type"] == "bar")
    # hours with no row are empty (NaN) on the chart's full hourly grid: gaps, not bars of 0
    assert [v for v in values(bars["y"]) if v == v] == [r["robust_devices"] for r in rows]
    band = next(t for t in figures[0]["data"] if t.get("name") == "p95 baseline")
    assert [v for v in values(band["y"]) if v is not None and v == v] == [  # NaN: hours without a baseline
        r["p95_baseline"] for r in rows if r["p95_baseline"] is not None]
    people = next(t for t in figures[0]["data"] if t.get("name") == "people (estimate)")  # issue 16
    assert values(people["y"]) == [r["people"] for r in rows]


def test_model_page(dash_env: Service) -> None:
    at = run_ok(page("model"))
    current = dash_env.http().get("/models/current")
    if current.status_code != 200:
        assert f"HTTP {current.status_code}" in shown(at) or "cannot answer" in shown(at)
        pytest.fail(f"/models/current answered {current.status_code}: {current.text[:200]}")
    body = current.json()
    assert body["loaded"], body
    meta = body["metadata"]
    assert f"Version **`{meta['model_version']}`**" in shown(at)
    assert metric(at, "Features") == str(meta["input_channels"])
    titles = [f["layout"]["title"]["text"] for f in charts(at)]
    assert "Training curve" in titles
    assert f"p95** {meta['thresholds']['p95']:.4g}" in shown(at)


def _plant_linger(service: Service) -> str:
    """A new device sitting at one sensor for the last 3 hours: a stationary-surveillance case."""
    now = datetime.now(UTC).replace(microsecond=0)
    device = "C0:DA:5B:7E:57:01"
    rows = [{"ts": (now - timedelta(minutes=m)).isoformat(), "device_id": device, "sensor_id": "S-warehouse-1-1",
             "folder": "warehouse-1", "network_type": "ble", "rssi": -50 - (m % 3), "lat": 55.744048,
             "lon": 37.531523} for m in range(0, 200, 2)]
    answer = service.http().post("/ingest", json=rows).json()
    assert answer["accepted"] == len(rows), answer
    return device


def _rerun_until(at: AppTest, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        run_ok(at)
        seen = shown(at)
        if text in seen or time.monotonic() > deadline:
            return seen
        time.sleep(0.5)


def test_live_receives_notifications(dash_env: Service) -> None:
    at = page("live")
    seen = _rerun_until(at, "connected", 20)
    assert "connected" in seen, seen
    device = _plant_linger(dash_env)
    at.button[0].click()  # "Run detection now"
    run_ok(at)
    assert "new (notified)" in shown(at)
    # The detection run may notify other anomalies too; the planted one is then in the page's list of
    # notifications rather than in the newest card, so look at both.
    deadline = time.monotonic() + 30
    while True:
        seen = _rerun_until(at, "notifications received", 5)
        listed = at.dataframe[0].value.to_string() if len(at.dataframe) else ""
        if device[:8] in seen + listed or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert device[:8] in seen + listed, seen  # the notification names the device (first 3 octets)
    assert "notifications received" in seen
    assert len(at.dataframe[0].value) >= 1


def test_whole_app_with_navigation_and_health(dash_env: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALID_API_KEYS", KEY)  # production mode: the app asks who is there first
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.query_params["hours"] = WEEK
    run_ok(at)
    assert "Sign in" in [t.value for t in at.title]
    at.text_input(key="signin_name").input(OPERATOR)
    at.text_input(key="signin_password").input(OPERATOR_PASSWORD)
    at.button[0].click()
    run_ok(at)
    assert "Overview" in [t.value for t in at.title]  # the default page
    sidebar = "\n".join(str(el.value) for el in at.sidebar.markdown)
    health = dash_env.http().get("/health").json()
    assert health["status"] in sidebar
    assert dash_env.url in "\n".join(str(el.value) for el in at.sidebar.caption)


# --- failure states: plain words, no stack trace ------------------------------------------------

DOWN = "The anomaly service is not reachable"
BAD_KEY = "Wrong or missing API key"


@pytest.mark.parametrize("name", PAGES)
def test_api_down_is_said_plainly(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHBOARD_API_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("DASHBOARD_API_KEY", KEY)
    at = page(name, hours=WEEK)
    expected = "not reachable" if name == "live" else DOWN
    seen = _rerun_until(at, expected, 15)
    assert expected in seen, seen
    assert "Traceback" not in seen


@pytest.mark.parametrize("name", PAGES)
def test_wrong_key_is_said_plainly(name: str, dash_env: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHBOARD_API_KEY", "not-the-right-key-0000")
    at = page(name, hours=WEEK, device="AA:BB:CC:DD:EE:FF")
    seen = _rerun_until(at, BAD_KEY, 20)
    assert BAD_KEY in seen, seen
    assert "Traceback" not in seen
    # The service itself agrees the key is wrong (the page did not invent it).
    assert httpx.get(dash_env.url + "/anomalies", headers={"X-API-Key": "not-the-right-key-0000"}).status_code == 401


def test_feed_ends_when_nobody_reads_and_resumes(dash_env: Service) -> None:
    from santiway_anomaly.dashboard.client import ApiClient
    from santiway_anomaly.dashboard.feed import NotificationFeed, wait_for

    url = ApiClient(dash_env.url, KEY).ws_url()
    feed = NotificationFeed(url, idle_s=1.5).start()
    assert wait_for(feed, lambda s: s.status == "connected", 15).status == "connected"
    deadline = time.monotonic() + 10
    while feed.alive and time.monotonic() < deadline:  # no snapshot() calls: nobody is reading
        time.sleep(0.2)
    assert not feed.alive
    feed.join(10)
    assert feed.snapshot().status == "stopped"
    resumed = NotificationFeed(url, resume=feed).start()
    try:
        assert wait_for(resumed, lambda s: s.status == "connected", 15).status == "connected"
        assert [r.key for r in resumed.snapshot().messages] == [r.key for r in feed.snapshot().messages]
    finally:
        resumed.stop()


def test_map_tiles_are_opt_in(dash_env: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """Default: points on longitude/latitude axes (no internet needed); DASHBOARD_MAP_TILES: real tiles."""
    figures = charts(run_ok(page("overview", hours=WEEK)))
    plain = next(f for f in figures if f["layout"]["title"]["text"].startswith("Where"))
    assert plain["data"][0]["type"] == "scatter" and "map" not in plain["layout"]
    monkeypatch.setenv("DASHBOARD_MAP_TILES", "open-street-map")
    tiled = next(f for f in charts(run_ok(page("overview", hours=WEEK))) if f["layout"]["title"]["text"] == "Where")
    assert tiled["data"][0]["type"] == "scattermap"
    assert tiled["layout"]["map"]["style"] == "open-street-map"
    assert values(tiled["data"][0]["lat"]) == values(plain["data"][0]["y"])


def test_live_severity_filter_is_accepted_by_the_hub(dash_env: Service) -> None:
    at = page("live")
    run_ok(at)
    at.selectbox(key="live_severity").set_value("critical")
    seen = _rerun_until(at, "connected", 20)
    assert "connected" in seen and "not available" not in seen, seen
    assert "min_severity=critical" in at.session_state["live_feed"].url


def as_operator(at: AppTest, name: str) -> AppTest:
    """The page as a signed-in operator: its API calls count in that operator's own rate-limit bucket, so
    the pages loaded by the tests before it (one shared bucket) cannot use up its requests."""
    at.session_state["operator"] = name
    return at


def own_bucket(service: Service, name: str) -> httpx.Client:
    """The test's own reads of the API, in their own rate-limit bucket (X-Operator), for the same reason."""
    client = service.http()
    client.headers["X-Operator"] = name
    return client


def _following_anomaly(service: Service) -> dict[str, Any]:
    listed = own_bucket(service, "follow-0").get("/anomalies", params={"anomaly_type": "stationary_surveillance",
                                                                       "limit": 1000}).json()["data"]
    found = [a for a in listed if a["details"].get("pattern") == "following"]
    assert found, "the simulated world's patrol should have followers"
    return dict(found[0])


def test_following_anomaly_draws_the_sensors_path_and_the_stops(dash_env: Service) -> None:
    anomaly = _following_anomaly(dash_env)
    evidence = own_bucket(dash_env, "follow-0").get(f"/anomalies/{anomaly['anomaly_id']}/following").json()
    assert len(evidence["device_stops"]) >= 2
    for at in (run_ok(as_operator(page("anomalies", anomaly=anomaly["anomaly_id"], hours=WEEK), "follow-1")),
               run_ok(as_operator(page("device", device=anomaly["device_id"], hours=WEEK), "follow-2"))):
        figure = next(f for f in charts(at) if f["layout"]["title"]["text"].startswith("Following"))
        path, stops = figure["data"][0], figure["data"][1]
        assert values(path["x"]) == [p["lon"] for p in evidence["sensor_path"]]  # no tiles: x = longitude
        assert values(stops["y"]) == [s["lat"] for s in evidence["device_stops"]]
        assert list(stops["text"]) == [f"{s['order']}. {s['folder']}" for s in evidence["device_stops"]]
        assert f"heard at **{len(evidence['device_stops'])} stops**" in "\n".join(str(c.value) for c in at.caption)


def test_maps_name_the_folders_and_draw_on_an_offline_site_picture(dash_env: Service, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_ok(as_operator(page("overview", hours=WEEK), "maps-1"))
    where = [f for f in charts(at) if f["layout"]["title"]["text"].startswith("Where")]
    assert where, shown(at)
    plain = where[0]
    labels = next(t for t in plain["data"] if t.get("name") == "folders")
    listed = own_bucket(dash_env, "maps-0").get("/anomalies", params={
        "since": (datetime.now(UTC) - timedelta(hours=168)).isoformat(), "limit": 1000}).json()["data"]
    assert set(labels["text"]) == {a["folder"] for a in listed if a["lat"] or a["lon"]} - {""}
    assert "images" not in plain["layout"]

    picture = tmp_path / "site.png"
    picture.write_bytes(base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="))
    monkeypatch.setenv("DASHBOARD_MAP_IMAGE", str(picture))
    monkeypatch.setenv("DASHBOARD_MAP_IMAGE_BOUNDS", "37.50,55.72,37.66,55.77")
    drawn = next(f for f in charts(run_ok(as_operator(page("overview", hours=WEEK), "maps-2")))
                 if f["layout"]["title"]["text"].startswith("Where"))
    image = drawn["layout"]["images"][0]
    assert image["source"].startswith("data:image/png;base64,")  # sent with the page: no network
    assert (image["x"], image["y"], image["xref"], image["layer"]) == (37.50, 55.77, "x", "below")
    assert abs(image["sizex"] - 0.16) < 1e-9 and abs(image["sizey"] - 0.05) < 1e-9
    assert drawn["data"][0]["type"] == "scatter"

    monkeypatch.setenv("DASHBOARD_MAP_IMAGE_BOUNDS", "37.66,55.72,37.50,55.77")  # west > east
    at = as_operator(page("overview", hours=WEEK), "maps-3")
    at.run()
    assert "DASHBOARD_MAP_IMAGE_BOUNDS" in "\n".join(str(e.value) for e in at.error)
