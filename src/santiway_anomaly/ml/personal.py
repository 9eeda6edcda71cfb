"""The personal baseline: is this device-day unlike the device's own covered history?

Pure numpy, no torch, no store (the detector in detectors/ml_behavior.py feeds it).

- Daily vector (FEATURES): sightings per active hour (log), active hours, RSSI mean, minutes present
  per active hour, folders and sensors of the day, and the share of its active hours at hours of
  day it is rarely active at (its schedule); first / last / mean local hour explain, not score.
- Baseline per device and feature: median and MAD over the device's covered history days. The
  robust z-score of a day is (value - median) / max(1.4826 * MAD, floor): the floor is the change
  that is too small to matter whatever the history says (1 hour of schedule, 3 dB, 30 % in rate),
  so a device with an utterly regular history (a fixture, MAD = 0) does not alarm on noise.
- Raw score (unit: robust z) = mean of the TOP_K largest |z| of the day. A real change moves
  several features at once (a shifted schedule moves first, last and mean hour); one noisy feature
  alone rarely crosses the line. Higher = more anomalous.
- Calibration by a false-alarm budget (`BudgetCalibration`): raw scores of held-out normal days
  (the days just before the scored range, judged against the days before them: a time split) give
  an exponential tail above their 90th percentile (peaks over threshold); the alarm line is where
  that tail leaves `budget / 1000` of device-days above it, warning and critical a tenth and a
  hundredth of that. The line never goes below MIN_LINE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

Array = np.ndarray

MAD_TO_SD = 1.4826  # MAD of a normal distribution times this = its standard deviation
TOP_K = 3
Z_CLIP = 12.0  # one absurd feature (a device seen once) must not decide the score alone
TAIL_QUANTILE = 0.90  # peaks over the 90th percentile fit the exponential tail
MIN_TAIL_POINTS = 20  # fewer exceedances than this: the tail is a guess, use the default line
DEFAULT_LINE = 4.0  # raw line without enough held-out days (robust z; ~4 sigma on three features)
DEFAULT_BETA = 0.8  # tail scale without enough held-out days (measured on simulated worlds)


@dataclass(frozen=True)
class DailyFeature:
    name: str
    floor: float  # smallest scale of the z-score, in the feature's (transformed) unit
    log: bool = False  # compare in log space (rates: 4x and 0.25x are equally far)
    scored: bool = True  # False: shown in explanations only


# First / last / mean hour are not scored: a night shift that crosses local midnight splits into
# pieces whose first and last hour jump by 12 hours from one day to the next. The schedule is
# scored by `off_hours_share` instead (share of today's active hours at hours of day the device is
# rarely active at), which a split shift does not move.
FEATURES: tuple[DailyFeature, ...] = (
    DailyFeature("sightings_per_hour", floor=0.3, log=True),
    DailyFeature("active_hours", floor=2.5),
    DailyFeature("rssi_mean", floor=3.0),
    DailyFeature("minutes_per_hour", floor=6.0),
    DailyFeature("folders", floor=0.5),
    DailyFeature("sensors", floor=1.0),
    DailyFeature("off_hours_share", floor=0.12),
    DailyFeature("first_hour", floor=1.0, scored=False),
    DailyFeature("last_hour", floor=1.0, scored=False),
    DailyFeature("mid_hour", floor=0.75, scored=False),
)
FEATURE_NAMES = tuple(f.name for f in FEATURES)
FLOORS = np.array([f.floor for f in FEATURES])
SCORED = np.array([f.scored for f in FEATURES])
OFF = FEATURE_NAMES.index("off_hours_share")
RARE_HOUR = 0.2  # an hour of day is "rare" for a device active at it on fewer than 20 % of its days


def daily_matrix(columns: dict[str, Array], bits: Array) -> Array:
    """(rows, features) from the daily SQL columns (storage/queries/ml_behavior.py DAILY_COLUMNS) and the rows'
    active hours `bits` (rows, 24); the off_hours_share column is NaN here (it needs the device's
    history: see `off_hours_share`)."""
    active = bits.sum(axis=1).astype(np.float64)
    hours = np.maximum(active, 1.0)
    first = np.argmax(bits, axis=1).astype(np.float64)
    last = 23.0 - np.argmax(bits[:, ::-1], axis=1)
    raw = {
        "sightings_per_hour": np.log(np.maximum(columns["sightings"] / hours, 1e-3)),
        "active_hours": active,
        "rssi_mean": columns["rssi_mean"],
        "minutes_per_hour": np.minimum(columns["active_minutes"] / hours, 60.0),
        "folders": columns["n_folders"],
        "sensors": columns["n_sensors"],
        "off_hours_share": np.full(len(hours), np.nan),
        "first_hour": first,
        "last_hour": last,
        "mid_hour": columns["mid_hour"],
    }
    return np.column_stack([np.asarray(raw[n], dtype=np.float64) for n in FEATURE_NAMES])


def hour_bits(mask: Array) -> Array:
    """uint32 masks (bit h = active in local hour h) -> bool (..., 24)."""
    m = np.asarray(mask, dtype=np.uint32)
    return ((m[..., None] >> np.arange(24, dtype=np.uint32)) & 1).astype(bool)


def hour_profile(bits: Array, usable: Array) -> Array:
    """bits (devices, days, 24), usable (devices, days) -> share of usable days active at each hour."""
    n = np.maximum(usable.sum(axis=1), 1)[:, None]
    return np.asarray((bits & usable[:, :, None]).sum(axis=1) / n)


def off_hours_share(bits: Array, profile: Array) -> Array:
    """bits (devices, days, 24), profile (devices, 24) -> share of each day's active hours that are
    rare hours of the device (NaN on days without activity)."""
    rare = profile < RARE_HOUR
    active = bits.sum(axis=2)
    off = (bits & rare[:, None, :]).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: Array = np.where(active > 0, off / np.maximum(active, 1), np.nan)
    return out


def nanmedian_axis1(a: Array) -> Array:
    """Median over axis 1 ignoring NaN, for (devices, days, features): a sort and two takes, several
    times faster than np.nanmedian on many short rows. All-NaN -> NaN."""
    srt = np.sort(a, axis=1)  # NaN sorts last
    n = np.isfinite(srt).sum(axis=1)  # (devices, features)
    lo = np.clip((n - 1) // 2, 0, None)[:, None, :]
    hi = np.clip(n // 2, 0, None)[:, None, :]
    with np.errstate(invalid="ignore"):
        med = 0.5 * (np.take_along_axis(srt, lo, axis=1) + np.take_along_axis(srt, hi, axis=1))[:, 0, :]
    out: Array = np.where(n > 0, med, np.nan)
    return out


def robust_baseline(history: Array) -> tuple[Array, Array, Array]:
    """history (devices, days, features) with NaN for days that do not count -> median, scale
    (1.4826 * MAD, at least the feature's floor) and the number of days, per device."""
    days = np.isfinite(history[:, :, 0]).sum(axis=1)
    median = nanmedian_axis1(history)
    with np.errstate(invalid="ignore"):
        mad = nanmedian_axis1(np.abs(history - median[:, None, :]))
    scale = np.maximum(np.nan_to_num(mad * MAD_TO_SD, nan=0.0), FLOORS)
    return median, scale, days


def zscores(x: Array, median: Array, scale: Array) -> Array:
    """Signed robust z-scores (rows, features), clipped to +-Z_CLIP."""
    out: Array = np.clip((x - median) / scale, -Z_CLIP, Z_CLIP)
    return out


def raw_score(z: Array, k: int = TOP_K) -> Array:
    """Mean of the k largest |z| per row (robust z units; higher = more anomalous)."""
    a = np.abs(np.nan_to_num(z[:, SCORED], nan=0.0))
    k = min(k, a.shape[1])
    top = -np.partition(-a, k - 1, axis=1)[:, :k]
    return np.asarray(top.mean(axis=1))


@dataclass(frozen=True)
class BudgetCalibration:
    """Levels of the raw score from a false-alarm budget (alarms per 1,000 device-days).

    level(raw) = 1 at the alarm line (a share budget/1000 of normal device-days above it), 2 at the
    warning line (a tenth of that), 3 at the critical line (a hundredth): linear in the raw score,
    since an exponential tail puts the three lines equally far apart."""

    line: float  # raw score of level 1
    step: float  # raw distance between levels
    n_holdout: int  # held-out device-days the tail was fitted on (0: defaults)
    budget: float  # alarms per 1,000 normal device-days

    @classmethod
    def fit(cls, holdout: Array, budget: float, min_line: float) -> BudgetCalibration:
        if budget <= 0:
            raise ValueError(f"budget must be positive, got {budget}")
        s = np.asarray(holdout, dtype=np.float64)
        s = s[np.isfinite(s)]
        p = budget / 1000.0
        if len(s) * (1 - TAIL_QUANTILE) < MIN_TAIL_POINTS:
            beta = DEFAULT_BETA
            line = max(DEFAULT_LINE, min_line)
            return cls(line=line, step=beta * math.log(10), n_holdout=int(len(s)), budget=budget)
        u = float(np.quantile(s, TAIL_QUANTILE))
        excess = s[s > u] - u
        beta = float(excess.mean()) if len(excess) else DEFAULT_BETA
        beta = max(beta, 0.1)
        line = u + beta * math.log((1 - TAIL_QUANTILE) / p) if p < 1 - TAIL_QUANTILE else u
        return cls(line=max(line, min_line), step=beta * math.log(10), n_holdout=int(len(s)), budget=budget)

    def level(self, raw: Array) -> Array:
        return np.maximum(1.0 + (np.asarray(raw, dtype=np.float64) - self.line) / self.step, 0.0)

    def as_dict(self) -> dict[str, Any]:
        return {"alarm_raw": round(self.line, 3), "warning_raw": round(self.line + self.step, 3),
                "critical_raw": round(self.line + 2 * self.step, 3), "holdout_device_days": self.n_holdout,
                "budget_per_1000_device_days": self.budget}


def _hhmm(hour: float) -> str:
    h = int(round(hour)) % 24
    return f"{h:02d}:00"


def explain(today: Array, usual: Array, z: Array, top: int = 3) -> list[dict[str, Any]]:
    """The features that moved most, in the device's own terms: feature, today's value, its usual
    value (the median of its history), z, and one sentence."""
    order = np.argsort(-np.where(SCORED, np.abs(np.nan_to_num(z)), -1.0))[:top]
    names = [FEATURE_NAMES[i] for i in order]
    out: list[dict[str, Any]] = []
    for i, name in zip(order, names, strict=True):
        t, u = float(today[i]), float(usual[i])
        if name == "off_hours_share":
            ti = FEATURE_NAMES.index("first_hour")
            li = FEATURE_NAMES.index("last_hour")
            text = (f"active {_hhmm(today[ti])}-{_hhmm(today[li] + 1)} instead of "
                    f"{_hhmm(usual[ti])}-{_hhmm(usual[li] + 1)} ({t:.0%} of its hours at hours it is rarely seen)")
        elif name == "sightings_per_hour":
            t, u = math.exp(t), math.exp(u)
            text = f"{t / u:.1f}x its usual sightings per hour ({t:.0f} vs {u:.0f})"
        elif name == "rssi_mean":
            text = f"{abs(t - u):.0f} dB {'stronger' if t > u else 'weaker'} than usual ({t:.0f} vs {u:.0f} dBm)"
        elif name == "active_hours":
            text = f"active {t:.0f} h instead of its usual {u:.0f} h"
        elif name == "minutes_per_hour":
            text = f"present {t:.0f} min of each active hour instead of {u:.0f}"
        elif name == "folders":
            text = f"seen in {t:.0f} folders instead of {u:.0f}"
        else:
            text = f"heard by {t:.0f} sensors instead of {u:.0f}"
        out.append({"feature": name, "today": round(t, 2), "usual": round(u, 2), "z": round(float(z[i]), 2),
                    "text": text})
    return out
