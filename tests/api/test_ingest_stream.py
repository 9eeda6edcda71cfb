"""POST /ingest reads its body as a stream: the cap holds for a body sent without Content-Length, a large
body waits in a temporary file (removed afterwards) and is read back in batches, CSV bodies too."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi import HTTPException

from santiway_anomaly.api.ingest_body import IngestBody
from tests.api.conftest import start_server, stop_server

pytestmark = pytest.mark.slow

KEY = "stream-key-3b9d0c7e1a"
CAP = 2_000_000


def _row(i: int) -> dict[str, object]:
    return {"ts": f"2026-11-21T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
            "device_id": f"3C:22:FB:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}", "sensor_id": f"s{i % 7}",
            "folder": "hall", "network_type": "wifi", "rssi": -40 - i % 50, "lat": 55.75, "lon": 37.61}


def _chunks(data: bytes, size: int = 65_536) -> Iterator[bytes]:
    """A body sent chunked, without Content-Length (httpx streams a generator)."""
    for start in range(0, len(data), size):
        yield data[start:start + size]


def test_receive_stops_reading_once_past_the_cap() -> None:
    read = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal read
        while True:
            read += 1
            yield b"x" * 1000

    with pytest.raises(HTTPException) as caught:
        asyncio.run(IngestBody.receive(endless(), 10_000, 4_000))
    assert caught.value.status_code == 413 and "API_MAX_INGEST_BYTES" in str(caught.value.detail)
    assert read == 11  # the chunk that passed the cap was the last one read


def test_small_body_stays_in_memory_large_one_spills_and_is_removed() -> None:
    async def body(n: int) -> AsyncIterator[bytes]:
        for _ in range(n):
            yield b"y" * 100

    small = asyncio.run(IngestBody.receive(body(3), 10_000, 1_000))
    assert small.path is None and small.bytes() == b"y" * 300
    large = asyncio.run(IngestBody.receive(body(30), 10_000, 1_000))
    assert large.path is not None and large.path.read_bytes() == b"y" * 3000 and large.size == 3000
    path = large.path
    large.discard()
    assert not path.exists()


def test_streamed_ndjson_and_csv_bodies(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    env = {"VALID_API_KEYS": KEY, "API_MAX_INGEST_BYTES": str(CAP), "API_INGEST_SPILL_BYTES": "4096",
           "TMPDIR": str(spool), "RATE_LIMIT_DEFAULT": "10000/minute", "DETECT_INTERVAL": "0"}
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(data, None, env)  # type: ignore[arg-type] # no seeded world needed
    try:
        with server.client(KEY) as client:
            lines = [json.dumps(_row(i)) for i in range(8000)]
            bad = {100: '{"ts": "2026-11-21T00:00:00Z", "device_id": 5}', 4000: "{not json", 7999: '{"rssi": -1'}
            for line_no, text in bad.items():
                lines[line_no - 1] = text
            body = ("\r\n".join(lines) + "\n").encode()
            assert 4096 < len(body) < CAP
            r = client.post("/ingest", content=_chunks(body), headers={"Content-Type": "application/x-ndjson"})
            assert r.status_code == 200, r.text
            got = r.json()
            assert (got["accepted"], got["rejected"]) == (8000 - len(bad), len(bad))
            assert [x["line"] for x in got["rejects"]] == sorted(bad)
            again = client.post("/ingest", content=_chunks(body), headers={"Content-Type": "application/x-ndjson"})
            assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 8000 - len(bad))

            # Over the cap, without Content-Length: 413, and nothing of it was stored.
            huge_rows = [_row(100_000 + i) for i in range(CAP // 150)]
            huge = "\n".join(json.dumps(x) for x in huge_rows).encode()
            assert len(huge) > CAP
            over = client.post("/ingest", content=_chunks(huge), headers={"Content-Type": "application/x-ndjson"})
            assert over.status_code == 413 and "API_MAX_INGEST_BYTES" in over.text
            part = "\n".join(json.dumps(x) for x in huge_rows[:500]).encode()
            assert client.post("/ingest", content=part).json()["accepted"] == 500

            # CSV: a header, CRLF line ends, a quoted field holding a line break, a bad row reported by line.
            csv_lines = ["ts,device_id,sensor_id,folder,network_type,rssi,lat,lon,vendor"]
            csv_lines += [f"2026-11-22T10:00:{i:02d}Z,3C:22:FB:AA:00:{i:02X},s1,lab,ble,-50,55.7,37.6,"
                          for i in range(40)]
            csv_lines[6] = '2026-11-22T10:01:00Z,3C:22:FB:AA:01:00,s1,lab,ble,-50,55.7,37.6,"Acme\nLabs"'
            csv_lines[10] = "2026-11-22T10:02:00Z,3C:22:FB:AA:02:00,s1,lab,ble,-500,55.7,37.6,"
            csv_body = ("\r\n".join(csv_lines) + "\r\n").encode() * 1  # under the spill size: read via a file too
            c = client.post("/ingest", content=csv_body, headers={"Content-Type": "text/csv"})
            assert c.status_code == 200, c.text
            assert (c.json()["accepted"], c.json()["rejected"]) == (39, 1)
            assert c.json()["rejects"][0]["line"] == 12  # line 11 holds the quoted line break
            no_header = client.post("/ingest", content=b"\n\n", headers={"Content-Type": "text/csv"})
            assert no_header.status_code == 422 and "header" in no_header.text
            short = client.post("/ingest", content=b"ts,device_id\n2026-11-22T10:00:00Z,3C:22:FB:AA:00:01\n",
                                headers={"Content-Type": "text/csv"})
            assert short.status_code == 422 and "required field(s) sensor_id" in short.text
            # Every temporary file is gone once its request is answered.
            assert list(spool.glob("santiway-ingest-*")) == []
    finally:
        stop_server(server)
