"""The live feed: time-ordered slices, injected anomalies that show up, and both sinks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from santiway_anomaly.config import Settings
from santiway_anomaly.simulate.live import ARRIVAL_S, ApiSink, LiveFeed, StoreSink, run_live
from santiway_anomaly.simulate.options import SimOptions
from santiway_anomaly.storage import Store

NOW = 1_795_000_000.0  # a Wednesday, 11:06 UTC


def feed(**kw: Any) -> LiveFeed:
    return LiveFeed(SimOptions(devices=kw.pop("devices", 200), folders=6, seed=3, **kw), now=NOW)


def test_slices_are_time_ordered_and_do_not_overlap() -> None:
    f = feed()
    a, b = f.slice(NOW, NOW + 600), f.slice(NOW + 600, NOW + 1200)
    for t, lo, hi in ((a, NOW, NOW + 600), (b, NOW + 600, NOW + 1200)):
        ts = pc.cast(t.column("ts"), pa.int64()).to_numpy() / 1000
        assert t.num_rows > 100
        assert (ts[1:] >= ts[:-1]).all() and ts.min() >= lo and ts.max() < hi
    assert a.schema.names[:3] == ["ts", "device_id", "sensor_id"]


def test_injected_subjects_appear_in_the_following_slices() -> None:
    f = feed()
    f.slice(NOW, NOW + 60)
    records = [f.inject(NOW + 60) for _ in range(3)]
    assert {r["scenario"] for r in records if r} == {"crowd", "lingering", "following"}
    seen = f.slice(NOW + 60, NOW + 60 + 3 * 3600)
    devices = set(seen.column("device_id").to_pylist())
    folders = seen.column("folder").to_pylist()
    for r in records:
        assert r is not None
        if r["anomaly_type"] == "density_spike":
            assert folders.count(r["folder"]) > 100
        else:
            assert r["subject"] in devices
    # Night intruders only at night: at 11:07 the scenario is skipped, not faked.
    assert all(r["scenario"] != "night_intruder" for r in records if r)


def test_a_live_crowd_clears_the_density_line_on_its_own_and_is_heard_within_seconds() -> None:
    f = feed()
    f.slice(NOW - 60, NOW)
    record = f.inject(NOW)
    assert record is not None and record["scenario"] == "crowd"
    assert record["injected_at"] == "2026-11-18T11:06:40.000+00:00"
    usual, members = record["details"]["usual_devices"], record["details"]["members"]
    # The density line is 1.5 x p95 and +10 devices; `usual` is the folder's busiest same hour of the week.
    assert members >= max(2 * max(usual, 5), usual + 20)
    arrival = f.slice(NOW, NOW + ARRIVAL_S)
    here = pc.equal(arrival.column("folder"), record["folder"])
    heard = len(set(arrival.filter(here).column("device_id").to_pylist()))
    assert heard >= 0.8 * members  # not only after each member's next routine probe (1.5 min on average)


def test_a_folder_gets_no_second_crowd_while_its_alarm_episode_lasts() -> None:
    f = feed(devices=100)
    records = [f.inject(NOW) for _ in range(30)]
    crowds = [r["folder"] for r in records if r and r["scenario"] == "crowd"]
    assert sorted(crowds) == sorted({x.name for x in f.world.folders})  # each folder once, then none
    # Three hours (the detector's cooldown) after the last crowd's window ends, a folder is free again.
    ends = max(datetime.fromisoformat(r["window_end"]).timestamp() for r in records if r and r["scenario"] == "crowd")
    later = [f.inject(ends + 3 * 3600 + 3600) for _ in range(4)]
    assert any(r and r["scenario"] == "crowd" for r in later)


def test_run_live_into_the_store(empty_store: Store, settings: Settings, tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    totals = run_live(feed(devices=150), StoreSink(empty_store, settings), truth, speed=1200, inject_every=0.5,
                      batch_seconds=0.3, duration=2.5)
    stored = empty_store.scalar("SELECT count() FROM santi.way_data")
    assert totals["sightings"] > 0 and stored == totals["accepted"] == totals["sightings"]
    lines = [json.loads(x) for x in truth.read_text().splitlines()]
    assert lines and all(x["anomaly_type"] in ("density_spike", "stationary_surveillance") for x in lines)


class _Recorder(BaseHTTPRequestHandler):
    calls: list[tuple[str, str, bytes]] = []
    fail_first = True

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).calls.append((self.path, self.headers.get("X-API-Key", ""), body))
        if type(self).fail_first:
            type(self).fail_first = False
            self.send_response(503)
            self.end_headers()
            return
        payload = json.dumps({"accepted": body.count(b"\n"), "rejected": 0}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture()
def server() -> Iterator[str]:
    _Recorder.calls = []
    _Recorder.fail_first = True
    httpd = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_api_sink_posts_ndjson_with_the_key_and_keeps_batches_until_accepted(server: str) -> None:
    f = feed(devices=100)
    table = f.slice(NOW, NOW + 300)
    sink = ApiSink(server, "k" * 12)
    assert sink.send(table) == 0 and len(sink.pending) == 1  # 503: kept for later
    sink._backoff_until = 0.0  # skip the back-off wait in the test
    assert sink.send(f.slice(NOW + 300, NOW + 600)) > table.num_rows
    assert not sink.pending
    sink.close()
    path, key, body = _Recorder.calls[1]
    assert path == "/ingest" and key == "k" * 12
    first = json.loads(body.splitlines()[0])
    assert set(first) == {"ts", "device_id", "sensor_id", "folder", "network_type", "rssi", "lat", "lon", "vendor"}
    assert first["ts"].endswith("Z")
