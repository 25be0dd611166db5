"""Whistle: the Streamlit entry point. Page config, sign-in, and each role's pages."""

from __future__ import annotations

import streamlit as st

from geo.errors import WhistleError
from views import borders, data, intake, jurisdictions, overview, projects, reports, session, township

st.set_page_config(page_title="Whistle · 12345 spatial governance", page_icon="📣", layout="wide")

try:
    data.engine()
except WhistleError as exc:
    st.error(f"The database is not available: {exc}")
    st.stop()

PAGES = {
    "overview": st.Page(overview.render, title="Overview", icon="🔥", url_path="overview"),
    "township": st.Page(township.render, title="My township", icon="🏘️", url_path="township"),
    "borders": st.Page(borders.render, title="Borders", icon="📣", url_path="borders"),
    "projects": st.Page(projects.render, title="Projects", icon="🛠️", url_path="projects"),
    "reports": st.Page(reports.render, title="Reports", icon="📄", url_path="reports"),
    "jurisdictions": st.Page(jurisdictions.render, title="Jurisdictions", icon="🗺️", url_path="jurisdictions"),
    "intake": st.Page(intake.render, title="Data intake", icon="📥", url_path="intake"),
}

user = session.current_user()
if user is None:
    navigation = st.navigation([st.Page(session.login, title="Sign in", icon="🔑", url_path="login")],
                               position="hidden")
else:
    session.sidebar(user)
    navigation = st.navigation([PAGES[name] for name in session.PAGES_BY_ROLE[user.role]])
navigation.run()
