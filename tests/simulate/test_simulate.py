"""The simulator: deterministic, valid sightings, truth that matches the data, real hard negatives."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from santiway_anomaly.simulate import rf
from santiway_anomaly.simulate.options import SimOptions
from santiway_anomaly.simulate.run import run

START = date(2026, 11, 2)  # a Monday
MAC_RE = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")
TRUTH_KEYS = {"anomaly_type", "subject", "device_id", "folder", "window_start", "window_end", "scenario", "details"}


def small(**kw: object) -> SimOptions:
    base: dict[str, object] = {"devices": 400, "days": 8, "folders": 8, "seed": 5, "start": START, "anomaly_days": 3}
    base.update(kw)
    return SimOptions(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    run(small(), out, "both")
    return out


@pytest.fixture(scope="module")
def sightings(world_dir: Path) -> pd.DataFrame:
    return pq.read_table(world_dir / "sightings.parquet").to_pandas()


@pytest.fixture(scope="module")
def truth(world_dir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (world_dir / "truth.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def devices(world_dir: Path) -> pd.DataFrame:
    return pd.read_csv(world_dir / "devices.csv", keep_default_na=False)


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    opts = small(devices=150, days=3)
    for name in ("a", "b"):
        run(opts, tmp_path / name)
    run(small(devices=150, days=3, seed=6), tmp_path / "c")
    a, b, c = (pq.read_table(tmp_path / n / "sightings.parquet") for n in "abc")
    assert a.num_rows > 1000
    assert a.equals(b)
    assert (tmp_path / "a" / "truth.jsonl").read_bytes() == (tmp_path / "b" / "truth.jsonl").read_bytes()
    assert not a.equals(c)


def test_columns_types_and_ranges(sightings: pd.DataFrame, world_dir: Path) -> None:
    table = pq.read_table(world_dir / "sightings.parquet")
    assert table.schema.names == ["ts", "device_id", "sensor_id", "folder", "network_type", "rssi", "lat", "lon",
                                  "vendor"]
    assert str(table.schema.field("ts").type) == "timestamp[ms, tz=UTC]"
    assert str(table.schema.field("rssi").type) == "int16"
    df = sightings
    start = pd.Timestamp(datetime(2026, 11, 2, tzinfo=UTC))
    assert df.ts.min() >= start and df.ts.max() < start + pd.Timedelta(days=8)
    assert df.rssi.between(-120, 0).all() and df.rssi.max() <= rf.RSSI_CEILING
    assert set(df.network_type) == {"wifi", "ble"}
    assert df.device_id.str.match(MAC_RE).all()
    # A sensor reports where it is: positions are near Moscow and a fixed sensor barely moves.
    assert df.lat.between(55.6, 55.9).all() and df.lon.between(37.4, 37.8).all()
    fixed = df[df.sensor_id.str.startswith("S-")].groupby("sensor_id")[["lat", "lon"]].std()
    assert (fixed.lat * 111_320 < 3).all()
    # RSSI follows distance: the mobile sensor parks 20-55 m from most folders and hears less, weaker.
    assert df[df.sensor_id.str.startswith("M-")].rssi.median() < df[df.sensor_id.str.startswith("S-")].rssi.median()
    world = json.loads((world_dir / "world.json").read_text())
    assert {f["name"] for f in world["folders"]} == set(df.folder)
    assert world["mobile_sensors"] and world["mobile_sensors"][0]["days"][0]["stops"]


def test_csv_has_the_same_rows_as_parquet(world_dir: Path, sightings: pd.DataFrame) -> None:
    csv = pd.read_csv(world_dir / "sightings.csv", keep_default_na=False)
    assert len(csv) == len(sightings)
    assert csv.ts.iloc[0].endswith("Z")
    first = pd.Timestamp(csv.ts.iloc[0])
    assert first == sightings.ts.iloc[0]
    assert (csv.device_id.values == sightings.device_id.values).all()


def test_randomized_macs_have_the_local_bit_and_rotate(sightings: pd.DataFrame, devices: pd.DataFrame) -> None:
    stable = set(devices.device_id[devices.device_id != ""])
    macs = pd.Series(sightings.device_id.unique())
    local = macs.map(lambda m: int(m[1], 16) & 2 != 0)
    assert set(macs[local].str[1]) <= set("26AE")
    # Every MAC is either a stable device's (real vendor OUI, global) or locally administered.
    assert macs[~local].isin(stable).all()
    assert not macs[local].isin(stable).any()
    n_random_devices = int((devices.randomized == 1).sum())
    assert local.sum() > 2 * n_random_devices > 0  # rotation: many MACs per randomized phone


def test_stable_macs_use_real_vendor_ouis(devices: pd.DataFrame) -> None:
    from netaddr import EUI

    stable = devices[devices.device_id != ""].device_id.head(200)
    for mac in stable:
        org = EUI(mac).oui.registration().org
        assert org == rf.OUI_VENDOR[list(rf.OUI_PREFIX).index(int(mac[:8].replace(":", ""), 16))]


def test_truth_lines_follow_the_contract(truth: list[dict[str, object]]) -> None:
    assert truth
    types = {t["anomaly_type"] for t in truth}
    assert types == {"density_spike", "night_activity", "stationary_surveillance", "ml_behavior"}
    scenarios = {t["scenario"] for t in truth}
    assert {"crowd", "night_intruder", "staff_at_night", "lingering", "returning", "following",
            "behaviour_change"} <= scenarios
    last3 = datetime(2026, 11, 7, tzinfo=UTC)
    for t in truth:
        assert set(t) == TRUTH_KEYS
        start = datetime.fromisoformat(str(t["window_start"]))
        end = datetime.fromisoformat(str(t["window_end"]))
        assert start.tzinfo is not None and start < end
        assert start >= last3, t  # injected only in the last --anomaly-days
        if t["anomaly_type"] == "density_spike":
            assert t["subject"] == f"folder:{t['folder']}" and t["device_id"] == ""
        else:
            assert MAC_RE.match(str(t["subject"])) and t["subject"] == t["device_id"]
        assert isinstance(t["details"], dict)


def test_every_truth_subject_is_in_the_sightings_in_its_window(truth: list[dict[str, object]],
                                                               sightings: pd.DataFrame) -> None:
    df = sightings
    for t in truth:
        start, end = pd.Timestamp(str(t["window_start"])), pd.Timestamp(str(t["window_end"]))
        inside = df[(df.ts >= start) & (df.ts <= end)]
        if t["anomaly_type"] == "density_spike":
            assert (inside.folder == t["folder"]).any()
            continue
        mine = inside[inside.device_id == t["subject"]]
        assert len(mine) > 0, t
        if t["anomaly_type"] == "night_activity":
            assert (mine.ts.dt.hour < 6).all()  # the window is the night sightings span


def test_injected_devices_behave_as_defined(truth: list[dict[str, object]], sightings: pd.DataFrame) -> None:
    df = sightings
    start = pd.Timestamp("2026-11-07", tz="UTC")
    before = set(df[df.ts < start].device_id)
    for t in truth:
        mine = df[df.device_id == t["subject"]]
        if t["scenario"] in ("night_intruder", "lingering", "returning", "following"):
            assert t["subject"] not in before  # never seen before the anomaly days
        if t["scenario"] == "staff_at_night":
            assert t["subject"] in before and not (df[(df.ts < start) & (df.device_id == t["subject"])]
                                                   .ts.dt.hour < 6).any()
        if t["scenario"] == "lingering":
            best = mine.groupby("sensor_id").rssi.agg(["mean", "std"]).sort_values("mean").iloc[-1]
            hours = (mine.ts.max() - mine.ts.min()).total_seconds() / 3600
            assert best["mean"] >= -65 and best["std"] < 6 and hours >= 3
        if t["scenario"] == "returning":
            assert mine.ts.dt.date.nunique() >= 3
        if t["scenario"] == "following":
            mobile = mine[mine.sensor_id.str.startswith("M-")]
            assert mobile.folder.nunique() >= 4
            assert (mobile.ts.max() - mobile.ts.min()) >= pd.Timedelta(hours=2)


def test_crowds_are_well_above_the_folder_baseline(truth: list[dict[str, object]], sightings: pd.DataFrame) -> None:
    df = sightings.assign(hour=sightings.ts.dt.floor("h"))
    counts = df.groupby(["folder", "hour"]).device_id.nunique()
    for t in (t for t in truth if t["anomaly_type"] == "density_spike"):
        start, end = pd.Timestamp(str(t["window_start"])), pd.Timestamp(str(t["window_end"]))
        folder = counts.loc[str(t["folder"])]
        for hour in pd.date_range(start, end - pd.Timedelta(hours=1), freq="h"):
            same_hour = folder[(folder.index.hour == hour.hour) & (folder.index < pd.Timestamp("2026-11-07", tz="UTC"))]
            p95 = float(np.percentile(same_hour.reindex(same_hour.index, fill_value=0), 95)) if len(same_hour) else 0
            assert folder.get(hour, 0) >= 1.5 * max(p95, 5), (t, hour)


def test_hard_negatives_are_present_and_not_in_truth(truth: list[dict[str, object]], sightings: pd.DataFrame,
                                                     devices: pd.DataFrame, world_dir: Path) -> None:
    subjects = {t["subject"] for t in truth}
    world = json.loads((world_dir / "world.json").read_text())
    night = sightings[sightings.ts.dt.hour < 6]
    staff = [d["device_id"] for d in world["hard_negatives"]["night_shift"]]
    assert staff and night.device_id.isin(staff).any()
    assert not subjects & set(staff)
    fixtures = set(devices[devices.role == "fixture"].device_id)
    seen = sightings[sightings.device_id.isin(fixtures)]
    assert seen.ts.dt.hour.nunique() == 24  # on around the clock
    assert not subjects & fixtures
    crew = [c["device_id"] for c in world["hard_negatives"]["crew_phones"]]
    crew_seen = sightings[sightings.device_id.isin(crew) & sightings.sensor_id.str.startswith("M-")]
    assert crew_seen.folder.nunique() >= 4 and not subjects & set(crew)  # rides with the patrol every day
    early = world["hard_negatives"]["early_once"]
    assert early and not subjects & {e["device_id"] for e in early}
    # The morning-rush crowd at the bus stop is heard by the mobile sensor, and none of it is truth.
    stop = sightings[(sightings.folder.str.startswith("bus-stop")) & sightings.sensor_id.str.startswith("M-")]
    assert stop.device_id.map(lambda m: int(m[1], 16) & 2 != 0).sum() > 10


def test_cli_writes_files_and_rejects_bad_options(tmp_path: Path) -> None:
    from santiway_anomaly.cli.main import app

    runner = CliRunner()
    out = tmp_path / "cli"
    res = runner.invoke(app, ["simulate", "--devices", "120", "--days", "2", "--folders", "5", "--seed", "1",
                              "--start", "2026-11-02", "--out", str(out), "--format", "csv", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert (out / "sightings.csv").stat().st_size > 0 and (out / "truth.jsonl").exists()
    assert not (out / "sightings.parquet").exists()
    bad = runner.invoke(app, ["simulate", "--devices", "120", "--timezone", "Mars/Olympus", "--out", str(out)])
    assert bad.exit_code == 2 and "time zone" in bad.output


def test_default_start_ends_the_data_today_and_timezone_shifts_night(tmp_path: Path) -> None:
    opts = SimOptions(devices=100, days=2, folders=4, timezone="Europe/Moscow")
    assert opts.start_date == datetime.now(UTC).date() - timedelta(days=2)
    run(SimOptions(devices=100, days=2, folders=4, seed=2, start=START, timezone="Europe/Moscow",
                   anomalies_per_day=3), tmp_path)
    truth = [json.loads(x) for x in (tmp_path / "truth.jsonl").read_text().splitlines()]
    night = [t for t in truth if t["anomaly_type"] == "night_activity"]
    assert night
    for t in night:  # 00:00-06:00 Moscow time is 21:00-03:00 UTC
        hour = datetime.fromisoformat(t["window_start"]).astimezone(UTC).hour
        assert hour >= 21 or hour < 3


@pytest.mark.slow
def test_scale_smoke_5k_devices_one_day(tmp_path: Path) -> None:
    import time

    t0 = time.perf_counter()
    summary = run(SimOptions(devices=5000, days=1, folders=12, seed=9, start=START), tmp_path)
    seconds = time.perf_counter() - t0
    assert summary.sightings > 1_000_000
    assert seconds < 60
    meta = pq.ParquetFile(tmp_path / "sightings.parquet").metadata
    assert meta.num_rows == summary.sightings and meta.num_row_groups >= 1
