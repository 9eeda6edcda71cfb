"""GET /anomalies with since/until on a real uvicorn: the time-sorted table (migration 140) returns
exactly the anomalies whose window overlaps [since, until), newest window first, page after page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from santiway_anomaly.anomaly import Anomaly
from santiway_anomaly.storage import Store
from santiway_anomaly.storage.anomalies import save_anomalies
from tests.api.conftest import KEYS, Server, start_server, stop_server
from tests.api.seed import World
from tests.conftest import SharedStore, own_settings

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _world() -> list[Anomaly]:
    """Windows of 1, 6 and 24 hours over five days; thirty pairs share a start (ordered by score)."""
    out = []
    for i in range(150):
        start = NOW - timedelta(hours=(i * 37) % 120 + 1)
        out.append(
            Anomaly(
                anomaly_type=("density_spike", "night_activity", "stationary_surveillance")[i % 3],
                severity="warning",
                score=round(0.5 + (i * 7 % 50) / 100, 2),
                window_start=start,
                window_end=start + timedelta(hours=(1, 6, 24)[i % 3]),
                device_id="" if i % 3 == 0 else f"AA:BB:CC:00:01:{i % 256:02X}",
                folder=f"folder-{i % 7}",  # 7: the windows shared by i and i + 120 hold distinct anomalies
                details={"i": i},
            )
        )
    return out


@pytest.fixture(scope="module")
def server(shared_store: SharedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("api-time")
    shared_store.close()  # one chDB directory per process at a time
    anomalies = _world()
    with Store.open(own_settings(path)) as store:
        # Stored by several runs, not in time order (a late re-run of older windows), one of them twice.
        for part in (anomalies[100:], anomalies[:50], anomalies[50:100], anomalies[:50]):
            save_anomalies(store, part)
    env = {"VALID_API_KEYS": KEYS[0], "RATE_LIMIT_LIST": "100000/minute", "RATE_LIMIT_DEFAULT": "100000/minute"}
    running = start_server(path, World(NOW, anomalies), env)
    yield running
    stop_server(running)


def _expected(anomalies: list[Anomaly], since: datetime | None, until: datetime | None) -> list[str]:
    chosen = [a for a in anomalies
              if (since is None or a.window_end > since) and (until is None or a.window_start < until)]
    chosen.sort(key=lambda a: a.anomaly_id)
    chosen.sort(key=lambda a: (a.window_start, a.score), reverse=True)
    return [a.anomaly_id for a in chosen]


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("since_h", "until_h"),
    [(None, None), (24, None), (None, 120), (72, 48), (30, 29), (500, 400)],
)
def test_time_filtered_listing_returns_the_overlapping_windows(
    server: Server, since_h: int | None, until_h: int | None
) -> None:
    since = NOW - timedelta(hours=since_h) if since_h is not None else None
    until = NOW - timedelta(hours=until_h) if until_h is not None else None
    params: dict[str, str | int] = {"limit": 1000}
    if since:
        params["since"] = _iso(since)
    if until:
        params["until"] = _iso(until)
    with server.client(KEYS[0]) as client:
        answer = client.get("/anomalies", params=params)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected = _expected(server.world.anomalies, since, until)
    assert [a["anomaly_id"] for a in body["data"]] == expected
    assert body["count"] == len(expected)


def test_pages_of_a_time_window_add_up_to_the_whole(server: Server) -> None:
    since, until = NOW - timedelta(hours=200), NOW - timedelta(hours=10)
    expected = _expected(server.world.anomalies, since, until)
    assert len(expected) > 40
    seen: list[str] = []
    offset: int | None = 0
    with server.client(KEYS[0]) as client:
        while offset is not None:
            page = client.get("/anomalies", params={"since": _iso(since), "until": _iso(until), "limit": 17,
                                                    "offset": offset}).json()
            assert page["count"] == len(expected)
            seen += [a["anomaly_id"] for a in page["data"]]
            offset = page["next_offset"]
    assert seen == expected


def test_one_anomaly_by_id_and_by_time_filter_with_other_filters(server: Server) -> None:
    target = server.world.anomalies[42]
    with server.client(KEYS[0]) as client:
        one = client.get(f"/anomalies/{target.anomaly_id}")
        assert one.status_code == 200 and one.json()["details"] == {"i": 42}
        assert client.get("/anomalies/" + "0" * 32).status_code == 404
        since = target.window_start - timedelta(hours=1)
        body = client.get("/anomalies", params={"since": _iso(since), "folder": target.folder,
                                                "anomaly_type": target.anomaly_type, "limit": 1000}).json()
    chosen = [a for a in server.world.anomalies if a.window_end > since and a.folder == target.folder
              and a.anomaly_type == target.anomaly_type]
    assert target.anomaly_id in {a["anomaly_id"] for a in body["data"]}
    assert body["count"] == len(chosen)


def test_each_anomaly_stored_once(server: Server) -> None:
    with server.client(KEYS[0]) as client:
        body = client.get("/anomalies", params={"limit": 1000}).json()
    ids = [a["anomaly_id"] for a in body["data"]]
    assert len(ids) == len(set(ids)) == body["count"] == len(server.world.anomalies)
