"""What the pages read, cached: the engine once per process, query results for a while.

Every read goes through :mod:`geo.show.dashboard_db`, whose functions restrict their rows for the
signed-in user (:func:`geo.show.access.restrict`); the pages hold no SQL of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from geo.act.users import User
from geo.settings import load_settings
from geo.show import dashboard_db as dashboard
from geo.show.dashboard_db import Selection
from geo.store.engine import make_engine


def zone() -> ZoneInfo:
    """The city's zone (its profile's): the app shows every time in it."""
    return load_settings().city.zone


@st.cache_resource(show_spinner="Connecting to the database…")
def engine() -> Engine:
    """The shared engine (pooled, thread-safe); starts the embedded cluster if needed."""
    return make_engine()


@st.cache_data(ttl=600, show_spinner=False)
def jurisdictions(level: str) -> gpd.GeoDataFrame:
    """The current districts or townships, with their display outlines."""
    return dashboard.jurisdictions(engine(), level)


@st.cache_data(ttl=600, show_spinner=False)
def sets() -> pd.DataFrame:
    """Every boundary set, for the provenance table."""
    return dashboard.boundary_set_list(engine())


@st.cache_data(ttl=60, show_spinner=False)
def ingest_runs(user: User) -> pd.DataFrame:
    """The ingest runs, newest first."""
    return dashboard.ingest_runs(engine(), user)


@st.cache_data(ttl=60, show_spinner=False)
def rejected(user: User) -> pd.DataFrame:
    """The rejected rows still waiting to be fixed (at most 5,000, newest first)."""
    return dashboard.rejected_for(engine(), user, limit=5_000)


@st.cache_resource(show_spinner=False)
def clock() -> Callable[[], datetime]:
    """The app's clock (``WHISTLE_CLOCK``): the wall clock, or a replay from the data's end."""
    return dashboard.app_clock(engine(), load_settings().clock)


def now() -> datetime:
    """The current moment on the app's clock."""
    return clock()()


def today() -> date:
    """The city's day on the app's clock (not the UTC day: Beijing's morning is UTC's evening)."""
    return load_settings().city.day_of(now())


@st.cache_data(ttl=300, show_spinner=False)
def days(user: User) -> tuple[date, date] | None:
    """The first and last day with complaints."""
    return dashboard.data_days(engine(), user)


@st.cache_data(ttl=300, show_spinner=False)
def cell_volumes(user: User, selection: Selection, resolution: int, township: str | None,
                 max_cells: int | None) -> pd.DataFrame:
    """Complaints per cell (see :func:`geo.show.dashboard_db.cell_volumes`)."""
    return dashboard.cell_volumes(engine(), user, selection, resolution=resolution, township=township,
                                  max_cells=max_cells)


@st.cache_data(ttl=300, show_spinner=False)
def period_counts(user: User, selection: Selection, township: str | None) -> pd.DataFrame:
    """Counts per day and category over the selection and the period before (one scan)."""
    return dashboard.period_counts(engine(), user, selection, township=township)


def daily_counts(user: User, selection: Selection, township: str | None, *, before: bool = False) -> pd.DataFrame:
    """Daily counts of the area and the city (see :func:`geo.show.dashboard_db.daily_counts`),
    of the selection or of the period before it."""
    counts = period_counts(user, selection, township)
    return dashboard.daily_counts(counts, selection.before() if before else selection)


def category_volumes(user: User, selection: Selection, township: str | None) -> pd.DataFrame:
    """Complaints per category against the period before."""
    return dashboard.category_volumes(period_counts(user, selection, township), selection)


@st.cache_data(ttl=600, show_spinner=False)
def latest_run(user: User, kind: str) -> dict | None:
    """The newest city-wide Gi* or emerging run."""
    return dashboard.latest_run(engine(), user, kind)


@st.cache_data(ttl=600, show_spinner=False)
def hotspot_cells(user: User, run_id: int, township: str | None) -> pd.DataFrame:
    """A run's cells, for the city or around one township."""
    return dashboard.hotspot_cells(engine(), user, run_id, township=township)


@st.cache_data(ttl=600, show_spinner=False)
def hotspot_categories(user: User, run_id: int, cells: tuple[int, ...], township: str | None) -> dict[int, list[str]]:
    """The commonest categories of each hot cell (see :func:`geo.show.dashboard_db.hotspot_categories`)."""
    return dashboard.hotspot_categories(engine(), user, run_id, list(cells), township=township)


@st.cache_resource(show_spinner=False)
def communities() -> pd.DataFrame:
    """The city's community points, that name hot spots (none for a city without them)."""
    from geo.locate.gazetteer import community_points

    return community_points()


@st.cache_data(ttl=300, show_spinner=False)
def ranking(user: User, month: date | None = None) -> pd.DataFrame:
    """A month's ranking (the last classified one by default); a street office's own rows only."""
    return dashboard.ranking_for(engine(), user, month)


@st.cache_data(ttl=60, show_spinner=False)
def township_complaints(user: User, township: str, selection: Selection) -> pd.DataFrame:
    """One township's complaints, masked (see :func:`geo.show.dashboard_db.township_complaints`)."""
    return dashboard.township_complaints(engine(), user, township, selection)


def township_names() -> dict[str, str]:
    """Township code to name, for labels."""
    towns = jurisdictions("township")
    return dict(zip(towns["code"], towns["name"], strict=True))
