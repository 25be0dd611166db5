"""Townships coloured by their governance label of the month."""

from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd

from geo.act.governance import RATES, composite_text, rate_text
from geo.i18n import _
from geo.show.colours import LABEL_COLOURS
from geo.show.words import CLASSES, word
from layers.base import geojson_layer
from layers.legend import Legend, LegendItem, legend

CLASS_CLASS = "whistle-class"


def class_layer(townships: gpd.GeoDataFrame, *, name: str | None = None, show: bool = True) -> folium.GeoJson:
    """Townships filled by ``label``; name, label, volume, rank and the three rates on hover.

    Parameters
    ----------
    townships : geopandas.GeoDataFrame
        Display outlines with ``name, code, label, volume, composite, composite_rank,
        response_rate, resolution_rate, satisfaction_rate``.
    """
    labels = townships["label"].fillna("none")
    styles = [{"color": "#666666", "weight": 0.7, "opacity": 0.8, "fillColor": LABEL_COLOURS[label],
               "fillOpacity": 0.55, "className": CLASS_CLASS} for label in labels]
    shown = townships.assign(
        label_name=[word(CLASSES, label) for label in labels],
        # An export without response or satisfaction data has no rate at all: None, not NaN.
        **{name: [rate_text(v, b) for v, b in zip(pd.to_numeric(townships[name], errors="coerce"),
                                                   townships.get(base, [None] * len(townships)), strict=True)]
           for name, (_numerator, base) in RATES.items()},
        composite=[composite_text(row) for row in townships.itertuples(index=False)],
    )
    return geojson_layer(shown, name=name or _("Townships by class"), styles=styles, show=show,
                         tooltip_fields=["name", "code", "label_name", "volume", "composite", "composite_rank",
                                         "response_rate", "resolution_rate", "satisfaction_rate"],
                         tooltip_aliases=[_("Township"), _("Code"), _("Class"), _("Complaints"),
                                          _("Composite score"), _("Rank"), _("Response rate"),
                                          _("Resolution rate"), _("Satisfaction rate")])


def class_legend(month: str) -> Legend:
    """The governance labels, in the order they take precedence."""
    items = [LegendItem(word(CLASSES, k), c, fill_opacity=0.55) for k, c in LABEL_COLOURS.items()]
    return legend(_("Township classes, {month}").format(month=month), items, position="topright")
