"""Remediation projects' target areas."""

from __future__ import annotations

import folium
import geopandas as gpd

from geo.i18n import _
from geo.show.words import PROJECT_STATES, word
from layers.base import geojson_layer
from layers.legend import Legend, LegendItem, legend

PROJECT_CLASS = "whistle-project"
STATE_COLOURS = {"planned": "#80b1d3", "active": "#fb8072", "ended": "#b3de69"}


def project_layer(areas: gpd.GeoDataFrame, *, name: str | None = None) -> folium.GeoJson:
    """Each project's area filled by its state; title, kind and progress on hover.

    Parameters
    ----------
    areas : geopandas.GeoDataFrame
        ``id, title, kind, state, progress_text`` and one (multi)polygon per project.
    """
    styles = [{"color": STATE_COLOURS.get(s, "#999999"), "weight": 2, "opacity": 0.9,
               "fillColor": STATE_COLOURS.get(s, "#999999"), "fillOpacity": 0.4, "className": PROJECT_CLASS}
              for s in areas["state"]]
    return geojson_layer(areas.assign(state_text=[word(PROJECT_STATES, s) for s in areas["state"]]),
                         name=name or _("Project areas"), styles=styles,
                         tooltip_fields=["id", "title", "kind", "state_text", "progress_text"],
                         tooltip_aliases=[_("Project"), _("Title"), _("Kind"), _("State"), _("Tasks done")])


def project_legend() -> Legend:
    """What the project colours mean."""
    return legend(_("Remediation projects"), [LegendItem(word(PROJECT_STATES, s), c, fill_opacity=0.4)
                                            for s, c in STATE_COLOURS.items()])
