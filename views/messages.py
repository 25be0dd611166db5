"""Messages to the user: errors that quote user text as text, and failures in one sentence.

A user never sees a traceback, an exception's type or a server path (``showErrorDetails`` is
``none`` in ``.streamlit/config.toml``, and the router catches what a page raises): the page
says one sentence and offers a retry; the details go to the log.
"""

from __future__ import annotations

import logging
from datetime import datetime

import streamlit as st

from geo.i18n import N_, _
from geo.settings import load_settings
from geo.show.text import md_escape

log = logging.getLogger("whistle.app")

UNAVAILABLE = N_("The database is not answering right now, so this page cannot be shown. Nothing you saved is "
                 "lost; try again in a moment.")
FAILED = N_("Something went wrong on this page. It has been logged (at {at}); try again, or tell your "
            "administrator.")


def error(exc: Exception | str, prefix: str = "") -> None:
    """Show an error whose message may quote what a user typed (a title, a file name) as text."""
    st.error(prefix + md_escape(str(exc)))


def failed(exc: BaseException, *, database: bool) -> None:
    """Say that the page failed, in one sentence with a retry; log the details."""
    log.error("page failed: %s", type(exc).__name__, exc_info=exc)
    if database:
        st.error(_(UNAVAILABLE), icon="⚠️")
    else:
        st.error(_(FAILED).format(at=datetime.now(load_settings().city.zone).strftime("%Y-%m-%d %H:%M")), icon="⚠️")
    st.button(_("Try again"), key="retry_after_failure", type="primary")
