"""Faults on the server path (issue 15): server down at start, connections dropped, slow answers, restarts."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from santiway_anomaly.storage import Store, StoreError, StoreUnavailableError
from santiway_anomaly.storage.store import STORE_RETRIES
from tests.clickhouse_http.fixture import ClickHouseHttp, free_port
from tests.clickhouse_http.test_server_store import _cli, sightings


def _retries(operation: str) -> float:
    return float(STORE_RETRIES.labels(operation=operation)._value.get())


def test_server_down_at_start_retries_then_one_clear_error(tmp_path: Path) -> None:
    server = ClickHouseHttp(tmp_path / "server", port=free_port())  # never started
    settings = server.settings(tmp_path / "data", clickhouse_connect_tries=2)
    before = _retries("connect")
    started = time.monotonic()
    with pytest.raises(StoreError, match=rf"cannot connect to ClickHouse at 127.0.0.1:{server.port}"):
        Store.open(settings)
    assert time.monotonic() - started >= 2.0  # the one wait between the two tries (SEED.md: 2 s first)
    assert _retries("connect") == before + 1
    # The CLI: exit 3, one sentence on stderr, no traceback.
    result = _cli(server, tmp_path, "detect", "--hours", "1", CLICKHOUSE_CONNECT_TRIES="1")
    assert result.returncode == 3, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot connect to ClickHouse" in errors[0]
    assert "Traceback" not in result.stderr


def test_server_that_comes_up_during_the_connect_retries_is_used(tmp_path: Path) -> None:
    server = ClickHouseHttp(tmp_path / "server", port=free_port())
    starter = threading.Timer(0.5, server.start)
    starter.start()
    try:
        with Store.open(server.settings(tmp_path / "data", clickhouse_connect_tries=4)) as store:
            assert store.scalar("SELECT count() FROM anomaly_ml.anomalies") == 0
    finally:
        starter.join()
        server.stop()


def test_connection_dropped_mid_query_is_retried(ch_server: ClickHouseHttp, tmp_path: Path) -> None:
    with Store.open(ch_server.settings(tmp_path / "data")) as store:
        store.insert_arrow("santi.way_data", sightings(10, datetime(2026, 3, 2, tzinfo=UTC)), dedup_token="b1")
        before = _retries("query")
        ch_server.fault(drop_before=3, match="uniqExact(device_id)")
        assert store.scalar("SELECT uniqExact(device_id) FROM santi.way_data") == 7
        assert _retries("query") > before  # visible in /metrics as anomaly_detection_store_retries_total


def test_connection_dropped_mid_insert_stores_the_batch_once(ch_server: ClickHouseHttp, tmp_path: Path) -> None:
    with Store.open(ch_server.settings(tmp_path / "data")) as store:
        # The server stores the batch, then the connection drops before the answer: the client cannot
        # know, retries, and the dedup token makes the repeat a no-op (raw table and aggregates alike).
        ch_server.fault(drop_after=1, match="INSERT INTO santi.way_data")
        store.insert_arrow("santi.way_data", sightings(50, datetime(2026, 3, 2, tzinfo=UTC)), dedup_token="b2")
        assert store.scalar("SELECT count() FROM santi.way_data") == 50
        assert store.scalar("SELECT sum(event_count) FROM anomaly_ml.hourly_features_v") == 50
        assert ch_server.fault()["drop_after"] == 0  # the fault did fire


def test_slow_answers_time_out_and_end_in_one_sentence(ch_server: ClickHouseHttp, tmp_path: Path) -> None:
    settings = ch_server.settings(tmp_path / "data", clickhouse_send_receive_timeout=1, clickhouse_query_tries=2)
    with Store.open(settings) as store:
        ch_server.fault(delay=4, delay_count=10, match="FROM anomaly_ml.anomalies")
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="did not answer after 2 tries"):
            store.scalar("SELECT count() FROM anomaly_ml.anomalies")
        # Two 1 s time-outs and a 1 s wait (plus clickhouse-connect's own quick re-send), not 2 x 4 s.
        assert time.monotonic() - started < 8
        ch_server.fault(reset=1)
    result = _cli(ch_server, tmp_path, "anomalies", CLICKHOUSE_SEND_RECEIVE_TIMEOUT="1",
                  CLICKHOUSE_QUERY_TRIES="1")
    assert result.returncode == 0, result.stderr
    ch_server.fault(delay=4, delay_count=50, match="anomaly_ml.anomalies")
    result = _cli(ch_server, tmp_path, "anomalies", CLICKHOUSE_SEND_RECEIVE_TIMEOUT="1",
                  CLICKHOUSE_QUERY_TRIES="1")
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")], result.stderr


def test_server_restart_while_the_store_is_open_recovers(ch_server: ClickHouseHttp, tmp_path: Path) -> None:
    with Store.open(ch_server.settings(tmp_path / "data", clickhouse_query_tries=6)) as store:
        store.insert_arrow("santi.way_data", sightings(30, datetime(2026, 3, 2, tzinfo=UTC)), dedup_token="b3")
        ch_server.stop()  # kill -9
        restart = threading.Timer(0.5, ch_server.start)
        restart.start()
        try:
            # The next query meets a dead server, then a starting one, then the restarted one, with the data.
            assert store.scalar("SELECT count() FROM santi.way_data") == 30
        finally:
            restart.join()  # so that the fixture stops the restarted server, whatever happened
        store.insert_arrow("santi.way_data", sightings(30, datetime(2026, 3, 3, tzinfo=UTC)), dedup_token="b4")
        assert store.scalar("SELECT count() FROM santi.way_data") == 60
