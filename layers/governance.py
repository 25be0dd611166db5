"""Townships coloured by their governance label of the month."""

from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd

from geo.act.governance import RATES, composite_text, rate_text
from layers.base import geojson_layer
from layers.legend import Legend, LegendItem, legend

CLASS_CLASS = "whistle-class"
LABEL_COLOURS = {
    "governance": "#b2182b", "early_warning": "#ef8a62", "rectification": "#fddbc7", "improving": "#91bfdb",
    "advanced": "#1a9850", "watch": "#9970ab", "none": "#f0f0f0",
}
LABEL_NAMES = {
    "governance": "governance-class (治理类)", "early_warning": "early warning (预警)",
    "rectification": "rectification (整改类)", "improving": "improving (进步类)", "advanced": "advanced (先进类)",
    "watch": "watched after exit", "none": "no class",
}


def class_layer(townships: gpd.GeoDataFrame, *, name: str = "Townships by class", show: bool = True) -> folium.GeoJson:
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
        label_name=labels.map(LABEL_NAMES),
        # An export without response or satisfaction data has no rate at all: None, not NaN.
        **{name: [rate_text(v, b) for v, b in zip(pd.to_numeric(townships[name], errors="coerce"),
                                                   townships.get(base, [None] * len(townships)), strict=True)]
           for name, (_numerator, base) in RATES.items()},
        composite=[composite_text(row) for row in townships.itertuples(index=False)],
    )
    return geojson_layer(shown, name=name, styles=styles, show=show,
                         tooltip_fields=["name", "code", "label_name", "volume", "composite", "composite_rank",
                                         "response_rate", "resolution_rate", "satisfaction_rate"],
                         tooltip_aliases=["Township", "Code", "Class", "Complaints", "Composite", "Rank",
                                          "Response", "Resolution", "Satisfaction"])


def class_legend(month: str) -> Legend:
    """The governance labels, in the order they take precedence."""
    items = [LegendItem(LABEL_NAMES[k], c, fill_opacity=0.55) for k, c in LABEL_COLOURS.items()]
    return legend(f"Township class, {month}", items, position="topright")
