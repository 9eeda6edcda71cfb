import pyarrow as pa
import pyarrow.compute as pc

from santiway_anomaly.ingest.mac import fill_vendor, is_randomized, normalise_mac, valid_mac


def test_common_notations_normalise_to_colon_upper() -> None:
    raw = pa.array(["3c:22:fb:01:02:03", "3C-22-FB-01-02-03", "3c22.fb01.0203", "3C22FB010203", " 3c:22:fb:01:02:03 "])
    assert valid_mac(raw).to_pylist() == [True] * 5
    assert set(normalise_mac(raw).to_pylist()) == {"3C:22:FB:01:02:03"}


def test_invalid_macs_are_refused() -> None:
    raw = pa.array(["zz:zz", "3c:22:fb:01:02", "3c:22-fb:01:02:03", "", None, "3c22fb0102030"])
    assert valid_mac(raw).to_pylist() == [False] * 6


def test_locally_administered_bit_marks_randomized() -> None:
    macs = pa.array(["DA:A1:19:00:00:01", "02:00:00:00:00:01", "3C:22:FB:01:02:03", "F6:00:00:00:00:00",
                     "00:1A:2B:3C:4D:5E"])
    assert is_randomized(macs).to_pylist() == [True, True, False, True, False]


def test_vendor_from_oui_but_never_for_randomized_and_feed_value_kept() -> None:
    macs = pa.array(["3C:22:FB:01:02:03", "DA:A1:19:00:00:01", "3C:22:FB:01:02:04"])
    vendor = pa.array(["", "", "Given Vendor"])
    out = fill_vendor(vendor, macs, is_randomized(macs)).to_pylist()
    assert "Apple" in out[0]
    assert out[1] == ""
    assert out[2] == "Given Vendor"
    assert pc.all(pc.equal(normalise_mac(macs), macs)).as_py()
