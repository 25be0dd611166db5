"""The one access hook: every query of the app restricts its rows for the signed-in user here.

As FixMyStreet's ``problems_restriction``: :func:`restrict` is the only place that decides what
a user may see. A supervisor and a coordinator see the whole city; a street office sees the
townships its organisation answers for now, the calls addressed to that organisation and the
projects it owns or is named in, and nothing else. Every function of
:mod:`geo.show.dashboard_db` that returns complaints or anything derived from them (counts,
cells, calls, projects, reports, rejected rows) starts with it, and a test keeps it so.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.act.users import User
from geo.errors import AccessError


@dataclass(frozen=True)
class Scope:
    """What one query may return for one user."""

    user: User
    township: str | None
    """The township a one-township query is for; None: the whole city."""
    organisation_id: int | None
    """The organisation whose calls and projects are returned; None: every one."""

    @property
    def city_wide(self) -> bool:
        """Whether the query returns the whole city."""
        return self.township is None and self.organisation_id is None


def restrict(user: User, township: str | None = None, *, city_wide: bool = False) -> Scope:
    """The scope of a query for ``user``: the township asked (or the user's own), and whose calls.

    Parameters
    ----------
    user : User
        The signed-in user.
    township : str, optional
        The township asked for; a city-wide user may ask any (None: the city), a street office
        only one its organisation answers for (None: its first).
    city_wide : bool
        The query exists only for the whole city (the intake, the reports): a street office is
        refused.

    Raises
    ------
    AccessError
        When a street office asks for a township that is not its own, or for a city-wide query.
    """
    if not isinstance(user, User):
        raise AccessError("sign in first: every query is made for a signed-in user")
    if user.city_wide:
        return Scope(user, township, None)
    if city_wide:
        raise AccessError(f"{user.username} works for {user.organisation or 'a street office'}; "
                          "this is for city-wide users only")
    if not user.townships:
        raise AccessError(f"{user.username}'s organisation answers for no township of the current set; "
                          "ask a supervisor to assign it")
    if township is not None and township not in user.townships:
        raise AccessError(f"{user.username} works for township {', '.join(user.townships)} and may not see "
                          f"township {township}")
    return Scope(user, township or user.townships[0], user.organisation_id)
