"""Migration 140 re-sorts stored anomalies by time; storing stays idempotent before and after it."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from santiway_anomaly.anomaly import ROW_COLUMNS, Anomaly
from santiway_anomaly.config import Settings, load_settings
from santiway_anomaly.storage import Store
from santiway_anomaly.storage.anomalies import AnomalyFilter, save_anomalies
from santiway_anomaly.storage.migrations import SQL_DIR, apply_migrations, current_version, split_statements

MIGRATION = SQL_DIR / "migrations" / "140_anomalies_by_time.sql"
ROWS = f"SELECT {', '.join(ROW_COLUMNS)} FROM anomaly_ml.anomalies"


def _anomalies(now: datetime, n: int) -> list[Anomaly]:
    """Windows of 1, 6 and 24 hours over ten days, device- and folder-level."""
    out = []
    for i in range(n):
        start = now - timedelta(hours=7 * i + 1)
        out.append(
            Anomaly(
                anomaly_type="density_spike" if i % 3 == 0 else "night_activity",
                severity="warning",
                score=0.5 + (i % 50) / 100,
                window_start=start,
                window_end=start + timedelta(hours=(1, 6, 24)[i % 3]),
                device_id="" if i % 3 == 0 else f"AA:BB:CC:00:00:{i % 256:02X}",
                folder=f"folder-{i % 4}",
                details={"i": i},
            )
        )
    return out


def _sorted_rows(store: Store, final: bool = False) -> list[tuple[object, ...]]:
    return sorted(store.query_rows(ROWS + (" FINAL" if final else "")))


def _old_schema_dir(tmp_path: Path) -> Path:
    before = tmp_path / "sql_before_140"
    shutil.copytree(SQL_DIR, before)
    for later in (before / "migrations").glob("*.sql"):
        if int(later.name[:3]) >= 140:
            later.unlink()
    return before


# Builds an old-schema embedded directory of its own.
@pytest.mark.embedded_only
def test_migration_moves_every_anomaly_once_and_keeps_storage_idempotent(
    store_closed: Settings, tmp_path: Path
) -> None:
    settings = load_settings(data_dir=tmp_path / "data", _env_file=None)
    anomalies = _anomalies(datetime.now(UTC).replace(microsecond=0), 90)
    with Store.open(settings, apply_schema=False) as store:
        apply_migrations(store, _old_schema_dir(tmp_path))
        assert current_version(store) < 140
        assert store.scalar("SELECT sorting_key FROM system.tables WHERE database = 'anomaly_ml' "
                            "AND name = 'anomalies'") == "anomaly_id"
        # Stored in three runs, the last one overlapping the first; then one copy that bypassed the
        # writers' check (another process racing this one): ReplacingMergeTree holds it until a merge.
        assert len(save_anomalies(store, anomalies[:40])) == 40
        assert len(save_anomalies(store, anomalies[40:])) == 50
        assert save_anomalies(store, anomalies[:60]) == []
        store.insert_rows("anomaly_ml.anomalies", [anomalies[5].to_row()], ROW_COLUMNS)
        before = _sorted_rows(store, final=True)
        assert len(before) == 90

        assert [m.version for m in apply_migrations(store)][0] == 140
        assert store.scalar("SELECT sorting_key FROM system.tables WHERE database = 'anomaly_ml' "
                            "AND name = 'anomalies'") == "window_start, anomaly_id"
        assert store.scalar("SELECT count() FROM system.tables WHERE database = 'anomaly_ml' "
                            "AND name = 'anomalies_by_time'") == 0
        # Every anomaly moved, exactly once (the racing copy collapsed on the way).
        assert _sorted_rows(store) == before

        # Idempotent after the migration: a re-detection stores nothing, a racing copy collapses.
        assert save_anomalies(store, anomalies) == []
        again = anomalies[7].to_row()
        again[1] = datetime.now(UTC)  # detected again, later: same id, same window
        store.insert_rows("anomaly_ml.anomalies", [again], ROW_COLUMNS)
        assert [r[0] for r in _sorted_rows(store, final=True)] == [r[0] for r in before]
        store.command("OPTIMIZE TABLE anomaly_ml.anomalies FINAL")
        assert store.scalar("SELECT count() FROM anomaly_ml.anomalies") == 90
        new = _anomalies(datetime.now(UTC).replace(microsecond=0) + timedelta(days=30), 1)
        assert save_anomalies(store, new) == new


@pytest.mark.embedded_only
def test_migration_is_safe_to_run_again_after_a_crash(store_closed: Settings, tmp_path: Path) -> None:
    """A crash after the exchange, before the migration was recorded: its statements run once more."""
    settings = load_settings(data_dir=tmp_path / "data", _env_file=None)
    with Store.open(settings) as store:
        save_anomalies(store, _anomalies(datetime.now(UTC).replace(microsecond=0), 30))
        before = _sorted_rows(store)
        for statement in split_statements(MIGRATION.read_text(encoding="utf-8")):
            store.command(statement)
        assert _sorted_rows(store) == before
        assert store.scalar("SELECT sorting_key FROM system.tables WHERE database = 'anomaly_ml' "
                            "AND name = 'anomalies'") == "window_start, anomaly_id"


@pytest.mark.embedded_only
def test_a_time_filter_reads_only_its_granules(store_closed: Settings, tmp_path: Path) -> None:
    """since/until select a day out of twenty: the sort key and the window_end index skip the rest."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    rows = []
    for i in range(20_000):
        start = now - timedelta(seconds=86 * i)  # about 1,000 a day over 20 days
        rows.append(Anomaly(anomaly_type="night_activity", severity="info", score=0.6, window_start=start,
                            window_end=start + timedelta(hours=1), device_id=f"AA:00:00:00:{i // 256 % 256:02X}:"
                            f"{i % 256:02X}", folder="f").to_row())
    with Store.open(load_settings(data_dir=tmp_path / "data", _env_file=None)) as store:
        store.insert_rows("anomaly_ml.anomalies", rows, ROW_COLUMNS)
        store.command("OPTIMIZE TABLE anomaly_ml.anomalies FINAL")
        flt = AnomalyFilter(since=now - timedelta(days=10), until=now - timedelta(days=9))
        where, params = flt.where()
        plan = "\n".join(r[0] for r in store.query_rows(
            "EXPLAIN indexes = 1 SELECT anomaly_id FROM anomaly_ml.anomalies FINAL" + where, params))
        total = max(int(m) for m in re.findall(r"Granules: \d+/(\d+)", plan))
        read = int(re.search(r"Parts: \d+ \| Granules: (\d+)", plan).group(1))  # type: ignore[union-attr]
        assert total >= 15 and read <= total // 5, plan
        assert store.scalar("SELECT count() FROM anomaly_ml.anomalies FINAL" + where, params) == sum(
            1 for r in rows if r[12] > flt.since and r[11] < flt.until)
