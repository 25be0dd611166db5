"""Hot spots named by place: the communities a cell holds, the one it is next to, or none."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import shapely

from geo.show.places import cell_places


def _cell(lat: float, lon: float, resolution: int = 8) -> int:
    return h3.str_to_int(h3.latlng_to_cell(lat, lon, resolution))


def test_a_cell_is_named_by_its_communities_nearest_first_then_its_neighbour():
    import geopandas as gpd

    home = _cell(39.885, 116.34)
    lat, lon = h3.cell_to_latlng(h3.int_to_str(home))
    neighbour = next(c for c in h3.grid_ring(h3.int_to_str(home), 1))
    n_lat, n_lon = h3.cell_to_latlng(neighbour)
    far = _cell(40.2, 116.8)
    communities = pd.DataFrame({
        "name": ["远一点社区", "中心社区", "邻居村", "天边村"],
        "lon": [lon + 0.001, lon, n_lon, 117.4], "lat": [lat + 0.001, lat, n_lat, 40.9]})
    assert _cell(lat + 0.001, lon + 0.001) == home
    empty = h3.str_to_int(neighbour)
    found = cell_places(np.array([home, empty, far]), communities.iloc[[0, 1, 3]], within_m=1_000)
    assert found[0].names == ("中心社区", "远一点社区")
    assert not found[0].near
    # No community of its own: the nearest, as shapely measures it in metres (UTM 50N).
    points = gpd.GeoSeries(gpd.points_from_xy(communities["lon"], communities["lat"]), crs=4326).to_crs(32650)
    centre = gpd.GeoSeries(gpd.points_from_xy([n_lon], [n_lat]), crs=4326).to_crs(32650).iloc[0]
    nearest = communities["name"].iloc[[0, 1, 3]].iloc[int(np.argmin(points.iloc[[0, 1, 3]].distance(centre)))]
    assert found[1].names == (nearest,)
    assert found[1].near
    assert found[2] is None  # 70 km from the nearest: no name
    assert cell_places(np.array([home]), communities.iloc[:0], within_m=1_000) == [None]


def test_the_distance_is_a_great_circle_one():
    from geo.show.places import _metres

    # One degree of latitude is about 111.2 km anywhere; shapely in a metric CRS agrees to 0.5 %.
    assert abs(_metres(116.0, 39.0, np.array([116.0]), np.array([40.0]))[0] - 111_195) < 10
    assert shapely.Point(0, 0).distance(shapely.Point(3, 4)) == 5


def test_points_in_a_cell_are_told_by_h3_itself():
    from geo.show.places import in_cell

    cell = _cell(39.885, 116.34, 9)
    lat, lon = h3.cell_to_latlng(h3.int_to_str(cell))
    points = pd.DataFrame({"lon": [lon, lon + 0.05, np.nan], "lat": [lat, lat, lat]})
    assert in_cell(points["lon"], points["lat"], cell).tolist() == [True, False, False]
