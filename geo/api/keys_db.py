"""API keys in the database: add, list, revoke, and find the key a request carries."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from geo.act.organisations_db import department_organisations
from geo.api.keys import SHOWN, check_key_spec, key_hash, looks_like_key, new_key
from geo.errors import ValidationError
from geo.store.engine import Bind, one_statement, transaction
from geo.store.models import ApiKey

LAST_USED_EVERY_S = 60
"""A key's "last used" moment is written at most this often (to the minute is all anyone reads)."""


@dataclass(frozen=True)
class Caller:
    """The system a valid key belongs to."""

    id: int
    name: str
    kind: str
    channel: str | None
    organisation_id: int | None = None
    """The department a department's key answers for, if it names one."""


def add_key(bind: Bind, name: str, kind: str, channel: str | None = None, department: str | None = None) -> str:
    """Create a key and return it (the only time it is seen whole).

    ``department`` (a department's code, for a department's key) lets its system read the
    whistle calls addressed to that department and report on them.

    Raises
    ------
    ValidationError
        For a bad name, kind or channel (:func:`geo.api.keys.check_key_spec`), a name in use, or a
        department that is not one.
    """
    name, kind, channel = check_key_spec(name, kind, channel)
    if department is not None and kind != "department":
        raise ValidationError(f"only a department's key names a department; a {kind}'s key does not")
    key = new_key()
    with transaction(bind) as conn:
        taken = conn.execute(sa.select(ApiKey.id).where(ApiKey.name == name)).first()
        if taken is not None:
            raise ValidationError(f"a key named {name!r} exists; revoke it or choose another name")
        organisation = None
        if department is not None:
            organisation = department_organisations(conn, [department]).get(department)
            if organisation is None:
                raise ValidationError(f"{department!r} is not a department of the city (departments.csv)")
        conn.execute(sa.insert(ApiKey).values(name=name, kind=kind, channel=channel, prefix=key[:SHOWN],
                                              key_hash=key_hash(key), organisation_id=organisation))
    return key


def list_keys(bind: Bind) -> pd.DataFrame:
    """Every key: name, kind, channel, its first characters, created, last used, revoked."""
    with transaction(bind) as conn:
        rows = conn.execute(sa.select(ApiKey.name, ApiKey.kind, ApiKey.channel, ApiKey.prefix, ApiKey.created_at,
                                      ApiKey.last_used_at, ApiKey.revoked_at).order_by(ApiKey.name)).all()
    return pd.DataFrame(rows, columns=["name", "kind", "channel", "prefix", "created_at", "last_used_at",
                                       "revoked_at"])


def revoke_key(bind: Bind, name: str) -> None:
    """Revoke a key: from now on it is refused.

    Raises
    ------
    ValidationError
        When no key has that name, or it is revoked already.
    """
    with transaction(bind) as conn:
        done = conn.execute(sa.update(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
                            .values(revoked_at=sa.func.now()).returning(ApiKey.id)).first()
    if done is None:
        raise ValidationError(f"no key named {name!r} is in use (see `python -m geo api-keys list`)")


def caller_of(bind: Bind, key: str | None) -> Caller | None:
    """The system a key belongs to, or None for a missing, unknown or revoked key."""
    if not looks_like_key(key):
        return None
    with one_statement(bind) as conn:
        row = conn.execute(_CALLER, {"hash": key_hash(key)}).first()
    return None if row is None else Caller(row.id, row.name, row.kind, row.channel, row.organisation_id)


# One round trip; "last used" is written at most once a minute, so that the requests of one
# channel do not each rewrite (and wait in turn for) its key's row.
_CALLER = sa.text(f"""
    WITH k AS (SELECT id, name, kind, channel, organisation_id, last_used_at FROM api_key
               WHERE key_hash = :hash AND revoked_at IS NULL),
    used AS (UPDATE api_key a SET last_used_at = now() FROM k WHERE a.id = k.id
             AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '{LAST_USED_EVERY_S} seconds'))
    SELECT id, name, kind, channel, organisation_id FROM k""")
