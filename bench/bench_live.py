"""Bench: the live platform on time. Real processes on a throwaway PostGIS cluster (loopback only).

    .venv/bin/python bench/bench_live.py [--emergencies 30] [--deadlines 1000]

1. **Raise**: gas leaks posted to the API (one a second), each 5 m from a different stretch of a
   shared township line; for each, the time from the API's answer to its whistle call existing,
   raised by the worker. Baseline: the POST itself.
2. **Deadlines**: as many calls raised at one moment (an ingest and one rules pass), so that
   every addressee's 30-minute deadline falls in the same second; the shared clock is set so that
   it comes 20 s after the worker starts. For each addressee, the time from its deadline to its
   escalation by ``rules``; and the wall time until the last is recorded. Baseline:
   ``escalate_due`` over as many addressees, called directly.
3. **Tally**: one complaint's tally update (:func:`geo.store.tally.move_complaints`), against the
   day refresh of the same day (:func:`geo.store.tally.refresh_days`), in the same run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--emergencies", type=int, default=30)
    parser.add_argument("--deadlines", type=int, default=1000)
    parser.add_argument("--day-rows", type=int, default=30000,
                        help="complaints of one day ingested before the tally bench (the day it refreshes)")
    args = parser.parse_args()
    import sqlalchemy as sa

    from geo.store.cluster import LocalCluster

    root = Path(tempfile.mkdtemp(prefix="whistle-bench-live-"))
    cluster = LocalCluster(root=root, fast=True)
    cluster.start()
    env = {**os.environ, "DATABASE_URL": cluster.url(), "WHISTLE_LOG": "WARNING"}
    engine = sa.create_engine(cluster.url())
    try:
        for step in (("db", "upgrade"), ("boundaries", "load-shipped")):
            subprocess.run([sys.executable, "-m", "geo", *step], env=env, cwd=ROOT, check=True, capture_output=True)
        points = _line_points(engine, args.emergencies + args.deadlines)
        _raise(engine, env, points[:args.emergencies])
        _deadlines(engine, env, points[args.emergencies:])
        _tally(engine, args.day_rows)
    finally:
        engine.dispose()
        cluster.stop()


def _start(env: dict, *command: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "geo", *command], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(*children: subprocess.Popen) -> None:
    for child in children:
        child.terminate()
    for child in children:
        try:
            child.wait(60)
        except subprocess.TimeoutExpired:
            child.kill()


def _raise(engine, env: dict, points: list[tuple[float, float]]) -> None:
    import sqlalchemy as sa

    from geo.api.keys_db import add_key

    key = add_key(engine, "bench-live", "channel", "app")
    api, worker = _start(env, "api", "--port", "18398"), _start(env, "worker")
    base = "http://127.0.0.1:18398"
    try:
        _wait_for(lambda: requests.get(base + "/health", timeout=2).ok)
        posted, raised = [], []
        for i, (lon, lat) in enumerate(points):
            started = time.perf_counter()
            answer = requests.post(base + "/open311/v2/requests.json", timeout=30, data={
                "api_key": key, "service_code": "gas_leak", "lat": f"{lat:.6f}", "long": f"{lon:.6f}",
                "description": "楼道里有燃气味", "attribute[channel_request_id]": f"BENCH-GAS-{i}"})
            answered = time.perf_counter()
            assert answer.status_code == 200, answer.text
            posted.append(answered - started)

            def called(rid=f"BENCH-GAS-{i}") -> bool:
                with engine.connect() as conn:
                    return bool(conn.execute(sa.text(
                        "SELECT count(*) FROM whistle_call_complaint w JOIN complaint c ON c.id = w.complaint_id "
                        "WHERE c.source_id = :rid"), {"rid": rid}).scalar())

            _wait_for(called, every=0.05, timeout=120)
            raised.append(time.perf_counter() - answered)
            time.sleep(max(0.0, 1.0 - (time.perf_counter() - started)))
    finally:
        _stop(api, worker)
    print(f"raise: {len(raised)} gas leaks 5 m from a shared line, posted one a second")
    _report("  POST answered (baseline)", posted)
    _report("  answered -> call raised by the worker", raised)
    print(f"  p95 ratio raise / POST: {np.percentile(raised, 95) / np.percentile(posted, 95):.1f}x")


def _deadlines(engine, env: dict, points: list[tuple[float, float]]) -> None:
    import pandas as pd
    import sqlalchemy as sa

    from geo.act.whistle_db import escalate_due
    from geo.ingest.run_db import ingest_rows
    from geo.store.clock_db import clear_clock, set_clock
    from geo.worker.jobs_db import Lines, handle_arrivals
    from geo.worker.rhythm import WorkerRules
    from geo.worker.tasks import defer_arrivals

    moment = datetime.now().astimezone().replace(microsecond=0) - timedelta(minutes=2)
    at = pd.Timestamp(moment).tz_convert("Asia/Shanghai").strftime("%Y-%m-%d %H:%M:%S")
    rows = [{"id": f"BENCH-DL-{i}", "received_at": at, "category": "gas_leak", "lon": f"{lon:.6f}",
             "lat": f"{lat:.6f}", "channel": "app", "text": "燃气味"} for i, (lon, lat) in enumerate(points)]
    summary = ingest_rows(engine, rows, source="bench", now=pd.Timestamp(moment + timedelta(minutes=1)))
    # Every call raised in one pass at one moment: every deadline falls in the same second.
    arrival = handle_arrivals(engine, moment + timedelta(seconds=1), lines=Lines(), rules=WorkerRules.load())
    with engine.connect() as conn:
        deadline, addressees = conn.execute(sa.text(
            f"SELECT max(deadline_at), count(*) FROM whistle_addressee WHERE call_id IN ({_BENCH_CALLS})")).one()
    print(f"deadlines: {summary.inserted} emergencies near lines, {arrival.raised} calls raised at once, "
          f"{addressees} addressees due at {deadline:%H:%M:%S}")
    # The baseline: the same escalations done directly, in a transaction rolled back.
    with engine.connect() as conn:
        transaction = conn.begin()
        started = time.perf_counter()
        moved = escalate_due(conn, now=deadline + timedelta(seconds=1), actor="bench")
        direct = time.perf_counter() - started
        transaction.rollback()
    lead = 20.0
    set_clock(engine, deadline - timedelta(seconds=lead), speed=1)
    worker = _start(env, "worker")
    started = time.perf_counter()
    try:
        _wait_for(lambda: defer_arrivals(engine, []) or True, timeout=30)

        def all_escalated() -> bool:
            with engine.connect() as conn:
                return conn.execute(sa.text(
                    "SELECT count(DISTINCT addressee_id) FROM whistle_event WHERE action = 'escalated' "
                    f"AND actor = 'rules' AND call_id IN ({_BENCH_CALLS})")).scalar() >= addressees

        _wait_for(all_escalated, every=0.25, timeout=lead + 300)
        wall = time.perf_counter() - started - lead
        with engine.connect() as conn:
            # The first escalation of each (to the district, at the deadline).
            late = conn.execute(sa.text(
                "SELECT extract(epoch FROM min(e.at) - min(a.deadline_at)) FROM whistle_event e "
                "JOIN whistle_addressee a ON a.id = e.addressee_id WHERE e.action = 'escalated' "
                f"AND e.actor = 'rules' AND e.call_id IN ({_BENCH_CALLS}) GROUP BY a.id")).scalars().all()
    finally:
        _stop(worker)
        clear_clock(engine)
    late = np.array(late, dtype=float)
    print(f"  escalate_due over {moved} addressees, directly (baseline): {direct:.2f} s")
    print(f"  deadline -> escalation by rules ({len(late)}): p50 {np.percentile(late, 50):.1f} s, "
          f"p95 {np.percentile(late, 95):.1f} s, max {late.max():.1f} s; the last recorded {wall:.1f} s "
          f"after the deadline (wall); ratio last recorded / baseline {wall / max(direct, 1e-9):.1f}x")


# The calls of the deadline bench's complaints (the raise bench's calls have deadlines of their own).
_BENCH_CALLS = ("SELECT w.call_id FROM whistle_call_complaint w JOIN complaint c ON c.id = w.complaint_id "
                "WHERE c.source_id LIKE 'BENCH-DL-%'")


def _tally(engine, day_rows: int) -> None:
    import pandas as pd
    import sqlalchemy as sa

    from geo.ingest.load_db import create_stage
    from geo.ingest.run_db import ingest_rows
    from geo.store.tally import COUNTED_COLUMNS, move_complaints, refresh_days

    # A day of complaints over the city centre, so that the day refresh has a real day to count.
    rng = np.random.default_rng(7)
    day = (datetime.now().astimezone() - timedelta(days=1)).date()
    seconds = np.sort(rng.integers(0, 86_400, day_rows))
    rows = [{"id": f"BENCH-DAY-{i}", "received_at": f"{day} {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}",
             "category": ("illegal_parking", "construction_noise", "garbage_collection")[i % 3],
             "lon": f"{rng.uniform(116.25, 116.5):.6f}", "lat": f"{rng.uniform(39.8, 40.0):.6f}", "channel": "phone"}
            for i, s in enumerate(seconds)]
    for start in range(0, len(rows), 10_000):
        ingest_rows(engine, rows[start:start + 10_000], source="bench-day")
    columns = ", ".join(COUNTED_COLUMNS)
    with engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT id FROM complaint WHERE source_id LIKE 'BENCH-DAY-%' "
                                   "ORDER BY random() LIMIT 200")).scalars().all()
    one, whole = [], []
    for complaint_id in ids:
        with engine.connect() as conn, conn.begin():
            create_stage(conn)
            conn.execute(sa.text(f"INSERT INTO complaint_loaded (inserted, {columns}) "
                                 f"SELECT true, {columns} FROM complaint WHERE id = :id"), {"id": complaint_id})
            started = time.perf_counter()
            move_complaints(conn, "complaint_loaded", "complaint_before")
            one.append(time.perf_counter() - started)
            conn.rollback()
    for _ in range(5):
        with engine.connect() as conn, conn.begin():
            started = time.perf_counter()
            refresh_days(conn, day, day)
            whole.append(time.perf_counter() - started)
            conn.rollback()
    complaints = pd.read_sql(sa.text("SELECT count(*) AS n FROM complaint"), engine)["n"].iat[0]
    print(f"tally: one complaint's update, {len(one)} times (a table of {complaints} complaints, "
          f"{day_rows} of them on the day {day})")
    _report("  move_complaints, one complaint", one)
    _report("  refresh_days, its whole day (baseline)", whole)
    print(f"  p95 ratio refresh / move: {np.percentile(whole, 95) / np.percentile(one, 95):.1f}x")


def _line_points(engine, count: int) -> list[tuple[float, float]]:
    """``count`` points 5 m inside a township from its shared line with another, one every
    kilometre along every shared line (each in a stretch of its own), in WGS84."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            WITH t AS (SELECT j.code, j.geom FROM jurisdiction j JOIN boundary_set s ON s.id = j.set_id
                       WHERE j.level = 'township' AND s.valid_to IS NULL),
            shared AS (SELECT a.code, a.geom AS inside,
                              ST_LineMerge(ST_CollectionExtract(ST_Intersection(ST_Boundary(a.geom),
                                                                                ST_Boundary(b.geom)), 2)) AS line
                       FROM t a JOIN t b ON a.code < b.code AND ST_Touches(a.geom, b.geom)),
            piece AS (SELECT code, inside, (ST_Dump(line)).geom AS g FROM shared WHERE NOT ST_IsEmpty(line)),
            stretch AS (SELECT code, inside, (ST_Dump(ST_LineInterpolatePoints(
                            g, least(0.5, 1000 / greatest(ST_Length(g::geography), 1)), true))).geom AS p
                        FROM piece)
            SELECT ST_X(q), ST_Y(q) FROM (
                SELECT ST_Project(p::geography, 5,
                                  ST_Azimuth(p, ST_ClosestPoint(inside, ST_Centroid(inside))))::geometry AS q
                FROM stretch) x
            WHERE q IS NOT NULL ORDER BY md5(ST_AsText(q))""")).all()
    if len(rows) < count:
        raise SystemExit(f"only {len(rows)} stretches of shared line for {count} points; ask for fewer")
    return [(float(x), float(y)) for x, y in rows[:count]]


def _wait_for(ready, every: float = 0.3, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except requests.ConnectionError:
            pass
        time.sleep(every)
    raise SystemExit(f"waited {timeout:g} s for {ready}")


def _report(name: str, seconds: list[float]) -> None:
    ms = np.array(seconds) * 1000
    print(f"{name}: p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, "
          f"max {ms.max():.1f} ms")


if __name__ == "__main__":
    main()
