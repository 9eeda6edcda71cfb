"""The webhook to the host application and its durable outbox, against local HTTP receivers."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
import pytest

from santiway_anomaly.notify.outbox import count_pending
from santiway_anomaly.notify.webhook import SEND_PATH
from santiway_anomaly.storage.store import Store
from tests.notify.conftest import LiveService, Receiver, make_anomaly, wait_for


def _metric(svc: LiveService, channel: str, outcome: str) -> float:
    text = httpx.get(svc.url + "/metrics", timeout=30).text
    pattern = (r'^anomaly_detection_notifications_total\{channel="' + channel + r'",outcome="' + outcome
               + r'"\} ([0-9.e+]+)$')
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _outbox_states(store: Store) -> list[tuple[int, str, int]]:
    rows = store.query_rows("SELECT seq, state, attempts FROM anomaly_ml.notify_outbox FINAL ORDER BY seq")
    return [(int(s), str(st), int(a)) for s, st, a in rows]


@pytest.mark.slow  # the specification's waits, 1 s + 2 s
def test_receiver_failing_twice_gets_exactly_one_delivery_after_the_retries(
        make_service: Callable[..., LiveService], receiver_port: int) -> None:
    receiver = Receiver(receiver_port, fail_first=2).start()
    try:
        # The specification's retry table as configured by default: 3 tries, waits 1 s then 2 s.
        svc = make_service(django_url=f"http://127.0.0.1:{receiver_port}")
        before = {o: _metric(svc, "webhook", o) for o in ("delivered", "retried", "failed")}
        anomaly = make_anomaly(score=0.9, device_id="AA:BB:CC:DD:EE:01")
        svc.publish([anomaly])
        wait_for(lambda: len(receiver.received) == 1, 30, "the delivery")
        assert receiver.requests == 3  # two 503 answers, then the accepted one
        (body,) = receiver.received
        assert body["type"] == "anomaly.detected" and body["anomaly"]["anomaly_id"] == anomaly.anomaly_id
        assert body["title"] == "КРИТИЧНО: Скопление устройств"
        assert receiver.keys == [anomaly.anomaly_id]  # the idempotency key
        wait_for(lambda: svc.store_call(_outbox_states)[0][1] == "delivered", 10, "the outbox record")
        assert [(st, a) for _, st, a in svc.store_call(_outbox_states)] == [("delivered", 3)]
        after = {o: _metric(svc, "webhook", o) for o in ("delivered", "retried", "failed")}
        assert after["delivered"] - before["delivered"] == 1
        assert after["retried"] - before["retried"] == 2
        assert after["failed"] - before["failed"] == 0
        time.sleep(1.5)  # nothing more arrives later: exactly one delivery
        assert receiver.requests == 3 and len(receiver.received) == 1
    finally:
        receiver.stop()


def test_receiver_down_outbox_holds_all_across_a_restart_and_delivers_in_order(
        make_service: Callable[..., LiveService], receiver_port: int) -> None:
    fast = {"django_url": f"http://127.0.0.1:{receiver_port}", "notify_webhook_wait_min_s": 0.05,
            "notify_webhook_wait_max_s": 0.1, "notify_outbox_retry_s": 0.3, "notify_webhook_timeout_s": 2.0}
    first = make_service(**fast)
    sent = [make_anomaly(score=0.6 + i / 20, device_id=f"AA:BB:CC:DD:EE:{i:02d}") for i in range(5)]
    first.publish(sent[:3])
    first.publish(sent[3:])
    # Nobody listens on the receiver's port: every pass fails, nothing is lost.
    wait_for(lambda: first.store_call(_outbox_states)[0][2] >= 3, 20, "failed attempts")
    assert first.store_call(count_pending) == 5
    assert _metric(first, "webhook", "failed") >= 1
    first.stop()

    second = make_service(**fast)  # the same data directory: a restart of the service
    assert second.store_call(count_pending) == 5
    more = [make_anomaly(score=0.9, device_id=f"AA:BB:CC:DD:EE:{i:02d}") for i in range(5, 7)]
    second.publish(more)
    receiver = Receiver(receiver_port).start()  # the receiver comes back
    try:
        wait_for(lambda: len(receiver.received) == 7, 30, "all seven deliveries")
        ids = [b["id"] for b in receiver.received]
        assert ids == sorted(ids)  # oldest first
        assert [b["anomaly"]["anomaly_id"] for b in receiver.received] == [a.anomaly_id for a in sent + more]
        assert receiver.keys == [a.anomaly_id for a in sent + more]  # each once, with its key
        wait_for(lambda: second.store_call(count_pending) == 0, 10, "an empty outbox")
        assert {st for _, st, _ in second.store_call(_outbox_states)} == {"delivered"}
    finally:
        receiver.stop()


def test_misconfigured_receiver_holds_notifications_in_the_outbox(
        make_service: Callable[..., LiveService], receiver_port: int) -> None:
    receiver = Receiver(receiver_port).start()
    try:
        # A receiver mounted elsewhere answers 404 for every body: a configuration error, held and retried.
        svc = make_service(django_url=f"http://127.0.0.1:{receiver_port}/wrong-prefix",
                           notify_webhook_wait_min_s=0.01, notify_webhook_wait_max_s=0.02,
                           notify_outbox_retry_s=60)
        svc.publish([make_anomaly(score=0.9)])
        wait_for(lambda: receiver.requests >= 3, 10, "three tries")
        assert svc.store_call(count_pending) == 1 and receiver.received == []
        assert svc.service.webhook is not None and svc.service.webhook.url.endswith("/wrong-prefix" + SEND_PATH)
    finally:
        receiver.stop()


def test_body_refused_by_the_receiver_is_not_retried_and_does_not_block_the_rest(
        make_service: Callable[..., LiveService], receiver_port: int) -> None:
    receiver = Receiver(receiver_port, fail_first=1, fail_status=422).start()
    try:
        svc = make_service(django_url=f"http://127.0.0.1:{receiver_port}", notify_webhook_wait_min_s=0.01,
                           notify_webhook_wait_max_s=0.02)
        refused, accepted = make_anomaly(score=0.9), make_anomaly(score=0.8)
        svc.publish([refused, accepted])
        wait_for(lambda: len(receiver.received) == 1, 10, "the second delivery")
        assert receiver.requests == 2  # the 422 was not retried
        assert receiver.keys == [accepted.anomaly_id]
        wait_for(lambda: svc.store_call(count_pending) == 0, 10, "an empty outbox")
        assert [st for _, st, _ in svc.store_call(_outbox_states)] == ["rejected", "delivered"]
    finally:
        receiver.stop()


def test_notifications_made_while_the_store_is_unavailable_still_reach_the_webhook(
        make_service: Callable[..., LiveService], receiver_port: int) -> None:
    receiver = Receiver(receiver_port).start()
    try:
        svc = make_service(django_url=f"http://127.0.0.1:{receiver_port}", notify_webhook_wait_min_s=0.01,
                           notify_webhook_wait_max_s=0.02)
        first, second = make_anomaly(score=0.9), make_anomaly(score=0.8)
        runner = svc.app.state.runner
        store = runner.store
        runner.store = None  # what the service does while its store cannot be opened (answers 503)
        svc.run(svc.service.publish([first]))
        assert receiver.received == [] and len(svc.service._unsaved) == 1
        runner.store = store  # the store is back: the next publish writes both, in order
        svc.run(svc.service.publish([second]))
        wait_for(lambda: len(receiver.received) == 2, 10, "both deliveries")
        assert receiver.keys == [first.anomaly_id, second.anomaly_id]
        assert svc.service._unsaved == []
    finally:
        receiver.stop()
