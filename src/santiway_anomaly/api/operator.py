"""The operator behind a request, as the calling application names them (`X-Operator: alice`).

The dashboard signs its operators in and sends the name with the shared API key. The service records
actions (verdicts, known devices) as `key:<id>/alice`, so the key stays accountable for what it vouches
for, and counts rate limits per operator rather than in one bucket for every dashboard user.
A malformed name is ignored (the request is then the key's alone), never echoed into storage.
"""

from __future__ import annotations

import re

from starlette.requests import HTTPConnection

HEADER = "x-operator"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def operator_name(conn: HTTPConnection) -> str | None:
    value = conn.headers.get(HEADER, "").strip()
    return value if valid_operator(value) else None


def valid_operator(value: str) -> bool:
    """Whether a (stripped) X-Operator value is a name we accept."""
    return _NAME.match(value) is not None
