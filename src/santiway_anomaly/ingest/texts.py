"""A text column of a batch as its distinct values plus one code per row.

A batch names each device, sensor, folder and vendor many times (a device is seen ~40 times an hour
by every sensor that hears it), so every check and normalisation of text runs once per distinct value
and each row gets its answer by numpy indexing with its code. Parquet gives string columns already
in this shape (`read_dictionary`); CSV and JSON text is dictionary-encoded once. The stored column is
an Arrow dictionary array, which chDB and ClickHouse's Arrow input read like a plain string column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class Text:
    """`values`: the distinct raw values, whitespace-trimmed (may repeat after trimming, may hold a
    null); `codes`: each row's index into `values`, or `len(values)` for a null row (the null slot)."""

    values: pa.Array
    codes: np.ndarray

    @classmethod
    def of(cls, table: pa.Table, name: str) -> Text:
        n = table.num_rows
        if name not in table.column_names:
            return cls(pa.array([], pa.string()), np.zeros(n, dtype=np.int32))
        col = table.column(name)
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if pa.types.is_dictionary(col.type) and not pa.types.is_string(col.type.value_type):
            col = col.dictionary_decode()
        if pa.types.is_null(col.type):
            return cls(pa.array([], pa.string()), np.zeros(n, dtype=np.int32))
        if not pa.types.is_dictionary(col.type):
            if not pa.types.is_string(col.type):
                col = col.cast(pa.string())  # numbers, times, large strings: their text, as before
            col = pc.dictionary_encode(col)
        values = pc.utf8_trim_whitespace(col.dictionary)
        codes = pc.fill_null(col.indices.cast(pa.int32()), len(values)).to_numpy(zero_copy_only=False)
        return cls(values, np.asarray(codes, dtype=np.int32))

    def rows(self, per_value: pa.Array | np.ndarray, if_null: bool) -> np.ndarray:
        """A boolean per distinct value (nulls count as `if_null`), spread to the rows."""
        if isinstance(per_value, pa.Array | pa.ChunkedArray):
            per_value = pc.fill_null(per_value, if_null).to_numpy(zero_copy_only=False)
        spread: np.ndarray = np.append(np.asarray(per_value, dtype=bool), if_null)[self.codes]
        return spread

    def missing(self) -> np.ndarray:
        """Rows that are null or empty once trimmed."""
        return self.rows(pc.equal(self.values, ""), True)

    def longer_than(self, limit: int) -> np.ndarray:
        return self.rows(pc.greater(pc.utf8_length(self.values), limit), False)

    def column(self, values: pa.Array, null_value: str, keep: np.ndarray | None) -> pa.DictionaryArray:
        """The rows (those in `keep`, if given) as a dictionary array over `values` (one per distinct
        raw value, e.g. normalised), a null row reading `null_value`. The dictionary is made unique."""
        codes = self.codes if keep is None else self.codes[keep]
        return dictionary(pa.concat_arrays([pc.fill_null(values.cast(pa.string()), ""),
                                            pa.array([null_value], pa.string())]), codes)


def dictionary(values: pa.Array, codes: np.ndarray) -> pa.DictionaryArray:
    """A dictionary array with unique values: `values[codes]` row by row."""
    unique = pc.dictionary_encode(values)
    if len(unique.dictionary) < len(values):
        remap = unique.indices.to_numpy(zero_copy_only=False).astype(np.int32)
        codes = remap[codes]
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), unique.dictionary)
