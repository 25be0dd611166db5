"""Score the whistle calls the rules raise and propose on the 90-day demo against its planted truth.

Run: ``.venv/bin/python bench/score_calls.py [--source whistle] [--days 90] [--baseline]``.

It copies the demo database that ``make run`` loaded (``--source``, on the local cluster) into a
scratch database, brings its schema up to date, detects the border cases of the period with the
rules in use, then raises calls once a day at each day's end, as the live worker would, and prints:

- calls raised and proposed per day (the coordinators' queue and the street offices' proposals);
- every planted dispute's calls: each planted border cluster and ping-pong complaint, and each
  footprint across a line, should have exactly one;
- the share of all calls raised or proposed that answer a planted dispute, a footprint across a
  line or an emergency on a line (its location's uncertainty reaching the line).

``--baseline`` does the same in a second copy with the plain rules of before this calibration
(every case raises; near means within ``distance_m`` whatever the location's uncertainty), in
one pass at the period's end as ``whistle raise --at latest`` did (daily passes over its 65,000
near cases take over an hour).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import header, scratch_engine, timed
from geo.act.whistle import WhistleRules
from geo.act.whistle_db import raise_calls
from geo.detect.borders_db import run_borders
from geo.detect.rules import detect_rules
from geo.locate.geometry import to_crs
from geo.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="whistle", help="the database holding the loaded demo")
    parser.add_argument("--truth", default="var/demo/truth.json")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--baseline", action="store_true")
    options = parser.parse_args()
    print(header())
    truth = json.loads(Path(options.truth).read_text(encoding="utf-8"))
    end = pd.Timestamp(truth["end"]).to_pydatetime()
    start = end - timedelta(days=options.days)
    daily = [start + timedelta(days=d + 1) for d in range(options.days)]
    runs = [("calibrated", None, None, daily)]
    if options.baseline:
        params = detect_rules().borders
        loose = replace(params, uncertainty=dict.fromkeys(params.uncertainty, params.distance_m))
        rules = WhistleRules.load()
        runs.append(("plain (before)", loose, replace(rules, cases=dict.fromkeys(rules.cases, "raise"),
                                                      near_min_complaints=1), [end]))
    for name, params, rules, passes in runs:
        engine = _copy(options.source, "whistle_calls")
        seconds, found = timed(lambda p=params, e=engine: run_borders(e, start, end, params=p))
        print(f"\n## {name}\nborder cases over {options.days} days: {seconds:.1f} s; {json.dumps(found.found)}")
        seconds, _ = timed(lambda r=rules, e=engine, at=passes: [raise_calls(e, now=moment, rules=r) for moment in at])
        print(f"{len(passes)} pass(es) of the rules: {seconds:.1f} s")
        _score(engine, truth, start, options.days)
        engine.dispose()


def _copy(source: str, name: str) -> sa.Engine:
    engine = scratch_engine(name, template=source)
    with engine.begin() as conn:  # the demo's own calls and cases go: the rules raise them again
        conn.execute(sa.text("TRUNCATE whistle_call, border_case, border_run CASCADE"))
    return engine


def _score(engine: sa.Engine, truth: dict, start, days: int) -> None:
    zone = load_settings().city.zone
    with engine.connect() as conn:
        calls = pd.read_sql(sa.text(
            "SELECT c.id, c.case_id, c.kind, c.state, c.raised_at, b.kind AS case_kind FROM whistle_call c "
            "JOIN border_case b ON b.id = c.case_id"), conn)
        members = pd.read_sql(sa.text(
            "SELECT w.call_id, p.source_id FROM whistle_call_complaint w JOIN complaint p ON p.id = w.complaint_id"),
            conn)
        clusters = pd.read_sql(sa.text(
            "SELECT id, townships, ST_AsText(geom) AS wkt FROM border_case WHERE kind = 'cluster'"), conn)
        across = int(conn.execute(sa.text("SELECT count(*) FROM border_case WHERE kind = 'across'")).scalar())
    day = calls["raised_at"].dt.tz_convert(zone).dt.date
    per_day = calls.assign(day=day).groupby(["day", "state"]).size().unstack(fill_value=0)
    for state in ("raised", "proposed"):
        if state in per_day:
            column = per_day[state].reindex(pd.date_range(start.date(), periods=days + 1).date, fill_value=0)
            print(f"{state} per day: median {column.median():.0f}, max {column.max():,}, total {column.sum():,}")
    print("calls by kind and case:", calls.groupby(["state", "kind", "case_kind"]).size().to_dict())
    # Planted clusters: the cluster cases within 200 m of a planted centre naming its townships.
    metric = load_settings().metric_crs
    shapes = to_crs(shapely.from_wkt(clusters["wkt"].to_numpy()), metric)
    planted_cases = {}
    for plant in truth["border_clusters"]:
        centre = to_crs(shapely.points(plant["lon"], plant["lat"]), metric)
        hits = (shapely.distance(shapes, centre) <= 200) & clusters["townships"].map(
            lambda towns, want=set(plant["townships"]): want <= set(towns)).to_numpy(dtype=bool)
        planted_cases[plant["id"]] = set(clusters["id"][hits])
    on_case = calls.groupby("case_id").size()
    cluster_calls = [sum(int(on_case.get(c, 0)) for c in cases) for cases in planted_cases.values()]
    print(f"planted border clusters: {len(cluster_calls)}, calls each {cluster_calls}")
    # Planted ping-pong: the calls whose complaints include each planted complaint (exactly one).
    pinged = {p["id"] for p in truth["ping_pong"]}
    in_window = members[members["source_id"].isin(pinged)].groupby("source_id")["call_id"].nunique()
    with engine.connect() as conn:
        seen = set(conn.execute(sa.text("SELECT source_id FROM complaint WHERE source_id = ANY(:ids) AND "
                                        "received_at >= :s"), {"ids": list(pinged), "s": start}).scalars())
    counts = in_window.reindex(sorted(seen), fill_value=0)
    print(f"planted ping-pong complaints in the period: {len(counts)}; with exactly one call "
          f"{int((counts == 1).sum())}, none {int((counts == 0).sum())}, more {int((counts > 1).sum())}")
    footprint_calls = calls[calls["case_kind"] == "across"]
    print(f"footprints across a line: {across} cases, {len(footprint_calls)} calls")
    planted_ids = set().union(*planted_cases.values()) if planted_cases else set()
    pingpong_calls = set(members[members["source_id"].isin(pinged)]["call_id"])
    right = (calls["case_id"].isin(planted_ids) | calls["id"].isin(pingpong_calls)
             | (calls["case_kind"] == "across") | (calls["kind"] == "emergency"))
    print(f"calls raised or proposed: {len(calls):,}; answering a planted dispute, a footprint across a line or "
          f"an emergency on a line: {int(right.sum()):,} (precision {right.mean() if len(calls) else np.nan:.3f})")


if __name__ == "__main__":
    main()
