"""Tables on a page: one call, so that every table shows its moments in the city's time and its
headings in the reader's language."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from geo.settings import load_settings
from geo.show.text import local_times
from geo.show.words import headed


def table(frame: pd.DataFrame, *, column_config: dict | None = None, **options) -> None:
    """Show ``frame`` (index hidden, full width) with every moment as ``YYYY-MM-DD HH:mm`` in the
    city's zone and every heading in the current language (:data:`geo.show.words.COLUMNS`).

    ``column_config`` is keyed by the frame's own column names (a configuration's label, when it
    has one, is its heading); the other ``options`` go to ``st.dataframe`` (``height``...).
    """
    shown = headed(local_times(frame, load_settings().timezone))
    headings = dict(zip(frame.columns, shown.columns, strict=True))
    config = {headings.get(name, name): setting for name, setting in (column_config or {}).items()}
    st.dataframe(shown, **{"hide_index": True, "width": "stretch", "column_config": config or None, **options})
