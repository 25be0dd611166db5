"""Who is signed in: the sign-in form, the sign-out button, and the pages of each role."""

from __future__ import annotations

import streamlit as st

from geo.act.users import ROLES, User
from geo.act.users_db import authenticate, live_user
from geo.errors import WhistleError
from geo.settings import load_settings
from geo.show.text import md_escape
from views import data, messages

USER_KEY = "user"
PAGES_BY_ROLE = {
    "supervisor": ("overview", "township", "borders", "projects", "reports", "jurisdictions", "intake"),
    "street_office": ("township", "borders", "projects"),
    "coordinator": ("borders", "projects", "reports", "jurisdictions"),
}
"""The pages each role sees, its first page first (the one it lands on)."""
ROLE_NAMES = {"supervisor": "Supervisor", "street_office": "Street office", "coordinator": "Coordinator"}


SIGNED_OUT_KEY = "signed_out_because"


def current_user() -> User | None:
    """The signed-in user of this browser session, if any, as stored now.

    The user kept in the session is looked up again on every run (one indexed query): a user
    disabled, deleted, or given another role or organisation since signing in is signed out.
    """
    user = st.session_state.get(USER_KEY)
    if not isinstance(user, User) or user.role not in ROLES:
        return None
    fresh = live_user(data.engine(), user)
    if fresh is None:
        st.session_state.pop(USER_KEY, None)
        st.session_state[SIGNED_OUT_KEY] = True
        return None
    if fresh != user:
        st.session_state[USER_KEY] = fresh  # its townships moved with a new boundary set
    return fresh


def require_user() -> User:
    """The signed-in user; a page called without one stops with a message."""
    user = current_user()
    if user is None:
        st.warning("Please sign in.")
        st.stop()
    return user


def login() -> None:
    """The sign-in page: name and password, checked against the users stored in PostGIS."""
    st.title("📣 Whistle")
    st.caption(f"{load_settings().city.hotline_en} · respond as soon as a complaint comes in")
    if st.session_state.pop(SIGNED_OUT_KEY, False):
        st.warning("You were signed out: your account was disabled or changed since you signed in.")
    with st.form("login", clear_on_submit=False):
        username = st.text_input("User name", key="login_username", max_chars=32)
        password = st.text_input("Password", type="password", key="login_password", max_chars=200)
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            user = authenticate(data.engine(), username, password, now=data.now())
        except WhistleError as exc:
            messages.error(exc)
            return
        if user is None:
            # One message for an unknown name, a wrong password, a disabled or a locked user.
            st.error("The user name or the password is wrong, or the user is locked for a while. "
                     "After 5 failures in a row a name is refused for 15 minutes.")
            return
        st.session_state[USER_KEY] = user
        st.rerun()
    st.info("The demo (`make run`) has one user per role: **supervisor**, **guanganmenwai** (a street "
            "office) and **coordinator**; their passwords are in the README.", icon="🔑")


def sidebar(user: User) -> None:
    """Who is signed in, and the sign-out button."""
    with st.sidebar:
        st.markdown("### 📣 Whistle")
        where = f" · {md_escape(user.organisation)}" if user.organisation and not user.city_wide else ""
        st.caption(f"{md_escape(user.display_name)} · {ROLE_NAMES[user.role]}{where}")
        if st.button("Sign out", key="sign_out", icon="🚪"):
            st.session_state.pop(USER_KEY, None)
            st.rerun()
