"""Reading and checking boundary files: tiny hand-made polygons, good and bad."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Point, Polygon, box

from geo.errors import BoundaryError
from geo.locate.jurisdictions import (
    assign_parents,
    display_outlines,
    find_gaps,
    find_overlaps,
    kind_from_name,
    prepare_boundaries,
    read_boundary_file,
)

# Two townships side by side in central Beijing, 0.01 degrees (~1 km) each.
WEST = box(116.38, 39.90, 116.39, 39.91)
EAST = box(116.39, 39.90, 116.40, 39.91)
BOWTIE = Polygon([(116.40, 39.90), (116.41, 39.91), (116.41, 39.90), (116.40, 39.91)])


def write_geojson(path: Path, features: list[tuple[dict, object]], crs: str | None = "EPSG:4326") -> Path:
    frame = gpd.GeoDataFrame([p for p, _ in features], geometry=[g for _, g in features], crs=crs)
    frame.to_file(path, driver="GeoJSON")
    return path


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    return write_geojson(tmp_path / "good.geojson", [
        ({"CODE": "110101001", "NAME": "东华门街道", "DIST": "110101"}, WEST),
        ({"CODE": "110101002", "NAME": "景山街道", "DIST": "110101"}, EAST),
    ])


def read(path: Path, **kwargs) -> gpd.GeoDataFrame:
    return read_boundary_file(path, code_field="CODE", name_field="NAME", **kwargs)


@pytest.mark.parametrize(
    ("name", "kind"),
    [("东华门街道", "street"), ("东华门街道办事处", "street"), ("王四营地区", "township"),
     ("南窖乡", "township"), ("崔村镇", "town"), ("北京经济技术开发区", "other")],
)
def test_kind_from_name(name, kind):
    assert kind_from_name(name) == kind


def test_good_file_is_read_and_prepared(good_file):
    frame = read(good_file, parent_field="DIST")
    prepared = prepare_boundaries(frame, level="township")
    out = prepared.frame
    assert list(out["code"]) == ["110101001", "110101002"]
    assert list(out["parent_code"]) == ["110101", "110101"]
    assert list(out["kind"]) == ["street", "street"]
    assert (out.geom_type == "MultiPolygon").all()
    assert out.crs.to_epsg() == 4326
    assert out["area_km2"].between(0.9, 1.0).all()  # 0.01° x 0.01° at 40° N is ~0.95 km²
    assert prepared.report.repaired == []
    assert prepared.report.overlaps == []


def test_projected_file_is_reprojected_to_wgs84(tmp_path):
    metric = gpd.GeoSeries([WEST], crs=4326).to_crs(32650).iloc[0]
    path = write_geojson(tmp_path / "utm.geojson", [({"CODE": "1", "NAME": "a街道"}, metric)], crs="EPSG:32650")
    prepared = prepare_boundaries(read(path), level="township")
    np.testing.assert_allclose(prepared.frame.total_bounds, WEST.bounds, atol=1e-7)


def test_file_without_crs_is_refused_unless_given(tmp_path):
    path = tmp_path / "nocrs.shp"
    gpd.GeoDataFrame({"CODE": ["1"], "NAME": ["a街道"]}, geometry=[WEST]).to_file(path)
    assert not path.with_suffix(".prj").exists()
    with pytest.raises(BoundaryError, match=r"declares no coordinate system.*--source-crs"):
        read(path)
    frame = read(path, source_crs="EPSG:4326")
    assert frame.crs.to_epsg() == 4326


def test_unknown_source_crs_is_named(good_file):
    with pytest.raises(BoundaryError, match="--source-crs 'EPSG:999999' is not a known CRS"):
        read(good_file, source_crs="EPSG:999999")


def test_invalid_polygon_is_repaired_and_reported(tmp_path):
    path = write_geojson(tmp_path / "bowtie.geojson", [({"CODE": "9", "NAME": "蝴蝶街道"}, BOWTIE)])
    prepared = prepare_boundaries(read(path), level="township")
    assert prepared.frame.is_valid.all()
    [repair] = prepared.report.repaired
    assert repair["code"] == "9"
    assert "Self-intersection" in repair["reason"]


def test_duplicate_codes_are_refused_naming_the_rows(tmp_path):
    path = write_geojson(tmp_path / "dup.geojson", [
        ({"CODE": "7", "NAME": "a街道"}, WEST), ({"CODE": "7", "NAME": "b街道"}, EAST)])
    with pytest.raises(BoundaryError, match="duplicate codes: 7 at features 1, 2"):
        prepare_boundaries(read(path), level="township")


def test_overlap_above_tolerance_is_refused(tmp_path):
    shifted = shapely.affinity.translate(EAST, xoff=-0.005)  # half of it over WEST
    path = write_geojson(tmp_path / "overlap.geojson", [
        ({"CODE": "1", "NAME": "a街道"}, WEST), ({"CODE": "2", "NAME": "b街道"}, shifted)])
    with pytest.raises(BoundaryError, match=r"1 pair.*overlap.*1 and 2 by"):
        prepare_boundaries(read(path), level="township", overlap_tolerance_m2=1000)


def test_sliver_overlap_below_tolerance_is_reported_not_refused(tmp_path):
    shifted = shapely.affinity.translate(EAST, xoff=-0.00001)  # a ~1 m wide sliver
    path = write_geojson(tmp_path / "sliver.geojson", [
        ({"CODE": "1", "NAME": "a街道"}, WEST), ({"CODE": "2", "NAME": "b街道"}, shifted)])
    prepared = prepare_boundaries(read(path), level="township", overlap_tolerance_m2=5000)
    [overlap] = prepared.report.overlaps
    assert 500 < overlap["area_m2"] < 5000


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(BoundaryError, match="holds no features"):
        read(path)


@pytest.mark.parametrize("content", [b"code,name\n1,a\n", b"\x00\x01\x02 binary", b"{not json"])
def test_file_that_is_not_geodata_is_refused(tmp_path, content):
    path = tmp_path / "townships.geojson"
    path.write_bytes(content)
    with pytest.raises(BoundaryError, match="not a readable GeoJSON, Shapefile or GeoPackage"):
        read(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(BoundaryError, match="no such file"):
        read(tmp_path / "nowhere.gpkg")


def test_missing_field_lists_the_fields(good_file):
    with pytest.raises(BoundaryError, match="--code-field 'GB' is not a field; the fields are CODE, NAME"):
        read_boundary_file(good_file, code_field="GB", name_field="NAME")


def test_points_are_not_jurisdictions(tmp_path):
    path = write_geojson(tmp_path / "points.geojson", [({"CODE": "1", "NAME": "a"}, Point(116.4, 39.9))])
    with pytest.raises(BoundaryError, match=r"feature\(s\) 1 \(1: Point\) are not polygons"):
        prepare_boundaries(read(path), level="township")


def test_missing_code_is_refused(tmp_path):
    path = write_geojson(tmp_path / "nocode.geojson", [
        ({"CODE": "1", "NAME": "a"}, WEST), ({"CODE": None, "NAME": "b"}, EAST)])
    with pytest.raises(BoundaryError, match=r"feature\(s\) 2 have no code"):
        prepare_boundaries(read(path), level="township")


def test_numeric_codes_are_read_as_text(tmp_path):
    path = write_geojson(tmp_path / "num.geojson", [({"CODE": 110101001, "NAME": "a"}, WEST)])
    assert read(path)["code"].tolist() == ["110101001"]


def test_wrong_level_is_named(good_file):
    with pytest.raises(BoundaryError, match="level was 'village'"):
        prepare_boundaries(read(good_file), level="village")


def test_parents_and_gaps_by_geometry():
    parents = gpd.GeoDataFrame({"code": ["D1", "D2"]}, geometry=[box(116.38, 39.90, 116.40, 39.91),
                                                                 box(116.40, 39.90, 116.42, 39.91)], crs=4326)
    kids = gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=[WEST, box(116.40, 39.90, 116.41, 39.91)], crs=4326)
    kids["parent_code"] = assign_parents(kids, parents, "EPSG:32650")
    assert kids["parent_code"].tolist() == ["D1", "D2"]
    gaps = find_gaps(kids, parents, tolerance_m2=1000)
    assert [g["parent_code"] for g in gaps] == ["D1", "D2"]  # each parent is half covered
    assert all(0.49 < g["share"] < 0.51 for g in gaps)


def test_overlaps_ignore_shared_edges():
    metric = gpd.GeoSeries([WEST, EAST], crs=4326).to_crs(32650).values
    assert find_overlaps(np.array(["w", "e"]), metric) == []


def test_display_outlines_keep_shared_edges_shared():
    wiggly = shapely.segmentize(WEST, 0.0001)
    outlines = display_outlines(np.array([wiggly, EAST], dtype=object), "EPSG:32650", 40.0)
    assert shapely.get_num_coordinates(outlines[0]) < shapely.get_num_coordinates(wiggly)
    metric = gpd.GeoSeries(outlines, crs=4326).to_crs(32650).values
    assert find_overlaps(np.array(["w", "e"]), metric) == []
