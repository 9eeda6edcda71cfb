"""Sensor levels: each sensor's RSSI offset, learned from its own history (issue 16 point 1, issue 11).

The rule detectors compare readings with fixed dBm cuts (NEAR_RSSI_DBM and RETURN_NEAR_RSSI_DBM for
stationary surveillance, NIGHT_FAR_RSSI_DBM for the night detector). Real sniffers read one room 10-20 dB
apart: another model, another antenna, mounted high or behind a wall. A cut set for one reads a person at
a desk beside another as "far". So every sensor's level is measured on its own data and its readings are
put on the reference scale before they meet a cut: `corrected = reading - offset(sensor)`.

What is measured: the devices that *dwell* at the sensor (heard there in >= CALIB_MIN_HOURS distinct hours
of the history: people at desks, equipment; not rotating random MACs, visitors or passers-by), each at the
sensor hearing it best, with its mean reading there. The sensor's level is CALIB_QUANTILE (p95) of those
means: how strong its nearest regular occupants read. That is a property of the sniffer and its mounting,
not of how many people came: a crowd or a quiet week changes the count of dwellers, not how strong the
nearest of them read. The mean per device is robust to fading (a device's strongest reading grows with
its number of readings); the high quantile is robust to the sensitivity floor (a weak sensor loses its
farthest devices first, the nearest last).

offset = level - CALIB_REFERENCE_DBM, then
- 0 while the sensor is *learning*: fewer than CALIB_MIN_DEVICES dwellers (a quantile of a handful is
  their maximum);
- 0 when |offset| < CALIB_TOLERANCE_DB: the statistic's own spread between sensors of one model;
- clamped to [CALIB_MIN_OFFSET_DB, CALIB_MAX_OFFSET_DB] (a level above the reference is as often an access
  point on the sensor's shelf as a stronger sniffer: not used to tighten the cuts by default);
- an operator's pinned offset (CALIB_SENSOR_OFFSETS) replaces the learned one (state "pinned").

Why correct the reading rather than move the cut: a device is often heard by several sensors of one folder
at once, and the detectors pick "the sensor hearing it best" before they compare; only readings on one
scale can be compared with each other. The evidence shows both (raw and corrected).

Computed once per detection run over the detectors' history (DETECT_HISTORY_DAYS before the window) and
shared through the run's `DetectionContext`, like coverage.

Limits: a sensor that nobody dwells near (a room left empty for the whole history, a sniffer in a
corridor) reads as weak: its nearest dwellers are the neighbours behind the wall. No level statistic can
tell that from a weak sniffer (the lab captures' empty months of 2023 read 20-30 dB weak); the clamp bounds
it and CALIB_SENSOR_OFFSETS pins such a sensor. Near the decoding floor a weak sensor keeps only a device's
stronger frames, so its mean there reads a few dB high, and the corrected mean with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import pandas as pd

from santiway_anomaly.config import Settings
from santiway_anomaly.storage.queries.calibration import sensor_levels
from santiway_anomaly.storage.store import Store

State = Literal["learning", "ready", "pinned"]


@dataclass(frozen=True)
class SensorLevel:
    sensor: str
    dwellers: int  # devices dwelling at the sensor (at their best sensor)
    level_dbm: float | None  # CALIB_QUANTILE of their mean readings; None without dwellers
    measured_db: float | None  # level - reference, before tolerance and clamp
    offset_db: float  # the applied offset (0: reads like the reference, or learning)
    state: State

    def as_dict(self) -> dict[str, Any]:
        return {"sensor": self.sensor, "dwellers": self.dwellers,
                "level_dbm": None if self.level_dbm is None else round(self.level_dbm, 1),
                "measured_db": None if self.measured_db is None else round(self.measured_db, 1),
                "offset_db": round(self.offset_db, 1), "state": self.state}


@dataclass
class Calibration:
    """The sensors' offsets over one history range [start, end)."""

    reference_dbm: float
    start: datetime | None = None
    end: datetime | None = None
    sensors: dict[str, SensorLevel] = field(default_factory=dict)

    def offset(self, sensor: str) -> float:
        """dB to subtract from a reading of `sensor` (0 for an unknown or learning sensor)."""
        level = self.sensors.get(str(sensor))
        return 0.0 if level is None else level.offset_db

    def correct(self, rssi: float, sensor: str) -> float:
        """A reading of `sensor` on the reference scale."""
        return float(rssi) - self.offset(sensor)

    @property
    def offsets(self) -> dict[str, float]:
        """The sensors with a non-zero offset."""
        return {s: v.offset_db for s, v in self.sensors.items() if v.offset_db != 0.0}

    def describe(self, sensor: str) -> str:
        """For reasons: 'office-1-s1 reads 12 dB weak' (empty when it reads like the reference)."""
        off = self.offset(sensor)
        if off == 0.0:
            return ""
        return f"{sensor} reads {abs(off):.0f} dB {'weak' if off < 0 else 'strong'}"


def offset_for(settings: Settings, dwellers: int, level: float | None) -> tuple[float | None, float, State]:
    """(measured, applied offset, state) of a sensor with `dwellers` and `level` (see the module docstring)."""
    s = settings
    if level is None or dwellers < s.calib_min_devices:
        return (None if level is None else level - s.calib_reference_dbm), 0.0, "learning"
    measured = float(level) - s.calib_reference_dbm
    if abs(measured) < s.calib_tolerance_db:
        return measured, 0.0, "ready"
    return measured, min(max(measured, s.calib_min_offset_db), s.calib_max_offset_db), "ready"


def load_calibration(store: Store, settings: Settings, start: datetime, end: datetime) -> Calibration:
    """Every sensor's level and offset over [start, end): learned in one query when CALIB_LEARN is on, and
    the operators' pinned offsets (CALIB_SENSOR_OFFSETS) either way."""
    s = settings
    cal = Calibration(s.calib_reference_dbm, start, end)
    if s.calib_learn:
        df = sensor_levels(store, start, end, s.calib_quantile, s.calib_min_hours)
        for sensor, dwellers, level in zip(df["sensor"], df["dwellers"], df["level"], strict=True):
            measured, offset, state = offset_for(s, int(dwellers), float(level))
            cal.sensors[str(sensor)] = SensorLevel(str(sensor), int(dwellers), float(level), measured, offset, state)
    for sensor, pinned in s.calib_sensor_offsets.items():
        known = cal.sensors.get(sensor)
        cal.sensors[sensor] = SensorLevel(sensor, 0 if known is None else known.dwellers,
                                          None if known is None else known.level_dbm,
                                          None if known is None else known.measured_db, float(pinned), "pinned")
    return cal


def best_sensor(rows: pd.DataFrame, calibration: Calibration, min_readings: int = 3) -> pd.DataFrame:
    """Per device, the sensor hearing it best on the reference scale, from rows of (device_id, sensor, n, m, ...)
    with m a mean reading of the device at the sensor and n its readings there (sensors with fewer than
    `min_readings` left out). Adds `offset` (the sensor's) and `m_cal` (m - offset): a device heard by a weak
    sensor beside it and a normal one across the room is nearest the weak one."""
    df = rows[rows["n"] >= min_readings].copy()
    df["offset"] = [calibration.offset(str(x)) for x in df["sensor"]]
    df["m_cal"] = df["m"].astype(float) - df["offset"]
    return df.sort_values(["device_id", "m_cal"], ascending=[True, False]).drop_duplicates("device_id")
