"""Jurisdiction polygons: read a boundary file, check it, and prepare it for loading.

Nothing here touches the database; :mod:`geo.locate.jurisdictions_db` stores what
:func:`prepare_boundaries` returns. The checks are the ones a set of jurisdictions must pass
before complaints are located against it: polygons only, valid (repaired and reported
otherwise), unique codes, no overlaps beyond a tolerance, and gaps reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from geo.errors import BoundaryError
from geo.settings import load_settings

log = logging.getLogger(__name__)

LEVELS = ("district", "township")
KINDS = ("street", "township", "town", "other")
WGS84 = "EPSG:4326"

# Suffix -> kind. 地区 ("area office") units are rural townships that also run a street
# office; the statistics bureau lists them with the townships, and so do we.
_KIND_SUFFIXES = (("街道", "street"), ("地区", "township"), ("乡", "township"), ("镇", "town"))


def kind_from_name(name: str) -> str:
    """Tell a township's kind (street, township or town) from its Chinese name.

    Parameters
    ----------
    name : str
        The unit's name, e.g. ``"东华门街道"``, ``"王四营地区"``, ``"崔村镇"``.

    Returns
    -------
    str
        ``"street"``, ``"township"``, ``"town"``, or ``"other"`` for a name with none of the
        suffixes (development zones and the like).
    """
    stripped = name.strip().removesuffix("办事处")
    for suffix, kind in _KIND_SUFFIXES:
        if stripped.endswith(suffix):
            return kind
    return "other"


@dataclass
class BoundaryReport:
    """What a boundary check found; stored with the boundary set it describes."""

    features: int = 0
    repaired: list[dict] = field(default_factory=list)
    overlaps: list[dict] = field(default_factory=list)
    gaps: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Return the report as plain JSON-ready data."""
        return {
            "features": self.features,
            "repaired": self.repaired,
            "overlaps": self.overlaps,
            "gaps": self.gaps,
            "notes": self.notes,
        }

    def lines(self) -> list[str]:
        """Return one human-readable line per finding."""
        out = [f"{self.features:,} features"]
        out += [f"repaired {r['code']} ({r['name']}): {r['reason']}" for r in self.repaired]
        out += [
            f"overlap {o['code_a']} / {o['code_b']}: {o['area_m2']:,.0f} m²" for o in self.overlaps
        ]
        out += [f"gap in {g['parent_code']}: {g['area_m2']:,.0f} m² no township covers"
                for g in self.gaps if g["area_m2"]]
        out += [f"not nested in {g['parent_code']}: {g['not_nested_m2']:,.0f} m² of it lie in townships "
                "of other districts" for g in self.gaps if g.get("not_nested_m2")]
        return out + self.notes


@dataclass
class PreparedBoundaries:
    """A checked boundary set, ready to store: WGS84 MultiPolygons and a display outline."""

    level: str
    frame: gpd.GeoDataFrame
    report: BoundaryReport


def read_boundary_file(
    path: str | Path,
    *,
    code_field: str,
    name_field: str,
    parent_field: str | None = None,
    source_crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a GeoJSON, Shapefile or GeoPackage of jurisdictions into a normalised frame.

    Parameters
    ----------
    path : str or Path
        The file to read.
    code_field, name_field : str
        The columns holding each unit's code and name.
    parent_field : str, optional
        The column holding the parent (district) code of a township.
    source_crs : str, optional
        The file's coordinate system, for a file that does not declare one (e.g.
        ``"EPSG:4326"``). A file that declares a CRS keeps its own unless this is given.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code``, ``name``, ``parent_code`` and ``geometry``, in the file's CRS.

    Raises
    ------
    BoundaryError
        If the file is missing, not geodata, empty, lacks a named field, or has no CRS
        and none was given.
    """
    path = Path(path)
    if not path.exists():
        raise BoundaryError(f"{path}: no such file")
    frame = _read_geodata(path)
    if frame.empty:
        raise BoundaryError(f"{path}: the file holds no features")
    fields = {"--code-field": code_field, "--name-field": name_field}
    if parent_field:
        fields["--parent-field"] = parent_field
    for option, column in fields.items():
        if column not in frame.columns:
            have = ", ".join(c for c in frame.columns if c != "geometry")
            raise BoundaryError(f"{path}: {option} {column!r} is not a field; the fields are {have}")
    frame = _with_crs(frame, path, source_crs)
    out = gpd.GeoDataFrame(
        {
            "code": _text_column(frame[code_field]),
            "name": _text_column(frame[name_field]),
            "parent_code": _text_column(frame[parent_field]) if parent_field else None,
        },
        geometry=frame.geometry.values,
        crs=frame.crs,
    )
    out["row"] = np.arange(1, len(out) + 1)
    return out


def _read_geodata(path: Path) -> gpd.GeoDataFrame:
    try:
        return gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several unrelated types for "not geodata"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BoundaryError(
            f"{path}: not a readable GeoJSON, Shapefile or GeoPackage ({reason})"
        ) from None


def _with_crs(frame: gpd.GeoDataFrame, path: Path, source_crs: str | None) -> gpd.GeoDataFrame:
    if source_crs:
        try:
            crs = CRS.from_user_input(source_crs)
        except CRSError:
            raise BoundaryError(f"--source-crs {source_crs!r} is not a known CRS") from None
        return frame.set_crs(crs, allow_override=True)
    if frame.crs is None:
        raise BoundaryError(
            f"{path}: the file declares no coordinate system; give it with --source-crs "
            "(e.g. --source-crs EPSG:4326)"
        )
    return frame


def _text_column(values: pd.Series) -> pd.Series:
    # Codes read from a DBF or GeoJSON may arrive as integers or floats (110101001.0).
    def as_text(value: object) -> str | None:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = str(value).strip()
        return text or None

    return values.map(as_text).astype(object)


def prepare_boundaries(
    frame: gpd.GeoDataFrame,
    *,
    level: str,
    metric_crs: str | None = None,
    overlap_tolerance_m2: float | None = None,
    display_tolerance_m: float | None = None,
) -> PreparedBoundaries:
    """Check a frame of jurisdictions and prepare it for loading.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Columns ``code``, ``name``, optional ``parent_code``, ``geometry``, with a CRS
        (as :func:`read_boundary_file` returns).
    level : {"district", "township"}
        The level of every unit in the frame.
    metric_crs : str
        Projected CRS in which areas are measured.
    overlap_tolerance_m2 : float
        Two units overlapping by more than this are refused.
    display_tolerance_m : float
        Simplification tolerance of the display outline (shared edges stay shared).

    Returns
    -------
    PreparedBoundaries
        WGS84 MultiPolygons in ``geometry``, a simplified ``geom_display``, ``kind``,
        ``area_km2`` and the report (repairs and sub-tolerance overlaps).

    Raises
    ------
    BoundaryError
        On a wrong level, no CRS, a missing or duplicate code, a missing name, a
        geometry that is not a polygon or cannot be repaired, or an overlap above the
        tolerance. The message names the offending rows.
    """
    settings = load_settings()
    metric_crs = metric_crs or settings.metric_crs
    overlap_tolerance_m2 = settings.overlap_tolerance_m2 if overlap_tolerance_m2 is None else overlap_tolerance_m2
    display_tolerance_m = settings.display_tolerance_m if display_tolerance_m is None else display_tolerance_m
    if level not in LEVELS:
        raise BoundaryError(f"level was {level!r} but is expected to be one of {LEVELS}")
    if frame.crs is None:
        raise BoundaryError("the boundaries have no CRS; set one before preparing them")
    if frame.empty:
        raise BoundaryError("the boundary set is empty")
    frame = _normalise_columns(frame)
    _check_codes(frame)
    report = BoundaryReport(features=len(frame))
    frame = frame.to_crs(WGS84)
    frame["geometry"] = _polygonal(frame, report)
    metric = frame.geometry.to_crs(metric_crs)
    report.overlaps = find_overlaps(frame["code"].to_numpy(), metric.values)
    too_big = [o for o in report.overlaps if o["area_m2"] > overlap_tolerance_m2]
    if too_big:
        listed = "; ".join(f"{o['code_a']} and {o['code_b']} by {o['area_m2']:,.0f} m²" for o in too_big[:10])
        raise BoundaryError(
            f"{len(too_big)} pair(s) of units overlap by more than {overlap_tolerance_m2:,.0f} m²: "
            f"{listed}. A point there would belong to two jurisdictions; fix the file, or raise "
            "WHISTLE_OVERLAP_TOLERANCE_M2 if the overlaps are slivers."
        )
    frame["level"] = level
    frame["kind"] = frame["name"].map(kind_from_name) if level == "township" else None
    frame["area_km2"] = metric.area.to_numpy() / 1e6
    frame["geom_display"] = display_outlines(frame.geometry.values, metric_crs, display_tolerance_m)
    return PreparedBoundaries(level=level, frame=frame, report=report)


def _normalise_columns(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    frame = frame.copy()
    if "parent_code" not in frame.columns:
        frame["parent_code"] = None
    if "row" not in frame.columns:
        frame["row"] = np.arange(1, len(frame) + 1)
    for column in ("code", "name"):
        if column not in frame.columns:
            raise BoundaryError(f"the boundaries have no {column!r} column")
    return frame.reset_index(drop=True)


def _check_codes(frame: gpd.GeoDataFrame) -> None:
    missing = frame.loc[frame["code"].isna(), "row"].tolist()
    if missing:
        raise BoundaryError(f"feature(s) {_rows(missing)} have no code")
    unnamed = frame.loc[frame["name"].isna(), "row"].tolist()
    if unnamed:
        raise BoundaryError(f"feature(s) {_rows(unnamed)} have no name")
    duplicated = frame[frame["code"].duplicated(keep=False)]
    if not duplicated.empty:
        listed = "; ".join(
            f"{code} at features {_rows(group['row'].tolist())}"
            for code, group in duplicated.groupby("code", sort=True)
        )
        raise BoundaryError(f"duplicate codes: {listed}. Each unit needs a code of its own.")


def _rows(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:10])
    return shown + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")


def _polygonal(frame: gpd.GeoDataFrame, report: BoundaryReport) -> np.ndarray:
    geoms = frame.geometry.values
    empty = shapely.is_empty(geoms) | pd.isna(geoms)
    if empty.any():
        raise BoundaryError(f"feature(s) {_rows(frame.loc[empty, 'row'].tolist())} have no geometry")
    kinds = shapely.get_type_id(geoms)
    polygonal = np.isin(kinds, (3, 6))  # Polygon, MultiPolygon
    if not polygonal.all():
        bad = frame.loc[~polygonal]
        listed = ", ".join(
            f"{row} ({code}: {geom.geom_type})"
            for row, code, geom in zip(bad["row"], bad["code"], bad.geometry, strict=True)
        )
        raise BoundaryError(f"feature(s) {listed} are not polygons; jurisdictions must be areas")
    invalid = ~shapely.is_valid(geoms)
    geoms = np.array(geoms, dtype=object)
    for i in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(geoms[i])
        repaired = _only_polygons(shapely.make_valid(geoms[i]))
        if repaired is None:
            raise BoundaryError(
                f"feature {frame['row'][i]} ({frame['code'][i]}) is invalid ({reason}) "
                "and has no area left once repaired"
            )
        geoms[i] = repaired
        report.repaired.append(
            {"code": frame["code"][i], "name": frame["name"][i], "row": int(frame["row"][i]),
             "reason": reason}
        )
        log.warning("repaired %s (%s): %s", frame["code"][i], frame["name"][i], reason)
    return np.array([_as_multipolygon(g) for g in geoms], dtype=object)


def _only_polygons(geom: shapely.Geometry) -> shapely.Geometry | None:
    # make_valid can return a collection with stray lines or points: keep the areas.
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return None
    return shapely.union_all(parts)


def _as_multipolygon(geom: shapely.Geometry) -> shapely.MultiPolygon:
    if geom.geom_type == "MultiPolygon":
        return geom
    return shapely.MultiPolygon([geom])


def find_overlaps(codes: np.ndarray, metric_geoms: np.ndarray) -> list[dict]:
    """Return every pair of units whose interiors overlap, with the area in m².

    Parameters
    ----------
    codes : numpy.ndarray
        The units' codes, aligned with ``metric_geoms``.
    metric_geoms : numpy.ndarray
        Polygons in a projected CRS in metres.

    Returns
    -------
    list of dict
        ``{"code_a", "code_b", "area_m2"}`` for each pair with a positive overlap area,
        largest first.
    """
    tree = shapely.STRtree(metric_geoms)
    left, right = tree.query(metric_geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    areas = shapely.area(shapely.intersection(metric_geoms[left], metric_geoms[right]))
    # Neighbours that only touch along a shared edge have an intersection of zero area;
    # floating-point noise on such edges stays below a square centimetre.
    real = areas > 1e-4
    pairs = [
        {"code_a": str(codes[a]), "code_b": str(codes[b]), "area_m2": float(area)}
        for a, b, area in zip(left[real], right[real], areas[real], strict=True)
    ]
    return sorted(pairs, key=lambda p: (-p["area_m2"], p["code_a"], p["code_b"]))


def find_gaps(
    children: gpd.GeoDataFrame,
    parents: gpd.GeoDataFrame,
    *,
    metric_crs: str | None = None,
    tolerance_m2: float | None = None,
) -> list[dict]:
    """Return the area of each parent that its children leave uncovered, split by why.

    A parent's area that no child covers at all is a real gap: a complaint there has no
    township. Its area covered by children of *another* parent is not a gap but a layer that
    does not nest (the township set and the district set were drawn apart): a complaint there
    has a township, and takes its township's district.

    Parameters
    ----------
    children : geopandas.GeoDataFrame
        Units with ``parent_code``.
    parents : geopandas.GeoDataFrame
        Units with ``code``.
    metric_crs : str, optional
        Projected CRS in which areas are measured (``WHISTLE_METRIC_CRS`` by default).
    tolerance_m2 : float, optional
        Areas up to this are not reported (``WHISTLE_GAP_TOLERANCE_M2`` by default).

    Returns
    -------
    list of dict
        ``{"parent_code", "area_m2", "share", "not_nested_m2"}`` per parent whose real gap
        (``area_m2``, ``share`` of the parent) or area of other parents' children
        (``not_nested_m2``) is above the tolerance.
    """
    settings = load_settings()
    metric_crs = metric_crs or settings.metric_crs
    tolerance_m2 = settings.gap_tolerance_m2 if tolerance_m2 is None else tolerance_m2
    kids = children.to_crs(metric_crs)
    dads = parents.to_crs(metric_crs).set_index("code")
    everything = shapely.union_all(kids.geometry.values)
    own = {code: shapely.union_all(group.geometry.values) for code, group in kids.groupby("parent_code")}
    gaps = []
    for parent_code, parent in sorted(dads.geometry.items()):
        real = shapely.difference(parent, everything).area
        uncovered = shapely.difference(parent, own.get(parent_code, shapely.Polygon())).area
        # What its own children leave and others' children fill.
        elsewhere = max(uncovered - real, 0.0)
        real, elsewhere = (float(a) if a > tolerance_m2 else 0.0 for a in (real, elsewhere))
        if real or elsewhere:
            gaps.append({"parent_code": str(parent_code), "area_m2": real, "share": real / parent.area,
                         "not_nested_m2": elsewhere})
    return gaps


def districts_from_townships(frame: gpd.GeoDataFrame, code: str, name: str) -> gpd.GeoDataFrame:
    """Make a district level out of a township set that comes without one.

    Townships with a parent code are dissolved by it (a district named by its code until its
    polygons are imported); those without one form a single city-wide unit. Each made district
    is its townships' outline with any hole filled.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Townships with ``parent_code`` (None where the file gave none).
    code, name : str
        The city-wide unit's code and name (the city's).

    Returns
    -------
    geopandas.GeoDataFrame
        ``code``, ``name`` and ``geometry``, ready for :func:`prepare_boundaries`; the townships
        that had no parent get ``code`` as their ``parent_code`` in ``frame``.
    """
    frame["parent_code"] = frame["parent_code"].where(frame["parent_code"].notna(), code)
    grouped = frame.groupby("parent_code", sort=True).geometry
    # Outlines without their holes: a hole inside the city is a gap no township covers, and
    # the gap report should say so rather than the made district leaving it out too.
    parts = {parent: _filled(shapely.union_all(group.values)) for parent, group in grouped}
    return gpd.GeoDataFrame({"code": list(parts), "name": [name if c == code else c for c in parts]},
                            geometry=list(parts.values()), crs=frame.crs)


def _filled(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.union_all([shapely.Polygon(part.exterior) for part in shapely.get_parts(geom)])


def assign_parents(children: gpd.GeoDataFrame, parents: gpd.GeoDataFrame, metric_crs: str) -> pd.Series:
    """Give each child the code of the parent it overlaps most.

    Parameters
    ----------
    children, parents : geopandas.GeoDataFrame
        Units with ``code``; both with a CRS.
    metric_crs : str
        Projected CRS in which overlaps are measured.

    Returns
    -------
    pandas.Series
        The parent code per child (``None`` where no parent overlaps it).
    """
    kids = children.geometry.to_crs(metric_crs).values
    dads = parents.geometry.to_crs(metric_crs).values
    kid_idx, dad_idx = shapely.STRtree(dads).query(kids, predicate="intersects")
    areas = shapely.area(shapely.intersection(kids[kid_idx], dads[dad_idx]))
    pairs = pd.DataFrame({"kid": kid_idx, "dad": dad_idx, "area": areas})
    best = pairs.sort_values(["kid", "area"], ascending=[True, False]).drop_duplicates("kid")
    codes = pd.Series([None] * len(children), index=children.index, dtype=object)
    codes.iloc[best["kid"].to_numpy()] = parents["code"].to_numpy()[best["dad"].to_numpy()]
    return codes


def display_outlines(geoms: np.ndarray, metric_crs: str, tolerance_m: float) -> np.ndarray:
    """Simplify polygons for drawing, keeping the edges that neighbours share shared.

    Parameters
    ----------
    geoms : numpy.ndarray
        WGS84 (Multi)Polygons that form a coverage (no overlaps).
    metric_crs : str
        Projected CRS in which the tolerance is applied.
    tolerance_m : float
        Simplification tolerance in metres; 0 keeps every vertex.

    Returns
    -------
    numpy.ndarray
        WGS84 MultiPolygons.
    """
    if tolerance_m <= 0:
        return np.asarray(geoms, dtype=object)
    series = gpd.GeoSeries(geoms, crs=WGS84).to_crs(metric_crs)
    # coverage_simplify moves each shared edge once, so neighbours never open slivers
    # between them the way polygon-by-polygon simplification does.
    simplified = shapely.coverage_simplify(series.values, tolerance_m)
    broken = ~shapely.is_valid(simplified) | shapely.is_empty(simplified)
    if broken.any():
        simplified[broken] = shapely.simplify(series.values[broken], tolerance_m, preserve_topology=True)
    out = gpd.GeoSeries(simplified, crs=metric_crs).to_crs(WGS84).values
    return np.array([_as_multipolygon(g) for g in out], dtype=object)
