"""Run Gi* over the stored complaints and keep the result as a run with a row per cell."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from geo.errors import ValidationError
from geo.hotspots import bh_significant, confidence_bins, gi_star, neighbours
from geo.ingest.boundaries import BoundaryIndex
from geo.locate import cell_to_parent
from geo.settings import load_settings
from geo.store.bulk import copy_table
from geo.store.engine import Bind, transaction

# Only these precisions count for a cell: a township-precision complaint sits at a centroid
# and would invent a hot spot there.
CELL_PRECISIONS = ("point", "community")


@dataclass(frozen=True)
class HotspotResult:
    """A stored Gi* run and its cells."""

    run_id: int
    cells: pd.DataFrame
    """``h3, count, z, p, bin, significant`` for every cell of the service area."""


def service_cells(boundaries: BoundaryIndex, resolution: int) -> np.ndarray:
    """Every cell of the current townships at ``resolution`` (coarser than the base: parents)."""
    version = boundaries.versions["township"][-1]
    base = version.table(boundaries.resolution, boundaries.cache_dir).cells
    if resolution == boundaries.resolution:
        return base
    return np.unique(cell_to_parent(base, resolution))


def run_hotspots(bind: Bind, start: datetime, end: datetime, *, resolution: int = 8, k: int = 1,
                 alpha: float = 0.05, category: str | None = None, theme: str | None = None,
                 boundaries: BoundaryIndex | None = None) -> HotspotResult:
    """Count complaints per cell over a period, compute Gi*, and store the run.

    Parameters
    ----------
    bind : Engine or Connection
        The database.
    start, end : datetime
        The period, ``[start, end)``, timezone-aware.
    resolution : int
        The H3 resolution of the statistic: the base resolution (9) or a coarser one.
    k : int
        The ring distance of the neighbours.
    alpha : float
        The false discovery rate of the ``significant`` flag.
    category, theme : str, optional
        Count only this category code, or this theme.
    boundaries : BoundaryIndex, optional
        The boundary sets (for the service-area cells); read from the database when omitted.

    Returns
    -------
    HotspotResult
    """
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise ValidationError("the period needs a timezone-aware start before its end")
    if category and theme:
        raise ValidationError("filter by a category or by a theme, not both")
    with transaction(bind) as conn:
        if boundaries is None:
            boundaries = BoundaryIndex.from_database(conn, cache_dir=load_settings().home / "var" / "cache")
        if not 0 <= resolution <= boundaries.resolution:
            raise ValidationError(f"resolution {resolution} must be between 0 and the base "
                                  f"resolution {boundaries.resolution}")
        _check_filter(conn, category, theme)
        cells = service_cells(boundaries, resolution)
        counts = _counts(conn, start, end, category, theme, resolution, boundaries.resolution, cells)
        z, p = gi_star(counts, neighbours(cells, k))
        frame = pd.DataFrame({"h3": cells, "count": counts.astype(np.int64), "z": z, "p": p,
                              "bin": confidence_bins(z, p), "significant": bh_significant(p, alpha)})
        run_id = conn.execute(sa.text(
            "INSERT INTO hotspot_run (kind, period_start, period_end, resolution, k, alpha, category, theme, "
            "cells, complaints, params) VALUES ('gi', :start, :end, :res, :k, :alpha, :category, :theme, "
            ":cells, :complaints, CAST(:params AS jsonb)) RETURNING id"),
            {"start": start, "end": end, "res": resolution, "k": k, "alpha": alpha, "category": category,
             "theme": theme, "cells": len(frame), "complaints": int(counts.sum()),
             "params": json.dumps({"precisions": list(CELL_PRECISIONS), "fdr": "benjamini-hochberg"})},
        ).scalar_one()
        copy_table(conn, "hotspot_cell", pa.Table.from_pandas(frame.assign(run_id=run_id), preserve_index=False))
    return HotspotResult(run_id, frame)


def _check_filter(conn, category: str | None, theme: str | None) -> None:
    if category and not conn.execute(sa.text("SELECT 1 FROM category WHERE code = :c"), {"c": category}).first():
        raise ValidationError(f"category {category!r} is unknown; see geo/data/categories.csv")
    if theme and not conn.execute(sa.text("SELECT 1 FROM category WHERE theme = :t"), {"t": theme}).first():
        raise ValidationError(f"theme {theme!r} is unknown; see geo/data/categories.csv")


def _counts(conn, start, end, category, theme, resolution: int, base: int, cells: np.ndarray) -> np.ndarray:
    where = ["c.received_at >= :start", "c.received_at < :end", "c.precision IN ('point', 'community')"]
    if category:
        where.append("c.category = :category")
    if theme:
        where.append("c.category IN (SELECT code FROM category WHERE theme = :theme)")
    rows = conn.execute(sa.text(
        f"SELECT c.h3, count(*) FROM complaint c WHERE {' AND '.join(where)} GROUP BY c.h3"),
        {"start": start, "end": end, "category": category, "theme": theme}).all()
    found = pd.DataFrame(rows, columns=["h3", "n"]).astype({"h3": np.int64, "n": np.int64})
    if resolution != base and len(found):
        found["h3"] = cell_to_parent(found["h3"].to_numpy(), resolution)
    per_cell = found.groupby("h3")["n"].sum()
    # Cells without complaints are data: every study cell enters with its count, zeros too.
    return per_cell.reindex(cells, fill_value=0).to_numpy(dtype=np.float64)


def latest_run(bind: Bind) -> int | None:
    """The id of the newest Gi* run, or None."""
    with transaction(bind) as conn:
        return conn.execute(sa.text("SELECT max(id) FROM hotspot_run WHERE kind = 'gi'")).scalar()
