"""Run Gi* over the stored complaints and keep the result as a run with a row per cell."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from geo.detect.filters_db import check_filter, check_period
from geo.detect.hotspots import (
    bh_significant,
    confidence_bins,
    emerging_hot_spots,
    gi_star,
    neighbours,
)
from geo.detect.rules import FROM_RULES, detect_rules
from geo.errors import ValidationError
from geo.locate.boundaries import BoundaryIndex
from geo.locate.boundaries_db import boundary_index
from geo.locate.cells import cell_to_parent
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


def run_hotspots(bind: Bind, start: datetime, end: datetime, *, resolution: int | None = None,
                 k: int | None = None, alpha: float | None = None, category: str | None = None,
                 theme: str | None = None, boundaries: BoundaryIndex | None = None) -> HotspotResult:
    """Count complaints per cell over a period, compute Gi*, and store the run.

    Parameters
    ----------
    bind : Engine or Connection
        The database.
    start, end : datetime
        The period, ``[start, end)``, timezone-aware.
    resolution : int, optional
        The H3 resolution of the statistic: the base resolution (9) or a coarser one.
    k : int, optional
        The ring distance of the neighbours.
    alpha : float, optional
        The false discovery rate of the ``significant`` flag.
        (These three: the detect rules' ``[hotspots]`` when omitted.)
    category, theme : str, optional
        Count only this category code, or this theme.
    boundaries : BoundaryIndex, optional
        The boundary sets (for the service-area cells); read from the database when omitted.

    Returns
    -------
    HotspotResult
    """
    rules = detect_rules().hotspots
    resolution = rules.resolution if resolution is None else resolution
    k = rules.k if k is None else k
    alpha = rules.alpha if alpha is None else alpha
    check_period(start, end, category, theme)
    with transaction(bind) as conn:
        boundaries, cells = _study_cells(conn, resolution, category, theme, boundaries)
        counts = _counts(conn, start, end, category, theme, resolution, boundaries.resolution, cells)
        z, p = gi_star(counts, neighbours(cells, k))
        frame = pd.DataFrame({"h3": cells, "count": counts.astype(np.int64), "z": z, "p": p,
                              "bin": confidence_bins(z, p), "significant": bh_significant(p, alpha)})
        run = {"kind": "gi", "start": start, "end": end, "res": resolution, "k": k, "alpha": alpha,
               "category": category, "theme": theme, "steps": None, "step": None}
        run_id = _store(conn, run, frame, {"fdr": "benjamini-hochberg"})
    return HotspotResult(run_id, frame)


def _study_cells(conn, resolution: int, category: str | None, theme: str | None,
                 boundaries: BoundaryIndex | None) -> tuple[BoundaryIndex, np.ndarray]:
    if boundaries is None:
        boundaries = boundary_index(conn, cache_dir=load_settings().home / "var" / "cache")
    if not 0 <= resolution <= boundaries.resolution:
        raise ValidationError(f"resolution {resolution} must be between 0 and the base "
                              f"resolution {boundaries.resolution}")
    check_filter(conn, category, theme)
    return boundaries, service_cells(boundaries, resolution)


def _store(conn, run: dict, frame: pd.DataFrame, params: dict) -> int:
    run_id = conn.execute(sa.text(
        "INSERT INTO hotspot_run (kind, period_start, period_end, resolution, k, alpha, category, theme, "
        "cells, complaints, params, steps, step) VALUES (:kind, :start, :end, :res, :k, :alpha, :category, "
        ":theme, :cells, :complaints, CAST(:params AS jsonb), :steps, :step) RETURNING id"),
        {**run, "cells": len(frame), "complaints": int(frame["count"].sum()),
         "params": json.dumps({"precisions": list(CELL_PRECISIONS), **params})},
    ).scalar_one()
    copy_table(conn, "hotspot_cell", pa.Table.from_pandas(frame.assign(run_id=run_id), preserve_index=False))
    return run_id


def count_rows(conn, start, end, category, theme, bounds: list[datetime] | None = None, *,
               township: str | None = None) -> pd.DataFrame:
    """Complaints per base cell (and per time step when ``bounds`` are given), as a run counts
    them: ``h3, step, n``; only one township's when ``township`` is given."""
    where = ["c.received_at >= :start", "c.received_at < :end", "c.precision = ANY(:precisions)"]
    if category:
        where.append("c.category = :category")
    if theme:
        where.append("c.category IN (SELECT code FROM category WHERE theme = :theme)")
    if township:
        where.append("c.township_code = :township")
    step = ", width_bucket(c.received_at, CAST(:bounds AS timestamptz[])) - 1" if bounds else ", 0"
    rows = conn.execute(sa.text(
        f"SELECT c.h3{step} AS step, count(*) FROM complaint c WHERE {' AND '.join(where)} GROUP BY 1, 2"),
        {"start": start, "end": end, "category": category, "theme": theme, "bounds": bounds,
         "precisions": list(CELL_PRECISIONS), "township": township}).all()
    return pd.DataFrame(rows, columns=["h3", "step", "n"]).astype({"h3": np.int64, "step": np.int64, "n": np.int64})


def _matrix(found: pd.DataFrame, resolution: int, base: int, cells: np.ndarray, steps: int) -> np.ndarray:
    """Counts as ``cells x steps``; every study cell is there, with zeros where nothing came."""
    if resolution != base and len(found):
        found = found.assign(h3=cell_to_parent(found["h3"].to_numpy(), resolution))
    table = found.groupby(["h3", "step"])["n"].sum().unstack(fill_value=0)
    return table.reindex(index=cells, columns=range(steps), fill_value=0).to_numpy(dtype=np.float64)


def _counts(conn, start, end, category, theme, resolution: int, base: int, cells: np.ndarray) -> np.ndarray:
    found = count_rows(conn, start, end, category, theme)
    return _matrix(found, resolution, base, cells, 1)[:, 0]


def step_bounds(start: datetime, end: datetime, step: str) -> list[datetime]:
    """The edges of the time steps from ``start`` to ``end``: ``week`` or ``half-month``.

    Half-months are the 1st-15th and the 16th-end of each month (as the hotline re-measures);
    the first and last steps may be partial.
    """
    if step == "week":
        edges = list(pd.date_range(start, end, freq="7D"))
    elif step == "half-month":
        month_starts = pd.date_range(pd.Timestamp(start).normalize().replace(day=1), end, freq="MS")
        edges = sorted({t for m in month_starts for t in (m, m + pd.Timedelta(days=15))})
        edges = [pd.Timestamp(start)] + [t for t in edges if pd.Timestamp(start) < t < pd.Timestamp(end)]
    else:
        raise ValidationError(f"step {step!r} is unknown; use week or half-month")
    if edges[-1] < pd.Timestamp(end):
        edges.append(pd.Timestamp(end))
    return [t.to_pydatetime() for t in edges]


def latest_run(bind: Bind) -> int | None:
    """The id of the newest Gi* run, or None."""
    with transaction(bind) as conn:
        return conn.execute(sa.text("SELECT max(id) FROM hotspot_run WHERE kind = 'gi'")).scalar()


def run_emerging(bind: Bind, start: datetime, end: datetime, *, step: str | None = None,
                 resolution: int | None = None, k: int | None = None, alpha: float | None = None,
                 category: str | None = None, theme: str | None = None,
                 boundaries: BoundaryIndex | None = None, trend_fdr: bool = True,
                 min_rise: float | None = FROM_RULES) -> HotspotResult:
    """Emerging hot spots: Gi* at each time step, the Mann-Kendall trend, ArcGIS's patterns.

    Parameters are those of :func:`run_hotspots`, plus ``step`` (``week`` or ``half-month``)
    and ``trend_fdr`` and ``min_rise`` (None: off), each from the detect rules when omitted
    (see :func:`geo.detect.hotspots.emerging_hot_spots`).
    The stored cells carry the final step's z, p and bin, the trend of the z-scores, and the
    pattern (``"new hot spot"``, ..., ``"no pattern"``).
    """
    rules = detect_rules()
    step = step or rules.emerging.step
    resolution = rules.hotspots.resolution if resolution is None else resolution
    k = rules.hotspots.k if k is None else k
    alpha = rules.hotspots.alpha if alpha is None else alpha
    min_rise = rules.emerging.min_rise if min_rise is FROM_RULES else min_rise
    check_period(start, end, category, theme)
    bounds = step_bounds(start, end, step)
    steps = len(bounds) - 1
    if steps < 3:
        raise ValidationError(f"{steps} {step} steps between {start:%Y-%m-%d} and {end:%Y-%m-%d}; a trend "
                              "needs at least 3")
    with transaction(bind) as conn:
        boundaries, cells = _study_cells(conn, resolution, category, theme, boundaries)
        counts = _matrix(count_rows(conn, start, end, category, theme, bounds), resolution,
                         boundaries.resolution, cells, steps)
        found = emerging_hot_spots(counts, neighbours(cells, k), alpha, trend_fdr=trend_fdr, min_rise=min_rise)
        final_p = found.p[:, -1]
        frame = pd.DataFrame({
            "h3": cells, "count": counts.sum(axis=1).astype(np.int64), "z": found.z[:, -1], "p": final_p,
            "bin": found.bins[:, -1], "significant": found.significant[:, -1] != 0, "pattern": found.patterns,
            "trend_z": found.trend_z, "trend_p": found.trend_p,
        })
        run = {"kind": "emerging", "start": start, "end": end, "res": resolution, "k": k, "alpha": alpha,
               "category": category, "theme": theme, "steps": steps, "step": step}
        run_id = _store(conn, run, frame, {"trend": "mann-kendall", "trend_fdr": trend_fdr, "min_rise": min_rise})
    return HotspotResult(run_id, frame)
