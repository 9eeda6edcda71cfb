"""One log format on the terminal: the standard-library loggers (uvicorn's among them) go through loguru;
the dashboard's Streamlit uses the same line layout; the demo is quiet unless --verbose."""

from __future__ import annotations

import re
import subprocess
import sys

from santiway_anomaly.cli.dashboard import streamlit_command


def test_stdlib_and_loguru_lines_look_alike() -> None:
    code = ("from santiway_anomaly.cli.common import configure_logging; configure_logging('INFO'); "
            "import logging; from loguru import logger; logging.getLogger('uvicorn.error').info('from uvicorn'); "
            "logger.info('from loguru'); logging.getLogger('x').debug('hidden')")
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stderr
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 2, err
    assert all(re.match(r"^\d\d:\d\d:\d\d \| INFO    \| ", line) for line in lines), lines
    assert lines[0].endswith("uvicorn.error: from uvicorn") and lines[1].endswith("from loguru")


def test_streamlit_uses_the_same_layout() -> None:
    command = streamlit_command("127.0.0.1", 8501)
    fmt = command[command.index("--logger.messageFormat") + 1]
    assert "| %(levelname)-7s |" in fmt


def test_demo_is_quiet_by_default() -> None:
    from santiway_anomaly.cli.demo import quiet_env

    assert quiet_env({"A": "1"}, verbose=False) == {"A": "1", "LOG_LEVEL": "WARNING", "API_LOG_REQUESTS": "false"}
    assert quiet_env({"A": "1"}, verbose=True) == {"A": "1"}
