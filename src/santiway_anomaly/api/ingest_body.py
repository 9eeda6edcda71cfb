"""A POST /ingest body, read as it streams in: the size cap is enforced chunk by chunk (a body sent
without Content-Length, or lying about it, is refused once it passes the cap, never held whole), and a
large body goes to a temporary file instead of staying in memory.

A body past `API_INGEST_SPILL_BYTES` is written to a temporary file as it arrives; NDJSON and CSV bodies in
a file are then read back, validated and stored part by part with the CLI's own readers (the same line
splitting, BOM handling and limits as `santiway-anomaly ingest`), so the service holds one part of a body
at a time, never its bytes, split lines and parsed objects at once. A JSON array is one value: it is
parsed whole (it is capped all the same).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from fastapi import HTTPException

from santiway_anomaly.ingest.readers import ReadError, read_batches
from santiway_anomaly.ingest.records import Limits
from santiway_anomaly.ingest.validate import Reject

CSV_TYPES = {"text/csv", "application/csv", "text/tab-separated-values"}
NDJSON_TYPES = {
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
    "text/plain",
}
HEAD_BYTES = 4096


class BodyTooLarge(HTTPException):
    def __init__(self, cap: int) -> None:
        super().__init__(413, f"body larger than {cap:,} bytes (API_MAX_INGEST_BYTES): split the batch")


@dataclass
class IngestBody:
    """The bytes of one request: `data` in memory, or `path` (a temporary file) for a large body."""

    size: int = 0
    digest: str = ""
    head: bytes = b""
    data: bytes | None = None
    path: Path | None = None
    _chunks: list[bytes] = field(default_factory=list)

    @classmethod
    async def receive(cls, chunks: AsyncIterator[bytes], cap: int, spill_bytes: int) -> IngestBody:
        body = cls()
        sha = hashlib.sha256()
        fh = None
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                body.size += len(chunk)
                if body.size > cap:
                    raise BodyTooLarge(cap)
                sha.update(chunk)
                if len(body.head) < HEAD_BYTES:
                    body.head += chunk[:HEAD_BYTES - len(body.head)]
                if fh is None and body.size > spill_bytes:
                    fh = tempfile.NamedTemporaryFile(prefix="santiway-ingest-", suffix=".body", delete=False)  # noqa: SIM115
                    body.path = Path(fh.name)
                    fh.writelines(body._chunks)
                    body._chunks = []
                if fh is not None:
                    fh.write(chunk)
                else:
                    body._chunks.append(chunk)
        except OSError as exc:  # no room for the temporary file: the service's own disk, not the request
            body.discard()
            raise HTTPException(503, f"cannot buffer the request body ({exc.strerror or exc}): retry later",
                                headers={"Retry-After": "30"}) from None
        except BaseException:
            if fh is not None:
                fh.close()
            body.discard()
            raise
        if fh is not None:
            fh.close()
        else:
            body.data = b"".join(body._chunks)
            body._chunks = []
        body.digest = sha.hexdigest()
        return body

    def bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()

    def discard(self) -> None:
        self.data = None
        self._chunks = []
        if self.path is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.path = None


def is_csv(media_type: str) -> bool:
    return media_type in CSV_TYPES


def is_streamable_ndjson(body: IngestBody, media_type: str) -> bool:
    """An NDJSON body held in a file (a JSON array, or anything sent as application/json, is parsed whole)."""
    if body.path is None or media_type == "application/json":
        return False
    head = body.head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return media_type in NDJSON_TYPES or not head.startswith(b"[")


def file_body_parts(body: IngestBody, fmt: str, limits: Limits, batch_rows: int
                    ) -> Iterator[tuple[pa.Table, list[Reject]]]:
    """A CSV or NDJSON body in parts of `batch_rows` rows through the CLI's reader: (text columns, rejects).

    A CSV body without a header (or with a repeated column name) raises `ReadError` before the first part,
    which the route turns into one 422 naming the problem."""
    path = body.path
    if path is None:  # a small CSV body: the reader takes a file
        with tempfile.NamedTemporaryFile(prefix="santiway-ingest-", suffix=".body", delete=False) as fh:
            fh.write(body.bytes())
        body.path = path = Path(fh.name)
        body.data = None
    for raw in read_batches(path, fmt, batch_rows, limits):
        yield raw.table, raw.rejects  # a table of no rows still names the CSV header's columns


__all__ = ["BodyTooLarge", "IngestBody", "ReadError", "file_body_parts", "is_csv", "is_streamable_ndjson"]
