"""Status updates of one complaint (a department's dispatch, response or resolution, the
callback centre's satisfaction): checked with the file rows' own tables and parsers, then
turned into the status fields that a file row carries (pure; stored by :mod:`updates_db`).

An update is one event; the complaint's fields are derived from its events the way a file
row's are from its columns: the dispatch list gains a hand-off (``dispatched_at`` is the first,
``returned_count`` counts the "not ours"), a response sets ``responded_at``, a resolution
``resolved`` and ``resolved_at``, a callback ``satisfaction``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from geo.errors import ValidationError
from geo.ingest.timeparse import parse_moments
from geo.ingest.validate import ACTIONS, FUTURE_SLACK, SATISFACTION

OUTCOMES = ("responded", "resolved", "unresolved")
CALLBACKS = tuple(sorted(set(SATISFACTION.values())))
KINDS = ACTIONS + OUTCOMES + CALLBACKS
"""Every kind of update (``external_status_code`` in the API)."""
SENDERS = {"department": ACTIONS + OUTCOMES, "callback": (*CALLBACKS, "resolved", "unresolved")}
"""Which kinds each sender may post: departments hand off and resolve, the callback centre
asks the caller (and may find a complaint resolved or not)."""
STATUS_FIELDS = ("dispatches", "dispatched_at", "returned_count", "responded_at", "resolved", "resolved_at",
                 "satisfaction")


@dataclass(frozen=True)
class Update:
    """A checked update."""

    source_id: str
    external_id: str
    kind: str
    at: pd.Timestamp
    unit: str | None
    description: str | None


def check_updates(updates: list[dict], *, sender: str, now: datetime, timezone: str) -> list[Update | ValidationError]:
    """Check updates' fields; each error names the field and the problem.

    Parameters
    ----------
    updates : list of dict
        Each as sent, with the keys ``source_id``, ``external_id``, ``kind``, ``at``, ``unit`` and
        ``description`` (str or None): the complaint's id, the sender's id of the update, its
        kind (:data:`KINDS`), when it happened, the unit handed to (hand-offs only), a note.
    sender : str
        ``department`` or ``callback`` (:data:`SENDERS`), the sender of them all.
    now : datetime
        The clock, for "in the future".
    timezone : str
        The zone of a time written without one.

    Returns
    -------
    list
        For each update in order, the checked :class:`Update` or the ``ValidationError`` with
        ``field: problem`` as its message.
    """
    # The times in one go: parsing is the costly check, and costs as much for one as for many.
    moments = parse_moments(pd.Series([u.get("at") for u in updates], dtype="string"), timezone)
    out: list[Update | ValidationError] = []
    for fields, moment in zip(updates, moments, strict=True):
        try:
            out.append(_checked(**fields, moment=moment, sender=sender, now=now))
        except ValidationError as exc:
            out.append(exc)
    return out


def _checked(*, source_id: str | None, external_id: str | None, kind: str | None, at: str | None,
             unit: str | None, description: str | None, moment: pd.Timestamp, sender: str,
             now: datetime) -> Update:
    for name, value in (("service_request_id", source_id), ("update_id", external_id)):
        if value is None or not value.strip():
            raise ValidationError(f"{name}: missing; every update names the request and its own id")
        if "\x00" in value or len(value) > 200:
            raise ValidationError(f"{name}: not an id (a NUL byte, or over 200 characters)")
    allowed = SENDERS.get(sender, ())
    kind = (kind or "").strip().lower()
    if kind not in KINDS:
        raise ValidationError(f"external_status_code: {kind!r} is not one of {', '.join(KINDS)}")
    if kind not in allowed:
        raise ValidationError(f"external_status_code: a {sender}'s key may send {', '.join(allowed)}, not {kind}")
    if pd.isna(moment):
        raise ValidationError(f"updated_datetime: {at!r} is not a date and time (ISO 8601, e.g. "
                              "2026-11-01T08:30:00+08:00)")
    if moment > pd.Timestamp(now) + FUTURE_SLACK:
        raise ValidationError(f"updated_datetime: {at} is in the future")
    unit = (unit or "").strip() or None
    if kind in ACTIONS and unit is None:
        raise ValidationError(f"unit: a {kind} update names the unit (township or department code) it went to")
    if unit is not None and ("\x00" in unit or len(unit) > 64):
        raise ValidationError("unit: not a code (a NUL byte, or over 64 characters)")
    if description is not None and "\x00" in description:
        description = description.replace("\x00", "\ufffd")
    return Update(source_id.strip(), external_id.strip(), kind, moment, unit, description or None)


def applied(update: Update, current: dict, received_at: datetime, timezone: str) -> dict:
    """The complaint's status fields after ``update``, from ``current`` (:data:`STATUS_FIELDS`;
    ``dispatches`` a list of hand-offs in both).

    Raises
    ------
    ValidationError
        For an update before the complaint was received.
    """
    if update.at < pd.Timestamp(received_at):
        when, received = update.at.tz_convert(timezone), pd.Timestamp(received_at).tz_convert(timezone)
        # To the second: within one minute the two would read the same.
        raise ValidationError(f"updated_datetime: {when:%Y-%m-%d %H:%M:%S} is before the complaint was received "
                              f"({received:%Y-%m-%d %H:%M:%S})")
    out = {name: current.get(name) for name in STATUS_FIELDS}
    moment = update.at.to_pydatetime()
    if update.kind in ACTIONS:
        hand_offs = list(current.get("dispatches") or [])
        hand_offs.append({"at": update.at.tz_convert(timezone).isoformat(), "unit": update.unit,
                          "action": update.kind})
        out["dispatches"] = hand_offs
        first = current.get("dispatched_at")
        out["dispatched_at"] = moment if first is None else min(first, moment)
        out["returned_count"] = int(current.get("returned_count") or 0) + (update.kind == "returned")
    if update.kind == "responded":
        out["responded_at"] = moment
    elif update.kind in ("resolved", "unresolved"):
        out["resolved"] = update.kind == "resolved"
        out["resolved_at"] = moment if update.kind == "resolved" else None
    elif update.kind in CALLBACKS:
        out["satisfaction"] = update.kind
    return out
