"""The personal baseline: is this device-day unlike the device's own covered history?

Pure numpy, no torch, no store (the detector in detectors/ml_behavior.py feeds it).

- Daily vector (FEATURES): sightings per active hour (log), active hours, RSSI mean, minutes present
  per active hour, sensors of the day, folders of the day it has never been seen in on its other
  covered days (one such folder is a change, in a site of 3 folders as of 30), and its schedule:
  active hours at hours of day it is rarely active at on its other covered days, apart from its
  usual day (an early start that runs on into its usual hours is a long day, not a new schedule),
  and the hours its day moved by (`schedule_hours`); folders, first / last / mean local hour
  explain, not score.
  The history-relative features are computed leave-one-out on the history days too, so that a
  device whose hours or places wander every day has a wide scale for them, as it should.
- Baseline per device and feature: median and MAD over the device's covered history days. The
  robust z-score of a day is (value - median) / max(1.4826 * MAD, floor): the floor is the change
  that is too small to matter whatever the history says (1 hour of schedule, 3 dB, 30 % in rate),
  so a device with an utterly regular history (a fixture, MAD = 0) does not alarm on noise.
- Raw score (unit: robust z) = the largest |z| of the day (TOP_K = 1). A device that changed in one
  way (only its signal, only its hours) moves one feature: a mean over the top three diluted exactly
  those changes (world families, issue 12: schedule and signal changes scored 1.2-1.9 against
  normal days up to 2.5). The floors, not an average, keep one noisy feature from alarming: each is
  a quarter of a change that matters, so such a change scores 4. Higher = more anomalous.
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
DECILE = 0.9
IDR_TO_SD = 2.563  # the 10th-90th percentile range of a normal distribution is 2.563 standard deviations
TOP_K = 1
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
# scored by `off_hours` instead (today's active hours at hours of day the device is
# rarely active at), which a split shift does not move.
# Floors: a quarter of the change the issue calls a change (z = 4 there): 2.7x the sightings per
# hour (log 1.0), 10 h more or less active, 8 dB, 24 min more or less of each hour, 4 more sensors,
# 5 hours at hours of day it is rarely seen at.
# Places are counted, not measured: one folder the device has never been seen in on any of its
# covered days (>= LEARNING_MIN_DAYS of them) is the change the definition names ("places it never
# visits"), whether the site has 3 folders or 30. Its floor is a fifth of one folder, so that one
# such folder scores 5 against a history that never wandered: above the default line (4) and the
# budget lines the held-out days gave (3.0-4.5 over the world families). The old floor (a quarter of
# 1.3 folders) let one new folder score only 3.0, so a device moving to the one other folder of a
# 2-3-folder site was never flagged (issue 12: small_site recall 0.67, places 0 of 2). A device
# whose history does wander (a new folder on some of its covered days, leave-one-out) gets a wide
# scale from its own days and is not flagged for wandering again.
FEATURES: tuple[DailyFeature, ...] = (
    DailyFeature("sightings_per_hour", floor=0.25, log=True),
    DailyFeature("active_hours", floor=2.5),
    DailyFeature("rssi_mean", floor=2.0),
    DailyFeature("minutes_per_hour", floor=6.0),
    DailyFeature("folders", floor=0.5, scored=False),
    DailyFeature("new_folders", floor=0.2),
    DailyFeature("sensors", floor=1.0),
    DailyFeature("off_hours", floor=1.25),
    DailyFeature("shifted_hours", floor=0.75),
    DailyFeature("first_hour", floor=1.0, scored=False),
    DailyFeature("last_hour", floor=1.0, scored=False),
    DailyFeature("mid_hour", floor=0.75, scored=False),
)
FEATURE_NAMES = tuple(f.name for f in FEATURES)
FLOORS = np.array([f.floor for f in FEATURES])
SCORED = np.array([f.scored for f in FEATURES])
OFF = FEATURE_NAMES.index("off_hours")
SHIFTED = FEATURE_NAMES.index("shifted_hours")
NEW_FOLDERS = FEATURE_NAMES.index("new_folders")
RARE_HOUR = 0.2  # an hour of day is "rare" for a device active at it on fewer than 20 % of its days
CORE_HOUR = 0.5  # ... and one of its "core" hours when active at it on at least half of its days


def daily_matrix(columns: dict[str, Array], bits: Array) -> Array:
    """(rows, features) from the daily SQL columns (storage/queries/ml_behavior.py DAILY_COLUMNS) and the rows'
    active hours `bits` (rows, 24); the off_hours and new_folders columns are NaN here
    (they need the device's history: see `off_hours` and `new_folders`)."""
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
        "new_folders": np.full(len(hours), np.nan),
        "sensors": columns["n_sensors"],
        "off_hours": np.full(len(hours), np.nan),
        "shifted_hours": np.full(len(hours), np.nan),
        "first_hour": first,
        "last_hour": last,
        "mid_hour": columns["mid_hour"],
    }
    return np.column_stack([np.asarray(raw[n], dtype=np.float64) for n in FEATURE_NAMES])


def hour_bits(mask: Array) -> Array:
    """uint32 masks (bit h = active in local hour h) -> bool (..., 24)."""
    m = np.asarray(mask, dtype=np.uint32)
    # The mask's bytes, least significant first, unpacked bit by bit (little-endian bit order): one
    # vectorised pass instead of 24 shifts of the whole array (1 s at 1.2 M device-days).
    as_bytes = np.ascontiguousarray(m, dtype="<u4").reshape(-1).view(np.uint8).reshape(*m.shape, 4)
    out: Array = np.unpackbits(as_bytes, axis=-1, bitorder="little")[..., :24].astype(bool)
    return out


def hour_masks(bits: Array) -> Array:
    """bool (..., 24) -> uint32 masks (bit h = active in local hour h); the inverse of `hour_bits`."""
    b = np.asarray(bits, dtype=bool)
    out: Array = (b.astype(np.uint32) << np.arange(24, dtype=np.uint32)).sum(axis=-1, dtype=np.uint32)
    return out


def _hour_counts(h: Array, u: Array) -> tuple[Array, Array]:
    """Days active at each hour of day over the usable days (devices, 24), and the usable days (devices,)."""
    n = u.sum(axis=1)
    hu = np.where(u, h, np.uint32(0))
    counts = np.empty((h.shape[0], 24), dtype=np.int32)  # one pass per hour
    for k in range(24):
        counts[:, k] = np.count_nonzero(hu & np.uint32(1 << k), axis=1)
    return counts, n


def _per_day(u: Array, own: Array, new: Array) -> Array:
    """A usable day gets its leave-one-out mask `own`, any other day the mask over all usable days."""
    out: Array = np.where(u, own[:, None], new[:, None])
    return out


DAY_BITS = np.uint32((1 << 24) - 1)


def _rotate(m: Array, k: int) -> Array:
    """24-bit masks rotated by k hours (the day is a circle: a night shift runs through midnight)."""
    k %= 24
    out: Array = ((m << np.uint32(k)) | (m >> np.uint32(24 - k))) & DAY_BITS
    return out


def attached(h: Array, seed: Array) -> Array:
    """The hours of each day's mask `h` joined to an hour of `seed` through consecutive active hours
    of `h` (around midnight too): the stretch of the day that contains its usual hours."""
    grown: Array = h & seed
    for _ in range(23):  # a stretch grows by one hour each way per pass; most settle in a few passes
        nxt = (grown | _rotate(grown, 1) | _rotate(grown, 23)) & h
        if np.array_equal(nxt, grown):
            break
        grown = nxt
    return grown


def schedule_hours(hours: Array, usable: Array) -> tuple[Array, Array]:
    """(off_hours, shifted_hours) of every device-day, both leave-one-out on the usable days and NaN
    on days without activity.

    off_hours: the day's active hours at rare hours of the device (active at them on fewer than
    RARE_HOUR of its usable days) that are *detached* from its usual day, i.e. not joined to one of
    its core hours (active at them on at least CORE_HOUR of its days) by consecutive active hours.
    A count, not a share: two odd hours of a three-hour day are weak evidence of a new schedule,
    five of a shifted working day are strong. An early start or a late stay that runs on into its
    usual hours is a long day, which `active_hours` judges: an employee who came at 05:45 instead of
    09:00 once had 4 "odd" hours and alarmed at a line of 3 (issue 12, world families' hard
    negative); a separate block at hours it is never seen at ("active 03:00-07:00 instead of
    09:00-18:00") stays whole.
    shifted_hours: the smaller of the day's rare hours (attached or not) and its missed core hours
    (core hours not active today): a day moved by hours has both, a long day only the first, a
    short day only the second (active_hours speaks for those).
    Only two rare / core masks per device can occur (the day is usable or not), so the work is on
    (devices, days) masks, not on (devices, days, 24) cells."""
    h = np.asarray(hours, dtype=np.uint32)
    u = np.asarray(usable, dtype=bool)
    counts, n = _hour_counts(h, u)
    # judged against all usable days / a usable day against the others
    rare = _per_day(u, hour_masks(counts - 1 < RARE_HOUR * (n[:, None] - 1)),
                    hour_masks(counts < RARE_HOUR * n[:, None]))
    # a missed hour of a usable day is not among that day's own, so the others count it whole
    core = _per_day(u, hour_masks((counts >= CORE_HOUR * (n[:, None] - 1)) & (n[:, None] > 1)),
                    hour_masks((counts >= CORE_HOUR * n[:, None]) & (n[:, None] > 0)))
    odd = np.bitwise_count(h & rare)
    detached = np.bitwise_count(h & rare & ~attached(h, core))
    missed = np.bitwise_count(core & ~h)
    active = h > 0
    off: Array = np.where(active, detached.astype(np.float32), np.nan)
    shifted: Array = np.where(active, np.minimum(odd, missed).astype(np.float32), np.nan)
    return off, shifted


def off_hours(hours: Array, usable: Array) -> Array:
    """hours (devices, days) uint32 active-hour masks, usable (devices, days: the history days) ->
    each day's odd hours detached from its usual day (`schedule_hours`)."""
    return schedule_hours(hours, usable)[0]


def shifted_hours(hours: Array, usable: Array) -> Array:
    """The smaller of a day's rare hours and its missed core hours (`schedule_hours`)."""
    return schedule_hours(hours, usable)[1]


def new_folders(masks: Array, usable: Array) -> Array:
    """masks (devices, days) uint64 (the day's folders as hash bits), usable (devices, days) ->
    folders of each day not seen on the device's other usable days (leave-one-out, as above): the
    folders seen on two or more usable days, or once on another day, are known."""
    m = np.asarray(masks, dtype=np.uint64)
    u = np.asarray(usable, dtype=bool)
    once = np.zeros(m.shape[0], dtype=np.uint64)
    twice = np.zeros(m.shape[0], dtype=np.uint64)
    for d in range(m.shape[1]):  # days: a handful of passes over (devices,) words
        md = np.where(u[:, d], m[:, d], np.uint64(0))
        twice |= once & md
        once |= md
    known = np.where(u, twice[:, None] | (once[:, None] & ~m), once[:, None])
    out: Array = np.bitwise_count(m & ~known).astype(np.float32)
    return out


def _order_stat(srt: Array, idx: Array) -> Array:
    """srt (devices, features, days) sorted along the last axis, idx (devices, features) -> values."""
    out: Array = np.take_along_axis(srt, idx[:, :, None], axis=2)[:, :, 0]
    return out


def nanmedian_axis1(a: Array) -> Array:
    """Median over axis 1 ignoring NaN, for (devices, days, features): one sort along a contiguous
    last axis and two takes, several times faster than np.nanmedian on many short rows. All-NaN -> NaN."""
    srt = np.sort(np.ascontiguousarray(np.swapaxes(a, 1, 2)), axis=2)  # NaN sorts last
    return _median_sorted(srt)


def _median_sorted(srt: Array) -> Array:
    n = np.isfinite(srt).sum(axis=2)  # (devices, features)
    lo, hi = np.clip((n - 1) // 2, 0, None), np.clip(n // 2, 0, None)
    with np.errstate(invalid="ignore"):
        med = 0.5 * (_order_stat(srt, lo) + _order_stat(srt, hi))
    out: Array = np.where(n > 0, med, np.nan)
    return out


def robust_baseline(history: Array) -> tuple[Array, Array, Array]:
    """history (devices, days, features) with NaN for days that do not count -> median, scale and
    the number of days, per device. Scale: the larger of 1.4826 * MAD and the inter-decile range
    over 2.563 (both the standard deviation for normal data), at least the feature's floor. The MAD
    alone under-reads heavy-tailed days (a guard whose signal is -64 dBm on most nights and -71 on a
    few: MAD 1.5 dB, so an ordinary -75 night scored 5.5); the deciles see those days. The deciles
    are the nearest order statistics rounded outwards (few days: the outermost ones)."""
    days = np.isfinite(history[:, :, 0]).sum(axis=1)
    srt = np.sort(np.ascontiguousarray(np.swapaxes(history, 1, 2)), axis=2)  # (devices, features, days)
    n = np.isfinite(srt).sum(axis=2)
    median = _median_sorted(srt)
    lo = np.clip(np.floor((1 - DECILE) * (n - 1)).astype(np.int64), 0, None)
    hi = np.clip(np.ceil(DECILE * (n - 1)).astype(np.int64), 0, None)
    with np.errstate(invalid="ignore"):
        idr = np.where(n > 1, _order_stat(srt, hi) - _order_stat(srt, lo), np.nan) / IDR_TO_SD
        mad = _median_sorted(np.sort(np.abs(srt - median[:, :, None]), axis=2))
    scale = np.maximum(np.maximum(np.nan_to_num(mad * MAD_TO_SD, nan=0.0), np.nan_to_num(idr, nan=0.0)), FLOORS)
    return median, scale, days


def zscores(x: Array, median: Array, scale: Array) -> Array:
    """Signed robust z-scores (rows, features), clipped to +-Z_CLIP."""
    out: Array = np.clip((x - median) / scale, -Z_CLIP, Z_CLIP)
    return out


SHARED_MIN_DEVICES = 50  # devices scored on a day before their common shift is trusted


def remove_shared_shift(z: Array) -> Array:
    """z (devices, features) of one day -> z minus the day's median z per feature, when at least
    SHARED_MIN_DEVICES devices were scored. A change every device shares (a scanner firmware that
    triples everyone's sightings, a sensor moved for the whole folder) is not a device unlike itself;
    on a normal day the median z is about 0 and this changes nothing."""
    if z.shape[0] < SHARED_MIN_DEVICES:
        return z
    shift = np.nanmedian(z, axis=0)
    out: Array = z - np.nan_to_num(shift, nan=0.0)[None, :]
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
        if name == "off_hours":
            ti = FEATURE_NAMES.index("first_hour")
            li = FEATURE_NAMES.index("last_hour")
            text = (f"active {_hhmm(today[ti])}-{_hhmm(today[li] + 1)} instead of "
                    f"{_hhmm(usual[ti])}-{_hhmm(usual[li] + 1)} ({t:.0f} h at hours it is rarely seen)")
        elif name == "shifted_hours":
            ti = FEATURE_NAMES.index("first_hour")
            li = FEATURE_NAMES.index("last_hour")
            text = (f"its day moved: active {_hhmm(today[ti])}-{_hhmm(today[li] + 1)} instead of "
                    f"{_hhmm(usual[ti])}-{_hhmm(usual[li] + 1)} ({t:.0f} h of its usual hours missed "
                    "and as many at odd hours)")
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
        elif name == "new_folders":
            text = f"in {t:.0f} folder{'s' if round(t) != 1 else ''} it has never visited"
        else:
            text = f"heard by {t:.0f} sensors instead of {u:.0f}"
        out.append({"feature": name, "today": round(t, 2), "usual": round(u, 2), "z": round(float(z[i]), 2),
                    "text": text})
    return out
