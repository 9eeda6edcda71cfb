"""GET /anomalies/{id}/following: the moving sensor's path over a following anomaly's episode and, in order,
the stops where that sensor heard the device; read back from the sightings the detector judged."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from santiway_anomaly.anomaly import Anomaly
from santiway_anomaly.detectors.findings import Finding
from santiway_anomaly.sightings import STORED_SCHEMA
from santiway_anomaly.storage import Store
from santiway_anomaly.storage.anomalies import save_anomalies
from tests.api.conftest import KEYS, Server, seeded_dir, start_server, stop_server
from tests.conftest import SharedStore, own_settings

pytestmark = pytest.mark.slow

SENSOR, OTHER_SENSOR = "M-patrol-t", "S-fixed-t"
FOLLOWER = "F0:11:22:33:44:55"
# The patrol's round: four stops ~550-700 m apart, 20 minutes at each, 10 minutes between them.
STOPS = [("gate", 55.7000, 37.6000), ("yard", 55.7050, 37.6000), ("dock", 55.7050, 37.6100),
         ("office", 55.7000, 37.6100)]
HEARD_AT = ("gate", "yard", "office")  # the follower was missed at the dock


@dataclass
class Patrol:
    start: datetime
    end: datetime
    following: Anomaly
    lingering: Anomaly


def _row(ts: datetime, device: str, sensor: str, folder: str, lat: float, lon: float, rssi: int) -> dict[str, object]:
    return {"ts": ts, "device_id": device, "sensor_id": sensor, "folder": folder, "network_type": "wifi",
            "rssi": rssi, "lat": lat, "lon": lon, "vendor": "", "is_randomized": 0}


def plant_patrol(store: Store, day: datetime) -> Patrol:
    start = day.replace(hour=9, minute=0, second=0, microsecond=0)
    rows: list[dict[str, object]] = []
    for i, (folder, lat, lon) in enumerate(STOPS):
        arrive = start + timedelta(minutes=30 * i)
        for m in range(20):
            t = arrive + timedelta(minutes=m)
            jitter = ((m % 3) - 1) * 0.0002  # GPS wander of ~20 m: still one stop
            rows.append(_row(t, f"02:00:00:00:00:0{i}", SENSOR, folder, lat + jitter, lon, -55))  # a local device
            if folder in HEARD_AT and m % 2 == 0:
                rows.append(_row(t + timedelta(seconds=20), FOLLOWER, SENSOR, folder, lat + jitter, lon, -62))
        # the follower heard meanwhile by a fixed sensor elsewhere: not evidence of following this patrol
        rows.append(_row(arrive + timedelta(minutes=5), FOLLOWER, OTHER_SENSOR, "lobby", 55.8, 37.7, -80))
    end = start + timedelta(minutes=30 * (len(STOPS) - 1) + 20)
    rows.append(_row(start - timedelta(hours=2), FOLLOWER, SENSOR, "gate", 55.7, 37.6, -60))  # before the episode
    rows.append(_row(start + timedelta(minutes=3), FOLLOWER, SENSOR, "gate", 0.0, 0.0, -60))  # no position
    store.insert_arrow("santi.way_data", pa.Table.from_pylist(rows, schema=STORED_SCHEMA))
    day_start = start.replace(hour=0)
    finding = Finding(subject=FOLLOWER, window_start=day_start, window_end=day_start + timedelta(days=1), level=2.0,
                      raw=80.0, pattern="following", reasons=["with moving sensor for 80 min across 3 places"],
                      evidence={"sensor_id": SENSOR, "minutes": 80.0, "locations": 3,
                                "start": start.isoformat(), "end": end.isoformat()},
                      device_id=FOLLOWER, folder="gate", lat=55.7, lon=37.6)
    following = Anomaly(anomaly_type="stationary_surveillance", severity="warning", score=0.7,
                        window_start=finding.window_start, window_end=finding.window_end, device_id=FOLLOWER,
                        folder="gate", lat=55.7, lon=37.6, details=finding.details())
    lingering = Anomaly(anomaly_type="stationary_surveillance", severity="warning", score=0.7,
                        window_start=finding.window_start, window_end=finding.window_end,
                        device_id="02:00:00:00:00:00", folder="gate", details={"pattern": "lingering"})
    assert len(save_anomalies(store, [following, lingering])) == 2
    return Patrol(start, end, following, lingering)


@pytest.fixture(scope="module")
def patrol_server(shared_store: SharedStore,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Patrol]]:
    path = tmp_path_factory.mktemp("api-following")
    world = seeded_dir(shared_store, path)
    with Store.open(own_settings(path)) as store:
        patrol = plant_patrol(store, datetime.now(UTC) - timedelta(days=1))
    srv = start_server(path, world, {"VALID_API_KEYS": KEYS[0]})
    yield srv, patrol
    stop_server(srv)


def test_the_sensors_path_and_the_devices_stops_in_order(patrol_server: tuple[Server, Patrol]) -> None:
    server, patrol = patrol_server
    with server.client(KEYS[0]) as c:
        r = c.get(f"/anomalies/{patrol.following.anomaly_id}/following")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["device_id"], body["sensor_id"]) == (FOLLOWER, SENSOR)
    assert datetime.fromisoformat(body["start"]) == patrol.start
    stops = body["device_stops"]
    # the stops where the patrol heard the device, in order; not the dock (missed), nor the fixed
    # sensor's lobby, nor the sighting before the episode, nor the one without a position
    assert [s["folder"] for s in stops] == list(HEARD_AT)
    assert [s["order"] for s in stops] == [1, 2, 3]
    assert [s["sightings"] for s in stops] == [10, 10, 10]
    assert all(abs(s["lat"] - lat) < 0.0003 and abs(s["lon"] - lon) < 1e-9
               for s, (_, lat, lon) in zip(stops, [p for p in STOPS if p[0] in HEARD_AT], strict=True))
    assert stops[0]["rssi_mean"] == -62.0
    assert datetime.fromisoformat(stops[2]["first_seen"]) == patrol.start + timedelta(minutes=90, seconds=20)
    # the sensor's path: every 5-minute bucket it was somewhere, in time order, through all four stops
    path = body["sensor_path"]
    times = [datetime.fromisoformat(p["time"]) for p in path]
    assert times == sorted(times) and len(times) == 4 * 4  # 20 minutes at a stop = four 5-minute buckets
    assert [p["folder"] for p in path[::4]] == [s[0] for s in STOPS]


def test_only_following_anomalies_have_a_path(patrol_server: tuple[Server, Patrol]) -> None:
    server, patrol = patrol_server
    with server.client(KEYS[0]) as c:
        lingering = c.get(f"/anomalies/{patrol.lingering.anomaly_id}/following")
        unknown = c.get(f"/anomalies/{'0' * 32}/following")
        malformed = c.get("/anomalies/not-an-id/following")
    assert lingering.status_code == 404 and "not a following anomaly" in lingering.json()["detail"]
    assert unknown.status_code == 404 and "no anomaly" in unknown.json()["detail"]
    assert malformed.status_code == 422
    with server.client() as anonymous:
        assert anonymous.get(f"/anomalies/{patrol.following.anomaly_id}/following").status_code == 401
