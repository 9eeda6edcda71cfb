"""Control characters that no sighting field holds: rejected with the row, before validation.

- A NUL byte (U+0000) in any text field: what a file preallocated and never written, a C string copied
  past its end or a binary blob leaves behind. ClickHouse would store it, and every tool that reads the
  value as a C string (drivers, exports, terminals) would cut it there.
- Any C0 control character (U+0000..U+001F: tab, line breaks, escape, ...) in `sensor_id` or `folder`:
  they are names an operator reads, filters on and types; a line break in one is damage. `vendor` and
  `ssid` keep theirs (free text; issue 13 found feeds that carry form feeds and separators there).

Clean columns cost one pass of numpy over their bytes; only a column holding such a byte is looked at row
by row.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from santiway_anomaly.ingest.validate import LINE, Reject
from santiway_anomaly.sightings import INPUT_FIELDS

NAME_FIELDS = ("sensor_id", "folder")
_C0 = "[\\x00-\\x1f]"
RAW_SHOWN = 200


def _may_hold(col: pa.ChunkedArray, below: int) -> bool:
    """False when no byte of the column's text is below `below` (cheap); True when one may be."""
    for chunk in col.chunks:
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            return True  # another layout (string_view): let the exact check decide
        data = chunk.buffers()[2]
        if data is None or data.size == 0:
            continue
        if int(np.frombuffer(data, dtype=np.uint8).min()) < below:
            return True
    return False


def _reason(name: str, value: str) -> str:
    if "\x00" in value:
        return f"{name}: a NUL byte (\\x00) inside the text"
    bad = next(c for c in value if ord(c) < 0x20)
    return f"{name}: a control character (U+{ord(bad):04X}) inside a name"


def reject_control_characters(table: pa.Table) -> tuple[pa.Table, list[Reject]]:
    """The table without rows holding a forbidden control character, and one reject per such row."""
    if table.num_rows == 0:
        return table, []
    bad = np.zeros(table.num_rows, dtype=bool)
    found: dict[int, str] = {}
    for name in table.column_names:
        if name not in INPUT_FIELDS:
            continue
        col = table.column(name)
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
                or pa.types.is_string_view(col.type)):
            continue
        names_rule = name in NAME_FIELDS
        if not _may_hold(col, 0x20 if names_rule else 0x01):
            continue
        hit = pc.match_substring_regex(col, _C0) if names_rule else pc.match_substring(col, "\x00")
        mask = np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False), dtype=bool)
        for i in np.flatnonzero(mask & ~bad).tolist():
            found[i] = name
        bad |= mask
    if not bad.any():
        return table, []
    lines = table.column(LINE).to_numpy(zero_copy_only=False)
    rejects = []
    for i in sorted(found):
        name = found[i]
        value = str(table.column(name)[i].as_py())
        rejects.append(Reject(int(lines[i]), name, _reason(name, value), value[:RAW_SHOWN].encode(
            "unicode_escape").decode("ascii")))
    return table.filter(pa.array(~bad)), rejects


__all__ = ["NAME_FIELDS", "reject_control_characters"]
