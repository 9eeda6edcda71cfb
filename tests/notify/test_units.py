"""Small pieces without a server: message text, subscriptions, `since`, the hub's queues, retry policy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from santiway_anomaly.notify.hub import CLOSE_SLOW, OVERFLOW, Hub, HubFullError, Subscription
from santiway_anomaly.notify.journal import SeqClock, Since
from santiway_anomaly.notify.message import build_notification, build_payload
from santiway_anomaly.notify.webhook import _transient
from tests.notify.conftest import make_anomaly

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_payload_follows_the_specification_example() -> None:
    a = make_anomaly(anomaly_type="density_spike", score=0.853, device_id="AA:BB:CC:DD:EE:FF", folder="office")
    p = build_payload(a, 7, NOW, "ru")
    assert p["title"] == "КРИТИЧНО: Скопление устройств"
    assert p["text"] == "Устройство: AA:BB:CC... | Папка: office | Оценка: 85.3%"
    assert p["anomaly"] == {"anomaly_id": a.anomaly_id, "device_id": "AA:BB:CC:DD:EE:FF", "type": "density_spike",
                            "score": 0.853, "folder": "office", "vendor": "Apple Inc.", "network_type": "wifi",
                            "details": {"unique_devices": 150, "p95_baseline": 80}}
    assert p["coords"] == {"lat": 55.7558, "lon": 37.6173} and p["severity"] == "critical" and p["id"] == 7
    folder_level = build_payload(make_anomaly(score=0.72, folder="warehouse"), 8, NOW, "ru")
    assert folder_level["text"] == "Папка: warehouse | Оценка: 72.0%"
    assert folder_level["title"] == "ВНИМАНИЕ: Скопление устройств"
    with pytest.raises(ValueError, match="language"):
        build_payload(a, 9, NOW, "de")


def test_subscription_parsing_and_matching() -> None:
    note = build_notification(make_anomaly(anomaly_type="night_activity", score=0.75, folder="b"), 1, NOW, "en")
    assert Subscription.parse(None, None, None).matches(note)
    assert Subscription.parse("WARNING", "a, b", "night_activity").matches(note)
    assert not Subscription.parse("critical", None, None).matches(note)
    assert not Subscription.parse(None, "a", None).matches(note)
    assert not Subscription.parse(None, None, "ml_behavior").matches(note)
    for bad in (("loud", None, None), (None, None, "fire")):
        with pytest.raises(ValueError):
            Subscription.parse(*bad)


def test_since_and_sequence_numbers() -> None:
    assert Since.parse("42") == Since(seq=42)
    assert Since.parse("2026-03-01T12:00:00Z") == Since(time=NOW)
    assert Since.parse("2026-03-01T15:00:00+03:00") == Since(time=NOW)
    with pytest.raises(ValueError, match="since"):
        Since.parse("yesterday")
    clock = SeqClock(last=10**18)  # a log written by a clock ahead of ours: ids still increase
    ids = [clock.next() for _ in range(1000)]
    assert ids == sorted(set(ids)) and ids[0] == 10**18 + 1


def test_a_full_queue_cuts_the_client_off_with_a_clear_reason() -> None:
    async def scenario() -> None:
        hub = Hub(queue_size=2, max_clients=2)
        slow, other = hub.register(Subscription()), hub.register(Subscription(min_severity="critical"))
        with pytest.raises(HubFullError):
            hub.register(Subscription())
        notes = [build_notification(make_anomaly(score=0.6), i, NOW, "ru") for i in range(3)]
        for note in notes:
            hub.broadcast([note])  # one publish each: the third overflows `slow`
        assert slow.overflowed and slow.close_with[0] == CLOSE_SLOW and "too slow" in slow.close_with[1]
        assert slow.queue.get_nowait() is OVERFLOW and slow.queue.empty()  # stale messages dropped
        assert not other.overflowed and other.queue.empty()  # filtered out: nothing queued
        hub.unregister(slow)
        assert hub.clients == {other}

    asyncio.run(scenario())


def test_retry_policy_retries_transient_errors_only() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/notifications/api/send/")

    def status(code: int) -> httpx.HTTPStatusError:
        return httpx.HTTPStatusError("x", request=request, response=httpx.Response(code, request=request))

    assert _transient(httpx.ConnectError("refused")) and _transient(httpx.ReadTimeout("slow"))
    assert _transient(status(503)) and _transient(status(429)) and _transient(status(404))
    assert not _transient(status(400)) and not _transient(status(422))
    assert not _transient(ValueError("not an HTTP error"))


def test_an_anomaly_whose_details_cannot_be_sent_does_not_stop_the_others() -> None:
    from santiway_anomaly.config import load_settings
    from santiway_anomaly.notify.service import NotificationService

    service = NotificationService(load_settings(_env_file=None, notify_cooldown_s=0.0))
    bad = make_anomaly(details={"obj": object()})
    good = make_anomaly()
    notes = service._admit([bad, good], allow={})
    assert [n.anomaly_id for n in notes] == [good.anomaly_id]
