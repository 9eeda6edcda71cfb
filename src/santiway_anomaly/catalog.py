"""The one catalog of detectors and the anomaly types they raise. Every list in the code reads it:
the runner, the CLI's choices, the API's enums, the dashboard's filters and the notification hub.

A detector's module registers its class under `name` when imported; the catalog only names the
module, so importing the catalog costs nothing (no torch, no pandas).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DetectorInfo:
    name: str  # the detector's name in the CLI, the API and settings
    anomaly_type: str  # what it raises (`anomalies.anomaly_type`)
    module: str  # imported to register the detector
    title: str  # what an operator reads
    optional: bool = False  # may be unavailable (the ML detector needs torch and a model)
    device_level: bool = True  # one subject per device (False: per folder)


DETECTORS: tuple[DetectorInfo, ...] = (
    DetectorInfo("density", "density_spike", "santiway_anomaly.detectors.density",
                 "Crowd in a folder", device_level=False),
    DetectorInfo("night", "night_activity", "santiway_anomaly.detectors.night", "Activity at night"),
    DetectorInfo("stationary", "stationary_surveillance", "santiway_anomaly.detectors.stationary",
                 "Stationary surveillance"),
    DetectorInfo("ml", "ml_behavior", "santiway_anomaly.detectors.ml_behavior", "Behaviour unlike itself",
                 optional=True),
)

DETECTOR_NAMES: tuple[str, ...] = tuple(d.name for d in DETECTORS)
ANOMALY_TYPES: tuple[str, ...] = tuple(d.anomaly_type for d in DETECTORS)
RULE_DETECTORS: tuple[str, ...] = tuple(d.name for d in DETECTORS if not d.optional)
RULE_ANOMALY_TYPES: tuple[str, ...] = tuple(d.anomaly_type for d in DETECTORS if not d.optional)


def by_name(name: str) -> DetectorInfo:
    for info in DETECTORS:
        if info.name == name:
            return info
    raise ValueError(f"unknown detector {name!r}; choose from {list(DETECTOR_NAMES)}")


def by_type(anomaly_type: str) -> DetectorInfo:
    for info in DETECTORS:
        if info.anomaly_type == anomaly_type:
            return info
    raise ValueError(f"unknown anomaly type {anomaly_type!r}; choose from {list(ANOMALY_TYPES)}")
