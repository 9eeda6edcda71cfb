"""One detection run, one context: coverage is read from the store once for all four detectors, the density
spike hours are computed once, and sharing them changes nothing that any detector finds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest

from santiway_anomaly import coverage as coverage_module
from santiway_anomaly.analysis.folders import folder_series
from santiway_anomaly.config import Settings
from santiway_anomaly.coverage import CoverageReader, load_coverage
from santiway_anomaly.detectors import context as context_module
from santiway_anomaly.detectors import density as density_module
from santiway_anomaly.detectors.base import Window, build
from santiway_anomaly.detectors.context import DetectionContext
from santiway_anomaly.detectors.density import DensityDetector
from santiway_anomaly.detectors.runner import load_detectors, run_detection
from santiway_anomaly.storage import Store
from santiway_anomaly.storage.queries.known import fixture_history, learn_fixtures
from tests.detectors.conftest import PRINTER, STAFF
from tests.detectors.test_rule_detectors import WINDOW

DETECTORS = ["density", "night", "stationary", "ml"]


@pytest.fixture()
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often each storage function behind coverage and density's counts was called. The calls go on to
    the real store: only counted on the way."""
    counts: Counter[str] = Counter()

    def counted(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return fn(*args, **kwargs)

        return call

    for module, name in ((coverage_module, "sensor_hours"), (coverage_module, "heartbeat_folders"),
                         (density_module, "folder_hours"), (density_module, "folder_hour_counts"),
                         (context_module, "learn_fixtures")):
        monkeypatch.setattr(module, name, counted(name, getattr(module, name)))
    return counts


def _found(anomalies: list[Any]) -> dict[str, tuple[Any, ...]]:
    return {a.anomaly_id: (a.anomaly_type, a.device_id, a.folder, a.window_start, a.window_end, a.severity,
                           a.score) for a in anomalies}


def test_a_run_reads_coverage_once_for_every_detector(world_store: Store, settings: Settings,
                                                      reads: Counter[str]) -> None:
    assert "ml" in load_detectors()
    run = run_detection(world_store, settings, hours=24, until=WINDOW.end, detectors=DETECTORS, save=False)
    assert run.errors == {} and set(run.timings) == set(DETECTORS)
    # Each detector reads coverage over its own ranges (history, returning look-back, fixture learning,
    # local days): the sensors' reports and the heartbeats of all of them in one read each.
    assert reads["sensor_hours"] == 1
    assert reads["heartbeat_folders"] == 1
    # The stationary detector's crowd evidence is the density detector's answer of this run: density's
    # two reads (history: its robust counts only; window), no second density run.
    assert reads["folder_hour_counts"] == 1
    assert reads["folder_hours"] == 1


def test_sharing_the_run_changes_no_finding(world_store: Store, settings: Settings, reads: Counter[str]) -> None:
    load_detectors()
    alone = {}
    for name in DETECTORS:
        alone.update(_found(build(name, settings=settings).detect(world_store, WINDOW)))
    assert reads["sensor_hours"] == len(DETECTORS)  # on its own, each detector reads coverage itself
    together = run_detection(world_store, settings, hours=24, until=WINDOW.end, detectors=DETECTORS, save=False)
    assert {a.anomaly_type for a in together.anomalies} >= {"density_spike", "night_activity",
                                                            "stationary_surveillance"}
    assert _found(together.anomalies) == alone


def test_one_read_gives_each_range_its_own_coverage(world_store: Store, settings: Settings,
                                                    reads: Counter[str]) -> None:
    end = WINDOW.end
    ranges = [(end - timedelta(days=15), end), (end - timedelta(days=15), WINDOW.start),
              (end - timedelta(days=3), end - timedelta(hours=12)),
              (WINDOW.start + timedelta(hours=2), WINDOW.start + timedelta(hours=8))]  # too short for a heartbeat
    reader = CoverageReader(world_store, settings)
    reader.expect(ranges)
    shared = [reader.coverage(a, b) for a, b in ranges]
    assert reads["sensor_hours"] == 1 and reads["heartbeat_folders"] == 1
    for (a, b), got in zip(ranges, shared, strict=True):
        own = load_coverage(world_store, settings, a, b)
        pd.testing.assert_frame_equal(got.share, own.share)
        pd.testing.assert_frame_equal(got.reported, own.reported)
        assert got.heartbeat == own.heartbeat and got.fixed_sensors == own.fixed_sensors
    # The printer is heard in every hour of the office: a heartbeat over days, not over six hours.
    assert "office" in shared[0].heartbeat and "office" in shared[1].heartbeat
    assert shared[3].heartbeat == frozenset()
    # A range nobody announced still gets its own coverage, from a read of its own.
    late = reader.coverage(end - timedelta(days=2), end)
    own = load_coverage(world_store, settings, end - timedelta(days=2), end)
    pd.testing.assert_frame_equal(late.share, own.share)
    assert late.heartbeat == own.heartbeat


def test_the_folder_series_reads_coverage_once_for_all_its_days(world_store: Store, settings: Settings,
                                                               reads: Counter[str]) -> None:
    since, until = WINDOW.start - timedelta(days=2), WINDOW.end  # three one-day chunks
    series = folder_series(world_store, settings, since, until)
    assert reads["sensor_hours"] == 1 and reads["heartbeat_folders"] == 1
    # Each day is still judged as it would be alone, against the days before it.
    alone = []
    start = since
    while start < until:
        chunk = Window(start, start + timedelta(hours=24))
        alone.append(DensityDetector(settings).fit(world_store, chunk).hourly(world_store, chunk))
        start = chunk.end
    expected = pd.concat([p for p in alone if len(p)], ignore_index=True)
    got = {(r["folder"], pd.Timestamp(r["hour"]).tz_convert(None)): (r["unique_devices"], r["score"], r["state"])
           for r in series["data"]}
    want = {(str(r["folder"]), pd.Timestamp(r["hour"]).tz_localize(None)): (int(r["unique_devices"]),
                                                                           round(float(r["score"]), 4),
                                                                           str(r.get("state", "ready")))
            for r in expected.to_dict("records")}
    assert len(got) > 24 and got == want


def test_fixture_verdicts_are_learned_once_per_device_and_run(world_store: Store, settings: Settings,
                                                              reads: Counter[str]) -> None:
    """Night, stationary and ml ask about their own suspects over the same history: a device asked twice is
    learned once, and each answer is the one `learn_fixtures` gives for those devices alone."""
    context = DetectionContext(world_store, settings)
    before = WINDOW.start
    listening = context.coverage(*fixture_history(settings, before)).covered
    first = context.fixtures(before, [PRINTER, STAFF[0]], listening)
    assert reads["learn_fixtures"] == 1
    again = context.fixtures(before, [STAFF[0], PRINTER], listening)  # nothing new: no read
    assert reads["learn_fixtures"] == 1 and again == first
    more = context.fixtures(before, [PRINTER, STAFF[1]], listening)  # only STAFF[1] is read
    assert reads["learn_fixtures"] == 2
    assert set(first) == {PRINTER}
    assert first == learn_fixtures(world_store, settings, before, [PRINTER, STAFF[0]], listening=listening)
    assert more == learn_fixtures(world_store, settings, before, [PRINTER, STAFF[1]], listening=listening)
    assert context.fixtures(before, [], listening) == {}
