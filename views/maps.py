"""Drawing a folium map on a page: one call, with nothing sent back that the page does not use."""

from __future__ import annotations

import folium
from streamlit_folium import st_folium

from geo.settings import load_settings
from layers.base import WhistleMap, base_map


def new_map(bounds: list[list[float]] | None = None) -> WhistleMap:
    """A base map with the configured tiles (none offline)."""
    settings = load_settings()
    return base_map(bounds=bounds or settings.city.map_bounds or _townships_bounds(),
                    tiles_url=settings.tiles_url, tiles_attribution=settings.tiles_attribution)


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
