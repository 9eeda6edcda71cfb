"""Operators and their passwords for the dashboard's sign-in: a small TOML file of Argon2 hashes.

    [users]
    alice = "$argon2id$v=19$m=65536,t=3,p=4$..."

Hashing and checking are argon2-cffi's (no crypto of our own). An unknown name is checked against a
dummy hash, so a wrong name costs as long as a wrong password and the answer does not tell which.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 8
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("no such operator: this hash only spends the time a real check takes")


class UsersFileError(ValueError):
    """The users file cannot be read or holds a bad entry; the message names the file and the entry."""


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(f"operator name {name!r}: 1-64 letters, digits, '_', '.', '@' or '-', starting alphanumeric")
    return name


def load_users(path: Path) -> dict[str, str]:
    """name -> Argon2 hash; {} when the file does not exist."""
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsersFileError(f"{path}: {exc}") from None
    users = data.get("users", {})
    if not isinstance(users, dict):
        raise UsersFileError(f"{path}: [users] must be a table of name = \"hash\"")
    for name, hashed in users.items():
        if not isinstance(hashed, str) or not hashed.startswith("$argon2"):
            raise UsersFileError(f"{path}: {name}: not an Argon2 hash (write it with `santiway-anomaly operator add`)")
        try:
            check_name(name)
        except ValueError as exc:
            raise UsersFileError(f"{path}: {exc}") from None
    return {str(k): str(v) for k, v in users.items()}


def verify(users: dict[str, str], name: str, password: str) -> bool:
    hashed = users.get(name)
    try:
        _hasher.verify(hashed or _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return False
    return hashed is not None


def set_password(path: Path, name: str, password: str) -> None:
    """Add the operator or replace their password (the file is rewritten; other entries are kept)."""
    check_name(name)
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
    users = load_users(path)
    users[name] = _hasher.hash(password)
    lines = ["# Dashboard operators: name = Argon2 hash. Written by `santiway-anomaly operator add`.",
             "[users]"]
    # Names are restricted to [A-Za-z0-9_.@-] and Argon2 hashes to [A-Za-z0-9$=,+/]: both safe unquoted/quoted.
    lines += [f'"{n}" = "{h}"' for n, h in sorted(users.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)


def remove_user(path: Path, name: str) -> bool:
    users = load_users(path)
    if name not in users:
        return False
    del users[name]
    lines = ["# Dashboard operators: name = Argon2 hash. Written by `santiway-anomaly operator add`.",
             "[users]"] + [f'"{n}" = "{h}"' for n, h in sorted(users.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return True
