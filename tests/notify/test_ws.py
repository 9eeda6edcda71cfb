"""The WebSocket hub against a real uvicorn on loopback, with real WebSocket clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.notify.conftest import DEVICE, KEY, LiveService, lingering_rows, make_anomaly
from tests.notify.wsclient import StuckClient, close_reason, open_client, read_notifications, read_quiet


def test_detection_run_delivers_the_specification_json(make_service: Callable[..., LiveService]) -> None:
    svc = make_service()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    svc.store_call(lambda store: store.insert_arrow("santi.way_data", lingering_rows(now)))

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        ws, hello = await open_client(svc.ws_url(f"api_key={KEY}"))
        async with httpx.AsyncClient(base_url=svc.url, timeout=120) as http:
            r = await http.post("/anomalies/detect-and-notify", params={"hours": 24}, headers={"X-API-Key": KEY})
            assert r.status_code == 200, r.text
        run = r.json()
        got = await read_notifications(ws, run["new"])
        assert await read_quiet(ws) == []  # nothing else, nothing twice
        await ws.close()
        return got, run

    got, run = asyncio.run(scenario())
    assert run["new"] >= 1
    found = {a["anomaly_id"]: a for a in run["anomalies"]}
    stationary = [a for a in run["anomalies"] if a["anomaly_type"] == "stationary_surveillance"]
    assert stationary and stationary[0]["device_id"] == DEVICE
    by_id = {m["anomaly"]["anomaly_id"]: m for m in got}
    assert set(by_id) == set(found)
    a = stationary[0]
    message = by_id[a["anomaly_id"]]
    severity_ru = {"critical": "КРИТИЧНО", "warning": "ВНИМАНИЕ", "info": "ИНФО"}[a["severity"]]
    expected = {
        "type": "anomaly.detected",
        "id": message["id"],
        "time": message["time"],
        "severity": a["severity"],
        "title": f"{severity_ru}: Стационарное наблюдение",
        "text": f"Устройство: AA:BB:CC... | Папка: office | Оценка: {a['score'] * 100:.1f}%",
        "anomaly": {
            "anomaly_id": a["anomaly_id"],
            "device_id": DEVICE,
            "type": "stationary_surveillance",
            "score": round(a["score"], 3),
            "folder": "office",
            "vendor": a["vendor"],
            "network_type": "wifi",
            "details": a["details"],
        },
        "coords": {"lat": a["lat"], "lon": a["lon"]},
    }
    assert message == expected
    assert isinstance(message["id"], int) and message["id"] > 0
    assert abs(datetime.fromisoformat(message["time"]) - datetime.now(UTC)) < timedelta(minutes=2)
    # The same run again finds the same anomalies: stored already, so nobody is notified twice.
    with httpx.Client(base_url=svc.url, timeout=120, headers={"X-API-Key": KEY}) as http:
        again = http.post("/anomalies/detect-and-notify", params={"hours": 24}).json()
    assert again["new"] == 0


def test_english_titles_by_setting(make_service: Callable[..., LiveService]) -> None:
    svc = make_service(notify_language="en")
    anomaly = make_anomaly(anomaly_type="night_activity", score=0.9, device_id=DEVICE, folder="warehouse")

    async def scenario() -> dict[str, Any]:
        ws, _ = await open_client(svc.ws_url(f"api_key={KEY}"))
        await asyncio.to_thread(svc.publish, [anomaly])
        (message,) = await read_notifications(ws, 1)
        await ws.close()
        return message

    message = asyncio.run(scenario())
    assert message["title"] == "CRITICAL: Night activity"
    assert message["text"] == "Device: AA:BB:CC... | Folder: warehouse | Score: 90.0%"


def test_bad_or_missing_key_is_refused_with_a_close_code(make_service: Callable[..., LiveService]) -> None:
    svc = make_service()

    async def scenario() -> None:
        assert await close_reason(svc.ws_url()) == (4401, "Missing API key: connect with ?api_key=KEY or an "
                                                          "X-API-Key header")
        assert await close_reason(svc.ws_url("api_key=wrong-key-123")) == (4401, "Invalid API key")
        assert await close_reason(svc.ws_url(), {"X-API-Key": "wrong-key-123"}) == (4401, "Invalid API key")
        code, reason = await close_reason(svc.ws_url(f"api_key={KEY}&min_severity=urgent"))
        assert code == 4400 and "min_severity" in reason
        code, reason = await close_reason(svc.ws_url(f"api_key={KEY}&types=fire"))
        assert code == 4400 and "unknown anomaly type" in reason
        code, reason = await close_reason(svc.ws_url(f"api_key={KEY}&since=yesterday"))
        assert code == 4400 and "since" in reason
        # The key in a header works as well as in the query (for clients other than browsers).
        ws, hello = await open_client(svc.ws_url(), {"X-API-Key": KEY})
        assert hello["filters"] == {"min_severity": "info", "folders": None, "types": None}
        await ws.close()

    asyncio.run(scenario())


def test_filters_by_severity_folder_and_type(make_service: Callable[..., LiveService]) -> None:
    svc = make_service()
    info_office = make_anomaly(anomaly_type="density_spike", score=0.55, folder="office")
    warn_wh = make_anomaly(anomaly_type="night_activity", score=0.75, device_id=DEVICE, folder="warehouse")
    crit_office = make_anomaly(anomaly_type="ml_behavior", score=0.95, device_id="11:22:33:44:55:66",
                               folder="office")

    async def scenario() -> dict[str, list[str]]:
        queries = {
            "all": "",
            "critical": "min_severity=critical",
            "warning+": "min_severity=warning",
            "warehouse": "folders=warehouse",
            "two_types": "types=density_spike,ml_behavior",
            "office_night": "folders=office&types=night_activity",
        }
        clients = {name: (await open_client(svc.ws_url(f"api_key={KEY}" + (f"&{q}" if q else ""))))[0]
                   for name, q in queries.items()}
        await asyncio.to_thread(svc.publish, [info_office, warn_wh, crit_office])
        got = {}
        for name, ws in clients.items():
            got[name] = [m["anomaly"]["anomaly_id"] for m in await read_quiet(ws)]
            await ws.close()
        return got

    got = asyncio.run(scenario())
    i, w, c = info_office.anomaly_id, warn_wh.anomaly_id, crit_office.anomaly_id
    assert got == {"all": [i, w, c], "critical": [c], "warning+": [w, c], "warehouse": [w],
                   "two_types": [i, c], "office_night": []}


def test_subscribe_message_changes_the_filter(make_service: Callable[..., LiveService]) -> None:
    svc = make_service()
    low = make_anomaly(score=0.55)
    high = make_anomaly(score=0.9)

    async def scenario() -> list[str]:
        ws, _ = await open_client(svc.ws_url(f"api_key={KEY}"))
        await ws.send(json.dumps({"type": "subscribe", "min_severity": "critical"}))
        reply = json.loads(await ws.recv())
        assert reply == {"type": "subscribed", "filters": {"min_severity": "critical", "folders": None,
                                                           "types": None}}
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv())["type"] == "pong"
        await asyncio.to_thread(svc.publish, [low, high])
        got = [m["anomaly"]["anomaly_id"] for m in await read_quiet(ws)]
        await ws.close()
        return got

    assert asyncio.run(scenario()) == [high.anomaly_id]


def test_reconnect_with_since_receives_what_was_missed(make_service: Callable[..., LiveService]) -> None:
    svc = make_service()
    first, missed1, missed2, live = (make_anomaly(score=0.6 + i / 10) for i in range(4))

    async def scenario() -> None:
        ws, _ = await open_client(svc.ws_url(f"api_key={KEY}"))
        await asyncio.to_thread(svc.publish, [first])
        (seen,) = await read_notifications(ws, 1)
        await ws.close()
        # Offline: two notifications go out meanwhile.
        await asyncio.to_thread(svc.publish, [missed1])
        await asyncio.to_thread(svc.publish, [missed2])
        ws, hello = await open_client(svc.ws_url(f"api_key={KEY}&since={seen['id']}"))
        replayed = await read_notifications(ws, 2)
        assert [m["anomaly"]["anomaly_id"] for m in replayed] == [missed1.anomaly_id, missed2.anomaly_id]
        assert replayed[0]["id"] < replayed[1]["id"] and replayed[0]["id"] > seen["id"]
        await asyncio.to_thread(svc.publish, [live])
        (after,) = await read_notifications(ws, 1)
        assert after["anomaly"]["anomaly_id"] == live.anomaly_id
        assert await read_quiet(ws) == []
        await ws.close()
        # `since` as a time works too (the client's last receipt time).
        ws, _ = await open_client(svc.ws_url(f"api_key={KEY}&since={seen['time'].replace('+00:00', 'Z')}"))
        again = [m["anomaly"]["anomaly_id"] for m in await read_quiet(ws)]
        assert again == [missed1.anomaly_id, missed2.anomaly_id, live.anomaly_id]
        await ws.close()

    asyncio.run(scenario())


@pytest.mark.slow
def test_hundred_concurrent_clients_all_receive_the_same_notification(
        make_service: Callable[..., LiveService]) -> None:
    svc = make_service()
    anomaly = make_anomaly(score=0.9)

    async def scenario() -> list[str]:
        clients = await asyncio.gather(*(open_client(svc.ws_url(f"api_key={KEY}")) for _ in range(100)))
        assert len(svc.service.hub.clients) == 100
        await asyncio.to_thread(svc.publish, [anomaly])
        texts = await asyncio.gather(*(asyncio.wait_for(ws.recv(), 30) for ws, _ in clients))
        await asyncio.gather(*(ws.close() for ws, _ in clients))
        return [str(t) for t in texts]

    texts = asyncio.run(scenario())
    assert len(texts) == 100 and len(set(texts)) == 1
    assert json.loads(texts[0])["anomaly"]["anomaly_id"] == anomaly.anomaly_id


def test_heartbeats_keep_an_idle_connection_alive(make_service: Callable[..., LiveService]) -> None:
    svc = make_service(notify_ws_heartbeat_s=0.3)

    async def scenario() -> list[dict[str, Any]]:
        ws, hello = await open_client(svc.ws_url(f"api_key={KEY}"))
        assert hello["heartbeat_s"] == 0.3
        beats = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(3)]
        await ws.close()
        return beats

    beats = asyncio.run(scenario())
    assert [b["type"] for b in beats] == ["heartbeat"] * 3
    assert all("last_id" in b and "time" in b for b in beats)


@pytest.mark.slow
def test_a_client_that_stops_reading_is_cut_off_and_does_not_slow_the_others(
        make_service: Callable[..., LiveService]) -> None:
    svc = make_service(notify_ws_queue=4)
    # Large notifications (100 x 200 kB, one publish each) fill a stuck client's socket buffers, then its
    # queue of 4 publishes. A burst in ONE publish is one queue item (test_one_big_publish_...).
    burst = [make_anomaly(score=0.9, details={"blob": "x" * 200_000, "i": i}) for i in range(100)]

    async def scenario() -> tuple[int, int, bytes]:
        fast, _ = await open_client(svc.ws_url(f"api_key={KEY}"), max_size=None)
        stuck = await asyncio.to_thread(StuckClient, svc.port, KEY)
        reader = asyncio.create_task(read_notifications(fast, len(burst), timeout=30))
        for anomaly in burst:
            await asyncio.to_thread(svc.publish, [anomaly])
        got = await reader
        deadline = asyncio.get_running_loop().time() + 15
        while len(svc.service.hub.clients) > 1 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        clients_left = len(svc.service.hub.clients)
        data = await asyncio.to_thread(stuck.drain_until_closed)  # the server ends the connection
        await fast.close()
        return len(got), clients_left, data

    received, clients_left, data = asyncio.run(scenario())
    assert received == len(burst)  # the reader that keeps up gets everything
    assert clients_left == 1  # the stuck one is out of the hub
    assert 0 < len(data) < 100 * 200_000  # it got part of the stream, then the connection was closed


def test_one_big_publish_does_not_overflow_a_client_that_keeps_up(make_service: Callable[..., LiveService]) -> None:
    svc = make_service(notify_ws_queue=2)
    burst = [make_anomaly(score=0.9) for _ in range(50)]

    async def scenario() -> int:
        ws, _ = await open_client(svc.ws_url(f"api_key={KEY}"))
        await asyncio.to_thread(svc.publish, burst)
        got = await read_notifications(ws, len(burst))
        await ws.close()
        return len(got)

    assert asyncio.run(scenario()) == 50
