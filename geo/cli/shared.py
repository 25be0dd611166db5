"""What every command-line module shares: the consoles, the time zone, the engine, dates."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rich.console import Console

from geo.errors import ValidationError
from geo.settings import DEFAULT_TIMEZONE

out = Console(soft_wrap=True)
err = Console(stderr=True)
TZ = ZoneInfo(DEFAULT_TIMEZONE)


def engine():
    """The platform's database engine (starting the local cluster when it is the one used)."""
    from geo.store.engine import make_engine

    return make_engine()


def parse_moment(text: str, option: str = "--valid-from") -> datetime:
    """An ISO date or time from the command line; Beijing time when it names no zone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{option} {text!r} is not an ISO date or time (2024-01-01)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=TZ)


def when(moment) -> str:
    """A stored moment as its day in the city's zone; empty when there is none."""
    import pandas as pd

    if moment is None or pd.isna(moment):
        return ""
    return moment.tz_convert(TZ).strftime("%Y-%m-%d")
