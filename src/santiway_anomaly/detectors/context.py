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
- The sensors' levels (calibration.py): each sensor's RSSI offset, learned once per run over the history
  before the window (DETECT_HISTORY_DAYS), for every detector that compares a reading with a fixed dBm cut.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from santiway_anomaly.calibration import Calibration, load_calibration
from santiway_anomaly.config import Settings
from santiway_anomaly.coverage import Coverage, CoverageReader, Span
from santiway_anomaly.detectors.util import floor_hour
from santiway_anomaly.storage.store import Store

SpikeHours = set[tuple[str, int]]  # (folder, UTC hour start in epoch seconds)


class DetectionContext:
    """One detection run's shared reads and intermediate results (see the module's docstring)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._coverage = CoverageReader(store, settings)
        self._spikes: dict[Span, SpikeHours] = {}
        self._calibration: dict[Span, Calibration] = {}

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
        """The sensors' levels learned over the DETECT_HISTORY_DAYS before a window starting at `window_start`
        (the detectors' own history), read once per run."""
        end = floor_hour(window_start)
        span = (end - timedelta(days=self.settings.detect_history_days), end)
        if span not in self._calibration:
            self._calibration[span] = load_calibration(self.store, self.settings, *span)
        return self._calibration[span]

    def spike_hours(self, start: datetime, end: datetime) -> SpikeHours | None:
        """The density detector's spike hours of the window [start, end), when it ran over it in this run."""
        return self._spikes.get((start, end))

    def remember_spike_hours(self, start: datetime, end: datetime, spikes: SpikeHours) -> None:
        self._spikes[(start, end)] = spikes
