"""The shipped approximate township polygons keep the invariants the platform relies on."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from boundaries import build
from geo.locate.jurisdictions import find_overlaps

METRIC = "EPSG:32650"


@pytest.fixture(scope="module")
def townships() -> gpd.GeoDataFrame:
    return gpd.read_file(build.TOWNSHIPS_FILE)


@pytest.fixture(scope="module")
def districts() -> gpd.GeoDataFrame:
    return gpd.read_file(build.DISTRICTS_FILE)


@pytest.fixture(scope="module")
def unit_list() -> pd.DataFrame:
    return pd.read_csv(build.SOURCES / "beijing_townships_2023_nbs.csv", dtype=str)


def test_sixteen_real_districts(districts):
    assert len(districts) == 16
    assert districts["code"].is_unique
    assert districts.is_valid.all()
    assert set(districts["code"]) == {f"1101{n:02d}" for n in (1, 2, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15,
                                                                  16, 17, 18, 19)}


def test_every_township_polygon_is_valid_and_approximate(townships):
    assert townships.is_valid.all()
    assert (townships.geom_type == "MultiPolygon").all()
    assert not townships.is_empty.any()
    assert townships["approximate"].all()


def test_codes_unique_in_current_list_and_enough(townships, unit_list):
    assert townships["code"].is_unique
    assert set(townships["code"]) <= set(unit_list["code"])
    assert len(townships) >= 330


def test_every_township_lies_inside_its_own_district(townships, districts):
    own = districts.to_crs(METRIC).set_index("code").geometry.loc[townships["parent_code"]].values
    mine = townships.to_crs(METRIC).geometry.values
    # Coordinates are stored to 1e-7 degrees (about 1 cm), so "inside" holds to 5 cm.
    assert shapely.within(mine, shapely.buffer(own, 0.05)).all()


@pytest.mark.parametrize("district_index", range(16))
def test_townships_cover_their_district_without_gaps_or_overlaps(townships, districts, district_index):
    district = districts.iloc[district_index]
    mine = townships[townships["parent_code"] == district["code"]].to_crs(METRIC)
    district_area = gpd.GeoSeries([district.geometry], crs=4326).to_crs(METRIC).area.iloc[0]
    assert len(mine) > 0
    # Sum of parts equals the whole within 0.1 %: no gap and no double counting...
    assert abs(mine.area.sum() - district_area) / district_area < 0.001
    # ...and no two townships of the district share area.
    overlaps = find_overlaps(mine["code"].to_numpy(), mine.geometry.values)
    assert sum(o["area_m2"] for o in overlaps) < 1.0


def test_no_unit_vanishes_silently(townships, unit_list):
    report = json.loads(build.REPORT_FILE.read_text(encoding="utf-8"))
    unplaced = {u["code"]: u["reason"] for u in report["unplaced_units"]}
    assert all(reason for reason in unplaced.values())
    assert set(townships["code"]) | set(unplaced) == set(unit_list["code"])
    assert not set(townships["code"]) & set(unplaced)
    assert report["unplaced_communities"] == []


@pytest.fixture(scope="module")
def rebuilt():
    """The build from the sources, once for the module (it reads and tessellates every source)."""
    return build.build()


def test_build_from_sources_reproduces_the_shipped_files(rebuilt, townships, districts):
    result = rebuilt
    assert list(result.townships["code"]) == list(townships["code"])
    assert list(result.districts["code"]) == list(districts["code"])
    rebuilt = result.townships.geometry.values
    shipped = townships.geometry.values
    # The shipped files are rounded to 1e-7 degrees.
    assert shapely.equals_exact(rebuilt, shipped, tolerance=1e-6).all()


def test_communities_join_by_code_then_by_name(rebuilt):
    joins = rebuilt.report["renamed_joins"]
    # 梨园地区 (2016 code 110112006) is 梨园镇 (110112121) today: joined by name.
    assert any(j["from"].startswith("110112006") and j["to"] == "110112121 by name" for j in joins)
    # 宛平城地区 is 宛平街道 under the same code: the names agree, so no note is needed.
    assert not any("宛平城" in j["from"] for j in joins)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("梨园地区办事处", "梨园"), ("东华门街道", "东华门"), ("崔村镇", "崔村"), ("南窖乡", "南窖"),
     ("北京经济技术开发区", "北京经济技术开发区")],
)
def test_normalise_name(raw, expected):
    assert build.normalise_name(raw) == expected
