"""The operator a caller names (X-Operator, the dashboard's signed-in user): recorded with each action,
limited in a bucket of their own; and a verdict's read-back says whether the device is known now."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from santiway_anomaly.api.ratelimit import OperatorBuckets, identity
from tests.api.conftest import KEYS, Server, seeded_dir, start_server, stop_server
from tests.conftest import SharedStore


@pytest.fixture(scope="module")
def server(shared_store: SharedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("api-operator")
    env = {"VALID_API_KEYS": KEYS[0], "RATE_LIMIT_DEFAULT": "4/minute", "RATE_LIMIT_OPERATORS_PER_KEY": "3"}
    srv = start_server(path, seeded_dir(shared_store, path), env)
    yield srv
    stop_server(srv)


def test_actions_carry_the_operator_and_feedback_reads_back_known(server: Server) -> None:
    anomaly = next(a for a in server.world.anomalies if a.device_id)
    with server.client(KEYS[0]) as c:
        c.headers["X-Operator"] = "alice"
        posted = c.post(f"/anomalies/{anomaly.anomaly_id}/feedback",
                        json={"verdict": "false_alarm", "mark_known": True})
        assert posted.status_code == 201, posted.text
        assert posted.json()["device_marked_known"] is True
        assert posted.json()["added_by"].endswith("/alice")
        read = c.get(f"/anomalies/{anomaly.anomaly_id}/feedback").json()
        assert read["device_marked_known"] is True and read["added_by"] == posted.json()["added_by"]
        c.headers["X-Operator"] = "not a valid name!"  # ignored, never stored
        c.post(f"/devices/{anomaly.device_id}/known", json={"reason": "all"})
        entry = next(k for k in c.get("/devices/known").json()["data"] if k["reason"] == "all")
        assert entry["added_by"].startswith("key:") and "/" not in entry["added_by"]


def test_each_operator_has_a_rate_limit_bucket(server: Server) -> None:
    with server.client(KEYS[0]) as alice, server.client(KEYS[0]) as bob:
        alice.headers["X-Operator"] = "alice2"
        bob.headers["X-Operator"] = "bob"
        codes = [alice.get("/feedback").status_code for _ in range(6)]
        assert codes[:4] == [200] * 4 and codes[-1] == 429
        assert bob.get("/feedback").status_code == 200  # alice's loop does not blank bob's pages


def test_inventing_operator_names_does_not_lift_the_limit(server: Server) -> None:
    # alice2 and bob (above) may already hold buckets; with at most 3 names per key, a caller sending a
    # fresh name on every request lands in the key's own bucket after at most one new bucket.
    with server.client(KEYS[0]) as client:
        codes = []
        for i in range(12):
            client.headers["X-Operator"] = f"invented{i}"
            codes.append(client.get("/feedback").status_code)
        assert 429 in codes and codes.count(200) <= 4 + 4


def test_operator_buckets_cap_names_per_key_and_forget_after_an_hour() -> None:
    buckets = OperatorBuckets(per_key=2)
    assert buckets.admit("k1", "alice", now=0.0) and buckets.admit("k1", "bob", now=1.0)
    assert not buckets.admit("k1", "carol", now=2.0)  # a third name shares the key's bucket
    assert buckets.admit("k1", "alice", now=3.0)  # known names keep theirs
    assert buckets.admit("k2", "carol", now=3.0)  # per key
    assert buckets.admit("k1", "carol", now=1.0 + OperatorBuckets.WINDOW_S + 1)  # bob not seen for an hour
    assert identity("k1", "dave", "10.0.0.1") in {"key:k1", "key:k1/dave"} and identity(None, "x", "a") == "ip:a"
