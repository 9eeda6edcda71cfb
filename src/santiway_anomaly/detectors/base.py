"""The one detector interface (STYLE.md: PyOD's fit/score/threshold, Merlion's four steps).

A detector works on the store, not on arrays: ClickHouse does the heavy aggregation.

    fit(store, window)      learn the baseline from history *before* window.start -> self
    score(store, window)    one row per subject: `subject`, `score` (calibrated, [0, 1], higher = more
                            anomalous, see santiway_anomaly.anomaly), plus evidence columns
    alarms(scored, window)  threshold + alarm post-processing (minimum evidence, suppression,
                            cooldown) -> Anomaly records with `details`
    detect(store, window)   the three in order

Rule detectors derive from `FindingDetector`: their own step is `findings(store, window)` (typed
`Finding`s, see detectors/findings.py) and the rest is one shared step here: calibrate the adjusted
level onto [0, 1] -> threshold at the alarm line (which a false-alarm budget may raise per subject)
-> suppress repeats within the cooldown -> build the `Anomaly` with one `details` shape.

Learned state ends in `_` (`baseline_`, `threshold_`); `__init__` only stores its arguments.

One run, one context: the runner hands every detector of a run the same `DetectionContext`
(detectors/context.py: coverage read once, the density spike hours) with `using`, after asking each
for the coverage ranges it will read (`coverage_ranges`); `fit` takes it as `context_` (a detector run
alone makes its own).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Self

import pandas as pd

from santiway_anomaly.anomaly import Anomaly, severity_for
from santiway_anomaly.config import Settings
from santiway_anomaly.coverage import Span
from santiway_anomaly.detectors.context import DetectionContext
from santiway_anomaly.detectors.findings import Finding
from santiway_anomaly.storage.store import Store


@dataclass(frozen=True)
class Window:
    """A half-open UTC time window [start, end)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None:
                object.__setattr__(self, name, value.replace(tzinfo=UTC))
        if self.end <= self.start:
            raise ValueError(f"window end {self.end} must be after start {self.start}")

    @classmethod
    def last_hours(cls, hours: float, until: datetime | None = None) -> Window:
        end = until or datetime.now(UTC)
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        return cls(end - timedelta(hours=hours), end)


class Detector(ABC):
    name: ClassVar[str]
    anomaly_type: ClassVar[str]
    settings: Settings  # every detector is made with the settings (`build(name, settings=...)`)
    # The run's shared context (`using`); None: `fit` makes one of the detector's own.
    context: DetectionContext | None = None

    def using(self, context: DetectionContext) -> Self:
        """Share `context` with the other detectors of the run (the runner calls it before `fit`)."""
        self.context = context
        return self

    def coverage_ranges(self, window: Window) -> list[Span]:
        """The [start, end) ranges whose coverage this detector reads for `window`: the run reads the
        ranges of all its detectors from the store at once. None read: an empty list."""
        return []

    def run_context(self, store: Store, window: Window) -> DetectionContext:
        """The run's context when it reads `store`, else a new one of this detector's own; either way told
        which coverage ranges this detector will ask for. Called by `fit`, kept as `context_`."""
        context = self.context
        if context is None or not context.serves(store):
            context = DetectionContext(store, self.settings)
        context.expect_coverage(self.coverage_ranges(window))
        return context

    @abstractmethod
    def fit(self, store: Store, window: Window) -> Self: ...

    @abstractmethod
    def score(self, store: Store, window: Window) -> pd.DataFrame: ...

    @abstractmethod
    def alarms(self, scored: pd.DataFrame, window: Window) -> list[Anomaly]: ...

    def detect(self, store: Store, window: Window) -> list[Anomaly]:
        return self.fit(store, window).alarms(self.score(store, window), window)

    def check_fitted(self) -> None:
        if not any(k.endswith("_") and not k.startswith("_") for k in vars(self)):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")


class FindingDetector(Detector):
    """A detector whose own work ends in `Finding`s; threshold, suppression and the `Anomaly` come
    from the shared step below. Subclasses implement `fit` and `findings`; they may override
    `alarm_line` (the budget-calibrated line for a finding, 1.0 = the level settings' alarm level)
    and `cooldown`, and set `prior_` (stored alarms of the type) in `fit` for suppression."""

    prior_: list[Any]

    @abstractmethod
    def findings(self, store: Store, window: Window) -> list[Finding]: ...

    def alarm_line(self, finding: Finding) -> float:
        return 1.0

    def cooldown(self) -> timedelta:
        return timedelta(0)

    def score(self, store: Store, window: Window) -> pd.DataFrame:
        """One row per finding: `subject`, `score` (the common [0, 1] scale after the alarm line),
        `level`, and the `finding` itself."""
        self.check_fitted()
        found = self.findings(store, window)
        return pd.DataFrame({
            "subject": [f.subject for f in found],
            "score": [f.score(self.alarm_line(f)) for f in found],
            "level": [f.adjusted_level for f in found],
            "finding": found,
        }, columns=["subject", "score", "level", "finding"])

    def alarms(self, scored: pd.DataFrame | list[Finding], window: Window) -> list[Anomaly]:
        from santiway_anomaly.storage.queries.alarm import suppress_repeats

        found = list(scored["finding"]) if isinstance(scored, pd.DataFrame) else list(scored)
        candidates: list[Anomaly] = []
        for f in found:
            line = self.alarm_line(f)
            score = f.score(line)
            severity = severity_for(score)
            if severity is None:
                continue
            candidates.append(Anomaly(
                anomaly_type=self.anomaly_type, severity=severity, score=round(score, 4),
                window_start=f.window_start, window_end=f.window_end, device_id=f.device_id, folder=f.folder,
                vendor=f.vendor, network_type=f.network_type, lat=f.lat, lon=f.lon, details=f.details(line)))
        return suppress_repeats(candidates, getattr(self, "prior_", []), self.cooldown())


REGISTRY: dict[str, Callable[..., Detector]] = {}


def register(name: str) -> Callable[[Callable[..., Detector]], Callable[..., Detector]]:
    """Register a detector factory under `name` (used by the CLI, the API and the runner)."""

    def wrap(factory: Callable[..., Detector]) -> Callable[..., Detector]:
        REGISTRY[name] = factory
        return factory

    return wrap


def build(name: str, **kwargs: Any) -> Detector:
    if name not in REGISTRY:
        raise ValueError(f"unknown detector {name!r}; choose from {sorted(REGISTRY)}")
    return REGISTRY[name](**kwargs)
