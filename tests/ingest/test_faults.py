"""A full disk and a read-only store, for real (a small tmpfs): the CLI exits 3 with one sentence,
POST /ingest answers 503 with Retry-After, /health says why, and raw rows and aggregates agree.

Needs permission to mount a tmpfs (root in a container with CAP_SYS_ADMIN); skipped otherwise.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from santiway_anomaly.config import Settings, load_settings
from santiway_anomaly.ingest.pipeline import ingest_table
from santiway_anomaly.storage import Store, StoreWriteError
from santiway_anomaly.storage.aggregates import check_agreement, rebuild_days
from tests.api.conftest import start_server, stop_server
from tests.ingest.helpers import random_sightings

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "santiway_anomaly.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=300)


_AGREE = """
import sys
from santiway_anomaly.config import load_settings
from santiway_anomaly.storage.aggregates import check_agreement
from santiway_anomaly.storage.store import Store
with Store.open(load_settings(data_dir=sys.argv[1], _env_file=None)) as store:
    raw = int(store.scalar("SELECT count() FROM santi.way_data"))
    report = check_agreement(store)  # every aggregate, day by day
    agg = int(store.scalar("SELECT sum(event_count) FROM anomaly_ml.hourly_features_v") or 0) if report.agree else -1
print(raw, agg)
"""


def _agree(data_dir: Path) -> tuple[int, int]:
    # In a child process: this process may already hold another embedded store (one chDB path per process).
    done = subprocess.run([sys.executable, "-c", _AGREE, str(data_dir)], capture_output=True, text=True,
                          timeout=300, check=True)
    raw, agg = done.stdout.split()[-2:]
    return int(raw), int(agg)


@pytest.mark.embedded_only  # a full or read-only embedded data directory
def test_full_disk_and_read_only_store_exit_3(tiny_disk: Path, tmp_path: Path) -> None:
    data = tiny_disk / "data"
    small, big = tmp_path / "small.parquet", tmp_path / "big.parquet"
    pq.write_table(pa.Table.from_pandas(random_sightings(2000, seed=1), preserve_index=False), small)
    pq.write_table(pa.Table.from_pandas(random_sightings(400_000, seed=2, devices=20_000, days=3),
                                        preserve_index=False), big)
    assert _cli(data, "ingest", "--no-progress", str(small)).returncode == 0
    full = _cli(data, "ingest", "--no-progress", str(big))
    assert full.returncode == 3, full.stderr
    errors = [line for line in full.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "disk is full" in errors[0]
    assert "Traceback" not in full.stderr
    raw, agg = _agree(data)
    assert raw == agg >= 2000  # what was stored is in the aggregates too

    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    read_only = _cli(data, "ingest", "--no-progress", str(small))
    assert read_only.returncode == 3, read_only.stderr
    assert "Traceback" not in read_only.stderr


@pytest.mark.embedded_only  # a full or read-only embedded data directory
def test_full_disk_during_post_ingest_is_503_with_retry_after(tiny_disk: Path) -> None:
    data = tiny_disk / "data"
    data.mkdir()
    server = start_server(data, None, {"VALID_API_KEYS": "fault-key-1234567890"})  # type: ignore[arg-type]
    rows = random_sightings(150_000, seed=3, devices=20_000, days=3)
    body = rows.astype({"ts": str}).to_json(orient="records").encode()
    try:
        with server.client("fault-key-1234567890") as client:
            r = client.post("/ingest", content=body, headers={"Content-Type": "application/json"})
            assert r.status_code == 503, r.text
            assert "disk is full" in r.json()["detail"] and int(r.headers["Retry-After"]) > 0
            health = client.get("/health").json()  # same keep-alive connection: still usable
            assert health["status"] == "degraded" and "disk is full" in health["store"]["write_error"]
    finally:
        stop_server(server)
    raw, agg = _agree(data)
    assert raw == agg


@pytest.mark.embedded_only  # a full embedded data directory
def test_aggregate_repair_on_a_full_disk_gives_up_and_succeeds_once_space_is_freed(tiny_disk: Path,
                                                                                  store_closed: Settings) -> None:
    """On a full disk ClickHouse holds the repair's deletion back for ever: the repair gives up after
    AGGREGATE_REPAIR_TIMEOUT_S with one sentence, and works once space is freed."""
    settings = load_settings(data_dir=tiny_disk / "data", _env_file=None).model_copy(
        update={"aggregate_repair_timeout_s": 3.0})
    rows = random_sightings(3000, seed=4, days=2)
    table = pa.Table.from_pandas(rows.astype({"ts": str}).astype(str), preserve_index=False)
    with Store.open(settings) as store:
        ingest_table(store, table, "before-full", settings)
        days = sorted(check_agreement(store).raw)
        filler = tiny_disk / "filler"
        with open(filler, "wb") as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        with pytest.raises(StoreWriteError, match="could not be rebuilt"):
            rebuild_days(store, days)
        filler.unlink()
        assert rebuild_days(store, days) == len(days)
        report = check_agreement(store)
        assert report.agree and sum(report.raw.values()) == len(rows)
