"""Whistle: the Streamlit entry point. Page config, sign-in, and each role's pages.

Whatever a page raises ends here as one sentence and a retry (:mod:`views.messages`): a
database that stops answering, or a bug, never shows a traceback or a server path.
"""

from __future__ import annotations

import sqlalchemy as sa
import streamlit as st

from geo.errors import DatabaseError, WhistleError
from geo.i18n import N_, _
from views import borders, data, intake, jurisdictions, messages, overview, projects, reports, session, township

st.set_page_config(page_title="Whistle", page_icon="📣", layout="wide")

# Each page: what draws it, its title (translated on each run) and its icon; its path is its key. (A
# comment, not a docstring: Streamlit would show a bare string of the script on the page.)
PAGES = {
    "overview": (overview.render, N_("Overview"), "🔥"),
    "township": (township.render, N_("My township"), "🏘️"),
    "borders": (borders.render, N_("Whistle calls"), "📣"),
    "projects": (projects.render, N_("Projects"), "🛠️"),
    "reports": (reports.render, N_("Reports"), "📄"),
    "jurisdictions": (jurisdictions.render, N_("Jurisdictions"), "🗺️"),
    "intake": (intake.render, N_("Data intake"), "📥"),
}


def main() -> None:
    """Sign-in or the signed-in user's pages, titled in the user's language."""
    data.engine()
    user = session.current_user()
    session.speak(user)
    st.set_page_config(page_title=_("Whistle · 12345 spatial governance"))
    if user is None:
        navigation = st.navigation([st.Page(session.login, title=_("Sign in"), icon="🔑", url_path="login")],
                                   position="hidden")
    else:
        session.sidebar(user)
        pages = {name: st.Page(PAGES[name][0], title=_(PAGES[name][1]), icon=PAGES[name][2], url_path=name)
                 for name in session.PAGES_BY_ROLE[user.role]}
        session.remember_pages(pages)
        navigation = st.navigation(list(pages.values()))
    navigation.run()


try:
    main()
except (DatabaseError, sa.exc.SQLAlchemyError) as exc:  # the database went away
    messages.failed(exc, database=True)
except WhistleError as exc:  # a refusal meant for the user (a bad value, no access)
    messages.error(exc)
except Exception as exc:  # a bug: one sentence here, the traceback in the log
    messages.failed(exc, database=False)
