"""The second damage corpus (tests/ingest/damage.py) through the real CLI and a real POST /ingest: no crash,
no good row lost (each stored with the values it was meant to have), no bad row stored, every bad row
rejected with its line and a reason, repeats stored once; and each damaged file refused whole with one
sentence (CLI exit 2, HTTP 422), storing nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from santiway_anomaly.config import Settings, load_settings
from santiway_anomaly.storage import Store
from tests.api.conftest import start_server, stop_server
from tests.ingest.damage import FILE_CASES, KINDS, DamageCorpus, Expected, Rendered, build

pytestmark = [pytest.mark.slow, pytest.mark.embedded_only]  # subprocesses own embedded stores

ROWS = 21_000
KEY = "damage-corpus-key-4e2a91"


@pytest.fixture(scope="module")
def corpus() -> DamageCorpus:
    return build(ROWS, prefix="d")


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "santiway_anomaly", *args], env=env, capture_output=True, text=True,
                          timeout=600)


def _stored(store: Store) -> dict[str, Expected]:
    rows = store.query_rows("SELECT toString(sensor_id), toUnixTimestamp64Milli(ts), device_id, rssi, lat, lon "
                            "FROM santi.way_data")
    out: dict[str, Expected] = {}
    for sensor, ms, device, rssi, lat, lon in rows:
        assert sensor not in out, f"{sensor} stored twice"
        out[sensor] = (int(ms), str(device), int(rssi), round(float(lat), 6), round(float(lon), 6))
    return out


def _rejects(store: Store, source: str) -> dict[int, str]:
    rows = store.query_rows("SELECT line, reason FROM anomaly_ml.ingest_rejects WHERE source = {s:String}",
                            {"s": source})
    return {int(line): str(reason) for line, reason in rows}


def _check(rendered: Rendered, stored: dict[str, Expected], rejects: dict[int, str], what: str) -> None:
    want = {k: (v[0], v[1], v[2], round(v[3], 6), round(v[4], 6)) for k, v in rendered.good.items()}
    lost = sorted(set(want) - set(stored))
    extra = sorted(set(stored) - set(want))
    assert not lost, f"{what}: {len(lost)} good rows lost, e.g. {lost[:5]}"
    assert not extra, f"{what}: {len(extra)} bad rows stored, e.g. {extra[:5]}"
    wrong = [k for k in want if stored[k] != want[k]]
    assert not wrong, f"{what}: stored with other values: {[(k, stored[k], want[k]) for k in wrong[:3]]}"
    assert set(rejects) == rendered.bad_lines, (
        f"{what}: unreported {sorted(rendered.bad_lines - set(rejects))[:5]}, "
        f"rejected good {sorted(set(rejects) - rendered.bad_lines)[:5]}")
    assert all(reason.strip() for reason in rejects.values())


def test_corpus_size_and_kinds(corpus: DamageCorpus) -> None:
    assert corpus.kinds >= 70 and len(KINDS) >= 70
    assert corpus.ndjson.data.count(b"\n") >= 20_000
    assert len(corpus.ndjson.good) > 7500 and len(corpus.ndjson.bad_lines) > 12_000


def test_damage_corpus_through_the_cli(store_closed: Settings, tmp_path: Path, corpus: DamageCorpus) -> None:
    data = tmp_path / "data"
    paths = {}
    for fmt in ("ndjson", "csv"):
        paths[fmt] = tmp_path / f"damage.{fmt}"
        paths[fmt].write_bytes(getattr(corpus, fmt).data)
    # Two stores: the two renderings hold the same sightings, and a store keeps each sighting once.
    for fmt, path in paths.items():
        done = _cli(data / fmt, "ingest", "--no-progress", "--json", str(path))
        assert done.returncode == 1, done.stderr[-2000:]  # 1 = some rows rejected
        assert "Traceback" not in done.stderr
        report = json.loads(done.stdout)
        rendered: Rendered = getattr(corpus, fmt)
        assert (report["accepted"], report["rejected"]) == (len(rendered.good), len(rendered.bad_lines))
        assert report["duplicates"] == rendered.duplicates
        with Store.open(load_settings(data_dir=data / fmt, _env_file=None)) as store:
            _check(rendered, _stored(store), _rejects(store, str(path.resolve())), f"CLI {fmt}")


def test_damaged_files_are_refused_whole_by_the_cli(store_closed: Settings, tmp_path: Path) -> None:
    data = tmp_path / "data"
    for name, fmt, content, words in FILE_CASES:
        path = tmp_path / f"{name.replace(' ', '-')}.{fmt}"
        path.write_bytes(content)
        done = _cli(data, "ingest", "--no-progress", str(path))
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert done.returncode == 2, (name, done.returncode, done.stderr[-1000:])
        assert len(errors) == 1 and words in errors[0], (name, done.stderr[-1000:])
        assert "Traceback" not in done.stderr
    with Store.open(load_settings(data_dir=data, _env_file=None)) as store:
        assert store.scalar("SELECT count() FROM santi.way_data") == 0


def test_damage_corpus_through_post_ingest(store_closed: Settings, tmp_path: Path, corpus: DamageCorpus) -> None:
    data = tmp_path / "api"
    data.mkdir()
    env = {"VALID_API_KEYS": KEY, "API_MAX_INGEST_BYTES": str(64 * 1024 * 1024), "DETECT_INTERVAL": "0",
           "RATE_LIMIT_DEFAULT": "10000/minute"}
    server = start_server(data, None, env)  # type: ignore[arg-type] # no seeded world needed
    sources: dict[str, str] = {}
    try:
        with server.client(KEY) as client:
            for name, fmt, content, words in FILE_CASES:
                kind = "text/csv" if fmt == "csv" else "application/x-ndjson"
                r = client.post("/ingest", content=content, headers={"Content-Type": kind})
                assert r.status_code == 422, (name, r.status_code, r.text[:300])
                assert words in r.text, (name, r.text[:300])
            for fmt, kind in (("ndjson", "application/x-ndjson"), ("csv", "text/csv")):
                rendered: Rendered = getattr(corpus, fmt)
                # The NDJSON rows under other ids: both bodies go to one store, which keeps a sighting once.
                body = (rendered.data if fmt == "ndjson"
                        else rendered.data.replace(b",d-", b",c-").replace(b',"d-', b',"c-'))
                r = client.post("/ingest", content=body, headers={"Content-Type": kind})
                assert r.status_code == 200, r.text[:500]
                answer = r.json()
                assert (answer["accepted"], answer["rejected"]) == (len(rendered.good), len(rendered.bad_lines))
                assert answer["duplicates"] == rendered.duplicates
                assert all(rej["reason"] for rej in answer["rejects"])
                sources[fmt] = answer["source"]
    finally:
        stop_server(server)
    with Store.open(load_settings(data_dir=data, _env_file=None)) as store:
        stored = _stored(store)
        for fmt in ("ndjson", "csv"):
            rendered = getattr(corpus, fmt)
            prefix = "d-" if fmt == "ndjson" else "c-"
            mine = {k.replace("c-", "d-", 1): v for k, v in stored.items() if k.startswith(prefix)}
            _check(rendered, mine, _rejects(store, sources[fmt]), f"POST /ingest {fmt}")
        assert not [k for k in stored if not k.startswith(("d-", "c-"))]  # nothing of the refused files
