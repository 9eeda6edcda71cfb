"""After a failed insert, put the aggregates back in agreement with the raw sightings.

An insert into santi.way_data that fails half way may have stored some of its rows without their
aggregates, or the other way round (storage/aggregates.py explains why). Right after such a failure the
days the batch touched are checked and, where they disagree, rebuilt from the raw rows. When that is
impossible (the disk is full, the store unreachable), the days are remembered and repaired after this
process's next successful insert into the same store (rebuilding a whole day from the raw rows is right
whatever was inserted since); a process that is killed meanwhile leaves them to
`santiway-anomaly schema repair`.

The caller holds the ingest's insert lock, so no other insert of this process runs during a repair.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
from loguru import logger

from santiway_anomaly.storage.aggregates import repair_disagreeing
from santiway_anomaly.storage.store import Store, StoreUnavailableError, StoreWriteError

# Store target -> days that still need a check (a repair after a failure failed as well).
_PENDING: dict[str, set[date]] = {}
_PENDING_LOCK = threading.Lock()


def pending_days(store: Store) -> list[date]:
    with _PENDING_LOCK:
        return sorted(_PENDING.get(store.target, ()))


def _days(table: pa.Table) -> set[date]:
    if table.num_rows == 0:
        return set()
    days = pc.unique(table.column("ts").cast(pa.timestamp("ms", tz="UTC")).cast(pa.date32()))
    return {d for d in days.to_pylist() if d is not None}


def _repair(store: Store, days: set[date]) -> bool:
    """Check and rebuild `days`; False (and the days kept pending) when the store refuses."""
    try:
        after, rebuilt = repair_disagreeing(store, days)
    except Exception as exc:  # a full disk or a lost store fails the repair too: try again later
        _remember(store, days)
        logger.error("could not check or repair the aggregates of {} day(s) after a failed insert ({}: {}); "
                     "they are repaired before the next insert, or run `santiway-anomaly schema repair`",
                     len(days), type(exc).__name__, str(exc)[:300])
        return False
    if rebuilt:
        logger.warning("rebuilt the aggregates of {} day(s) from the raw sightings after a failed insert",
                       len(rebuilt))
    if not after.agree:  # another writer outside this process: say so, never loop
        logger.error("aggregates still disagree with the raw sightings on {} day(s) after the repair: {}",
                     len(after.disagreeing), "; ".join(after.describe(d) for d in after.disagreeing[:5]))
    with _PENDING_LOCK:
        left = _PENDING.get(store.target)
        if left is not None:
            left -= days
            if not left:
                del _PENDING[store.target]
    return True


def heal_pending(store: Store) -> None:
    """Repair the days a failed insert or repair left behind (called after an insert that succeeded)."""
    days = pending_days(store)
    if days:
        _repair(store, set(days))


def _remember(store: Store, days: set[date]) -> None:
    with _PENDING_LOCK:
        _PENDING.setdefault(store.target, set()).update(days)


@contextmanager
def aggregates_kept_in_agreement(store: Store, rows: pa.Table) -> Iterator[None]:
    """Around the inserts of `rows` into santi.way_data: a failure leaves the touched days in agreement
    (or pending, see the module docstring) and is then raised as it was.

    A full disk, a read-only or an unreachable store would refuse the repair too (a full disk even holds
    it back until the time-out): their days wait for the next insert that succeeds, which proves the store
    writes again. Any other failure (a view that throws, a bad block) is repaired at once."""
    try:
        yield
    except Exception as exc:
        days = _days(rows)
        if days:
            if isinstance(exc, StoreWriteError | StoreUnavailableError):
                _remember(store, days)
                logger.warning("an insert of {:,} sightings failed ({}): the aggregates of the {} day(s) it touched "
                               "are checked after the next insert that succeeds", rows.num_rows, exc, len(days))
            else:
                logger.warning("an insert of {:,} sightings failed: checking the aggregates of the {} day(s) it "
                               "touched", rows.num_rows, len(days))
                _repair(store, days)
        raise
    heal_pending(store)


__all__ = ["aggregates_kept_in_agreement", "heal_pending", "pending_days"]
