"""The shared clock in the database: every process (API, worker, app, replay) reads one row.

A replayed city (``python -m geo replay``, ``make run``) sets the row; each process reads it and
runs its own copy of the clock from it, so that the API stamps a complaint, the worker finds a
deadline past and the app counts down at the same moment. With no row, the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from geo.clock import Clock, replay_from, system_clock, wall_time
from geo.errors import ValidationError
from geo.store.engine import Bind, transaction


@dataclass(frozen=True)
class ClockSetting:
    """A replay's clock: ``origin`` at the wall moment ``wall_origin``, ``speed`` times as fast."""

    origin: datetime
    wall_origin: datetime
    speed: float

    def clock(self) -> Clock:
        """The clock itself."""
        return replay_from(self.origin, speed=self.speed, wall_origin=self.wall_origin)

    def wall(self, moment: datetime) -> datetime:
        """The wall moment at which the clock shows ``moment``."""
        return wall_time(moment, self.origin, self.wall_origin, self.speed)


def set_clock(bind: Bind, origin: datetime, speed: float = 1.0) -> ClockSetting:
    """Make every process's clock show ``origin`` now and run ``speed`` times as fast.

    Raises
    ------
    ValidationError
        For a moment without a zone or a speed that is not above 0.
    """
    if not isinstance(origin, datetime) or origin.tzinfo is None:
        raise ValidationError(f"the clock starts at a timezone-aware moment, not {origin!r}")
    if not speed > 0 or speed > 100_000:
        raise ValidationError(f"the clock's speed must be above 0 and at most 100000, not {speed!r}")
    wall = system_clock()
    with transaction(bind) as conn:
        conn.execute(sa.text(
            "INSERT INTO platform_clock (id, origin, wall_origin, speed) VALUES (1, :o, :w, :s) "
            "ON CONFLICT (id) DO UPDATE SET origin = excluded.origin, wall_origin = excluded.wall_origin, "
            "speed = excluded.speed"), {"o": origin, "w": wall, "s": float(speed)})
    return ClockSetting(origin, wall, float(speed))


def clear_clock(bind: Bind) -> None:
    """Back to the wall clock for every process."""
    with transaction(bind) as conn:
        conn.execute(sa.text("DELETE FROM platform_clock"))


def clock_setting(bind: Bind) -> ClockSetting | None:
    """The shared replay clock, or None when the platform runs on the wall clock."""
    with transaction(bind) as conn:
        row = conn.execute(sa.text("SELECT origin, wall_origin, speed FROM platform_clock WHERE id = 1")).first()
    return None if row is None else ClockSetting(row.origin, row.wall_origin, float(row.speed))


REREAD_S = 2.0
"""How often (wall seconds) a running process reads the shared clock again."""


def shared_clock(bind: Bind, *, fallback: Clock = system_clock, every_s: float = REREAD_S) -> Clock:
    """A clock that follows the shared row, read again at most every ``every_s`` wall seconds
    (a replay started or stopped reaches a running process within that)."""
    state: dict = {"read_at": None, "clock": fallback}

    def now() -> datetime:
        wall = system_clock()
        if state["read_at"] is None or (wall - state["read_at"]).total_seconds() >= every_s:
            setting = clock_setting(bind)
            state["clock"] = fallback if setting is None else setting.clock()
            state["read_at"] = wall
        return state["clock"]()

    return now
