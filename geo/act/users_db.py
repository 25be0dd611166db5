"""The app's users in PostGIS: create, sign in (with a brake on guessing), list, change.

Passwords are stored as bcrypt hashes only. Every sign-in attempt is kept in ``login_event``;
after :data:`MAX_FAILURES` failures within :data:`LOCKOUT` a username is refused until the
window has passed, whatever the password.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from geo.act.projects import clean_text
from geo.act.users import User, check_role, check_username, hash_password, verify_password
from geo.errors import ValidationError
from geo.store.engine import Bind, transaction

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
_FIELDS = ("id", "username", "display_name", "role", "township_code")
_COLUMNS = ", ".join(_FIELDS)


def create_user(bind: Bind, username: str, password: str, *, role: str, display_name: str | None = None,
                township_code: str | None = None, replace: bool = False) -> int:
    """Store a user (or, with ``replace``, reset an existing one); return its id.

    Raises
    ------
    ValidationError
        A bad username, role, township or password; a username taken (without ``replace``);
        a township that is not a current township.
    """
    username = check_username(username)
    role, township_code = check_role(role, township_code)
    name = clean_text(display_name or username, "display name", 100)
    hashed = hash_password(password)
    with transaction(bind) as conn:
        if township_code is not None and not conn.execute(sa.text(
                "SELECT 1 FROM jurisdiction WHERE code = :c AND level = 'township' AND valid_to IS NULL"),
                {"c": township_code}).first():
            raise ValidationError(f"township {township_code!r} is not a current township code")
        updated = ", ".join(f"{c} = EXCLUDED.{c}" for c in ("display_name", "role", "township_code",
                                                              "password_hash"))
        on_conflict = (f"ON CONFLICT (username) DO UPDATE SET {updated}, active = true" if replace
                       else "ON CONFLICT (username) DO NOTHING")
        found = conn.execute(sa.text(
            "INSERT INTO app_user (username, display_name, role, township_code, password_hash) "
            f"VALUES (:u, :n, :r, :t, :h) {on_conflict} RETURNING id"),
            {"u": username, "n": name, "r": role, "t": township_code, "h": hashed}).scalar()
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
        failures = conn.execute(sa.text(
            "SELECT count(*) FROM login_event WHERE username = :u AND NOT ok AND at > :since "
            "AND at > coalesce((SELECT max(at) FROM login_event WHERE username = :u AND ok), '-infinity')"),
            {"u": name, "since": now - LOCKOUT}).scalar_one()
        if failures >= MAX_FAILURES:
            raise ValidationError(f"too many failed sign-ins for {name!r}; try again in "
                                  f"{int(LOCKOUT.total_seconds() // 60)} minutes")
        row = conn.execute(sa.text(f"SELECT {_COLUMNS}, password_hash FROM app_user WHERE username = :u AND active"),
                           {"u": name}).mappings().first()
        ok = verify_password(password, row["password_hash"] if row else None)
        conn.execute(sa.text("INSERT INTO login_event (username, at, ok) VALUES (:u, :at, :ok)"),
                     {"u": name, "at": now, "ok": ok})
        if not ok:
            return None
        conn.execute(sa.text("UPDATE app_user SET last_login_at = :at WHERE id = :id"), {"at": now, "id": row["id"]})
    return User(**{k: row[k] for k in _FIELDS})


def users(bind: Bind) -> pd.DataFrame:
    """Every user, without the password hashes."""
    with transaction(bind) as conn:
        return pd.read_sql(sa.text(
            f"SELECT {_COLUMNS}, active, created_at, last_login_at FROM app_user ORDER BY role, username"), conn)


def set_active(bind: Bind, username: str, active: bool) -> None:
    """Disable (or enable again) a user; a disabled user cannot sign in."""
    with transaction(bind) as conn:
        done = conn.execute(sa.text("UPDATE app_user SET active = :a WHERE username = :u"),
                            {"a": active, "u": check_username(username)}).rowcount
    if not done:
        raise ValidationError(f"there is no user {username!r}")
