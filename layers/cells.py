"""H3 cells as folium layers: the complaint heat map, Gi* bins and emerging hot-spot patterns."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from geo.i18n import _
from geo.locate.cells import cell_polygons
from geo.show.colours import EMERGING_COLOURS
from geo.show.words import GI_BINS, PATTERNS, word
from layers.base import geojson_layer
from layers.legend import Legend, LegendItem, legend

HEX_CLASS = "whistle-hex"
GI_CLASS = "whistle-gi"
EMERGING_CLASS = "whistle-emerging"
# ColorBrewer YlOrRd, six classes: light for few complaints, dark red for many.
HEAT = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026")
# ArcGIS's Hot Spot Analysis renderer: 99/95/90 % hot, not significant, 90/95/99 % cold.
GI_COLOURS = {3: "#d62f27", 2: "#ed7551", 1: "#fab984", 0: "#f7f7f2", -1: "#c0ccbe", -2: "#849eba", -3: "#4575b5"}


def cells_frame(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    """Give a frame with an ``h3`` column (int64) the cells' hexagons, in WGS84."""
    cells = frame["h3"].to_numpy(dtype=np.int64)
    return gpd.GeoDataFrame(frame.assign(cell=[format(int(c), "x") for c in cells]),
                            geometry=cell_polygons(cells), crs=4326)


def heat_breaks(volumes: pd.Series, classes: int = len(HEAT)) -> list[int]:
    """Class limits for the heat map: quantiles of the non-zero volumes, rounded and distinct.

    Returns the upper limits of each class but the last (an empty list for no volumes).
    """
    values = volumes[volumes > 0].to_numpy()
    if not values.size:
        return []
    qs = np.quantile(values, np.linspace(0, 1, classes + 1)[1:-1])
    return sorted({int(np.ceil(q)) for q in qs if q < values.max()})


def heat_layer(cells: pd.DataFrame, *, name: str | None = None, show: bool = True) -> folium.GeoJson:
    """Cells filled by their complaint volume (YlOrRd quantile classes); volume on hover.

    Parameters
    ----------
    cells : pandas.DataFrame
        ``h3`` (int64) and ``volume``.
    """
    breaks = heat_breaks(cells["volume"])
    classes = np.searchsorted(breaks, cells["volume"].to_numpy(), side="left")
    styles = [{"color": HEAT[c], "weight": 0.5, "opacity": 0.6, "fillColor": HEAT[c], "fillOpacity": 0.7,
               "className": HEX_CLASS} for c in classes]
    return geojson_layer(cells_frame(cells), name=name or _("Complaints per cell"), styles=styles, show=show,
                         tooltip_fields=["cell", "volume"], tooltip_aliases=[_("Cell"), _("Complaints")])


def heat_legend(cells: pd.DataFrame, resolution: int) -> Legend:
    """The heat map's classes, from its own breaks."""
    breaks = heat_breaks(cells["volume"])
    bounds = [1, *[b + 1 for b in breaks]]
    top = int(cells["volume"].max()) if len(cells) else 0
    items = []
    for i, low in enumerate(bounds):
        high = breaks[i] if i < len(breaks) else top
        items.append(LegendItem(f"{low:,}" if low == high else f"{low:,} – {high:,}", HEAT[i], fill_opacity=0.7))
    return legend(_("Complaints per cell (H3 resolution {resolution})").format(resolution=resolution), items,
                  position="bottomleft")


def gi_layer(cells: pd.DataFrame, *, name: str | None = None, show: bool = True) -> folium.GeoJson:
    """Cells in ArcGIS's hot/cold colours by confidence bin; z, p and count on hover.

    Parameters
    ----------
    cells : pandas.DataFrame
        ``h3, bin, z, p, count`` and ``inside`` (False for a ring cell around a township,
        drawn faint).
    """
    inside = cells["inside"] if "inside" in cells else pd.Series(True, index=cells.index)
    styles = [{"color": "#555555" if own else "#999999", "weight": 0.6 if own else 0.4, "opacity": 0.7,
               "fillColor": GI_COLOURS[int(b)], "fillOpacity": 0.75 if own else 0.3, "className": GI_CLASS,
               "dashArray": None if own else "3"} for b, own in zip(cells["bin"], inside, strict=True)]
    shown = cells.assign(confidence=cells["bin"].map(lambda b: word(GI_BINS, int(b))), z=cells["z"].round(2),
                         p=cells["p"].map(lambda p: f"{p:.2g}"),
                         area=inside.map({True: _("inside the township"), False: _("ring around it")}),
                         count=cells["count"].map(lambda n: "" if pd.isna(n) else f"{int(n):,}"))
    fields = {"cell": _("Cell"), "confidence": _("Confidence"), "z": "z", "p": "p", "count": _("Complaints"),
              "area": _("Where")}
    if cells["z"].isna().all():
        # A street office's view: the z-score is made of neighbours' complaints too, so it is withheld.
        fields = {k: v for k, v in fields.items() if k not in ("z", "p")}
    return geojson_layer(cells_frame(shown), name=name or _("Hot and cold spots"), styles=styles, show=show,
                         tooltip_fields=list(fields), tooltip_aliases=list(fields.values()))


def gi_legend() -> Legend:
    """ArcGIS's seven Gi* bins."""
    items = [LegendItem(word(GI_BINS, b), GI_COLOURS[b], fill_opacity=0.75) for b in (3, 2, 1, 0, -1, -2, -3)]
    return legend(_("Hot and cold spots"), items, position="bottomright")


def emerging_layer(cells: pd.DataFrame, *, name: str | None = None, show: bool = True) -> folium.GeoJson:
    """Cells coloured by their emerging pattern (no-pattern cells are left out).

    Parameters
    ----------
    cells : pandas.DataFrame
        ``h3, pattern, trend_z`` (and optionally ``inside``).
    """
    shown = cells[cells["pattern"].isin(EMERGING_COLOURS)]
    inside = shown["inside"] if "inside" in shown else pd.Series(True, index=shown.index)
    styles = [{"color": EMERGING_COLOURS[p], "weight": 1.2, "opacity": 0.9, "fillColor": EMERGING_COLOURS[p],
               "fillOpacity": 0.6 if own else 0.25, "className": EMERGING_CLASS}
              for p, own in zip(shown["pattern"], inside, strict=True)]
    shown = shown.assign(trend=shown["trend_z"].round(2), pattern_text=[word(PATTERNS, p) for p in shown["pattern"]])
    fields = {"cell": _("Cell"), "pattern_text": _("Trend"), "trend": _("Trend strength (z)")}
    if shown["trend_z"].isna().all():
        fields.pop("trend")
    return geojson_layer(cells_frame(shown), name=name or _("Emerging hot spots"), styles=styles, show=show,
                         tooltip_fields=list(fields), tooltip_aliases=list(fields.values()))


def emerging_legend(patterns: list[str]) -> Legend:
    """The patterns present on the map, in the order of :data:`EMERGING_COLOURS`."""
    items = [LegendItem(word(PATTERNS, p), c, fill_opacity=0.6) for p, c in EMERGING_COLOURS.items()
             if p in set(patterns)]
    return legend(_("Emerging hot spots"), items or [LegendItem(word(PATTERNS, "no pattern"), "#ffffff")],
                  position="topright")
