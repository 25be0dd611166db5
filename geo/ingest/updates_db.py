"""Status updates in the database: one update, one transaction, the tallies moved with it.

The same update sent twice (same sender, same ``update_id``) is stored once and changes
nothing the second time. Two updates of one complaint at once are taken one after the other
(the complaint's row is locked), so neither is lost and the tallies equal a recount.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from geo.errors import ValidationError
from geo.ingest.load_db import create_change_notes, update_status
from geo.ingest.updates import STATUS_FIELDS, Update, applied
from geo.store.engine import Bind, transaction
from geo.store.tally import move_complaints


class UnknownRequestError(ValidationError):
    """The update names a request that is not stored."""


@dataclass(frozen=True)
class Recorded:
    """An update as stored."""

    id: int
    complaint_id: int
    new: bool
    """False when the same update had been received before (nothing changed)."""


def record_update(bind: Bind, update: Update, *, key_id: int, status: str, timezone: str) -> Recorded:
    """Store an update and apply it to its complaint and the tallies.

    Parameters
    ----------
    bind : Engine or Connection
    update : Update
        Checked (:func:`geo.ingest.updates.check_update`).
    key_id : int
        The sender's API key.
    status : str
        The Open311 status the sender gave (``open`` or ``closed``), kept with the update.
    timezone : str
        The city's zone, for the hand-off's time as written in the dispatch list.

    Raises
    ------
    UnknownRequestError
        When no complaint has the update's request id.
    ValidationError
        When the update is before the complaint was received.
    """
    with transaction(bind) as conn:
        row = conn.execute(sa.text(
            f"SELECT id, received_at, {', '.join(STATUS_FIELDS)} FROM complaint WHERE source_id = :s FOR UPDATE"),
            {"s": update.source_id}).mappings().first()
        if row is None:
            raise UnknownRequestError(f"service_request_id: no request {update.source_id!r} is stored")
        seen = conn.execute(sa.text(
            "SELECT id FROM request_update WHERE key_id = :k AND external_id = :e"),
            {"k": key_id, "e": update.external_id}).scalar()
        if seen is not None:
            return Recorded(int(seen), int(row["id"]), False)
        values = applied(update, dict(row), row["received_at"], timezone)
        create_change_notes(conn)
        update_status(conn, int(row["id"]), values)
        move_complaints(conn, "complaint_loaded", "complaint_before")
        new_id = conn.execute(sa.text(
            "INSERT INTO request_update (key_id, external_id, complaint_id, kind, unit, status, description, "
            "updated_at) VALUES (:k, :e, :c, :kind, :unit, :status, :d, :at) RETURNING id"),
            {"k": key_id, "e": update.external_id, "c": int(row["id"]), "kind": update.kind, "unit": update.unit,
             "status": status, "d": update.description, "at": update.at.to_pydatetime()}).scalar_one()
    return Recorded(int(new_id), int(row["id"]), True)


def updates_since(bind: Bind, start: pd.Timestamp, end: pd.Timestamp, *, limit: int = 1000) -> pd.DataFrame:
    """The updates received through the API between two moments, oldest first."""
    with transaction(bind) as conn:
        rows = conn.execute(sa.text(
            "SELECT u.id, c.source_id, u.kind, u.unit, u.status, u.description, u.updated_at "
            "FROM request_update u JOIN complaint c ON c.id = u.complaint_id "
            "WHERE u.updated_at >= :a AND u.updated_at < :b ORDER BY u.updated_at, u.id LIMIT :n"),
            {"a": start, "b": end, "n": limit}).all()
    return pd.DataFrame(rows, columns=["id", "source_id", "kind", "unit", "status", "description", "updated_at"])
