"""Score every detection against the full synthetic demo's ground truth.

Run: ``.venv/bin/python bench/score_demo.py [--days 90] [--per-day 30000] [--keep]``. It
loads the shipped boundaries and the demo into a scratch database (``whistle_score``; with
``--keep`` an existing one is reused), runs the emerging hot spots and the border cases as
``python -m geo detect`` would, and prints recall, precision and false positives with the
time each step took.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import header, scratch_engine, timed
from boundaries.shipped import load_shipped
from geo.demo import synth
from geo.demo.score import score_emerging
from geo.demo.score_db import score_borders
from geo.detect.borders_db import run_borders
from geo.detect.hotspots_db import run_emerging
from geo.ingest.run_db import Mapping, ingest_file
from geo.locate.jurisdictions_db import current_jurisdictions
from geo.store.engine import database_url

NAME = "whistle_score"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--per-day", type=int, default=30_000)
    parser.add_argument("--keep", action="store_true", help="reuse the loaded scratch database")
    options = parser.parse_args()
    print(header())
    engine, truth = _loaded(options)
    end = pd.Timestamp(truth["end"])
    start = end - timedelta(days=options.days)
    for resolution in (9, 8):
        seconds, result = timed(lambda res=resolution: run_emerging(
            engine, (end - timedelta(weeks=12)).to_pydatetime(), end.to_pydatetime(), step="week", resolution=res))
        print(f"emerging hot spots, 12 weeks by week, resolution {resolution}: {seconds:.2f} s")
        for score in score_emerging(result.cells, resolution, truth):
            print(f"  {score.family}: recall {score.recall:.2f} ({score.planted} planted), "
                  f"precision {score.precision:.3f} over {score.labelled} cells")
    year_start = (end - pd.DateOffset(months=13)).to_pydatetime()
    seconds, result = timed(lambda: run_emerging(engine, year_start, end.to_pydatetime(), step="half-month",
                                                 resolution=9))
    print(f"emerging hot spots over {result.cells.shape[0]:,} resolution-9 cells x 26 half-months from the "
          f"database (counting every stored complaint, Gi*, trend, patterns, storing): {seconds:.2f} s")
    seconds, found = timed(lambda: run_borders(engine, start.to_pydatetime(), end.to_pydatetime()))
    print(f"border cases over {options.days} days: {seconds:.2f} s; {json.dumps(found.found)}")
    score = score_borders(engine, truth)
    print(f"  planted border clusters found: {score.clusters_found} (recall {score.cluster_recall:.2f}); "
          f"cluster cases matching nothing planted: {score.cluster_false}, on a planted hot spot: "
          f"{score.cluster_at_hotspots}")
    print(f"  ping-pong recall {score.ping_pong_recall:.2f}, false positives {score.ping_pong_false}; "
          f"cases by kind {score.cases_by_kind}")


def _loaded(options) -> tuple[sa.Engine, dict]:
    url = sa.engine.make_url(database_url(start=True)).set(database=NAME)
    folder = Path(tempfile.gettempdir()) / NAME
    truth_file = folder / "truth.json"
    if options.keep and truth_file.exists():
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            if conn.execute(sa.text("SELECT count(*) FROM complaint")).scalar():
                return engine, json.loads(truth_file.read_text(encoding="utf-8"))
    engine = scratch_engine(NAME)
    load_shipped(engine)
    townships = current_jurisdictions(engine, "township", display=False)
    demo = synth.generate(townships, days=options.days, per_day=options.per_day, seed=7, end="2026-11-22")
    data, truth_file = synth.write(demo, folder)
    seconds, _ = timed(lambda: ingest_file(engine, data, Mapping(dict(synth.MAPPING)), now=demo.truth_end))
    print(f"demo of {len(demo.frame):,} rows generated and ingested; ingest {seconds:.0f} s")
    return engine, json.loads(truth_file.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
