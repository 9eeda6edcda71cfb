"""Domain functions that routes call through the worker pool, imported on their first call.

The analysis and allowlist modules bring pandas and numpy (about 100 MB of a server's memory); most
services never serve the routes that use them, and the ones that do pay the import once, on the first
request (issue 17: keep heavy imports out of the API's start-up, as PyOD keeps torch out of its own).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy(module: str, name: str) -> Callable[..., Any]:
    """A function that imports `module` on its first call and calls its `name` with the same arguments."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{module}.{name}, imported on first call."
    return call
