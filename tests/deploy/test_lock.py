"""Reproducible installs: constraints.txt pins the whole dependency closure, matches the venv the tests
run in, and is what scripts/setup.sh (so CI) and the Dockerfile install from."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = REPO / "constraints.txt"


def pins() -> dict[str, str]:
    out = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            out[name] = version
    return out


def test_every_pin_is_exact() -> None:
    lines = [x for x in CONSTRAINTS.read_text().splitlines() if x and not x.startswith("#")]
    assert lines and all(re.fullmatch(r"[a-z0-9-]+==[0-9][\w.]*", x) for x in lines), lines
    assert pins()["torch"] == "2.13.0"  # the CPU wheel on disk; no local label, so the CPU index matches too


def test_constraints_match_the_venv_under_test() -> None:
    # Fails when a dependency drifted (or was added to pyproject.toml) without `python scripts/lock.py`.
    lock = [sys.executable, str(REPO / "scripts" / "lock.py"), "--check"]
    done = subprocess.run(lock, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_setup_dockerfile_and_ci_install_from_the_constraints() -> None:
    setup = (REPO / "scripts" / "setup.sh").read_text()
    assert "-c constraints.txt" in setup and "constraints.txt -nt" in setup
    docker = (REPO / "Dockerfile").read_text()
    assert "COPY pyproject.toml README.md constraints.txt" in docker
    assert docker.count("-c constraints.txt") == 2  # torch from the CPU index, then the package
    assert "scripts/test.sh" in (REPO / ".ci" / "run").read_text()
    assert "scripts/setup.sh" in (REPO / "scripts" / "test.sh").read_text()
