"""The app's users in PostGIS: create, sign in (with a brake on guessing), list, change.

Passwords are stored as bcrypt hashes only. Every sign-in attempt is kept in ``login_event``;
after :data:`MAX_FAILURES` failures within :data:`LOCKOUT` a username is refused until the
window has passed, whatever the password. Attempts on one username are taken one at a time
(a transaction-scoped advisory lock), so that parallel guesses cannot all pass the count.
A signed-in user is looked up again on every page and in every action (:func:`live_user`):
one disabled, deleted, or given another role or organisation is signed out at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from geo.act.organisations import CITY
from geo.act.organisations_db import CURRENT_AREAS, office_of, organisation_id
from geo.act.projects import clean_text
from geo.act.users import User, check_role, check_username, hash_password, verify_password
from geo.errors import ValidationError
from geo.store.engine import Bind, transaction
from geo.store.models import AppUser, LoginEvent

# The models serve the plain inserts and updates; the sign-in's user query stays SQL (one
# statement with its organisation's current areas).

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
# A user with its organisation and the townships that organisation answers for now.
_USER = f"""
    SELECT u.id, u.username, u.display_name, u.role, u.organisation_id, o.code AS organisation_code,
           o.name AS organisation, u.language, u.active, u.created_at, u.last_login_at, u.password_hash,
           coalesce((SELECT array_agg(a.code ORDER BY a.code) FROM ({CURRENT_AREAS}) a
                     WHERE a.organisation_id = u.organisation_id), '{{}}') AS townships
    FROM app_user u JOIN organisation o ON o.id = u.organisation_id"""


def create_user(bind: Bind, username: str, password: str, *, role: str, display_name: str | None = None,
                township_code: str | None = None, organisation: str | None = None, replace: bool = False) -> int:
    """Store a user (or, with ``replace``, reset an existing one); return its id.

    A street-office user works for an organisation: the one named by ``organisation`` (its code),
    or the office that answers for ``township_code`` now. The other roles work for the city.

    Raises
    ------
    ValidationError
        A bad username, role, township, organisation or password; a username taken (without
        ``replace``); a township that is not a current township.
    """
    username = check_username(username)
    role, township_code = check_role(role, township_code, organisation)
    name = clean_text(display_name or username, "display name", 100)
    hashed = hash_password(password, username)
    with transaction(bind) as conn:
        if organisation is not None:
            org = organisation_id(conn, organisation)
        elif township_code is not None:
            org = office_of(conn, "township", [township_code]).get(township_code)
            if org is None:
                raise ValidationError(f"township {township_code!r} is not a current township code")
        else:
            org = organisation_id(conn, CITY)
        insert = pg_insert(AppUser).values(username=username, display_name=name, role=role, organisation_id=org,
                                           password_hash=hashed)
        fields = ("display_name", "role", "organisation_id", "password_hash")
        insert = (insert.on_conflict_do_update(index_elements=[AppUser.username],
                                               set_={**{f: insert.excluded[f] for f in fields}, "active": True})
                  if replace else insert.on_conflict_do_nothing(index_elements=[AppUser.username]))
        found = conn.execute(insert.returning(AppUser.id)).scalar()
    if found is None:
        raise ValidationError(f"username {username!r} is taken")
    return int(found)


def authenticate(bind: Bind, username: str, password: str, *, now: datetime) -> User | None:
    """The user if the password is right and the account active and not locked; else None.

    Raises
    ------
    ValidationError
        If the username has failed :data:`MAX_FAILURES` times within :data:`LOCKOUT`.
    """
    name = str(username or "").strip().lower()[:32]
    with transaction(bind) as conn:
        # Count, check and record one attempt at a time per name: without the lock, 20 parallel
        # guesses all counted the same 0 failures and all got a password check.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('whistle.login'), hashtext(:u))"), {"u": name})
        failures = conn.execute(sa.text(
            "SELECT count(*) FROM login_event WHERE username = :u AND NOT ok AND at > :since "
            "AND at > coalesce((SELECT max(at) FROM login_event WHERE username = :u AND ok), '-infinity')"),
            {"u": name, "since": now - LOCKOUT}).scalar_one()
        if failures >= MAX_FAILURES:
            raise ValidationError(f"too many failed sign-ins for {name!r}; try again in "
                                  f"{int(LOCKOUT.total_seconds() // 60)} minutes")
        row = conn.execute(sa.text(f"{_USER} WHERE u.username = :u AND u.active"),
                           {"u": name, "level": "township"}).mappings().first()
        ok = verify_password(password, row["password_hash"] if row else None)
        conn.execute(sa.insert(LoginEvent).values(username=name, at=now, ok=ok))
        if not ok:
            return None
        conn.execute(sa.update(AppUser).where(AppUser.id == row["id"]).values(last_login_at=now))
    return _user(row)


def _user(row) -> User:
    return User(row["id"], row["username"], row["display_name"], row["role"], row["organisation_id"],
                row["organisation"], tuple(row["townships"]) if row["role"] == "street_office" else (),
                row["language"])


def set_language(bind: Bind, user_id: int, language: str | None) -> None:
    """Remember the language a user reads the app in (None: the city's, whatever it becomes)."""
    from geo.i18n import check_language

    chosen = check_language(language) if language is not None else None
    with transaction(bind) as conn:
        conn.execute(sa.update(AppUser).where(AppUser.id == int(user_id)).values(language=chosen))


def live_user(bind: Bind, user: User) -> User | None:
    """The user as stored now, if still active with the same role and organisation; else None.

    One indexed query, cheap enough for every page run and every action. The townships are
    read afresh: a new boundary set may have moved them.
    """
    with transaction(bind) as conn:
        row = conn.execute(sa.text(f"{_USER} WHERE u.id = :id AND u.active"),
                           {"id": user.id, "level": "township"}).mappings().first()
    if row is None or (row["username"], row["role"], row["organisation_id"]) != \
            (user.username, user.role, user.organisation_id):
        return None
    return _user(row)


def users(bind: Bind) -> pd.DataFrame:
    """Every user with its organisation and current townships, without the password hashes."""
    with transaction(bind) as conn:
        return pd.read_sql(sa.text(f"{_USER} ORDER BY u.role, u.username"), conn,
                           params={"level": "township"}).drop(columns="password_hash")


def set_active(bind: Bind, username: str, active: bool) -> None:
    """Disable (or enable again) a user; a disabled user cannot sign in."""
    with transaction(bind) as conn:
        done = conn.execute(sa.update(AppUser).where(AppUser.username == check_username(username))
                            .values(active=active)).rowcount
    if not done:
        raise ValidationError(f"there is no user {username!r}")
