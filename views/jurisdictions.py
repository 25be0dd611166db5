"""The jurisdiction map: Beijing's districts and townships."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from geo.settings import load_settings
from layers.base import base_map, frame_bounds
from layers.jurisdictions import (
    APPROXIMATE_NOTE,
    KIND_LABELS,
    district_layer,
    jurisdiction_legend,
    township_layer,
)
from views import data
from views.tables import table as show_table

ALL = ""  # the choice of every district (shown as "All of <city>")


def render() -> None:
    """Draw the districts and townships, with a district filter and the township list."""
    st.title("Jurisdictions")
    districts = data.jurisdictions("district")
    townships = data.jurisdictions("township")
    if districts.empty or townships.empty:
        st.warning("No boundaries are loaded. Run `python -m geo boundaries load-shipped`, "
                   "or import official ones with `python -m geo boundaries import`.")
        return
    approximate = bool(townships["approximate"].any())
    if approximate:
        st.info(f"The map shows **{APPROXIMATE_NOTE}**: no official township polygons are "
                "public, so these are derived from community points and the real district "
                "polygons. Import official ones with `python -m geo boundaries import`.", icon="ℹ️")

    names = dict(zip(districts["code"], districts["name"], strict=True))
    names[ALL] = f"All of {load_settings().city.name_en}"
    choice = st.selectbox("District", [ALL, *districts["code"]], format_func=lambda c: names.get(c, c),
                          key="jurisdictions_district")
    shown_townships = townships if choice == ALL else townships[townships["parent_code"] == choice]
    shown_districts = districts if choice == ALL else districts[districts["code"] == choice]

    left, middle, right = st.columns(3)
    left.metric("Districts", f"{len(shown_districts):,}")
    middle.metric("Townships", f"{len(shown_townships):,}")
    right.metric("Area", f"{shown_districts['area_km2'].sum():,.0f} km²")

    settings = load_settings()
    fmap = base_map(bounds=frame_bounds(shown_districts), tiles_url=settings.tiles_url,
                    tiles_attribution=settings.tiles_attribution)
    township_layer(shown_townships, districts).add_to(fmap)
    district_layer(shown_districts).add_to(fmap)
    jurisdiction_legend(approximate=approximate,
                        title=f"{load_settings().city.name_en} jurisdictions").add_to(fmap)
    st_folium(fmap, key=f"jurisdiction_map_{choice}", height=620, use_container_width=True,
              returned_objects=[])

    table = shown_townships.assign(
        district=shown_townships["parent_code"].map(names),
        kind=shown_townships["kind"].map(KIND_LABELS),
    )[["code", "name", "district", "kind", "area_km2"]]
    st.subheader("Townships")
    show_table(table,
               column_config={"area_km2": st.column_config.NumberColumn("area (km²)", format="%.1f")})
    with st.expander("Boundary sets (versions)"):
        show_table(data.sets())
