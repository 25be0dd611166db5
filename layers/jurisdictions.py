"""Districts and townships as folium layers, with names and codes on hover."""

from __future__ import annotations

import folium
import geopandas as gpd

from geo.i18n import N_, _
from geo.show.words import TOWNSHIP_KINDS, word
from layers.base import geojson_layer
from layers.legend import Legend, LegendItem, legend

APPROXIMATE_NOTE = N_("approximate township boundaries (derived, not official)")
# 16 qualitative colours (Tableau 20, the darker half), one per district.
DISTRICT_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
)
TOWNSHIP_CLASS = "whistle-township"
DISTRICT_CLASS = "whistle-district"


def district_colours(districts: gpd.GeoDataFrame) -> dict[str, str]:
    """Give each district code a colour of its own, stable by code order."""
    codes = sorted(districts["code"])
    return {code: DISTRICT_PALETTE[i % len(DISTRICT_PALETTE)] for i, code in enumerate(codes)}


def township_layer(townships: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> folium.GeoJson:
    """Townships filled in their district's colour; name, code, district and kind on hover.

    Parameters
    ----------
    townships : geopandas.GeoDataFrame
        ``code, name, kind, parent_code, approximate`` and display outlines, WGS84.
    districts : geopandas.GeoDataFrame
        ``code, name``, for the district names and colours.

    Returns
    -------
    folium.GeoJson
    """
    colours = district_colours(districts)
    names = dict(zip(districts["code"], districts["name"], strict=True))
    frame = townships.assign(
        district=townships["parent_code"].map(names).fillna("?"),
        kind_label=[word(TOWNSHIP_KINDS, k) for k in townships["kind"]],
        boundary=townships["approximate"].map({True: _("approximate"), False: _("official")}),
    )
    styles = [
        {"color": "#ffffff", "weight": 1, "opacity": 0.9, "fillColor": colours.get(parent, "#999999"),
         "fillOpacity": 0.35, "className": TOWNSHIP_CLASS}
        for parent in frame["parent_code"]
    ]
    approximate = bool(frame["approximate"].any())
    return geojson_layer(
        frame, name=_("Townships (approximate boundaries)") if approximate else _("Townships"),
        styles=styles,
        tooltip_fields=["name", "code", "district", "kind_label", "boundary"],
        tooltip_aliases=[_("Township"), _("Code"), _("District"), _("Kind"), _("Boundary")],
    )


def district_layer(districts: gpd.GeoDataFrame, *, name: str | None = None) -> folium.GeoJson:
    """District outlines, drawn over the townships; name and code on hover."""
    styles = [
        {"color": "#2b2b2b", "weight": 2.5, "opacity": 0.9, "fill": False, "className": DISTRICT_CLASS}
        for _ in range(len(districts))
    ]
    return geojson_layer(
        districts, name=name or _("Districts"), styles=styles,
        tooltip_fields=["name", "code"], tooltip_aliases=[_("District"), _("Code")],
    )


def jurisdiction_legend(*, approximate: bool, title: str | None = None) -> Legend:
    """The legend of the jurisdiction map: what the outlines and fills mean."""
    items = [
        LegendItem(_("district boundary"), "#2b2b2b", shape="line"),
        LegendItem(_("township boundary"), "#ffffff", shape="line"),
        LegendItem(_("township, filled in its district's colour"), DISTRICT_PALETTE[0], fill_opacity=0.35),
    ]
    return legend(title or _("Jurisdictions"), items, note=_(APPROXIMATE_NOTE) if approximate else None)
