"""stationary_surveillance: a device that watches a place or a person. Three patterns, each its own
module, each ending in typed `Finding`s on the level scale (1 / 2 / 3 = alarm / warning / critical):

- lingering (stationary_lingering.py): a stranger stays within STATIONARY_RADIUS_M of one point for
  hours (LINGER_HOURS_*), near a sensor (Pigtail/CYT: RSSI >= -65 dBm), with a steady signal, longer
  than transient devices usually stay in that folder at those hours;
- returning (stationary_returning.py): a stranger back at the same spot on several different days
  (RETURN_DAYS_*) within RETURN_LOOKBACK_DAYS;
- following (stationary_following.py): a device with a moving sensor at several of its stops, places
  far enough apart (AirGuard: >= 30/60/120 min across >= 2/3/4 places >= 150 m apart), judged along
  the sensor's round so that long gaps between a patrol's stops do not split it.

Evidence against never only annotates: each `Against` multiplies the level by its documented factor
(docs/detectors.md lists them; 0 vetoes). The detector raises one anomaly per device per UTC day: the
pattern with the highest adjusted level; the others are listed in `details["other_patterns"]`.

Score direction and unit: higher = more anomalous, calibrated to [0, 1] by the shared step (0.5 = the
alarm level). Baselines (who is a stranger, the folder's usual dwell, the returning history) count
covered time only (coverage.py): a folder with fewer than LEARNING_MIN_DAYS covered days is learning
and raises no lingering or returning alarm.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Self

from santiway_anomaly.config import Settings
from santiway_anomaly.coverage import Span
from santiway_anomaly.detectors import density as density_module
from santiway_anomaly.detectors.base import FindingDetector, Window, register
from santiway_anomaly.detectors.findings import Finding
from santiway_anomaly.detectors.stationary_common import ANOMALY_TYPE, Context, coverage_ranges
from santiway_anomaly.detectors.stationary_following import following_findings
from santiway_anomaly.detectors.stationary_lingering import lingering_findings
from santiway_anomaly.detectors.stationary_returning import returning_findings
from santiway_anomaly.storage.queries.alarm import prior_alarms
from santiway_anomaly.storage.queries.known import load_allowlist
from santiway_anomaly.storage.store import Store


def density_spike_hours(ctx: Context, folders: list[str]) -> set[tuple[str, int]]:
    """(folder, UTC hour start in epoch seconds) of the window's hours at density-alarm level: the
    density detector's own answer (kept in the run's context), never a second density run of our own."""
    return density_module.spike_hours(ctx.shared, ctx.window)


@register("stationary")
class StationaryDetector(FindingDetector):
    """Per device per day: the strongest of lingering, returning and following."""

    name = "stationary"
    anomaly_type = ANOMALY_TYPE

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def coverage_ranges(self, window: Window) -> list[Span]:
        # The density detector's too: run alone, this detector runs it for its spike hours.
        return [*coverage_ranges(self.settings, window),
                *density_module.DensityDetector(self.settings).coverage_ranges(window)]

    def fit(self, store: Store, window: Window) -> Self:
        # Levels are validated with the settings (config.py `_stationary_levels`). Baselines are read per
        # suspect in `findings`: learning them for every device would cost as much as detection itself.
        self.context_ = self.run_context(store, window)
        self.allow_ = load_allowlist(store)
        self.prior_ = prior_alarms(store, self.anomaly_type, window.start - self.cooldown() - timedelta(days=1),
                                   window.end)
        return self

    def cooldown(self) -> timedelta:
        return timedelta(days=self.settings.stationary_cooldown_days)

    def findings(self, store: Store, window: Window) -> list[Finding]:
        self.check_fitted()
        ctx = Context(store, self.settings, window, self.allow_, run=self.context_)
        parts = [*lingering_findings(ctx, density_spike_hours), *returning_findings(ctx), *following_findings(ctx)]
        return merge_by_device_day(parts)


def merge_by_device_day(parts: list[Finding]) -> list[Finding]:
    """One finding per (device, day): the pattern with the highest adjusted level, the others listed
    in its evidence (`other_patterns`) with their level and reasons."""
    groups: dict[tuple[str, Any], list[Finding]] = {}
    for f in parts:
        groups.setdefault((f.device_id, f.window_start), []).append(f)
    out: list[Finding] = []
    for members in groups.values():
        members.sort(key=lambda f: -f.adjusted_level)
        best = members[0]
        if len(members) > 1:
            best.evidence["other_patterns"] = [
                {"pattern": f.pattern, "level": round(f.adjusted_level, 3), "reasons": f.reasons,
                 "against": [a.describe() for a in f.against]} for f in members[1:]]
            for f in members[1:]:
                if not best.folder and f.folder:
                    best.folder, best.lat, best.lon = f.folder, f.lat, f.lon
                best.vendor = best.vendor or f.vendor
                best.network_type = best.network_type or f.network_type
        out.append(best)
    return out
