"""Border cases and whistle calls: where they are, the townships and line they involve."""

from __future__ import annotations

import folium
import geopandas as gpd

from geo.i18n import _
from layers.base import geojson_layer
from layers.legend import Legend, LegendItem, legend

CALL_CLASS = "whistle-call"
LINE_CLASS = "whistle-shared-line"
SIDE_CLASS = "whistle-side"
COMPLAINT_CLASS = "whistle-complaint"
CALL_COLOURS = {"late": "#d7191c", "emergency": "#fdae61", "enforcement": "#2c7bb6", "done": "#1a9641",
                "proposed": "#969696"}
SIDE_COLOURS = ("#7b3294", "#008837", "#e66101", "#5e3c99", "#1b7837", "#b35806")


def call_colour(kind: str, state: str, late: int) -> str:
    """A call's colour: late addressees first, then emergencies; resolved and closed calls green."""
    if state in ("proposed", "dismissed"):
        return CALL_COLOURS["proposed"]
    if state != "raised":
        return CALL_COLOURS["done"]
    if late:
        return CALL_COLOURS["late"]
    return CALL_COLOURS["emergency"] if kind == "emergency" else CALL_COLOURS["enforcement"]


def call_layer(calls: gpd.GeoDataFrame, *, name: str | None = None) -> folium.GeoJson:
    """Each call at its border case (point, line or area), coloured by urgency.

    Parameters
    ----------
    calls : geopandas.GeoDataFrame
        ``id, kind, state`` (codes), ``kind_text, state_text, late, townships_text, complaints,
        deadline_text`` and the case's geometry.
    """
    styles = [{"color": call_colour(k, s, late), "weight": 3, "opacity": 0.9, "fillColor": call_colour(k, s, late),
               "fillOpacity": 0.6, "className": CALL_CLASS}
              for k, s, late in zip(calls["kind"], calls["state"], calls["late"], strict=True)]
    return geojson_layer(calls, name=name or _("Whistle calls"), styles=styles, point_radius=6,
                         tooltip_fields=["id", "kind_text", "state_text", "townships_text", "complaints", "late",
                                         "deadline_text"],
                         tooltip_aliases=[_("Call"), _("Kind"), _("State"), _("Townships"), _("Complaints"),
                                          _("Late addressees"), _("Deadline")])


def call_legend() -> Legend:
    """What the call colours mean."""
    return legend(_("Whistle calls"), [
        LegendItem(_("an addressee is late"), CALL_COLOURS["late"], fill_opacity=0.6),
        LegendItem(_("emergency, on time"), CALL_COLOURS["emergency"], fill_opacity=0.6),
        LegendItem(_("joint enforcement or a dispute, on time"), CALL_COLOURS["enforcement"], fill_opacity=0.6),
        LegendItem(_("resolved or closed"), CALL_COLOURS["done"], fill_opacity=0.6),
        LegendItem(_("proposed, not blown yet"), CALL_COLOURS["proposed"], fill_opacity=0.6),
    ])


def sides_layer(townships: gpd.GeoDataFrame, *, name: str | None = None) -> folium.GeoJson:
    """The townships of one case, each in its own colour; name and code on hover."""
    styles = [{"color": SIDE_COLOURS[i % len(SIDE_COLOURS)], "weight": 2, "opacity": 0.9,
               "fillColor": SIDE_COLOURS[i % len(SIDE_COLOURS)], "fillOpacity": 0.12, "className": SIDE_CLASS}
              for i in range(len(townships))]
    return geojson_layer(townships, name=name or _("Jurisdictions involved"), styles=styles,
                         tooltip_fields=["name", "code"], tooltip_aliases=[_("Township"), _("Code")])


def line_layer(lines: gpd.GeoDataFrame, *, name: str | None = None) -> folium.GeoJson:
    """The lines the case's townships share, dashed black."""
    styles = [{"color": "#111111", "weight": 4, "opacity": 0.9, "dashArray": "8 6", "className": LINE_CLASS}
              for _ in range(len(lines))]
    shown = lines.assign(length=lines["length_m"].round(0).astype(int))
    return geojson_layer(shown, name=name or _("Shared boundary"), styles=styles,
                         tooltip_fields=["a", "b", "length"],
                         tooltip_aliases=[_("Township"), _("and"), _("Length (m)")])


def complaint_layer(points: gpd.GeoDataFrame, townships: list[str], *, name: str | None = None) -> folium.GeoJson:
    """Complaints as small circles in the colour of their township's side; escaped text on hover.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        ``source_id, received_text, category, township_code, phone`` and point geometries.
    townships : list of str
        The codes in the order of :func:`sides_layer`'s colours.
    """
    side = {code: SIDE_COLOURS[i % len(SIDE_COLOURS)] for i, code in enumerate(townships)}
    styles = [{"color": "#222222", "weight": 1, "fillColor": side.get(code, "#777777"), "fillOpacity": 0.9,
               "className": COMPLAINT_CLASS} for code in points["township_code"]]
    return geojson_layer(points, name=name or _("Complaints"), styles=styles, point_radius=5,
                         tooltip_fields=["source_id", "received_text", "category", "township_code", "phone"],
                         tooltip_aliases=[_("Complaint"), _("Received"), _("Category"), _("Township"), _("Phone")])


def case_legend(names: list[str]) -> Legend:
    """The sides of one case and the shared line."""
    items = [LegendItem(n, SIDE_COLOURS[i % len(SIDE_COLOURS)], fill_opacity=0.3) for i, n in enumerate(names)]
    items.append(LegendItem(_("shared boundary"), "#111111", shape="line"))
    return legend(_("Jurisdictions involved"), items)
