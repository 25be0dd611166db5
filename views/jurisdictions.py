"""The jurisdiction map: Beijing's districts and townships."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from geo import i18n
from geo.i18n import _
from geo.settings import load_settings
from geo.show.words import TOWNSHIP_KINDS, words
from layers.base import base_map, frame_bounds
from layers.jurisdictions import APPROXIMATE_NOTE, district_layer, jurisdiction_legend, township_layer
from views import data
from views.tables import table as show_table

ALL = ""  # the choice of every district (shown as "All of <city>")


def render() -> None:
    """Draw the districts and townships, with a district filter and the township list."""
    st.title(_("Jurisdictions"))
    districts = data.jurisdictions("district")
    townships = data.jurisdictions("township")
    if districts.empty or townships.empty:
        st.warning(_("No boundaries are loaded. Run `python -m geo boundaries load-shipped`, "
                     "or import official ones with `python -m geo boundaries import`."))
        return
    approximate = bool(townships["approximate"].any())
    if approximate:
        st.info(_("The map shows **{note}**: no official township polygons are public, so these are derived "
                  "from community points and the real district polygons. Import official ones with "
                  "`python -m geo boundaries import`.").format(note=_(APPROXIMATE_NOTE)), icon="ℹ️")

    city = load_settings().city
    city_name = i18n.in_language(city.name_zh, city.name_en)
    names = dict(zip(districts["code"], districts["name"], strict=True))
    names[ALL] = _("All of {city}").format(city=city_name)
    choice = st.selectbox(_("District"), [ALL, *districts["code"]], format_func=lambda c: names.get(c, c),
                          key="jurisdictions_district")
    shown_townships = townships if choice == ALL else townships[townships["parent_code"] == choice]
    shown_districts = districts if choice == ALL else districts[districts["code"] == choice]

    left, middle, right = st.columns(3)
    left.metric(_("Districts"), f"{len(shown_districts):,}")
    middle.metric(_("Townships"), f"{len(shown_townships):,}")
    right.metric(_("Area"), f"{shown_districts['area_km2'].sum():,.0f} km²")

    settings = load_settings()
    fmap = base_map(bounds=frame_bounds(shown_districts), tiles_url=settings.tiles_url,
                    tiles_attribution=settings.tiles_attribution)
    township_layer(shown_townships, districts).add_to(fmap)
    district_layer(shown_districts).add_to(fmap)
    jurisdiction_legend(approximate=approximate,
                        title=_("{city}: jurisdictions").format(city=city_name)).add_to(fmap)
    st_folium(fmap, key=f"jurisdiction_map_{choice}", height=620, use_container_width=True,
              returned_objects=[])

    table = shown_townships.assign(
        district=shown_townships["parent_code"].map(names),
        kind=words(TOWNSHIP_KINDS, shown_townships["kind"]),
    )[["name", "district", "kind", "area_km2", "code"]]
    st.subheader(_("Townships"))
    show_table(table, column_config={"area_km2": st.column_config.NumberColumn(format="%.1f")})
    with st.expander(_("Boundary sets (versions)")):
        show_table(data.sets())
