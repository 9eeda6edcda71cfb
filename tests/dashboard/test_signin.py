"""Dashboard sign-in: Argon2 operators file, the gate in front of every page, the remembered session."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from santiway_anomaly.cli.main import app as cli
from santiway_anomaly.config import load_settings
from santiway_anomaly.dashboard.auth import UsersFileError, load_users, remove_user, set_password, verify
from santiway_anomaly.dashboard.signin import name_from_token, session_token
from tests.dashboard.conftest import free_port

APP = Path(__file__).resolve().parents[2] / "src" / "santiway_anomaly" / "dashboard" / "app.py"
PASSWORD = "correct horse battery"


def test_passwords_are_argon2_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    set_password(path, "alice", PASSWORD)
    set_password(path, "bob.smith@ops", "another secret")
    users = load_users(path)
    assert set(users) == {"alice", "bob.smith@ops"} and all(h.startswith("$argon2id$") for h in users.values())
    assert PASSWORD not in path.read_text()
    assert verify(users, "alice", PASSWORD)
    assert not verify(users, "alice", PASSWORD + "x")
    assert not verify(users, "mallory", PASSWORD)
    assert path.stat().st_mode & 0o077 == 0  # not readable by others
    with pytest.raises(ValueError, match="at least"):
        set_password(path, "carol", "short")
    with pytest.raises(ValueError, match="operator name"):
        set_password(path, "bad name", PASSWORD)
    assert remove_user(path, "bob.smith@ops") and set(load_users(path)) == {"alice"}
    (tmp_path / "plain.toml").write_text('[users]\nalice = "plaintext"\n')
    with pytest.raises(UsersFileError, match="not an Argon2 hash"):
        load_users(tmp_path / "plain.toml")


def test_remembered_session_is_signed_and_ends_with_the_operator(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, _env_file=None)
    users = {"alice": "x"}
    token = session_token(settings, "alice")
    assert name_from_token(settings, token, users) == "alice"
    assert name_from_token(settings, token[:-2] + ("A" if token[-1] != "A" else "B") + token[-1], users) is None
    assert name_from_token(settings, token, {}) is None  # removed operator: the cookie no longer opens
    other = load_settings(data_dir=tmp_path / "other", _env_file=None)
    assert name_from_token(other, token, users) is None  # another deployment's secret


def test_operator_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DASHBOARD_USERS_FILE", raising=False)
    runner = CliRunner()
    done = runner.invoke(cli, ["operator", "add", "alice"], env={"SANTIWAY_OPERATOR_PASSWORD": PASSWORD})
    assert done.exit_code == 0, done.output
    assert verify(load_users(tmp_path / "dashboard-users.toml"), "alice", PASSWORD)
    listed = runner.invoke(cli, ["operator", "list"])
    assert "alice" in listed.output and "$argon2" not in listed.output
    assert runner.invoke(cli, ["operator", "remove", "nobody"]).exit_code == 1


def _app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, keys: str) -> AppTest:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VALID_API_KEYS", keys)
    monkeypatch.delenv("DASHBOARD_USERS_FILE", raising=False)
    monkeypatch.setenv("DASHBOARD_API_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens: no data
    return AppTest.from_file(str(APP), default_timeout=60)


def _text(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("title", "markdown", "caption", "error", "warning")
                     for e in getattr(at, kind))


def test_production_without_operators_shows_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(tmp_path, monkeypatch, keys="prod-key-000000001")
    at.run()
    assert "Sign-in is not set up" in _text(at) and "operator add" in _text(at)
    assert not at.dataframe and not at.metric and "Overview" not in _text(at)


def test_sign_in_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_password(tmp_path / "dashboard-users.toml", "alice", PASSWORD)
    at = _app(tmp_path, monkeypatch, keys="prod-key-000000001")
    at.run()
    assert "Sign in" in _text(at) and "Overview" not in _text(at)
    at.text_input(key="signin_name").input("alice")
    at.text_input(key="signin_password").input("wrong password")
    at.button[0].click().run()
    assert "Wrong operator name or password" in _text(at) and "Overview" not in _text(at)
    at.text_input(key="signin_password").input(PASSWORD)
    at.button[0].click().run()
    assert "Overview" in _text(at), _text(at)  # the default page drew (its data: service not reachable)
    assert "alice" in "\n".join(str(e.value) for e in at.sidebar.caption)
    assert at.session_state["operator"] == "alice"


def test_development_mode_opens_without_sign_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(tmp_path, monkeypatch, keys="")
    at.run()
    assert "Overview" in _text(at) and "Sign in" not in [t.value for t in at.title]
