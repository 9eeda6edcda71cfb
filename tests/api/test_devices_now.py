"""GET /devices/now (who is heard now, labelled new / seen before / known, stable / randomized) and
GET /anomalies/{id} (what a `?anomaly=ID` link opens)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.api.conftest import KEYS, Server, seeded_dir, start_server, stop_server
from tests.conftest import SharedStore

NEW, RANDOM, RETURNING, KNOWN = "10:20:30:40:50:01", "DA:A1:19:00:00:02", "10:20:30:40:50:03", "10:20:30:40:50:04"


@pytest.fixture(scope="module")
def server(shared_store: SharedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("api-devices-now")
    srv = start_server(path, seeded_dir(shared_store, path), {"VALID_API_KEYS": KEYS[0]})
    yield srv
    stop_server(srv)


def _row(device: str, ts: datetime, folder: str = "lobby-now", rssi: int = -60) -> dict[str, object]:
    return {"ts": ts.isoformat(), "device_id": device, "sensor_id": "S-now-1", "folder": folder,
            "network_type": "wifi", "rssi": rssi, "lat": 55.75, "lon": 37.61}


def test_devices_heard_now_are_labelled(server: Server) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [_row(d, now - timedelta(minutes=m)) for d in (NEW, RANDOM, RETURNING, KNOWN) for m in (2, 6, 9)]
    rows.append(_row(RETURNING, now - timedelta(days=3)))  # heard on an earlier day
    rows.append(_row("10:20:30:40:50:09", now - timedelta(hours=2)))  # outside the window
    with server.client(KEYS[0]) as c:
        assert c.post("/ingest", json=rows).json()["accepted"] == len(rows)
        assert c.post(f"/devices/{KNOWN}/known", json={"reason": "all"}).status_code == 201
        body = c.get("/devices/now", params={"minutes": 15, "folder": "lobby-now"}).json()
        too_long = c.get("/devices/now", params={"minutes": 100000})
    got = {d["device_id"]: d for d in body["data"]}
    assert set(got) == {NEW, RANDOM, RETURNING, KNOWN}
    assert got[NEW]["status"] == "new" and got[NEW]["mac"] == "stable"
    assert got[RANDOM]["mac"] == "randomized"
    assert got[RETURNING]["status"] == "seen before"
    assert got[KNOWN]["status"] == "known"
    assert got[NEW]["sightings"] == 3 and got[NEW]["rssi_max"] == -60
    first = datetime.fromisoformat(got[NEW]["first_seen_here"])
    assert abs((first - (now - timedelta(minutes=9))).total_seconds()) < 1
    assert too_long.status_code == 422


def test_one_anomaly_by_id(server: Server) -> None:
    anomaly = server.world.anomalies[0]
    with server.client(KEYS[0]) as c:
        found = c.get(f"/anomalies/{anomaly.anomaly_id}")
        assert found.status_code == 200 and found.json()["anomaly_id"] == anomaly.anomaly_id
        assert c.get("/anomalies/" + "0" * 32).status_code == 404
        assert c.get("/anomalies/stats").status_code == 200  # the literal route still wins
        assert c.get("/anomalies/" + "0" * 32).status_code == 404
    with server.client() as anonymous:
        assert anonymous.get(f"/anomalies/{anomaly.anomaly_id}").status_code == 401
