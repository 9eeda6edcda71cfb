"""What the three stationary patterns (lingering, returning, following) share: the run's context
(store, settings, window, coverage, allowlist), the known-to-the-site test, and the evidence against
that applies to every pattern (allowlist, learned fixture)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd

from santiway_anomaly.config import Settings
from santiway_anomaly.coverage import Coverage, Span
from santiway_anomaly.detectors.base import Window
from santiway_anomaly.detectors.context import DetectionContext
from santiway_anomaly.detectors.findings import Against, Finding
from santiway_anomaly.detectors.util import floor_hour, utc
from santiway_anomaly.storage.queries import stationary as sql
from santiway_anomaly.storage.queries.known import fixture_history, is_exempt
from santiway_anomaly.storage.store import Store

ANOMALY_TYPE = "stationary_surveillance"


@dataclass
class Context:
    """One detection run of the stationary detector."""

    store: Store
    settings: Settings
    window: Window
    allow: dict[str, set[str]]
    run: DetectionContext | None = None  # the detection run's shared context (coverage read once per run)
    _coverage: Coverage | None = None
    _days: dict[datetime, dict[str, list[date]]] = field(default_factory=dict)

    @property
    def shared(self) -> DetectionContext:
        if self.run is None or not self.run.serves(self.store):
            self.run = DetectionContext(self.store, self.settings)
        return self.run

    @property
    def coverage(self) -> Coverage:
        """Coverage from the start of the longest history any pattern reads to the window's end."""
        if self._coverage is None:
            self._coverage = self.shared.coverage(*coverage_span(self.settings, self.window))
        return self._coverage

    def listening(self) -> pd.DataFrame:
        """`Coverage.covered` of fixture learning's history (storage/queries/known.py `learn_fixtures`)."""
        return self.shared.coverage(*fixture_history(self.settings, floor_hour(self.window.start))).covered

    def covered_days(self, folder: str, start: datetime, end: datetime) -> list[date]:
        """Covered local days of `folder` that lie in [start, end)."""
        if end not in self._days:
            self._days[end] = self._all_covered_days(end)
        first = utc(start).astimezone(self.settings.zone_for(folder)).date()
        return [d for d in self._days[end].get(folder, []) if d >= first]

    def _all_covered_days(self, before: datetime) -> dict[str, list[date]]:
        """`Coverage.covered_days(folder, before=before)` for every folder in one pass (a large site has
        hundreds of folders; one call per folder re-derives the whole coverage frame each time)."""
        covered = self.coverage.covered
        covered = covered[covered.index < pd.Timestamp(utc(before))]
        need = self.settings.coverage_day_share * 24
        by_zone: dict[str, list[str]] = {}
        for folder in covered.columns:
            by_zone.setdefault(str(self.settings.zone_for(str(folder))), []).append(str(folder))
        out: dict[str, list[date]] = {}
        for zone, folders in by_zone.items():
            local_day = pd.DatetimeIndex(covered.index).tz_convert(zone).date
            per_day = covered[folders].groupby(local_day).sum()
            for folder in folders:
                out[folder] = [d for d, n in per_day[folder].items() if n >= need]  # type: ignore[misc]
        return out

    def known_params(self, before: datetime, history_days: int) -> dict[str, Any]:
        """Lingering and returning judge strangers only: a device seen on >= REGULAR_MIN_DAYS days of
        the `history_days` before `before` (staff, residents, fixtures, part-timers) is left out in
        SQL, before any work is spent on it."""
        return {"known_start": before - timedelta(days=history_days), "known_end": before,
                "regular_min_days": self.settings.regular_min_days}


def coverage_span(settings: Settings, window: Window) -> Span:
    """From the start of the longest history any pattern reads to the window's end."""
    days = max(settings.detect_history_days, settings.return_history_days + settings.return_lookback_days)
    return floor_hour(window.start) - timedelta(days=days), window.end


def coverage_ranges(settings: Settings, window: Window) -> list[Span]:
    """Every coverage range the three patterns read: their histories and fixture learning's."""
    return [coverage_span(settings, window), fixture_history(settings, floor_hour(window.start))]


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def seen_before(ctx: Context, findings: list[Finding], start: datetime, before: datetime) -> None:
    """A stranger is not a regular of the history, but it may still have been there before on fewer days
    than make a regular: a part-timer, a colleague back from leave, an occasional visitor. A watcher new to
    the place has no history there. Seen on some day of [start, before) (the visit that goes on into
    `before` left out): STATIONARY_SEEN_BEFORE_FACTOR. Recorded as `days_seen_before`."""
    if not findings:
        return
    days = sql.days_seen_before(ctx.store, [f.device_id for f in findings], start, before)
    for f in findings:
        n = days.get(f.device_id, 0)
        f.evidence["days_seen_before"] = n
        if n > 0:
            f.against.append(Against(f"seen here before on {n} day(s) of the history (fewer than a regular): not new "
                                     "to the place", ctx.settings.stationary_seen_before_factor))


def common_against(ctx: Context, devices: list[str], pattern: str) -> dict[str, list[Against]]:
    """device -> the evidence against that holds for every pattern: on the operators' list (veto) and,
    except for following, a learned fixture (veto: a fixture does not watch, it is furniture).
    Fixtures are read for these devices only (cost scales with suspects, not with devices)."""
    out: dict[str, list[Against]] = {}
    for d in devices:
        if is_exempt(ctx.allow, d, ANOMALY_TYPE):
            out.setdefault(d, []).append(Against("on the known-devices list", 0.0))
    if pattern != "following" and devices:
        fixtures = ctx.shared.fixtures(floor_hour(ctx.window.start), devices, ctx.listening())
        for d, f in fixtures.items():
            out.setdefault(d, []).append(Against(
                f"known fixture (learned): seen {int(f['hours_seen'])} of {int(f['span_hours'])} hours", 0.0))
    return out
