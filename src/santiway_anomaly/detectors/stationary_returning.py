"""Returning: a stranger back at the same spot (a STATIONARY_RADIUS_M cell) on several different days
of the last RETURN_LOOKBACK_DAYS, seen there in the window.

Raw value: the number of days at the spot (each with >= RETURN_MIN_MINUTES there). Level:
RETURN_DAYS_ALARM / _WARNING / _CRITICAL -> 1 / 2 / 3. A stranger is a device seen on fewer than
REGULAR_MIN_DAYS days of the RETURN_HISTORY_DAYS before the look-back: regular visitors (a daily or a
weekly rhythm) and staff back from an absence of up to about three weeks are known, not strangers.
Evidence against: the folder still learning (veto: too few covered days before the look-back to tell a
returner from a regular), randomized MAC, seen before the look-back on some day (an occasional visitor),
hours a day at the place like staff, a group returning on the same days, far from the sensor (over the
look-back, and day by day: only the days heard near count), an unsteady
signal (moving about, not watching a spot), a learned fixture or the operators' list (veto).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pandas as pd

from santiway_anomaly.calibration import best_sensor
from santiway_anomaly.detectors.findings import Against, Finding
from santiway_anomaly.detectors.stationary_common import Context, common_against, day_bounds, seen_before
from santiway_anomaly.detectors.util import as_date, deg_lat, floor_hour, piecewise_level, records, utc
from santiway_anomaly.storage.queries import stationary as sql


def returning_findings(ctx: Context) -> list[Finding]:
    s = ctx.settings
    end = ctx.window.end
    lookback_start = floor_hour(end) - timedelta(days=s.return_lookback_days)
    df = ctx.store.query_df(sql.RETURNING, {
        **ctx.known_params(lookback_start, s.return_history_days),
        "start": lookback_start, "end": end, "dlat": deg_lat(s.stationary_radius_m),
        "min_minutes": s.return_min_minutes, "min_days": s.return_days_alarm,
        "window_start": floor_hour(ctx.window.start), "tz": s.timezone,
    })
    if df.empty:
        return []
    df = df.sort_values(["device_id", "days"], ascending=[True, False]).drop_duplicates("device_id")
    levels = (float(s.return_days_alarm), float(s.return_days_warning), float(s.return_days_critical))
    hist_start = lookback_start - timedelta(days=s.return_history_days)
    covered = {str(f): len(ctx.covered_days(str(f), hist_start, lookback_start)) for f in df["folder"].unique()}
    found: list[Finding] = []
    for row in records(df):
        days = [as_date(d) for d in row.day_list]
        last = utc(pd.Timestamp(row.last_seen_hour).to_pydatetime())
        day_start, day_end = day_bounds(last.date())
        against: list[Against] = []
        n_covered = covered.get(str(row.folder), 0)
        if n_covered < s.learning_min_days:
            against.append(Against(f"folder learning: {n_covered} covered days before the look-back "
                                   f"< {s.learning_min_days}", 0.0))
        if int(row.is_randomized):
            against.append(Against("randomized MAC kept for days: a phone's per-network MAC for this place's "
                                   "network (a user of it)", s.return_randomized_factor))
        found.append(Finding(
            subject=str(row.device_id), window_start=day_start, window_end=day_end,
            # Capped at critical: more days than that (at most the look-back) add no more evidence.
            level=min(3.0, piecewise_level(float(row.days), levels)), raw=float(row.days), pattern="returning",
            reasons=[f"at the same spot on {int(row.days)} different days in {s.return_lookback_days} days, "
                     f"unknown before"],
            against=against,
            evidence={"days_at_spot": int(row.days), "days": [d.isoformat() for d in days],
                      "minutes_at_spot": int(row.spot_minutes), "lookback_days": s.return_lookback_days,
                      "folder_covered_days": n_covered, "randomized": bool(int(row.is_randomized))},
            device_id=str(row.device_id), folder=str(row.folder), lat=float(row.lat), lon=float(row.lon)))
    _co_returners(ctx, found)
    seen_before(ctx, [f for f in found if f.adjusted_level >= 1.0], hist_start, lookback_start)
    _hours_a_day(ctx, [f for f in found if f.adjusted_level >= 1.0], lookback_start, end)
    _near(ctx, [f for f in found if f.adjusted_level >= 1.0], lookback_start, end)
    _near_days(ctx, [f for f in found if f.adjusted_level >= 1.0], lookback_start, end)
    live = [f for f in found if f.adjusted_level >= 1.0]
    for device, extra in common_against(ctx, [f.device_id for f in live], "returning").items():
        next(f for f in live if f.device_id == device).against.extend(extra)
    return found


def _co_returners(ctx: Context, found: list[Finding]) -> None:
    """Other returning strangers in the same folder on at least RETURN_DAYS_ALARM of the same days: a
    class or a group that started coming together (a new term, a project), not a lone watcher."""
    s = ctx.settings
    by_folder: dict[str, list[Finding]] = {}
    for f in found:
        by_folder.setdefault(f.folder, []).append(f)
    for members in by_folder.values():
        days = [set(f.evidence["days"]) for f in members]
        for i, f in enumerate(members):
            n = sum(1 for j, other in enumerate(days) if j != i and len(days[i] & other) >= s.return_days_alarm)
            f.evidence["co_returners"] = n
            if n >= s.stationary_crowd_min:
                f.against.append(Against(f"{n} other strangers came back to the folder on the same days (a group, "
                                         f">= {s.stationary_crowd_min})", s.stationary_crowd_factor))


def _hours_a_day(ctx: Context, live: list[Finding], lookback_start: datetime, end: datetime) -> None:
    """At the place RETURN_STAFF_HOURS or more on a typical day of the look-back (median over its local
    days of its time there that day, across the folder, not only at the spot): staff, a new hire, a
    contractor (RETURN_STAFF_FACTOR); a watcher comes back for a while, not for a working day."""
    s = ctx.settings
    if not live:
        return
    df = ctx.store.query_df(sql.RETURN_VISITS, {"ids": [f.device_id for f in live], "start": lookback_start,
                                                "end": end})
    rows = {str(r.device_id): r for r in records(df)}
    for f in live:
        r = rows.get(f.device_id)
        visits = pd.DataFrame([tuple(v) for v in r.visits] if r is not None else [], columns=["start", "seconds"])
        if visits.empty:
            continue
        day = pd.to_datetime(visits["start"], unit="s", utc=True).dt.tz_convert(s.zone_for(f.folder)).dt.date
        hours_a_day = float(visits.groupby(day.to_numpy())["seconds"].sum().median()) / 3600
        f.evidence["hours_a_day_at_place"] = round(hours_a_day, 1)
        if hours_a_day >= s.return_staff_hours:
            f.against.append(Against(f"at the place {hours_a_day:.1f} h on a typical day, like staff "
                                     f"(>= {s.return_staff_hours:g} h)", s.return_staff_factor))


def _near(ctx: Context, live: list[Finding], start: datetime, end: datetime) -> None:
    """Watching a spot means being near it (RSSI >= RETURN_NEAR_RSSI_DBM) and still at it (a steady
    signal, as for lingering: median hourly RSSI std <= LINGER_MAX_RSSI_STD), at the sensor hearing it
    best over the look-back. A device heard only far off on its returns passes by the place (a visitor at
    the edge of range, a neighbour); one whose signal swings on its visits moves about the place (a
    visitor walking through a shop or a hall), it does not watch a spot."""
    s = ctx.settings
    if not live:
        return
    df = ctx.store.query_df(sql.SENSOR_RSSI, {"ids": [f.device_id for f in live], "start": start, "end": end})
    best: dict[str, tuple[float, float, float, str]] = {}
    calibration = ctx.shared.calibration(ctx.window.start)  # the sensors' levels (calibration.py)
    if not df.empty:
        df = best_sensor(df, calibration)
        best = {str(d): (float(m), float(sd), float(o), str(x)) for d, m, sd, o, x in
                zip(df["device_id"], df["m"], df["sd"], df["offset"], df["sensor"], strict=True)}
    for f in live:
        if f.device_id not in best:
            continue
        mean, sd, offset, sensor = best[f.device_id]
        f.evidence["rssi_mean"] = round(mean, 1)
        near_as = ""
        if offset:
            mean -= offset  # on the reference scale
            f.evidence.update(sensor_id=sensor, rssi_mean_calibrated=round(mean, 1), sensor_offset_db=round(offset, 1))
            near_as = f" calibrated ({calibration.describe(sensor)})"
        if not math.isnan(sd):  # NaN: no hour with 3 readings at that sensor, steadiness unknown
            f.evidence["rssi_std"] = round(sd, 2)
            if sd > s.linger_max_rssi_std:
                f.against.append(Against(f"unsteady signal on its visits: hourly RSSI std {sd:.1f} dB > "
                                         f"{s.linger_max_rssi_std:g} dB (moving about the place, not watching a "
                                         "spot)", s.linger_unsteady_factor))
            else:
                f.reasons.append(f"steady signal: hourly RSSI std {sd:.1f} dB")
        if mean >= s.return_near_rssi_dbm:
            f.reasons.append(f"near: mean RSSI {mean:.0f} dBm{near_as} >= {s.return_near_rssi_dbm} dBm")
        else:
            f.against.append(Against(f"not near: mean RSSI {mean:.0f} dBm{near_as} < {s.return_near_rssi_dbm} dBm "
                                     "(passing by, not watching)", s.linger_far_factor))


def _near_days(ctx: Context, live: list[Finding], start: datetime, end: datetime) -> None:
    """Near is judged day by day: a day counts as a day *at the spot* only if the device was heard near
    that day (mean RSSI at the sensor hearing it best that day >= RETURN_NEAR_RSSI_DBM). A visitor who
    sat near on two days and passed at the edge of range on a third was back twice, not three times,
    however near the mean over the week looks. The level is that of the near days: the factor is
    level(near days) / level(days at the spot) (0 below the alarm level: fewer near days than
    RETURN_DAYS_ALARM is no return). Days without 3 readings at any sensor are not judged (kept).
    A day's mean is a measurement: the day is far only when it lies below the line by more than
    RETURN_NEAR_DAY_Z standard errors of that mean (a watcher at -68 dBm heard 15 times at 3 dB spread
    averages -70.1 on some day; a pass-by at -77 dBm is far whatever its count)."""
    s = ctx.settings
    if not live:
        return
    df = ctx.store.query_df(sql.DAY_BEST_RSSI, {"ids": [f.device_id for f in live], "start": start, "end": end,
                                                "tz": s.timezone})
    if len(df):  # the sensor hearing it best that day, on the reference scale (calibration.py)
        df = best_sensor(df, ctx.shared.calibration(ctx.window.start), by=("device_id", "day"))
    best = {(str(d), as_date(day).isoformat()): float(m) + s.return_near_day_z * _finite(se)
            for d, day, m, se in zip(df["device_id"], df["day"], df["m_cal"], df["se"], strict=True)} \
        if len(df) else {}
    levels = (float(s.return_days_alarm), float(s.return_days_warning), float(s.return_days_critical))
    for f in live:
        days = list(f.evidence["days"])
        far = [d for d in days if best.get((f.device_id, d), 0.0) < s.return_near_rssi_dbm]
        f.evidence["days_near"] = len(days) - len(far)
        if not far:
            continue
        near = len(days) - len(far)
        factor = 0.0 if near < s.return_days_alarm else min(3.0, piecewise_level(float(near), levels)) / f.level
        if factor >= 1.0:  # both at the cap: the near days alone make the same level
            continue
        f.against.append(Against(
            f"near the spot on only {near} of its {len(days)} days: on {', '.join(far)} heard only below "
            f"{s.return_near_rssi_dbm} dBm (passing at the edge of range, not back at the spot)", factor))


def _finite(x: object) -> float:
    """A standard error from SQL (NaN or inf when a sensor's readings are all equal or too few): 0."""
    v = float(x)  # type: ignore[arg-type]
    return v if math.isfinite(v) else 0.0
