"""Bench: a day of the city replayed live through the API, against a bulk ingest of the same day.

    .venv/bin/python bench/bench_replay.py [--speed 100] [--per-day 30000]

On a throwaway PostGIS cluster: the API and the worker serve one database; ``geo replay`` plays
one generated day (its complaints and every later dispatch, response, resolution and callback,
each at its time) through the API at ``--speed``. The same day's export is then ingested in bulk
into a second database of the same cluster, and the two are compared: complaints stored, their
status columns, and every tally row of the day (``township_day``, ``city_day``, ``cell_day``).
Prints the wall time against the timeline's length at that speed (a replay that keeps up takes
that long: the day's updates run on past its end), how late the posts went after their moments
(a replay that keeps up stays within a second or two), and the differences (none, when equal).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TALLIES = ("township_day", "city_day", "cell_day")
STATUS = ("count(*)", "count(dispatched_at)", "count(responded_at)", "count(resolved)", "count(satisfaction)",
          "sum(returned_count)", "count(*) FILTER (WHERE resolved)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--speed", type=float, default=100.0)
    parser.add_argument("--per-day", type=int, default=30_000)
    parser.add_argument("--workers", type=int, default=40, help="the replay's requests in flight")
    args = parser.parse_args()

    from geo.store.cluster import LocalCluster

    home = Path(tempfile.mkdtemp(prefix="whistle-bench-replay-"))
    cluster = LocalCluster(root=home / "pg", fast=True)
    cluster.start()
    try:
        _bench(cluster, args)
    finally:
        cluster.stop()


def _bench(cluster, args) -> None:
    import sqlalchemy as sa

    live_url = cluster.url()
    bulk_url = _second_database(cluster, "whistle_bulk")
    env = {**os.environ, "WHISTLE_LOG": "WARNING"}
    for url in (live_url, bulk_url):
        for step in (("db", "upgrade"), ("boundaries", "load-shipped")):
            subprocess.run([sys.executable, "-m", "geo", *step], env={**env, "DATABASE_URL": url}, cwd=ROOT,
                           check=True, capture_output=True)
    live_env = {**env, "DATABASE_URL": live_url}
    api = subprocess.Popen([sys.executable, "-m", "geo", "api", "--port", "18397"], env=live_env, cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "geo", "worker"], env=live_env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        started = time.perf_counter()
        played = subprocess.run([sys.executable, "-m", "geo", "replay", "--speed", f"{args.speed:g}", "--days", "1",
                                 "--per-day", str(args.per_day), "--workers", str(args.workers),
                                 "--api", "http://127.0.0.1:18397"],
                                env=live_env, cwd=ROOT, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - started
    finally:
        for child in (api, worker):
            child.terminate()
        for child in (api, worker):
            child.wait(90)
    said = " ".join(played.stdout.split())
    # The day's updates run on past its end (a hand-off at 23:50 is resolved tomorrow), so the
    # replay's wall time is the timeline's length at that speed when it keeps up; whether it
    # keeps up is how late its posts went.
    span = re.search(r"([\d,.]+) s of wall time", said)
    late = re.search(r"at most ([\d,]+) s \(clock\) after its moment, 95 % within ([\d,]+) s", said)
    print(f"replay at {args.speed:g}x, {args.workers} in flight: {wall:.0f} s wall (generating the day "
          f"included) for a timeline of {span.group(1) if span else '?'} s at that speed (the day alone: "
          f"{86_400 / args.speed:.0f} s); posts at most "
          f"{_wall(late.group(1), args.speed) if late else '?'} s (wall) after their moment, 95 % within "
          f"{_wall(late.group(2), args.speed) if late else '?'} s")
    print("  " + re.sub(r"\s+", " ", said)[-400:])
    export = max((ROOT / "var" / "replay").glob("*.parquet"), key=lambda p: p.stat().st_mtime)
    subprocess.run([sys.executable, "-c", _BULK, str(export)], env={**env, "DATABASE_URL": bulk_url}, cwd=ROOT,
                   check=True)
    live, bulk = sa.create_engine(live_url), sa.create_engine(bulk_url)
    differences = 0
    for name, sql in (("complaints", f"SELECT {', '.join(STATUS)} FROM complaint"),
                      *((table, f"SELECT * FROM {table} ORDER BY 1, 2, 3") for table in TALLIES)):
        with live.connect() as a, bulk.connect() as b:
            left, right = a.execute(sa.text(sql)).all(), b.execute(sa.text(sql)).all()
        same = [tuple(r) for r in left] == [tuple(r) for r in right]
        differences += not same
        shown = left[0] if name == "complaints" else f"{len(left)} rows"
        print(f"  {name}: replay {shown} / bulk {right[0] if name == 'complaints' else f'{len(right)} rows'}: "
              f"{'equal' if same else 'DIFFERENT'}")
        if not same and name != "complaints":
            only_live, only_bulk = set(map(tuple, left)) - set(map(tuple, right)), set(map(tuple, right)) - set(
                map(tuple, left))
            print(f"    {len(only_live)} rows only in the replay, {len(only_bulk)} only in the bulk ingest; e.g. "
                  f"{sorted(only_live)[:2]} / {sorted(only_bulk)[:2]}")
    print(f"  columns compared for complaints: {', '.join(STATUS)}")
    with live.connect() as a, bulk.connect() as b:
        ids = "SELECT source_id FROM complaint"
        left, right = set(a.execute(sa.text(ids)).scalars()), set(b.execute(sa.text(ids)).scalars())
        for only, there, other in ((left - right, "replay", b), (right - left, "bulk ingest", a)):
            for rid in sorted(only)[:5]:
                why = other.execute(sa.text("SELECT reason FROM rejected_row WHERE source_id = :r LIMIT 1"),
                                    {"r": rid}).scalar()
                print(f"  {rid} is only in the {there}; the other rejected it: {why or 'it was never sent'}")
    print("the replay equals the bulk ingest" if not differences else f"{differences} tables differ")
    live.dispose()
    bulk.dispose()


# The bulk ingest of the replayed export, as `geo demo` ingests its own (the demo's mapping).
_BULK = """
import sys
from pathlib import Path
import pandas as pd
from geo.demo import synth
from geo.ingest.run_db import ingest_file
from geo.ingest.mapping import Mapping
from geo.store.engine import make_engine
summary = ingest_file(make_engine(), Path(sys.argv[1]), Mapping(dict(synth.MAPPING)),
                      now=pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=400))
print("  bulk ingest:", summary.as_dict()["inserted"], "inserted,", summary.rejected, "rejected")
"""


def _wall(clock_seconds: str, speed: float) -> str:
    return f"{float(clock_seconds.replace(',', '')) / speed:.1f}"


def _second_database(cluster, name: str) -> str:
    # A copy of the empty database, PostGIS included (made before anything connects to it).
    import sqlalchemy as sa

    engine = sa.create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{sa.make_url(cluster.url()).database}"')
    engine.dispose()
    return cluster.url(name)


if __name__ == "__main__":
    main()
