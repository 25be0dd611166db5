"""Whistle: the Streamlit entry point. Page config, sign-in, and each role's pages.

Whatever a page raises ends here as one sentence and a retry (:mod:`views.messages`): a
database that stops answering, or a bug, never shows a traceback or a server path.
"""

from __future__ import annotations

import sqlalchemy as sa
import streamlit as st

from geo.errors import DatabaseError, WhistleError
from views import borders, data, intake, jurisdictions, messages, overview, projects, reports, session, township

st.set_page_config(page_title="Whistle · 12345 spatial governance", page_icon="📣", layout="wide")

PAGES = {
    "overview": st.Page(overview.render, title="Overview", icon="🔥", url_path="overview"),
    "township": st.Page(township.render, title="My township", icon="🏘️", url_path="township"),
    "borders": st.Page(borders.render, title="Borders", icon="📣", url_path="borders"),
    "projects": st.Page(projects.render, title="Projects", icon="🛠️", url_path="projects"),
    "reports": st.Page(reports.render, title="Reports", icon="📄", url_path="reports"),
    "jurisdictions": st.Page(jurisdictions.render, title="Jurisdictions", icon="🗺️", url_path="jurisdictions"),
    "intake": st.Page(intake.render, title="Data intake", icon="📥", url_path="intake"),
}


def main() -> None:
    """Sign-in or the signed-in user's pages."""
    data.engine()
    user = session.current_user()
    if user is None:
        navigation = st.navigation([st.Page(session.login, title="Sign in", icon="🔑", url_path="login")],
                                   position="hidden")
    else:
        session.sidebar(user)
        navigation = st.navigation([PAGES[name] for name in session.PAGES_BY_ROLE[user.role]])
    navigation.run()


try:
    main()
except (DatabaseError, sa.exc.SQLAlchemyError) as exc:  # the database went away
    messages.failed(exc, database=True)
except WhistleError as exc:  # a refusal meant for the user (a bad value, no access)
    messages.error(exc)
except Exception as exc:  # a bug: one sentence here, the traceback in the log
    messages.failed(exc, database=False)
