"""ClickHouse queries of the stationary-surveillance detector (kept apart so the logic reads alone).

Spots: a device's positions are put on two square grids of STATIONARY_RADIUS_M cells, the second
shifted by half a cell (`g` = 0 or 0.5), so a device sitting near a cell border is still wholly
inside one cell of one of the grids.
"""

from __future__ import annotations

from datetime import datetime

from santiway_anomaly.storage.store import Store


def _regulars(start: str, end: str) -> str:
    """Devices that are regulars of the site between the parameters `start` and `end` (the days that
    started before `end`: a partial last day counts): seen on >= regular_min_days UTC days whose
    sightings span at least (regular_min_days - 1) x 24 h. One presence across midnight touches two
    adjacent days (a night shift, an evening visit, a day shift in a zone far from UTC, as device_days
    are UTC days): it is one visit, not two. Only devices whose days alone leave that open (no more days
    than needed, adjacent) are read from the hourly aggregates, for their first and last sighting.
    (anomaly_ml.device_days, migration 011: one row per device per UTC day.)"""
    days = f"""
        SELECT device_id, uniqExact(day) AS n, dateDiff('day', min(day), max(day)) AS span
        FROM anomaly_ml.device_days
        WHERE day >= toDate({{{start}:DateTime('UTC')}})
          AND day <= toDate({{{end}:DateTime('UTC')}} - INTERVAL 1 SECOND)
        GROUP BY device_id
        HAVING n >= {{regular_min_days:UInt32}}"""
    return f"""
    SELECT device_id FROM ({days}) WHERE span >= {{regular_min_days:UInt32}}
    UNION ALL
    SELECT device_id FROM anomaly_ml.hourly_features
    WHERE hour >= toStartOfDay({{{start}:DateTime('UTC')}}) AND hour < {{{end}:DateTime('UTC')}}
      AND device_id IN (SELECT device_id FROM ({days}) WHERE span < {{regular_min_days:UInt32}})
    GROUP BY device_id
    HAVING dateDiff('second', min(first_seen), max(last_seen)) >= ({{regular_min_days:UInt32}} - 1) * 86400
"""


# Regulars of the history before `known_end`: known to the site. Lingering and returning are about
# strangers, so these are left out before any work.
_KNOWN = _regulars("known_start", "known_end")

# Per (device, folder) in the window: first and last sighting there, for the lingering candidates `ids`
# and for the regulars of the history (known_start, known_end) - the site's own people - in the
# candidates' folders: did a stranger come and leave with the site's regulars, like a shift?
PRESENCE = """
SELECT device_id, f AS folder, toInt64(toUnixTimestamp(min(first_seen))) AS first_s,
       toInt64(toUnixTimestamp(max(last_seen))) AS last_s
FROM anomaly_ml.hourly_features
ARRAY JOIN folders AS f
WHERE hour >= toStartOfHour({start:DateTime('UTC')}) AND hour < {end:DateTime('UTC')}
  AND f IN (SELECT arrayJoin({folders:Array(String)}))
  AND (device_id IN (SELECT arrayJoin({ids:Array(String)})) OR device_id IN (""" + _KNOWN + """))
GROUP BY device_id, f
"""

# Days and days of the week seen in [known_start, known_end) of the given regulars (anomaly_ml.device_days:
# one row per device per UTC day): to tell the site's daily people (on several days of the week) from the
# regulars of a weekly class or meeting (always on the same day of the week).
DAYS_SEEN = """
SELECT device_id, uniqExact(day) AS days, uniqExact(toDayOfWeek(day)) AS weekdays
FROM anomaly_ml.device_days
WHERE device_id IN (SELECT arrayJoin({ids:Array(String)}))
  AND day >= toDate({known_start:DateTime('UTC')})
  AND day <= toDate({known_end:DateTime('UTC')} - INTERVAL 1 SECOND)
GROUP BY device_id
"""

# Per device per slot: mean position and signal, then per device per spot: the slots, sorted.
# The longest run of slots without a gap > max_gap is the dwell, measured from its first to its last
# sighting (not padded to whole slots: a 2-hour stay must not read as 2 h 05 min).
LINGER = """
SELECT device_id, g, cy, cx, n_slots, rssi_mean, rssi_std, lat, lon, sightings, folder, vendor,
       network_type, is_randomized,
       arraySplit((x, d) -> d > {gap:Int64}, st, arrayDifference(arrayMap(x -> x.1, st))) AS runs,
       arraySort(x -> -x.1, arrayMap(r -> (r[-1].3 - r[1].2, r[1].2, length(r)), runs))[1] AS best,
       best.1 AS longest_s, best.2 AS run_start, best.3 AS run_slots
FROM
(
    SELECT device_id, g, cy, cx, count() AS n_slots, arraySort(groupArray((s, t0, t1))) AS st,
           avg(r) AS rssi_mean, stddevPop(r) AS rssi_std, avg(la) AS lat, avg(lo) AS lon,
           sum(n) AS sightings, anyHeavy(f) AS folder, any(v) AS vendor, any(nt) AS network_type,
           max(rnd) AS is_randomized
    FROM
    (
        -- The signal of a slot is that of the sensor hearing the device best (its mean RSSI there):
        -- "near" and "steady" are about the closest sensor, not an average over far ones.
        SELECT device_id, s, min(t0_s) AS t0, max(t1_s) AS t1,
               sum(la_s) / sum(n_s) AS la, sum(lo_s) / sum(n_s) AS lo, max(r_s) AS r,
               sum(n_s) AS n, argMax(f_s, n_s) AS f, any(v_s) AS v, any(nt_s) AS nt, max(rnd_s) AS rnd
        FROM
        (
            SELECT device_id, intDiv(toUInt32(toDateTime(ts)), {slot:UInt32}) * {slot:UInt32} AS s,
                   toInt64(toUnixTimestamp(min(ts))) AS t0_s, toInt64(toUnixTimestamp(max(ts))) AS t1_s,
                   sum(lat) AS la_s, sum(lon) AS lo_s, avg(rssi) AS r_s, count() AS n_s,
                   toString(any(folder)) AS f_s, toString(any(vendor)) AS v_s,
                   toString(any(network_type)) AS nt_s, max(is_randomized) AS rnd_s
            FROM santi.way_data
            WHERE ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
              AND device_id NOT IN (""" + _KNOWN + """)
            GROUP BY device_id, s, sensor_id
        )
        GROUP BY device_id, s
    )
    ARRAY JOIN [0., 0.5] AS g
    GROUP BY device_id, g, floor(la / {dlat:Float64} + g) AS cy,
             floor(lo * cos(radians(la)) / {dlat:Float64} + g) AS cx
    HAVING n_slots >= {min_slots:UInt32}
)
WHERE longest_s >= {min_run_s:UInt32}
"""

# Per device per hour position from the hourly aggregates, per spot per local day (TIMEZONE) active minutes:
# at UTC+10 a visit at 16:25 and one at 09:30 the next local day are two days, which UTC days would merge.
_SPOT_DAYS = """
    SELECT device_id, g, cy, cx, day, sum(m) AS minutes, avg(la) AS spot_lat, avg(lo) AS spot_lon,
           max(hour) AS last_hour, anyHeavy(f) AS spot_folder, max(r) AS rnd
    FROM
    (
        -- minutes present in the hour: first to last sighting (cheap; uniqExactMerge of the active
        -- minutes would cost several times more over a week of every device)
        SELECT device_id, hour, toDate(hour, {tz:String}) AS day, sum(lat_sum) / sum(event_count) AS la,
               sum(lon_sum) / sum(event_count) AS lo,
               dateDiff('second', min(first_seen), max(last_seen)) / 60 + 1 AS m,
               toString(anyHeavy(folders[1])) AS f, max(is_randomized) AS r
        FROM anomaly_ml.hourly_features
        WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
          AND device_id NOT IN (""" + _KNOWN + """)
        GROUP BY device_id, hour
    )
    ARRAY JOIN [0., 0.5] AS g
    GROUP BY device_id, g, floor(la / {dlat:Float64} + g) AS cy,
             floor(lo * cos(radians(la)) / {dlat:Float64} + g) AS cx, day
    HAVING minutes >= {min_minutes:UInt32}
"""

RETURNING = """
SELECT device_id, g, cy, cx, uniqExact(day) AS days, arraySort(groupArray(day)) AS day_list,
       max(last_hour) AS last_seen_hour, avg(spot_lat) AS lat, avg(spot_lon) AS lon,
       sum(minutes) AS spot_minutes, any(spot_folder) AS folder, any(rnd) AS is_randomized
FROM (""" + _SPOT_DAYS + """)
GROUP BY device_id, g, cy, cx
HAVING days >= {min_days:UInt32} AND last_seen_hour >= {window_start:DateTime('UTC')}
"""

MOVING_SENSORS = """
SELECT toString(sensor_id) AS sensor_id,
       greatCircleDistance(min(lon), min(lat), max(lon), max(lat)) AS extent_m
FROM santi.way_data
WHERE ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
GROUP BY sensor_id
HAVING extent_m >= {distance:Float64}
"""

# Per (device, moving sensor, slot): where the sensor saw the device.
CO_SLOTS = """
SELECT device_id, toString(sensor_id) AS sensor_id,
       intDiv(toUInt32(toDateTime(ts)), {slot:UInt32}) * {slot:UInt32} AS s,
       avg(lat) AS lat, avg(lon) AS lon, avg(rssi) AS rssi, count() AS n, toString(any(folder)) AS folder,
       toString(any(vendor)) AS vendor, toString(any(network_type)) AS network_type,
       max(is_randomized) AS is_randomized
FROM santi.way_data
WHERE ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
  AND sensor_id IN (SELECT arrayJoin({sensors:Array(String)}))
  AND (device_id, sensor_id) IN
  (
      -- Only pairs seen in enough slots and at places far enough apart can be following: a moving
      -- sensor passes everyone at its stops, but sees almost all of them at one place only.
      SELECT device_id, sensor_id FROM santi.way_data
      WHERE ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
        AND sensor_id IN (SELECT arrayJoin({sensors:Array(String)}))
      GROUP BY device_id, sensor_id
      HAVING uniqExact(intDiv(toUInt32(toDateTime(ts)), {slot:UInt32})) >= {min_slots:UInt32}
         AND greatCircleDistance(min(lon), min(lat), max(lon), max(lat)) >= {distance:Float64}
  )
GROUP BY device_id, sensor_id, s
ORDER BY sensor_id, device_id, s
"""

# Days on which each candidate device was seen by each of the given sensors (companions).
SENSOR_DAYS = """
SELECT device_id, sensor, uniqExact(day) AS days
FROM
(
    SELECT device_id, toDate(hour) AS day, groupUniqArrayArray(sensor_list) AS sl
    FROM anomaly_ml.hourly_features
    WHERE device_id IN (SELECT arrayJoin({ids:Array(String)}))
      AND hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
    GROUP BY device_id, hour
)
ARRAY JOIN sl AS sensor
WHERE sensor IN (SELECT arrayJoin({sensors:Array(String)}))
GROUP BY device_id, sensor
"""

# Per candidate device per sensor: readings, mean RSSI, and the median over hours (with >= 3 readings)
# of the hourly RSSI standard deviation. Hourly, because that is how "steady" was measured (config.py
# LINGER_MAX_RSSI_STD): a still device's fading is a few dB within an hour; a whole day's spread would
# also hold slow changes (a door shut, people in between).
SENSOR_RSSI = """
SELECT device_id, sensor, sum(c) AS n, sum(sr) / sum(c) AS m, quantileExactIf(0.5)(sd, c >= 3) AS sd
FROM
(
    SELECT device_id, toString(sensor_id) AS sensor, toStartOfHour(ts) AS h, count() AS c,
           sum(toFloat64(rssi)) AS sr, stddevPop(toFloat64(rssi)) AS sd
    FROM santi.way_data
    WHERE device_id IN (SELECT arrayJoin({ids:Array(String)}))
      AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
    GROUP BY device_id, sensor_id, h
)
GROUP BY device_id, sensor
"""

# Per returning candidate per local day (the days of RETURNING's day_list) per sensor: the readings `n`,
# their mean `m` and its standard error `se`; the caller picks the sensor hearing it best that day on the
# reference scale (calibration.best_sensor, sensors with >= 3 readings that day). "Near the spot" is judged
# day by day: a day heard only at the edge of range is a pass-by, not a day at the spot, whatever the mean
# over the week.
DAY_BEST_RSSI = """
SELECT device_id, toDate(ts, {tz:String}) AS day, toString(sensor_id) AS sensor, count() AS n,
       avg(toFloat64(rssi)) AS m, stddevSamp(toFloat64(rssi)) / sqrt(n) AS se
FROM santi.way_data
WHERE device_id IN (SELECT arrayJoin({ids:Array(String)}))
  AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
GROUP BY device_id, day, sensor_id
"""

# The folder's usual dwell: runs of consecutive hours (a device's hours in one folder, split where an
# hour is missing; a run may cross midnight) of transient devices (not regulars of the history: visitors,
# session attendees, passers-by, phones with a new random MAC each day), longer than min_dwell_s; one row
# per (folder, MAC kind, UTC hour a run covers) with the longest such run covering it. Coverage (which
# days count) and the quantile over days are applied by the caller.
DWELL_RUNS = """
SELECT folder, rnd AS is_randomized, h AS hour, max(dwell_s) AS longest_s
FROM
(
    SELECT device_id, folder, rnd, run,
           toUInt32(dateDiff('second', run[1].2, run[-1].3)) AS dwell_s
    FROM
    (
        SELECT device_id, folder, max(rnd) AS rnd,
               arraySort(groupArray((hour, first_seen, last_seen))) AS hs,
               arraySplit((x, d) -> d > 3600, hs, arrayDifference(arrayMap(x -> toUInt32(x.1), hs))) AS runs
        FROM
        (
            SELECT device_id, hour, toString(any(folders[1])) AS folder, min(first_seen) AS first_seen,
                   max(last_seen) AS last_seen, max(is_randomized) AS rnd
            FROM anomaly_ml.hourly_features
            WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
              AND device_id NOT IN (""" + _regulars("start", "end") + """)
            GROUP BY device_id, hour
            HAVING folder IN (SELECT arrayJoin({folders:Array(String)}))
        )
        GROUP BY device_id, folder
    )
    ARRAY JOIN runs AS run
    WHERE dwell_s >= {min_dwell_s:UInt32}
)
ARRAY JOIN arrayMap(x -> x.1, run) AS h
-- stable and randomized MACs apart: a phone that takes a new random MAC every day is a "transient" every
-- day, so staff phones make a working day the usual dwell of randomized MACs, not of stable ones
GROUP BY folder, rnd, h
"""

# Per moving sensor per slot: where the sensor was (the mean position of its sightings).
SENSOR_TRACK = """
SELECT toString(sensor_id) AS sensor_id, intDiv(toUInt32(toDateTime(ts)), {slot:UInt32}) * {slot:UInt32} AS s,
       avg(lat) AS lat, avg(lon) AS lon
FROM santi.way_data
WHERE ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
  AND sensor_id IN (SELECT arrayJoin({sensors:Array(String)}))
GROUP BY sensor_id, s
ORDER BY sensor_id, s
"""

# Per returning candidate: its visits in the look-back (runs of consecutive hours, split where an hour is
# missing: start and length in seconds), for "hours a day at the place".
RETURN_VISITS = """
SELECT device_id,
       arrayMap(r -> (toInt64(toUnixTimestamp(r[1].2)), toInt64(dateDiff('second', r[1].2, r[-1].3))),
                arraySplit((x, d) -> d > 3600, hs, arrayDifference(arrayMap(x -> toUInt32(x.1), hs)))) AS visits
FROM
(
    SELECT device_id, arraySort(groupArray((hour, first_seen, last_seen))) AS hs
    FROM
    (
        SELECT device_id, hour, min(first_seen) AS first_seen, max(last_seen) AS last_seen
        FROM anomaly_ml.hourly_features
        WHERE device_id IN (SELECT arrayJoin({ids:Array(String)}))
          AND hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
        GROUP BY device_id, hour
    )
    GROUP BY device_id
)
"""

# Per candidate: the UTC days on which it was seen in [start, before), leaving out the presence that
# goes on into `before` (its last run of consecutive hours, when that run reaches the last two hours
# before it): a night shift that began before midnight is this visit, not an earlier one.
SEEN_BEFORE = """
SELECT device_id,
       length(arrayDistinct(arrayMap(h -> toDate(h), arrayFlatten(
           if(toUInt32(runs[-1][-1]) + 7200 >= toUInt32({before:DateTime('UTC')}), arrayPopBack(runs), runs)))))
           AS days_before
FROM
(
    SELECT device_id, arraySort(groupUniqArray(hour)) AS hs,
           arraySplit((x, d) -> d > 3600, hs, arrayDifference(arrayMap(x -> toUInt32(x), hs))) AS runs
    FROM anomaly_ml.hourly_features
    WHERE device_id IN (SELECT arrayJoin({ids:Array(String)}))
      AND hour >= {start:DateTime('UTC')} AND hour < {before:DateTime('UTC')}
    GROUP BY device_id
)
"""


def days_seen_before(store: Store, device_ids: list[str], start: datetime, before: datetime) -> dict[str, int]:
    """device_id -> distinct days in [start, before) it was heard on (SEEN_BEFORE), the visit that goes on
    into `before` left out; devices never heard are absent."""
    df = store.query_df(SEEN_BEFORE, {"ids": sorted(set(device_ids)), "start": start, "before": before})
    return dict(zip(df["device_id"].astype(str), df["days_before"].astype(int), strict=True)) if len(df) else {}
