"""Lingering: a stranger stays within STATIONARY_RADIUS_M of one point for hours, near a sensor, with
a steady signal, longer than is usual for that folder at those hours.

Raw value: the dwell in hours (the longest run of 5-minute slots at one spot without a silence longer
than STATIONARY_MAX_GAP_MINUTES). Level: LINGER_HOURS_ALARM / _WARNING / _CRITICAL -> 1 / 2 / 3.
Evidence against (each multiplies the level by its factor, see docs/detectors.md):
unsteady signal, far from the sensor, randomized MAC, a dwell that is usual for the folder and hour on a
typical covered day, co-dwellers (a session), keeping the site's hours with its regulars (a shift), seen
before in the history (not new to the place), a density spike around the dwell, too little covered
history (veto), a learned fixture or the operators' list (veto).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from santiway_anomaly.calibration import best_sensor
from santiway_anomaly.detectors.findings import Against, Finding
from santiway_anomaly.detectors.stationary_common import Context, common_against, day_bounds, seen_before
from santiway_anomaly.detectors.util import deg_lat, floor_hour, piecewise_level, records
from santiway_anomaly.storage.queries import stationary as sql

SpikeHours = Callable[[Context, list[str]], set[tuple[str, int]]]


def lingering_findings(ctx: Context, spike_hours: SpikeHours) -> list[Finding]:
    s = ctx.settings
    window = ctx.window
    slot = s.slot_minutes * 60
    min_run_s = int(s.linger_hours_alarm * 3600 / 2)  # half the alarm level: co-dwellers are counted too
    known_end = floor_hour(window.start)
    df = ctx.store.query_df(sql.LINGER, {
        **ctx.known_params(known_end, s.detect_history_days),
        "start": window.start, "end": window.end, "slot": slot, "gap": s.stationary_max_gap_minutes * 60,
        "dlat": deg_lat(s.stationary_radius_m),
        "min_slots": max(2, math.ceil(min_run_s / (s.stationary_max_gap_minutes * 60))),
        "min_run_s": min_run_s,
    })
    if df.empty:
        return []
    df = df.sort_values(["device_id", "longest_s"], ascending=[True, False]).drop_duplicates("device_id")
    found = [_finding(ctx, row) for row in records(df)]
    _co_dwellers(ctx, found)
    live = [f for f in found if f.adjusted_level >= 1.0]
    _signal(ctx, live)
    live = [f for f in live if f.adjusted_level >= 1.0]
    _learning_and_usual(ctx, live)
    live = [f for f in live if f.adjusted_level >= 1.0]
    _shift(ctx, live, known_end)
    live = [f for f in live if f.adjusted_level >= 1.0]
    seen_before(ctx, live, known_end - timedelta(days=s.detect_history_days), known_end)
    live = [f for f in live if f.adjusted_level >= 1.0]
    _in_spike(ctx, live, spike_hours)
    live = [f for f in live if f.adjusted_level >= 1.0]
    for device, against in common_against(ctx, [f.device_id for f in live], "lingering").items():
        next(f for f in live if f.device_id == device).against.extend(against)
    return found


def _finding(ctx: Context, row: Any) -> Finding:
    s = ctx.settings
    hours = float(row.longest_s) / 3600
    start = datetime.fromtimestamp(int(row.run_start), UTC)
    end = start + timedelta(seconds=int(row.longest_s))
    day_start, day_end = day_bounds(start.date())
    against = []
    if int(row.is_randomized):
        against.append(Against("randomized MAC: phones keep one random MAC per network for a day or longer",
                               s.stationary_randomized_factor))
    return Finding(
        subject=str(row.device_id), window_start=day_start, window_end=day_end,
        # Capped at critical: a dwell beyond LINGER_HOURS_CRITICAL adds no evidence of watching (a dwell of a
        # whole day is more often new equipment not yet learned as a fixture), so evidence against keeps its say.
        level=min(3.0, piecewise_level(hours, (s.linger_hours_alarm, s.linger_hours_warning,
                                               s.linger_hours_critical))),
        raw=hours, pattern="lingering",
        reasons=[f"stayed {hours:.1f} h within {s.stationary_radius_m:.0f} m of one point"],
        against=against,
        evidence={"dwell_hours": round(hours, 2), "dwell_start": start.isoformat(), "dwell_end": end.isoformat(),
                  "slots": int(row.run_slots), "sightings_at_spot": int(row.sightings),
                  "rssi_mean": round(float(row.rssi_mean), 1), "rssi_std": round(float(row.rssi_std), 2),
                  "randomized": bool(int(row.is_randomized))},
        device_id=str(row.device_id), folder=str(row.folder), vendor=str(row.vendor),
        network_type=str(row.network_type), lat=float(row.lat), lon=float(row.lon))


def _run(f: Finding) -> tuple[int, int]:
    return (int(datetime.fromisoformat(f.evidence["dwell_start"]).timestamp()),
            int(datetime.fromisoformat(f.evidence["dwell_end"]).timestamp()))


def _co_dwellers(ctx: Context, found: list[Finding]) -> None:
    """Other strangers in the same folder who came and left with this one (both ends within
    STATIONARY_SESSION_TOLERANCE_MINUTES): a session, a meeting, a class. Grouped by folder: a crowd
    spreads over the place. Merely overlapping is not enough: staff phones that take a new random MAC
    every day look like strangers dwelling all day, and would make every watcher a session member."""
    s = ctx.settings
    by_folder: dict[str, list[Finding]] = {}
    for f in found:
        by_folder.setdefault(f.folder, []).append(f)
    for members in by_folder.values():
        runs = np.array([_run(f) for f in members], dtype=np.int64).reshape(-1, 2)
        s0, e0 = runs[:, 0], runs[:, 1]
        tol = s.stationary_session_tolerance_minutes * 60
        mates = (np.abs(s0[:, None] - s0[None, :]) <= tol) & (np.abs(e0[:, None] - e0[None, :]) <= tol)
        np.fill_diagonal(mates, False)
        for f, n in zip(members, mates.sum(axis=1), strict=True):
            f.evidence["co_dwellers"] = int(n)
            if n >= s.stationary_crowd_min:
                f.against.append(Against(f"{int(n)} other strangers came and left with it (a session or a "
                                         f"meeting, >= {s.stationary_crowd_min})", s.stationary_crowd_factor))


def _signal(ctx: Context, live: list[Finding]) -> None:
    """Near and steady, at the sensor hearing the device best (highest mean among the sensors with >= 3
    readings): mixing a near and a far sensor's readings would look like an unsteady signal."""
    s = ctx.settings
    if not live:
        return
    df = ctx.store.query_df(sql.SENSOR_RSSI, {"ids": [f.device_id for f in live], "start": ctx.window.start,
                                              "end": ctx.window.end})
    best: dict[str, Any] = {}
    calibration = ctx.shared.calibration(ctx.window.start)  # the sensors' levels (calibration.py)
    if not df.empty:
        best = {str(r.device_id): r for r in records(best_sensor(df, calibration))}
    for f in live:
        r = best.get(f.device_id)
        near_as = ""
        if r is not None:
            sd = float(r.sd) if not math.isnan(float(r.sd)) else float(f.evidence["rssi_std"])
            f.evidence.update(sensor_id=str(r.sensor), rssi_mean=round(float(r.m), 1), rssi_std=round(sd, 2))
            if r.offset:
                f.evidence.update(rssi_mean_calibrated=round(float(r.m_cal), 1), sensor_offset_db=round(r.offset, 1))
                near_as = f" calibrated ({calibration.describe(str(r.sensor))})"
        mean, sd = float(f.evidence.get("rssi_mean_calibrated", f.evidence["rssi_mean"])), float(f.evidence["rssi_std"])
        if sd > s.linger_max_rssi_std:
            f.against.append(Against(f"unsteady signal: hourly RSSI std {sd:.1f} dB > {s.linger_max_rssi_std:g} dB "
                                     "(the device moves about)", s.linger_unsteady_factor))
        else:
            f.reasons.append(f"steady signal: hourly RSSI std {sd:.1f} dB")
        # Pigtail/CYT: dwelling means dwelling near; a far, steady signal is a neighbour or a crowd's edge.
        if mean >= s.near_rssi_dbm:
            f.reasons.append(f"near: mean RSSI {mean:.0f} dBm{near_as} >= {s.near_rssi_dbm} dBm")
        else:
            f.against.append(Against(f"not near: mean RSSI {mean:.0f} dBm{near_as} < {s.near_rssi_dbm} dBm",
                                     s.linger_far_factor))


def _shift(ctx: Context, live: list[Finding], known_end: datetime) -> None:
    """A stranger whose presence in the folder that day began and ended with that of at least
    LINGER_SHIFT_MIN_REGULARS of the site's regulars (both ends within LINGER_SHIFT_TOLERANCE_MINUTES)
    keeps the site's working hours: a new colleague on the first day (not yet a regular), a temp, new
    equipment beside the always-on ones. Surveillance is a stranger keeping hours of its own; one who came
    and went with the staff is evidence against it. Only the run's window is read: no peeking at whether
    it comes back tomorrow."""
    s = ctx.settings
    if not live:
        return
    df = ctx.store.query_df(sql.PRESENCE, {
        **ctx.known_params(known_end, s.detect_history_days), "start": ctx.window.start, "end": ctx.window.end,
        "folders": sorted({f.folder for f in live}), "ids": sorted({f.device_id for f in live})})
    if df.empty:
        return
    own = {(str(r.device_id), str(r.folder)): (int(r.first_s), int(r.last_s)) for r in records(df)}
    candidates = {f.device_id for f in live}
    regulars = df[~df["device_id"].astype(str).isin(candidates)]
    by_folder = {str(k): (g["first_s"].to_numpy(dtype=np.int64), g["last_s"].to_numpy(dtype=np.int64))
                 for k, g in regulars.groupby("folder")}
    tol = s.linger_shift_tolerance_minutes * 60
    for f in live:
        mine = own.get((f.device_id, f.folder))
        ends = by_folder.get(f.folder)
        if mine is None or ends is None:
            continue
        n = int(((np.abs(ends[0] - mine[0]) <= tol) & (np.abs(ends[1] - mine[1]) <= tol)).sum())
        f.evidence["shift_regulars"] = n
        if n >= s.linger_shift_min_regulars:
            zone = s.zone_for(f.folder)
            first, last = (datetime.fromtimestamp(t, UTC).astimezone(zone) for t in mine)
            f.against.append(Against(
                f"keeps the site's hours: here {first:%H:%M}-{last:%H:%M}, arriving and leaving within "
                f"{s.linger_shift_tolerance_minutes:g} min of {n} regulars of the site (a shift: a new colleague, "
                f">= {s.linger_shift_min_regulars})", s.linger_shift_factor))


def _learning_and_usual(ctx: Context, live: list[Finding]) -> None:
    """A stranger is told from a regular only with REGULAR_MIN_DAYS covered days of the folder's history
    (fewer: veto); the folder's usual dwell is a baseline and needs LEARNING_MIN_DAYS covered days (fewer:
    the folder is learning and the dwell is judged by the absolute levels alone). A dwell no longer than
    what strangers stay in that folder at those hours on a typical day is ordinary there."""
    s = ctx.settings
    if not live:
        return
    hist_end = floor_hour(ctx.window.start)
    hist_start = hist_end - timedelta(days=s.detect_history_days)
    folders = sorted({f.folder for f in live})
    covered = {folder: set(ctx.covered_days(folder, hist_start, hist_end)) for folder in folders}
    ready = [f for f in folders if len(covered[f]) >= s.learning_min_days]
    usual = _usual_dwell(ctx, ready, covered, hist_start, hist_end)
    for f in live:
        days = len(covered[f.folder])
        f.evidence["folder_covered_days"] = days
        if days < s.regular_min_days:
            f.against.append(Against(f"folder history too short to tell a stranger: {days} covered days "
                                     f"< {s.regular_min_days}", 0.0))
            continue
        if days < s.learning_min_days:
            f.evidence["folder_state"] = "learning"  # no usual dwell yet: the absolute levels alone
            continue
        start, end = _run(f)
        zone = s.zone_for(f.folder)
        hods = sorted({datetime.fromtimestamp(h, UTC).astimezone(zone).hour
                       for h in range(start - start % 3600, end, 3600)})
        kind = "randomized" if f.evidence.get("randomized") else "stable"
        per_hod = usual.get((f.folder, kind == "randomized"))
        q = float(per_hod.iloc[hods].max()) if per_hod is not None and hods else 0.0
        f.evidence["usual_dwell_hours"] = round(q, 2)
        if q > 0 and f.raw < s.linger_usual_margin * q:
            f.against.append(Against(
                f"usual here: on a typical covered day (p{s.linger_usual_quantile * 100:.0f} over {days} days) "
                f"strangers with {kind} MACs stay up to {q:.1f} h in this folder at these hours",
                s.linger_usual_factor))


def _usual_dwell(ctx: Context, folders: list[str], covered: dict[str, set[Any]], start: datetime,
                 end: datetime) -> dict[tuple[str, bool], pd.Series]:
    """(folder, randomized) -> local hour of day (0..23) -> the usual dwell in hours: per covered day, the
    longest dwell of a stranger (not a regular of the history) covering that hour, 0 when none did; then
    LINGER_USUAL_QUANTILE of that over the folder's covered days. A quantile over days, not over dwells:
    one weekly session or one long-staying visitor makes one day, not the norm, while what happens every
    day (phones taking a new random MAC each day at work or on a night shift) is the norm. Stable and
    randomized MACs apart: a phone's random MAC of the day makes a stranger of a colleague, a stable MAC
    does not."""
    s = ctx.settings
    out: dict[tuple[str, bool], pd.Series] = {}
    if not folders:
        return out
    df = ctx.store.query_df(sql.DWELL_RUNS, {
        "start": start, "end": end, "folders": folders, "regular_min_days": s.regular_min_days,
        "min_dwell_s": int(s.linger_usual_min_minutes * 60)})
    if df.empty:  # no stranger dwelt in these folders: every usual dwell is 0
        df = pd.DataFrame({"folder": pd.Series(dtype=str), "is_randomized": pd.Series(dtype=int),
                           "hour": pd.Series(dtype="datetime64[ns, UTC]"), "longest_s": pd.Series(dtype=float)})
    hours = pd.RangeIndex(24)
    for folder in folders:
        days = sorted(covered.get(folder, set()))
        part = df[df["folder"] == folder]
        local = pd.DatetimeIndex(pd.to_datetime(part["hour"], utc=True)).tz_convert(s.zone_for(folder))
        for rnd in (False, True):
            sel = (part["is_randomized"].to_numpy() > 0) == rnd
            frame = pd.DataFrame({"day": np.asarray(local.date)[sel], "hod": np.asarray(local.hour)[sel],
                                  "h": part["longest_s"].to_numpy(dtype=float)[sel] / 3600})
            # days x hours of day, 0 where no stranger dwelt; only covered days count
            grid = (frame.groupby(["day", "hod"])["h"].max().unstack() if len(frame)
                    else pd.DataFrame(dtype=float))
            grid = grid.reindex(index=pd.Index(days), columns=hours, fill_value=0.0).fillna(0.0)
            out[(folder, rnd)] = grid.quantile(s.linger_usual_quantile, axis=0)
    return out


def _in_spike(ctx: Context, live: list[Finding], spike_hours: SpikeHours) -> None:
    """A dwell lying (almost) wholly inside hours when the folder held a density spike, by a device that
    came and left with other strangers (at least one co-dweller), is explained by the crowd. A device
    there an hour before the crowd came is not one of its members, and neither is one that came and left
    alone: spike hours are whole hours, so a lingerer who arrived an hour into a 3-hour crowd and stayed
    on after it lies "inside" them too (a planted lingerer of the guarded worlds)."""
    s = ctx.settings
    if not live:
        return
    spikes = spike_hours(ctx, sorted({f.folder for f in live}))
    for f in live:
        start, end = _run(f)
        inside = sum(max(0, min(end, h + 3600) - max(start, h))
                     for h in range(start - start % 3600, end, 3600) if (f.folder, h) in spikes)
        share = inside / max(1, end - start)
        f.evidence["dwell_share_in_spike"] = round(share, 2)
        if share >= s.linger_spike_share and int(f.evidence.get("co_dwellers", 0)) >= 1:
            f.against.append(Against(f"crowd: {share:.0%} of the dwell fell in hours when the folder held a "
                                     "density spike", s.linger_spike_factor))
