"""MAC addresses: normalise any common notation, recognise randomized MACs, name the vendor.

All functions work on whole Arrow arrays (no per-row Python), except the vendor lookup, which
runs once per distinct OUI.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

# AA:BB:CC:DD:EE:FF, AA-BB-CC-DD-EE-FF, AABB.CCDD.EEFF (Cisco), AABBCCDDEEFF; any case.
# RE2 (Arrow's regex engine) has no backreferences: each separator is spelled out.
_MAC_RE2 = (
    r"^(?:[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}"
    r"|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}"
    r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}"
    r"|[0-9A-Fa-f]{12})$"
)


def _per_distinct(values: pa.Array, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
    # A batch repeats each device many times: work on the distinct values, then spread back.
    encoded = pc.dictionary_encode(values)
    return pc.take(fn(encoded.dictionary), encoded.indices)


def valid_mac(values: pa.Array) -> pa.Array:
    """Boolean array: does each (stripped) value look like a MAC in a common notation?"""
    def check(distinct: pa.Array) -> pa.Array:
        return pc.match_substring_regex(pc.utf8_trim_whitespace(distinct), _MAC_RE2)

    return pc.fill_null(_per_distinct(values, check), False)


def normalise_mac(values: pa.Array) -> pa.Array:
    """AA:BB:CC:DD:EE:FF for every value that `valid_mac` accepts (others become garbage: mask them)."""
    def normalise(distinct: pa.Array) -> pa.Array:
        hex12 = pc.utf8_upper(pc.replace_substring_regex(pc.utf8_trim_whitespace(distinct), r"[^0-9A-Fa-f]", ""))
        pairs = [pc.utf8_slice_codeunits(hex12, i, i + 2) for i in range(0, 12, 2)]
        return pc.binary_join_element_wise(*pairs, ":")

    return _per_distinct(values, normalise)


def is_randomized(normalised: pa.Array) -> pa.Array:
    """Locally administered bit set (second hex digit of the first octet is 2, 6, A or E).

    Phones randomize their MAC this way; such a MAC names no vendor and is not stable across hours.
    """
    second = pc.utf8_slice_codeunits(normalised, 1, 2)
    return pc.fill_null(pc.is_in(second, value_set=pa.array(["2", "6", "A", "E"])), False)


@functools.lru_cache(maxsize=65536)
def vendor_for_oui(oui: str) -> str:
    """Organisation registered for an OUI ('AA:BB:CC') in the IEEE registry shipped with netaddr."""
    from netaddr import EUI, NotRegisteredError

    try:
        return str(EUI(oui + ":00:00:00").oui.registration().org).strip()
    except (NotRegisteredError, ValueError, IndexError):
        return ""


def load_vendor_registry() -> None:
    """Load the IEEE registry now (~0.1 s), e.g. on an idle thread, rather than inside the first batch."""
    vendor_for_oui("00:00:00")


def fill_vendor(vendor: pa.Array, normalised: pa.Array, randomized: pa.Array) -> pa.Array:
    """Keep a vendor the feed gave; otherwise look it up by OUI, never for randomized MACs."""
    vendor = pc.fill_null(pc.utf8_trim_whitespace(vendor.cast(pa.string())), "")
    missing = pc.and_(pc.equal(vendor, ""), pc.invert(randomized))
    if not pc.any(missing).as_py():
        return vendor
    ouis = pc.utf8_slice_codeunits(normalised, 0, 8)
    wanted = pc.unique(pc.filter(ouis, missing))
    names = pa.array([vendor_for_oui(o) for o in wanted.to_pylist()], type=pa.string())
    looked_up = pc.take(names, pc.index_in(ouis, value_set=wanted))
    return pc.if_else(missing, pc.fill_null(looked_up, ""), vendor)
