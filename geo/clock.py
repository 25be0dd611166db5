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


def replay_from(start: datetime, wall: Clock = system_clock, *, speed: float = 1.0,
                wall_origin: datetime | None = None) -> Clock:
    """A clock that shows ``start`` at ``wall_origin`` and runs on ``speed`` times as fast as ``wall``.

    Parameters
    ----------
    start : datetime
        The moment the clock shows at ``wall_origin``; timezone-aware.
    wall : callable, optional
        The clock whose pace it keeps (the wall clock by default).
    speed : float
        How many seconds pass on this clock for each second of ``wall`` (60: an hour a minute).
    wall_origin : datetime, optional
        The wall moment at which it shows ``start``; now by default.

    Returns
    -------
    callable
        Returns the replayed moment at each call.
    """
    if start.tzinfo is None:
        raise ValueError(f"a replay starts at a timezone-aware moment, not {start!r}")
    if not speed > 0:
        raise ValueError(f"a replay runs forwards: its speed must be above 0, not {speed!r}")
    origin = wall() if wall_origin is None else wall_origin
    return lambda: start + (wall() - origin) * speed


def wall_time(moment: datetime, start: datetime, wall_origin: datetime, speed: float) -> datetime:
    """When the wall clock reaches ``moment`` of a replay (:func:`replay_from`'s inverse): the
    worker schedules a deadline of the replayed city at this wall time."""
    return wall_origin + (moment - start) / speed
