"""Small geometry helpers shared by the locate and border steps."""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Transformer


def cut_lines(lines: np.ndarray, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Cut lines (or multilines) into short pieces of at most ``size`` vertices.

    Short pieces make a spatial tree selective: a whole township outline, or a 10 km shared
    line, would be a candidate for every point in its bounding box.

    Parameters
    ----------
    lines : numpy.ndarray of shapely.Geometry
        Linestrings, linear rings or multilinestrings.
    size : int
        The most vertices per piece (at least 2).

    Returns
    -------
    tuple of numpy.ndarray
        The pieces, and for each the index of the line it came from.
    """
    if size < 2:
        raise ValueError(f"a piece needs at least 2 vertices; size was {size}")
    parts, part_owner = shapely.get_parts(np.asarray(lines, dtype=object), return_index=True)
    coords, part_index = shapely.get_coordinates(parts, return_index=True)
    if coords.size == 0:
        return np.empty(0, dtype=object), np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, part_index[1:] != part_index[:-1]])
    ends = np.r_[starts[1:], part_index.size]
    # Pieces overlap by one vertex so that together they cover the whole line.
    first = np.concatenate([np.arange(s, e - 1, size - 1) for s, e in zip(starts, ends, strict=True)])
    owner_part = part_index[first]
    stop = np.minimum(first + size, ends[np.searchsorted(starts, first, side="right") - 1])
    lengths = stop - first
    take = np.repeat(first - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(lengths.sum())
    pieces = shapely.linestrings(coords[take], indices=np.repeat(np.arange(first.size), lengths))
    return pieces, part_owner[owner_part].astype(np.int64)


def to_crs(geoms: np.ndarray, crs: str, source: str = "EPSG:4326") -> np.ndarray:
    """Geometries from ``source`` (WGS84, longitude first) into ``crs``, vertex by vertex.

    Parameters
    ----------
    geoms : numpy.ndarray of shapely.Geometry
        Any geometries; missing values stay missing.
    crs : str
        The target CRS.
    source : str
        The CRS the geometries are in.

    Returns
    -------
    numpy.ndarray of shapely.Geometry
    """
    forward = Transformer.from_crs(source, crs, always_xy=True)
    return shapely.transform(geoms, lambda xy: np.column_stack(forward.transform(xy[:, 0], xy[:, 1])))
