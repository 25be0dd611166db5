"""What every command-line module shares: the consoles, the time zone, the engine, dates."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rich.console import Console

from geo.errors import ValidationError
from geo.settings import load_settings

out = Console(soft_wrap=True)
err = Console(stderr=True)
def zone() -> ZoneInfo:
    """The city's zone (its profile's): the command line reads and writes times in it."""
    return load_settings().city.zone


def engine():
    """The platform's database engine (starting the local cluster when it is the one used)."""
    from geo.store.engine import make_engine

    return make_engine()


def parse_moment(text: str, option: str = "--valid-from") -> datetime:
    """An ISO date or time from the command line; in the city's zone when it names none."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{option} {text!r} is not an ISO date or time (2024-01-01)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone())


def when(moment) -> str:
    """A stored moment as its day in the city's zone; empty when there is none."""
    import pandas as pd

    if moment is None or pd.isna(moment):
        return ""
    return moment.tz_convert(zone()).strftime("%Y-%m-%d")
