"""World families: deterministic for a seed, valid sightings, truth only in the anomaly days."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from santiway_anomaly.ingest.validate import validate
from santiway_anomaly.simulate.families import ANOMALY_DAYS, FAMILIES, generate
from santiway_anomaly.simulate.families import spec as family_spec

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


def test_devices_that_changed_leave_every_other_sighting_as_it_was(tmp_path: Path) -> None:
    """The ml_behavior truth: regular stable staff devices changed in the anomaly days only, one kind
    each; every other MAC's sightings are those of the same world without changes."""
    generate("sessions", 7, tmp_path / "with", 1.0)
    truth = [t for t in _truth(tmp_path / "with") if t["anomaly_type"] == "ml_behavior"]
    assert len(truth) == FAMILIES["sessions"].changed
    kinds = {str(t["details"]["kind"]) for t in truth}  # type: ignore[index]
    assert len(kinds) >= 4
    info = json.loads((tmp_path / "with" / "world.json").read_text(encoding="utf-8"))
    start = datetime.fromisoformat(info["anomaly_start"])
    assert all(datetime.fromisoformat(str(t["window_start"])) >= start for t in truth)
    roles = pq.read_table(tmp_path / "with" / "devices.parquet").to_pandas().set_index("device_id")
    assert all(roles.loc[t["device_id"], ["role", "mac_mode"]].tolist() == ["staff", "stable"] for t in truth)
    original = FAMILIES["sessions"]
    try:
        family_spec.FAMILIES["sessions"] = dataclasses.replace(original, changed=0)
        generate("sessions", 7, tmp_path / "without", 1.0)
    finally:
        family_spec.FAMILIES["sessions"] = original
    changed = {t["device_id"] for t in truth}
    a = pq.read_table(tmp_path / "with" / "sightings.parquet").to_pandas()
    b = pq.read_table(tmp_path / "without" / "sightings.parquet").to_pandas()
    assert not (a[a.device_id.isin(changed)].reset_index(drop=True)
                .equals(b[b.device_id.isin(changed)].reset_index(drop=True)))
    assert (a[~a.device_id.isin(changed)].reset_index(drop=True)
            .equals(b[~b.device_id.isin(changed)].reset_index(drop=True)))


def test_weak_sensors_read_the_same_world_weaker(tmp_path: Path) -> None:
    """A sensor gain shifts each sensor's readings by its own offset and changes nothing else: the same
    seed without the gain gives the same devices and presences, heard stronger."""
    original = FAMILIES["weak_sensors"]
    lo, hi = original.sensor_gain_db
    generate("weak_sensors", 3, tmp_path / "weak", SCALE)
    try:
        family_spec.FAMILIES["weak_sensors"] = dataclasses.replace(original, sensor_gain_db=(0.0, 0.0))
        generate("weak_sensors", 3, tmp_path / "plain", SCALE)
    finally:
        family_spec.FAMILIES["weak_sensors"] = original
    weak = pq.read_table(tmp_path / "weak" / "sightings.parquet").to_pandas()
    plain = pq.read_table(tmp_path / "plain" / "sightings.parquet").to_pandas()
    shift = plain.groupby("sensor_id")["rssi"].median() - weak.groupby("sensor_id")["rssi"].median()
    # every sensor hears weaker, by about its offset (the floor drops the weakest readings, so the median
    # of what is left moves a little less than the gain)
    assert shift.min() >= -hi - 4 and shift.max() <= -lo + 1, shift
    assert len(weak) < len(plain)  # readings pushed under the scanner's floor are lost


def test_every_visitor_is_a_known_face_with_a_visit_in_the_warm_up() -> None:
    """A visitor first seen in the last days would be, by definition, a returning stranger the truth
    does not list (patrols-7501): each visitor visits at least once in the warm-up."""
    import numpy as np

    from santiway_anomaly.simulate.families import life as lf
    from santiway_anomaly.simulate.families.layout import Devices, Presences, make_layout

    spec = FAMILIES["patrols"]
    rng = np.random.default_rng(7501)
    layout = make_layout(spec, 7501, 1.0, rng)
    devs, pres, extra, life = Devices(), Presences(), Presences(), lf.Life()
    lf.visitors(layout, devs, pres, life, 400, rng)
    assert life.late_visitors  # some visitors' random days all fall after the warm-up
    lf.first_visits(layout, extra, life, np.random.default_rng(1))
    warm_end = layout.day_start(spec.warmup_days)
    for p in (pres, extra):
        arrays = p.arrays()
        early = set(arrays["dev"][arrays["start"] < warm_end].tolist())
        if p is pres:
            assert {d for d, _ in life.late_visitors}.isdisjoint(early)
        else:
            assert early == {d for d, _ in life.late_visitors}
            assert all(layout.weekday(int((s - layout.day_start(0)) // 86400)) < 5 for s in arrays["start"])
