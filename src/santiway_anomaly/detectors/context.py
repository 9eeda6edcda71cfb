"""What the detectors of one detection run share, so that each piece is computed once per run.

The runner (`run_detection`) makes one `DetectionContext` per run and hands it to every detector it runs
(`Detector.using`); a detector run on its own makes one of its own in `fit`. Nothing is kept between
runs: the data may have changed.

- Coverage (coverage.py): every detector reads it, each over its own range (its history, the returning
  look-back, fixture learning). The detectors announce their ranges before the run starts
  (`Detector.coverage_ranges`), and the sensors' reports and heartbeats of all of them are read from the
  store once (`CoverageReader`).
- The density detector's spike hours of the window: the stationary detector's crowd evidence is the
  density detector's own answer, never a second density run.
- The sensors' levels (calibration.py): each sensor's RSSI offset, learned once per run over its long memory
  before the window (CALIB_HISTORY_DAYS), for every detector that compares a reading with a fixed dBm cut.
- Fixture verdicts (storage/queries/known.py `learn_fixtures`): night, stationary and ml each ask about their
  own suspects over the same history; a device's verdict depends on its own hours only, so each device is
  learned once per run and the answer shared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import pandas as pd

from santiway_anomaly.calibration import Calibration, load_calibration
from santiway_anomaly.config import Settings
from santiway_anomaly.coverage import Coverage, CoverageReader, Span
from santiway_anomaly.detectors.util import floor_hour
from santiway_anomaly.storage.queries.known import learn_fixtures
from santiway_anomaly.storage.store import Store

SpikeHours = set[tuple[str, int]]  # (folder, UTC hour start in epoch seconds)


class DetectionContext:
    """One detection run's shared reads and intermediate results (see the module's docstring)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._coverage = CoverageReader(store, settings)
        self._spikes: dict[Span, SpikeHours] = {}
        self._calibration: dict[datetime, Calibration] = {}
        # (before, id of `listening`) -> (that listening frame, devices asked, their fixture verdicts)
        self._fixtures: dict[tuple[datetime, int], tuple[pd.DataFrame, set[str], dict[str, dict[str, float]]]] = {}

    def serves(self, store: Store) -> bool:
        """True when this context reads `store` (a detector given another store makes its own context)."""
        return store is self.store

    def expect_coverage(self, ranges: Iterable[Span]) -> None:
        """Announce coverage ranges that will be asked for: they are read from the store together."""
        self._coverage.expect(ranges)

    def coverage(self, start: datetime, end: datetime) -> Coverage:
        """The coverage of [start, end) (hour-aligned), read once per run."""
        return self._coverage.coverage(start, end)

    def calibration(self, window_start: datetime) -> Calibration:
        """The sensors' levels learned over the CALIB_HISTORY_DAYS before a window starting at `window_start`,
        read once per run."""
        end = floor_hour(window_start)
        if end not in self._calibration:
            self._calibration[end] = load_calibration(self.store, self.settings, end)
        return self._calibration[end]

    def spike_hours(self, start: datetime, end: datetime) -> SpikeHours | None:
        """The density detector's spike hours of the window [start, end), when it ran over it in this run."""
        return self._spikes.get((start, end))

    def remember_spike_hours(self, start: datetime, end: datetime, spikes: SpikeHours) -> None:
        self._spikes[(start, end)] = spikes

    def fixtures(self, before: datetime, device_ids: Sequence[str],
                 listening: pd.DataFrame) -> dict[str, dict[str, float]]:
        """`learn_fixtures(store, settings, before, device_ids, listening=listening)`, each device learned once
        per run: the devices asked before (by any detector, same `before` and `listening`) are answered from
        the run's earlier reads."""
        key = (before, id(listening))
        if key not in self._fixtures:
            self._fixtures[key] = (listening, set(), {})  # the frame is kept: its id stays its own
        _, asked, found = self._fixtures[key]
        new = sorted(set(device_ids) - asked)
        if new:
            found.update(learn_fixtures(self.store, self.settings, before, new, listening=listening))
            asked.update(new)
        return {d: dict(found[d]) for d in dict.fromkeys(device_ids) if d in found}
