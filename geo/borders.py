"""Lines between jurisdictions, and complaints near them (the first kind of border case).

Distances are measured in metres in the metric CRS (EPSG:32650 for Beijing), never in
degrees. A district line is also a township line: two townships of different districts share
it, so the township lines cover both levels.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from geo.errors import ValidationError

DEFAULT_DISTANCE_M = 50.0


def shared_lines(townships: gpd.GeoDataFrame, metric_crs: str = "EPSG:32650") -> gpd.GeoDataFrame:
    """The line shared by each pair of neighbouring townships.

    Parameters
    ----------
    townships : geopandas.GeoDataFrame
        ``code`` and polygons, in any CRS.
    metric_crs : str
        The projected CRS the lines are returned in.

    Returns
    -------
    geopandas.GeoDataFrame
        ``a, b`` (the two codes, ``a < b``), ``length_m`` and the line, in ``metric_crs``;
        pairs that only touch at a point are left out.
    """
    if "code" not in townships or townships["code"].duplicated().any():
        raise ValidationError("townships need a unique 'code' column")
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


def near_lines(lon: np.ndarray, lat: np.ndarray, lines: gpd.GeoDataFrame,
               distance_m: float = DEFAULT_DISTANCE_M) -> pd.DataFrame:
    """Find the points within ``distance_m`` metres of a shared line.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        WGS84 coordinates of the complaints.
    lines : geopandas.GeoDataFrame
        From :func:`shared_lines` (in a metric CRS).
    distance_m : float
        The distance to the line, in metres.

    Returns
    -------
    pandas.DataFrame
        ``point, a, b, distance_m``: one row per point and line it is near, sorted.
    """
    if distance_m <= 0:
        raise ValidationError(f"distance was {distance_m} m; it must be positive")
    if lines.crs is None or not lines.crs.is_projected:
        raise ValidationError("the lines must be in a projected CRS (metres): use shared_lines()")
    to_metric = Transformer.from_crs("EPSG:4326", lines.crs, always_xy=True)
    x, y = to_metric.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    points = shapely.points(x, y)
    geoms = lines.geometry.values
    point, line = shapely.STRtree(geoms).query(points, predicate="dwithin", distance=distance_m)
    out = pd.DataFrame({"point": point, "a": lines["a"].to_numpy()[line], "b": lines["b"].to_numpy()[line],
                        "distance_m": shapely.distance(points[point], geoms[line])})
    return out.sort_values(["point", "a", "b"], ignore_index=True)
