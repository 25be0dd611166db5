"""Who uses Whistle: roles, usernames, passwords (bcrypt), and what each role may see.

Pure: :mod:`geo.act.users_db` stores the users. Three roles:

- ``supervisor``: the whole city;
- ``street_office``: works for a street office (an organisation, :mod:`geo.act.organisations`)
  and sees the townships that office answers for now, and nothing of another township's
  complaints;
- ``coordinator``: border cases and whistle calls city-wide.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import bcrypt

from geo.errors import ValidationError

ROLES = ("supervisor", "street_office", "coordinator")
ROLE_NAMES = {"supervisor": "Supervisor", "street_office": "Street office", "coordinator": "Coordinator"}
MIN_PASSWORD = 10
"""Characters; bcrypt reads at most 72 bytes, so longer passwords are refused rather than cut."""
MAX_PASSWORD_BYTES = 72
_USERNAME = re.compile(r"[a-z][a-z0-9_.-]{1,31}")
_COST = 12
# Checked against when the username is unknown, so that a wrong name and a wrong password
# take the same time and cannot be told apart. A fixed hash (of "no such user", at _COST), not one
# made at import: making it costs a quarter of a second that every command's start-up would pay.
_DUMMY = b"$2b$12$UlfG20r5MN/wvVOgegLpz.0USCkAxVT.lbkmEoD56ndrP2NGd47oq"


@dataclass(frozen=True)
class User:
    """A signed-in user: what the pages need to know about them."""

    id: int
    username: str
    display_name: str
    role: str
    organisation_id: int
    organisation: str = ""
    """The name of the organisation the user works for."""
    townships: tuple[str, ...] = ()
    """The current township codes the user's street office answers for (none for the other roles)."""
    language: str | None = None
    """The language the user chose to read the app in (None: the city's)."""

    @property
    def city_wide(self) -> bool:
        """Whether the user may see every township's complaints."""
        return self.role != "street_office"

    @property
    def township_code(self) -> str | None:
        """The office's first township (an office whose township was split answers for several)."""
        return self.townships[0] if self.townships else None


def check_username(value: object) -> str:
    """A username: 2 to 32 characters, lower-case letters, digits, ``_ . -``, starting with a letter."""
    text = str(value or "").strip().lower()
    if not _USERNAME.fullmatch(text):
        raise ValidationError(f"username {str(value)[:40]!r} must be 2 to 32 characters: a letter, then letters, "
                              "digits, '_', '.' or '-'")
    return text


def check_role(role: object, township_code: str | None, organisation: str | None = None) -> tuple[str, str | None]:
    """A role and its township: a street office needs one (or its organisation), the others none."""
    if role not in ROLES:
        raise ValidationError(f"role {role!r} is unknown; use one of {', '.join(ROLES)}")
    if role == "street_office" and not (township_code or organisation):
        raise ValidationError("a street-office user needs the township it works for (--township CODE) "
                              "or its organisation (--organisation CODE)")
    if role != "street_office" and (township_code or organisation):
        raise ValidationError(f"a {role} sees the whole city; a township is only for street-office users")
    return str(role), township_code or None


def hash_password(password: str, username: str | None = None) -> str:
    """The bcrypt hash of a password that is long enough, not too long and not weak.

    Parameters
    ----------
    password : str
        The new password.
    username : str, optional
        Whose it is: a password that holds the username is refused.

    Raises
    ------
    ValidationError
        If the password is shorter than :data:`MIN_PASSWORD` characters or longer than 72 bytes,
        or weak (:func:`check_password`).
    """
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError(f"a password needs at least {MIN_PASSWORD} characters")
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise ValidationError(f"a password may have at most {MAX_PASSWORD_BYTES} bytes (bcrypt ignores the rest)")
    check_password(password, username)
    return bcrypt.hashpw(encoded, bcrypt.gensalt(_COST)).decode("ascii")


MIN_ALL_DIGITS = 12
"""A password of digits only needs this many: 10 or 11 digits fall to a guess in minutes offline."""


def check_password(password: str, username: str | None = None) -> None:
    """Refuse a weak password: a common one, one character repeated, too few digits alone, the username.

    The common passwords are the 30,000 of zxcvbn's list (from leaked password sets), compared
    without case.

    Raises
    ------
    ValidationError
        Naming why the password is weak.
    """
    folded = password.casefold()
    if len(set(password)) == 1:
        raise ValidationError("a password of one character repeated is too easy to guess")
    if password.isdigit() and len(password) < MIN_ALL_DIGITS:
        raise ValidationError(f"a password of digits only needs at least {MIN_ALL_DIGITS} of them")
    if username and username.strip().casefold() in folded:
        raise ValidationError("a password may not hold the user name")
    if folded in _common_passwords():
        raise ValidationError("this password is among the most common ones; choose another")


@functools.cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.casefold() for p in FREQUENCY_LISTS["passwords"])


def verify_password(password: str, hashed: str | None) -> bool:
    """Whether ``password`` matches ``hashed``; None (no such user) takes as long and is False."""
    encoded = (password or "").encode("utf-8")[:MAX_PASSWORD_BYTES]
    if hashed is None:
        bcrypt.checkpw(encoded, _DUMMY)
        return False
    return bcrypt.checkpw(encoded, hashed.encode("ascii"))
