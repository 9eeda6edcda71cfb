"""What a detector finds, before it becomes an alarm (STYLE.md: Merlion's score -> calibrate ->
threshold -> alarm, as four small steps).

A detector's own step ends with typed `Finding`s: the subject, the window, the raw evidence in the
detector's own unit, that evidence placed on the *level scale* (1 = alarm, 2 = warning,
3 = critical, from the detector's documented levels) and the reasons. Evidence against is never a
note only: each `Against` carries the factor by which it multiplies the level (0 vetoes the alarm).

The shared step (`Detector.alarms`) then calibrates the adjusted level onto the common [0, 1]
scale, applies the alarm line set by the detector's false-alarm budget, suppresses repeats and
builds the `Anomaly` with one `details` shape for every detector:

    {"pattern": str, "reasons": [str], "against": [str], "level": float, "raw": float,
     "alarm_line": float, **evidence}

`evidence` keys are the numbers that made it fire (SEED.md's `unique_devices`, `p95_baseline`...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from santiway_anomaly.anomaly import calibrate

RESERVED_DETAIL_KEYS = frozenset({"pattern", "reasons", "against", "level", "raw", "alarm_line"})


@dataclass(frozen=True)
class Against:
    """Evidence against an alarm and its documented effect: the level is multiplied by `factor`."""

    reason: str
    factor: float  # in [0, 1): 0 vetoes, 0.5 halves the evidence

    def __post_init__(self) -> None:
        if not 0.0 <= self.factor < 1.0:
            raise ValueError(f"an Against factor must be in [0, 1) (it must lower the score), got {self.factor}")

    def describe(self) -> str:
        effect = "vetoes the alarm" if self.factor == 0 else f"evidence x{self.factor:g}"
        return f"{self.reason} ({effect})"


@dataclass
class Finding:
    """One subject's evidence over one window. Higher `level` = more anomalous; 1 is the alarm level
    of the detector's settings, 2 its warning level and 3 its critical level."""

    subject: str  # device MAC, or `folder:<name>` for a folder-level finding
    window_start: datetime
    window_end: datetime
    level: float
    raw: float  # the evidence in the detector's own unit (documented in the detector's docstring)
    pattern: str
    reasons: list[str] = field(default_factory=list)
    against: list[Against] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    device_id: str = ""
    folder: str = ""
    vendor: str = ""
    network_type: str = ""
    lat: float = 0.0
    lon: float = 0.0

    def __post_init__(self) -> None:
        if math.isnan(self.level) or self.level < 0:
            raise ValueError(f"a finding's level must be >= 0, got {self.level}")
        clash = RESERVED_DETAIL_KEYS & set(self.evidence)
        if clash:
            raise ValueError(f"evidence keys {sorted(clash)} are reserved for the details shape")

    @property
    def factor(self) -> float:
        return math.prod(a.factor for a in self.against)

    @property
    def adjusted_level(self) -> float:
        return self.level * self.factor

    def score(self, alarm_line: float = 1.0) -> float:
        """The common [0, 1] scale: the adjusted level relative to the alarm line, through the
        alarm/warning/critical points 1/2/3 (so 0.5 is the alarm line whatever the budget set it to)."""
        if alarm_line <= 0:
            raise ValueError(f"alarm_line must be positive, got {alarm_line}")
        return calibrate(self.adjusted_level / alarm_line, alarm=1.0, warning=2.0, critical=3.0)

    def details(self, alarm_line: float = 1.0) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "reasons": list(self.reasons),
            "against": [a.describe() for a in self.against],
            "level": round(self.adjusted_level, 3),
            "raw": round(float(self.raw), 3),
            "alarm_line": round(alarm_line, 3),
            **self.evidence,
        }
