"""Continuous detection (DETECT_INTERVAL) and the per-subject cooldown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.notify.conftest import DEVICE, KEY, LiveService, lingering_rows, make_anomaly, wait_for
from tests.notify.wsclient import open_client, read_notifications, read_quiet

INTERVAL_S = 4


@pytest.mark.slow
def test_scheduled_detection_notifies_new_data_within_one_interval_and_only_once(
        make_service: Callable[..., LiveService]) -> None:
    svc = make_service(detect_interval=INTERVAL_S)
    scheduler = svc.service.scheduler
    assert scheduler is not None
    wait_for(lambda: scheduler.runs >= 1, 30, "the first (empty) run")

    async def scenario() -> tuple[float, list[str], list[str]]:
        ws, _ = await open_client(svc.ws_url(f"api_key={KEY}"))
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        await asyncio.to_thread(svc.store_call, lambda store: store.insert_arrow("santi.way_data",
                                                                                lingering_rows(now)))
        stored = time.monotonic()
        (message,) = await read_notifications(ws, 1, timeout=3 * INTERVAL_S + 20)
        latency = time.monotonic() - stored
        first = [message["anomaly"]["type"]] + [m["anomaly"]["type"] for m in await read_quiet(ws, 1.0)]
        # Two more runs over the same data: the same anomalies, already notified, stay quiet.
        runs = scheduler.runs
        await asyncio.to_thread(wait_for, lambda: scheduler.runs >= runs + 2, 4 * INTERVAL_S + 30, "two runs")
        later = [m["anomaly"]["type"] for m in await read_quiet(ws, 0.5)]
        await ws.close()
        return latency, first, later

    latency, first, later = asyncio.run(scenario())
    assert "stationary_surveillance" in first
    # One interval, plus one detection run (about a second here) for the run that sees the data.
    assert latency <= INTERVAL_S + 8, latency
    assert later == []


def test_cooldown_quiets_a_flapping_subject_unless_the_severity_rises(
        make_service: Callable[..., LiveService]) -> None:
    svc = make_service(notify_cooldown_s=600)
    warn1 = make_anomaly(anomaly_type="night_activity", score=0.75, device_id=DEVICE)
    warn2 = make_anomaly(anomaly_type="night_activity", score=0.78, device_id=DEVICE)  # new window, same level
    crit = make_anomaly(anomaly_type="night_activity", score=0.9, device_id=DEVICE)  # escalation
    other_type = make_anomaly(anomaly_type="stationary_surveillance", score=0.75, device_id=DEVICE)
    other_device = make_anomaly(anomaly_type="night_activity", score=0.75, device_id="11:22:33:44:55:66")

    async def scenario(service: LiveService, batches: list[list[object]]) -> list[str]:
        ws, _ = await open_client(service.ws_url(f"api_key={KEY}"))
        for batch in batches:
            await asyncio.to_thread(service.publish, batch)  # type: ignore[arg-type]
        got = [m["anomaly"]["anomaly_id"] for m in await read_quiet(ws)]
        await ws.close()
        return got

    got = asyncio.run(scenario(svc, [[warn1], [warn2], [crit, other_type], [other_device]]))
    assert got == [warn1.anomaly_id, crit.anomaly_id, other_type.anomaly_id, other_device.anomaly_id]
    svc.stop()
    # After a restart the cooldown is rebuilt from the notification log (with the anomalies' windows).
    again = make_service(notify_cooldown_s=600)
    late = make_anomaly(anomaly_type="night_activity", score=0.9, device_id=DEVICE, start=crit.window_end)
    later = make_anomaly(anomaly_type="night_activity", score=0.9, device_id=DEVICE,
                         start=crit.window_end + timedelta(hours=5))  # another episode
    assert asyncio.run(scenario(again, [[late], [later]])) == [later.anomaly_id]


def test_cooldown_does_not_silence_a_new_episode_of_a_subject_notified_about_an_old_one(
        make_service: Callable[..., LiveService]) -> None:
    """A first run notifies a folder's crowd of yesterday; a crowd forming there now is still news."""
    svc = make_service(notify_cooldown_s=900)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    old = make_anomaly(score=0.9, folder="shop", start=now - timedelta(hours=18))
    new = make_anomaly(score=0.75, folder="shop", start=now)
    continuing = make_anomaly(score=0.75, folder="shop", start=now + timedelta(hours=1))

    async def scenario() -> list[str]:
        ws, _ = await open_client(svc.ws_url(f"api_key={KEY}"))
        for batch in ([old], [new], [continuing]):
            await asyncio.to_thread(svc.publish, batch)
        got = [m["anomaly"]["anomaly_id"] for m in await read_quiet(ws)]
        await ws.close()
        return got

    assert asyncio.run(scenario()) == [old.anomaly_id, new.anomaly_id]  # the next hour continues `new`


def test_the_same_anomaly_is_never_notified_twice_even_after_a_restart(
        make_service: Callable[..., LiveService]) -> None:
    svc = make_service()
    anomaly = make_anomaly(score=0.9)

    async def scenario(service: LiveService) -> list[str]:
        ws, _ = await open_client(service.ws_url(f"api_key={KEY}"))
        # Handed to the dispatcher directly (twice), as a caller that does not check newness would.
        await asyncio.to_thread(service.run, service.service.publish([anomaly]))
        await asyncio.to_thread(service.run, service.service.publish([anomaly]))
        got = [m["anomaly"]["anomaly_id"] for m in await read_quiet(ws)]
        await ws.close()
        return got

    assert asyncio.run(scenario(svc)) == [anomaly.anomaly_id]
    svc.stop()
    assert asyncio.run(scenario(make_service())) == []  # the restarted service remembers it from the log
