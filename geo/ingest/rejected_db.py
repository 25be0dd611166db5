"""Rejected rows: list them, and export them to be fixed and ingested again."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from geo.errors import ValidationError
from geo.show.downloads import rejected_table, write_csv
from geo.store.engine import Bind, transaction


def rejected_rows(bind: Bind, *, run_id: int | None = None, reason: str | None = None,
                  include_resolved: bool = False, limit: int | None = None) -> pd.DataFrame:
    """Return rejected rows, newest first.

    Parameters
    ----------
    bind : Engine or Connection
        The database.
    run_id : int, optional
        Only the rows of this ingest run.
    reason : str, optional
        Only rows with this reason code (``missing_id``, ``bad_time``, ``outside``, ...).
    include_resolved : bool
        Also rows whose complaint was accepted later (fixed and ingested again).
    limit : int, optional
        At most this many rows.

    Returns
    -------
    pandas.DataFrame
        ``id, run_id, source, line, source_id, reason_code, reason, raw, rejected_at,
        resolved_run_id``.
    """
    if limit is not None and limit < 1:
        raise ValidationError(f"limit was {limit}; it must be at least 1")
    where = ["TRUE"]
    if run_id is not None:
        where.append("run_id = :run")
    if reason is not None:
        where.append("reason_code = :reason")
    if not include_resolved:
        where.append("resolved_run_id IS NULL")
    sql = (f"SELECT id, run_id, source, line, source_id, reason_code, reason, raw, rejected_at, resolved_run_id "
           f"FROM rejected_row WHERE {' AND '.join(where)} ORDER BY id DESC"
           + (" LIMIT :limit" if limit else ""))
    with transaction(bind) as conn:
        return pd.read_sql(sa.text(sql), conn, params={"run": run_id, "reason": reason, "limit": limit})


def export_rejected(rows: pd.DataFrame, path: Path | str) -> int:
    """Write rejected rows as a CSV in their own columns, ready to fix and ingest again.

    The file's columns are the raw rows' columns, then ``rejected_line`` and
    ``rejected_reason`` (which a re-ingest ignores); text a spreadsheet would run as a formula
    is quoted (:func:`geo.show.downloads.safe_csv`). Returns the number of rows written.
    """
    path = Path(path)
    if path.suffix.lower() != ".csv":
        raise ValidationError(f"export to a .csv file, not {path.name}")
    table = rejected_table(rows)
    write_csv(path, table)
    return len(table)
