"""World families: deterministic for a seed, valid sightings, truth only in the anomaly days."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from santiway_anomaly.ingest.validate import validate
from santiway_anomaly.simulate.families import ANOMALY_DAYS, FAMILIES, generate

SCALE = 0.2


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp(request.param)
    generate(request.param, 11, out, SCALE)
    return request.param, out


def _truth(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "truth.jsonl").read_text(encoding="utf-8").splitlines() if line]


def test_same_seed_same_world(world: tuple[str, Path], tmp_path: Path) -> None:
    family, out = world
    generate(family, 11, tmp_path, SCALE)
    assert pq.read_table(tmp_path / "sightings.parquet").equals(pq.read_table(out / "sightings.parquet"))
    assert (tmp_path / "truth.jsonl").read_text() == (out / "truth.jsonl").read_text()


def test_ingest_accepts_every_row(world: tuple[str, Path]) -> None:
    _, out = world
    table = pq.read_table(out / "sightings.parquet")
    stored, rejects = validate(table)
    assert table.num_rows > 0
    assert rejects == []
    assert stored.num_rows == table.num_rows
    who = pq.read_table(out / "devices.parquet")  # every MAC has its role, for reading false alarms
    assert set(who.column("device_id").to_pylist()) == set(table.column("device_id").unique().to_pylist())


def test_truth_lies_in_the_anomaly_days(world: tuple[str, Path]) -> None:
    family, out = world
    info = json.loads((out / "world.json").read_text(encoding="utf-8"))
    truth = _truth(out)
    types = {t["anomaly_type"] for t in truth}
    assert {"density_spike", "night_activity", "stationary_surveillance"} <= types
    if FAMILIES[family].followers:
        assert any(t["scenario"] == "following" for t in truth)
    start, end = datetime.fromisoformat(info["anomaly_start"]), datetime.fromisoformat(info["end"])
    for t in truth:
        assert start <= datetime.fromisoformat(str(t["window_start"])) < datetime.fromisoformat(str(t["window_end"]))
        assert datetime.fromisoformat(str(t["window_end"])) <= end
    assert len(info["anomaly_days"]) == ANOMALY_DAYS
    assert len(info["clean_days"]) >= 1 and info["clean_days"][-1] < info["anomaly_days"][0]
    assert info["local_days"].index(info["clean_days"][0]) >= info["warmup_days"] >= 7
    devices = set(pq.read_table(out / "sightings.parquet", columns=["device_id"]).column(0).to_pylist())
    assert all(t["device_id"] in devices for t in truth if t["device_id"])
    assert {h["kind"] for h in info["hard_negatives"]} == {"fake_crowd", "early_employee", "weak_fixture"}


def test_another_seed_another_world(tmp_path: Path) -> None:
    a, b = generate("small_site", 1, tmp_path / "a", SCALE), generate("small_site", 2, tmp_path / "b", SCALE)
    assert (a.sightings, a.macs) != (b.sightings, b.macs)


def test_large_world_is_fast(tmp_path: Path) -> None:
    """5,000+ devices x 21 days well under a minute (issue 11, item 7)."""
    started = time.perf_counter()
    info = generate("large_site", 3, tmp_path, 1.0)
    assert info.devices >= 5000 and len(info.folders) >= 20 and len(info.local_days) >= 21
    assert time.perf_counter() - started < 45


def test_unknown_family_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown family"):
        generate("moon_base", 1, tmp_path)
