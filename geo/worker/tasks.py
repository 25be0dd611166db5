"""The task queue: procrastinate on the platform's own PostgreSQL (LISTEN/NOTIFY, SKIP LOCKED).

Three tasks:

- ``arrivals``: queued by the API for every request that stores a complaint (one at a time in
  the queue: requests that arrive while one waits are covered by it); border checks of the
  recent window, the whistle rules, and an ``escalate`` job scheduled at each new deadline.
- ``escalate``: at a deadline (in wall time: on a replay's fast clock a 30-minute deadline
  may be 30 s away), escalates whoever is still pending.
- ``tick``: every ``sweep_seconds``; the safety net for escalation, the hotline's rhythm
  (:mod:`geo.worker.rhythm`) and the jobs of a worker that died (run again).

A job that a killed worker left half done runs again: each job is idempotent (the rules join
complaints to the open call instead of raising a second; an addressee is escalated once per
level), and each runs in transactions that either commit whole or not at all.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued

from geo.clock import Clock
from geo.settings import load_settings
from geo.store.clock_db import clock_setting, shared_clock
from geo.store.engine import Bind
from geo.worker import jobs_db as jobs
from geo.worker.rhythm import WorkerRules

log = logging.getLogger("whistle.worker")
ARRIVALS, ESCALATE, TICK, STALLED = "whistle.arrivals", "whistle.escalate", "whistle.tick", "whistle.stalled"


def conninfo(bind: Bind) -> str:
    """The libpq connection string of an engine (procrastinate connects with psycopg itself)."""
    url = bind.engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class Worker:
    """The state a worker's tasks share: the database, the clock, the rules, the lines."""

    def __init__(self, bind: Bind, clock: Clock | None = None, rules: WorkerRules | None = None,
                 timezone: str | None = None) -> None:
        self.bind, self.rules = bind, rules or WorkerRules.load()
        self.timezone = timezone or load_settings().timezone
        self.clock = clock or shared_clock(bind)
        self.lines = jobs.Lines()
        self.scheduled: set[datetime] = set()
        self._lock = threading.Lock()  # one pass of the rules at a time in this process
        self.app = make_app(bind, self.rules)
        self.app.tasks[ARRIVALS].func = self.arrivals
        self.app.tasks[ESCALATE].func = self.escalate
        self.app.tasks[TICK].func = self.tick
        self.app.tasks[STALLED].func = self.retry_stalled

    def arrivals(self) -> dict:
        with self._lock:
            result = jobs.handle_arrivals(self.bind, self.clock(), lines=self.lines, rules=self.rules)
            self.schedule(result.deadlines)
        return {"cases": result.cases, "raised": result.raised, "joined": result.joined}

    def escalate(self, at: str) -> int:
        return jobs.sweep(self.bind, self.clock())

    def tick(self, timestamp: int) -> dict:
        moment = self.clock()
        moved = jobs.sweep(self.bind, moment)
        with self._lock:
            ran = jobs.run_rhythm(self.bind, moment, rules=self.rules, timezone=self.timezone, lines=self.lines)
            if "borders" in ran:
                self.schedule(jobs.pending_deadlines(self.bind, moment))
        return {"escalated": moved, "ran": sorted(ran)}

    def schedule(self, deadlines: list[datetime]) -> int:
        """Queue an ``escalate`` job at each deadline's wall time (once per second of deadline)."""
        setting = clock_setting(self.bind)
        added = 0
        for deadline in deadlines:
            if deadline in self.scheduled:
                continue
            wall = deadline if setting is None else setting.wall(deadline)
            try:
                self.app.configure_task(ESCALATE, schedule_at=wall, queueing_lock=f"escalate:{deadline.isoformat()}"
                                        ).defer(at=deadline.isoformat())
                added += 1
            except AlreadyEnqueued:
                pass
            self.scheduled.add(deadline)
        return added

    async def retry_stalled(self, timestamp: int) -> int:
        """Run again the jobs of workers that stopped sending heartbeats (killed, frozen); an
        async task, so that it runs in the worker's own loop and connection pool."""
        manager = self.app.job_manager
        stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=self.rules.stalled_seconds)
        for job in stalled:
            log.warning("job %s (%s) of a stopped worker runs again", job.id, job.task_name)
            await manager.retry_job(job)
        return len(stalled)

    def run(self, *, name: str | None = None) -> None:
        """Process jobs until stopped (SIGINT or SIGTERM: the running jobs finish first)."""
        with self.app.open():
            # Scheduled jobs (deadlines) are found by polling: twice a second, so that a replay's
            # fast clock still escalates within a minute of its time.
            self.app.run_worker(name=name or "whistle", concurrency=2, wait=True, fetch_job_polling_interval=0.5,
                                update_heartbeat_interval=self.rules.heartbeat_seconds,
                                stalled_worker_timeout=self.rules.stalled_seconds,
                                delete_jobs="successful")


def make_app(bind: Bind, rules: WorkerRules | None = None) -> procrastinate.App:
    """The procrastinate app of the database, with Whistle's three tasks (their bodies are a
    :class:`Worker`'s; an app that only defers never runs them)."""
    rules = rules or WorkerRules.load()
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(bind)))

    def unbound(*_args, **_kwargs):
        raise RuntimeError("a Whistle task runs in a worker (python -m geo worker)")

    app.task(name=ARRIVALS, queueing_lock="arrivals", retry=3)(unbound)
    app.task(name=ESCALATE, retry=3)(unbound)
    every = f"* * * * * */{max(1, int(rules.sweep_seconds))}"
    for name in (TICK, STALLED):
        task = app.task(name=name, queueing_lock=name)(unbound)
        app.periodic(cron=every, periodic_id=name)(task)
    return app


_deferring: dict[str, procrastinate.App] = {}
_deferring_lock = threading.Lock()


def defer_arrivals(bind: Bind, ids: list[str]) -> bool:
    """Tell the worker that complaints arrived; False when a pass is already waiting (it will
    see them too)."""
    key = conninfo(bind)
    with _deferring_lock:
        app = _deferring.get(key)
        if app is None:
            app = _deferring[key] = make_app(bind)
            app.open()
    try:
        app.configure_task(ARRIVALS, queueing_lock="arrivals").defer()
    except AlreadyEnqueued:
        return False
    log.debug("arrivals queued for %d complaints", len(ids))
    return True
