"""The REST service against a real uvicorn and the embedded store (tests/api/conftest.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from santiway_anomaly.api.security import INVALID_KEY, MISSING_KEY
from tests.api.conftest import KEYS, Server
from tests.api.seed import DEVICE_A, DEVICE_B, DEVICE_C, N_ANOMALIES

K1, K2, K3 = KEYS
pytestmark = pytest.mark.slow  # each module starts a server (a few seconds)


def _overlaps(a: object, since: datetime, until: datetime) -> bool:
    return a.window_end > since and a.window_start < until  # type: ignore[attr-defined]


# ---- health, metrics, docs ----------------------------------------------------------------------


def test_health_is_open_and_reports_store_schema_model_and_freshness(prod_server: Server) -> None:
    for path in ("/health", "/anomalies/health"):
        anonymous = prod_server.client().get(path)
        assert anonymous.status_code == 200 and set(anonymous.json()) == {"status", "checked_at"}
        r = prod_server.client(K1).get(path)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["store"]["reachable"] is True
        assert body["store"]["schema_version"] >= 2
        assert body["dev_mode"] is False
        assert isinstance(body["model_loaded"], bool) and body["model_reason"]
        latest = datetime.fromisoformat(body["latest_sighting"])
        assert latest == prod_server.world.now - timedelta(minutes=21)  # B, last warehouse minute
        assert body["data_stale"] is False


def test_dev_mode_is_announced_and_checks_no_key(dev_server: Server) -> None:
    with dev_server.client() as c:
        body = c.get("/health").json()
        assert c.get("/anomalies", params={"limit": 1}).json()["count"] == N_ANOMALIES
        assert c.get("/anomalies", params={"api_key": "whatever-key"}).status_code == 400  # still refused
    assert body["dev_mode"] is True
    assert any("development mode" in w for w in body["warnings"])
    assert "DEVELOPMENT MODE" in dev_server.log_text()


def test_docs_and_openapi_load(prod_server: Server) -> None:
    with prod_server.client() as c:
        docs = c.get("/docs")
        assert docs.status_code == 200 and "swagger-ui" in docs.text
        spec = c.get("/openapi.json").json()
    for path in (
        "/health",
        "/metrics",
        "/anomalies",
        "/anomalies/stats",
        "/anomalies/detect-and-notify",
        "/analyze/device/{device_id}",
        "/comparison/compare",
        "/explain/device",
        "/ingest",
        "/models/current",
        "/anomalies/health",
    ):
        assert path in spec["paths"], path
    listing = spec["paths"]["/anomalies"]["get"]
    assert listing["description"] and {"401", "422", "429"} <= set(listing["responses"])
    assert "X-API-Key" in json.dumps(spec["components"]["securitySchemes"])


def test_metrics_count_requests_by_route_and_status(prod_server: Server) -> None:
    with prod_server.client(K1) as c:
        c.get("/anomalies", params={"limit": 1})
        c.get("/anomalies", params={"limit": 0})  # 422
        text = c.get("/metrics").text
    assert 'anomaly_detection_requests_total{method="GET",route="/anomalies",status="200"}' in text
    assert 'anomaly_detection_requests_total{method="GET",route="/anomalies",status="422"}' in text
    assert 'anomaly_detection_request_duration_seconds_bucket{le="0.05",route="/anomalies",status="200"}' in text
    for name in (
        "anomaly_detection_store_retries_total",
        "anomaly_detection_notifications_total",
        "anomaly_detection_last_run_duration_seconds",
        "anomaly_detection_anomalies_detected_total",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name


# ---- security -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/anomalies"),
        ("GET", "/anomalies/stats"),
        ("POST", "/anomalies/detect-and-notify?hours=24"),
        ("POST", f"/analyze/device/{DEVICE_A}"),
        ("GET", "/models/current"),
    ],
)
def test_production_mode_needs_a_valid_key(prod_server: Server, method: str, path: str) -> None:
    missing = prod_server.client().request(method, path)
    assert missing.status_code == 401 and missing.json() == {"detail": MISSING_KEY}
    wrong = prod_server.client("not-a-valid-key-123").request(method, path)
    assert wrong.status_code == 401 and wrong.json() == {"detail": INVALID_KEY}


def test_key_in_the_url_is_refused_and_never_logged(prod_server: Server) -> None:
    with prod_server.client() as c:
        r = c.post("/anomalies/detect-and-notify", params={"api_key": K1, "hours": 24})
        assert r.status_code == 400 and "X-API-Key header" in r.json()["detail"]
        assert c.get("/anomalies", params={"limit": 1}, headers={"X-API-Key": K1}).status_code == 200
    log = prod_server.log_text()
    assert "/anomalies/detect-and-notify" in log  # the request was logged ...
    for key in KEYS:
        assert key not in log  # ... without the key, from the header or the URL


def test_cors_preflight_allowed_and_refused(prod_server: Server) -> None:
    ask = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "X-API-Key"}
    with prod_server.client() as c:
        ok = c.options("/anomalies", headers={"Origin": "http://localhost:3000", **ask})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "http://localhost:3000"
        bad = c.options("/anomalies", headers={"Origin": "https://evil.example", **ask})
        assert bad.status_code == 400
        assert "access-control-allow-origin" not in bad.headers


def test_specification_sql_injection_is_inert(prod_server: Server) -> None:
    with prod_server.client(K1) as c:
        before = c.get("/anomalies", params={"limit": 1}).json()["count"]
        r = c.get("/anomalies", params={"device_id": "test'; DROP TABLE anomalies;--"})
        assert r.status_code == 422 and "MAC address" in r.text
        for param in ("folder", "anomaly_type"):
            r = c.get("/anomalies", params={param: "x'; DROP TABLE anomaly_ml.anomalies;--"})
            assert r.status_code in (200, 422)
            if r.status_code == 200:
                assert r.json()["count"] == 0
        r = c.post("/analyze/device/x'; DROP TABLE santi.way_data;--")
        assert r.status_code in (404, 422)
        after = c.get("/anomalies", params={"limit": 1, "since": "1970-01-02T00:00:00Z"}).json()["count"]
        assert after == before == N_ANOMALIES
        assert c.post(f"/analyze/device/{DEVICE_A}").status_code == 200


# ---- anomalies ----------------------------------------------------------------------------------


def test_list_filters_and_pagination(prod_server: Server) -> None:
    world = prod_server.world.anomalies
    with prod_server.client(K1) as c:
        page = c.get("/anomalies", params={"limit": 50}).json()
        assert page["count"] == N_ANOMALIES and len(page["data"]) == 50 and page["next_offset"] == 50
        starts = [a["window_start"] for a in page["data"]]
        assert starts == sorted(starts, reverse=True)
        ids: list[str] = []
        offset: int | None = 0
        while offset is not None:
            p = c.get("/anomalies", params={"limit": 50, "offset": offset}).json()
            ids += [a["anomaly_id"] for a in p["data"]]
            offset = p["next_offset"]
        assert sorted(ids) == sorted(a.anomaly_id for a in world)

        def count(**params: object) -> int:
            r = c.get("/anomalies", params={"limit": 1000, **params})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["count"] == len(body["data"])
            return int(body["count"])

        assert count(anomaly_type="night_activity") == sum(a.anomaly_type == "night_activity" for a in world)
        assert count(min_score=0.9) == sum(a.score >= 0.9 for a in world)
        assert count(severity="critical") == sum(a.severity == "critical" for a in world)
        assert count(folder="office") == sum(a.folder == "office" for a in world)
        # Any common MAC notation finds the device.
        dashed = DEVICE_B.replace(":", "-").lower()
        assert count(device_id=dashed) == sum(a.device_id == DEVICE_B for a in world) > 0
        since = prod_server.world.now - timedelta(hours=6)
        assert count(since=since.isoformat()) == sum(a.window_end > since for a in world)
        both = count(anomaly_type="ml_behavior", min_score=0.7, device_id=DEVICE_C)
        assert both == sum(
            a.anomaly_type == "ml_behavior" and a.score >= 0.7 and a.device_id == DEVICE_C for a in world
        )


def test_a_miss_and_the_cached_answer_are_the_same_bytes(prod_server: Server) -> None:
    """The store's answer (a miss, through the route) and its repeat (from the answer cache) are one body."""
    since = (prod_server.world.now - timedelta(hours=6)).isoformat()
    with prod_server.client(K1) as c:
        for params in ({"limit": 7, "min_score": 0.61}, {"limit": 5, "offset": 2, "since": since},
                       {"anomaly_type": "night_activity", "limit": 1000}):
            miss, hit = c.get("/anomalies", params=params), c.get("/anomalies", params=params)
            assert miss.status_code == hit.status_code == 200
            assert miss.content == hit.content and "X-Answer-Cache" not in hit.headers
            page = json.loads(miss.content)
            assert page["data"] and all(a["window_start"].endswith("Z") for a in page["data"])


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"limit": 0}, "greater than or equal to 1"),
        ({"limit": 100000}, "between 1 and 1000"),
        ({"anomaly_type": "bogus"}, "density_spike"),
        ({"severity": "huge"}, "critical"),
        ({"min_score": 2}, "less than or equal to 1"),
        ({"device_id": "xyz"}, "MAC address such as AA:BB:CC:DD:EE:FF"),
        ({"since": "yesterday"}, "ISO 8601 date-time"),
        ({"until": "0.5"}, "ISO 8601"),
        ({"until": "1700000000"}, "ISO 8601"),
    ],
)
def test_bad_parameters_say_what_is_allowed(prod_server: Server, params: dict[str, object], needle: str) -> None:
    r = prod_server.client(K1).get("/anomalies", params=params)
    assert r.status_code == 422
    assert needle in r.text


def test_stats_over_the_last_24_hours(prod_server: Server) -> None:
    world = prod_server.world
    with prod_server.client(K1) as c:
        stats = c.get("/anomalies/stats").json()
        week = c.get("/anomalies/stats", params={"hours": 24 * 7}).json()
        assert c.get("/anomalies/stats", params={"hours": 0}).status_code == 422
        assert c.get("/anomalies/stats", params={"hours": 10**6}).status_code == 422
    since, until = datetime.fromisoformat(stats["since"]), datetime.fromisoformat(stats["until"])
    assert until - since == timedelta(hours=24)
    expected = [a for a in world.anomalies if _overlaps(a, since, until)]
    assert 0 < stats["total"] == len(expected) < N_ANOMALIES
    assert week["total"] == N_ANOMALIES
    for key, attr in (("by_type", "anomaly_type"), ("by_severity", "severity"), ("by_folder", "folder")):
        got = {item["key"]: item["count"] for item in stats[key]}
        want: dict[str, int] = {}
        for a in expected:
            want[getattr(a, attr)] = want.get(getattr(a, attr), 0) + 1
        assert got == want, key
    assert sum(h["count"] for h in stats["by_hour"]) == len(expected)
    top = stats["top_devices"][0]
    assert top["count"] == max(sum(a.device_id == d for a in expected) for d in (DEVICE_A, DEVICE_B, DEVICE_C))
    assert "" not in {d["key"] for d in stats["top_devices"]}
    # issue 16: the estimate beside the raw MACs, per folder with sightings in the window
    for item in week["occupancy"]:
        assert item["people_peak_low"] <= item["people_peak"] <= item["people_peak_high"]
        assert item["unique_devices_peak"] >= 1


def test_detect_and_notify_runs_the_detectors(prod_server: Server) -> None:
    pytest.importorskip("santiway_anomaly.detectors.runner")
    with prod_server.client(K1) as c:
        before = [c.get("/anomalies", params={"limit": 1}).json()["count"] for _ in range(2)]  # 2nd: cached
        r = c.post("/anomalies/detect-and-notify", params={"hours": 24})
        assert r.status_code == 200, r.text
        run = r.json()
        assert run["new"] == len(run["anomalies"]) == run["notified"]
        assert run["detected"] >= run["new"]
        assert set(run["timings"]) >= {"density", "night", "stationary"} - set(run["skipped"])
        end = datetime.fromisoformat(run["window"]["end"])
        assert abs(end - datetime.now(UTC)) < timedelta(minutes=1)
        # A save invalidates every cached answer at once (no waiting for API_CACHE_TTL).
        assert c.get("/anomalies", params={"limit": 1}).json()["count"] == before[1] + run["new"]
        again = c.post("/anomalies/detect-and-notify", params={"hours": 24}).json()
        assert again["new"] == 0  # idempotent: the same anomalies are not stored or notified twice
        assert c.post("/anomalies/detect-and-notify", params={"detectors": "nope"}).status_code == 422
        metrics = c.get("/metrics").text
    assert "anomaly_detection_runs_total{outcome=" in metrics
    assert "anomaly_detection_last_run_duration_seconds " in metrics


# ---- rate limits --------------------------------------------------------------------------------


def test_list_is_limited_to_100_per_minute_per_key(prod_server: Server) -> None:
    with prod_server.client(K2) as c:
        codes = [c.get("/anomalies", params={"limit": 1}).status_code for _ in range(100)]
        assert codes == [200] * 100
        r = c.get("/anomalies", params={"limit": 1})
        assert r.status_code == 429
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        # Another key has its own budget.
        assert c.get("/anomalies", params={"limit": 1}, headers={"X-API-Key": K3}).status_code == 200


def test_detect_is_limited_to_10_per_minute(prod_server: Server) -> None:
    pytest.importorskip("santiway_anomaly.detectors.runner")
    with prod_server.client(K3) as c:
        codes = [c.post("/anomalies/detect-and-notify", params={"hours": 1}).status_code for _ in range(10)]
        assert codes == [200] * 10
        r = c.post("/anomalies/detect-and-notify", params={"hours": 1})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


# ---- devices ------------------------------------------------------------------------------------


def test_analyze_device_profile(prod_server: Server) -> None:
    with prod_server.client(K1) as c:
        r = c.post(f"/analyze/device/{DEVICE_B.lower()}", params={"hours": 24})
        assert r.status_code == 200, r.text
        p = r.json()
        assert c.post("/analyze/device/00:00:5E:00:53:FF").status_code == 404
        assert c.post("/analyze/device/not-a-mac").status_code == 422
        assert c.post(f"/analyze/device/{DEVICE_A}", params={"hours": -1}).status_code == 422
    assert p["device_id"] == DEVICE_B and p["vendor"] == "TestVendor"
    folders = {f["folder"]: f for f in p["folders"]}
    assert folders["office"]["dwell_minutes"] == 120 and folders["warehouse"]["dwell_minutes"] == 30
    assert sum(h["events"] for h in p["activity_by_hour"]) == 150 == p["signal"]["sightings"]
    assert p["signal"]["rssi_max"] == -60 and p["signal"]["rssi_min"] == -74
    assert p["movement"]["folder_changes"] == 1 and p["movement"]["distinct_sensors"] == 2
    assert 5 < p["movement"]["path_km"] < 15  # office -> warehouse is ~7.5 km
    assert p["places"][0]["folder"] == "office"
    since = datetime.fromisoformat(p["since"])
    seeded = sum(a.device_id == DEVICE_B and a.window_end > since for a in prod_server.world.anomalies)
    listed = (
        prod_server.client(K1)
        .get("/anomalies", params={"device_id": DEVICE_B, "since": p["since"], "until": p["until"], "limit": 1000})
        .json()
    )
    # The seeded ones, plus any a detection run in an earlier test found for B (it follows A).
    assert {a["anomaly_id"] for a in p["anomalies"]} == {a["anomaly_id"] for a in listed["data"]}
    assert len(p["anomalies"]) >= seeded > 0
    assert p["ml"]["available"] in (True, False) and p["ml"]["reason"]


def test_comparison_finds_the_follower(prod_server: Server) -> None:
    with prod_server.client(K1) as c:
        r = c.post("/comparison/compare", json={"device_ids": [DEVICE_A, DEVICE_B, DEVICE_C]})
        assert r.status_code == 200, r.text
        result = r.json()
        assert c.post("/comparison/compare", json={"device_ids": [DEVICE_A]}).status_code == 422
        assert c.post("/comparison/compare", json={"device_ids": [DEVICE_A, DEVICE_A]}).status_code == 422
        assert c.post("/comparison/compare", json={"device_ids": [DEVICE_A, "bad"]}).status_code == 422
        assert c.post("/comparison/compare", json={"device_ids": [DEVICE_A, "00:00:5E:00:53:FF"]}).status_code == 404
    pairs = {(p["device_a"], p["device_b"]): p for p in result["pairs"]}
    follower = pairs[tuple(sorted((DEVICE_A, DEVICE_B)))]
    assert follower["co_located_minutes"] == 120 and follower["co_location_ratio"] == 1.0
    assert follower["co_located_folders"] == ["office"]
    stranger = pairs[tuple(sorted((DEVICE_A, DEVICE_C)))]
    assert stranger["co_located_minutes"] == 0 and stranger["shared_minutes"] == 60  # C: every 2nd minute
    assert follower["similarity"] > stranger["similarity"]
    assert {d["device_id"]: d["sightings"] for d in result["devices"]} == {DEVICE_A: 120, DEVICE_B: 150, DEVICE_C: 60}


def test_explain_and_model_without_a_trained_model(prod_server: Server) -> None:
    with prod_server.client(K1) as c:
        model = c.get("/models/current").json()
        r = c.post("/explain/device", json={"device_id": DEVICE_A})
        unknown = c.post("/explain/device", json={"device_id": "00:00:5E:00:53:FF"})
        bad = c.post("/explain/device", json={"device_id": "nope"})
    assert unknown.status_code == 404 and bad.status_code == 422
    if model["loaded"]:
        assert r.status_code == 200
        attributions = [abs(a["attribution"]) for a in r.json()["attributions"]]
        assert attributions == sorted(attributions, reverse=True)
    else:
        assert model["reason"] and model["metadata"] == {}
        assert r.status_code == 503 and "model not available" in r.json()["detail"]


# ---- ingest -------------------------------------------------------------------------------------


def test_ingest_json_and_ndjson_report_rejects(prod_server: Server) -> None:
    pytest.importorskip("santiway_anomaly.ingest.pipeline")
    ts = (prod_server.world.now - timedelta(minutes=5)).isoformat()
    good = {
        "ts": ts,
        "device_id": "aa-bb-cc-77-77-77",
        "sensor_id": "s-9",
        "folder": "lab",
        "network_type": "ble",
        "rssi": -40,
        "lat": 55.0,
        "lon": 37.0,
    }
    with prod_server.client(K1) as c:
        r = c.post("/ingest", json=[good, {**good, "sensor_id": "s-10"}, {**good, "rssi": 7}, "junk"])
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["accepted"] == 2 and body["rejected"] == 2
        assert [(x["line"], x["field"]) for x in body["rejects"]] == [(3, "rssi"), (4, "row")]
        ndjson = "\n".join([json.dumps({**good, "sensor_id": "s-11"}), "{not json", json.dumps({"ts": ts})])
        r = c.post("/ingest", content=ndjson, headers={"Content-Type": "application/x-ndjson"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["accepted"] == 1 and body["rejected"] == 2
        assert [x["line"] for x in body["rejects"]] == [2, 3]
        assert c.post("/ingest", content=b"", headers={"Content-Type": "application/json"}).status_code == 422
        assert c.post("/ingest", content=b"[1, 2", headers={"Content-Type": "application/json"}).status_code == 422
        profile = c.post("/analyze/device/AA:BB:CC:77:77:77").json()
    assert profile["signal"]["sightings"] == 3 and profile["network_type"] == "ble"


def test_folders_coverage_says_learning_for_a_folder_with_hours_of_history(prod_server: Server) -> None:
    with prod_server.client(K1) as c:
        r = c.get("/folders/coverage", params={"hours": 48})
    assert prod_server.client().get("/folders/coverage").status_code == 401
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["learning_min_days"] >= 1 and body["data"]
    for folder in body["data"]:
        # Three hours of sightings: nowhere near LEARNING_MIN_DAYS covered days.
        assert folder["state"] == "learning" and folder["covered_hours"] >= 1 and folder["hours"] >= 48


def test_folders_occupancy_beside_raw_counts(prod_server: Server) -> None:
    with prod_server.client(K1) as c:
        r = c.get("/folders/occupancy", params={"hours": 24 * 7})
        assert c.get("/folders/occupancy", params={"hours": 0}).status_code == 422
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == len(body["data"]) > 0
    for row in body["data"]:
        assert set(row) == {"hour", "folder", "unique_devices", "people", "people_low", "people_high"}
        assert row["people_low"] <= row["people"] <= row["people_high"]
