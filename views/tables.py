"""Tables on a page: one call, so that every table shows its moments in the city's time and its
headings in the reader's language."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from geo.settings import load_settings
from geo.show.text import local_times
from geo.show.words import headed


def table(frame: pd.DataFrame, *, column_config: dict | None = None, select_key: str | None = None,
          **options) -> int | None:
    """Show ``frame`` (index hidden, full width) with every moment as ``YYYY-MM-DD HH:mm`` in the
    city's zone and every heading in the current language (:data:`geo.show.words.COLUMNS`).

    ``column_config`` is keyed by the frame's own column names (a configuration's label, when it
    has one, is its heading); the other ``options`` go to ``st.dataframe`` (``height``...). With
    ``select_key`` a row can be picked (a click); the picked row's position is returned.
    """
    shown = headed(local_times(frame, load_settings().timezone))
    headings = dict(zip(frame.columns, shown.columns, strict=True))
    config = {headings.get(name, name): setting for name, setting in (column_config or {}).items()}
    settings = {"hide_index": True, "width": "stretch", "column_config": config or None, **options}
    if select_key is None:
        st.dataframe(shown, **settings)
        return None
    event = st.dataframe(shown, key=select_key, on_select="rerun", selection_mode="single-row", **settings)
    rows = event.selection.rows if event is not None else []
    return int(rows[0]) if rows else None
