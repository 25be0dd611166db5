"""Tables on a page: one call, so that every table shows its moments in the city's time."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from geo.settings import load_settings
from geo.show.text import local_times


def table(frame: pd.DataFrame, **options) -> None:
    """Show ``frame`` (index hidden, full width) with every moment as ``YYYY-MM-DD HH:mm`` in the
    city's zone; ``options`` go to ``st.dataframe`` (``column_config``, ``height``...)."""
    st.dataframe(local_times(frame, load_settings().timezone), **{"hide_index": True, "width": "stretch", **options})
