"""A second generated corpus (issue 13, "other kinds of damage"): encodings, control and NUL bytes, line
ends, huge fields, numbers as strings and in scientific notation, time-zone offsets, leap seconds, times
far out of range, MAC notations. Rendered as NDJSON and as CSV; every row knows its fate in each.

Each good row carries its id in `sensor_id` (`<prefix>-<i>`) and the values it must be stored with (UTC
time in ms, normalised MAC, rssi, lat, lon), so "stored = exactly the good rows, as they were meant" is
a comparison of two sets. Each bad row's line is known, so "every bad row reported with its line" is too.
File-level damage (a UTF-16 file, a truncated gzip, a duplicated header) is in `FILE_CASES`: each must be
refused as a whole with one sentence.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

BASE = datetime(2026, 9, 1, tzinfo=UTC)
FIELDS = ("ts", "device_id", "sensor_id", "folder", "network_type", "rssi", "lat", "lon", "vendor")
HEADER = ",".join(FIELDS)


def _ts(i: int) -> datetime:
    return BASE + timedelta(seconds=7 * i)


def _mac(i: int) -> str:
    return f"3C:22:FB:{(i >> 16) & 255:02X}:{(i >> 8) & 255:02X}:{i & 255:02X}"


def base_row(i: int, prefix: str) -> dict[str, Any]:
    return {"ts": _ts(i).strftime("%Y-%m-%dT%H:%M:%SZ"), "device_id": _mac(i), "sensor_id": f"{prefix}-{i}",
            "folder": "hall", "network_type": "wifi", "rssi": -61, "lat": 55.75, "lon": 37.61, "vendor": ""}


# What a good row must be stored as: (ts in ms, device_id, rssi, lat, lon).
Expected = tuple[int, str, int, float, float]


def expected(i: int, **changes: Any) -> Expected:
    ms = int(_ts(i).timestamp() * 1000)
    return (changes.get("ms", ms), changes.get("device_id", _mac(i)), changes.get("rssi", -61),
            changes.get("lat", 55.75), changes.get("lon", 37.61))


@dataclass(frozen=True)
class Kind:
    """`patch(i)` changes the base row; `expect(i)` is the stored values of a good row (None: the base
    row's). `good_json` / `good_csv`: stored when sent as NDJSON / CSV. `ndjson` / `csv_line` replace the
    whole line (damage below the fields) and `extra_ids` names the other rows such a line swallows."""

    name: str
    patch: Callable[[int], dict[str, Any]] = field(default=lambda i: {})
    expect: Callable[[int], Expected] | None = None
    good_json: bool = True
    good_csv: bool = True
    ndjson: Callable[[int, str], bytes] | None = None
    csv_line: Callable[[int, str], bytes] | None = None
    csv_each_line_rejected: bool = False  # an unquoted line break: each half is a reject of its own


def _epoch(i: int) -> int:
    return int(_ts(i).timestamp())


def _offset(i: int, hours: int, minutes: int = 0, colon: bool = True) -> str:
    shift = timedelta(hours=hours, minutes=minutes)
    local = (_ts(i) + shift).strftime("%Y-%m-%dT%H:%M:%S")
    sign = "+" if shift >= timedelta(0) else "-"
    total = abs(int(shift.total_seconds()) // 60)
    return f"{local}{sign}{total // 60:02d}{':' if colon else ''}{total % 60:02d}"


def _bare(i: int) -> str:
    return _mac(i).replace(":", "")


def _two_rows_joined_by_cr(i: int, prefix: str, render: Callable[[dict[str, Any]], bytes]) -> bytes:
    # A lone CR (classic Mac line end) between two records: one physical line holding two sightings.
    second = {**base_row(i, prefix), "sensor_id": f"{prefix}-{i}-b"}
    return render(base_row(i, prefix)) + b"\r" + render(second)


GOOD_KINDS = [
    Kind("plain"),
    Kind("mac cisco dots", lambda i: {"device_id": ".".join(_bare(i)[k:k + 4] for k in (0, 4, 8)).lower()}),
    Kind("mac cisco dots upper", lambda i: {"device_id": ".".join(_bare(i)[k:k + 4] for k in (0, 4, 8))}),
    Kind("mac no separators lower", lambda i: {"device_id": _bare(i).lower()}),
    Kind("mac no separators upper", lambda i: {"device_id": _bare(i)}),
    Kind("rssi as string", lambda i: {"rssi": "-72"}, lambda i: expected(i, rssi=-72)),
    Kind("rssi scientific string", lambda i: {"rssi": "-7.2e1"}, lambda i: expected(i, rssi=-72)),
    Kind("rssi scientific number", lambda i: {"rssi": -7.2e1}, lambda i: expected(i, rssi=-72)),
    Kind("rssi with plus sign", lambda i: {"rssi": "+0"}, lambda i: expected(i, rssi=0)),
    Kind("coords as strings", lambda i: {"lat": "55.7512", "lon": "37.6123"},
         lambda i: expected(i, lat=55.7512, lon=37.6123)),
    Kind("coords scientific", lambda i: {"lat": "5.575e1", "lon": "3.761E+01"}),
    Kind("coords negative zero", lambda i: {"lat": "-0.0", "lon": "-0"}, lambda i: expected(i, lat=0.0, lon=0.0)),
    Kind("ts offset +05:30", lambda i: {"ts": _offset(i, 5, 30)}),
    Kind("ts offset -08:00", lambda i: {"ts": _offset(i, -8)}),
    Kind("ts offset +0000 without colon", lambda i: {"ts": _offset(i, 0, colon=False)}),
    Kind("ts offset +14:00", lambda i: {"ts": _offset(i, 14)}),
    Kind("ts offset -0930 without colon", lambda i: {"ts": _offset(i, -9, -30, colon=False)}),
    Kind("ts nanoseconds", lambda i: {"ts": _ts(i).strftime("%Y-%m-%dT%H:%M:%S.123456789Z")},
         lambda i: expected(i, ms=int(_ts(i).timestamp() * 1000) + 123)),
    Kind("ts unix seconds as string", lambda i: {"ts": str(_epoch(i))}),
    Kind("ts unix scientific", lambda i: {"ts": f"{_epoch(i):.9e}"}),
    Kind("ts unix float seconds", lambda i: {"ts": _epoch(i) + 0.5},
         lambda i: expected(i, ms=_epoch(i) * 1000 + 500)),
    Kind("network mixed case", lambda i: {"network_type": "WiFi"}),
    Kind("vendor accented", lambda i: {"vendor": "Müller Gerätebau"}),
    Kind("vendor right-to-left mark", lambda i: {"vendor": "Acme\u202eLtd"}),
    Kind("vendor keeps a tab", lambda i: {"vendor": "Acme\tLtd"}),
    Kind("folder with spaces", lambda i: {"folder": "hall B, east"}),
    Kind("json repeated key", ndjson=lambda i, p: json.dumps(base_row(i, p)).encode()[:-1]
         + b', "rssi": -61}', csv_line=lambda i, p: _csv_bytes(base_row(i, p))),
    Kind("csv quoted numbers", ndjson=lambda i, p: json.dumps(base_row(i, p)).encode(),
         csv_line=lambda i, p: _csv_bytes(base_row(i, p), quote_all=True)),
    Kind("unknown column with a long value", lambda i: {"comment": "c" * 2000}),
]

BAD_KINDS = [
    Kind("NUL in folder", lambda i: {"folder": "ha\x00ll"}, good_json=False, good_csv=False),
    Kind("NUL in sensor_id", lambda i: {"sensor_id": f"x\x00{i}"}, good_json=False, good_csv=False),
    Kind("NUL in vendor", lambda i: {"vendor": "Ac\x00me"}, good_json=False, good_csv=False),
    Kind("NUL in ts", lambda i: {"ts": base_row(i, "")["ts"] + "\x00"}, good_json=False, good_csv=False),
    Kind("NUL in device_id", lambda i: {"device_id": _mac(i)[:-1] + "\x00"}, good_json=False, good_csv=False),
    Kind("line break in folder", lambda i: {"folder": "ha\nll"}, good_json=False, good_csv=False),
    Kind("carriage return in folder", lambda i: {"folder": "ha\rll"}, good_json=False, good_csv=False),
    Kind("tab in sensor_id", lambda i: {"sensor_id": f"s\t{i}"}, good_json=False, good_csv=False),
    Kind("escape sequence in folder", lambda i: {"folder": "\x1b[31mhall"}, good_json=False, good_csv=False),
    Kind("mac mixed separators", lambda i: {"device_id": "3C:22-FB:00.00:01"}, good_json=False, good_csv=False),
    Kind("mac with spaces", lambda i: {"device_id": _mac(i).replace(":", " ")}, good_json=False, good_csv=False),
    Kind("mac seven bytes", lambda i: {"device_id": _mac(i) + ":07"}, good_json=False, good_csv=False),
    Kind("mac eleven digits", lambda i: {"device_id": _bare(i)[:-1]}, good_json=False, good_csv=False),
    Kind("mac with non-hex", lambda i: {"device_id": "3C:22:FB:GG:00:01"}, good_json=False, good_csv=False),
    Kind("ts leap second", lambda i: {"ts": "2026-06-30T23:59:60Z"}, good_json=False, good_csv=False),
    Kind("ts year 9999", lambda i: {"ts": "9999-12-31T23:59:59Z"}, good_json=False, good_csv=False),
    Kind("ts year 1", lambda i: {"ts": "0001-01-01T00:00:00Z"}, good_json=False, good_csv=False),
    Kind("ts year 10000", lambda i: {"ts": "10000-01-01T00:00:00Z"}, good_json=False, good_csv=False),
    Kind("ts unix epoch 0", lambda i: {"ts": 0}, good_json=False, good_csv=False),
    Kind("ts unix negative", lambda i: {"ts": -86_400}, good_json=False, good_csv=False),
    Kind("ts unix milliseconds", lambda i: {"ts": _epoch(i) * 1000}, good_json=False, good_csv=False),
    Kind("ts unix 1e300", lambda i: {"ts": "1e300"}, good_json=False, good_csv=False),
    Kind("ts offset +25:00", lambda i: {"ts": base_row(i, "")["ts"][:-1] + "+25:00"}, good_json=False,
         good_csv=False),
    Kind("ts RFC 2822", lambda i: {"ts": _ts(i).strftime("%a, %d %b %Y %H:%M:%S +0000")}, good_json=False,
         good_csv=False),
    Kind("ts US date", lambda i: {"ts": _ts(i).strftime("%m/%d/%Y %H:%M")}, good_json=False, good_csv=False),
    Kind("ts 24:00", lambda i: {"ts": "2026-09-01T24:00:00Z"}, good_json=False, good_csv=False),
    Kind("ts February 30", lambda i: {"ts": "2026-02-30T00:00:00Z"}, good_json=False, good_csv=False),
    Kind("ts a week ahead", lambda i: {"ts": (datetime.now(UTC) + timedelta(days=7)).isoformat()}, good_json=False,
         good_csv=False),
    Kind("rssi hexadecimal", lambda i: {"rssi": "-0x3c"}, good_json=False, good_csv=False),
    Kind("rssi with unit", lambda i: {"rssi": "-60 dBm"}, good_json=False, good_csv=False),
    Kind("rssi scientific out of range", lambda i: {"rssi": "-1.3e2"}, good_json=False, good_csv=False),
    Kind("rssi overflowing", lambda i: {"rssi": "1e400"}, good_json=False, good_csv=False),
    Kind("lat decimal comma", lambda i: {"lat": "55,75"}, good_json=False, good_csv=False),
    Kind("lat NaN text", lambda i: {"lat": "NaN"}, good_json=False, good_csv=False),
    Kind("lon Infinity text", lambda i: {"lon": "Infinity"}, good_json=False, good_csv=False),
    Kind("huge folder", lambda i: {"folder": "f" * 5000}, good_json=False, good_csv=False),
    Kind("huge sensor_id", lambda i: {"sensor_id": "s" * 1000}, good_json=False, good_csv=False),
    Kind("huge ts", lambda i: {"ts": "2" * 10_000}, good_json=False, good_csv=False),
    Kind("huge line", lambda i: {"vendor": "v" * 100_000}, good_json=False, good_csv=False),
    Kind("byte-order mark inside the file", ndjson=lambda i, p: b"\xef\xbb\xbf" + json.dumps(base_row(i, p)).encode(),
         csv_line=lambda i, p: b"\xef\xbb\xbf" + _csv_bytes(base_row(i, p)), good_json=False, good_csv=False),
    Kind("latin-1 bytes", ndjson=lambda i, p: json.dumps({**base_row(i, p), "vendor": "M?ller"}).encode().replace(
        b"?", b"\xfc"), csv_line=lambda i, p: _csv_bytes({**base_row(i, p), "vendor": "M?ller"}).replace(b"?", b"\xfc"),
         good_json=False, good_csv=False),
    Kind("two records joined by a lone CR",
         ndjson=lambda i, p: _two_rows_joined_by_cr(i, p, lambda r: json.dumps(r).encode()),
         csv_line=lambda i, p: _two_rows_joined_by_cr(i, p, _csv_bytes), good_json=False, good_csv=False),
    Kind("unquoted line break splits a CSV record",
         ndjson=lambda i, p: json.dumps({**base_row(i, p), "folder": "ha\nll"}).encode(),
         csv_line=lambda i, p: _csv_bytes(base_row(i, p)).replace(b"hall", b"ha\nll"), good_json=False,
         good_csv=False, csv_each_line_rejected=True),
    Kind("trailing garbage", ndjson=lambda i, p: json.dumps(base_row(i, p)).encode() + b" xyz",
         csv_line=lambda i, p: _csv_bytes(base_row(i, p)) + b",xyz", good_json=False, good_csv=False),
    Kind("a JSON string instead of an object", ndjson=lambda i, p: json.dumps(json.dumps(base_row(i, p))).encode(),
         csv_line=lambda i, p: b'"' + b",".join([b"x"] * 3) + b'"', good_json=False, good_csv=False),
    Kind("comment line", ndjson=lambda i, p: b"// " + json.dumps(base_row(i, p)).encode(),
         csv_line=lambda i, p: b"# " + _csv_bytes(base_row(i, p)), good_json=False, good_csv=False),
    Kind("empty object / empty fields", ndjson=lambda i, p: b"{}", csv_line=lambda i, p: b",,,,,,,,",
         good_json=False, good_csv=False),
]
KINDS = GOOD_KINDS + BAD_KINDS
REPEAT_EVERY = 101  # an exact repeat of the previous good row: stored once, counted as a duplicate


def _csv_bytes(row: dict[str, Any], *, quote_all: bool = False) -> bytes:
    out = io.StringIO()
    values = ["" if row.get(name) is None else str(row[name]) for name in FIELDS]
    # The line terminator must hold both CR and LF: the writer quotes a field holding one of its characters.
    csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL).writerow(values)
    return out.getvalue().removesuffix("\r\n").encode("utf-8")


@dataclass
class Rendered:
    data: bytes
    good: dict[str, Expected] = field(default_factory=dict)  # sensor_id -> how it must be stored
    bad_lines: set[int] = field(default_factory=set)
    duplicates: int = 0


@dataclass
class DamageCorpus:
    ndjson: Rendered
    csv: Rendered
    kinds: int


# Line ends cycle through these: LF, CRLF, and LF after trailing blanks (a reader must not trip on any).
_ENDS = (b"\n", b"\r\n", b"\n", b"  \r\n")


def build(rows: int, prefix: str = "d") -> DamageCorpus:
    nd = Rendered(b"")
    cs = Rendered(b"")
    nd_lines: list[bytes] = []
    cs_lines: list[bytes] = [b"\xef\xbb\xbf" + HEADER.encode()]
    cs_line_no = 2
    previous: tuple[bytes, bytes] | None = None
    for i in range(rows):
        if previous is not None and i % REPEAT_EVERY == 0:
            nd_lines.append(previous[0])
            cs_lines.append(previous[1])
            cs_line_no += previous[1].count(b"\n") + 1
            nd.duplicates += 1
            cs.duplicates += 1
            continue
        kind = KINDS[i % len(KINDS)]
        row = {**base_row(i, prefix), **kind.patch(i)}
        if kind.ndjson is not None and kind.csv_line is not None:
            nd_line, cs_line = kind.ndjson(i, prefix), kind.csv_line(i, prefix)
        else:
            nd_line = json.dumps(row, ensure_ascii=bool(i % 2)).encode("utf-8")
            cs_line = _csv_bytes(row)
        nd_lines.append(nd_line)
        cs_lines.append(cs_line)
        sensor = f"{prefix}-{i}"
        value = (kind.expect or expected)(i)
        if kind.good_json:
            nd.good[sensor] = value
        else:
            nd.bad_lines.add(len(nd_lines))
        if kind.good_csv:
            cs.good[sensor] = value
        elif kind.csv_each_line_rejected:
            cs.bad_lines.update(range(cs_line_no, cs_line_no + cs_line.count(b"\n") + 1))
        else:
            cs.bad_lines.add(cs_line_no)
        cs_line_no += cs_line.count(b"\n") + 1  # a quoted line break makes a record span two lines
        if kind.good_json and kind.good_csv:
            previous = (nd_line, cs_line)
    nd_lines[0] = b"\xef\xbb\xbf" + nd_lines[0]
    nd.data = b"".join(line + _ENDS[n % len(_ENDS)] for n, line in enumerate(nd_lines))
    cs.data = b"".join(line + _ENDS[n % len(_ENDS)] for n, line in enumerate(cs_lines))
    return DamageCorpus(nd, cs, len(KINDS) + 1)


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data)


_SAMPLE_CSV = (HEADER + "\n" + _csv_bytes(base_row(1, "f")).decode() + "\n").encode()
_SAMPLE_NDJSON = (json.dumps(base_row(1, "f")) + "\n").encode()

# (name, format, bytes, words the one error sentence must hold)
FILE_CASES: list[tuple[str, str, bytes, str]] = [
    ("utf-16 le csv", "csv", _SAMPLE_CSV.decode().encode("utf-16"), "UTF-16"),
    ("utf-16 be csv", "csv", b"\xfe\xff" + _SAMPLE_CSV.decode().encode("utf-16-be"), "UTF-16"),
    ("utf-16 ndjson", "ndjson", _SAMPLE_NDJSON.decode().encode("utf-16"), "UTF-16"),
    ("utf-16 without bom", "ndjson", _SAMPLE_NDJSON.decode().encode("utf-16-le"), "NUL bytes"),
    ("utf-32 csv", "csv", _SAMPLE_CSV.decode().encode("utf-32"), "UTF-32"),
    ("gzip csv", "csv", _gzip(_SAMPLE_CSV), "gzip"),
    ("truncated gzip ndjson", "ndjson", _gzip(_SAMPLE_NDJSON * 50)[:40], "gzip"),
    ("zip", "csv", b"PK\x03\x04" + b"\x00" * 60, "zip"),
    ("all NUL bytes", "ndjson", b"\x00" * 4096, "NUL bytes"),
    ("all NUL bytes csv", "csv", b"\x00" * 4096, "NUL bytes"),
    ("duplicate header", "csv", b"ts,device_id,ts,sensor_id,folder,rssi,lat,lon\n", "repeats a column"),
    ("parquet named csv", "csv", b"PAR1" + b"\x15\x00" * 40, "Parquet"),
]
