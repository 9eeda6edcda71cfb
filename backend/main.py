"""Shim for the specification's command `python -m uvicorn backend.main:app --reload --port 8001`.

The service lives in `santiway_anomaly.api.main`; this module only re-exports its `app`.
"""

from santiway_anomaly.api.main import app, create_app

__all__ = ["app", "create_app"]
