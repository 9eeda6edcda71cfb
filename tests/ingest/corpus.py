"""A generated corpus of mixed sightings: good rows of many shapes and bad rows of many kinds, each
with the outcome it must have, rendered as NDJSON and as CSV.

Every good row carries its index in `sensor_id` (`s-<i>`), so "stored = exactly the good rows" is a
set comparison; every bad row's line is known, so "every bad row reported with its line" is one too.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

BASE = datetime(2026, 10, 1, tzinfo=UTC)
FIELDS = ("ts", "device_id", "sensor_id", "folder", "network_type", "rssi", "lat", "lon", "vendor")
HEADER = ",".join(FIELDS)


def good_row(i: int) -> dict[str, Any]:
    ts = BASE + timedelta(seconds=i)
    return {"ts": ts.isoformat().replace("+00:00", "Z"), "device_id": f"3C:22:FB:{(i >> 16) & 255:02X}:"
            f"{(i >> 8) & 255:02X}:{i & 255:02X}", "sensor_id": f"s-{i}", "folder": "office",
            "network_type": "wifi", "rssi": -60, "lat": 55.75, "lon": 37.61, "vendor": ""}


@dataclass(frozen=True)
class Kind:
    """One way a row can look. `patch(i)` changes the good row; `good_json` / `good_csv` say whether
    the row must be stored when sent as NDJSON / CSV (a number in `folder` is wrong in JSON but is
    just text in CSV). `ndjson` / `csv_line` replace the whole line when the damage is below fields."""

    name: str
    patch: Callable[[int], dict[str, Any]] = field(default=lambda i: {})
    good_json: bool = True
    good_csv: bool = True
    ndjson: Callable[[int], bytes] | None = None
    csv_line: Callable[[int], bytes] | None = None


def _epoch(i: int) -> float:
    return (BASE + timedelta(seconds=i)).timestamp()


def _iso(i: int, fmt: str) -> str:
    return (BASE + timedelta(seconds=i)).strftime(fmt)


GOOD_KINDS = [
    Kind("plain"),
    Kind("unix seconds", lambda i: {"ts": int(_epoch(i))}),
    Kind("unix fractional", lambda i: {"ts": _epoch(i) + 0.25}),
    Kind("iso with offset",
         lambda i: {"ts": (BASE + timedelta(seconds=i, hours=3)).strftime("%Y-%m-%dT%H:%M:%S+03:00")}),
    Kind("iso naive", lambda i: {"ts": _iso(i, "%Y-%m-%dT%H:%M:%S")}),
    Kind("iso with ms", lambda i: {"ts": _iso(i, "%Y-%m-%dT%H:%M:%S.123Z")}),
    Kind("iso with space", lambda i: {"ts": _iso(i, "%Y-%m-%d %H:%M:%S")}),
    Kind("mac lower", lambda i: {"device_id": good_row(i)["device_id"].lower()}),
    Kind("mac dashes", lambda i: {"device_id": good_row(i)["device_id"].replace(":", "-")}),
    Kind("mac bare", lambda i: {"device_id": good_row(i)["device_id"].replace(":", "")}),
    Kind("rssi text", lambda i: {"rssi": "-70"}),
    Kind("rssi whole float", lambda i: {"rssi": -70.0}),
    Kind("rssi -120", lambda i: {"rssi": -120}),
    Kind("rssi 0", lambda i: {"rssi": 0}),
    Kind("coords text", lambda i: {"lat": "55.1", "lon": "37.2"}),
    Kind("coords edges", lambda i: {"lat": 90, "lon": -180}),
    Kind("network upper", lambda i: {"network_type": "BLE"}),
    Kind("network absent", lambda i: {"network_type": None}),
    Kind("vendor text", lambda i: {"vendor": "Acme"}),
    Kind("vendor separators", lambda i: {"vendor": "A\u2028B\u2029C\u0085D\x0cE\x0bF\x1cG\x1dH\x1e"}),
    Kind("vendor comma quote", lambda i: {"vendor": 'Acme, "Inc"'}),
    Kind("folder unicode", lambda i: {"folder": "офис 🏢"}),
    Kind("sensor padded", lambda i: {"sensor_id": f"  s-{i} "}),
    Kind("extra field", lambda i: {"extra": "x"}),
    Kind("extra nested field", lambda i: {"extra": {"a": [1, {"b": None}]}}),
    Kind("vendor 128", lambda i: {"vendor": "v" * 128}),
]
BAD_KINDS = [
    Kind("ts missing", lambda i: {"ts": None}, False, False),
    Kind("ts now", lambda i: {"ts": "now"}, False, False),
    Kind("ts today", lambda i: {"ts": "today"}, False, False),
    Kind("ts yesterday", lambda i: {"ts": "yesterday"}, False, False),
    Kind("ts garbage", lambda i: {"ts": "abc"}, False, False),
    Kind("ts 1990", lambda i: {"ts": "1990-01-01T00:00:00Z"}, False, False),
    Kind("ts 2100", lambda i: {"ts": "2100-01-01T00:00:00Z"}, False, False),
    Kind("ts huge", lambda i: {"ts": 1e300}, False, False),
    Kind("ts bool", lambda i: {"ts": True}, False, False),
    Kind("device missing", lambda i: {"device_id": None}, False, False),
    Kind("device short", lambda i: {"device_id": "zz:zz"}, False, False),
    Kind("device number", lambda i: {"device_id": 112233445566}, False, True),
    Kind("device object", lambda i: {"device_id": {"mac": "3C:22:FB:00:00:01"}}, False, False),
    Kind("sensor missing", lambda i: {"sensor_id": None}, False, False),
    Kind("sensor long", lambda i: {"sensor_id": "s" * 200}, False, False),
    Kind("folder missing", lambda i: {"folder": None}, False, False),
    Kind("folder number", lambda i: {"folder": 5}, False, True),
    Kind("folder list", lambda i: {"folder": ["a"]}, False, True),
    Kind("rssi missing", lambda i: {"rssi": None}, False, False),
    Kind("rssi word", lambda i: {"rssi": "strong"}, False, False),
    Kind("rssi positive", lambda i: {"rssi": 50}, False, False),
    Kind("rssi fraction", lambda i: {"rssi": -60.5}, False, False),
    Kind("rssi bool", lambda i: {"rssi": True}, False, False),
    Kind("rssi nan", lambda i: {"rssi": float("nan")}, False, False),
    Kind("lat 91", lambda i: {"lat": 91}, False, False),
    Kind("lon word", lambda i: {"lon": "east"}, False, False),
    Kind("lat infinite", lambda i: {"lat": float("inf")}, False, False),
    Kind("vendor long", lambda i: {"vendor": "v" * 300}, False, False),
    Kind("vendor huge", lambda i: {"vendor": "v" * 10_000}, False, False),
    Kind("network bad", lambda i: {"network_type": "wi fi!"}, False, False),
    Kind("network number", lambda i: {"network_type": 5}, False, True),
    Kind("truncated", ndjson=lambda i: b'{"ts": "2026-10-01T00:00:00Z", "device_',
         csv_line=lambda i: b"2026-10-01T00:00:00Z,3C:22:FB:00:00:01,s", good_json=False, good_csv=False),
    Kind("wrong shape", ndjson=lambda i: b"[1, 2, 3]", csv_line=lambda i: b"a,b,c,d,e,f,g,h,i,j,k",
         good_json=False, good_csv=False),
    Kind("deep", ndjson=lambda i: b"[" * 3000 + b"]" * 3000,
         csv_line=lambda i: b'2026-10-01T00:00:00Z,3C:22:FB:00:00:01,s,"office,wifi,-60,55.7,37.6,',
         good_json=False, good_csv=False),
    Kind("not utf-8", ndjson=lambda i: b'{"ts": "\xff\xfe"}', csv_line=lambda i: b"\xff\xfe,\xc3\x28,x",
         good_json=False, good_csv=False),
    Kind("over row limit", ndjson=lambda i: b'{"vendor": "' + b"v" * 70_000 + b'"}',
         csv_line=lambda i: b"x," + b"v" * 70_000, good_json=False, good_csv=False),
    Kind("null / empty fields", ndjson=lambda i: b"null", csv_line=lambda i: b",,,,,,,,",
         good_json=False, good_csv=False),
    Kind("lone surrogate", ndjson=lambda i: json.dumps(good_row(i))[:-1].encode() + b', "vendor": "\\ud800"}',
         csv_line=lambda i: b"2026-10-01T00:00:00Z,\xed\xa0\x80,s,office,wifi,-60,55.7,37.6,",
         good_json=False, good_csv=False),
]
KINDS = GOOD_KINDS + BAD_KINDS
DUPLICATE = "repeat of the previous row"


@dataclass
class Corpus:
    ndjson: bytes
    csv: bytes
    good_json: set[str] = field(default_factory=set)  # sensor ids that must be stored
    good_csv: set[str] = field(default_factory=set)
    bad_json_lines: set[int] = field(default_factory=set)
    bad_csv_lines: set[int] = field(default_factory=set)
    duplicates: int = 0
    kinds: int = 0


def _csv_text(row: dict[str, Any]) -> str:
    out = io.StringIO()
    values = []
    for name in FIELDS:
        value = row.get(name)
        if value is None:
            values.append("")
        elif isinstance(value, bool):
            values.append(str(value).lower())
        elif isinstance(value, dict | list):
            values.append(json.dumps(value))
        elif isinstance(value, float) and value != value:
            values.append("nan")
        else:
            values.append(str(value))
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


def build(rows: int, seed: int = 0) -> Corpus:
    """`rows` rows cycling through every kind (with a repeat of a good row now and then); line 1 of
    the NDJSON and the CSV header start with a byte-order mark, every seventh line ends in CRLF."""
    nd: list[bytes] = []
    cs: list[bytes] = [b"\xef\xbb\xbf" + HEADER.encode()]
    corpus = Corpus(b"", b"", kinds=len(KINDS) + 1)
    previous: tuple[bytes, bytes] | None = None
    for i in range(rows):
        kind = KINDS[(i * 7 + seed) % len(KINDS)]
        json_line_no, csv_line_no = len(nd) + 1, len(cs) + 1
        if previous is not None and i % 97 == 0:  # an exact repeat: stored once, not a reject
            nd.append(previous[0])
            cs.append(previous[1])
            corpus.duplicates += 1
            continue
        if kind.ndjson is not None and kind.csv_line is not None:
            nd.append(kind.ndjson(i))
            cs.append(kind.csv_line(i))
        else:
            row = {**good_row(i), **kind.patch(i)}
            nd.append(json.dumps(row, ensure_ascii=bool(i % 2)).encode("utf-8"))
            cs.append(_csv_text(row).encode("utf-8"))
        if kind.good_json:
            corpus.good_json.add(f"s-{i}")
        else:
            corpus.bad_json_lines.add(json_line_no)
        if kind.good_csv:
            corpus.good_csv.add(f"s-{i}")
        else:
            corpus.bad_csv_lines.add(csv_line_no)
        if kind.good_json and kind.good_csv:
            previous = (nd[-1], cs[-1])
    if nd:
        nd[0] = b"\xef\xbb\xbf" + nd[0]
    corpus.ndjson = b"".join(line + (b"\r\n" if n % 7 == 0 else b"\n") for n, line in enumerate(nd))
    corpus.csv = b"".join(line + (b"\r\n" if n % 7 == 0 else b"\n") for n, line in enumerate(cs))
    return corpus
