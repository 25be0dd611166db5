"""Derive approximate township polygons for Beijing from public points and district polygons.

No official township (街乡镇) polygons are public. What is: the 16 district polygons, the
current list of township-level units, one point per township and 2,331 community points
labelled with their (2016) township. The build:

1. joins each community to a current township: by code when the names agree, else by name
   within the district, else by code alone (a renamed unit); what matches neither is
   reported;
2. takes as generators the community points, plus the township's own point where a
   township has no community point; a generator outside its own district is moved just
   inside it (reported), and where two townships share a coordinate the one with fewer
   generators keeps it (reported);
3. per district, tessellates the generators into Voronoi cells in metres (EPSG:32650),
   clips the cells to the district polygon and dissolves them per township.

Because the cells of one district partition the plane and are clipped to that district,
the townships of a district cover it with no gap and no overlap, and each lies inside its
own district. Every unit of the current list that cannot be placed is written to the
report with the reason; none vanishes silently.

Run it with ``python -m geo boundaries build``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.settings import load_settings

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
TOWNSHIPS_FILE = HERE / "townships.geojson"
DISTRICTS_FILE = HERE / "districts.geojson"
REPORT_FILE = HERE / "build_report.json"
METRIC_CRS = load_settings().metric_crs  # the platform's metric CRS (WHISTLE_METRIC_CRS)
WGS84 = "EPSG:4326"

TOWNSHIP_SOURCE = (
    "approximate: Voronoi of Vonng/adcode community points (CC BY 4.0), clipped to "
    "Tianditu district polygons; unit list modood/Administrative-divisions-of-China 2023"
)
DISTRICT_SOURCE = "Tianditu·Beijing district polygons via Prufrok/TiandituSpider"
# How far inside its district a stray generator is put, in metres.
SNAP_INSET_M = 25.0

_SUFFIX = re.compile(r"(办事处|街道|地区|镇|乡)+$")


def normalise_name(name: str) -> str:
    """Strip the administrative suffixes (街道, 地区, 镇, 乡, 办事处) from a unit's name."""
    return _SUFFIX.sub("", name.strip())


@dataclass
class BuildResult:
    """The derived polygons and the account of every unit and point."""

    districts: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame
    report: dict


def build(sources: Path = SOURCES) -> BuildResult:
    """Derive the approximate township polygons from the files in ``sources``.

    Parameters
    ----------
    sources : Path
        Folder holding the Beijing reference files (see ``boundaries/README.md``).

    Returns
    -------
    BuildResult
        District and township frames in WGS84 and a report of what could not be placed.
    """
    units = pd.read_csv(sources / "beijing_townships_2023_nbs.csv", dtype=str)
    districts = _districts(sources, units)
    report: dict = {"unplaced_units": [], "unplaced_communities": [], "snapped_points": [],
                    "shared_points": [], "renamed_joins": []}
    real, pseudo = _split_pseudo_units(units)
    report["unplaced_units"] += [
        {"code": r.code, "name": r.name, "district": r.district,
         "reason": "development zone listed beside the townships; its area belongs to real townships"}
        for r in pseudo.itertuples()
    ]
    generators = _generators(sources, real, report)
    generators = _inside_own_district(generators, districts, report)
    generators = _one_township_per_point(generators, report)
    townships = _tessellate(generators, districts)
    townships = real.merge(townships, on="code", how="inner")
    placed = set(townships["code"])
    for r in real.itertuples():
        if r.code not in placed and not any(u["code"] == r.code for u in report["unplaced_units"]):
            report["unplaced_units"].append(
                {"code": r.code, "name": r.name, "district": r.district,
                 "reason": "no township point and no community point of its own"}
            )
    townships = gpd.GeoDataFrame(townships, geometry="geometry", crs=WGS84)
    townships = townships.rename(columns={"areaCode": "parent_code"})
    townships["approximate"] = True
    townships["source"] = TOWNSHIP_SOURCE
    townships = townships[["code", "name", "parent_code", "district", "generators", "approximate",
                           "source", "geometry"]].sort_values("code").reset_index(drop=True)
    report["counts"] = {
        "units_in_list": len(units), "townships_built": len(townships),
        "unplaced_units": len(report["unplaced_units"]),
        "communities": int(generators["community"].sum()),
        "township_points_used": int((~generators["community"]).sum()),
    }
    return BuildResult(districts=districts, townships=townships, report=report)


def _districts(sources: Path, units: pd.DataFrame) -> gpd.GeoDataFrame:
    raw = gpd.read_file(sources / "BeijingDistricts.shp").to_crs(WGS84)
    codes = units.drop_duplicates("district").set_index("district")["areaCode"]
    unknown = sorted(set(raw["name"]) - set(codes.index))
    if unknown:
        raise ValueError(f"district(s) {unknown} are not in the township list's districts")
    out = gpd.GeoDataFrame(
        {"code": raw["name"].map(codes), "name": raw["name"], "approximate": False,
         "source": DISTRICT_SOURCE},
        geometry=shapely.make_valid(raw.geometry.values), crs=WGS84,
    )
    return out.sort_values("code").reset_index(drop=True)


def _split_pseudo_units(units: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    # Codes 1101xx4xx are development zones, not street offices, townships or towns.
    pseudo = units["code"].str[6] == "4"
    return units[~pseudo].copy(), units[pseudo].copy()


def _generators(sources: Path, real: pd.DataFrame, report: dict) -> pd.DataFrame:
    communities = pd.read_csv(sources / "beijing_community_points.csv", dtype=str)
    communities["code"] = _join_communities(communities, real, report)
    joined = communities.dropna(subset=["code"])
    points = pd.DataFrame({
        "code": joined["code"], "lon": joined["lon"].astype(float),
        "lat": joined["lat"].astype(float), "community": True,
    })
    town_points = pd.read_csv(sources / "beijing_township_points.csv", dtype=str)
    lonely = town_points[
        town_points["code"].isin(real["code"]) & ~town_points["code"].isin(points["code"])
        & town_points["lon"].notna()
    ]
    points = pd.concat([points, pd.DataFrame({
        "code": lonely["code"], "lon": lonely["lon"].astype(float),
        "lat": lonely["lat"].astype(float), "community": False,
    })], ignore_index=True)
    return points.merge(real[["code", "areaCode"]], on="code")


def _join_communities(communities: pd.DataFrame, real: pd.DataFrame, report: dict) -> pd.Series:
    by_code = real.set_index("code")
    by_name = {(r.district, normalise_name(r.name)): r.code for r in real.itertuples()}
    codes = []
    for c in communities.itertuples():
        code9 = c.parent_town_code12[:9]
        town = normalise_name(c.town_name)
        current = by_code["name"].get(code9)
        named = by_name.get((c.district, town))
        if current is not None and _same_unit(town, normalise_name(current)):
            codes.append(code9)
        elif named is not None:
            codes.append(named)
            report["renamed_joins"].append(
                {"community": c.name, "from": f"{code9} {c.town_name}", "to": f"{named} by name"})
        elif current is not None:
            codes.append(code9)
            report["renamed_joins"].append(
                {"community": c.name, "from": f"{code9} {c.town_name}", "to": f"{code9} {current} by code"})
        else:
            codes.append(None)
            report["unplaced_communities"].append(
                {"code12": c.code12, "name": c.name, "town": c.town_name,
                 "reason": "its township's code and name are both absent from the current list"})
    return pd.Series(codes, index=communities.index, dtype=object)


def _same_unit(a: str, b: str) -> bool:
    # 宛平城地区 became 宛平街道: one name containing the other is the same unit renamed.
    return a == b or a.startswith(b) or b.startswith(a)


def _inside_own_district(points: pd.DataFrame, districts: gpd.GeoDataFrame, report: dict) -> pd.DataFrame:
    metric = districts.to_crs(METRIC_CRS).set_index("code").geometry
    xy = gpd.GeoSeries(gpd.points_from_xy(points["lon"], points["lat"]), crs=WGS84).to_crs(METRIC_CRS)
    geoms = xy.values.copy()
    own = metric.loc[points["areaCode"]].values
    outside = ~shapely.contains(own, geoms)
    for i in np.flatnonzero(outside):
        inner = own[i].buffer(-SNAP_INSET_M)
        target = inner if not inner.is_empty else own[i]
        snapped = shapely.ops.nearest_points(target, geoms[i])[0]
        report["snapped_points"].append(
            {"code": points["code"].iloc[i], "distance_m": round(float(geoms[i].distance(snapped)), 1)})
        geoms[i] = snapped
    out = points.copy()
    out["x"], out["y"] = shapely.get_x(geoms), shapely.get_y(geoms)
    return out


def _one_township_per_point(points: pd.DataFrame, report: dict) -> pd.DataFrame:
    # Voronoi merges coincident generators; decide which township keeps a shared spot so
    # that the choice is deterministic and small townships are not the ones to lose it.
    points = points.copy()
    points["key_x"], points["key_y"] = points["x"].round(0), points["y"].round(0)
    size = points.groupby("code")["code"].transform("size")
    points = points.assign(size=size).sort_values(["key_x", "key_y", "size", "code"])
    first = ~points.duplicated(["key_x", "key_y"])
    for _, group in points.groupby(["key_x", "key_y"]):
        if group["code"].nunique() > 1:
            report["shared_points"].append(
                {"kept": group["code"].iloc[0], "dropped": sorted(set(group["code"].iloc[1:]))})
    return points[first].drop(columns=["key_x", "key_y", "size"]).reset_index(drop=True)


def _tessellate(points: pd.DataFrame, districts: gpd.GeoDataFrame) -> pd.DataFrame:
    pieces = []
    metric = districts.to_crs(METRIC_CRS).geometry
    for district in districts.itertuples():
        here = points[points["areaCode"] == district.code]
        envelope = metric[district.Index].envelope.buffer(20000)
        seeds = shapely.points(here["x"].to_numpy(), here["y"].to_numpy())
        cells = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=envelope, ordered=True)
        cells = gpd.GeoSeries(shapely.get_parts(cells), crs=METRIC_CRS).to_crs(WGS84).values
        # Clip in WGS84 against the district's own vertices, so that "inside its district"
        # holds exactly rather than up to a reprojection round trip.
        clipped = shapely.intersection(cells, district.geometry)
        frame = gpd.GeoDataFrame({"code": here["code"].to_numpy(), "generators": 1},
                                 geometry=clipped, crs=WGS84)
        frame = frame[~frame.geometry.is_empty]
        pieces.append(frame.dissolve("code", aggfunc={"generators": "sum"}).reset_index())
    out = pd.concat(pieces, ignore_index=True)
    out["geometry"] = [_polygons_only(g) for g in out.geometry]
    return out


def _polygons_only(geom: shapely.Geometry) -> shapely.MultiPolygon:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0]
    return shapely.MultiPolygon(parts)


def write(result: BuildResult, *, townships: Path = TOWNSHIPS_FILE, districts: Path = DISTRICTS_FILE,
          report: Path = REPORT_FILE) -> None:
    """Write the derived polygons (GeoJSON) and the build report (JSON).

    Parameters
    ----------
    result : BuildResult
        What :func:`build` returned.
    townships, districts, report : Path
        Where to write each.
    """
    for frame, path in ((result.townships, townships), (result.districts, districts)):
        path.unlink(missing_ok=True)
        # 7 decimals is about a centimetre: below any boundary's accuracy, a third smaller.
        frame.to_file(path, driver="GeoJSON", engine="pyogrio",
                      layer_options={"RFC7946": "NO", "COORDINATE_PRECISION": 7})
    report.write_text(json.dumps(result.report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
