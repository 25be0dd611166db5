"""Border cases of four kinds, each member keyed so that runs over later days find the same case.

A case's ``key`` names its kind, its townships, its place and its problem:

- **near** ``near:<towns>:<a>-<b>:<stretch>:<category>``: point complaints within the rules'
  ``distance_m`` of the line between ``a`` and ``b``, by stretch of ``bucket_m``;
- **across** ``across:<towns>:<cell>:<category>``: footprints in two townships or more (a complaint
  across a line is not also "near" it);
- **cluster** ``cluster:<theme>:<towns>:<cell>``: dense groups of one theme with members on both
  sides (:func:`geo.detect.borders.straddling_clusters`), placed by the ``key_resolution`` cell at
  the group's median point;
- **pingpong** ``pingpong:<id>``: a complaint handed between neighbours, one case each.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import shapely

from geo.detect.borders import BorderLines, ping_pong, straddling_clusters
from geo.detect.rules import BorderParams
from geo.ingest.timeparse import parse_moments
from geo.locate.cells import DEFAULT_RESOLUTION, cell_ring, cell_to_parent, h3_cells

KINDS = ("near", "across", "cluster", "pingpong")


def uncertainty_m(precision: np.ndarray, crs_orig: np.ndarray, accuracy_m: np.ndarray,
                  defaults: Mapping[str, float]) -> np.ndarray:
    """How far each complaint's location may lie from its problem, in metres.

    The channel's own ``accuracy_m`` where it sent one; else the rules' default
    (:attr:`geo.detect.rules.BorderParams.uncertainty`) for a point by the coordinate system it
    came in (``crs_orig``; none: WGS84), and for an address by its precision (community, township).
    """
    precision = np.asarray(precision, dtype=object)
    system = np.where(pd.isna(np.asarray(crs_orig, dtype=object)), "wgs84", np.asarray(crs_orig, dtype=object))
    key = np.where(precision == "point", system, precision)
    default = pd.Series(key).map(defaults).to_numpy(dtype=float, na_value=np.nan)
    given = np.asarray(accuracy_m, dtype=float)
    return np.where(np.isfinite(given) & (given > 0), given, default)


def near_cases(lines: BorderLines, frame: pd.DataFrame, bucket_m: float, skip: set) -> pd.DataFrame:
    """Point complaints near a shared line, one case per line, stretch of ``bucket_m`` and category.

    ``frame`` holds ``id, received_us, category, theme, lon, lat, h3`` and, optionally,
    ``uncertainty_m`` (:func:`uncertainty_m`): a point is near a line only when its uncertainty
    reaches it. Complaints in ``skip`` (already across a line) are left out.
    """
    hits = lines.near(frame["lon"].to_numpy(), frame["lat"].to_numpy(), frame["h3"].to_numpy())
    if "uncertainty_m" in frame and len(hits):
        # In doubt only where the location could be on the other side of the line.
        reach = frame["uncertainty_m"].to_numpy(dtype=float)[hits["point"].to_numpy()]
        hits = hits[hits["distance_m"].to_numpy() <= reach].reset_index(drop=True)
    if hits.empty:
        return members([])
    # Every township of every line the point is near; the nearest line and its stretch place it.
    first = hits.drop_duplicates("point")
    towns = townships_per_point(hits)
    rows = frame.iloc[first["point"].to_numpy()]
    bucket = (first["along_m"].to_numpy() // bucket_m).astype(np.int64)
    keys = ("near:" + towns.reindex(first["point"]).to_numpy() + ":" + first["a"].to_numpy() + "-"
            + first["b"].to_numpy() + ":" + bucket.astype(str) + ":" + rows["category"].to_numpy())
    out = pd.DataFrame({"key": keys, "kind": "near", "townships": towns.reindex(first["point"]).to_numpy(),
                        "category": rows["category"].to_numpy(), "theme": rows["theme"].to_numpy(),
                        "complaint_id": rows["id"].to_numpy(), "distance_m": first["distance_m"].to_numpy(),
                        "last_us": rows["received_us"].to_numpy()})
    return out[~out["complaint_id"].isin(skip)]


def townships_per_point(hits: pd.DataFrame) -> pd.Series:
    """Per point, its townships as ``"a|b|..."`` (sorted, unique) over the lines it is near."""
    pairs = hits["a"] + "|" + hits["b"]
    several = hits["point"].duplicated(keep=False).to_numpy()
    out = pd.Series(pairs.to_numpy()[~several], index=hits["point"].to_numpy()[~several])
    if several.any():
        long = pd.concat([hits.loc[several, ["point", "a"]].rename(columns={"a": "code"}),
                          hits.loc[several, ["point", "b"]].rename(columns={"b": "code"})])
        joined = long.drop_duplicates().sort_values(["point", "code"]).groupby("point")["code"].agg("|".join)
        out = pd.concat([out, joined])
    return out


def across_cases(lines: BorderLines, table: pd.DataFrame) -> pd.DataFrame:
    """Complaints whose footprint (``footprint``, WKT) lies in two townships or more, one case per
    footprint cell and category."""
    if table.empty:
        return members([])
    shapes = shapely.from_wkt(table["footprint"].to_numpy())
    found = lines.across(shapes)
    if found.empty:
        return members([])
    towns = found.groupby("item")["code"].agg(lambda codes: "|".join(sorted(set(codes))))
    rows = table.iloc[towns.index.to_numpy()]
    centre = shapely.centroid(shapes[towns.index.to_numpy()])
    cell = h3_cells(shapely.get_x(centre), shapely.get_y(centre), lines.resolution)
    keys = ("across:" + towns.to_numpy() + ":" + pd.Series(cell).map("{:x}".format).to_numpy() + ":"
            + rows["category"].to_numpy())
    return pd.DataFrame({"key": keys, "kind": "across", "townships": towns.to_numpy(),
                         "category": rows["category"].to_numpy(), "theme": rows["theme"].to_numpy(),
                         "complaint_id": rows["id"].to_numpy(), "distance_m": np.nan,
                         "last_us": rows["received_us"].to_numpy()})


def cluster_windows(start: datetime, end: datetime, days: int) -> list[tuple[datetime, datetime]]:
    """Consecutive windows of ``days`` ending at ``end``; the earliest is cut at ``start``."""
    windows, right = [], end
    while right > start:
        left = max(start, right - timedelta(days=days))
        windows.append((left, right))
        right = left
    return windows[::-1]


def cluster_cases(frame: pd.DataFrame, start: datetime, end: datetime, params: BorderParams) -> pd.DataFrame:
    """Clusters of one theme across a line in each window of ``params.window_days``, keyed by the
    theme, the townships and the ``params.key_resolution`` cell of the cluster's median point."""
    parts = []
    received = frame["received_us"].to_numpy()
    for left, right in cluster_windows(start, end, params.window_days):
        inside = (received >= _us(left)) & (received < _us(right))
        for theme, group in frame[inside].groupby("theme", sort=True):
            found = straddling_clusters(group["lon"].to_numpy(), group["lat"].to_numpy(),
                                        group["township_code"].to_numpy(), group["h3"].to_numpy(),
                                        eps_m=params.eps_m,
                                        min_samples=params.min_samples, min_ratio=params.min_ratio,
                                        min_side=params.min_side)
            if found.empty:
                continue
            rows = group.iloc[found["point"].to_numpy()].assign(cluster=found["cluster"].to_numpy(),
                                                                 towns=found["townships"].to_numpy())
            summary = rows.groupby("cluster").agg(lon=("lon", "median"), lat=("lat", "median"),
                                                  towns=("towns", "first"))
            # The parent of the base cell, as every other cell of the platform (H3 does not nest
            # exactly: the resolution-8 cell holding a point is not always its base cell's parent).
            cell = cell_to_parent(h3_cells(summary["lon"].to_numpy(), summary["lat"].to_numpy(), DEFAULT_RESOLUTION),
                                  params.key_resolution)
            summary["key"] = ("cluster:" + theme + ":" + summary["towns"] + ":"
                              + pd.Series(cell, index=summary.index).map("{:x}".format))
            rows = rows.join(summary[["key"]], on="cluster")
            parts.append(pd.DataFrame({"key": rows["key"].to_numpy(), "kind": "cluster",
                                       "townships": rows["towns"].to_numpy(), "category": None, "theme": theme,
                                       "complaint_id": rows["id"].to_numpy(), "distance_m": np.nan,
                                       "last_us": rows["received_us"].to_numpy()}))
    return pd.concat(parts, ignore_index=True) if parts else members([])


def ping_pong_cases(lines: BorderLines, rows: pd.DataFrame, min_handoffs: int, timezone: str) -> pd.DataFrame:
    """Complaints handed between neighbours ``min_handoffs`` times or more (``dispatches`` as JSON
    text), one case each; dispatch times without a zone are read in ``timezone``."""
    found = ping_pong([json.loads(text) for text in rows["dispatches"]], lines.pairs, min_handoffs)
    if found.empty:
        return members([])
    picked = rows.iloc[found["item"].to_numpy()]
    # Dispatch times are written as the export wrote them: local time unless they name a zone.
    last = parse_moments(found["last_at"], timezone)
    # A time that cannot be read becomes the smallest integer: the received time wins.
    last_us = np.maximum(last.to_numpy(dtype="datetime64[us]", na_value=np.datetime64("NaT")).astype("int64"),
                         picked["received_us"].to_numpy())
    return pd.DataFrame({"key": "pingpong:" + picked["id"].astype(str).to_numpy(), "kind": "pingpong",
                         "townships": ["|".join(t) for t in found["townships"]],
                         "category": picked["category"].to_numpy(), "theme": picked["theme"].to_numpy(),
                         "complaint_id": picked["id"].to_numpy(), "distance_m": np.nan, "last_us": last_us})


def members(rows: list) -> pd.DataFrame:
    """Case members (one row per complaint and case) in the one shape every kind returns."""
    return pd.DataFrame(rows, columns=["key", "kind", "townships", "category", "theme", "complaint_id",
                                       "distance_m", "last_us"])


def _us(moment: datetime) -> int:
    return int(pd.Timestamp(moment).value // 1000)


def neighbour_cluster_keys(key: str) -> list[str]:
    """The keys a cluster case's neighbours would have: the same theme and townships, in the cells
    around its own (one cluster whose median moved across a cell's edge between two windows)."""
    kind, _, rest = key.partition(":")
    theme, towns, cell = rest.split(":") if kind == "cluster" and rest.count(":") == 2 else (None, None, None)
    if cell is None:
        return []
    ring = cell_ring(np.array([int(cell, 16)], dtype=np.int64), 1)
    return [f"cluster:{theme}:{towns}:{int(c):x}" for c in ring]
