"""Fuzzing the readers and POST /ingest (issue 13): Hypothesis properties over every reader, and a
generated corpus of 20,000+ mixed rows of 60+ kinds through the CLI path and the API, asserting no
crash, stored = exactly the good rows, and every bad row reported with its line and a reason."""

from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from santiway_anomaly.api.main import create_app
from santiway_anomaly.api.routes.ingest import parse_batch
from santiway_anomaly.config import Settings
from santiway_anomaly.ingest.pipeline import ingest_file
from santiway_anomaly.ingest.readers import ReadError, _csv, _plain_columns
from santiway_anomaly.ingest.records import Limits, parse_array, parse_ndjson, split_lines
from santiway_anomaly.ingest.validate import LINE, validate
from santiway_anomaly.storage import Store
from tests.conftest import SharedStore
from tests.ingest.corpus import FIELDS, HEADER, KINDS, build

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40),
                         st.sampled_from(["now", "2026-10-01T00:00:00Z", "-60", "3c:22:fb:00:00:01", "\ud800"]),
                         st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                              max_size=2))
RECORDS = st.lists(st.dictionaries(st.sampled_from([*FIELDS, "x"]), FIELD_VALUES), max_size=20)


def _accounted(n_items: int, records: list[object], rejects: list[object]) -> None:
    assert len(records) + len(rejects) == n_items


@FAST
@given(st.lists(st.binary(max_size=60) | st.text(max_size=60).map(str.encode), max_size=30))
def test_ndjson_lines_never_crash(lines: list[bytes]) -> None:
    lines = [line.replace(b"\n", b" ") for line in lines]
    records, kept, rejects = parse_ndjson(lines, 1, Limits())
    assert len(records) == len(kept)
    assert all(r.reason and 1 <= r.line <= len(lines) for r in rejects)
    # every line with content is a record or a reject (a byte-order mark opening line 1 is not content)
    content = [line.removeprefix(b"\xef\xbb\xbf") if n == 0 else line for n, line in enumerate(lines)]
    assert len(records) + len(rejects) == sum(1 for line in content if line.strip())


@FAST
@given(st.lists(JSON, max_size=20))
def test_json_arrays_never_crash(items: list[object]) -> None:
    records, _, rejects = parse_array(items, Limits())
    _accounted(len(items), records, rejects)
    assert all(r.reason for r in rejects)


@FAST
@given(RECORDS)
def test_records_validate_without_crash(items: list[dict[str, object]]) -> None:
    body = "\n".join(json.dumps(i) for i in items).encode()
    records, lines, rejects = parse_batch(body, "application/x-ndjson") if body.strip() else ([], [], [])
    if records:
        from santiway_anomaly.ingest.records import records_table

        table = records_table(records, lines)
        stored, more = validate(table)
        assert stored.num_rows + len(more) == len(records)
        assert all(r.reason for r in more)


@FAST
@given(st.binary(max_size=400) | st.text(alphabet=string.printable + "\u2028\u0085\"'", max_size=400).map(str.encode))
def test_csv_never_crashes(tail: bytes) -> None:
    import io

    try:
        for batch in _csv(io.BytesIO(HEADER.encode() + b"\n" + tail), 1000, Limits()):
            assert all(r.reason and r.line >= 2 for r in batch.rejects)
            validate(batch.table)
    except ReadError:
        pass


ARROW_COLUMNS = st.sampled_from([
    pa.array(["a", None, "3c:22:fb:00:00:01"]), pa.array([b"\xff", b"ok", None], type=pa.binary()),
    pa.array([1, -60, None], type=pa.int64()), pa.array([2**64 - 1, 0, 5], type=pa.uint64()),
    pa.array([[1], None, [2, 3]]), pa.array([{"a": 1}, None, {"a": 2}]), pa.array([1.5, float("nan"), None]),
    pa.array([True, False, None]), pa.array([0, 1, 2], type=pa.timestamp("s")),
    pa.array(["x", "y", "x"]).dictionary_encode(), pa.array([1, 2, 3], type=pa.date32()),
])


@FAST
@given(st.dictionaries(st.sampled_from(FIELDS), ARROW_COLUMNS, min_size=1))
def test_parquet_shapes_never_crash(columns: dict[str, pa.Array]) -> None:
    table = pa.table({**columns, LINE: pa.array([1, 2, 3], type=pa.int64())})
    plain, rejects = _plain_columns(table)
    stored, more = validate(plain)
    assert stored.num_rows + len(more) + len(rejects) == 3


@pytest.fixture(scope="module")
def corpus() -> object:
    return build(21_000)


def _stored_sensors(store: Store) -> list[str]:
    return [str(s) for (s,) in store.query_rows("SELECT sensor_id FROM santi.way_data")]


def test_corpus_has_enough_rows_and_kinds(corpus: object) -> None:
    assert len(KINDS) + 1 >= 50
    assert corpus.ndjson.count(b"\n") >= 20_000  # type: ignore[attr-defined]


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_corpus_through_the_cli_path(empty_store: Store, settings: Settings, tmp_path: Path, corpus: object,
                                     fmt: str) -> None:
    path = tmp_path / f"corpus.{fmt}"
    path.write_bytes(getattr(corpus, fmt))
    report = ingest_file(empty_store, path, settings)
    good = corpus.good_json if fmt == "ndjson" else corpus.good_csv  # type: ignore[attr-defined]
    bad = corpus.bad_json_lines if fmt == "ndjson" else corpus.bad_csv_lines  # type: ignore[attr-defined]
    sensors = _stored_sensors(empty_store)
    assert len(sensors) == len(set(sensors)), "a sighting stored twice"
    assert set(sensors) == good
    rejected = empty_store.query_rows(
        "SELECT line, reason FROM anomaly_ml.ingest_rejects WHERE source = {s:String}", {"s": str(path.resolve())})
    assert {int(line) for line, _ in rejected} == bad
    assert all(reason for _, reason in rejected)
    assert report.accepted == len(good) and report.rejected == len(bad)
    assert report.duplicates == corpus.duplicates  # type: ignore[attr-defined]


def test_corpus_through_post_ingest(empty_store: Store, shared_store: SharedStore, corpus: object) -> None:
    shared_store.close()  # the app opens the same directory (one chDB path per process)
    app_settings = shared_store.settings.model_copy(update={"valid_api_keys": []})
    lines = split_lines(corpus.ndjson)  # type: ignore[attr-defined]
    bad: set[int] = set()
    with TestClient(create_app(app_settings)) as client:
        for start in range(0, len(lines), 1000):  # a body's answer lists up to 1000 rejects
            chunk = lines[start:start + 1000]
            r = client.post("/ingest", content=b"\n".join(chunk), headers={"Content-Type": "application/x-ndjson"})
            assert r.status_code == 200, r.text[:500]
            body = r.json()
            assert not body["rejects_truncated"]
            bad |= {start + rej["line"] for rej in body["rejects"]}
            assert all(rej["reason"] for rej in body["rejects"])
        store = client.app.state.runner.store  # type: ignore[attr-defined]
        sensors = _stored_sensors(store)
    assert len(sensors) == len(set(sensors))
    assert set(sensors) == corpus.good_json  # type: ignore[attr-defined]
    assert bad == corpus.bad_json_lines  # type: ignore[attr-defined]


def test_rejects_are_in_line_order_and_numbers_are_exact() -> None:
    lines = [b'{"a": 1}', b"", b"oops", b"\xff", b"[1]"]
    records, kept, rejects = parse_ndjson(lines, 1, Limits())
    assert kept == [1]  # an object: whether it is a sighting is for `validate` to say
    assert [r.line for r in rejects] == [3, 4, 5]
    assert np.all(np.diff([r.line for r in rejects]) > 0)
