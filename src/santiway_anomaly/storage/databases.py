"""Which database each table lives in: SQL names two canonical databases, the Store maps them.

The rule (docs/storage.md):
- Every SQL text of the product (queries, the migration `.sql` files, the cluster DDL) names its tables
  in full, in one of two canonical databases: `anomaly_ml` (the product's own tables) and `santi` (the
  host application's raw sightings, `santi.way_data`).
- The Store rewrites those two names to the configured ones (`CLICKHOUSE_DATABASE`,
  `CLICKHOUSE_RAW_DATABASE`) in one place, `Databases.sql`, for every query, command, insert and
  migration statement. Nothing else in the product knows the configured names, except code that needs
  a database name as a *value* (a `system.tables` filter): it binds `store.databases.product` / `.raw`
  as a parameter.
- A canonical name is replaced only as a whole identifier outside string literals, quoted identifiers
  and comments: `'anomaly_ml'` in a literal stays as written, `santiway` or `anomaly_ml_x` never match.
- With the default names the text is returned as it is; otherwise each distinct text is rewritten once
  and remembered (the product's SQL texts are a few hundred constants), so a query pays a dict look-up.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING

from santiway_anomaly.storage.names import identifier

if TYPE_CHECKING:
    from santiway_anomaly.config import Settings

PRODUCT = "anomaly_ml"
RAW = "santi"

# One pass: a literal, a quoted identifier or a comment is matched whole (and kept); only a bare
# canonical name (group 1) is replaced. Single pass, so a configured name equal to the other canonical
# one (`CLICKHOUSE_DATABASE=santi`) is never replaced twice.
_TOKENS = re.compile(
    r"""'(?:[^'\\]|\\.|'')*'        # string literal ('' and \' escapes)
      | "(?:[^"\\]|\\.)*"           # quoted identifier
      | `(?:[^`\\]|\\.)*`           # back-quoted identifier
      | --[^\n]*                    # line comment
      | /\*.*?\*/                   # block comment
      | \b(anomaly_ml|santi)\b      # a canonical database name
    """,
    re.S | re.X,
)

# Texts built with values in them would grow the memo without bound: past this many it starts over.
_MEMO_LIMIT = 4096


class Databases:
    """The configured database for each canonical one, and the rewrite of SQL text between them."""

    def __init__(self, product: str = PRODUCT, raw: str = RAW) -> None:
        self.product = identifier(product)
        self.raw = identifier(raw)
        self._names = {PRODUCT: self.product, RAW: self.raw}
        self.is_default = self.product == PRODUCT and self.raw == RAW
        self._memo: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Databases:
        return cls(settings.clickhouse_database, settings.clickhouse_raw_database)

    def sql(self, text: str) -> str:
        """`text` with the canonical database names replaced by the configured ones."""
        if self.is_default:
            return text
        found = self._memo.get(text)
        if found is not None:
            return found
        rewritten = _TOKENS.sub(self._replace, text)
        with self._lock:
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[text] = rewritten
        return rewritten

    def table(self, name: str) -> str:
        """A canonical `db.table` name (as inserts take it) in its configured database."""
        database, dot, table = identifier(name).partition(".")
        if not dot:
            raise ValueError(f"table {name!r} must be named with its database (anomaly_ml.x or santi.x)")
        return f"{self._names.get(database, database)}.{table}"

    def _replace(self, match: re.Match[str]) -> str:
        canonical = match.group(1)
        return self._names[canonical] if canonical else match.group(0)
