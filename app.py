"""Whistle: the Streamlit entry point. Page config, the shared sidebar, and navigation."""

from __future__ import annotations

import streamlit as st

from geo.errors import WhistleError
from views import data, intake, jurisdictions

st.set_page_config(page_title="Whistle · 12345 spatial governance", page_icon="📣", layout="wide")

try:
    data.engine()
except WhistleError as exc:
    st.error(f"The database is not available: {exc}")
    st.stop()

pages = [
    st.Page(jurisdictions.render, title="Jurisdictions", icon="🗺️", url_path="jurisdictions",
            default=True),
    st.Page(intake.render, title="Data intake", icon="📥", url_path="intake"),
]
with st.sidebar:
    st.markdown("### 📣 Whistle")
    st.caption("Beijing 12345 hotline · respond as soon as a complaint comes in")
navigation = st.navigation(pages)
navigation.run()
