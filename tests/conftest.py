"""Shared fixtures: one real embedded chDB store per test session.

chDB allows one data directory per process at a time, so the suite shares one store. A test
that needs its own directory, or a subprocess on this one (CLI, server), asks for
`store_closed` first: the shared store is closed for that test and reopened after.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from santiway_anomaly.config import Settings, load_settings
from santiway_anomaly.storage import Store


class SharedStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: Store | None = None

    def get(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.settings)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("santiway-data")


# SANTIWAY_TEST_STORE=http runs the suite's store on the ClickHouse HTTP stand-in
# (tests/clickhouse_http) instead of embedded chDB: the server path under the same tests. CI
# (scripts/test.sh) runs the suite embedded and, side by side with it, the tests that open a store once
# more on the stand-in.
STORE_MODE = os.environ.get("SANTIWAY_TEST_STORE", "embedded")


def own_store_values(data_dir: Path) -> dict[str, str]:
    """The settings that give `data_dir` a store of its own, by environment variable name.

    On embedded chDB a data directory *is* a store. On the HTTP stand-in every directory would share the
    session's one server and its default databases (the tests then see each other's anomalies and
    outboxes), so a directory gets a database pair of its own there, named after its path: the same
    directory, the same databases, as a real server would keep them across a service restart. The
    session's server must be running: request `shared_store` or `store_closed` first.
    """
    values = {"DATA_DIR": str(data_dir)}
    if STORE_MODE != "http":
        return values
    if not os.environ.get("CLICKHOUSE_HOST"):
        raise RuntimeError("the HTTP stand-in is not running: request the shared_store or store_closed fixture")
    name = "t_" + hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]
    return {**values, "CLICKHOUSE_HOST": os.environ["CLICKHOUSE_HOST"],
            "CLICKHOUSE_PORT": os.environ["CLICKHOUSE_PORT"],
            "CLICKHOUSE_DATABASE": name, "CLICKHOUSE_RAW_DATABASE": f"{name}_raw"}


def own_env(data_dir: Path) -> dict[str, str]:
    """`os.environ` for a subprocess (CLI, uvicorn) on the store of `data_dir` (see `own_store_values`)."""
    return {**os.environ, **own_store_values(data_dir)}


def own_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings on the store of `data_dir` (see `own_store_values`), no `.env` file read."""
    values: dict[str, Any] = {name.lower(): value for name, value in own_store_values(data_dir).items()}
    return load_settings(_env_file=None, **{**values, **overrides})


def pytest_report_header() -> str:
    return f"store: {STORE_MODE}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if STORE_MODE != "http":
        return
    # The HTTP pass runs the tests that open a store, and only those: a store reaches a test only through
    # the session's `settings` (the stand-in's address is set there). The others (units, and the tests
    # that start stand-ins of their own, tests/clickhouse_http) would only repeat the embedded pass.
    others = [item for item in items if "settings" not in getattr(item, "fixturenames", ())]
    if others:
        config.hook.pytest_deselected(items=others)
        items[:] = [item for item in items if "settings" in getattr(item, "fixturenames", ())]
    skip = pytest.mark.skip(reason="embedded chDB only (SANTIWAY_TEST_STORE=http)")
    for item in items:
        if item.get_closest_marker("embedded_only"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def settings(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    if STORE_MODE != "http":
        yield load_settings(data_dir=data_dir, _env_file=None)
        return
    from tests.clickhouse_http.fixture import ClickHouseHttp

    server = ClickHouseHttp(tmp_path_factory.mktemp("clickhouse-http")).start()
    # CLI commands invoked by tests (in process or as subprocesses) read the environment: point them at
    # the same server.
    saved = {name: os.environ.get(name) for name in server.env()}
    os.environ.update(server.env())
    try:
        yield server.settings(data_dir)
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def shared_store(settings: Settings) -> Iterator[SharedStore]:
    shared = SharedStore(settings)
    yield shared
    shared.close()


@pytest.fixture()
def store(shared_store: SharedStore) -> Store:
    """The session's store, as other tests left it."""
    return shared_store.get()


@pytest.fixture()
def empty_store(shared_store: SharedStore) -> Store:
    """The session's store with every data table emptied (schema kept)."""
    st = shared_store.get()
    existing = {f"{db}.{name}" for db, name in st.query_rows(
        "SELECT database, name FROM system.tables WHERE database IN ('santi', 'anomaly_ml') "
        "AND engine LIKE '%MergeTree%' AND name != 'schema_migrations'")}
    for table in sorted(existing):
        st.command(f"TRUNCATE TABLE {table}")
    return st


@pytest.fixture()
def store_closed(shared_store: SharedStore) -> Iterator[Settings]:
    """Close the shared store for this test (for subprocesses or other directories)."""
    shared_store.close()
    yield shared_store.settings
    shared_store.close()
