"""The one clock: the wall clock, or a replay that runs on from a given moment.

The API, the worker and the app read the same injected clock, so that a replayed city and a test
behave as the live one does. The moment a replay starts from is read by the caller (for the demo:
the newest stored complaint, :func:`geo.act.whistle_db.latest_complaint`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The wall clock, timezone-aware."""
    return datetime.now(UTC)


def replay_from(start: datetime, wall: Clock = system_clock) -> Clock:
    """A clock that starts at ``start`` and runs on at the pace of ``wall``.

    Parameters
    ----------
    start : datetime
        The moment the clock shows now; timezone-aware.
    wall : callable, optional
        The clock whose pace it keeps (the wall clock by default).

    Returns
    -------
    callable
        Returns the replayed moment at each call.
    """
    if start.tzinfo is None:
        raise ValueError(f"a replay starts at a timezone-aware moment, not {start!r}")
    origin = wall()
    return lambda: start + (wall() - origin)
