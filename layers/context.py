"""Where a map is: the district and township lines, drawn lightly under the data, with their
names appearing as one zooms in.

The lines travel as one GeoJSON file served with the app's static files (built once per
boundary set, :func:`context_geojson`) and fetched by the map, so that every map of every page
has them at the cost of one cached download, not half a megabyte in each page. They are drawn
in a pane of their own under the data and never catch the pointer: a hexagon's tooltip stays
the hexagon's.
"""

from __future__ import annotations

import json

import geopandas as gpd
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from layers.escape import text

CONTEXT_CLASS = "whistle-context"
DISTRICT_LABEL_ZOOM = 9
"""District names show from this zoom (the whole city is about 9)."""
TOWNSHIP_LABEL_ZOOM = 12
"""Township names show from this zoom (a district fills the map at about 11)."""

_STYLE = """<style>
.whistle-label { display: none; pointer-events: none; }
.whistle-label span { display: inline-block; transform: translate(-50%, -50%); white-space: nowrap;
  font: 12px/1.2 "Noto Sans CJK SC", sans-serif; color: #333;
  text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 2px #fff; }
.whistle-label-district span { font-size: 14px; font-weight: bold; color: #222; }
.whistle-show-districts .whistle-label-district, .whistle-show-townships .whistle-label-township { display: block; }
</style>"""


def context_geojson(townships: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> str:
    """The lines and label points of the townships and districts, as one GeoJSON text.

    Parameters
    ----------
    townships, districts : geopandas.GeoDataFrame
        ``name`` and display outlines in WGS84 (either may be empty).
    """
    features = []
    for level, frame in (("township", townships), ("district", districts)):
        if frame is None or frame.empty:
            continue
        outlines = shapely.transform(frame.geometry.values, lambda xy: xy.round(5))
        points = shapely.point_on_surface(frame.geometry.values)
        for name, outline, point in zip(frame["name"], outlines, points, strict=True):
            # The names are shown as HTML in a label: escaped here, once.
            properties = {"level": level, "name": text(name)}
            features.append({"type": "Feature", "properties": properties,
                             "geometry": json.loads(shapely.to_geojson(outline))})
            features.append({"type": "Feature", "properties": {**properties, "label": True},
                             "geometry": {"type": "Point", "coordinates": [round(point.x, 5), round(point.y, 5)]}})
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False,
                      separators=(",", ":"))


class ContextLayer(MacroElement):
    """The map's context: fetched from ``url``, lines in a pane under the data, labels by zoom."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var pane = map.getPane('whistleContext') || map.createPane('whistleContext');
            pane.style.zIndex = 350;
            pane.style.pointerEvents = 'none';
            function showLabels() {
                var zoom = map.getZoom(), box = map.getContainer();
                box.classList.toggle('whistle-show-districts', zoom >= {{ this.district_zoom }});
                box.classList.toggle('whistle-show-townships', zoom >= {{ this.township_zoom }});
            }
            fetch({{ this.url|tojson }}).then(function (r) { return r.json(); }).then(function (data) {
                L.geoJSON(data, {
                    pane: 'whistleContext', interactive: false,
                    filter: function (f) { return !f.properties.label; },
                    style: function (f) {
                        return f.properties.level === 'district'
                            ? {color: '#4a4a4a', weight: 1.6, opacity: 0.75, fill: false,
                               className: '{{ this.css }} {{ this.css }}-district'}
                            : {color: '#6b6b6b', weight: 0.8, opacity: 0.6, fill: false, dashArray: '3 3',
                               className: '{{ this.css }} {{ this.css }}-township'};
                    }
                }).addTo(map);
                L.geoJSON(data, {
                    filter: function (f) { return f.properties.label; },
                    pointToLayer: function (f, latlng) {
                        return L.marker(latlng, {pane: 'whistleContext', interactive: false, keyboard: false,
                            icon: L.divIcon({className: 'whistle-label whistle-label-' + f.properties.level,
                                             html: '<span>' + f.properties.name + '</span>', iconSize: null})});
                    }
                }).addTo(map);
                map.on('zoomend', showLabels);
                showLabels();
            }).catch(function () { /* no context: the data still draws */ });
        })();
        {% endmacro %}
    """)

    def __init__(self, url: str) -> None:
        super().__init__()
        self._name = "WhistleContext"
        self.url = url
        self.css = CONTEXT_CLASS
        self.district_zoom = DISTRICT_LABEL_ZOOM
        self.township_zoom = TOWNSHIP_LABEL_ZOOM

    def render(self, **kwargs) -> None:
        """Add the labels' style to the page, then the script."""
        self.get_root().header.add_child(Element(_STYLE), name="whistle_context_style")
        super().render(**kwargs)


def context_layer(url: str) -> ContextLayer:
    """The district and township lines and names, fetched from ``url`` (see :func:`context_geojson`)."""
    return ContextLayer(url)
