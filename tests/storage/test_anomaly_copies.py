"""Listings skip FINAL only where no two copies of one anomaly can be stored (storage/anomalies.py `_final`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from santiway_anomaly.anomaly import ROW_COLUMNS, Anomaly
from santiway_anomaly.config import Settings, load_settings
from santiway_anomaly.storage import Store
from santiway_anomaly.storage.anomalies import AnomalyFilter, count_anomalies, page_anomalies, save_anomalies

FILTERS = [AnomalyFilter(limit=7), AnomalyFilter(min_score=0.7, limit=5, offset=3),
           AnomalyFilter(anomaly_type="night_activity", limit=100)]


def _anomalies(now: datetime, n: int) -> list[Anomaly]:
    return [
        Anomaly(anomaly_type="density_spike" if i % 3 == 0 else "night_activity", severity="warning",
                score=0.5 + (i % 50) / 100, window_start=now - timedelta(hours=5 * i + 1),
                window_end=now - timedelta(hours=5 * i), device_id="" if i % 3 == 0 else f"AA:BB:CC:00:00:{i:02X}",
                folder=f"folder-{i % 4}", details={"i": i, "share": i / 7})
        for i in range(n)
    ]


def _reference(store: Store, flt: AnomalyFilter) -> tuple[list[str], int]:
    """The page's ids and the total as FINAL sees them (every anomaly once)."""
    where, params = flt.where()
    ids = [r[0] for r in store.query_rows(
        f"SELECT anomaly_id FROM anomaly_ml.anomalies FINAL{where} ORDER BY window_start DESC, score DESC, "
        "anomaly_id LIMIT {limit:UInt32} OFFSET {offset:UInt64}", {**params, "limit": flt.limit, "offset": flt.offset})]
    return ids, int(store.scalar(f"SELECT count() FROM anomaly_ml.anomalies FINAL{where}", params))


def _pages(store: Store) -> list[tuple[list[Any], int]]:
    out = []
    for flt in FILTERS:
        data, total = page_anomalies(store, flt)
        assert total == count_anomalies(store, flt)
        assert ([a["anomaly_id"] for a in data], total) == _reference(store, flt)
        out.append((data, total))
    return out


# Own embedded directories: copies are planted before the store is opened, as an earlier run left them.
@pytest.mark.embedded_only
def test_pages_count_each_anomaly_once_with_or_without_stored_copies(store_closed: Settings, tmp_path: Path) -> None:
    anomalies = _anomalies(datetime.now(UTC).replace(microsecond=0), 40)
    clean = load_settings(data_dir=tmp_path / "clean", _env_file=None)
    with Store.open(clean) as store:
        assert len(save_anomalies(store, anomalies)) == 40
        assert save_anomalies(store, anomalies[:10]) == []  # re-detected: stored once
        clean_pages = _pages(store)
        assert clean_pages[0][1] == 40
    copies = load_settings(data_dir=tmp_path / "copies", _env_file=None)
    with Store.open(copies) as store:
        save_anomalies(store, anomalies)
        # Copies a racing writer left behind (no merge has collapsed them yet).
        store.insert_rows("anomaly_ml.anomalies", [a.to_row() for a in anomalies[:15]], ROW_COLUMNS)
        assert store.scalar("SELECT count() FROM anomaly_ml.anomalies") == 55
    with Store.open(copies) as store:  # a new process opens the store holding copies
        assert _pages(store) == clean_pages
