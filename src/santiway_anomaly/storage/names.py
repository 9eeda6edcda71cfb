"""The one check for table, column and setting names that must be put into SQL text."""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63})?$")


def identifier(name: str) -> str:
    """Return `name` if it is a plain (optionally database-qualified) identifier, else raise."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a valid table or column name: {name!r}")
    return name
