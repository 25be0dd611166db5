"""Messages to the user: errors that quote user text as text."""

from __future__ import annotations

import streamlit as st

from geo.show.text import md_escape


def error(exc: Exception | str, prefix: str = "") -> None:
    """Show an error whose message may quote what a user typed (a title, a file name) as text."""
    st.error(prefix + md_escape(str(exc)))
