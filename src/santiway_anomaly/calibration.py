"""Sensor levels: each sensor's RSSI offset, learned from its own history (issue 16 point 1, issue 11).

The rule detectors compare readings with fixed dBm cuts (NEAR_RSSI_DBM and RETURN_NEAR_RSSI_DBM for
stationary surveillance, NIGHT_FAR_RSSI_DBM for the night detector). Real sniffers read one room 10-20 dB
apart: another model, another antenna, mounted high or behind a wall. A cut set for one reads a person at
a desk beside another as "far". So every sensor's level is measured on its own data and its readings are
put on the reference scale before they meet a cut: `corrected = reading - offset(sensor)`.

What is measured, block by block (CALIB_BLOCK_DAYS, a fortnight) over a long memory (CALIB_HISTORY_DAYS
before the window): the devices that *dwell* at the sensor in the block (heard there in >= CALIB_MIN_HOURS
distinct hours of it: people at desks, equipment, a weekly class's laptops; not rotating random MACs,
visitors or passers-by), each at the sensor hearing it best, with its mean reading there. The block's level
is CALIB_QUANTILE (p95) of those means: how strong its nearest regular occupants read; its low tail is the
1 - CALIB_QUANTILE (p05): how its farthest regular dwellers read.

A sensor's gain does not change with the season, but who sits near it does: a room left empty for weeks
(holidays, a term without classes) leaves the sensor only the neighbours behind its wall, and its level
drops 10-20 dB though the sniffer did not change. Three guards keep such blocks out:
- a block counts only with >= CALIB_MIN_DEVICES dwellers (a quantile of a handful is their maximum);
- a block counts only when its level stands >= CALIB_MIN_SPAN_DB above its own low tail: a sensor with
  people near it hears them well above its far dwellers, whatever its gain (a weak sensor loses its far
  devices at the decoding floor, and its near ones move down with the far ones, so the span stays); a room
  with nobody near has only far dwellers, all alike weak, and its span collapses;
- the sensor's level is the *highest* level of its usable blocks: an empty block can only read weaker than
  an occupied one, never stronger, so the memory keeps the occupied blocks' answer through the empty ones.

offset = level - CALIB_REFERENCE_DBM, then
- 0 while the sensor is *learning*: no usable block in its memory (a new sensor, or one nobody sat near);
- 0 when |offset| < CALIB_TOLERANCE_DB: the statistic's own spread between sensors of one model;
- clamped to [CALIB_MIN_OFFSET_DB, CALIB_MAX_OFFSET_DB] (a level above the reference is as often an access
  point on the sensor's shelf as a stronger sniffer: not used to tighten the cuts by default);
- an operator's pinned offset (CALIB_SENSOR_OFFSETS) replaces the learned one (state "pinned").

Why correct the reading rather than move the cut: a device is often heard by several sensors of one folder
at once, and the detectors pick "the sensor hearing it best" before they compare; only readings on one
scale can be compared with each other. The evidence shows both (raw and corrected).

Computed once per detection run and shared through the run's `DetectionContext`, like coverage.

Limits: a sensor nobody ever dwells near (a sniffer in a corridor) stays learning or reads as weak as its
nearest dwellers; CALIB_SENSOR_OFFSETS pins it. Near the decoding floor a weak sensor keeps only a device's
stronger frames, so its mean there reads a few dB high, and the corrected mean with it. The memory is read
from the raw sightings (one scan of CALIB_HISTORY_DAYS per detection run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import pandas as pd

from santiway_anomaly.config import Settings
from santiway_anomaly.storage.queries.calibration import sensor_blocks
from santiway_anomaly.storage.store import Store

State = Literal["learning", "ready", "pinned"]


@dataclass(frozen=True)
class SensorLevel:
    sensor: str
    dwellers: int  # devices dwelling at the sensor (at their best sensor) in the block that set the level
    level_dbm: float | None  # the highest usable block level; None without a usable block
    measured_db: float | None  # level - reference, before tolerance and clamp
    offset_db: float  # the applied offset (0: reads like the reference, or learning)
    state: State
    blocks: int = 0  # blocks of its memory with a dweller
    usable_blocks: int = 0  # of them, blocks with enough dwellers and a level standing above its low tail

    def as_dict(self) -> dict[str, Any]:
        return {"sensor": self.sensor, "dwellers": self.dwellers,
                "level_dbm": None if self.level_dbm is None else round(self.level_dbm, 1),
                "measured_db": None if self.measured_db is None else round(self.measured_db, 1),
                "offset_db": round(self.offset_db, 1), "state": self.state, "blocks": self.blocks,
                "usable_blocks": self.usable_blocks}


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


def level_of(settings: Settings, blocks: pd.DataFrame) -> tuple[int, float | None, int]:
    """(dwellers, level, usable blocks) of one sensor from its rows per block (dwellers, level, low): the
    highest level of the blocks with >= CALIB_MIN_DEVICES dwellers whose level stands >= CALIB_MIN_SPAN_DB
    above their low tail; (dwellers of its busiest block, None, 0) without such a block (module docstring)."""
    s = settings
    usable = blocks[(blocks["dwellers"] >= s.calib_min_devices)
                    & (blocks["level"] - blocks["low"] >= s.calib_min_span_db)]
    if usable.empty:
        return int(blocks["dwellers"].max()) if len(blocks) else 0, None, 0
    best = int(usable["level"].to_numpy().argmax())
    return int(usable["dwellers"].iloc[best]), float(usable["level"].iloc[best]), len(usable)


def load_calibration(store: Store, settings: Settings, end: datetime) -> Calibration:
    """Every sensor's level and offset learned over the CALIB_HISTORY_DAYS before `end`, in one query, when
    CALIB_LEARN is on, and the operators' pinned offsets (CALIB_SENSOR_OFFSETS) either way."""
    s = settings
    start = end - timedelta(days=s.calib_history_days)
    cal = Calibration(s.calib_reference_dbm, start, end)
    if s.calib_learn:
        df = sensor_blocks(store, start, end, s.calib_block_days, s.calib_quantile, s.calib_min_hours)
        for sensor, blocks in df.groupby("sensor", sort=True):
            dwellers, level, usable = level_of(s, blocks)
            measured, offset, state = offset_for(s, dwellers, level)
            cal.sensors[str(sensor)] = SensorLevel(str(sensor), dwellers, level, measured, offset, state,
                                                   len(blocks), usable)
    for sensor, pinned in s.calib_sensor_offsets.items():
        known = cal.sensors.get(sensor)
        cal.sensors[sensor] = SensorLevel(sensor, 0 if known is None else known.dwellers,
                                          None if known is None else known.level_dbm,
                                          None if known is None else known.measured_db, float(pinned), "pinned",
                                          0 if known is None else known.blocks,
                                          0 if known is None else known.usable_blocks)
    return cal


def best_sensor(rows: pd.DataFrame, calibration: Calibration, min_readings: int = 3,
                by: tuple[str, ...] = ("device_id",)) -> pd.DataFrame:
    """Per device (per `by`: ("device_id", "day") for each device's days), the sensor hearing it best on the
    reference scale, from rows of (device_id, sensor, n, m, ...) with m a mean reading of the device at the
    sensor and n its readings there (sensors with fewer than `min_readings` left out). Adds `offset` (the
    sensor's) and `m_cal` (m - offset): a device heard by a weak sensor beside it and a normal one across the
    room is nearest the weak one."""
    df = rows[rows["n"] >= min_readings].copy()
    df["offset"] = [calibration.offset(str(x)) for x in df["sensor"]]
    df["m_cal"] = df["m"].astype(float) - df["offset"]
    return df.sort_values([*by, "m_cal"], ascending=[True] * len(by) + [False]).drop_duplicates(list(by))
