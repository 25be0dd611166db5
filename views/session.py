"""Who is signed in: the sign-in form, the sign-out button, and the pages of each role."""

from __future__ import annotations

import json

import streamlit as st

from geo import i18n
from geo.act.users import ROLES, User
from geo.act.users_db import authenticate, live_user, set_language
from geo.errors import WhistleError
from geo.i18n import N_, _
from geo.settings import load_settings
from geo.show import dashboard_db
from geo.show.text import md_escape
from views import data, messages

USER_KEY = "user"
PAGES_BY_ROLE = {
    "supervisor": ("overview", "township", "borders", "projects", "reports", "jurisdictions", "intake"),
    "street_office": ("township", "borders", "projects"),
    "coordinator": ("borders", "projects", "reports", "jurisdictions"),
}
"""The pages each role sees, its first page first (the one it lands on)."""
ROLE_NAMES = {"supervisor": N_("Supervisor"), "street_office": N_("Street office"), "coordinator": N_("Coordinator")}
LANGUAGE_KEY = "language"
"""The language chosen in this browser session before signing in."""


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
    speak(user)
    if user is None:
        st.warning(_("Please sign in."))
        st.stop()
    return user


def speak(user: User | None) -> None:
    """Make this run speak the user's language (else the one chosen before signing in, else the city's)."""
    i18n.use((user.language if user is not None else None) or st.session_state.get(LANGUAGE_KEY))


def language_switch(user: User | None) -> None:
    """中文 / English in the sidebar (a signed-in user's choice is stored with the user), and the
    language said to the browser (``<html lang>``, for screen readers, fonts and translators)."""
    st.html(f"<script>document.documentElement.lang = {json.dumps(i18n.html_lang())};</script>",
            unsafe_allow_javascript=True)
    st.sidebar.segmented_control("🌐", list(i18n.LANGUAGES), default=i18n.language(),
                                 format_func=i18n.LANGUAGES.get, key="language_switch",
                                 label_visibility="collapsed", on_change=_switched)


def _switched() -> None:
    # A callback runs before the script does: the run the click starts speaks the new language from
    # its first line, with no second run (a click on the page during a second run could be lost).
    picked = st.session_state.get("language_switch")
    user = st.session_state.get(USER_KEY)
    user = user if isinstance(user, User) else None
    if picked not in i18n.LANGUAGES:  # the spoken language clicked again: it stays chosen
        st.session_state["language_switch"] = ((user.language if user else None)
                                               or st.session_state.get(LANGUAGE_KEY) or i18n.language())
        return
    st.session_state[LANGUAGE_KEY] = picked
    if user is not None:
        set_language(data.engine(), user.id, picked)
        st.session_state[USER_KEY] = live_user(data.engine(), user) or user


def login() -> None:
    """The sign-in page: name and password, checked against the users stored in PostGIS."""
    language_switch(None)
    city = load_settings().city
    st.title(_("📣 Whistle"))
    st.caption(_("{hotline} · respond as soon as a complaint comes in").format(
        hotline=md_escape(i18n.in_language(city.hotline_zh, city.hotline_en))))
    if st.session_state.pop(SIGNED_OUT_KEY, False):
        st.warning(_("You were signed out: your account was disabled or changed since you signed in."))
    with st.form("login", clear_on_submit=False):
        username = st.text_input(_("User name"), key="login_username", max_chars=32)
        password = st.text_input(_("Password"), type="password", key="login_password", max_chars=200)
        submitted = st.form_submit_button(_("Sign in"), type="primary", key="login_submit")
    if submitted:
        try:
            user = authenticate(data.engine(), username, password, now=data.now())
        except WhistleError as exc:
            messages.error(exc)
            return
        if user is None:
            # One message for an unknown name, a wrong password, a disabled or a locked user.
            st.error(_("The user name or the password is wrong, or the user is locked for a while. "
                       "After 5 failures in a row a name is refused for 15 minutes."))
            return
        st.session_state[USER_KEY] = user
        st.rerun()
    st.info(_("The demo (`make run`) has one user per role: **supervisor**, **guanganmenwai** (a street "
              "office) and **coordinator**; their passwords are in the README."), icon="🔑")


def sidebar(user: User) -> None:
    """Who is signed in, and the sign-out button."""
    language_switch(user)
    with st.sidebar:
        st.markdown("### " + _("📣 Whistle"))
        where = f" · {md_escape(user.organisation)}" if user.organisation and not user.city_wide else ""
        st.caption(f"{md_escape(user.display_name)} · {_(ROLE_NAMES[user.role])}{where}")
        if st.button(_("Sign out"), key="sign_out", icon="🚪"):
            st.session_state.pop(USER_KEY, None)
            st.rerun()
        _badge(user)


def _badge(user: User) -> None:
    """What waits for the user's office (or, city-wide, for the city), on every page, as of this run.

    Not a ``run_every`` fragment: with one on every page, Streamlit drops the state a page keeps for
    the next (a filter chosen on one page, kept for another) when the fragment fires in between
    (streamlit/streamlit#10805). The whistle-call page's own queue does refresh by itself.
    """
    counts = dashboard_db.call_badge(data.engine(), user, now=data.now())
    if not any(counts.values()):
        st.caption(_("📣 Nothing waits for an answer."))
        return
    text = _("📣 {unanswered:,} calls waiting for an answer · {late:,} late · {proposed:,} proposed").format(**counts)
    # A warning, not an error: nothing failed; late calls are what the badge is for.
    (st.warning if counts["late"] else st.info)(text)


PAGES_KEY = "pages"
"""This session's pages by name (the router keeps them each run), for a page that opens another:
kept in the session, not the module, which every signed-in user's session shares."""


def remember_pages(pages: dict[str, st.Page]) -> None:
    """Keep the pages the router shows this session's user."""
    st.session_state[PAGES_KEY] = pages


def page(name: str) -> st.Page | None:
    """One of this session's pages (None when the user has no such page, or outside the router)."""
    return st.session_state.get(PAGES_KEY, {}).get(name)


def open_township(code: str) -> None:
    """Open a township's page (a click in the ranking, a breadcrumb): its code is kept for the page."""
    st.session_state["township_code"] = code
    township = page("township")
    if township is not None:
        st.switch_page(township)
