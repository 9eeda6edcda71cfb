"""Occupancy estimate (issue 16) on hand-made sightings in the real embedded store."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from pydantic import ValidationError

from santiway_anomaly.config import Settings
from santiway_anomaly.ingest.pipeline import ingest_table
from santiway_anomaly.occupancy import busiest_slot_people, occupancy_hours, occupancy_slots
from santiway_anomaly.storage import Store
from santiway_anomaly.storage.queries.folders import folder_hours
from tests.conftest import own_env

HOUR = datetime(2026, 11, 20, 10, tzinfo=UTC)
PHONE_IES = "0,1,50,3,45,127,221"


def _rows(with_probes: bool = True) -> list[dict[str, object]]:
    """One phone near the sensor rotating its MAC every 5 minutes (same ies), a laptop near all hour,
    and a MAC flood far away (200 MACs, 3 probe fingerprints)."""
    rows: list[dict[str, object]] = []

    def add(ts: datetime, mac: str, rssi: int, ies: str = "", ssid: str = "") -> None:
        row: dict[str, object] = {"ts": ts.isoformat(), "device_id": mac, "sensor_id": "s1", "folder": "lab",
                                  "rssi": rssi, "lat": 49.2, "lon": 16.5}
        if with_probes:
            row.update({"seq": len(rows) % 4096, "ies": ies, "ssid": ssid})
        rows.append(row)

    for slot in range(12):
        t = HOUR + timedelta(minutes=5 * slot)
        add(t + timedelta(seconds=10), f"DA:00:00:00:00:{slot:02X}", -50, PHONE_IES)
        add(t + timedelta(seconds=20), f"DA:00:00:00:00:{slot:02X}", -52, PHONE_IES)
        add(t + timedelta(seconds=30), "3C:22:FB:00:00:01", -55)
    for i in range(200):
        add(HOUR + timedelta(seconds=7 * i + 1), f"AE:00:00:00:{i // 256:02X}:{i % 256:02X}", -90,
            ["0,1", "0,1,50", "0,1,221"][i % 3])
    return rows


def _ingest(store: Store, rows: list[dict[str, object]]) -> None:
    assert ingest_table(store, pa.Table.from_pylist(rows), "test").accepted == len(rows)


def test_a_rotating_phone_counts_once_and_a_far_flood_not_at_all(empty_store: Store, settings: Settings) -> None:
    _ingest(empty_store, _rows())
    hours = occupancy_hours(empty_store, settings, HOUR, HOUR + timedelta(hours=1))
    assert len(hours) == 1
    row = hours.iloc[0]
    assert row["unique_devices"] == 12 + 1 + 200
    assert row["people"] == 2.0  # the phone and the laptop, present every slot
    assert row["people_low"] <= row["people"] <= row["people_high"]
    slots = occupancy_slots(empty_store, settings, HOUR, HOUR + timedelta(hours=1))
    assert len(slots) == 12 and set(slots["people"]) == {2}
    counts = folder_hours(empty_store, HOUR, HOUR + timedelta(hours=1)).iloc[0]
    # the density count: the flood's MACs collapse to its 3 probe fingerprints
    assert counts["fingerprint_peak"] == 4
    assert counts["randomized_peak"] > 40


def test_without_probe_fields_the_density_count_is_unchanged(empty_store: Store, settings: Settings) -> None:
    _ingest(empty_store, _rows(with_probes=False))
    counts = folder_hours(empty_store, HOUR, HOUR + timedelta(hours=1)).iloc[0]
    assert counts["fingerprint_peak"] == counts["randomized_peak"]
    assert counts["robust_devices"] == counts["stable_devices"] + counts["randomized_peak"]
    # every MAC its own fingerprint: the rotating phone counts once per slot all the same
    assert occupancy_hours(empty_store, settings, HOUR, HOUR + timedelta(hours=1)).iloc[0]["people"] == 2.0


def test_cli_exports_csv(store_closed: Settings, tmp_path: Path) -> None:
    env = own_env(tmp_path / "data")
    path = tmp_path / "in.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in _rows()) + "\n")
    cli = [sys.executable, "-m", "santiway_anomaly.cli.main"]
    subprocess.run([*cli, "ingest", str(path)], env=env, check=True, capture_output=True, timeout=300)
    out = subprocess.run([*cli, "occupancy", "--since", "2026-11-20T00:00Z", "--until", "2026-11-21T00:00Z",
                          "--csv"], env=env, check=True, capture_output=True, text=True, timeout=300).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows == [{"hour": "2026-11-20T10:00:00Z", "folder": "lab", "unique_devices": "213", "people": "2.0",
                     "people_low": rows[0]["people_low"], "people_high": rows[0]["people_high"]}]


def test_a_slot_without_sightings_is_missing_not_empty(empty_store: Store, settings: Settings) -> None:
    """The sensor heard only the first half hour: the people there count fully, not halved."""
    half = [r for r in _rows() if str(r["ts"]) < (HOUR + timedelta(minutes=30)).isoformat()]
    _ingest(empty_store, half)
    assert occupancy_hours(empty_store, settings, HOUR, HOUR + timedelta(hours=1)).iloc[0]["people"] == 2.0


def test_phones_sharing_a_fingerprint_count_between_near_and_mid(empty_store: Store, settings: Settings) -> None:
    """Eight phones of one model near the sensor, each rotating its MAC every slot: one fingerprint, eight
    MACs per slot; the estimate is their geometric mean, sqrt(8), above the one merged fingerprint.
    A far flood alone (no one near) holds nobody."""
    rows: list[dict[str, object]] = []
    for slot in range(12):
        for phone in range(8):
            rows.append({"ts": (HOUR + timedelta(minutes=5 * slot, seconds=phone)).isoformat(),
                         "device_id": f"DA:00:00:00:{slot:02X}:{phone:02X}", "sensor_id": "s1", "folder": "lab",
                         "rssi": -50, "lat": 49.2, "lon": 16.5, "seq": 100 * phone + slot, "ies": PHONE_IES,
                         "ssid": ""})
    far_hour = HOUR + timedelta(hours=1)
    rows += [{"ts": (far_hour + timedelta(seconds=11 * i)).isoformat(), "device_id": f"AE:00:00:00:00:{i:02X}",
              "sensor_id": "s1", "folder": "lab", "rssi": -88, "lat": 49.2, "lon": 16.5} for i in range(100)]
    _ingest(empty_store, rows)
    hours = occupancy_hours(empty_store, settings, HOUR, HOUR + timedelta(hours=2))
    crowd, far = hours.iloc[0], hours.iloc[1]
    assert crowd["people"] == round(8 ** 0.5, 2)
    assert crowd["people_low"] <= crowd["people"] <= crowd["people_high"]
    assert far["unique_devices"] == 100 and far["people"] == 0.0


def test_a_mid_cut_closer_than_the_near_cut_is_refused(settings: Settings) -> None:
    with pytest.raises(ValidationError, match="OCCUPANCY_MID_RSSI"):
        Settings(**{**settings.model_dump(), "occupancy_near_rssi": -80, "occupancy_mid_rssi": -65})
    with pytest.raises(ValidationError, match="OCCUPANCY_ROOM_RSSI"):
        Settings(**{**settings.model_dump(), "occupancy_room_rssi": -70})


def _sighting(ts: datetime, mac: str, rssi: int, ies: str) -> dict[str, object]:
    return {"ts": ts.isoformat(), "device_id": mac, "sensor_id": "s1", "folder": "lab", "rssi": rssi,
            "lat": 49.2, "lon": 16.5, "seq": 1, "ies": ies, "ssid": ""}


def test_passers_by_weigh_almost_nothing_and_a_sitter_fully(empty_store: Store, settings: Settings) -> None:
    """One student sits in the room all hour (one probe burst every 5 minutes, a new MAC each time);
    twenty passers-by each send one burst as close as the student's: they are near, but they do not
    stay, so the hour holds about one person, not twenty-one (they still add to the mid-range MACs)."""
    rows = [_sighting(HOUR + timedelta(minutes=5 * slot, seconds=30), f"DA:00:00:00:01:{slot:02X}", -50, PHONE_IES)
            for slot in range(12)]
    rows += [_sighting(HOUR + timedelta(minutes=3 * i, seconds=1), f"DA:00:00:00:02:{i:02X}", -50, f"0,1,{i}")
             for i in range(20)]
    _ingest(empty_store, rows)
    row = occupancy_hours(empty_store, settings, HOUR, HOUR + timedelta(hours=1)).iloc[0]
    assert row["unique_devices"] == 32
    assert 0.9 <= row["people"] < 2


def test_an_hour_with_nobody_within_the_room_holds_nobody(empty_store: Store, settings: Settings) -> None:
    """Students waiting in the corridor all hour: near and staying, but no reading reaches the room cut;
    the next hour one of them is inside."""
    outside = settings.occupancy_room_rssi - 3
    rows = [_sighting(HOUR + timedelta(minutes=5 * slot, seconds=10 * s), f"DA:00:00:00:{s:02X}:{slot:02X}",
                      outside, f"0,1,{s}") for slot in range(24) for s in range(4)]
    rows.append(_sighting(HOUR + timedelta(hours=1, minutes=30), "DA:00:00:00:FF:01", -45, "0,1,0"))
    _ingest(empty_store, rows)
    corridor, inside = occupancy_hours(empty_store, settings, HOUR, HOUR + timedelta(hours=2)).itertuples()
    assert corridor.people == 0.0 and corridor.people_low == 0.0
    assert corridor.people_high > 0  # the room cut moved the margin farther takes them in
    assert inside.people > 2


def _far_fixture(hours: int) -> list[dict[str, object]]:
    """A printer next door heard every slot: the folder was listening, nobody is near."""
    return [_sighting(HOUR + timedelta(minutes=5 * slot, seconds=50), "3C:22:FB:00:00:09", -90, "0,1,50")
            for slot in range(12 * hours)]


def test_a_brief_visit_scores_above_an_empty_hour_and_below_a_full_one(empty_store: Store, settings: Settings) -> None:
    """Presence, not probes: one person in the room the whole first hour, one who comes in for ten minutes of the
    second, nobody in the third. The visit counts for its share of the hour, neither as 0 nor as a person."""
    rows = _far_fixture(3)
    rows += [_sighting(HOUR + timedelta(minutes=5 * slot, seconds=20), f"DA:00:00:00:01:{slot:02X}", -50, PHONE_IES)
             for slot in range(12)]
    visit = HOUR + timedelta(hours=1, minutes=20)
    rows += [_sighting(visit + timedelta(minutes=m), f"DA:00:00:00:02:{m:02X}", -50, PHONE_IES) for m in (1, 9)]
    _ingest(empty_store, rows)
    full, brief, empty = occupancy_hours(empty_store, settings, HOUR, HOUR + timedelta(hours=3)).itertuples()
    assert empty.people == 0.0
    assert 0 < brief.people < full.people
    assert brief.people == round(2 / 12 * full.people, 2)  # heard in 2 of the hour's 12 slots
    assert full.people == 1.0


def test_a_person_lingering_after_a_session_counts_and_students_waiting_before_it_do_not(
        empty_store: Store, settings: Settings) -> None:
    """9:00 students wait in the corridor, near the door but never within the room; 10:00 the session, in the
    room; 11:00 one of them stays a few minutes at the far side of the room, as far as the corridor was.
    Only the one who had been inside counts after the session."""
    door = settings.occupancy_room_rssi - 4
    students = [f"0,1,50,{s}" for s in range(3)]
    rows = _far_fixture(3)
    rows += [_sighting(HOUR + timedelta(minutes=40 + 5 * k, seconds=s), f"DA:00:00:00:{s:02X}:{k:02X}", door, ies)
             for k in range(4) for s, ies in enumerate(students)]
    rows += [_sighting(HOUR + timedelta(hours=1, minutes=5 * k, seconds=s), f"DA:00:00:01:{s:02X}:{k:02X}", -48, ies)
             for k in range(12) for s, ies in enumerate(students)]
    rows += [_sighting(HOUR + timedelta(hours=2, minutes=m), f"DA:00:00:02:00:{m:02X}", door, students[0])
             for m in (2, 8)]
    _ingest(empty_store, rows)
    before, session, after = occupancy_hours(empty_store, settings, HOUR, HOUR + timedelta(hours=3)).itertuples()
    assert before.people == 0.0
    assert 0 < after.people < session.people
    # the carry lasts OCCUPANCY_CARRY_MINUTES: a whole hour later the same person at the door is outside
    late = replace_carry(settings, 0)
    assert occupancy_hours(empty_store, late, HOUR, HOUR + timedelta(hours=3)).iloc[2]["people"] == 0.0


def replace_carry(settings: Settings, minutes: float) -> Settings:
    return Settings(**{**settings.model_dump(), "occupancy_carry_minutes": minutes})


def test_busiest_slot_people_reads_just_the_asked_hours(empty_store: Store, settings: Settings) -> None:
    """The density detector's read: only the asked folder-hours come back, with the same estimate as a
    read of the whole range (the carry from the hour before included)."""
    _ingest(empty_store, _rows())
    later = [{**r, "ts": (datetime.fromisoformat(str(r["ts"])) + timedelta(hours=2)).isoformat()} for r in _rows()]
    _ingest(empty_store, later)
    asked = HOUR + timedelta(hours=2)
    got = busiest_slot_people(empty_store, settings, [("lab", asked)])
    assert list(zip(got["folder"], got["hour"], strict=True)) == [("lab", pd.Timestamp(asked))]
    full = occupancy_slots(empty_store, settings, HOUR, HOUR + timedelta(hours=3))
    in_hour = full[full["slot"].dt.floor("h") == pd.Timestamp(asked)]
    assert got["people"].iloc[0] == in_hour["people"].max() == 2.0
    assert got["people_high"].iloc[0] == in_hour["people_high"].max()


def test_the_nearest_fingerprint_of_each_hour_is_reported_with_its_stay(empty_store: Store, settings: Settings) -> None:
    """The diagnosis behind the all-hours figure (benchmarks/occupancy.py): per hour, how close the nearest
    phone came and how long it stayed. A visitor at -58 dBm for 20 minutes under two MACs, a passer-by
    closer still for one burst, and a far printer all hour."""
    from santiway_anomaly.storage.queries.occupancy import nearest_fingerprints

    rows = _far_fixture(1)
    rows += [_sighting(HOUR + timedelta(minutes=m), f"DA:00:00:00:03:{m:02X}", -58, PHONE_IES) for m in (10, 30)]
    rows.append(_sighting(HOUR + timedelta(minutes=40), "DA:00:00:00:04:01", -58, "0,1,7"))
    _ingest(empty_store, rows)
    near = nearest_fingerprints(empty_store, HOUR, HOUR + timedelta(hours=1), settings.occupancy_near_rssi,
                                60 * settings.occupancy_dwell_minutes)
    assert len(near) == 1
    row = near.iloc[0]
    assert row["top_rssi"] == -58 and row["top_stay_seconds"] == 20 * 60  # the visitor wins the tie by staying
    assert row["top_slots"] == 2 and row["top_macs"] == 2
    assert row["near_fingerprints"] == 2 and row["near_dwelling"] == 1
    assert nearest_fingerprints(empty_store, HOUR + timedelta(hours=1), HOUR + timedelta(hours=2), -65, 300).empty


def test_stable_device_levels_give_each_fixture_its_median_over_enough_days(empty_store: Store,
                                                                          settings: Settings) -> None:
    """The sniffer-drift check behind the all-hours diagnosis (benchmarks/occupancy.py): a stable printer
    heard on two days, its median reading; a stable MAC heard on one day only and randomized MACs left out."""
    from santiway_anomaly.storage.queries.occupancy import stable_device_levels

    rows = [_sighting(HOUR + timedelta(days=d, minutes=m), "3C:22:FB:00:00:09", rssi, "")
            for d, m, rssi in ((0, 0, -90), (0, 5, -80), (1, 0, -84))]
    rows.append(_sighting(HOUR, "3C:22:FB:00:00:0A", -60, ""))
    rows += [_sighting(HOUR + timedelta(days=d), f"DA:00:00:00:05:{d:02X}", -70, PHONE_IES) for d in (0, 1)]
    _ingest(empty_store, rows)
    levels = stable_device_levels(empty_store, HOUR, HOUR + timedelta(days=2), min_days=2)
    assert levels["device_id"].tolist() == ["3C:22:FB:00:00:09"]
    row = levels.iloc[0]
    assert row["median_rssi"] == -84 and row["days"] == 2 and row["sightings"] == 3
    assert stable_device_levels(empty_store, HOUR + timedelta(days=3), HOUR + timedelta(days=4), 1).empty
