"""Remediation projects' target areas."""

from __future__ import annotations

import folium
import geopandas as gpd

from layers.base import geojson_layer
from layers.legend import Legend, LegendItem, legend

PROJECT_CLASS = "whistle-project"
STATE_COLOURS = {"planned": "#80b1d3", "active": "#fb8072", "ended": "#b3de69"}


def project_layer(areas: gpd.GeoDataFrame, *, name: str = "Project areas") -> folium.GeoJson:
    """Each project's area filled by its state; title, kind and progress on hover.

    Parameters
    ----------
    areas : geopandas.GeoDataFrame
        ``id, title, kind, state, progress_text`` and one (multi)polygon per project.
    """
    styles = [{"color": STATE_COLOURS.get(s, "#999999"), "weight": 2, "opacity": 0.9,
               "fillColor": STATE_COLOURS.get(s, "#999999"), "fillOpacity": 0.4, "className": PROJECT_CLASS}
              for s in areas["state"]]
    return geojson_layer(areas, name=name, styles=styles,
                         tooltip_fields=["id", "title", "kind", "state", "progress_text"],
                         tooltip_aliases=["Project", "Title", "Kind", "State", "Tasks done"])


def project_legend() -> Legend:
    """What the project colours mean."""
    return legend("Remediation projects", [LegendItem(s, c, fill_opacity=0.4) for s, c in STATE_COLOURS.items()])
