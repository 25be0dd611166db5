"""The base map every page draws on, and the GeoJSON layer every overlay is made from."""

from __future__ import annotations

import functools
import json
import types

import branca.element
import folium
import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd
import shapely
from branca.element import Element
from folium.utilities import JsCode

from layers.assets import localize
from layers.escape import text

WORLD = [[-60.0, -180.0], [75.0, 180.0]]  # [[south, west], [north, east]]: no city in particular

# Shown where no tile server answers (offline, or none configured): a plain, quiet ground.
PLAIN_BACKGROUND = "#eef1f4"


class _Literal:
    """What a Jinja template with no Jinja syntax renders to: its text (less one trailing
    newline, as Jinja drops it)."""

    module = types.SimpleNamespace()  # no macros: branca finds no header, html or script

    def __init__(self, source: str) -> None:
        self.source = source.removesuffix("\n")

    def render(self, *args, **kwargs) -> str:
        return self.source


_compiled = functools.lru_cache(maxsize=1024)(jinja2.Template)


def _template(source: str) -> jinja2.Template | _Literal:
    # branca makes a template of every element's rendered output, a layer's script and all
    # its data included: compiling 0.7 MB of hexagons took a tenth of a second on each rerun.
    # Text on a map has its braces escaped (layers.escape), so output without Jinja's markers
    # is returned as it is; the few strings with them are compiled once each.
    if "{{" in source or "{%" in source or "{#" in source:
        return _compiled(source)
    return _Literal(source)


branca.element.Template = _template


class WhistleMap(folium.Map):
    """A folium map whose scripts and styles come from this project, never from a CDN.

    Assets are localised at render time, so a layer added after the map was made cannot
    bring a CDN link back.
    """

    whistle_bounds: list[list[float]] | None = None
    whistle_overlays: tuple[Element, ...] = ()

    def render(self, **kwargs) -> None:
        """Localise every element's assets, then render as folium does."""
        localize(self, also=self.whistle_overlays)
        super().render(**kwargs)

    def carry(self, *overlays: Element) -> None:
        """Note layers added only after the map is rendered (streamlit-folium's feature group),
        so that the map loads the scripts they need."""
        self.whistle_overlays = (*self.whistle_overlays, *overlays)

    def get_bounds(self) -> list[list[float]]:
        """The bounds the map was fitted to: folium would walk every coordinate in Python."""
        return self.whistle_bounds or super().get_bounds()


def base_map(
    *,
    bounds: list[list[float]] | None = None,
    tiles_url: str | None = None,
    tiles_attribution: str = "",
) -> WhistleMap:
    """Make an empty map with a scale bar and an optional tile layer.

    Parameters
    ----------
    bounds : list, optional
        ``[[south, west], [north, east]]`` to fit (the app passes its city's); the world when omitted.
    tiles_url : str, optional
        An XYZ tile URL (e.g. an intranet tile server). Without one the map has a plain
        background, which is also what shows when the tile server cannot be reached.
    tiles_attribution : str
        Attribution for those tiles.

    Returns
    -------
    WhistleMap
    """
    bounds = bounds or WORLD
    fmap = WhistleMap(location=_centre(bounds), zoom_start=9, tiles=None, control_scale=True,
                      prefer_canvas=False, min_zoom=7, max_zoom=18,
                      zoom_snap=0.25, zoom_delta=0.5)
    fmap.get_root().header.add_child(Element(
        f"<style>.leaflet-container {{ background: {PLAIN_BACKGROUND}; }}</style>"))
    if tiles_url:
        folium.TileLayer(tiles=tiles_url, attr=tiles_attribution or "tiles", name="Base map",
                         control=False).add_to(fmap)
    fmap.fit_bounds(bounds)
    fmap.whistle_bounds = bounds
    return fmap


def _centre(bounds: list[list[float]]) -> list[float]:
    (south, west), (north, east) = bounds
    return [(south + north) / 2, (west + east) / 2]


def frame_bounds(frame: gpd.GeoDataFrame) -> list[list[float]]:
    """Return ``[[south, west], [north, east]]`` of a WGS84 frame, for :func:`base_map`."""
    west, south, east, north = frame.total_bounds
    return [[float(south), float(west)], [float(north), float(east)]]


def geojson_layer(
    frame: gpd.GeoDataFrame,
    *,
    name: str,
    styles: list[dict],
    tooltip_fields: list[str],
    tooltip_aliases: list[str],
    highlight_weight: float = 3.0,
    decimals: int = 5,
    show: bool = True,
    point_radius: float | None = None,
) -> folium.GeoJson:
    """Turn a WGS84 frame into a folium GeoJSON layer styled from each feature's properties.

    The style of each feature travels in its properties and one JavaScript function reads
    it: folium's Python ``style_function`` turns into one JavaScript case per feature, which
    takes seconds to draw for tens of thousands of features.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Features in WGS84 with the tooltip columns.
    name : str
        The layer's name in the layer control.
    styles : list of dict
        One Leaflet path style per row (``color``, ``weight``, ``fillColor``, ...).
    tooltip_fields, tooltip_aliases : list of str
        Columns shown on hover, and their labels.
    highlight_weight : float
        Outline weight while the pointer is over a feature.
    decimals : int
        Coordinates are rounded to this many decimals (5 is about a metre) to keep the
        page light.
    show : bool
        Whether the layer is on when the map opens.
    point_radius : float, optional
        Draw point features as circles of this many pixels (Leaflet's default pin needs
        images and hides what is under it).

    Returns
    -------
    folium.GeoJson
    """
    if len(styles) != len(frame):
        raise ValueError(f"styles has {len(styles)} entries but the frame has {len(frame)} rows")
    rounded = shapely.transform(frame.geometry.values, lambda xy: np.round(xy, decimals))
    records = frame[tooltip_fields].to_dict("records")
    # What every feature's style shares is sent once, not with each of thousands of features.
    common = {k: v for k, v in (styles[0] if styles else {}).items() if all(s.get(k) == v for s in styles)}
    own = [{k: v for k, v in style.items() if k not in common} for style in styles]
    features = [
        {"type": "Feature", "geometry": json.loads(geom),
         "properties": {**{k: _plain(v) for k, v in record.items()}, "style": style}}
        for geom, record, style in zip(shapely.to_geojson(rounded), records, own, strict=True)
    ]
    data = {"type": "FeatureCollection", "features": features}
    style = f"Object.assign({{}}, {json.dumps(common)}, feature.properties.style)"
    return folium.GeoJson(
        data,
        name=name,
        show=show,
        style=JsCode(f"function (feature) {{ return {style}; }}"),
        on_each_feature=JsCode(_HIGHLIGHT % (highlight_weight, style)),
        tooltip=folium.GeoJsonTooltip(fields=tooltip_fields, aliases=tooltip_aliases, sticky=True),
        marker=folium.CircleMarker(radius=point_radius) if point_radius else None,
    )


_HIGHLIGHT = """function (feature, layer) {
    layer.on({
        mouseover: function (e) { e.target.setStyle({weight: %s}); e.target.bringToFront(); },
        mouseout: function (e) { e.target.setStyle(%s); }
    });
}"""


def _plain(value: object) -> object:
    # numpy and pandas scalars are not JSON; tooltips want plain text and numbers. folium's
    # tooltip writes the properties as HTML and branca renders them as a template, so text is
    # escaped for both here: hostile text shows as text.
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, int | float | bool):
        return value
    return text(value)
