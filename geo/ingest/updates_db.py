"""Status updates in the database: a batch of one sender's updates, one transaction, the
tallies moved with it.

The same update sent twice (same sender, same ``update_id``) is stored once and changes
nothing the second time. Updates of one complaint in one batch apply in their order; two
batches meeting one complaint are taken one after the other (its row is locked), so no update
is lost and the tallies equal a recount.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from geo.errors import ValidationError
from geo.ingest.load_db import status_update_sql
from geo.ingest.updates import STATUS_FIELDS, Update, applied
from geo.store.engine import Bind, statement, transaction
from geo.store.tally import move_sql, tally_params


class UnknownRequestError(ValidationError):
    """The update names a request that is not stored."""


@dataclass(frozen=True)
class Recorded:
    """An update as stored."""

    id: int
    complaint_id: int
    new: bool
    """False when the same update had been received before (nothing changed)."""


def record_updates(bind: Bind, updates: list[tuple[Update, str]], *, key_id: int,
                   timezone: str) -> list[Recorded | ValidationError]:
    """Store one sender's updates and apply them, in order, to their complaints and the tallies.

    Parameters
    ----------
    bind : Engine or Connection
    updates : list of (Update, str)
        Each checked (:func:`geo.ingest.updates.check_updates`), with the Open311 status the
        sender gave (``open`` or ``closed``), kept with it. Their ``external_id`` are distinct.
    key_id : int
        The sender's API key.
    timezone : str
        The city's zone, for the hand-off's time as written in the dispatch list.

    Returns
    -------
    list
        For each update in order, its :class:`Recorded`, or the error that refused it:
        ``UnknownRequestError`` when no complaint has its request id, ``ValidationError`` when
        it is before the complaint was received. A refused update changes nothing.
    """
    if len({u.external_id for u, _status in updates}) != len(updates):
        raise ValueError("one sender's updates in one call have distinct ids")
    answers: list[Recorded | ValidationError | None] = [None] * len(updates)
    with transaction(bind) as conn:
        # Locked in the order of their ids, so that two batches meeting the same complaints
        # wait for each other instead of deadlocking; the updates received before come along
        # (an update names a stored complaint, so with none stored there is nothing to say).
        stored = {r["source_id"]: dict(r) for r in conn.execute(statement(_LOCKED), {
            "s": sorted({u.source_id for u, _status in updates}), "k": key_id,
            "e": [u.external_id for u, _status in updates]}).mappings()}
        seen = next(iter(stored.values()))["seen"] if stored else {}
        changed: dict[int, dict] = {}
        new: list[int] = []
        for i, (update, _status) in enumerate(updates):
            row = stored.get(update.source_id)
            if row is None:
                answers[i] = UnknownRequestError(f"service_request_id: no request {update.source_id!r} is stored")
            elif update.external_id in seen:
                answers[i] = Recorded(int(seen[update.external_id]), int(row["id"]), False)
            else:
                try:
                    values = applied(update, changed.get(row["id"], row), row["received_at"], timezone)
                except ValidationError as exc:
                    answers[i] = exc
                    continue
                changed[row["id"]] = values
                new.append(i)
        if not new:
            return answers
        # The complaints, the tallies and the updates' own rows in one statement (it was seven).
        status, params = status_update_sql(changed)
        chosen = [updates[i] for i in new]
        ids = dict(conn.execute(statement(f"WITH {status}, {move_sql('status_after', 'status_before')}, {_NOTED}"), {
            **params, **tally_params(), "k": key_id, "e": [u.external_id for u, _s in chosen],
            "c": [int(stored[u.source_id]["id"]) for u, _s in chosen], "kind": [u.kind for u, _s in chosen],
            "unit": [u.unit for u, _s in chosen], "status": [s for _u, s in chosen],
            "d": [u.description for u, _s in chosen], "at": [u.at.to_pydatetime() for u, _s in chosen]}).all())
    for i in new:
        update = updates[i][0]
        answers[i] = Recorded(int(ids[update.external_id]), int(stored[update.source_id]["id"]), True)
    return answers


_LOCKED = (f"SELECT id, source_id, received_at, {', '.join(STATUS_FIELDS)}, "
           "(SELECT coalesce(jsonb_object_agg(external_id, id), '{}') FROM request_update "
           " WHERE key_id = :k AND external_id = ANY(:e)) AS seen "
           "FROM complaint WHERE source_id = ANY(:s) ORDER BY id FOR UPDATE")
_NOTED = ("noted AS (INSERT INTO request_update (key_id, external_id, complaint_id, kind, unit, status, description, "
          "updated_at) SELECT :k, * FROM unnest(CAST(:e AS text[]), CAST(:c AS bigint[]), CAST(:kind AS text[]), "
          "CAST(:unit AS text[]), CAST(:status AS text[]), CAST(:d AS text[]), CAST(:at AS timestamptz[])) "
          "RETURNING external_id, id) SELECT external_id, id FROM noted")


def updates_since(bind: Bind, start: pd.Timestamp, end: pd.Timestamp, *, limit: int = 1000) -> pd.DataFrame:
    """The updates received through the API between two moments, oldest first."""
    with transaction(bind) as conn:
        rows = conn.execute(sa.text(
            "SELECT u.id, c.source_id, u.kind, u.unit, u.status, u.description, u.updated_at "
            "FROM request_update u JOIN complaint c ON c.id = u.complaint_id "
            "WHERE u.updated_at >= :a AND u.updated_at < :b ORDER BY u.updated_at, u.id LIMIT :n"),
            {"a": start, "b": end, "n": limit}).all()
    return pd.DataFrame(rows, columns=["id", "source_id", "kind", "unit", "status", "description", "updated_at"])
