"""A stand-in ClickHouse server for tests: the part of ClickHouse's HTTP interface clickhouse-connect uses, on chDB.

Not a product feature. Run as `python -m tests.clickhouse_http.server --path DIR --port N`; it prints
`READY <port>` once it listens. What it speaks (checked against clickhouse-connect 1.12's HTTP backend):
- `GET /ping`; `GET|POST /?query=...` with the SQL in `query` and/or the body (ClickHouse appends the body);
- `database`, `param_<name>` (server-side `{name:Type}` parameters), any other URL parameter is a setting
  applied for that one request (transport-only ones are ignored);
- the output format from a trailing `FORMAT X` (Native, Arrow, TSV, JSON...) or `default_format`;
- inserts: `INSERT INTO t (cols) FORMAT X` in `query` with the data in the body (chunked or not,
  Content-Encoding lz4/zstd/gzip/deflate/br decoded), stored through `INSERT ... FROM INFILE`;
- errors as ClickHouse answers them: HTTP 500 (404 for an unknown database) with
  `X-ClickHouse-Exception-Code` and a `Code: N. DB::Exception: ...` body.
Faults for tests, set by `POST /__fault?...` (see `Faults`): drop the connection before or after running
the next requests, delay answers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

import chdb
import lz4.frame
from clickhouse_connect.driver._backend.chdb_backend import _decompress

# URL parameters that steer the HTTP exchange, not the query: ClickHouse does not treat them as settings.
TRANSPORT = {
    "query", "database", "default_format", "query_id", "session_id", "session_timeout", "session_check",
    "compress", "decompress", "enable_http_compression", "send_progress_in_http_headers",
    "http_headers_progress_interval_ms", "wait_end_of_query", "user", "password", "quota_key", "role",
    "client_protocol_version", "buffer_size", "http_response_buffer_size", "http_wait_end_of_query",
    "cancel_http_readonly_queries_on_client_close", "http_zlib_compression_level",
}
_FORMAT = re.compile(r"\sFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_INSERT = re.compile(r"^\s*(INSERT\s+INTO\s+.+?)\s+FORMAT\s+(\w+)\s*$", re.IGNORECASE | re.DOTALL)
_INSERT_HEAD = re.compile(rb"^\s*(INSERT\s+INTO\s+[^\n]*?\s+FORMAT\s+\w+)[ \t]*\r?\n", re.IGNORECASE)
_CODE = re.compile(r"Code:\s*(\d+)")
_CONTENT_TYPES = {"Native": "application/octet-stream", "Arrow": "application/octet-stream",
                  "ArrowStream": "application/octet-stream", "Parquet": "application/octet-stream",
                  "RowBinary": "application/octet-stream", "RowBinaryWithNamesAndTypes": "application/octet-stream"}


@dataclass
class Faults:
    """What the next requests suffer. Control requests (`/__fault`, `/ping`) never do."""

    drop_before: int = 0  # close the connection without running or answering the next N requests
    drop_after: int = 0  # run the next N requests, then close the connection without answering
    delay: float = 0.0  # sleep this long before answering each request while `delay_count` > 0
    delay_count: int = 0
    match: str = ""  # only requests whose SQL contains this (case-insensitive) count
    requests: int = 0  # requests seen (not control), for tests to assert retries reached the server


class Engine:
    """One chDB connection, one request at a time (chDB connections are not for concurrent use)."""

    def __init__(self, path: str) -> None:
        self.conn = chdb.connect(path)  # type: ignore[no-untyped-call]
        self.lock = threading.Lock()
        self.version = str(self.conn.query("SELECT version()", "TabSeparated").bytes().decode().strip())

    def run(self, sql: str, fmt: str, params: dict[str, str], settings: dict[str, str],
            database: str | None) -> bytes:
        with self.lock:
            self.conn.query(f"USE {_quote_ident(database or 'default')}", "TabSeparated")
            restore = self._set(settings)
            try:
                result = self.conn.query(sql, fmt, params=params)
            finally:
                self._unset(restore)
            return bytes(result.bytes()) if result is not None else b""

    def database_exists(self, name: str) -> bool:
        with self.lock:
            out = self.conn.query("SELECT count() FROM system.databases WHERE name = {n:String}",
                                  "TabSeparated", params={"n": name})
            return bool(out.bytes().decode().strip() == "1")

    def _set(self, settings: dict[str, str]) -> dict[str, str]:
        if not settings:
            return {}
        names = ", ".join(_quote_str(k) for k in settings)
        rows = self.conn.query(f"SELECT name, value FROM system.settings WHERE name IN ({names})", "JSONEachRow")
        before = {row["name"]: row["value"] for row in map(json.loads, rows.bytes().decode().splitlines())}
        for key, value in settings.items():
            self.conn.query(f"SET {_quote_ident(key)} = {_quote_str(value)}", "TabSeparated")
        return before

    def _unset(self, before: dict[str, str]) -> None:
        for key, value in before.items():
            self.conn.query(f"SET {_quote_ident(key)} = {_quote_str(value)}", "TabSeparated")


def _lz4_frames(data: bytes) -> bytes:
    # A streamed insert is a run of LZ4 frames (one per block); lz4.frame.decompress reads only the first.
    out = []
    while data:
        decompressor = lz4.frame.LZ4FrameDecompressor()
        out.append(decompressor.decompress(data))
        data = decompressor.unused_data
    return b"".join(out)


def _form_fields(body: bytes, content_type: str) -> dict[str, str]:
    boundary = content_type.split("boundary=", 1)[1].strip().strip('"').encode()
    fields: dict[str, str] = {}
    for part in body.split(b"--" + boundary):
        if b"\r\n\r\n" not in part:
            continue
        head, value = part.split(b"\r\n\r\n", 1)
        name = re.search(rb'name="([^"]*)"', head)
        if name:
            fields[name.group(1).decode()] = value.removesuffix(b"\r\n").decode("utf-8")
    return fields


def _quote_ident(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"bad identifier {name!r}")
    return name


def _quote_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if os.environ.get("CH_HTTP_LOG"):
            sys.stderr.write("ch-http: " + format % args + "\n")

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            data = b"".join(parts)
        else:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding", "")
        if data and encoding == "lz4":
            data = _lz4_frames(data)
        elif data and encoding and encoding != "identity":
            data = _decompress(data, encoding)
        return data

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drop(self) -> None:
        # A dropped connection: no status line, the socket closed under the client.
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _handle(self) -> None:
        url = urlparse(self.path)
        args = dict(parse_qsl(url.query, keep_blank_values=True))
        body = self._body() if self.command == "POST" else b""
        if url.path.rstrip("/") == "/ping":
            self._answer(200, b"Ok.\n")
            return
        if url.path == "/__fault":
            self._control(args)
            return
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            # Large bound parameters (and then the query) travel as form fields, not in the URL.
            args.update(_form_fields(body, ctype))
            body = b""
        query = args.pop("query", None)
        data: bytes | None = None
        head = _INSERT_HEAD.match(body) if query is None else None
        if head:
            # clickhouse-connect sends `INSERT ... FORMAT X` as the first line of the body, the data after it.
            sql, data = head.group(1).decode("utf-8"), body[head.end():]
        elif query is None:
            sql = body.decode("utf-8")
        elif body and _INSERT.match(query):
            sql, data = query, body
        else:
            sql = query + ("\n" + body.decode("utf-8") if body else "")
        faults = self.server.faults
        with self.server.faults_lock:
            counts = not faults.match or faults.match.lower() in sql.lower()
            if counts:
                faults.requests += 1
            drop_before = counts and faults.drop_before > 0
            if drop_before:
                faults.drop_before -= 1
            drop_after = counts and not drop_before and faults.drop_after > 0
            if drop_after:
                faults.drop_after -= 1
            delay = faults.delay if counts and faults.delay_count > 0 else 0.0
            if delay:
                faults.delay_count -= 1
        if drop_before:
            self._drop()
            return
        if delay:
            time.sleep(delay)
        status, payload, headers = self._execute(sql, data, args)
        if drop_after:
            self._drop()
            return
        self._answer(status, payload, headers)

    def _execute(self, sql: str, data: bytes | None, args: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        engine = self.server.engine
        database = args.pop("database", None) or None
        default_format = args.pop("default_format", "TabSeparated")
        params = {k[len("param_"):]: v for k, v in args.items() if k.startswith("param_")}
        settings = {k: v for k, v in args.items() if not k.startswith("param_") and k not in TRANSPORT}
        query_id = args.get("query_id") or str(uuid.uuid4())
        headers = {"X-ClickHouse-Query-Id": query_id, "X-ClickHouse-Timezone": "UTC",
                   "X-ClickHouse-Server-Display-Name": "chdb-http-test"}
        tmp_name = ""
        run_sql = sql
        try:
            if database and not engine.database_exists(database):
                raise _Fail(81, f"Database {database} does not exist. (UNKNOWN_DATABASE)", 404)
            if data is not None:
                match = _INSERT.match(sql)
                assert match is not None
                with tempfile.NamedTemporaryFile(suffix=".raw", delete=False) as tmp:
                    tmp.write(data)
                    tmp_name = tmp.name
                run_sql = f"{match.group(1)} FROM INFILE {_quote_str(tmp_name)} FORMAT {match.group(2)}"
                fmt = "TabSeparated"
            else:
                found = _FORMAT.search(sql)
                fmt = found.group(1) if found else default_format
                run_sql = sql[:found.start()] if found else sql
            payload = engine.run(run_sql, fmt, params, settings, database)
        except _Fail as exc:
            return exc.status, exc.body(engine.version), {**headers, "X-ClickHouse-Exception-Code": str(exc.code)}
        except Exception as exc:  # chDB's error text already reads "Code: N. DB::Exception: ..."
            text = str(exc)
            if os.environ.get("CH_HTTP_LOG"):
                sys.stderr.write(f"ch-http: failed: {run_sql!r} params={params} settings={settings}: {text[:300]}\n")
            code = int(m.group(1)) if (m := _CODE.search(text)) else 1002
            body = text if text.startswith("Code:") else f"Code: {code}. DB::Exception: {text}"
            return 500, body.encode(), {**headers, "X-ClickHouse-Exception-Code": str(code)}
        finally:
            if tmp_name:
                os.unlink(tmp_name)
        headers["X-ClickHouse-Format"] = fmt
        headers["Content-Type"] = _CONTENT_TYPES.get(fmt, "text/plain; charset=UTF-8")
        headers["X-ClickHouse-Summary"] = json.dumps({"read_rows": "0", "read_bytes": "0", "written_rows": "0",
                                                      "written_bytes": "0", "total_rows_to_read": "0"})
        return 200, payload, headers

    def _control(self, args: dict[str, str]) -> None:
        with self.server.faults_lock:
            faults = self.server.faults
            if "reset" in args:
                self.server.faults = faults = Faults(requests=faults.requests)
            for name in ("drop_before", "drop_after", "delay_count"):
                if name in args:
                    setattr(faults, name, int(args[name]))
            if "delay" in args:
                faults.delay = float(args["delay"])
            if "match" in args:
                faults.match = args["match"]
            state = json.dumps(faults.__dict__)
        self._answer(200, state.encode(), {"Content-Type": "application/json"})


class _Fail(Exception):
    def __init__(self, code: int, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def body(self, version: str) -> bytes:
        return f"Code: {self.code}. DB::Exception: {self.message} (version {version})".encode()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, engine: Engine) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.engine = engine
        self.faults = Faults()
        self.faults_lock = threading.Lock()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--path", required=True, help="chDB data directory")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    args = parser.parse_args()
    server = Server(args.port, Engine(args.path))
    sys.stdout.write(f"READY {server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
