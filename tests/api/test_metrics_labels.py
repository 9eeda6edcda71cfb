"""/metrics labels every request by its route template, including the answers the fast-path cache
sends without routing (a FastAPI upgrade once turned those into route="unmatched")."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.api.conftest import KEYS, Server, seeded_dir, start_server, stop_server
from tests.conftest import SharedStore


@pytest.fixture(scope="module")
def server(shared_store: SharedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("api-metrics")
    env = {"VALID_API_KEYS": KEYS[0], "RATE_LIMIT_LIST": "5/minute", "API_CACHE_TTL": "60"}
    srv = start_server(path, seeded_dir(shared_store, path), env)
    yield srv
    stop_server(srv)


def counts(text: str) -> dict[tuple[str, str, str], float]:
    out: dict[tuple[str, str, str], float] = {}
    pattern = r'^anomaly_detection_requests_total\{method="(\w+)",route="([^"]*)",status="(\d+)"\} (\S+)$'
    for method, route, status, value in re.findall(pattern, text, flags=re.M):
        out[(method, route, status)] = float(value)
    return out


def test_every_route_is_labelled_including_cache_hits_and_shared_limits(server: Server) -> None:
    with server.client(KEYS[0]) as c:
        before = counts(c.get("/metrics").text)
        statuses = [c.get("/anomalies", params={"hours": 24}).status_code for _ in range(7)]
        stats = c.get("/anomalies/stats").status_code
        device = next(a.device_id for a in server.world.anomalies if a.device_id)
        analysed = c.get(f"/analyze/device/{device}").status_code
        missing = c.get("/no/such/route").status_code
        after = counts(c.get("/metrics").text)
    # 5/minute: the first is routed, the next four are cache hits, and both count against the same limit.
    assert statuses == [200] * 5 + [429] * 2
    assert stats == 200 and missing == 404

    def delta(method: str, route: str, status: str) -> float:
        return after.get((method, route, status), 0) - before.get((method, route, status), 0)

    assert delta("GET", "/anomalies", "200") == 5
    assert delta("GET", "/anomalies", "429") == 2
    assert delta("GET", "/anomalies/stats", "200") == 1
    assert delta("GET", "/analyze/device/{device_id}", str(analysed)) == 1
    assert delta("GET", "unmatched", "404") == 1
    # nothing routed was counted as unmatched
    assert sum(v for (m, r, s), v in after.items() if r == "unmatched" and s != "404") == sum(
        v for (m, r, s), v in before.items() if r == "unmatched" and s != "404"
    )
    # every route the app serves over HTTP that was hit appears under its own template
    assert all(not route.startswith("/anomalies?") for (_, route, _) in after)

