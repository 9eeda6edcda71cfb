"""`anomalies`, `detect`, `known add|list|remove`, `schema status` and `evaluate` while the service owns the
embedded store: they go through its API, print the same output, and say (on stderr) which way they went."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import KEYS, seeded_dir, start_server, stop_server
from tests.api.seed import World
from tests.conftest import SharedStore, own_env

CLI = [sys.executable, "-m", "santiway_anomaly.cli.main"]


def run(data_dir: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in own_env(data_dir).items() if not k.startswith(("VALID_API_KEYS", "DASHBOARD_", "TIMEZONE"))}
    env.update(VALID_API_KEYS=KEYS[0], DASHBOARD_API_URL=url, TIMEZONE="Europe/Moscow",
               LOG_LEVEL="WARNING", API_MAX_LIMIT="3")  # the same .env as the service
    return subprocess.run([*CLI, *args], cwd=data_dir, env=env, capture_output=True, text=True, timeout=300)


TYPES_SEEN: dict[str, int] = {}


def write_truth(path: Path, world: World) -> Path:
    """Ground truth naming every other seeded anomaly, plus one event nobody detected."""
    lines = []
    for a in world.anomalies:
        TYPES_SEEN[a.anomaly_type] = TYPES_SEEN.get(a.anomaly_type, 0) + 1
    for a in world.anomalies[::2]:
        lines.append({"anomaly_type": a.anomaly_type, "device_id": a.device_id, "folder": a.folder,
                      "window_start": a.window_start.isoformat(), "window_end": a.window_end.isoformat()})
    lines.append({"anomaly_type": "night_activity", "device_id": "02:00:00:00:00:99", "folder": "office",
                  "window_start": "2026-01-01T00:00:00+00:00", "window_end": "2026-01-01T01:00:00+00:00"})
    truth = path / "truth.jsonl"
    truth.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return truth


def report_body(stdout: str) -> str:
    """The report without its first line (the time it was written) and the paths it was written to."""
    return "\n".join(line for line in stdout.splitlines()[1:] if not line.startswith("report: "))


# On a ClickHouse server nobody owns the store: the CLI reads it directly while the service runs ("via the
# store", as every other CLI test on the HTTP stand-in does), so going through the service is embedded-only.
@pytest.mark.embedded_only
def test_same_output_through_the_service_and_the_store(shared_store: SharedStore,
                                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("cli-via-service")
    world = seeded_dir(shared_store, path)
    # 3 per page: many pages per command, so the list limit is raised for this test's volume
    server = start_server(path, world, {"VALID_API_KEYS": KEYS[0], "API_MAX_LIMIT": "3",
                                        "RATE_LIMIT_LIST": "10000/minute"})
    try:
        listed = run(path, server.url, "anomalies", "--limit", "0")
        as_json = run(path, server.url, "anomalies", "--json", "--limit", "0")
        short = run(path, server.url, "anomalies", "--json", "--limit", "2")
        added = run(path, server.url, "known", "add", "aa-bb-cc-00-00-09", "--reason", "night_activity",
                    "--note", "night porter")
        known = run(path, server.url, "known", "list")
        added_too = run(path, server.url, "known", "add", "AA:BB:CC:00:00:0A")
        removed = run(path, server.url, "known", "remove", "AA:BB:CC:00:00:0A")
        schema = run(path, server.url, "schema", "status")
        detected = run(path, server.url, "detect", "--hours", "6")
        truth = write_truth(path, world)
        evaluated = run(path, server.url, "evaluate", "--truth", str(truth), "--section", "rule_detectors",
                        "--out", str(path / "via-service"))
        with_ml = run(path, server.url, "evaluate", "--truth", str(truth), "--out", str(path / "with-ml"))
    finally:
        stop_server(server)
    for done in (listed, as_json, short, added, known, added_too, removed, schema, evaluated, with_ml):
        assert done.returncode == 0, done.stderr
        assert "via the running service" in done.stderr
    assert detected.returncode in (0, 1) and "window" in detected.stdout and "Europe/Moscow" in detected.stdout
    # every anomaly, although the service answers at most 3 per request (API_MAX_LIMIT): pages were followed
    assert len(json.loads(as_json.stdout)) == len(world.anomalies) > 3
    assert len(json.loads(short.stdout)) == 2 and f"2 of {len(world.anomalies)} anomalies shown" in short.stderr
    assert "window_start (Europe/Moscow)" in listed.stdout and "MSK" in listed.stdout
    assert "schema at version" in schema.stdout
    assert "AA:BB:CC:00:00:09  night_activity" in known.stdout and "night porter" in known.stdout

    direct_known = run(path, "http://127.0.0.1:9", "known", "list")  # what the service wrote, read from the store
    assert "via the store" in direct_known.stderr
    assert "AA:BB:CC:00:00:09  night_activity" in direct_known.stdout and "00:00:0A" not in direct_known.stdout
    direct = run(path, "http://127.0.0.1:9", "anomalies", "--limit", "0")  # the service is gone: the store
    assert direct.returncode == 0 and "via the store" in direct.stderr
    assert direct.stdout == listed.stdout
    direct_eval = run(path, "http://127.0.0.1:9", "evaluate", "--truth", str(truth), "--section", "rule_detectors",
                      "--out", str(path / "via-store"))
    assert direct_eval.returncode == 0 and "via the store" in direct_eval.stderr, direct_eval.stderr
    assert report_body(direct_eval.stdout) == report_body(evaluated.stdout)
    # every anomaly was read, though the service answers 3 per request: one per truth event found
    assert f"| stationary_surveillance | {TYPES_SEEN['stationary_surveillance']} |" in evaluated.stdout
    assert "Skipped: the running service owns the store" in with_ml.stdout
    direct_json = run(path, "http://127.0.0.1:9", "anomalies", "--json", "--limit", "0")
    assert {a["anomaly_id"] for a in json.loads(direct_json.stdout)} == {a["anomaly_id"] for a in json.loads(
        as_json.stdout)}
