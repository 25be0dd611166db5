"""What the pages read, cached: the engine once per process, query results for a while."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

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
