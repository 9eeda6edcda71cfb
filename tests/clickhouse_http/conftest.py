from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clickhouse_http.fixture import ClickHouseHttp


@pytest.fixture()
def ch_server(tmp_path: Path) -> Iterator[ClickHouseHttp]:
    """A fresh, empty stand-in server of this test's own (nothing created in it by hand)."""
    server = ClickHouseHttp(tmp_path / "server").start()
    yield server
    server.stop()
