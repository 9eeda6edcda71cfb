"""Device ids from user input: any common MAC notation, normalised like ingest does."""

from __future__ import annotations

MAC_HELP = "a MAC address such as AA:BB:CC:DD:EE:FF (also AA-BB-..., AABB.CCDD.EEFF or AABBCCDDEEFF)"


def normalise_device_id(text: str) -> str:
    """`AA:BB:CC:DD:EE:FF` for a MAC in any common notation; ValueError naming what is allowed."""
    # Imported here: the same Arrow rules as ingest, loaded by the first request that names a device,
    # not by every process that imports the API (issue 17, memory).
    import pyarrow as pa

    from santiway_anomaly.ingest.mac import normalise_mac, valid_mac

    arr = pa.array([text], type=pa.string())
    if len(text) > 64 or text != text.strip() or not valid_mac(arr)[0].as_py():
        raise ValueError(f"device_id must be {MAC_HELP}, got {text[:64]!r}")
    return str(normalise_mac(arr)[0].as_py())
