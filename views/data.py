"""What the pages read, cached: the engine once per process, query results for a while."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
import streamlit as st
from sqlalchemy.engine import Engine

from geo.ingest.rejected import rejected_rows
from geo.store.engine import make_engine
from geo.store.jurisdictions import boundary_sets, current_jurisdictions


@st.cache_resource(show_spinner="Connecting to the database…")
def engine() -> Engine:
    """The shared engine (pooled, thread-safe); starts the embedded cluster if needed."""
    return make_engine()


@st.cache_data(ttl=600, show_spinner=False)
def jurisdictions(level: str) -> gpd.GeoDataFrame:
    """The current districts or townships, with their display outlines."""
    return current_jurisdictions(engine(), level, display=True)


@st.cache_data(ttl=600, show_spinner=False)
def sets() -> pd.DataFrame:
    """Every boundary set, for the provenance table."""
    return boundary_sets(engine())


@st.cache_data(ttl=60, show_spinner=False)
def ingest_runs() -> pd.DataFrame:
    """The ingest runs, newest first."""
    with engine().connect() as conn:
        return pd.read_sql(sa.text(
            "SELECT id, source, started_at, finished_at, rows, inserted, updated, unchanged, rejected "
            "FROM ingest_run ORDER BY id DESC"), conn)


@st.cache_data(ttl=60, show_spinner=False)
def rejected() -> pd.DataFrame:
    """The rejected rows still waiting to be fixed (at most 5,000, newest first)."""
    return rejected_rows(engine(), limit=5_000)
