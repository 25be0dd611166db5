"""Locate: H3 cells against h3-py, townships against an exact shapely test and sjoin."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely

from geo.errors import ValidationError
from geo.locate.cells import CellTable, assign, cell_to_parent, h3_cells


def _reference(polygons: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exact test, point by point pair: lowest covering polygon, and on-edge flag."""
    points = shapely.points(lon, lat)
    pairs_point, pairs_poly = shapely.STRtree(polygons).query(points)
    covers = shapely.covers(polygons[pairs_poly], points[pairs_point])
    inside = shapely.contains(polygons[pairs_poly], points[pairs_point])
    expected = np.full(lon.size, -1)
    edge = np.zeros(lon.size, dtype=bool)
    for point, poly, cov, ins in zip(pairs_point, pairs_poly, covers, inside, strict=True):
        if cov:
            expected[point] = poly if expected[point] < 0 else min(expected[point], poly)
            edge[point] |= not ins
    return expected, edge


@pytest.fixture(scope="module")
def table(townships) -> CellTable:
    return CellTable.build(townships["code"], townships.geometry.values, 9)


@pytest.fixture(scope="module")
def points(townships) -> tuple[np.ndarray, np.ndarray]:
    """100,000 points: random ones, ones on the lines (vertices and edges), ones within a metre."""
    rng = np.random.default_rng(11)
    minx, miny, maxx, maxy = townships.total_bounds
    lon = rng.uniform(minx, maxx, 70_000)
    lat = rng.uniform(miny, maxy, 70_000)
    edges = shapely.get_coordinates(shapely.boundary(townships.geometry.values))
    vertices = edges[rng.choice(len(edges), 10_000)]
    # Points halfway along an edge: on the line in exact arithmetic, a rounding off in floats.
    start = rng.choice(len(edges) - 1, 10_000)
    middle = (edges[start] + edges[start + 1]) / 2
    near = edges[rng.choice(len(edges), 10_000)] + rng.uniform(-9e-6, 9e-6, (10_000, 2))
    lon = np.concatenate([lon, vertices[:, 0], middle[:, 0], near[:, 0]])
    lat = np.concatenate([lat, vertices[:, 1], middle[:, 1], near[:, 1]])
    return lon, lat


def test_cells_equal_h3_py():
    rng = np.random.default_rng(3)
    lon = rng.uniform(115.4, 117.5, 3_000)
    lat = rng.uniform(39.4, 41.1, 3_000)
    for resolution in (7, 9, 11):
        cells = h3_cells(lon, lat, resolution)
        expected = [h3.str_to_int(h3.latlng_to_cell(y, x, resolution)) for x, y in zip(lon, lat, strict=True)]
        assert cells.tolist() == expected


def test_cells_in_several_threads_equal_one_pass():
    rng = np.random.default_rng(4)
    lon = rng.uniform(115.4, 117.5, 2_500_000)
    lat = rng.uniform(39.4, 41.1, 2_500_000)
    cells = h3_cells(lon, lat, 9)
    sample = rng.choice(lon.size, 500)
    assert [h3.str_to_int(h3.latlng_to_cell(lat[i], lon[i], 9)) for i in sample] == cells[sample].tolist()


def test_parents_equal_h3_py():
    cells = h3_cells(np.array([116.39, 116.2]), np.array([39.9, 40.1]), 9)
    assert cell_to_parent(cells, 7).tolist() == [h3.str_to_int(h3.cell_to_parent(h3.int_to_str(c), 7))
                                                  for c in cells.tolist()]


def test_townships_equal_the_exact_test_on_100000_points(table, points):
    lon, lat = points
    result = assign(table, lon, lat, h3_cells(lon, lat, 9))
    expected, edge = _reference(table.polygons, lon, lat)
    assert np.array_equal(result.index, expected)
    assert np.array_equal(result.on_boundary, edge)
    # The sample does reach every path: outside, straddling cells, on-line points.
    assert (expected < 0).sum() > 1_000
    assert edge.sum() > 5_000


def test_townships_equal_sjoin(table, points, townships):
    lon, lat = points
    lon, lat = lon[:20_000], lat[:20_000]
    result = assign(table, lon, lat, h3_cells(lon, lat, 9))
    frame = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    joined = gpd.sjoin(frame, townships[["code", "geometry"]], predicate="intersects", how="left")
    expected = joined.groupby(level=0)["code"].min().reindex(range(lon.size))
    got = result.codes(table)
    assert [None if c is None else c for c in got] == [None if isinstance(c, float) else c for c in expected]


def test_a_point_on_a_shared_line_takes_the_lower_code_and_is_flagged(table, townships):
    a, b = townships[townships["name"].isin(["广安门外街道", "太平桥街道"])].geometry.values
    line = shapely.intersection(shapely.boundary(a), shapely.boundary(b))
    vertex = shapely.get_coordinates(line)[1]
    result = assign(table, vertex[:1], vertex[1:], h3_cells(vertex[:1], vertex[1:], 9))
    assert result.codes(table).tolist() == ["110102020"]
    assert result.on_boundary.tolist() == [True]


def test_overlapping_polygons_follow_the_same_rule():
    polygons = [shapely.box(0, 0, 0.02, 0.02), shapely.box(0.01, 0, 0.03, 0.02)]
    table = CellTable.build(["b", "a"], polygons, 9)
    lon = np.array([0.005, 0.015, 0.025, 0.04])
    lat = np.full(4, 0.01)
    result = assign(table, lon, lat, h3_cells(lon, lat, 9))
    assert result.codes(table).tolist() == ["b", "a", "a", None]


def test_bad_polygons_are_refused():
    with pytest.raises(ValidationError, match="unique"):
        CellTable.build(["a", "a"], [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    with pytest.raises(ValidationError, match="polygon"):
        CellTable.build(["a"], [shapely.Point(0, 0)])
    with pytest.raises(ValidationError, match="resolution"):
        h3_cells(np.array([116.0]), np.array([40.0]), 16)
    with pytest.raises(ValidationError, match="finite"):
        h3_cells(np.array([np.nan]), np.array([40.0]), 9)
