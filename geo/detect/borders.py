"""Lines between jurisdictions, and the complaints that sit on them or span them.

The four kinds of border case start here, as pure functions on arrays:

1. :meth:`BorderLines.near`: point complaints within a distance of a shared line;
2. :meth:`BorderLines.across`: footprints (lines or polygons) lying in two townships or more;
3. :func:`straddling_clusters`: dense groups of related complaints with members on both sides;
4. :func:`ping_pong`: complaints handed back and forth between neighbouring townships.

Distances are measured in metres in the metric CRS (EPSG:32650 for Beijing), never in
degrees. A district line is also a township line: two townships of different districts share
it, so the township lines cover both levels.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyarrow as pa
import pyproj
import shapely
from h3ronpy import cells_area_m2, grid_disk
from pyproj import Transformer
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from geo.detect.hotspots import neighbours
from geo.detect.rules import detect_rules
from geo.errors import ValidationError
from geo.locate.cells import DEFAULT_RESOLUTION, cell_to_parent, h3_cells
from geo.locate.geometry import cut_lines, to_crs
from geo.settings import load_settings


def shared_lines(townships: gpd.GeoDataFrame, metric_crs: str | None = None) -> gpd.GeoDataFrame:
    """The line shared by each pair of neighbouring townships.

    Parameters
    ----------
    townships : geopandas.GeoDataFrame
        ``code`` and polygons, in any CRS.
    metric_crs : str, optional
        The projected CRS the lines are returned in (the ``WHISTLE_METRIC_CRS`` setting by default).

    Returns
    -------
    geopandas.GeoDataFrame
        ``a, b`` (the two codes, ``a < b``), ``length_m`` and the line, in ``metric_crs``;
        pairs that only touch at a point are left out.
    """
    if "code" not in townships or townships["code"].duplicated().any():
        raise ValidationError("townships need a unique 'code' column")
    metric_crs = metric_crs or load_settings().metric_crs
    metric = townships.to_crs(metric_crs).reset_index(drop=True)
    geoms = metric.geometry.values
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    codes = metric["code"].to_numpy()
    keep = codes[left] < codes[right]
    left, right = left[keep], right[keep]
    lines = shapely.intersection(shapely.boundary(geoms[left]), shapely.boundary(geoms[right]))
    length = shapely.length(lines)
    real = length > 0
    return gpd.GeoDataFrame({"a": codes[left][real], "b": codes[right][real], "length_m": length[real]},
                            geometry=lines[real], crs=metric_crs)


@dataclass(frozen=True, eq=False)
class BorderLines:
    """The shared lines of a township set, indexed for queries in metres.

    Build it once per boundary set with :meth:`build`; :meth:`near` and :meth:`across` then
    answer for any number of complaints. Only points whose H3 cell lies within reach of a
    line are measured at all, so a day's complaints take a blink and a year's a few seconds.
    """

    lines: gpd.GeoDataFrame
    """``a, b, length_m`` and the line (lineal parts only, merged), in the metric CRS."""
    townships: gpd.GeoDataFrame
    """``code`` and the polygon, in the metric CRS."""
    distance_m: float
    resolution: int
    cells: np.ndarray
    """Sorted H3 cells that can hold a point within ``distance_m`` of a line."""
    _pieces: np.ndarray
    _owner: np.ndarray
    _tree: shapely.STRtree
    _town_tree: shapely.STRtree

    @classmethod
    def build(cls, townships: gpd.GeoDataFrame, *, distance_m: float | None = None,
              resolution: int = DEFAULT_RESOLUTION, metric_crs: str | None = None) -> BorderLines:
        """Find the shared lines of ``townships`` and index them.

        Parameters
        ----------
        townships : geopandas.GeoDataFrame
            ``code`` and polygons, in any CRS.
        distance_m : float, optional
            How near a line a point complaint must be, in metres (the detect rules' by default).
        resolution : int
            The H3 resolution of the complaints' cells (for the prefilter).
        metric_crs : str, optional
            A projected CRS in metres (the ``WHISTLE_METRIC_CRS`` setting by default).

        Returns
        -------
        BorderLines
        """
        distance_m = detect_rules().borders.distance_m if distance_m is None else distance_m
        metric_crs = metric_crs or load_settings().metric_crs
        if not distance_m > 0:
            raise ValidationError(f"distance was {distance_m} m; it must be positive")
        if not pyproj.CRS.from_user_input(metric_crs).is_projected:
            raise ValidationError(f"{metric_crs} is not a projected CRS in metres")
        lines = shared_lines(townships, metric_crs)
        cells = _cells_near(lines.to_crs(4326).geometry.values, distance_m, resolution)
        # A pair touching along a line and at a point more gives a collection: the distance
        # counts both (a complaint by the point is near both townships), the line is kept
        # merged for the maps and the position along it.
        parts, part_owner = shapely.get_parts(lines.geometry.values, return_index=True)
        point = shapely.get_type_id(parts) == 0
        lineal = _lineal(lines.geometry.values)
        pieces, owner = cut_lines(lineal)
        pieces, owner = np.concatenate([pieces, parts[point]]), np.concatenate([owner, part_owner[point]])
        lines = lines.set_geometry(lineal)
        metric = townships[["code", townships.geometry.name]].to_crs(metric_crs).reset_index(drop=True)
        return cls(lines.reset_index(drop=True), metric, float(distance_m), resolution, cells, pieces, owner,
                   shapely.STRtree(pieces), shapely.STRtree(metric.geometry.values))

    @property
    def pairs(self) -> set[tuple[str, str]]:
        """The neighbouring townships, as ``(a, b)`` with ``a < b``."""
        return set(zip(self.lines["a"], self.lines["b"], strict=True))

    def near(self, lon: np.ndarray, lat: np.ndarray, cells: np.ndarray | None = None) -> pd.DataFrame:
        """The points within ``distance_m`` of a shared line (first kind of border case).

        Parameters
        ----------
        lon, lat : numpy.ndarray
            WGS84 coordinates of the complaints.
        cells : numpy.ndarray of int64, optional
            Their H3 cells at ``resolution`` (computed when omitted).

        Returns
        -------
        pandas.DataFrame
            ``point, a, b, distance_m, along_m``: one row per point and line it is near (the
            position of the point's foot along the line in ``along_m``), by point then distance.
        """
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        if lon.shape != lat.shape:
            raise ValidationError(f"{lon.size} longitudes but {lat.size} latitudes")
        cells = h3_cells(lon, lat, self.resolution) if cells is None else np.asarray(cells, dtype=np.int64)
        slot = np.searchsorted(self.cells, cells).clip(0, max(self.cells.size - 1, 0))
        candidate = np.flatnonzero(self.cells[slot] == cells) if self.cells.size else np.empty(0, np.int64)
        points = self._to_metric(lon[candidate], lat[candidate])
        hit, piece = self._tree.query(points, predicate="dwithin", distance=self.distance_m)
        found = pd.DataFrame({"hit": hit, "line": self._owner[piece],
                              "distance_m": shapely.distance(points[hit], self._pieces[piece])})
        found = found.groupby(["hit", "line"], as_index=False, sort=False)["distance_m"].min()
        hit, line = found["hit"].to_numpy(), found["line"].to_numpy()
        out = pd.DataFrame({
            "point": candidate[hit], "a": self.lines["a"].to_numpy()[line], "b": self.lines["b"].to_numpy()[line],
            "distance_m": found["distance_m"].to_numpy(),
            "along_m": shapely.line_locate_point(self.lines.geometry.values[line], points[hit]),
        })
        return out.sort_values(["point", "distance_m", "a", "b"], ignore_index=True)

    def across(self, footprints: np.ndarray, min_measure: float = 1.0) -> pd.DataFrame:
        """The footprints lying in two townships or more (second kind of border case).

        Parameters
        ----------
        footprints : numpy.ndarray of shapely.Geometry
            WGS84 lines or polygons (points and missing values are skipped).
        min_measure : float
            The least length (m, for lines) or area (m², for polygons) that counts as lying in a
            township: a footprint drawn along a line must not be split by rounding.

        Returns
        -------
        pandas.DataFrame
            ``item, code, measure``: one row per footprint and township it lies in, for the
            footprints with two townships or more.
        """
        geoms = np.asarray(footprints, dtype=object)
        kind = shapely.get_dimensions(geoms)
        usable = np.flatnonzero(~shapely.is_missing(geoms) & (kind >= 1) & ~shapely.is_empty(geoms))
        metric = to_crs(geoms[usable], self.lines.crs)
        item, town = self._town_tree.query(metric, predicate="intersects")
        parts = shapely.intersection(metric[item], self.townships.geometry.values[town])
        measure = np.where(kind[usable][item] == 2, shapely.area(parts), shapely.length(parts))
        out = pd.DataFrame({"item": usable[item], "code": self.townships["code"].to_numpy()[town],
                            "measure": measure})
        out = out[out["measure"] >= min_measure]
        spans = out.groupby("item")["code"].transform("nunique") >= 2
        return out[spans].sort_values(["item", "code"], ignore_index=True)

    def _to_metric(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        x, y = _transformer(self.lines.crs).transform(lon, lat)
        return shapely.points(x, y)


def _transformer(crs) -> Transformer:
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def _lineal(geoms: np.ndarray) -> np.ndarray:
    """Keep the lineal parts of each geometry and merge them into as few lines as possible."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    lineal = shapely.get_dimensions(parts) == 1
    merged = shapely.multilinestrings(parts[lineal], indices=owner[lineal])
    return shapely.line_merge(merged)


def _cells_near(lines: np.ndarray, distance_m: float, resolution: int) -> np.ndarray:
    """Every H3 cell holding a point within ``distance_m`` of the WGS84 ``lines``.

    The lines are densified to well under a cell's edge, so every cell they cross holds one
    of their vertices; a point within the distance of such a cell lies in one of the rings
    of ``k`` cells around it, ``k`` counting one cell per (smallest) inner radius.
    """
    edge_m = h3.average_hexagon_edge_length(resolution, unit="m")
    coords = shapely.get_coordinates(shapely.segmentize(lines, 0.2 * edge_m / 111_320.0))
    on_line = np.unique(h3_cells(coords[:, 0], coords[:, 1], resolution))
    # Beijing's cells are smaller than the average; measure the real ones.
    area = min(h3.cell_area(h3.int_to_str(int(c)), unit="m^2") for c in on_line[:: max(1, on_line.size // 50)])
    inner = 0.9 * np.sqrt(area / (2 * np.sqrt(3)))
    k = max(1, int(np.ceil(distance_m / inner)))
    ring = grid_disk(pa.array(on_line.view(np.uint64)), k, flatten=True)
    return np.unique(np.asarray(ring).view(np.int64))


def straddling_clusters(lon: np.ndarray, lat: np.ndarray, township: np.ndarray, cells: np.ndarray | None = None, *,
                        eps_m: float | None = None, min_samples: int | None = None,
                        min_ratio: float | None = None, min_side: int | None = None,
                        metric_crs: str | None = None) -> pd.DataFrame:
    """Dense groups of related complaints with members in two townships or more (third kind).

    Call it once per group of related complaints (one theme within one window, such as 30
    days). The clustering is DBSCAN in metres, with a core condition that adapts to the
    local background:

    - **DBSCAN in metres**, not hot cells: a border case is about a place on the ground, and a
      cell grid cuts the shared line arbitrarily (a cluster on the line falls in cells of both
      sides, each too weak alone). ``eps_m`` is the near-the-line distance (50 m): a cluster
      chains members that are each within it of another.
    - **A core point must stand out from its local background**: Beijing's density varies a
      hundredfold between the core and the suburbs, so a fixed ``min_samples`` either floods the
      centre with "clusters" that are merely the city, or misses suburban ones. A point is a
      core when its count within ``eps_m`` (itself included) reaches ``min_samples`` and
      ``min_ratio`` times the count expected from the density of the ring of resolution-9 H3
      cells around it (the cell and its six neighbours, about 0.5 km² in Beijing). At that
      scale a residential compound's complaints, spread over a few hundred metres, peak at
      under twice the ring's density (a ring of resolution-8 cells, 3.6 km², made them peak at
      two to four times and turned compounds on a line into "clusters"); five times is well
      beyond it, and at a ring rate of two per disc it is also a Poisson tail below 1e-4.
    - **Members on both sides**: the cluster counts when at least two townships hold at least
      ``min_side`` of its members each, so one stray point over the line does not make a case.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        WGS84 coordinates of point complaints.
    township : numpy.ndarray of str
        The township each complaint was located in.
    cells : numpy.ndarray of int64, optional
        Their resolution-9 H3 cells, when known (computed otherwise).
    eps_m, min_samples, min_ratio, min_side : optional
        As above; the detect rules' ``[borders]`` values by default.
    metric_crs : str, optional
        The projected CRS the distances are measured in (the ``WHISTLE_METRIC_CRS`` setting by default).

    Returns
    -------
    pandas.DataFrame
        ``point, cluster, townships`` for the members of straddling clusters: clusters
        numbered from 0, and the townships holding at least ``min_side`` of the cluster's
        members, as ``"a|b|..."`` (sorted).
    """
    rules = detect_rules().borders
    eps_m = rules.eps_m if eps_m is None else eps_m
    min_samples = rules.min_samples if min_samples is None else min_samples
    min_ratio = rules.min_ratio if min_ratio is None else min_ratio
    min_side = rules.min_side if min_side is None else min_side
    metric_crs = metric_crs or load_settings().metric_crs
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    township = np.asarray(township, dtype=object)
    if not lon.size == lat.size == township.size:
        raise ValidationError("need one township per point")
    if eps_m <= 0 or min_samples < 2 or min_ratio < 1 or min_side < 1:
        raise ValidationError("eps_m must be positive, min_samples at least 2, min_ratio at least 1 "
                              "and min_side at least 1")
    empty = pd.DataFrame({"point": np.empty(0, np.int64), "cluster": np.empty(0, np.int64),
                          "townships": np.empty(0, dtype=object)})
    if lon.size < min_samples:
        return empty
    x, y = _transformer(metric_crs).transform(lon, lat)
    # A k-d tree on plain coordinates: no geometry objects to build for a million points.
    pairs = cKDTree(np.column_stack([x, y])).query_pairs(eps_m, output_type="ndarray")
    self_pairs = np.arange(lon.size)
    left = np.concatenate([pairs[:, 0], pairs[:, 1], self_pairs])
    right = np.concatenate([pairs[:, 1], pairs[:, 0], self_pairs])
    count = np.bincount(left, minlength=lon.size)
    expected = _background(lon, lat, eps_m, cells)
    core = (count >= min_samples) & (count >= min_ratio * expected)
    label = _components(left, right, core, lon.size)
    members = np.flatnonzero(label >= 0)
    frame = pd.DataFrame({"point": members, "cluster": label[members], "town": township[members]})
    per_side = frame.groupby(["cluster", "town"]).size()
    sides = per_side[per_side >= min_side].reset_index().groupby("cluster")["town"].agg(sorted)
    spanning = sides[sides.map(len) >= 2].map("|".join)
    frame = frame[frame["cluster"].isin(spanning.index)]
    if frame.empty:
        return empty
    frame = frame.assign(townships=spanning.reindex(frame["cluster"]).to_numpy(),
                         cluster=pd.factorize(frame["cluster"], sort=True)[0])
    return frame[["point", "cluster", "townships"]].reset_index(drop=True)


BACKGROUND_RESOLUTION = 9


def _background(lon: np.ndarray, lat: np.ndarray, eps_m: float, cells: np.ndarray | None) -> np.ndarray:
    """Per point, the count expected within ``eps_m`` from the density of its ring of cells."""
    if cells is None or h3.get_resolution(h3.int_to_str(int(cells[0]))) != BACKGROUND_RESOLUTION:
        cells = h3_cells(lon, lat, BACKGROUND_RESOLUTION)
    unique, inverse = np.unique(cells, return_inverse=True)
    ring_count = neighbours(unique, 1) @ np.bincount(inverse, minlength=unique.size).astype(float)
    # A cell's area from its resolution-5 ancestor's (exact areas cost more than all the rest,
    # and neighbouring cells differ by well under a percent).
    parent, where = np.unique(cell_to_parent(unique, 5), return_inverse=True)
    area = np.asarray(cells_area_m2(pa.array(parent.view(np.uint64))))[where] / 7 ** (BACKGROUND_RESOLUTION - 5)
    return ring_count[inverse] * np.pi * eps_m ** 2 / (7 * area[inverse])


def _components(left: np.ndarray, right: np.ndarray, core: np.ndarray, size: int) -> np.ndarray:
    """DBSCAN's clusters from the neighbour pairs: -1 for noise."""
    both = core[left] & core[right]
    graph = sparse.coo_matrix((np.ones(both.sum()), (left[both], right[both])), shape=(size, size))
    _, component = csgraph.connected_components(graph, directed=False)
    label = np.where(core, component, -1)
    # A border point joins the cluster of a core point within reach (the first, as DBSCAN).
    reach = ~core[left] & core[right]
    border, seed = left[reach], right[reach]
    first = np.unique(border, return_index=True)[1]
    label[border[first]] = component[seed[first]]
    return label


def ping_pong(dispatches: list, pairs: set[tuple[str, str]], min_handoffs: int = 2) -> pd.DataFrame:
    """Complaints handed back and forth between neighbouring townships (fourth kind).

    A hand-off is a (re)dispatch to a different unit than the one before it; it counts when
    the two units are townships sharing a line ("not ours", sent to the neighbour).

    Parameters
    ----------
    dispatches : list
        Per complaint, its dispatch steps (``{"at", "unit", "action"}`` dicts) or None.
    pairs : set of tuple
        The neighbouring townships, ``(a, b)`` with ``a < b`` (:attr:`BorderLines.pairs`).
    min_handoffs : int
        The fewest hand-offs between neighbours that make a case.

    Returns
    -------
    pandas.DataFrame
        ``item, townships`` (sorted tuple), ``handoffs`` and ``last_at`` (the last step's time
        as written) for each complaint that makes a case.
    """
    rows = []
    for item, steps in enumerate(dispatches):
        units = [s.get("unit") for s in steps or () if s.get("action") in ("dispatched", "redispatched")]
        moves = [(u, v) for u, v in itertools.pairwise(units)
                 if u != v and (min(u, v), max(u, v)) in pairs]
        if len(moves) >= min_handoffs:
            towns = tuple(sorted({u for move in moves for u in move}))
            rows.append((item, towns, len(moves), max(str(s.get("at")) for s in steps)))
    return pd.DataFrame(rows, columns=["item", "townships", "handoffs", "last_at"])
