"""Operator feedback and known devices, through the REST routes of a real service."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from tests.notify.conftest import DEVICE, KEY, LiveService, lingering_rows, make_anomaly
from tests.notify.wsclient import open_client, read_quiet


def _client(svc: LiveService, key: str | None = KEY) -> httpx.Client:
    return httpx.Client(base_url=svc.url, headers={"X-API-Key": key} if key else {}, timeout=60)


def _notified(svc: LiveService, anomalies: list[object]) -> list[str]:
    async def scenario() -> list[str]:
        ws, _ = await open_client(svc.ws_url(f"api_key={KEY}"))
        await asyncio.to_thread(svc.publish, anomalies)  # type: ignore[arg-type]
        got = [m["anomaly"]["anomaly_id"] for m in await read_quiet(ws)]
        await ws.close()
        return got
    return asyncio.run(scenario())


def test_false_alarm_feedback_is_kept_shown_and_silences_the_device_for_that_type(
        make_service: Callable[..., LiveService]) -> None:
    svc = make_service()
    first = make_anomaly(anomaly_type="night_activity", score=0.8, device_id=DEVICE)
    assert _notified(svc, [first]) == [first.anomaly_id]
    with _client(svc) as http:
        r = http.post(f"/anomalies/{first.anomaly_id}/feedback",
                      json={"verdict": "false_alarm", "note": "night guard", "mark_known": True})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["verdict"] == "false_alarm" and body["device_marked_known"] is True
        assert body["device_id"] == DEVICE and body["anomaly_type"] == "night_activity"
        assert body["added_by"].startswith("key:") and KEY not in body["added_by"]
        shown = http.get(f"/anomalies/{first.anomaly_id}/feedback").json()
        assert shown["verdict"] == "false_alarm" and shown["note"] == "night guard"
        listed = http.get("/feedback", params={"verdict": "false_alarm"}).json()
        assert listed["count"] == 1 and listed["data"][0]["anomaly_id"] == first.anomaly_id
        known = http.get("/devices/known").json()["data"]
        assert [(k["device_id"], k["reason"]) for k in known] == [(DEVICE, "night_activity")]
        # A later verdict replaces the earlier one.
        r = http.post(f"/anomalies/{first.anomaly_id}/feedback", json={"verdict": "confirmed"})
        assert r.status_code == 201 and r.json()["device_marked_known"] is False
        assert http.get(f"/anomalies/{first.anomaly_id}/feedback").json()["verdict"] == "confirmed"
    # The same device, same reason: no alert. Another reason, or another device: alerted.
    again = make_anomaly(anomaly_type="night_activity", score=0.95, device_id=DEVICE)
    other_type = make_anomaly(anomaly_type="stationary_surveillance", score=0.8, device_id=DEVICE)
    other_device = make_anomaly(anomaly_type="night_activity", score=0.8, device_id="11:22:33:44:55:66")
    assert _notified(svc, [again, other_type, other_device]) == [other_type.anomaly_id, other_device.anomaly_id]


def test_feedback_errors(make_service: Callable[..., LiveService]) -> None:
    svc = make_service()
    stored = make_anomaly()
    svc.publish([stored])
    with _client(svc) as http:
        assert http.post("/anomalies/" + "0" * 32 + "/feedback", json={"verdict": "confirmed"}).status_code == 404
        assert http.post("/anomalies/not-an-id/feedback", json={"verdict": "confirmed"}).status_code == 422
        r = http.post(f"/anomalies/{stored.anomaly_id}/feedback", json={"verdict": "maybe"})
        assert r.status_code == 422
        assert http.get(f"/anomalies/{stored.anomaly_id}/feedback").status_code == 404  # none given yet
        assert http.post("/devices/not-a-mac/known", json={}).status_code == 422
    with _client(svc, key=None) as anonymous:
        r = anonymous.post(f"/anomalies/{stored.anomaly_id}/feedback", json={"verdict": "confirmed"})
        assert r.status_code == 401
        assert anonymous.post(f"/devices/{DEVICE}/known").status_code == 401


def test_known_device_is_not_alerted_on_by_a_detection_run(make_service: Callable[..., LiveService]) -> None:
    svc = make_service()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    svc.store_call(lambda store: store.insert_arrow("santi.way_data", lingering_rows(now)))
    with _client(svc) as http:
        # Any MAC notation is accepted and stored normalised.
        r = http.post("/devices/aa-bb-cc-dd-ee-ff/known", json={"reason": "all", "note": "our own sensor"})
        assert r.status_code == 201, r.text
        assert r.json()["device_id"] == DEVICE and r.json()["reason"] == "all"
        run = http.post("/anomalies/detect-and-notify", params={"hours": 24}).json()
        assert [a for a in run["anomalies"] if a["device_id"] == DEVICE] == []
        # Removed from the list: the next run alerts on it.
        assert http.delete(f"/devices/{DEVICE}/known").status_code == 204
        assert http.get("/devices/known").json()["count"] == 0
        run = http.post("/anomalies/detect-and-notify", params={"hours": 24}).json()
        assert any(a["device_id"] == DEVICE for a in run["anomalies"])


def test_listen_command_prints_missed_and_live_notifications(make_service: Callable[..., LiveService]) -> None:
    from typer.testing import CliRunner

    from santiway_anomaly.cli.main import app

    svc = make_service()
    anomaly = make_anomaly(anomaly_type="night_activity", score=0.9, device_id=DEVICE, folder="office")
    svc.publish([anomaly])
    result = CliRunner().invoke(app, ["listen", "--url", svc.url, "--since", "0", "--count", "1"],
                                env={"NOTIFY_LISTEN_API_KEY": KEY, "VALID_API_KEYS": ""})
    assert result.exit_code == 0, result.output
    # English by default, the full MAC, the local time with its zone (TIMEZONE, UTC here)
    assert "CRITICAL: Night activity | Device: AA:BB:CC:DD:EE:FF | Folder: office | Score: 90.0%" in result.output
    assert " UTC | CRITICAL" in result.output
    russian = CliRunner().invoke(app, ["listen", "--url", svc.url, "--since", "0", "--count", "1", "--lang", "ru"],
                                 env={"NOTIFY_LISTEN_API_KEY": KEY, "VALID_API_KEYS": "", "TIMEZONE": "Europe/Moscow"})
    line = "КРИТИЧНО: Активность ночью | Устройство: AA:BB:CC:DD:EE:FF | Папка: office | Оценка: 90.0%"
    assert line in russian.output
    assert " MSK | КРИТИЧНО" in russian.output
    refused = CliRunner().invoke(app, ["listen", "--url", svc.url], env={"NOTIFY_LISTEN_API_KEY": "wrong-key-1234",
                                                                        "VALID_API_KEYS": ""})
    assert refused.exit_code == 1 and "Invalid API key" in refused.output
