"""folium layers: local assets only, styles in properties, escaped legends."""

from __future__ import annotations

import re
from typing import ClassVar

import folium
import geopandas as gpd
import pytest
from branca.element import MacroElement
from shapely.geometry import box

from geo.i18n import _
from layers.assets import LOCAL_ASSETS, STATIC_DIR, localize
from layers.base import base_map, geojson_layer
from layers.jurisdictions import (
    APPROXIMATE_NOTE,
    TOWNSHIP_CLASS,
    district_colours,
    district_layer,
    jurisdiction_legend,
    township_layer,
)
from layers.legend import LegendItem, legend
from tests.helpers import unescaped

DISTRICTS = gpd.GeoDataFrame({"code": ["110101", "110102"], "name": ["东城区", "西城区"]},
                             geometry=[box(116.38, 39.90, 116.40, 39.92), box(116.36, 39.90, 116.38, 39.92)],
                             crs=4326)
TOWNSHIPS = gpd.GeoDataFrame(
    {"code": ["110101001", "110102001"], "name": ["东华门街道", "西长安街街道"], "kind": ["street", "street"],
     "parent_code": ["110101", "110102"], "approximate": [True, True]},
    geometry=[box(116.38, 39.90, 116.40, 39.92), box(116.36, 39.90, 116.38, 39.92)], crs=4326,
)


def full_map() -> folium.Map:
    fmap = base_map()
    township_layer(TOWNSHIPS, DISTRICTS).add_to(fmap)
    district_layer(DISTRICTS).add_to(fmap)
    jurisdiction_legend(approximate=True).add_to(fmap)
    folium.LayerControl().add_to(fmap)
    return fmap


def test_every_local_asset_exists():
    for path in LOCAL_ASSETS.values():
        assert (STATIC_DIR / path).is_file(), path


def test_rendered_page_loads_nothing_from_outside():
    html = full_map().get_root().render()
    remote = re.findall(r"""(?:src|href)=["'](https?:)?//[^"']+""", html)
    assert remote == []
    assert "/app/static/vendor/leaflet/leaflet.js" in html


def test_streamlit_folium_gets_only_local_links():
    # st_folium hands every element's default_js/default_css to the browser.
    fmap = full_map()
    fmap.render()
    links = []

    def walk(element):
        links.extend(url for _, url in getattr(element, "default_js", []) + getattr(element, "default_css", []))
        for child in element._children.values():
            walk(child)

    walk(fmap)
    assert links
    assert all(url.startswith("/app/static/") for url in links), links


def _assets(fmap: folium.Map) -> set[str]:
    fmap.render()
    return {name for name, _ in fmap.default_js + fmap.default_css}


def test_a_map_loads_jquery_bootstrap_and_icons_only_when_an_element_needs_them():
    assert _assets(full_map()) == {"leaflet", "leaflet_css"}
    with_popup = full_map()
    folium.Marker([39.91, 116.39], popup="东华门").add_to(with_popup)
    assert _assets(with_popup) == {"leaflet", "leaflet_css", "jquery"}
    # An overlay that streamlit-folium adds after the map is rendered counts too.
    carrying = base_map()
    overlay = folium.FeatureGroup(name="calls")
    folium.Marker([39.91, 116.39], icon=folium.Icon(color="red")).add_to(overlay)
    carrying.carry(overlay)
    assert _assets(carrying) == {"leaflet", "leaflet_css", "bootstrap", "bootstrap_css", "awesome_markers",
                                 "awesome_markers_css"}
    html = full_map().get_root().render()
    assert "jquery" not in html
    assert "bootstrap" not in html


SSTI = '{{ "whis" ~ "tle-ssti" }} {% if true %}whistle-if{% endif %}'


def test_text_on_a_map_is_never_run_as_a_template():
    # branca renders each element's output again as a Jinja template: text with Jinja syntax
    # in a tooltip or a legend would be evaluated on the server.
    towns = TOWNSHIPS.assign(name=[SSTI, "<b>bold</b>"])
    fmap = base_map()
    township_layer(towns, DISTRICTS).add_to(fmap)
    legend(SSTI, [LegendItem(SSTI, "#ff0000")], note=SSTI).add_to(fmap)
    html = fmap.get_root().render()
    assert "whistle-ssti" not in html  # what the expression would have made
    # The text is still there, as text, in the tooltip data and the legend's title, item and note.
    assert html.count("#123;\\u0026#123; \\u0026quot;whis\\u0026quot; ~ \\u0026quot;tle-ssti") == 4
    assert html.count("whistle-if\\u0026#123;% endif %\\u0026#125;") == 4
    assert "<b>bold</b>" not in html


def test_a_remote_asset_without_local_copy_is_refused():
    class Plugin(MacroElement):
        default_js: ClassVar = [("fancy", "https://cdn.example.org/fancy.js")]

    fmap = base_map()
    fmap.add_child(Plugin())
    with pytest.raises(ValueError, match=r"'fancy' from https://cdn\.example\.org/fancy\.js.*static/vendor"):
        localize(fmap)


def test_no_tiles_by_default_and_tiles_when_configured():
    assert "tileLayer" not in base_map().get_root().render()
    html = base_map(tiles_url="http://tiles.intranet/{z}/{x}/{y}.png", tiles_attribution="city GIS").get_root().render()
    assert "http://tiles.intranet/{z}/{x}/{y}.png" in html


def test_styles_travel_in_feature_properties():
    layer = township_layer(TOWNSHIPS, DISTRICTS)
    features = layer.data["features"]
    colours = district_colours(DISTRICTS)
    assert [f["properties"]["style"]["fillColor"] for f in features] == [colours["110101"], colours["110102"]]
    assert all("className" not in f["properties"]["style"] for f in features)
    script = folium.Map().add_child(layer).get_root().render()
    # What all features share is written once for the layer: in its style and its highlight's reset.
    assert script.count(f'"className": "{TOWNSHIP_CLASS}"') == 2
    assert features[0]["properties"]["district"] == "东城区"
    assert features[0]["properties"]["boundary"] == "近似"
    assert "_styler" not in folium.Map().add_child(layer).get_root().render()


def test_coordinates_are_rounded():
    frame = TOWNSHIPS.assign(geometry=[box(116.3812345678, 39.9, 116.4, 39.92)] * 2)
    layer = geojson_layer(frame, name="t", styles=[{}, {}], tooltip_fields=["name"], tooltip_aliases=["n"])
    ring = layer.data["features"][0]["geometry"]["coordinates"][0]
    assert all(round(x, 5) == x for x, _ in ring)


def test_styles_must_match_rows():
    with pytest.raises(ValueError, match="styles has 1 entries but the frame has 2 rows"):
        geojson_layer(TOWNSHIPS, name="t", styles=[{}], tooltip_fields=["name"], tooltip_aliases=["n"])


def test_legend_escapes_labels_and_names_approximate_boundaries():
    hostile = legend("<b>x</b>", [LegendItem("<script>alert(1)</script>", "#fff")], note="a & b")
    fmap = base_map()
    fmap.add_child(hostile)
    html = fmap.get_root().render()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile.inner_html
    assert "&lt;b&gt;x&lt;/b&gt;" in hostile.inner_html
    assert _(APPROXIMATE_NOTE) in unescaped(full_map().get_root().render())


def test_city_map_ships_display_outlines_not_megabytes(connection):
    from streamlit_folium import _get_map_string

    from geo.locate.jurisdictions_db import current_jurisdictions

    townships = current_jurisdictions(connection, "township")
    districts = current_jurisdictions(connection, "district")
    fmap = base_map()
    township_layer(townships, districts).add_to(fmap)
    district_layer(districts).add_to(fmap)
    fmap.render()
    size = len(_get_map_string(fmap).encode())
    exact = current_jurisdictions(connection, "township", display=False)
    exact_vertices = int(exact.count_coordinates().sum())
    assert int(townships.count_coordinates().sum()) < exact_vertices / 5
    assert size < 1_500_000, f"{size:,} bytes of map script"


def test_township_classes_without_rates_say_too_few():
    """An export with no response or satisfaction data leaves the rates empty (None): the class
    layer says "too few" instead of crashing the overview (TypeError)."""
    from layers.governance import class_layer

    towns = TOWNSHIPS.assign(label=["governance", None], volume=[120, 3], composite=[None, None],
                             composite_rank=[None, None], response_rate=[None, None],
                             resolution_rate=[0.5, None], satisfaction_rate=[None, None])
    towns[["composite", "response_rate", "satisfaction_rate"]] = towns[
        ["composite", "response_rate", "satisfaction_rate"]].astype(object)
    fmap = base_map()
    class_layer(towns).add_to(fmap)
    html = unescaped(fmap.get_root().render())
    assert "样本过少" in html  # "too few", in Beijing's language
    assert "50.0 %" in html


def test_every_map_has_the_lines_and_names_of_where_it_is():
    """The context: township and district lines (escaped names as labels) in one GeoJSON, fetched by
    the map and drawn in a pane that never takes the pointer."""
    import json as _json

    from layers.context import CONTEXT_CLASS, context_geojson, context_layer

    towns = TOWNSHIPS.assign(name=["<b>东华门街道</b>", "{{ 7*7 }}街道"])
    shipped = _json.loads(context_geojson(towns, towns.iloc[:1].assign(name="东城区")))
    kinds = [(f["properties"]["level"], f["geometry"]["type"]) for f in shipped["features"]]
    assert kinds.count(("township", "Point")) == 2
    assert ("district", "Point") in kinds
    assert sum(1 for level, kind in kinds if kind != "Point") == 3
    names = {f["properties"]["name"] for f in shipped["features"]}
    assert "&lt;b&gt;东华门街道&lt;/b&gt;" in names
    assert not any("{{" in n or "<b>" in n for n in names)
    fmap = base_map()
    context_layer("/app/static/context/x.geojson").add_to(fmap)
    html = fmap.get_root().render()
    assert '"/app/static/context/x.geojson"' in html
    assert f"{CONTEXT_CLASS}-township" in html
    assert "pointerEvents = 'none'" in html
    assert ".whistle-show-townships .whistle-label-township" in html
