"""The sidebar's filters, written once for every page that shows complaints."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from geo.act.categories import categories
from geo.i18n import N_, _
from geo.locate.cells import DEFAULT_RESOLUTION
from geo.show.dashboard_db import MIN_RESOLUTION, Selection
from geo.show.text import period_label
from geo.show.words import category_name, theme_name

PERIODS = {1: N_("Last day"), 7: N_("Last 7 days"), 30: N_("Last 30 days"), 90: N_("Last 90 days"),
           0: N_("Custom")}
"""The periods offered, by their length in days (0: days chosen by hand)."""
ALL = "all"
DEFAULT_PERIOD = 30
PERIOD, DAYS, WHAT = "filters_period", "filters_days", "filters_what"
"""The filters' keys, the same on every page."""


def selection(days: tuple[date, date], *, key: str, resolution: int | None = None) -> tuple[Selection, int]:
    """Draw the period, category-or-theme and resolution filters in the sidebar.

    Parameters
    ----------
    days : tuple of date
        The first and last day with data; periods end on the last.
    key : str
        Widget key prefix of the page's own filters (the map's detail); the period and what is
        counted are the same on every page.
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
    # Options are codes, labels are words: a choice survives a change of language.
    options = [ALL, *[f"theme:{t}" for t in themes], *[f"category:{c}" for c in sorted(cats)]]
    if st.session_state.get(WHAT) not in (None, *options):
        del st.session_state[WHAT]  # a category the city's profile no longer has
    kept = st.session_state.get(DAYS)
    if isinstance(kept, tuple) and not all(first_day <= d <= last_day for d in kept):
        del st.session_state[DAYS]  # days the data no longer covers
    with st.sidebar:
        st.markdown("#### " + _("Filters"))
        # The period and what is counted follow a user from page to page: one key for every page,
        # kept for the session by Streamlit itself, so a choice made just before a click on another
        # page is never lost to a run the click interrupted.
        period = st.selectbox(_("Period"), list(PERIODS), index=list(PERIODS).index(DEFAULT_PERIOD), key=PERIOD,
                              format_func=lambda n: _(PERIODS[n]), persist_state="session")
        if period == 0:
            chosen = st.date_input(_("Days"), value=(max(first_day, last_day - timedelta(days=29)), last_day),
                                   min_value=first_day, max_value=last_day, key=DAYS, format="YYYY-MM-DD",
                                   persist_state="session")
            start, end = (chosen if isinstance(chosen, tuple) and len(chosen) == 2 else (chosen[0], chosen[0]))
        else:
            end = last_day
            start = max(first_day, last_day - timedelta(days=period - 1))
        what = st.selectbox(_("Complaints"), options, key=WHAT, format_func=_label, persist_state="session")
        chosen_resolution = resolution
        if resolution is not None:
            chosen_resolution = st.select_slider(
                _("Map detail (H3 resolution)"), list(range(MIN_RESOLUTION + 2, DEFAULT_RESOLUTION + 1)),
                value=resolution, key=f"{key}_resolution",
                help=_("Larger is finer (resolution 8 cells are about 0.7 km²)."))
        st.caption(period_label(start, end))
    kind, _sep, value = what.partition(":")
    return Selection(start, end, category=value if kind == "category" else None,
                     theme=value if kind == "theme" else None), chosen_resolution


def _label(option: str) -> str:
    kind, _sep, value = option.partition(":")
    if kind == "category":
        return category_name(value)
    if kind == "theme":
        return _("Theme: {theme}").format(theme=theme_name(value))
    return _("All complaints")
