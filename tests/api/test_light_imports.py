"""The API starts without the heavy analysis libraries: routes that need them import them on first use."""

from __future__ import annotations

import subprocess
import sys


def test_the_app_imports_without_pandas() -> None:
    code = "import sys, santiway_anomaly.api.main; print(sorted(m for m in ('pandas', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr[-2000:]
