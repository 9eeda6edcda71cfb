"""A real browser: Debian's headless Chromium, driven over the DevTools protocol, opens every page of
the running dashboard (served by `santiway-anomaly dashboard`, reading the running service), waits
until the page has drawn (its text and every chart's SVG), checks what a person would see and saves
a screenshot of each page (into docs/screenshots/ with UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from santiway_anomaly.dashboard.navigation import PAGES
from santiway_anomaly.dashboard.signin import COOKIE
from tests.dashboard.cdp import CHROMIUM, OFFLINE, Browser, CdpError
from tests.dashboard.conftest import KEY, OPERATOR, OPERATOR_PASSWORD, Service, free_port, stop, users_file

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"{CHROMIUM} is missing: apt-get install -y chromium (Debian's package)"),
]

# The README's screenshots are refreshed with UPDATE_SCREENSHOTS=1; other runs (CI) write them to a
# temporary folder, so a test run leaves the checkout as it found it.
SHOTS = (Path(__file__).resolve().parents[2] / "docs" / "screenshots" if os.environ.get("UPDATE_SCREENSHOTS") == "1"
         else Path(tempfile.gettempdir()) / "santiway-screenshots")
SHOTS.mkdir(parents=True, exist_ok=True)
MAC = re.compile(r"(?i)\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b")
LIVE_DEVICE = "C0:DA:5B:B7:0E:02"
HISTORY_DEVICE = "C0:DA:5B:B7:0E:07"  # notified before the Live page opens
RECENT_DEVICE = "3C:22:FB:12:34:56"  # seen in the last hours: the ML score and explanation have a window


def plant_recent(service: Service) -> None:
    """2.5 h in office-1 then 1.5 h in warehouse-1, ending now (the simulated days end at midnight)."""
    now = datetime.now(UTC).replace(microsecond=0)
    rows = []
    for m in range(0, 240, 2):
        sensor, folder, lat, lon = (("S-office-1-1", "office-1", 55.759, 37.5398) if m < 150
                                    else ("S-warehouse-1-1", "warehouse-1", 55.744048, 37.531523))
        rows.append({"ts": (now - timedelta(minutes=240 - m)).isoformat(), "device_id": RECENT_DEVICE,
                     "sensor_id": sensor, "folder": folder, "network_type": "wifi", "rssi": -60 - (m % 7),
                     "lat": lat, "lon": lon})
    assert service.http().post("/ingest", json=rows).json()["accepted"] == len(rows)


@pytest.fixture(scope="module")
def dashboard(service: Service) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VALID_API_KEYS", "DASHBOARD_"))}
    env.update(DASHBOARD_API_URL=service.url, DASHBOARD_API_KEY=KEY, DASHBOARD_REFRESH_S="2",
               VALID_API_KEYS=KEY, DASHBOARD_USERS_FILE=str(users_file(service)))
    log = service.data_dir / "dashboard.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "santiway_anomaly.cli.main", "dashboard", "--host",
                                 "127.0.0.1", "--port", str(port)], cwd=service.data_dir, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/_stcore/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"dashboard did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def browser(dashboard: str) -> Iterator[Browser]:
    """Chromium, signed in to the dashboard once through its form (the session cookie keeps it), with no
    network but this machine: every page must draw from what the dashboard itself serves."""
    b = Browser(extra_flags=OFFLINE)
    sign_in(b, dashboard)
    yield b
    b.close()


def sign_in(b: Browser, dashboard: str) -> None:
    b.open(dashboard + "/")
    b.wait_until("!!document.querySelector('input[aria-label=\"Operator\"]')", timeout=60, what="the sign-in form")
    assert "Overview" not in b.text()  # nothing is shown before sign-in
    for label, text in (("Operator", OPERATOR), ("Password", OPERATOR_PASSWORD)):
        b.evaluate(f"document.querySelector('input[aria-label=\"{label}\"]').focus()")
        b.send("Input.insertText", {"text": text})
    b.evaluate("[...document.querySelectorAll('button')].find(x => x.innerText.trim() === 'Sign in').click()")
    b.wait_until(f"document.body.innerText.includes('Newest critical anomalies') && "
                 f"document.cookie.includes('{COOKIE}=')", timeout=60, what="the overview after sign-in")
    b.open(dashboard + "/model")  # a new page load: the cookie signs in again, no form
    b.wait_until("document.body.innerText.includes('Thresholds')", timeout=60, what="signed in after reload")
    assert OPERATOR in b.text()


def test_no_page_shows_anything_before_sign_in(dashboard: str, service: Service) -> None:
    """A browser that never signed in opens every page, with links that name data (?anomaly=, ?device=):
    each shows the sign-in form and nothing else; the pages' HTML holds no data either."""
    anomaly = service.http().get("/anomalies", params={"limit": 1}).json()["data"][0]
    query = urlencode({"hours": "168", "anomaly": anomaly["anomaly_id"], "device": anomaly["device_id"] or "",
                       "devices": ",".join(top_devices(service, 2))})
    stranger = Browser(extra_flags=OFFLINE)
    try:
        for _, title, path, _ in PAGES:
            stranger.open(f"{dashboard}/{path}?{query}")
            stranger.wait_until("!!document.querySelector('input[aria-label=\"Operator\"]') && document.querySelector("
                                "'[data-testid=\"stApp\"]').getAttribute('data-test-script-state') === 'notRunning'",
                                timeout=60, what=f"the sign-in form on {path}")
            text = stranger.text()
            assert "Sign in" in text, (path, text[:500])
            for secret in (anomaly["anomaly_id"], anomaly["device_id"] or anomaly["anomaly_id"], anomaly["folder"],
                           title if title != "Overview" else "Newest critical"):
                assert secret not in text, (path, secret)
            assert not MAC.search(text), (path, MAC.search(text))
            counts = stranger.evaluate("[document.querySelectorAll('[data-testid=\"stPlotlyChart\"]').length, "
                                       "document.querySelectorAll('[data-testid=\"stDataFrame\"]').length, "
                                       "document.querySelectorAll('[data-testid=\"stSidebarNav\"]').length]")
            assert counts == [0, 0, 0], (path, counts)
            html = httpx.get(f"{dashboard}/{path}?{query}", timeout=30).text
            assert not MAC.search(html) and anomaly["anomaly_id"] not in html.replace(query, "")
    finally:
        stranger.close()


def drawn(needles: list[str], min_charts: int) -> str:
    """JS: the main area shows every needle, at least `min_charts` charts, each with its SVG drawn,
    no loading skeleton, and Streamlit is not running the script any more."""
    return f"""(() => {{
      const main = document.querySelector('[data-testid="stMain"]');
      if (!main) return false;
      const text = main.innerText;
      if (!{json.dumps(needles)}.every(n => text.includes(n))) return false;
      const charts = main.querySelectorAll('[data-testid="stPlotlyChart"]');
      if (charts.length < {min_charts}) return false;
      for (const c of charts) if (!c.querySelector('.main-svg g.trace, .main-svg .xtick')) return false;
      const frames = main.querySelectorAll('[data-testid="stDataFrame"]');
      const hidden = d => d.offsetParent === null || !!d.closest('details:not([open])');
      // a table inside a collapsed expander is not drawn until opened: only visible ones must be
      for (const d of frames) if (!hidden(d) && !d.querySelector('canvas')) return false;
      if (main.querySelector('[data-testid="stSkeleton"]')) return false;
      // Streamlit marks the app while its script runs: a page mid-run is not finished drawing.
      const app = document.querySelector('[data-testid="stApp"]');
      return !!app && app.getAttribute('data-test-script-state') === 'notRunning';
    }})()"""


# Which of drawn()'s conditions fails, for the error message.
UNDRAWN = """(() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const charts = [...main.querySelectorAll('[data-testid="stPlotlyChart"]')];
  const frames = [...main.querySelectorAll('[data-testid="stDataFrame"]')];
  const app = document.querySelector('[data-testid="stApp"]');
  return JSON.stringify({charts: charts.length,
    undrawn_charts: charts.filter(c => !c.querySelector('.main-svg g.trace, .main-svg .xtick')).length,
    undrawn_frames: frames.filter(d => !d.closest('details:not([open])') && !d.querySelector('canvas')).length,
    in_closed_expanders: frames.filter(d => !!d.closest('details:not([open])')).length,
    skeleton: !!main.querySelector('[data-testid="stSkeleton"]'),
    state: app && app.getAttribute('data-test-script-state')});
})()"""


def top_devices(service: Service, n: int) -> list[str]:
    stats = service.http().get("/anomalies/stats", params={"hours": 168}).json()
    return [t["key"] for t in stats["top_devices"][:n]]


def shoot(browser: Browser, url: str, name: str, needles: list[str], min_charts: int) -> str:
    browser.open(url)
    try:
        waited = browser.wait_until(drawn(needles, min_charts), timeout=90, what=f"{name}: {needles}")
    except CdpError as exc:
        raise CdpError(f"{exc}\nwhat is not drawn: {browser.evaluate(UNDRAWN)}") from None
    text = browser.text()
    assert "Traceback" not in text
    height = browser.screenshot(SHOTS / f"{name}.png")
    assert (SHOTS / f"{name}.png").stat().st_size > 20_000, "an almost empty screenshot"
    print(f"{name}: drawn after {waited:.1f} s, {height} px")
    return text


def test_every_page_in_chromium(dashboard: str, service: Service, browser: Browser) -> None:
    week = {"hours": "168"}
    devices = top_devices(service, 2)
    stats = service.http().get("/anomalies/stats", params={"hours": 168}).json()

    text = shoot(browser, f"{dashboard}/?{urlencode(week)}", "overview",
                 ["Anomalies, last 168 h", "Newest critical anomalies"], 4)
    assert str(stats["total"]) in text
    assert "critical" in text and "warning" in text

    text = shoot(browser, f"{dashboard}/anomalies?{urlencode(week)}", "anomalies",
                 ["anomalies match", "Feedback", "False alarm"], 0)
    assert "Mark device as known" in text or "folder-level" in text

    following = next(a for a in service.http().get("/anomalies", params={
        "anomaly_type": "stationary_surveillance", "limit": 1000}).json()["data"]
        if a["details"].get("pattern") == "following")
    text = shoot(browser, f"{dashboard}/anomalies?{urlencode({**week, 'anomaly': following['anomaly_id']})}",
                 "following", ["Following: the sensor's path", "stops"], 1)
    assert "1. " in text and following["device_id"] in text

    plant_recent(service)
    text = shoot(browser, f"{dashboard}/device?{urlencode({'hours': '24', 'device': RECENT_DEVICE})}", "device",
                 ["ML score", "Folders", "Movement", "Method:"], 5)  # activity, signal, places, score, attributions
    assert RECENT_DEVICE in text and "Level:" in text

    text = shoot(browser, f"{dashboard}/compare?{urlencode({**week, 'devices': ','.join(devices)})}", "compare",
                 ["Compare devices", "Pairs"], 4)
    assert all(d in text for d in devices)

    text = shoot(browser, f"{dashboard}/folders?{urlencode(week)}", "folders", ["Hours above p95", "baseline"], 1)

    text = shoot(browser, f"{dashboard}/model", "model", ["Thresholds", "Version"], 1)
    version = service.http().get("/models/current").json()["metadata"]["model_version"]
    assert version in text

    # RECENT_DEVICE was last heard two minutes ago in warehouse-1 (plant_recent above)
    heard = service.http().get("/devices/now", params={"minutes": 15}).json()
    assert RECENT_DEVICE in {d["device_id"] for d in heard["data"]}
    text = shoot(browser, f"{dashboard}/devices-now", "devices-now", ["Devices now", "devices heard between"], 0)
    assert f"{heard['count']} devices heard" in text or f"{heard['count'] + 1} devices heard" in text


def plant_linger(service: Service, device: str) -> dict[str, object]:
    """A new device sits at one sensor for three hours; detection finds it and notifies."""
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [{"ts": (now - timedelta(minutes=m)).isoformat(), "device_id": device, "sensor_id": "S-office-1-1",
             "folder": "office-1", "network_type": "ble", "rssi": -48 - (m % 3), "lat": 55.759, "lon": 37.5398}
            for m in range(0, 200, 2)]
    api = service.http()
    assert api.post("/ingest", json=rows).json()["accepted"] == len(rows)
    run: dict[str, object] = api.post("/anomalies/detect-and-notify", params={"hours": 6}).json()
    return run


def test_live_page_opens_with_notifications_sent_before(dashboard: str, service: Service, browser: Browser) -> None:
    run = plant_linger(service, HISTORY_DEVICE)
    new = int(str(run["new"]))
    assert new >= 1, run
    shorts = [str(a["device_id"])[:8] for a in run["anomalies"] if a["device_id"]]  # type: ignore[attr-defined]
    browser.open(f"{dashboard}/live")  # opened after the run's notifications were sent
    count = "(() => { const m = document.body.innerText.match(/(\\d+) notifications received/); " \
            "return m ? Number(m[1]) : 0; })()"
    browser.wait_until(f"{count} >= {new}", timeout=60, what=f"the {new} notifications sent before the page opened")
    browser.wait_until(drawn(["Live notifications", "notifications received"], 1), timeout=60, what="live page")
    text = browser.text()
    assert any(short in text for short in shorts), shorts  # the newest card is one of them
    assert "open" in text  # the newest card links to its anomaly (?anomaly=ID)


def test_live_page_shows_a_notification_as_it_arrives(dashboard: str, service: Service, browser: Browser) -> None:
    browser.open(f"{dashboard}/live")
    browser.wait_until(drawn(["Live notifications", "connected"], 0), timeout=60, what="live page connected")
    # A new device sits at one sensor for three hours; detection finds it and notifies.
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [{"ts": (now - timedelta(minutes=m)).isoformat(), "device_id": LIVE_DEVICE, "sensor_id": "S-office-1-1",
             "folder": "office-1", "network_type": "ble", "rssi": -48 - (m % 3), "lat": 55.759, "lon": 37.5398}
            for m in range(0, 200, 2)]
    api = service.http()
    assert api.post("/ingest", json=rows).json()["accepted"] == len(rows)
    started = time.monotonic()
    run = api.post("/anomalies/detect-and-notify", params={"hours": 6}).json()
    assert run["new"] >= 1, run
    short = LIVE_DEVICE[:8]
    waited = browser.wait_until(drawn([short, "notifications received"], 1), timeout=60, what="the notification")
    print(f"live: notification drawn {time.monotonic() - started:.1f} s after the detection request ({waited:.1f} s)")
    text = browser.text()
    assert short in text
    browser.screenshot(SHOTS / "live.png")
