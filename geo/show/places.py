"""Places, not hexes: a hot spot named by the communities (社区/村) it covers or is next to.

Pure. A cell is named by the community points of the city's gazetteer that fall inside it
(nearest its centre first); a cell with none is "near" the nearest community within
:attr:`geo.detect.rules.HotspotRules.place_within_m`; a city without a communities file, or a
cell farther than that from any, has no place name (the page then names the township).
"""

from __future__ import annotations

from dataclasses import dataclass

import h3
import numpy as np
import pandas as pd

from geo.locate.cells import cell_centres, h3_cells

EARTH_RADIUS_M = 6_371_008.8
MOST_NAMES = 2
"""The community names a place shows (a cell rarely holds more than two)."""


@dataclass(frozen=True)
class CellPlace:
    """Where a cell is: the communities in it, or the one it is next to."""

    names: tuple[str, ...]
    near: bool
    """True when no community lies in the cell and ``names`` holds its nearest neighbour."""


def cell_places(cells: np.ndarray, communities: pd.DataFrame, *, within_m: float) -> list[CellPlace | None]:
    """Name each H3 cell by the gazetteer's communities.

    Parameters
    ----------
    cells : numpy.ndarray of int64
        Cells of one resolution.
    communities : pandas.DataFrame
        ``name, lon, lat`` of the community points (WGS84).
    within_m : float
        How far a cell without a community of its own looks for a neighbour to be "near".

    Returns
    -------
    list of CellPlace or None
        One entry per cell; None when no community is in or near it.
    """
    cells = np.asarray(cells, dtype=np.int64)
    if not len(cells) or communities.empty:
        return [None] * len(cells)
    lon, lat = (communities[c].to_numpy(dtype=float) for c in ("lon", "lat"))
    names = communities["name"].to_numpy(dtype=object)
    resolution = h3.get_resolution(h3.int_to_str(int(cells[0])))
    home = h3_cells(lon, lat, resolution)
    centre_lon, centre_lat = cell_centres(cells)
    out: list[CellPlace | None] = []
    for cell, x, y in zip(cells, centre_lon, centre_lat, strict=True):
        distance = _metres(x, y, lon, lat)
        inside = np.flatnonzero(home == cell)
        if len(inside):
            ordered = inside[np.argsort(distance[inside], kind="stable")][:MOST_NAMES]
            out.append(CellPlace(tuple(names[ordered]), near=False))
            continue
        nearest = int(np.argmin(distance))
        out.append(CellPlace((names[nearest],), near=True) if distance[nearest] <= within_m else None)
    return out


def _metres(lon: float, lat: float, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """Great-circle distances (haversine) from one point to many, in metres."""
    phi1, phi2 = np.radians(lat), np.radians(lats)
    d_phi, d_lambda = phi2 - phi1, np.radians(lons - lon)
    a = np.sin(d_phi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a))


def in_cell(lon: pd.Series, lat: pd.Series, cell: int) -> np.ndarray:
    """Which points (WGS84) lie in an H3 cell (of any resolution)."""
    lons, lats = lon.to_numpy(dtype=float), lat.to_numpy(dtype=float)
    found = np.zeros(len(lons), dtype=bool)
    known = np.isfinite(lons) & np.isfinite(lats)
    found[known] = h3_cells(lons[known], lats[known], h3.get_resolution(h3.int_to_str(int(cell)))) == int(cell)
    return found
