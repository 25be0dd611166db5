"""The hotline's rhythm (pure): which periodic job is due for which period at a moment.

A period is named by its start in the city's time (``2026-11-03T08:00`` for an hour,
``2026-11-03`` for a day, ``2026-11`` for a month); a job is due for the current period once
the period's time of day (``at``) has passed. The name is the job's key in ``rhythm_run``:
whoever claims it first runs it, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from geo.errors import ValidationError
from geo.rules import positive, read_rules, rules_path, section, whole


@dataclass(frozen=True)
class WorkerRules:
    """The worker's rhythm; :meth:`load` reads ``geo/data/worker.toml``."""

    arrivals_hours: float
    sweep_seconds: float
    borders_minutes: int
    hotspot_days: int
    emerging_days: int
    emerging_at: time
    governance_at: time
    daily_at: time
    weekly_at: time
    monthly_at: time
    heartbeat_seconds: float
    stalled_seconds: float

    @classmethod
    def load(cls, path: Path | str | None = None) -> WorkerRules:
        """Read and check the rules file.

        Raises
        ------
        ValidationError
            Naming the file, the key and the value that cannot be used.
        """
        path = Path(path) if path else rules_path("worker.toml")
        raw = read_rules(path, "worker rules")

        def get(name: str, key: str, check):
            return check(section(raw, name, path), key, f"{path} [{name}]")

        rules = cls(
            arrivals_hours=get("arrivals", "window_hours", positive),
            sweep_seconds=get("escalation", "sweep_seconds", positive),
            borders_minutes=get("borders", "every_minutes", whole),
            hotspot_days=get("hotspots", "days", whole), emerging_days=get("emerging", "days", whole),
            emerging_at=get("emerging", "at", _clock_time), governance_at=get("governance", "at", _clock_time),
            daily_at=get("reports", "daily_at", _clock_time), weekly_at=get("reports", "weekly_at", _clock_time),
            monthly_at=get("reports", "monthly_at", _clock_time),
            heartbeat_seconds=get("queue", "heartbeat_seconds", positive),
            stalled_seconds=get("queue", "stalled_seconds", positive))
        if rules.stalled_seconds <= 2 * rules.heartbeat_seconds:
            raise ValidationError(f"{path} [queue]: stalled_seconds ({rules.stalled_seconds:g}) must exceed twice "
                                  f"heartbeat_seconds ({rules.heartbeat_seconds:g}), or live workers look dead")
        if 60 % rules.borders_minutes and rules.borders_minutes % 60:
            raise ValidationError(f"{path} [borders]: every_minutes ({rules.borders_minutes}) must divide an hour")
        return rules


def _clock_time(table: object, key: str, where: str) -> time:
    value = table.get(key) if isinstance(table, dict) else None
    try:
        return time.fromisoformat(value) if isinstance(value, str) else time.fromisoformat("")
    except ValueError:
        raise ValidationError(f"{where}: {key} must be a time of day such as \"08:00\", not {value!r}") from None


JOBS = ("borders", "hotspots", "emerging", "governance", "daily", "weekly", "monthly")


def due(moment: datetime, rules: WorkerRules, timezone: str) -> dict[str, str]:
    """The period each job is due for at ``moment`` (jobs not yet due this period are absent).

    Parameters
    ----------
    moment : datetime
        The platform's clock, timezone-aware.
    rules : WorkerRules
    timezone : str
        The city's zone, in which days, weeks and months are cut.

    Returns
    -------
    dict
        ``{job: period}`` in the order of :data:`JOBS`.
    """
    if moment.tzinfo is None:
        raise ValidationError(f"the rhythm needs a timezone-aware moment, not {moment!r}")
    local = moment.astimezone(ZoneInfo(timezone))
    day = local.date()
    minute = local.minute - local.minute % rules.borders_minutes
    out = {"borders": f"{day.isoformat()}T{local.hour:02d}:{minute:02d}",
           "hotspots": f"{day.isoformat()}T{local.hour:02d}:00"}
    now = local.time()
    if now >= rules.emerging_at:
        out["emerging"] = day.isoformat()
    if day.day == 1 and now >= rules.governance_at:
        out["governance"] = f"{day:%Y-%m}"
    if now >= rules.daily_at:
        out["daily"] = (day - timedelta(days=1)).isoformat()
    if day.weekday() == 0 and now >= rules.weekly_at:
        out["weekly"] = (day - timedelta(days=7)).isoformat()
    if day.day == 1 and now >= rules.monthly_at:
        out["monthly"] = f"{(day - timedelta(days=1)):%Y-%m}"
    return out
