"""One process per embedded chDB directory.

chDB itself refuses a second process with "Cannot lock file .../status"; we take our own lock
first so that the second process learns *which* process owns the store and what to do instead.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from pathlib import Path
from typing import IO


class StoreLockedError(RuntimeError):
    """The embedded store is owned by another running process."""


# flock is per open file: a second open in this same process would conflict with the first,
# so locks held by this process are shared and counted.
_HELD: dict[Path, tuple[IO[str], int]] = {}


class DirectoryLock:
    def __init__(self, directory: Path) -> None:
        self.path = directory.parent / f"{directory.name}.lock"
        self._held = False

    def acquire(self) -> None:
        if self.path in _HELD:
            handle, count = _HELD[self.path]
            _HELD[self.path] = (handle, count + 1)
            self._held = True
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the process lifetime
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = _describe_owner(handle.read())
            handle.close()
            raise StoreLockedError(
                f"The embedded store {self.path.parent / self.path.stem} is in use by {owner}. "
                "Only one process can open an embedded chDB store: send the work to that process "
                "(for the service: its REST API, e.g. POST /ingest or POST /anomalies/detect-and-notify), "
                "or stop it first. To share one store between processes, run a ClickHouse server and set "
                "CLICKHOUSE_HOST."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "command": " ".join(_command_line())}))
        handle.flush()
        _HELD[self.path] = (handle, 1)
        self._held = True

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        handle, count = _HELD[self.path]
        if count > 1:
            _HELD[self.path] = (handle, count - 1)
            return
        del _HELD[self.path]
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def _command_line() -> list[str]:
    argv = list(sys.argv)
    if argv:
        argv[0] = Path(argv[0]).name
    return argv


def _describe_owner(text: str) -> str:
    try:
        info = json.loads(text)
        return f"process {info['pid']} (`{info['command']}`)"
    except (ValueError, KeyError, TypeError):
        return "another process"
