"""What the worker does, as plain functions of the database and the clock's moment.

The queue (:mod:`geo.worker.tasks`) calls them on events and on the rhythm; tests call them
with an injected moment. Each is idempotent: run twice for the same moment, the second run
changes nothing (the rules join new complaints to open calls; escalation moves an addressee
once per level; a rhythm period is claimed once).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from geo.act.whistle import WhistleRules
from geo.act.whistle_db import escalate_due, raise_calls
from geo.detect.borders import BorderLines
from geo.detect.rules import detect_rules
from geo.errors import ValidationError
from geo.locate.boundaries_db import boundary_stamp
from geo.settings import load_settings
from geo.store.engine import Bind, transaction
from geo.worker.rhythm import WorkerRules, due

log = logging.getLogger("whistle.worker")


@dataclass
class Lines:
    """The shared lines of the current townships, built again only when the boundaries change."""

    stamp: tuple | None = None
    lines: BorderLines | None = None

    def get(self, bind: Bind) -> BorderLines | None:
        from geo.locate.jurisdictions_db import current_jurisdictions

        params = detect_rules().borders
        stamp = (*boundary_stamp(bind), params.distance_m)
        if stamp != self.stamp:
            towns = current_jurisdictions(bind, "township", display=False)
            self.lines = (BorderLines.build(towns, distance_m=params.distance_m,
                                            metric_crs=load_settings().metric_crs) if len(towns) >= 2 else None)
            self.stamp = stamp
        return self.lines


@dataclass
class ArrivalResult:
    """What one pass over new complaints did."""

    cases: int
    raised: int
    joined: int
    deadlines: list[datetime] = field(default_factory=list)
    """The pending deadlines after the pass (for the queue to schedule)."""


def handle_arrivals(bind: Bind, now: datetime, *, lines: Lines, rules: WorkerRules) -> ArrivalResult:
    """Check the complaints of the last hours for border cases and apply the whistle rules.

    The per-complaint checks (near a line, a footprint across one) need only the recent window;
    clusters and ping-pong are the rhythm's (:func:`run_rhythm`, over the whole window).
    """
    from geo.detect.borders_db import run_borders

    indexed = lines.get(bind)
    cases = 0
    if indexed is not None:
        start = now - timedelta(hours=rules.arrivals_hours)
        cases = len(run_borders(bind, start, now + timedelta(seconds=1), lines=indexed).cases)
    result = raise_calls(bind, now=now)
    return ArrivalResult(cases, result.raised, result.joined, pending_deadlines(bind, now))


def pending_deadlines(bind: Bind, after: datetime) -> list[datetime]:
    """Every moment at which an addressee will be escalated (its deadline, and the deadline
    plus the rules' ``city_after``), after ``after``, to the second, in order."""
    city_after = WhistleRules.load().city_after
    with transaction(bind) as conn:
        rows = conn.execute(sa.text(
            "SELECT DISTINCT date_trunc('second', a.deadline_at) + interval '1 second' AS at "
            "FROM whistle_addressee a JOIN whistle_call c ON c.id = a.call_id "
            "WHERE a.state = 'pending' AND c.state = 'raised' AND a.deadline_at + :city > :after"),
            {"after": after, "city": city_after}).scalars().all()
    moments = {m for m in rows if m > after} | {m + city_after for m in rows if m + city_after > after}
    return sorted(moments)


def sweep(bind: Bind, now: datetime) -> int:
    """Escalate every addressee past its deadline (the rules' actor); returns how many moved."""
    return escalate_due(bind, now=now, actor="rules")


def run_rhythm(bind: Bind, now: datetime, *, rules: WorkerRules, timezone: str, lines: Lines,
               reports_dir=None) -> dict[str, dict]:
    """Run every periodic job due at ``now`` whose period nobody has claimed; returns what ran.

    A claim whose run never finished (its worker died) may be taken again after an hour.
    """
    ran = {}
    for job, period in due(now, rules, timezone).items():
        if not _claim(bind, job, period):
            continue
        try:
            result = _RUN[job](bind, now, period, rules=rules, timezone=timezone, lines=lines,
                               reports_dir=reports_dir)
        except ValidationError as exc:
            # Nothing to do yet (no complaints, no boundaries): said once, in the log and the run.
            result = {"skipped": str(exc)}
        _finish(bind, job, period, result)
        log.info("rhythm %s %s: %s", job, period, result)
        ran[job] = result
    return ran


def _claim(bind: Bind, job: str, period: str) -> bool:
    with transaction(bind) as conn:
        return conn.execute(sa.text(
            "INSERT INTO rhythm_run (job, period, result) VALUES (:j, :p, '{}') ON CONFLICT (job, period) "
            "DO UPDATE SET started_at = now() WHERE rhythm_run.finished_at IS NULL "
            "AND rhythm_run.started_at < now() - interval '1 hour' RETURNING job"),
            {"j": job, "p": period}).first() is not None


def _finish(bind: Bind, job: str, period: str, result: dict) -> None:
    import json

    with transaction(bind) as conn:
        conn.execute(sa.text("UPDATE rhythm_run SET finished_at = now(), result = CAST(:r AS jsonb) "
                             "WHERE job = :j AND period = :p"),
                     {"j": job, "p": period, "r": json.dumps(result, default=str)})


def _borders(bind, now, period, *, lines: Lines, **_) -> dict:
    from geo.detect.borders_db import run_borders

    indexed = lines.get(bind)
    if indexed is None:
        return {"skipped": "fewer than two townships are loaded"}
    window = timedelta(days=detect_rules().borders.window_days)
    found = run_borders(bind, now - window, now + timedelta(seconds=1), lines=indexed).found
    raised = raise_calls(bind, now=now)
    return {"found": found, "raised": raised.raised, "joined": raised.joined}


def _hotspots(bind, now, period, *, rules: WorkerRules, **_) -> dict:
    from geo.detect.hotspots_db import run_hotspots

    result = run_hotspots(bind, now - timedelta(days=rules.hotspot_days), now)
    return {"run": result.run_id, "cells": len(result.cells)}


def _emerging(bind, now, period, *, rules: WorkerRules, timezone: str, **_) -> dict:
    from geo.detect.hotspots_db import run_emerging

    midnight = datetime.combine(date.fromisoformat(period), datetime.min.time(), ZoneInfo(timezone))
    result = run_emerging(bind, midnight - timedelta(days=rules.emerging_days), midnight)
    return {"run": result.run_id, "cells": len(result.cells)}


def _governance(bind, now, period, **_) -> dict:
    from geo.act.governance_db import run_governance

    classified = run_governance(bind)
    return {"rows": len(classified)}


def _report(kind: str):
    def run(bind, now, period, *, reports_dir, timezone: str, **_) -> dict:
        from geo.act.reports_db import build_report, write_report

        day = date.fromisoformat(period + "-01" if len(period) == 7 else period)
        report = build_report(bind, kind, day, now=now.astimezone(ZoneInfo(timezone)))
        folder = reports_dir or load_settings().home / "var" / "reports"
        return {"files": [str(p) for p in write_report(report, folder)[:2]]}
    return run


_RUN = {"borders": _borders, "hotspots": _hotspots, "emerging": _emerging, "governance": _governance,
        "daily": _report("daily"), "weekly": _report("weekly"), "monthly": _report("monthly")}
