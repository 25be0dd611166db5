"""Locate complaints: an H3 cell, a township and a district for every point.

The township of a point is decided by an exact point-in-polygon test, made fast by working
per H3 cell instead of per point:

1. a :class:`CellTable` is built once per set of polygons and resolution: every cell that
   meets a polygon is classed either *interior* (no polygon edge within ``EDGE_EPS`` degrees
   of the cell: the whole cell lies in one polygon, or in the same overlap of several) or
   *straddling* (an edge passes through or next to it);
2. a point in an interior cell takes its cell's polygon through a direct-address lookup
   table (no hashing, no sorting of the points);
3. only points in straddling cells get the exact test (``STRtree`` + prepared polygons).

The result equals the exact test for every point: a point covered by several polygons (on a
shared line, or in an overlap of approximate boundaries) takes the one with the lowest code,
and ``on_boundary`` says that it lies on a polygon's edge. ``EDGE_EPS`` (1e-6 degrees, about
0.1 m) is far wider than the gap between an H3 cell's geodesic edges and the straight edges
of its polygon in degrees (under 1 mm at resolution 9), so an interior cell is interior
for every point that H3 puts in it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import h3
import numpy as np
import pyarrow as pa
import shapely
from h3ronpy import ContainmentMode, change_resolution, grid_disk, vector

from geo.errors import ValidationError
from geo.locate.geometry import cut_lines

DEFAULT_RESOLUTION = 9
EDGE_EPS = 1e-6
# Points per thread for the cell computation: h3ronpy releases the GIL, so threads scale.
_CHUNK = 1_000_000
_LOOKUP_CHUNK = 1 << 18
OUTSIDE = -1
# A straddling cell k (the k-th in ``CellTable.candidates``) is stored as -2 - k.
_FIRST_STRADDLING = -2


def h3_cells(lon: np.ndarray, lat: np.ndarray, resolution: int = DEFAULT_RESOLUTION) -> np.ndarray:
    """Return the H3 cell of every point, as signed 64-bit integers (PostgreSQL BIGINT).

    Parameters
    ----------
    lon, lat : numpy.ndarray
        WGS84 longitudes and latitudes in degrees (note the order: longitude first, as in
        shapely; h3 itself takes latitude first).
    resolution : int
        The H3 resolution, 0 to 15.

    Returns
    -------
    numpy.ndarray of int64
        The cells; equal to ``h3.str_to_int(h3.latlng_to_cell(lat, lon, resolution))``.
    """
    _check_resolution(resolution)
    lon = np.ascontiguousarray(lon, dtype=np.float64)
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    if lon.shape != lat.shape:
        raise ValidationError(f"{lon.size} longitudes but {lat.size} latitudes")
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise ValidationError("every point needs a finite longitude and latitude to get an H3 cell")
    if lon.size == 0:
        return np.empty(0, dtype=np.int64)
    bounds = range(0, lon.size, _CHUNK)

    def one(start: int) -> np.ndarray:
        part = slice(start, start + _CHUNK)
        return np.asarray(vector.coordinates_to_cells(lat[part], lon[part], resolution))

    if len(bounds) == 1:
        return one(0).view(np.int64)
    with ThreadPoolExecutor(max_workers=2) as pool:
        return np.concatenate(list(pool.map(one, bounds))).view(np.int64)


def cell_to_parent(cells: np.ndarray, resolution: int) -> np.ndarray:
    """Return the ancestors of ``cells`` at a coarser ``resolution`` (vectorised ``cell_to_parent``)."""
    _check_resolution(resolution)
    arr = pa.array(np.asarray(cells, dtype=np.int64).view(np.uint64))
    return np.asarray(change_resolution(arr, resolution)).view(np.int64)


def cell_polygons(cells: np.ndarray) -> np.ndarray:
    """The hexagons (shapely polygons, lon/lat) of H3 cells given as int64."""
    cells = np.asarray(cells, dtype=np.int64)
    if not cells.size:
        return np.array([], dtype=object)
    return shapely.from_wkb(np.asarray(
        vector.cells_to_wkb_polygons(pa.array(cells.view(np.uint64))).to_pylist(), dtype=object))


def cell_centres(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The centres of H3 cells given as int64: ``(lon, lat)`` arrays."""
    cells = np.asarray(cells, dtype=np.int64)
    if not cells.size:
        return np.array([], dtype=float), np.array([], dtype=float)
    centres = vector.cells_to_coordinates(pa.array(cells.view(np.uint64)))
    return np.asarray(centres.column("lng")), np.asarray(centres.column("lat"))


def cell_ring(cells: np.ndarray, k: int = 1) -> np.ndarray:
    """The cells within ``k`` steps of ``cells`` that are not among them, sorted (int64)."""
    cells = np.unique(np.asarray(cells, dtype=np.int64))
    if not cells.size:
        return cells
    disk = np.asarray(grid_disk(pa.array(cells.view(np.uint64)), k, flatten=True)).view(np.int64)
    return np.setdiff1d(disk, cells)


def _check_resolution(resolution: int) -> None:
    if not isinstance(resolution, int | np.integer) or not 0 <= resolution <= 15:
        raise ValidationError(f"H3 resolution was {resolution!r}; it must be an integer from 0 to 15")


def _low_bits(resolution: int) -> int:
    """Bits of the digits below the ancestor that keys the direct-address table (up to 6 levels)."""
    return 3 * min(6, resolution)


def _split(cells: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Split cells into a high key (their ancestor a few levels up) and the digits below it."""
    low_bits = _low_bits(resolution)
    unused = 3 * (15 - resolution)
    u = cells.view(np.uint64)
    low = (u >> np.uint64(unused)) & np.uint64((1 << low_bits) - 1)
    high = u >> np.uint64(unused + low_bits)
    return high, low.astype(np.int64)


@dataclass(frozen=True)
class CellTable:
    """Which polygon each H3 cell of an area falls in, for one set of polygons.

    Attributes
    ----------
    codes : numpy.ndarray of str
        The polygons' codes, sorted; a polygon is referred to by its position here.
    polygons : numpy.ndarray of shapely.Geometry
        The polygons, in the order of ``codes``, prepared.
    resolution : int
        The H3 resolution of the cells.
    cells : numpy.ndarray of int64
        Every cell meeting a polygon, sorted.
    value : numpy.ndarray of int32
        Per cell: the polygon index for an interior cell; ``-2 - k`` for the k-th straddling
        cell, whose candidate polygons are ``candidates[offsets[k]:offsets[k + 1]]``.
    """

    codes: np.ndarray
    polygons: np.ndarray
    resolution: int
    cells: np.ndarray
    value: np.ndarray
    offsets: np.ndarray
    candidates: np.ndarray
    highs: np.ndarray
    lut: np.ndarray

    @classmethod
    def build(cls, codes, polygons, resolution: int = DEFAULT_RESOLUTION) -> CellTable:
        """Class every cell that meets the polygons as interior (with its polygon) or straddling.

        Parameters
        ----------
        codes : array-like of str
            A unique code per polygon.
        polygons : array-like of shapely.Geometry
            Polygons or multipolygons in WGS84.
        resolution : int
            The H3 resolution.

        Returns
        -------
        CellTable
        """
        _check_resolution(resolution)
        codes = np.asarray(codes, dtype=object).astype(str)
        polygons = np.asarray(polygons, dtype=object)
        if codes.size == 0 or codes.size != polygons.size:
            raise ValidationError(f"need one code per polygon and at least one; got {codes.size} "
                                  f"codes and {polygons.size} polygons")
        if np.unique(codes).size != codes.size:
            raise ValidationError("polygon codes must be unique")
        kinds = shapely.get_type_id(polygons)
        if not np.isin(kinds, (3, 6)).all():
            raise ValidationError("every jurisdiction must be a polygon or a multipolygon")
        order = np.argsort(codes, kind="stable")
        codes, polygons = codes[order], polygons[order].copy()
        shapely.prepare(polygons)
        cells, value, offsets, candidates = _classify(polygons, resolution)
        highs, lut = _direct_table(cells, value, resolution)
        return cls(codes, polygons, resolution, cells, value, offsets, candidates, highs, lut)

    def lookup(self, cells: np.ndarray) -> np.ndarray:
        """Return, per cell, the polygon index, ``OUTSIDE`` (-1), or ``-2 - k`` for straddling cell k."""
        cells = np.asarray(cells, dtype=np.int64)
        out = np.empty(cells.size, dtype=np.int32)
        # Chunks small enough to stay in the allocator's reused memory (fresh pages for
        # 10-million-element temporaries cost more than the lookup), in two threads.
        starts = range(0, cells.size, _LOOKUP_CHUNK)

        def one(start: int) -> None:
            part = slice(start, start + _LOOKUP_CHUNK)
            out[part] = self._lookup(cells[part])

        if len(starts) <= 1:
            return self._lookup(cells)
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(one, starts))
        return out

    def _lookup(self, cells: np.ndarray) -> np.ndarray:
        high, low = _split(cells, self.resolution)
        slot = np.searchsorted(self.highs, high).clip(0, self.highs.size - 1)
        known = self.highs[slot] == high
        width = 1 << _low_bits(self.resolution)
        slot *= width
        slot += low
        out = self.lut[np.where(known, slot, 0)]
        out[~known] = OUTSIDE
        return out


def _direct_table(cells: np.ndarray, value: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    # One slot per possible cell below each ancestor a few levels up: a lookup is an index,
    # with no hashing and no sorting of millions of points.
    high, low = _split(cells, resolution)
    highs = np.unique(high)
    width = 1 << _low_bits(resolution)
    lut = np.full(highs.size * width, OUTSIDE, dtype=np.int32)
    lut[np.searchsorted(highs, high) * width + low] = value
    return highs, lut


def _classify(polygons: np.ndarray, resolution: int):
    inside, near = _covering(polygons, resolution)
    cells = np.union1d(inside, near)
    # Only cells next to an edge can have one within EDGE_EPS: test those against the edges.
    tested = np.flatnonzero(np.isin(cells, near))
    shapes = cell_polygons(cells[tested])
    pieces, owner = cut_lines(shapely.boundary(polygons))
    near_shape, near_piece = shapely.STRtree(pieces).query(shapes, predicate="dwithin", distance=EDGE_EPS)
    near_cell = tested[near_shape]
    # Any polygon with no edge near a cell covers all of it or none: its centre decides.
    probe = shapely.points(*cell_centres(cells))
    cover_cell, cover_poly = _covering_pairs(polygons, probe)
    straddling = np.zeros(cells.size, dtype=bool)
    straddling[near_cell] = True
    value = _lowest(cells.size, cover_cell, cover_poly)
    pairs = np.unique(np.concatenate([
        np.column_stack([near_cell, owner[near_piece]]),
        np.column_stack([cover_cell, cover_poly])[straddling[cover_cell]],
    ]), axis=0)
    rows = np.flatnonzero(straddling)
    value[rows] = _FIRST_STRADDLING - np.arange(rows.size)
    row_of_pair = np.searchsorted(rows, pairs[:, 0])
    offsets = np.r_[0, np.cumsum(np.bincount(row_of_pair, minlength=rows.size))]
    keep = value != OUTSIDE
    return cells[keep], value[keep], offsets, pairs[:, 1].astype(np.int32)


def _covering(polygons: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Every cell that could hold a point of a polygon, in two sets.

    The cells whose centre lies in the polygons; and the cells along the polygons' edges with
    the ring around them. An edge densified to well under a cell's width cannot cross a cell,
    or pass within EDGE_EPS of it, without one of its points lying in the cell or a neighbour.
    """
    area = shapely.union_all(polygons)
    inside = np.asarray(vector.geometry_to_cells(area, resolution,
                                                 containment_mode=ContainmentMode.ContainsCentroid))
    spacing = 0.3 * h3.average_hexagon_edge_length(resolution, unit="m") / 111_320.0
    edge = shapely.get_coordinates(shapely.segmentize(shapely.boundary(polygons), spacing))
    edge_cells = np.unique(h3_cells(edge[:, 0], edge[:, 1], resolution))
    ring = np.asarray(grid_disk(pa.array(edge_cells.view(np.uint64)), 1, flatten=True))
    return np.unique(inside.view(np.int64)), np.unique(ring.view(np.int64))


def _covering_pairs(polygons: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (point, polygon) where the polygon covers the point, by prepared polygons.

    ``STRtree.query`` with a predicate would prepare the points, not the polygons: a point
    test against an unprepared district outline walks all its vertices.
    """
    hit_point, hit_poly = shapely.STRtree(polygons).query(points)
    keep = shapely.intersects(polygons[hit_poly], points[hit_point])
    return hit_point[keep], hit_poly[keep]


def _lowest(size: int, owner: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Per owner, the lowest value among its pairs; -1 for an owner with none."""
    out = np.full(size, -1, dtype=np.int32)
    out[owner] = value
    # Most owners have one pair; the slow unbuffered minimum only for those with several.
    shared = np.bincount(owner, minlength=size)[owner] > 1
    if shared.any():
        out[owner[shared]] = np.iinfo(np.int32).max
        np.minimum.at(out, owner[shared], value[shared].astype(np.int32))
    return out


@dataclass(frozen=True)
class Assignment:
    """Where each point fell among one set of polygons."""

    index: np.ndarray
    """Per point: the polygon index in the table, or -1 for a point outside every polygon."""
    on_boundary: np.ndarray
    """Per point: True when the point lies on a polygon's edge."""

    def codes(self, table: CellTable) -> np.ndarray:
        """Return the polygon code per point (None outside every polygon)."""
        out = np.full(self.index.size, None, dtype=object)
        inside = self.index >= 0
        out[inside] = table.codes[self.index[inside]]
        return out


def assign(table: CellTable, lon: np.ndarray, lat: np.ndarray, cells: np.ndarray) -> Assignment:
    """Assign each point to a polygon of ``table``: the exact point-in-polygon result.

    Parameters
    ----------
    table : CellTable
        The polygons, classed per cell at the resolution of ``cells``.
    lon, lat : numpy.ndarray
        WGS84 coordinates of the points.
    cells : numpy.ndarray of int64
        The H3 cell of each point at ``table.resolution`` (from :func:`h3_cells`).

    Returns
    -------
    Assignment
        The lowest-coded polygon covering each point (-1 when none does), and whether the
        point lies on an edge.
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    cells = np.asarray(cells, dtype=np.int64)
    if not lon.size == lat.size == cells.size:
        raise ValidationError(f"{lon.size} longitudes, {lat.size} latitudes and {cells.size} cells")
    value = table.lookup(cells)
    index = np.where(value >= 0, value, -1).astype(np.int32)
    on_boundary = np.zeros(lon.size, dtype=bool)
    exact = np.flatnonzero(value <= _FIRST_STRADDLING)
    if exact.size:
        row = _FIRST_STRADDLING - value[exact]
        count = table.offsets[row + 1] - table.offsets[row]
        pair_point = np.repeat(np.arange(exact.size), count)
        # Position of each pair within its cell's candidate list.
        within = np.arange(pair_point.size) - np.repeat(np.cumsum(count) - count, count)
        pair_poly = table.candidates[np.repeat(table.offsets[row], count) + within]
        found, edge = _exact(table.polygons, lon[exact], lat[exact], pair_point, pair_poly)
        index[exact] = found
        on_boundary[exact] = edge
    return Assignment(index, on_boundary)


# Below this many point-polygon pairs the exact tests run in the calling thread.
_THREADED_PAIRS = 2_000


def _exact(polygons: np.ndarray, lon: np.ndarray, lat: np.ndarray, pair_point: np.ndarray,
           pair_poly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Pairs grouped by polygon (a radix sort: polygon numbers fit 16 bits when there are few),
    # so that each prepared polygon tests its own points in one call, in two threads.
    key = pair_poly.astype(np.int16) if polygons.size < 2**15 else pair_poly
    order = np.argsort(key, kind="stable")
    pair_point, pair_poly = pair_point[order], pair_poly[order]
    x, y = lon[pair_point], lat[pair_point]
    bounds = np.searchsorted(pair_poly, np.arange(polygons.size + 1))
    hit = np.zeros(pair_point.size, dtype=bool)
    edge_pair = np.zeros(pair_point.size, dtype=bool)

    def one(j: int) -> None:
        start, end = bounds[j], bounds[j + 1]
        found = shapely.intersects_xy(polygons[j], x[start:end], y[start:end])
        hit[start:end] = found
        rows = start + np.flatnonzero(found)
        # Covered but not contained: the point lies on the polygon's edge.
        edge_pair[rows] = ~shapely.contains_xy(polygons[j], x[rows], y[rows])

    present = np.flatnonzero(np.diff(bounds))
    if pair_point.size < _THREADED_PAIRS:
        # A request's few points: starting threads would cost more than the tests.
        for j in present:
            one(j)
    else:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(one, present))
    edge = np.zeros(lon.size, dtype=bool)
    edge[pair_point[edge_pair]] = True
    return _lowest(lon.size, pair_point[hit], pair_poly[hit]), edge
