"""Boundaries: build time, load time against plain to_postgis, and map weight against exact outlines.

Run: ``.venv/bin/python bench/bench_boundaries.py`` (uses ``DATABASE_URL`` or the embedded
cluster; creates and drops a scratch database ``whistle_bench``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import header, scratch_engine, timed
from boundaries import build
from boundaries.shipped import load_shipped
from geo.locate.jurisdictions_db import current_jurisdictions
from layers.base import base_map
from layers.jurisdictions import district_layer, township_layer


def map_bytes(townships: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> int:
    from streamlit_folium import _get_map_string

    fmap = base_map()
    township_layer(townships, districts).add_to(fmap)
    district_layer(districts).add_to(fmap)
    fmap.render()
    return len(_get_map_string(fmap).encode())


def main() -> None:
    print(header())
    build_s, _ = timed(build.build)
    print(f"build approximate townships from sources: {build_s:.2f} s")

    engine = scratch_engine()
    load_s, _ = timed(lambda: load_shipped(engine))
    shipped = gpd.read_file(build.TOWNSHIPS_FILE)
    plain_s, _ = timed(lambda: shipped.to_postgis("plain_townships", engine, if_exists="replace"))
    print(f"load shipped districts + townships (checks, display outlines, versioned insert): {load_s:.2f} s; "
          f"plain to_postgis of the townships alone: {plain_s:.2f} s; ratio {load_s / plain_s:.1f}x")

    townships = current_jurisdictions(engine, "township")
    districts = current_jurisdictions(engine, "district")
    exact_t = current_jurisdictions(engine, "township", display=False)
    exact_d = current_jurisdictions(engine, "district", display=False)
    light, heavy = map_bytes(townships, districts), map_bytes(exact_t, exact_d)
    vertices = int(townships.count_coordinates().sum() + districts.count_coordinates().sum())
    exact_vertices = int(exact_t.count_coordinates().sum() + exact_d.count_coordinates().sum())
    print(f"city map script: {light / 1e6:.2f} MB with display outlines ({vertices:,} vertices), "
          f"{heavy / 1e6:.2f} MB with exact ones ({exact_vertices:,}); ratio {heavy / light:.1f}x lighter")
    engine.dispose()


if __name__ == "__main__":
    main()
