"""Drawing a folium map on a page: one call, with nothing sent back that the page does not use."""

from __future__ import annotations

import hashlib
import os

import folium
import streamlit as st
from streamlit_folium import st_folium

from geo.settings import load_settings
from layers.assets import STATIC_DIR, STATIC_URL
from layers.base import WhistleMap, base_map
from layers.context import context_geojson, context_layer

CONTEXT_DIR = STATIC_DIR / "context"
"""Where each boundary set's context file is written (served at ``/app/static/context/``)."""


def new_map(bounds: list[list[float]] | None = None, *, context: bool = True) -> WhistleMap:
    """A base map with the configured tiles (none offline) and, under the data, the district and
    township lines with their names (``context``)."""
    settings = load_settings()
    fmap = base_map(bounds=bounds or settings.city.map_bounds or _townships_bounds(),
                    tiles_url=settings.tiles_url, tiles_attribution=settings.tiles_attribution)
    url = context_url() if context else None
    if url is not None:
        context_layer(url).add_to(fmap)
    return fmap


@st.cache_data(ttl=600, show_spinner=False)
def context_url() -> str | None:
    """The URL of the current boundaries' context file, named by its content and written on first
    use (None without townships)."""
    from views import data

    towns, districts = data.jurisdictions("township"), data.jurisdictions("district")
    if towns.empty:
        return None
    content = context_geojson(towns, districts)
    name = f"{hashlib.sha256(content.encode()).hexdigest()[:20]}.geojson"
    path = CONTEXT_DIR / name
    if not path.exists():
        CONTEXT_DIR.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a page fetching it never reads half a file.
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_text(content, encoding="utf-8")
        partial.replace(path)
    return f"{STATIC_URL}/context/{name}"


def _townships_bounds() -> list[list[float]] | None:
    """The loaded townships' extent, for a city whose profile gives no bounds."""
    from views import data

    towns = data.jurisdictions("township")
    if towns.empty:
        return None
    west, south, east, north = towns.total_bounds
    return [[float(south), float(west)], [float(north), float(east)]]


def show(fmap: WhistleMap, *, key: str, height: int = 600, layer_control: bool = True,
         overlay: folium.FeatureGroup | None = None) -> None:
    """Draw the map; the page reruns on no map event (``returned_objects`` empty).

    An ``overlay`` (its layers and legends) is swapped on the map the browser already shows
    when only it changes, instead of the whole map being built again: a filter change stays
    quick. The map itself must then stay the same from one run to the next.
    """
    if layer_control:
        folium.LayerControl(collapsed=False).add_to(fmap)
    if overlay is not None:
        fmap.carry(overlay)
    # render=False: st_folium would render the whole figure and then the map again.
    st_folium(fmap, key=key, height=height, use_container_width=True, returned_objects=[], render=False,
              feature_group_to_add=overlay)
