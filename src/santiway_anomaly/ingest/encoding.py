"""Files and bodies that are not UTF-8 text at all: told apart by their first bytes, refused as a whole.

A UTF-16 or UTF-32 export (what spreadsheet programs write as "Unicode text"), a gzip or zip archive, or
a file of NUL bytes (preallocated and never written) would otherwise be read line by line and every line
rejected as "not valid UTF-8", or parsed as one garbage header. One sentence saying what the file is and
how to convert it serves the operator better. A UTF-8 byte-order mark is fine (the readers skip it), and
text in another single-byte encoding (latin-1) is not refused here: each line that is not UTF-8 is rejected
with its line number, the others are stored.
"""

from __future__ import annotations

from pathlib import Path

SNIFF_BYTES = 512
# Text has no NUL bytes; UTF-16 has one in every other byte of ASCII text, UTF-32 three in four.
NUL_SHARE = 0.25

_SIGNATURES = (
    (b"\xff\xfe\x00\x00", "UTF-32 text (little-endian byte-order mark): convert it to UTF-8, e.g. "
                          "iconv -f UTF-32 -t UTF-8"),
    (b"\x00\x00\xfe\xff", "UTF-32 text (big-endian byte-order mark): convert it to UTF-8, e.g. "
                          "iconv -f UTF-32 -t UTF-8"),
    (b"\xff\xfe", "UTF-16 text (little-endian byte-order mark): convert it to UTF-8, e.g. iconv -f UTF-16 -t UTF-8"),
    (b"\xfe\xff", "UTF-16 text (big-endian byte-order mark): convert it to UTF-8, e.g. iconv -f UTF-16 -t UTF-8"),
    (b"\x1f\x8b", "gzip-compressed: decompress it first (gunzip)"),
    (b"PK\x03\x04", "a zip archive: extract the file first"),
    (b"\xfd7zXZ\x00", "xz-compressed: decompress it first (unxz)"),
    (b"BZh", "bzip2-compressed: decompress it first (bunzip2)"),
    (b"PAR1", "a Parquet file: use --format parquet or the .parquet extension"),
)


def not_text(head: bytes) -> str | None:
    """What the data is when its first bytes show it is not UTF-8 text (None when it may be)."""
    head = head[:SNIFF_BYTES]
    for magic, sentence in _SIGNATURES:
        if head.startswith(magic):
            if magic == b"BZh" and not head[3:4].isdigit():
                continue  # "BZh" followed by a block-size digit; a header named "BZh..." is text
            return sentence
    if head and head.count(0) >= NUL_SHARE * len(head):
        return ("binary data or UTF-16/UTF-32 text without a byte-order mark (many NUL bytes at the start): "
                "send UTF-8 text")
    return None


def check_text_file(path: Path) -> str | None:
    with open(path, "rb") as fh:
        return not_text(fh.read(SNIFF_BYTES))


__all__ = ["check_text_file", "not_text"]
