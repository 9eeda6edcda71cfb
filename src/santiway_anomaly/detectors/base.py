"""The one detector interface (STYLE.md: PyOD's fit/score/threshold, Merlion's four steps).

A detector works on the store, not on arrays: ClickHouse does the heavy aggregation.

    fit(store, window)      learn the baseline from history *before* window.start -> self
    score(store, window)    one row per subject: `subject`, `score` (calibrated, [0, 1], higher = more
                            anomalous, see santiway_anomaly.anomaly), plus evidence columns
    alarms(scored, window)  threshold + alarm post-processing (minimum evidence, suppression,
                            cooldown) -> Anomaly records with `details`
    detect(store, window)   the three in order

Learned state ends in `_` (`baseline_`, `threshold_`); `__init__` only stores its arguments.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Self

import pandas as pd

from santiway_anomaly.anomaly import Anomaly
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
