"""The Docker ClickHouse init records the schema as the runner does: the backend's first start applies nothing."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from santiway_anomaly.storage import Store
from santiway_anomaly.storage.migrations import _VERSIONS_DDL, SQL_DIR, applied, discover
from tests.clickhouse_http.fixture import REPO, ClickHouseHttp

SCRIPT = REPO / "deploy/clickhouse/apply-migrations.sh"

# A stand-in for `clickhouse client` inside the image: --query SQL, or --multiquery statements on stdin,
# sent to the HTTP stand-in server.
FAKE_CLIENT = """#!{python}
import sys, urllib.request
from santiway_anomaly.storage.migrations import split_statements
args = sys.argv[1:]
sqls = [args[args.index("--query") + 1]] if "--query" in args else split_statements(sys.stdin.read())
for sql in sqls:
    with urllib.request.urlopen("http://127.0.0.1:{port}/", data=sql.encode(), timeout=60) as r:
        sys.stdout.write(r.read().decode())
"""


def test_init_script_records_what_it_applied(ch_server: ClickHouseHttp, tmp_path: Path) -> None:
    init = tmp_path / "initdb"
    (init / "migrations").mkdir(parents=True)
    shutil.copy(SQL_DIR / "schema.sql", init / "001_schema.sql")
    shutil.copy(SQL_DIR / "views.sql", init / "002_views.sql")
    for path in (SQL_DIR / "migrations").glob("*.sql"):
        shutil.copy(path, init / "migrations" / path.name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    client = bin_dir / "clickhouse"
    client.write_text(FAKE_CLIENT.format(python=sys.executable, port=ch_server.port))
    client.chmod(client.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "INIT_DIR": str(init),
           "PYTHONPATH": str(REPO / "src")}
    # What the image's entrypoint does: the .sql files in name order, then the script.
    for sql in ("001_schema.sql", "002_views.sql"):
        with (init / sql).open() as stdin:
            subprocess.run([str(client), "client", "--multiquery"], stdin=stdin, env=env, check=True, timeout=120)
    done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with Store.open(ch_server.settings(tmp_path / "data"), apply_schema=False) as store:
        from santiway_anomaly.storage.migrations import apply_migrations

        recorded = applied(store)
        assert {v: c for v, (_, c) in recorded.items()} == {m.version: m.checksum for m in discover()}
        assert apply_migrations(store) == []  # the backend's first start: nothing re-applied, no rebuild


def test_init_script_versions_table_is_the_runners() -> None:
    text = SCRIPT.read_text()
    start = text.index("CREATE TABLE IF NOT EXISTS anomaly_ml.schema_migrations")
    ddl = text[start:text.index('"', start)]
    assert ddl.split() == _VERSIONS_DDL.split()
