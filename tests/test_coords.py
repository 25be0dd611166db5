"""Coordinate systems against independent references."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from boundaries.build import SOURCES
from geo.errors import ValidationError
from geo.locate.coords import (
    bd09_to_gcj02,
    coordinate_system,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_wgs84,
    wgs84_to_gcj02,
)

METRIC = "EPSG:32650"


def metres_apart(lon_a, lat_a, lon_b, lat_b) -> np.ndarray:
    a = gpd.GeoSeries(gpd.points_from_xy(lon_a, lat_a), crs=4326).to_crs(METRIC)
    b = gpd.GeoSeries(gpd.points_from_xy(lon_b, lat_b), crs=4326).to_crs(METRIC)
    return a.distance(b).to_numpy()


# Published by the coordtransform library (wandergis) for Tiananmen, (116.404, 39.915).
@pytest.mark.parametrize(("function", "expected"), [
    (bd09_to_gcj02, (116.39762729119315, 39.90865673957631)),
    (gcj02_to_bd09, (116.41036949371029, 39.92133699351021)),
    (wgs84_to_gcj02, (116.41024449916938, 39.91640428150164)),
])
def test_reference_values(function, expected):
    lon, lat = function(116.404, 39.915)
    np.testing.assert_allclose([lon[0], lat[0]], expected, atol=1e-12)


def test_iterative_inverse_beats_the_one_step_inverse():
    # coordtransform's one-step gcj02towgs84(116.404, 39.915); ours inverts exactly.
    one_step = (116.39775550083061, 39.91359571849836)
    lon, lat = gcj02_to_wgs84(116.404, 39.915)
    back = wgs84_to_gcj02(lon, lat)
    assert metres_apart(back[0], back[1], [116.404], [39.915])[0] < 0.001
    assert 0.01 < metres_apart(lon, lat, [one_step[0]], [one_step[1]])[0] < 5


def test_round_trips_within_a_metre_across_beijing():
    rng = np.random.default_rng(7)
    lon = rng.uniform(115.42, 117.51, 20_000)
    lat = rng.uniform(39.44, 41.06, 20_000)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    assert (metres_apart(lon, lat, g_lon, g_lat) > 100).all()  # a real offset...
    w_lon, w_lat = gcj02_to_wgs84(g_lon, g_lat)
    assert metres_apart(lon, lat, w_lon, w_lat).max() < 1.0  # ...undone within a metre
    b_lon, b_lat = gcj02_to_bd09(g_lon, g_lat)
    w2_lon, w2_lat = to_wgs84(b_lon, b_lat, "BD-09")
    assert metres_apart(lon, lat, w2_lon, w2_lat).max() < 1.0


def test_agrees_with_the_published_conversion_of_the_township_points():
    # PROVENANCE.md: lon/lat were converted from the published GCJ-02 by another implementation.
    points = pd.read_csv(SOURCES / "beijing_township_points.csv").dropna(subset=["lon_gcj02"])
    lon, lat = to_wgs84(points["lon_gcj02"], points["lat_gcj02"], "gcj02")
    # The file keeps 6 decimals (~0.1 m).
    assert metres_apart(lon, lat, points["lon"], points["lat"]).max() < 0.5


def test_outside_china_nothing_moves():
    lon, lat = wgs84_to_gcj02([2.35, -74.0], [48.85, 40.7])
    np.testing.assert_array_equal(lon, [2.35, -74.0])
    np.testing.assert_array_equal(lat, [48.85, 40.7])


@pytest.mark.parametrize(("name", "system"), [("WGS84", "wgs84"), ("EPSG:4326", "wgs84"), ("GCJ-02", "gcj02"),
                                              ("bd09ll", "bd09"), (" Baidu ", "bd09")])
def test_system_names(name, system):
    assert coordinate_system(name) == system


def test_unknown_system_is_named():
    with pytest.raises(ValidationError, match="coordinate system 'cgcs2000' is unknown"):
        to_wgs84([116.4], [39.9], "cgcs2000")


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValidationError, match="2 longitudes but 1 latitudes"):
        wgs84_to_gcj02([116.4, 116.5], [39.9])
