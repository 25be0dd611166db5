"""Load checked batches into PostGIS: new complaints by COPY, known ones by one upsert a batch.

The whole file is one transaction: a crash, a kill or a malformed row half-way leaves the
database as it was. A batch's rows are encoded once, in Python and ahead of the database
(:func:`encode`), in PostgreSQL's binary COPY format for the complaint table's own columns
(points and footprints as EWKB, which PostGIS receives as is); they are sent in H3 order so
that the complaint table stays spatially clustered.

- Rows whose id is not stored go straight into ``complaint`` with COPY (:func:`insert_new`):
  no staging table, no second pass.
- Rows whose id is stored go through ``complaint_stage`` and an upsert (:func:`upsert`) that
  changes only their status fields, and only when they differ.

Either way, what was inserted or updated is noted in ``complaint_loaded`` (the columns the
tallies count), so that the tallies add the new complaints instead of recounting days; and
the id of every row accepted, passed by as unchanged included, in ``complaint_accepted``, so
that the rejections they answer are settled once, at the end (:data:`SETTLE_REJECTED`).

A load takes row locks only: readers keep reading while it runs. (Dropping the secondary
indexes for a large load and building them again was faster, but DROP INDEX holds an
exclusive lock on ``complaint`` until commit, and pages waited 20 s for it.)
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import psycopg.errors
import pyarrow as pa
import pyarrow.compute as pc
import shapely
import sqlalchemy as sa

from geo.errors import DatabaseError
from geo.ingest.updates import STATUS_FIELDS
from geo.store.bulk import binary_payload, copy_binary
from geo.store.tally import COUNTED_COLUMNS
from geo.strings import TEXT

if TYPE_CHECKING:
    from geo.ingest.validate import Rows

# The complaint columns a load writes, with their types; the staging table has the same.
COLUMNS = {
    "source_id": "text", "received_at": "timestamptz", "channel": "text",
    "category": "text", "category_raw": "text", "text": "text", "address": "text",
    "lon": "double precision", "lat": "double precision", "lon_orig": "double precision",
    "lat_orig": "double precision", "crs_orig": "text", "footprint": "geometry", "precision": "text",
    "accuracy_m": "real",
    "h3": "bigint", "township_code": "text", "district_code": "text", "on_boundary": "boolean",
    "boundary_set_id": "integer", "phone_hash": "text", "phone_masked": "text", "dispatches": "jsonb",
    "dispatched_at": "timestamptz", "returned_count": "integer", "responded_at": "timestamptz",
    "resolved": "boolean", "resolved_at": "timestamptz", "satisfaction": "text", "row_hash": "bigint",
    "geom": "geometry", "run_id": "integer",
}
# The columns the tallies count (geo.store.tally), noted for every complaint a load inserts or
# updates, with whether it was inserted.
LOADED_COLUMNS = {"inserted": "boolean", **{name: COLUMNS[name] for name in COUNTED_COLUMNS}}
# What a later export of the same complaint may change (what a status update changes).
STATUS_COLUMNS = STATUS_FIELDS
# What a later load may change besides: its category, as the hotline re-files a complaint or a
# mapping's finished value map reads it at last.
RELOADED_COLUMNS = (*STATUS_COLUMNS, "category")
# The Arrow type whose binary form each column type receives (jsonb and geometry are built apart).
_ARROW = {"integer": pa.int32(), "bigint": pa.int64(), "double precision": pa.float64(), "real": pa.float32(),
          "boolean": pa.bool_(), "timestamptz": pa.timestamp("us", tz="UTC"), "text": TEXT,
          "jsonb": TEXT, "geometry": pa.binary()}
_SRID = 4326
_JSONB_VERSION, _NO_BYTES = pa.scalar(b"\x01", pa.large_binary()), pa.scalar(b"", pa.large_binary())


@dataclass
class Encoded:
    """A batch's accepted rows as COPY sends them (from :func:`encode`), in binary format."""

    rows: bytes
    """The rows' :data:`COLUMNS`, in H3 order."""
    loaded: bytes
    """The same rows' :data:`LOADED_COLUMNS`, as new complaints (for :func:`insert_new`; empty
    for rows encoded for the upsert, which notes what it did itself)."""
    count: int

    @classmethod
    def empty(cls) -> Encoded:
        return cls(b"", b"", 0)


STAGE_MADE = "to_regclass('pg_temp.complaint_stage') IS NOT NULL"
"""SQL true when this session's staging tables are made (:func:`create_stage`'s ``made``), to
ask along with a statement the load runs anyway."""


def create_stage(conn, *, made: bool | None = None, fresh: bool = False) -> None:
    """Make ready, empty, the session's staging table, ``complaint_accepted`` and the change
    notes: ``complaint_loaded`` (each complaint inserted or updated, as it is now) and
    ``complaint_before`` (each one updated, as it was), which the tallies move by.

    The tables outlive the transaction, and whoever fills them empties them before it commits
    (:func:`stage_emptied`, :func:`empty_stage`): a transaction that begins with a load finds
    them empty.

    Parameters
    ----------
    conn : Connection
    made : bool, optional
        What :data:`STAGE_MADE` said in this transaction; asked when omitted.
    fresh : bool
        True when the transaction began with this load: the tables are empty then, and are
        not emptied again.
    """
    if made is None:
        made = _has_temp(conn, list(_stage_tables())[-1])
    if not made:
        _make(conn)
    elif not fresh:
        # Empty already, unless an earlier load of the same transaction left its rows: they
        # would be counted again.
        empty_stage(conn)


def stage_emptied(conn, rows: int) -> str:
    """The ``WITH`` items (each after a comma) that empty the session's staging tables, for
    the statement that closes a load of ``rows`` rows; ``""`` when they are to be truncated
    after that statement instead (:func:`empty_stage` with ``truncate=True``).

    A deleted row leaves its line pointer behind until the table is truncated (nothing
    vacuums a temporary table), so after :data:`TRUNCATE_AFTER` rows, or a load of as many,
    the tables are truncated once."""
    staged = conn.info.get(_STAGED, 0) + rows
    if staged > TRUNCATE_AFTER:
        conn.info[_STAGED] = 0
        return ""
    conn.info[_STAGED] = staged
    return f", {_deletes()}"


def empty_stage(conn, *, truncate: bool = False) -> None:
    """Empty the session's staging tables (made by :func:`create_stage`) before the transaction
    that filled them commits."""
    if truncate:
        conn.exec_driver_sql(f"TRUNCATE {', '.join(_stage_tables())}")
    else:
        conn.exec_driver_sql(f"WITH {_deletes()} SELECT 1")


TRUNCATE_AFTER = 20_000
"""Rows through a session's staging tables after which they are truncated, not deleted from.

Deleting a request's few rows costs a tenth of a millisecond, a truncation 2–3 ms: which is
why the tables are not ``ON COMMIT DELETE ROWS`` (PostgreSQL truncates all of those at the
commit of any transaction that touched a temporary table). Deleting from tables that took
20,000 rows since their last truncation costs about 0.3 ms."""
_STAGED = "whistle.staged_rows"


@functools.cache
def _stage_tables() -> dict[str, str]:
    # The last one made says that the others are there.
    return {"complaint_loaded": ", ".join(f"{name} {kind}" for name, kind in LOADED_COLUMNS.items()),
            "complaint_before": ", ".join(f"{name} {COLUMNS[name]}" for name in COUNTED_COLUMNS),
            "complaint_accepted": "source_id text",
            "complaint_stage": ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())}


@functools.cache
def _deletes() -> str:
    return ", ".join(f"emptied_{name} AS (DELETE FROM {name})" for name in _stage_tables())


def _make(conn) -> None:
    # The session's temporary tables are made once: creating and dropping four tables cost a
    # request's load a fifth of its time.
    try:
        # Only possible before the session's first temporary table; the default 8 MB would
        # spill a large file's stage to disk.
        with conn.begin_nested():
            conn.exec_driver_sql("SET temp_buffers = '256MB'")
    except sa.exc.DBAPIError:
        pass
    for name, columns in _stage_tables().items():
        conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns})")
    conn.info[_STAGED] = 0


def _has_temp(conn, name: str) -> bool:
    return conn.execute(sa.text("SELECT to_regclass(:name) IS NOT NULL"), {"name": f"pg_temp.{name}"}).scalar()


CATEGORY_CODES = "(SELECT coalesce(array_agg(code), '{}') FROM category)"
"""The category codes as one SQL value, which a statement can return beside its own answer."""


def known_categories(conn) -> frozenset[str]:
    """The category codes the database holds (the loader checks each batch against them)."""
    return frozenset(conn.execute(sa.text(f"SELECT {CATEGORY_CODES}")).scalar_one())


def encode(accepted: Rows, run_id: int, categories: frozenset[str], *, new: bool = True) -> Encoded:
    """Encode accepted rows for :func:`insert_new` or :func:`stage` (pure: a thread does it ahead).

    Parameters
    ----------
    accepted : Rows
        Checked rows' columns (:attr:`geo.ingest.validate.Checked.rows`).
    run_id : int
        The load's ``ingest_run``.
    categories : frozenset of str
        The database's category codes (:func:`known_categories`).
    new : bool
        Whether the rows are for :func:`insert_new`, which also needs them as ``loaded``.

    Raises
    ------
    DatabaseError
        If a row's category is not in the database's category table (the complaint table has
        no foreign keys, on purpose: row-by-row checks tripled bulk loads).
    """
    if not accepted.size:
        return Encoded.empty()
    unknown = set(pd.unique(accepted["category"])) - categories
    if unknown:
        raise DatabaseError(f"categories {sorted(unknown)[:5]} are not in the category table; run "
                            "`python -m geo db upgrade` to sync it")
    lon, lat = np.asarray(accepted["lon"], dtype="float64"), np.asarray(accepted["lat"], dtype="float64")
    columns = {name: _arrow(accepted[name], kind) for name, kind in COLUMNS.items() if name in accepted}
    columns["geom"] = _point_ewkb(lon, lat)
    footprints = np.asarray(accepted["footprint"], dtype=object)
    given = pd.notna(footprints)
    columns["footprint"] = _ewkb(shapely.from_wkt(np.where(given, footprints, None)), given)
    # jsonb's binary form is a version byte, then the text.
    columns["dispatches"] = pc.binary_join_element_wise(
        _JSONB_VERSION, columns["dispatches"].cast(pa.large_binary()), _NO_BYTES)
    columns["run_id"] = pa.array(np.full(accepted.size, run_id, dtype=np.int32))
    table = pa.table({name: columns[name] for name in COLUMNS})
    table = table.take(pc.sort_indices(table, options=pc.SortOptions([("h3", "ascending", "at_end")])))
    if not new:
        return Encoded(binary_payload(table), b"", table.num_rows)
    loaded = table.select(list(COUNTED_COLUMNS))
    loaded = loaded.add_column(0, "inserted", pa.array(np.ones(table.num_rows, dtype=bool)))
    return Encoded(binary_payload(table), binary_payload(loaded), table.num_rows)


def _arrow(values, kind: str) -> pa.Array:
    target = _ARROW[kind]
    if hasattr(values, "__arrow_array__"):
        # pandas' own arrays (text, integers with missing values, moments): Arrow's already, or
        # nearly. Moments are in nanoseconds as read; the column holds microseconds.
        values = pa.array(values)
        return values if values.type == target else values.cast(target, safe=False)
    return pa.array(values, type=target, from_pandas=True)


# A point's EWKB: little-endian, type Point with the SRID flag, the SRID, x, y (25 bytes).
_POINT_EWKB = np.dtype([("order", "u1"), ("kind", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")])


def _point_ewkb(lon: np.ndarray, lat: np.ndarray) -> pa.Array:
    # Written with NumPy: a GEOS point per complaint cost more than the rest of the encoding.
    points = np.empty(len(lon), dtype=_POINT_EWKB)
    points["order"], points["kind"], points["srid"] = 1, 0x20000001, _SRID
    points["x"], points["y"] = lon, lat
    given = np.isfinite(lon) & np.isfinite(lat)
    validity = pa.py_buffer(np.packbits(given, bitorder="little"))
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(_POINT_EWKB.itemsize), len(lon),
                                                 [validity, pa.py_buffer(points.tobytes())])
    return fixed.cast(pa.binary())


def _ewkb(shapes: np.ndarray, given: np.ndarray) -> pa.Array:
    # EWKB, which PostGIS receives without parsing text; null where there is no shape.
    out = np.full(len(shapes), None, dtype=object)
    if given.any():
        out[given] = shapely.to_wkb(shapely.set_srid(shapes[given], _SRID), include_srid=True)
    return pa.array(out, type=pa.binary())


def insert_new(conn, encoded: Encoded, *, guarded: bool = True) -> bool:
    """COPY rows whose ids are not stored straight into ``complaint``; note them as inserted.

    Parameters
    ----------
    conn : Connection
    encoded : Encoded
    guarded : bool
        COPY inside a savepoint, so that a clash leaves the transaction usable. Unguarded, the
        clash is raised (:data:`CLASHES`) and the transaction is lost: for a caller that can
        run it again from its start, and saves the savepoint's two round trips.

    Returns
    -------
    bool
        False, with nothing written, when another load stored one of the ids meanwhile (its
        COPY waited for that load and then met the unique index): the caller stages them.
    """
    if not encoded.count:
        return True
    if not guarded:
        copy_binary(conn, "complaint", list(COLUMNS), encoded.rows)
    else:
        try:
            with conn.begin_nested():
                copy_binary(conn, "complaint", list(COLUMNS), encoded.rows)
        except CLASHES:
            return False
    copy_binary(conn, "complaint_loaded", list(LOADED_COLUMNS), encoded.loaded)
    return True


CLASHES = (psycopg.errors.UniqueViolation, psycopg.errors.DeadlockDetected)
"""What a COPY of new rows meets when a concurrent load stored one of their ids first."""


def stage(conn, encoded: Encoded) -> None:
    """Append encoded rows to the staging table with COPY, for :func:`upsert`."""
    copy_binary(conn, "complaint_stage", list(COLUMNS), encoded.rows)


def upsert(conn, run_id: int, sha256: str) -> tuple[int, int]:
    """Move the staged rows into ``complaint`` and empty the stage; return (inserted, updated).

    A complaint already stored keeps what it was received as; only its status fields and its
    category (:data:`RELOADED_COLUMNS`) are updated, and only when they differ, so the same
    file twice changes nothing. Every row inserted or updated is noted in ``complaint_loaded``,
    and what an updated one counted as before in ``complaint_before`` (the tallies move its
    counts by the difference).
    """
    changed = " OR ".join(f"complaint.{c} IS DISTINCT FROM excluded.{c}" for c in RELOADED_COLUMNS)
    # The rows the upsert will change, as they are, locked: a concurrent update of the same
    # complaint waits here and then reads this one's result (READ COMMITTED re-reads a locked
    # row), so each subtracts what the other added.
    counted = COUNTED_COLUMNS
    differs = " OR ".join(f"c.{c} IS DISTINCT FROM s.{c}" for c in RELOADED_COLUMNS)
    conn.execute(sa.text(
        f"INSERT INTO complaint_before ({', '.join(counted)}) SELECT {', '.join('c.' + c for c in counted)} "
        f"FROM complaint c JOIN complaint_stage s USING (source_id) WHERE {differs} ORDER BY c.id FOR UPDATE OF c"))
    assignments = ", ".join(f"{c} = excluded.{c}" for c in RELOADED_COLUMNS)
    columns = ", ".join(COLUMNS)
    sql = f"""
        WITH up AS (
            INSERT INTO complaint ({columns})
            SELECT {columns} FROM complaint_stage ORDER BY h3 NULLS LAST
            ON CONFLICT (source_id) DO UPDATE SET {assignments}, updated_run_id = :run
            WHERE {changed}
            RETURNING (xmax = 0) AS inserted, {', '.join(COUNTED_COLUMNS)}),
        noted AS (INSERT INTO complaint_loaded SELECT * FROM up)
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up"""
    inserted, updated = conn.execute(sa.text(sql), {"run": run_id}).one()
    # The hash of the row a complaint was last read from, so that the next load of the same
    # row passes it by; a row whose status did not change is not counted as updated for it.
    conn.execute(sa.text(
        "UPDATE complaint c SET row_hash = s.row_hash FROM complaint_stage s "
        "WHERE c.source_id = s.source_id AND c.row_hash IS DISTINCT FROM s.row_hash"))
    conn.exec_driver_sql("TRUNCATE complaint_stage")
    return int(inserted), int(updated)


def status_update_sql(values: dict[int, dict]) -> tuple[str, dict]:
    """The ``WITH`` items that set stored complaints' status fields, and their parameters.

    ``values`` maps a complaint's id to its :data:`STATUS_COLUMNS` (``dispatches`` a list of
    hand-offs or None); the rows must be locked by the caller (``SELECT ... FOR UPDATE``). The
    items name ``status_before`` (each complaint as it was) and ``status_after`` (as it is),
    with the :data:`COUNTED_COLUMNS`, for :func:`geo.store.tally.move_sql` in the same
    statement: every item reads the statement's snapshot, so ``status_before`` sees the rows
    as they were before ``status_after`` set them. One statement whatever the number of
    complaints (an array a column, unnested together)."""
    if not values:
        raise ValueError("no complaint to update")
    ids = list(values)
    arrays = {c: [values[i].get(c) for i in ids] for c in STATUS_COLUMNS}
    arrays["dispatches"] = [None if d is None else json.dumps(d, ensure_ascii=False) for d in arrays["dispatches"]]
    return _STATUS_UPDATE, {**arrays, "ids": ids}


def _status_update() -> str:
    kinds = {c: "text" if c == "dispatches" else COLUMNS[c] for c in STATUS_COLUMNS}
    unnested = ", ".join(f"CAST(:{c} AS {kinds[c]}[])" for c in STATUS_COLUMNS)
    assignments = ", ".join(f"{c} = CAST(v.{c} AS jsonb)" if c == "dispatches" else f"{c} = v.{c}"
                            for c in STATUS_COLUMNS)
    return (f"status_values AS (SELECT * FROM unnest(CAST(:ids AS bigint[]), {unnested}) "
            f"AS v(id, {', '.join(STATUS_COLUMNS)})), "
            f"status_before AS MATERIALIZED (SELECT {', '.join(COUNTED_COLUMNS)} FROM complaint WHERE id = ANY(:ids)), "
            f"status_after AS (UPDATE complaint SET {assignments} FROM status_values v WHERE complaint.id = v.id "
            f"RETURNING {', '.join(f'complaint.{c}' for c in COUNTED_COLUMNS)})")


_STATUS_UPDATE = _status_update()


def accepted_ids(ids: np.ndarray) -> bytes:
    """Encode the ids of a batch's accepted rows for :func:`note_accepted` (pure)."""
    return binary_payload(pa.table({"source_id": pa.array(ids, type=pa.string())})) if len(ids) else b""


def note_accepted(conn, payload: bytes) -> None:
    """Note accepted ids (:func:`accepted_ids`), whatever became of their rows."""
    copy_binary(conn, "complaint_accepted", ["source_id"], payload)


SETTLE_REJECTED = ("UPDATE rejected_row r SET resolved_run_id = :run FROM complaint_accepted s "
                   "WHERE r.resolved_run_id IS NULL AND r.source_id = s.source_id AND r.sha256 <> :sha")
"""Settle the rejected rows that the load's accepted rows answer (after the last batch; binds
``run`` and ``sha``, the load's file).

A row rejected before and accepted now from another file (fixed and re-ingested) is settled,
whether it was inserted, updated or passed by as unchanged; a duplicate within the same file
stays open until it is ingested on its own. Run as a part of the statement that closes the
run (a round trip less for a request)."""


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
