"""Load checked batches into PostGIS: COPY into a staging table, then one upsert.

The whole file is one transaction: a crash, a kill or a malformed row half-way leaves the
database as it was. Points are sent as lon/lat and built in SQL (no WKB made in Python), and
rows are inserted in H3 order so that the complaint table stays spatially clustered.

A load takes row locks only: readers keep reading while it runs. (Dropping the secondary
indexes for a large load and building them again was faster, but DROP INDEX holds an
exclusive lock on ``complaint`` until commit, and pages waited 20 s for it.)
"""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from geo.errors import DatabaseError
from geo.store.bulk import copy_table

STAGE_COLUMNS = {
    "line": "integer", "source_id": "text", "received_at": "timestamptz", "channel": "text",
    "category": "text", "category_raw": "text", "text": "text", "address": "text",
    "lon": "double precision", "lat": "double precision", "lon_orig": "double precision",
    "lat_orig": "double precision", "crs_orig": "text", "footprint": "text", "precision": "text",
    "h3": "bigint", "township_code": "text", "district_code": "text", "on_boundary": "boolean",
    "boundary_set_id": "integer", "phone_hash": "text", "phone_masked": "text", "dispatches": "text",
    "dispatched_at": "timestamptz", "returned_count": "integer", "responded_at": "timestamptz",
    "resolved": "boolean", "resolved_at": "timestamptz", "satisfaction": "text", "row_hash": "bigint",
}
# What a later export of the same complaint may change.
STATUS_COLUMNS = ("dispatches", "dispatched_at", "returned_count", "responded_at", "resolved",
                  "resolved_at", "satisfaction")
_ARROW = {"integer": pa.int32(), "bigint": pa.int64(), "double precision": pa.float64(),
          "boolean": pa.bool_(), "timestamptz": pa.timestamp("us", tz="UTC"), "text": pa.string()}


def create_stage(conn) -> None:
    """Create the session's staging table (dropped at commit or rollback)."""
    try:
        # Only possible before the session's first temporary table; the default 8 MB would
        # spill a large file's stage to disk.
        with conn.begin_nested():
            conn.exec_driver_sql("SET temp_buffers = '256MB'")
    except sa.exc.DBAPIError:
        pass
    columns = ", ".join(f"{name} {kind}" for name, kind in STAGE_COLUMNS.items())
    conn.exec_driver_sql(f"CREATE TEMP TABLE complaint_stage ({columns}) ON COMMIT DROP")


def copy_to_stage(conn, accepted: pd.DataFrame) -> None:
    """Append accepted rows to the staging table with COPY."""
    if accepted.empty:
        return
    table = pa.table({name: pa.array(_values(accepted[name], kind), type=_ARROW[kind], from_pandas=True)
                      for name, kind in STAGE_COLUMNS.items()})
    copy_table(conn, "complaint_stage", table)


def _values(series: pd.Series, kind: str):
    if kind == "timestamptz":
        return pd.to_datetime(series, utc=True).array
    if kind in ("text", "boolean"):
        return series.astype(object).where(series.notna(), None).to_numpy()
    return series.to_numpy(dtype=object, na_value=None) if series.hasnans else series.to_numpy()


def upsert(conn, run_id: int, sha256: str) -> tuple[int, int]:
    """Move the staged rows into ``complaint``; return (inserted, updated).

    A complaint already stored keeps what it was received as; only its status fields are
    updated, and only when they differ, so the same file twice changes nothing.
    """
    _check_references(conn)
    columns = [c for c in STAGE_COLUMNS if c not in ("line", "footprint")]
    changed = " OR ".join(f"complaint.{c} IS DISTINCT FROM excluded.{c}" for c in STATUS_COLUMNS)
    assignments = ", ".join(f"{c} = excluded.{c}" for c in STATUS_COLUMNS)
    select = ", ".join(f"s.{c}" if c != "dispatches" else "s.dispatches::jsonb" for c in columns)
    sql = f"""
        WITH up AS (
            INSERT INTO complaint ({', '.join(columns)}, footprint, geom, run_id)
            SELECT {select}, ST_GeomFromText(s.footprint, 4326),
                   ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), :run
            FROM complaint_stage s ORDER BY s.h3 NULLS LAST, s.line
            ON CONFLICT (source_id) DO UPDATE SET {assignments}, updated_run_id = :run
            WHERE {changed}
            RETURNING (xmax = 0) AS inserted)
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up"""
    inserted, updated = conn.execute(sa.text(sql), {"run": run_id}).one()
    # The hash of the row a complaint was last read from, so that the next load of the same
    # row passes it by; a row whose status did not change is not counted as updated for it.
    conn.execute(sa.text(
        "UPDATE complaint c SET row_hash = s.row_hash FROM complaint_stage s "
        "WHERE c.source_id = s.source_id AND c.row_hash IS DISTINCT FROM s.row_hash"))
    # A row rejected before and accepted now from another file (fixed and re-ingested) is
    # settled; a duplicate within the same file stays open until it is ingested on its own.
    conn.execute(sa.text(
        "UPDATE rejected_row r SET resolved_run_id = :run FROM complaint_stage s "
        "WHERE r.resolved_run_id IS NULL AND r.source_id = s.source_id AND r.sha256 <> :sha"),
        {"run": run_id, "sha": sha256})
    return int(inserted), int(updated)


def _check_references(conn) -> None:
    unknown = conn.exec_driver_sql(
        "SELECT DISTINCT category FROM complaint_stage EXCEPT SELECT code FROM category").scalars().all()
    if unknown:
        raise DatabaseError(f"categories {sorted(unknown)[:5]} are not in the category table; run "
                            "`python -m geo db upgrade` to sync it")


def store_rejected(conn, run_id: int, source: str, sha256: str, rejected: pd.DataFrame,
                   raw: list[dict]) -> None:
    """Insert rejected rows; a row of a file already rejected once is not stored twice."""
    if rejected.empty:
        return
    # pandas reads a missing id as NaN in a text column: stored as NULL, not as the text 'NaN'.
    rows = [{"run": run_id, "source": source, "sha": sha256, "line": int(line),
             "sid": sid if isinstance(sid, str) else None,
             "code": code, "reason": reason, "raw": json.dumps(row, ensure_ascii=False)}
            for line, sid, code, reason, row in zip(rejected["line"], rejected["source_id"],
                                                    rejected["reason_code"], rejected["reason"], raw,
                                                    strict=True)]
    conn.execute(sa.text(
        "INSERT INTO rejected_row (run_id, source, sha256, line, source_id, reason_code, reason, raw) "
        "VALUES (:run, :source, :sha, :line, :sid, :code, :reason, CAST(:raw AS jsonb)) "
        "ON CONFLICT (sha256, line) DO NOTHING"), rows)
