"""Who is using the dashboard: the sign-in gate every page passes through (app.py calls `operator()`).

Three ways in, checked in this order:
- OIDC through Streamlit's own `st.login` when `.streamlit/secrets.toml` has an `[auth]` section (the
  host's identity provider; Streamlit keeps that session in its own signed cookie);
- a name and password from DASHBOARD_USERS_FILE (Argon2 hashes, dashboard/auth.py). A successful
  sign-in is kept for SESSION_HOURS in a cookie signed by itsdangerous with a secret kept in DATA_DIR,
  so a link (`?anomaly=ID`) or a reload does not ask again;
- nobody configured: development mode (no VALID_API_KEYS) opens as "dev" with a warning; a production
  service shows nothing and says how to add an operator.
"""

from __future__ import annotations

import json
import secrets
import time

import streamlit as st
import streamlit.components.v1 as components
from itsdangerous import BadSignature, URLSafeTimedSerializer

from santiway_anomaly.config import Settings
from santiway_anomaly.dashboard.auth import UsersFileError, load_users, verify

COOKIE = "santiway_operator"
SESSION_HOURS = 12
# Failed password attempts allowed per browser session before each further try waits (slows guessing).
FREE_ATTEMPTS = 5
STATE_KEY = "operator"


def _secret(settings: Settings) -> str:
    path = settings.data_dir / "dashboard-cookie-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(settings), salt="santiway-dashboard-operator")


def session_token(settings: Settings, name: str) -> str:
    return str(_serializer(settings).dumps({"operator": name}))


def name_from_token(settings: Settings, token: str, users: dict[str, str]) -> str | None:
    """The operator a cookie names, if it is ours, fresh, and the operator still exists."""
    try:
        data = _serializer(settings).loads(token, max_age=SESSION_HOURS * 3600)
    except BadSignature:
        return None
    name = data.get("operator") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name in users else None


def _set_cookie(value: str, max_age: int) -> None:
    # Streamlit has no API to set a cookie; a same-origin component frame writes it for the page.
    cookie = f"{COOKIE}={value}; path=/; max-age={max_age}; SameSite=Strict"
    components.html(f"<script>window.parent.document.cookie = {json.dumps(cookie)};</script>", height=0)


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml at all: Streamlit raises its own not-found error
        return False


def sign_out() -> None:
    st.session_state.pop(STATE_KEY, None)
    st.session_state["signed_out"] = True
    _set_cookie("", 0)
    if _oidc_configured() and st.user.is_logged_in:
        st.logout()


def operator(settings: Settings) -> str:
    """The signed-in operator's name; until there is one, draws the sign-in and stops the script."""
    known = st.session_state.get(STATE_KEY)
    if isinstance(known, str):
        return known
    oidc = _oidc_configured()
    if oidc and st.user.is_logged_in:
        person = str(st.user.get("email") or st.user.get("name") or "oidc-user")
        st.session_state[STATE_KEY] = person
        return person
    path = settings.dashboard_users_path
    try:
        users = load_users(path)
    except UsersFileError as exc:
        st.error(f"**The operators file cannot be read.** {exc}")
        st.stop()
    token = st.context.cookies.get(COOKIE)
    if users and token and not st.session_state.get("signed_out"):
        remembered = name_from_token(settings, token, users)
        if remembered:
            st.session_state[STATE_KEY] = remembered
            return remembered
    if not users and not oidc:
        if settings.dev_mode:
            st.session_state[STATE_KEY] = "dev"
            return "dev"
        st.title("Sign-in is not set up")
        st.error(f"This service runs in production mode (VALID_API_KEYS is set), so the dashboard shows nothing "
                 f"until operators can sign in. Add one with `santiway-anomaly operator add NAME` (writes "
                 f"{path}; DASHBOARD_USERS_FILE chooses another file), or configure OIDC in "
                 "`.streamlit/secrets.toml` ([auth], Streamlit's st.login).", icon=":material/lock:")
        st.stop()
    box = st.empty()
    with box.container():
        signed = _sign_in_form(users, oidc)
    if signed is None:
        st.stop()
    name: str = signed
    box.empty()  # the page draws in this same run, where the form was
    st.session_state[STATE_KEY] = name
    st.session_state.pop("signed_out", None)
    _set_cookie(session_token(settings, name), SESSION_HOURS * 3600)
    return name


def _sign_in_form(users: dict[str, str], oidc: bool) -> str | None:
    """The name of an operator who just signed in with a right password, else None."""
    st.title("Sign in")
    st.caption("SantiWay anomaly console")
    if oidc:
        st.button("Sign in with your organisation's account", on_click=st.login, icon=":material/login:")
    if not users:
        return None
    with st.form("signin"):
        name = st.text_input("Operator", key="signin_name").strip()
        password = st.text_input("Password", type="password", key="signin_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return None
    failures = int(st.session_state.get("signin_failures", 0))
    if failures >= FREE_ATTEMPTS:
        time.sleep(min(2 ** (failures - FREE_ATTEMPTS), 30))
    if verify(users, name, password):
        st.session_state["signin_failures"] = 0
        return name
    st.session_state["signin_failures"] = failures + 1
    st.error("Wrong operator name or password.", icon=":material/lock:")
    return None
