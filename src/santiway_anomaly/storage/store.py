"""The one storage layer: clickhouse-connect over embedded chDB or a ClickHouse server.

Every value reaches SQL as a server-side bound parameter (`{name:Type}` in the SQL text and a
`params` dict); the only names that are ever put into SQL text are checked by `identifier()`.
Every SQL text and insert target passes through `Databases` here, and only here: SQL names the
canonical databases `anomaly_ml` / `santi`, the server gets the configured ones (storage/databases.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import OperationalError
from loguru import logger
from prometheus_client import Counter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from santiway_anomaly.config import Settings
from santiway_anomaly.storage.cluster import cluster_query_settings
from santiway_anomaly.storage.databases import Databases

if TYPE_CHECKING:  # pandas and pyarrow load on first use: the API's routes need neither (issue 17, memory)
    import pandas as pd
    import pyarrow as pa

    from santiway_anomaly.storage.chdb_bulk import ChdbBulkInserter
from santiway_anomaly.storage.lock import DirectoryLock, StoreLockedError
from santiway_anomaly.storage.names import identifier

STORE_RETRIES = Counter(
    "anomaly_detection_store_retries_total",
    "ClickHouse operations retried after a connection, time-out or OS error",
    ["operation"],
)

# Only these are transient; a SQL error is a bug or bad input and is never retried.
RETRYABLE = (OperationalError, ConnectionError, TimeoutError, OSError)

class StoreError(RuntimeError):
    """The store could not be reached or refused an operation; the message says which and why."""


class StoreUnavailableError(StoreError):
    """Every try of a query or insert failed on the connection or a time-out."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else "no message"


class StoreWriteError(StoreError):
    """The store refused a write for a reason outside the data: full disk, read-only, no permission."""


# (pattern in ClickHouse's / the OS's message, the one sentence an operator reads)
_WRITE_FAULTS = (
    (("no space left", "not_enough_space", "errno: 28", "enospc", "file too large", "errno: 27"),
     "the store's disk is full (or a file size limit was reached): free space, then retry"),
    (("read-only file system", "readonly", "read_only", "errno: 30", "erofs", "table_is_read_only"),
     "the store is read-only: make the data directory writable, then retry"),
    (("permission denied", "errno: 13", "eacces"),
     "the store's files cannot be written (permission denied): fix the data directory's owner, then retry"),
)


_URL = re.compile(r"\S*\?\S*=\S*|https?://\S+")


def write_fault(exc: BaseException) -> str | None:
    """The operator's sentence for an error that is a disk / permission fault, else None."""
    # Not the request's URL: clickhouse-connect's errors quote it, and its query string carries settings
    # such as cancel_http_readonly_queries_on_client_close that would read as "read-only".
    text = _URL.sub(" ", str(exc)).lower()
    for patterns, sentence in _WRITE_FAULTS:
        if any(p in text for p in patterns):
            return sentence
    return None


def _log_retry(operation: str) -> Any:
    def before_sleep(state: RetryCallState) -> None:
        STORE_RETRIES.labels(operation=operation).inc()
        exc = state.outcome.exception() if state.outcome else None
        logger.warning(
            "ClickHouse {} failed (attempt {}): {}; retrying in {:.1f}s",
            operation, state.attempt_number, exc, state.next_action.sleep if state.next_action else 0.0,
        )

    return before_sleep


class Store:
    """A connected store. Thread-safe: chDB serialises calls internally, HTTP clients pool."""

    def __init__(self, client: Client, settings: Settings, lock: DirectoryLock | None,
                 bulk: ChdbBulkInserter | None = None) -> None:
        self.client = client
        self.settings = settings
        self.databases = Databases.from_settings(settings)
        self._lock = lock
        # Embedded only: Arrow batches go in through chDB's in-process path (see chdb_bulk.py).
        self._bulk = bulk
        self._closed = False
        self._query_retry = Retrying(
            stop=stop_after_attempt(settings.clickhouse_query_tries),
            wait=wait_exponential(multiplier=1, min=1, max=10),
            # A full disk or a read-only store does not heal in seconds: answered at once, not retried.
            retry=retry_if_exception(lambda e: isinstance(e, RETRYABLE) and write_fault(e) is None),
            before_sleep=_log_retry("query"),
            reraise=True,
        )

    # ---- opening ----------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, *, apply_schema: bool = True) -> Store:
        lock: DirectoryLock | None = None
        if settings.embedded:
            path = settings.chdb_path
            lock = DirectoryLock(path)
            lock.acquire()
            path.mkdir(parents=True, exist_ok=True)
        try:
            client = cls._connect(settings)
        except Exception as exc:
            if lock:
                lock.release()
            target = settings.chdb_path if settings.embedded else (
                f"{settings.clickhouse_host}:{settings.clickhouse_port}")
            if "Cannot lock file" in str(exc):
                raise StoreLockedError(
                    f"The embedded store {target} is locked by another process (chDB: {exc}). "
                    "Send the work to that process (the running service) or stop it first."
                ) from None
            raise StoreError(f"cannot connect to ClickHouse at {target}: {exc}") from exc
        bulk = None
        if settings.embedded:  # imported here: chDB's Python binding is loaded only for an embedded store
            from santiway_anomaly.storage.chdb_bulk import ChdbBulkInserter

            bulk = ChdbBulkInserter(settings.chdb_path)
        store = cls(client, settings, lock, bulk)
        try:
            if apply_schema:
                from santiway_anomaly.storage.migrations import apply_migrations

                apply_migrations(store)
            if not settings.embedded:
                store._use_database()
        except BaseException:
            store.close()
            raise
        return store

    def _use_database(self) -> None:
        """Make the product database the client's default once it exists (server mode only)."""
        name = self.settings.clickhouse_database
        if self.scalar("SELECT count() FROM system.databases WHERE name = {name:String}", {"name": name}):
            self.client.database = name

    @staticmethod
    def _connect(settings: Settings) -> Client:
        def connect() -> Client:
            if settings.embedded:
                return clickhouse_connect.get_client(dsn=f"chdb://{settings.chdb_path}")
            # No `database=` here: the client's start-up queries run in it, and on an empty server the
            # product's database does not exist until the first migration creates it (issue 15). Every
            # product query names its tables in full; the database is set once it exists (`open`).
            return clickhouse_connect.get_client(
                host=settings.clickhouse_host,
                port=settings.clickhouse_port,
                username=settings.clickhouse_user,
                password=settings.clickhouse_password,
                secure=settings.clickhouse_secure,
                connect_timeout=settings.clickhouse_connect_timeout,
                send_receive_timeout=settings.clickhouse_send_receive_timeout,
                # No HTTP session: the API and ingest share one client across threads, and one session
                # runs one query at a time ("concurrent queries within the same session"). The product
                # keeps no session state (no temporary tables, no SET).
                autogenerate_session_id=False,
                settings=cluster_query_settings(settings.clickhouse_cluster),
            )

        retrying = Retrying(
            stop=stop_after_attempt(settings.clickhouse_connect_tries),
            wait=wait_exponential(multiplier=2, min=2, max=30),
            retry=retry_if_exception_type(RETRYABLE),
            before_sleep=_log_retry("connect"),
            reraise=True,
        )
        return retrying(connect)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._bulk:
                self._bulk.close()
            self.client.close()
        finally:
            if self._lock:
                self._lock.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def target(self) -> str:
        s = self.settings
        return f"chdb://{s.chdb_path}" if s.embedded else f"http://{s.clickhouse_host}:{s.clickhouse_port}"

    # ---- queries ----------------------------------------------------------------------

    def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._query_retry(fn, *args, **kwargs)
        except StoreError:
            raise
        except RETRYABLE as exc:
            if write_fault(exc) is not None:
                raise
            # Every try failed on the connection, a time-out or the OS: the store is unavailable. One
            # sentence for the operator (the CLI exits 3 with it), the cause chained for the log.
            tries = self.settings.clickhouse_query_tries
            raise StoreUnavailableError(
                f"the store at {self.target} did not answer after {tries} tries "
                f"({type(exc).__name__}: {_first_line(exc)})"
            ) from exc

    def _write(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """A write: a full disk or a read-only store becomes `StoreWriteError` (one sentence), not retried
        (retrying cannot free space) and never a bare ClickHouse error."""
        try:
            return fn(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            sentence = write_fault(exc)
            if sentence is None:
                raise
            logger.error("store write failed: {} ({}: {})", sentence, type(exc).__name__, str(exc)[:300])
            raise StoreWriteError(sentence) from exc

    def query_df(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        df: pd.DataFrame = self._run(self.client.query_df, self.databases.sql(sql), parameters=dict(params or {}))
        return _utc_columns(df)

    def query_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        table: pa.Table = self._run(self.client.query_arrow, self.databases.sql(sql), parameters=dict(params or {}))
        return table

    def query_rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        result = self._run(self.client.query, self.databases.sql(sql), parameters=dict(params or {}))
        return list(result.result_rows)

    def query_dicts(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        result = self._run(self.client.query, self.databases.sql(sql), parameters=dict(params or {}))
        names = result.column_names
        return [dict(zip(names, row, strict=True)) for row in result.result_rows]

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        rows = self.query_rows(sql, params)
        return rows[0][0] if rows else None

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._run(self.client.command, self.databases.sql(sql), parameters=dict(params or {}))

    # ---- inserts ----------------------------------------------------------------------

    def insert_arrow(self, table: str, data: pa.Table, *, dedup_token: str | None = None) -> None:
        """Insert an Arrow table. With `dedup_token`, re-sending the same batch is a no-op."""
        # The materialized views of one table run side by side instead of one after the other.
        settings: dict[str, int | str] = {"parallel_view_processing": 1}
        if dedup_token:
            settings["insert_deduplication_token"] = dedup_token
            settings["insert_deduplicate"] = 1
            # Without this the materialized views would aggregate a dropped repeat anyway.
            settings["deduplicate_blocks_in_dependent_materialized_views"] = 1
        target = self.databases.table(table)
        if self._bulk:
            self._write(self._run, self._bulk.insert, target, data, settings)
        else:
            self._write(self._run, self.client.insert_arrow, target, data, settings=settings)

    def insert_rows(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]) -> None:
        for name in column_names:
            identifier(name)
        self._write(self._run, self.client.insert, self.databases.table(table), list(rows),
                    column_names=list(column_names))


def _utc_columns(df: pd.DataFrame) -> pd.DataFrame:
    # DateTime64(…, 'UTC') can come back naive from chDB: make every datetime column explicitly UTC.
    import pandas as pd  # loaded by query_df's result already

    for name in df.columns:
        col = df[name]
        if pd.api.types.is_datetime64_any_dtype(col) and getattr(col.dt, "tz", None) is None:
            df[name] = col.dt.tz_localize("UTC")
    return df

