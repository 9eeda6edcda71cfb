"""Radio and identity model: device classes, real vendor OUIs, MAC strings, RSSI from distance.

RSSI follows the log-distance path-loss model

    rssi = P(1 m) - 10 * n * log10(d / 1 m) + X_shadow + X_fast

with the device class's transmit level at one metre, an indoor exponent n = 2.4 (office-like
buildings measure 1.8-3.0; 2.4 is the usual mid value), a per-(device, sensor) shadowing term and
per-sighting fast fading, both Gaussian in dB. Sightings weaker than the sensor sensitivity are
never reported, so distance decides both the signal and whether a device is seen at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

PATH_LOSS_EXPONENT = 2.4
SENSITIVITY_DBM = -95.0  # typical WiFi/BLE scanner floor; weaker frames are not decoded
RSSI_CEILING = -20  # nothing a scanner reports is stronger than this in practice


@dataclass(frozen=True)
class DeviceClass:
    name: str
    network_type: str  # "wifi" | "ble"
    p1m: float  # RSSI at one metre, dBm
    ouis: tuple[int, ...]  # indices into OUIS


# Real OUIs (IEEE registry; names as the registry spells them, checked against netaddr's copy).
OUIS: tuple[tuple[str, str], ...] = (
    ("3C:22:FB", "Apple, Inc."),                 # 0
    ("F0:18:98", "Apple, Inc."),                 # 1
    ("A4:83:E7", "Apple, Inc."),                 # 2
    ("AC:BC:32", "Apple, Inc."),                 # 3
    ("8C:77:12", "Samsung Electronics Co.,Ltd"),  # 4
    ("A8:7C:01", "Samsung Electronics Co.,Ltd"),  # 5
    ("5C:F6:DC", "Samsung Electronics Co.,Ltd"),  # 6
    ("28:6C:07", "XIAOMI Electronics,CO.,LTD"),   # 7
    ("64:09:80", "Xiaomi Communications Co Ltd"),  # 8
    ("48:46:FB", "HUAWEI TECHNOLOGIES CO.,LTD"),   # 9
    ("D4:F5:47", "Google, Inc."),                # 10
    ("3C:A9:F4", "Intel Corporate"),             # 11
    ("7C:B0:C2", "Intel Corporate"),             # 12
    ("F8:BC:12", "Dell Inc."),                   # 13
    ("3C:D9:2B", "Hewlett Packard"),             # 14
    ("94:57:A5", "Hewlett Packard"),             # 15
    ("0C:8D:DB", "Cisco Meraki"),                # 16
    ("E0:55:3D", "Cisco Meraki"),                # 17
    ("24:A4:3C", "Ubiquiti Inc"),                # 18
    ("78:8A:20", "Ubiquiti Inc"),                # 19
    ("00:0B:57", "Silicon Laboratories"),        # 20
    ("E8:9F:6D", "Espressif Inc."),              # 21
    ("00:17:88", "Philips Lighting BV"),         # 22
    ("DC:A6:32", "Raspberry Pi Trading Ltd"),    # 23
    ("4C:87:5D", "Bose Corporation"),            # 24
    ("98:DA:C4", "TP-LINK TECHNOLOGIES CO.,LTD."),  # 25
)
OUI_PREFIX = np.array([int(p.replace(":", ""), 16) for p, _ in OUIS], dtype=np.int64)
OUI_VENDOR: tuple[str, ...] = tuple(v for _, v in OUIS)

CLASSES: tuple[DeviceClass, ...] = (
    DeviceClass("phone", "wifi", -41.0, (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)),
    DeviceClass("laptop", "wifi", -38.0, (0, 2, 11, 12, 13)),
    DeviceClass("wearable", "ble", -60.0, (0, 3, 4, 5, 7, 24)),
    DeviceClass("ap", "wifi", -30.0, (16, 17, 18, 19, 25)),
    DeviceClass("printer", "wifi", -35.0, (14, 15)),
    DeviceClass("beacon", "ble", -59.0, (20, 21)),
    DeviceClass("iot", "wifi", -40.0, (21, 22, 23)),
)
CLASS_INDEX = {c.name: i for i, c in enumerate(CLASSES)}
CLASS_P1M = np.array([c.p1m for c in CLASSES], dtype=np.float64)
NETWORK_TYPES: tuple[str, ...] = ("wifi", "ble")
CLASS_NET = np.array([NETWORK_TYPES.index(c.network_type) for c in CLASSES], dtype=np.int8)

_MASK48 = np.uint64(0xFFFF_FFFF_FFFF)
_HEX = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)


def splitmix64(x: npt.NDArray[np.uint64] | npt.NDArray[np.int64]) -> U64:
    """A fast, well-mixed 64-bit hash (Steele et al.'s SplitMix64 finaliser), vectorised."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def randomized_macs(keys: I64, salt: int) -> U64:
    """48-bit locally administered unicast MACs drawn from `keys` (same key -> same MAC).

    The first octet's two low bits are set to 10 (local, unicast), so its second hex digit is
    one of 2, 6, A, E, as in the MACs phones randomise.
    """
    h = splitmix64(keys.astype(np.uint64) ^ np.uint64(salt & 0xFFFF_FFFF_FFFF_FFFF)) & _MASK48
    first = (h >> np.uint64(40)) & np.uint64(0xFC) | np.uint64(0x02)
    return (h & np.uint64(0xFF_FFFF_FFFF)) | (first << np.uint64(40))


def is_locally_administered(macs: U64 | I64) -> npt.NDArray[np.bool_]:
    return ((macs.astype(np.uint64) >> np.uint64(40)) & np.uint64(0x02)) != 0  # type: ignore[no-any-return]


def format_macs(macs: U64 | I64) -> pa.Array:
    """MACs as `AA:BB:CC:DD:EE:FF` strings, without a Python loop over the values."""
    v = np.ascontiguousarray(macs, dtype=np.uint64)
    out = np.full((len(v), 17), ord(":"), dtype=np.uint8)
    for i in range(6):
        byte = (v >> np.uint64(8 * (5 - i))) & np.uint64(0xFF)
        out[:, 3 * i] = _HEX[(byte >> np.uint64(4)).astype(np.intp)]
        out[:, 3 * i + 1] = _HEX[(byte & np.uint64(0xF)).astype(np.intp)]
    raw = out.view("S17").ravel()
    return pa.array(raw, type=pa.binary()).cast(pa.string())


def mac_str(mac: int) -> str:
    return ":".join(f"{(mac >> (8 * (5 - i))) & 0xFF:02X}" for i in range(6))


def rssi_dbm(p1m: F64, distance_m: F64, shadow_db: F64, fast_db: F64) -> F64:
    """Log-distance path loss; distances under 0.5 m are held at 0.5 m (near field)."""
    d = np.maximum(distance_m, 0.5)
    return p1m - 10.0 * PATH_LOSS_EXPONENT * np.log10(d) + shadow_db + fast_db


def distance_for_rssi(p1m: float, rssi: float) -> float:
    """Inverse of the mean model: the distance at which a class is heard at `rssi`."""
    return float(10 ** ((p1m - rssi) / (10.0 * PATH_LOSS_EXPONENT)))
