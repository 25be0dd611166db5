"""Read every boundary set from PostGIS into a :class:`~geo.locate.boundaries.BoundaryIndex`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import shapely
import sqlalchemy as sa

from geo.locate.boundaries import FAR_FUTURE, LEVELS, BoundaryIndex, Version
from geo.locate.cells import DEFAULT_RESOLUTION
from geo.store.engine import Bind, transaction


def boundary_index(bind: Bind, resolution: int = DEFAULT_RESOLUTION, cache_dir: Path | None = None) -> BoundaryIndex:
    """Read every boundary set (exact polygons, not the display outlines)."""
    sql = sa.text("SELECT s.id, s.level, s.valid_from, s.valid_to, j.code, j.parent_code, j.name, "
                  "ST_AsBinary(j.geom) AS wkb FROM boundary_set s JOIN jurisdiction j ON j.set_id = s.id "
                  "ORDER BY s.level, s.valid_from, j.code")
    with transaction(bind) as conn:
        rows = pd.DataFrame(conn.execute(sql).all(),
                            columns=["id", "level", "valid_from", "valid_to", "code", "parent", "name", "wkb"])
    versions: dict[str, list[Version]] = {level: [] for level in LEVELS}
    for (set_id, level), group in rows.groupby(["id", "level"], sort=False):
        versions[level].append(Version(
            int(set_id), level, pd.Timestamp(group["valid_from"].iloc[0]).tz_convert("UTC"),
            FAR_FUTURE if pd.isna(group["valid_to"].iloc[0])
            else pd.Timestamp(group["valid_to"].iloc[0]).tz_convert("UTC"),
            group["code"].to_numpy(dtype=object).astype(str),
            shapely.from_wkb(group["wkb"].map(bytes).to_numpy()),
            dict(zip(group["code"], group["parent"], strict=True)),
            names=dict(zip(group["code"], group["name"], strict=True)),
        ))
    for level in LEVELS:
        versions[level].sort(key=lambda v: v.valid_from)
    return BoundaryIndex(versions, resolution, cache_dir)


def boundary_stamp(bind: Bind) -> tuple:
    """What changes whenever a boundary set is added, replaced or closed: a long-running process
    (the API, the worker) reads its boundaries again when it differs."""
    with transaction(bind) as conn:
        return tuple(conn.execute(sa.text(
            "SELECT count(*), max(id), max(loaded_at), max(valid_to) FROM boundary_set")).one())
