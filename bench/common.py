"""Helpers shared by the benchmarks: a timer and a scratch database."""

from __future__ import annotations

import platform
import sys
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo.store.engine import database_url
from geo.store.migrate import upgrade


def timed(step):
    """Run ``step()``; return the seconds it took and its result."""
    start = time.perf_counter()
    result = step()
    return time.perf_counter() - start, result


def median_timed(step, runs: int = 3):
    """Run ``step()`` ``runs`` times; return the median seconds and the last result (the first
    run may pay for cold caches, which a median leaves out)."""
    times, result = [], None
    for _ in range(runs):
        seconds, result = timed(step)
        times.append(seconds)
    return sorted(times)[len(times) // 2], result


def header() -> str:
    """The line that starts every benchmark's output: date and machine."""
    return f"# {date.today()} · {platform.node()} · {platform.processor() or platform.machine()}"


def scratch_engine(name: str = "whistle_bench", template: str | None = None) -> sa.Engine:
    """Create (afresh) a scratch database with the schema, empty or a copy of ``template`` (brought
    up to date); uses DATABASE_URL or the local cluster."""
    url = sa.engine.make_url(database_url(start=True))
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else "")))
    admin.dispose()
    engine = sa.create_engine(url.set(database=name))
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    upgrade(engine)
    return engine
