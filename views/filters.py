"""The sidebar's filters, written once for every page that shows complaints."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from geo.act.categories import categories
from geo.locate.cells import DEFAULT_RESOLUTION
from geo.show.dashboard_db import MIN_RESOLUTION, Selection

PERIODS = {"Last day": 1, "Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90}
ALL = "All complaints"


def selection(days: tuple[date, date], *, key: str, resolution: int | None = None) -> tuple[Selection, int]:
    """Draw the period, category-or-theme and resolution filters in the sidebar.

    Parameters
    ----------
    days : tuple of date
        The first and last day with data; periods end on the last.
    key : str
        Widget key prefix, one per page, so each page keeps its own choice.
    resolution : int, optional
        The default H3 resolution; no resolution picker when None.

    Returns
    -------
    (Selection, int)
        The filters and the resolution chosen (``resolution`` when there is no picker).
    """
    first_day, last_day = days
    cats = categories()
    themes = sorted({c.theme for c in cats.values()})
    options = [ALL, *[f"theme: {t}" for t in themes], *[f"category: {c}" for c in sorted(cats)]]
    with st.sidebar:
        st.markdown("#### Filters")
        period = st.selectbox("Period", [*PERIODS, "Custom"], index=2, key=f"{key}_period")
        if period == "Custom":
            chosen = st.date_input("Days", value=(max(first_day, last_day - timedelta(days=29)), last_day),
                                   min_value=first_day, max_value=last_day, key=f"{key}_days")
            start, end = (chosen if isinstance(chosen, tuple) and len(chosen) == 2 else (chosen[0], chosen[0]))
        else:
            end = last_day
            start = max(first_day, last_day - timedelta(days=PERIODS[period] - 1))
        what = st.selectbox("Complaints", options, key=f"{key}_what",
                            format_func=lambda o: o if o == ALL else _label(o, cats))
        chosen_resolution = resolution
        if resolution is not None:
            chosen_resolution = st.select_slider(
                "H3 resolution", list(range(MIN_RESOLUTION + 2, DEFAULT_RESOLUTION + 1)), value=resolution,
                key=f"{key}_resolution", help="Larger is finer (resolution 8 cells are about 0.7 km²).")
        st.caption(f"{start:%d %b %Y} – {end:%d %b %Y}")
    kind, _, value = what.partition(": ")
    return Selection(start, end, category=value if kind == "category" else None,
                     theme=value if kind == "theme" else None), chosen_resolution


def _label(option: str, cats: dict) -> str:
    kind, _, value = option.partition(": ")
    if kind == "category" and value in cats:
        return f"{cats[value].name_en} ({cats[value].name_zh})"
    return f"Theme: {value.replace('_', ' ')}"
