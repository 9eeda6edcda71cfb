"""Storage owns the SQL (DESIGN.md): SQL text and the store's query methods stay under storage/, and every
id list goes through the one fast form (storage/idsets.py)."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "santiway_anomaly"
STORAGE = PACKAGE / "storage"

_STORE_CALL = re.compile(r"\.(query_df|query_arrow|query_rows|query_dicts|scalar|command|insert_arrow|insert_rows)\(")
_SQL_STATEMENT = re.compile(r"['\"]\s*(SELECT\s.+\sFROM\s|INSERT\s+INTO\s|ALTER\s+TABLE\s|CREATE\s+TABLE\s)", re.I)
_LITERAL_IN = re.compile(r"\bIN\s+\{\{?\w+:Array\(", re.I)

# The stationary detector's three modules run named SQL constants of storage/queries/stationary.py
# themselves (the SQL text is in storage); to become query functions once the stationary rework lands.
RUNS_STORAGE_CONSTANTS = {"detectors/stationary_lingering.py", "detectors/stationary_following.py",
                          "detectors/stationary_returning.py"}
# Messages that tell an operator which query to run by hand, not queries the code runs.
HINTS = {"ml/training.py"}


def _outside_storage() -> list[tuple[str, str]]:
    return [(str(p.relative_to(PACKAGE)), p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.rglob("*.py"))
            if STORAGE not in p.parents]


def test_only_storage_calls_the_store_query_methods() -> None:
    callers = [name for name, text in _outside_storage()
               if "store" in text and _STORE_CALL.search(text) and name not in RUNS_STORAGE_CONSTANTS]
    # httpx / websocket clients have methods of other names; `.command(` and `.scalar(` are the store's.
    offenders = [name for name in callers
                 if any("store" in line and _STORE_CALL.search(line) for line in _text(name).splitlines())]
    assert offenders == [], f"query the store through storage/ functions, not from {offenders}"


def test_no_sql_statements_outside_storage() -> None:
    offenders = [name for name, text in _outside_storage() if _SQL_STATEMENT.search(text) and name not in HINTS]
    assert offenders == [], f"SQL belongs in storage/: {offenders}"


def test_id_lists_use_the_one_fast_form() -> None:
    offenders = [str(p.relative_to(PACKAGE)) for p in sorted(PACKAGE.rglob("*.py"))
                 if p.name != "idsets.py" and _LITERAL_IN.search(p.read_text(encoding="utf-8"))]
    assert offenders == [], f"`col IN {{ids:Array(String)}}` falls off a cliff past ~50k ids; use in_ids: {offenders}"


def _text(name: str) -> str:
    return (PACKAGE / name).read_text(encoding="utf-8")
