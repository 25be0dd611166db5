"""Ingest a hotline CSV end to end (parse, validate, locate, load, upsert) against plain COPY.

Run: ``.venv/bin/python bench/bench_ingest.py [--rows 1000000]``. The rows come from the
synthetic demo (Chinese column names, 20 % GCJ-02/BD-09, 3 % address-only, bad rows). A
scratch database ``whistle_bench_ingest`` is created afresh with the shipped boundaries; the
cell tables are built once beforehand (as ``make run`` leaves them cached).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import header, scratch_engine, timed
from boundaries.shipped import load_shipped
from geo.demo import synth
from geo.ingest.run_db import Mapping, ingest_file
from geo.locate.boundaries_db import boundary_index
from geo.locate.jurisdictions_db import current_jurisdictions
from geo.settings import load_settings

PER_DAY = 30_000


def plain_copy(engine: sa.Engine, path: Path, columns: list[str]) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS plain_copy")
        conn.exec_driver_sql(f"CREATE TABLE plain_copy ({', '.join(f'c{i} text' for i in range(len(columns)))})")
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy("COPY plain_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy, path.open("rb") as f:
            while block := f.read(1 << 20):
                copy.write(block)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(header())
    engine = scratch_engine("whistle_bench_ingest")
    load_shipped(engine)
    towns = current_jurisdictions(engine, "township", display=False)
    cache = load_settings().home / "var" / "cache"
    boundary_index(engine, cache_dir=cache).locate(
        pd.Series([116.4]).to_numpy(), pd.Series([39.9]).to_numpy(), pd.Series([pd.Timestamp.now(tz="UTC")]))
    mapping = Mapping(dict(synth.MAPPING))
    with tempfile.TemporaryDirectory() as tmp:
        days = max(1, round(args.rows / PER_DAY))
        year = synth.generate(towns, days=days, per_day=args.rows // days, seed=1, end="2026-10-01")
        day = synth.generate(towns, days=1, per_day=PER_DAY, seed=2, end="2026-11-01")
        big, small = Path(tmp) / "big.csv", Path(tmp) / "day.csv"
        year.frame.to_csv(big, index=False)
        day.frame.to_csv(small, index=False)
        copy_s, _ = timed(lambda: plain_copy(engine, big, list(year.frame.columns)))
        ingest_s, summary = timed(lambda: ingest_file(engine, big, mapping, now=year.truth_end))
        again_s, again = timed(lambda: ingest_file(engine, big, mapping, now=year.truth_end))
        day_s, day_summary = timed(lambda: ingest_file(engine, small, mapping, now=day.truth_end))
    rows = summary.rows
    print(f"ingest {rows:,} CSV rows end to end: {ingest_s:.2f} s = {rows / ingest_s:,.0f} rows/s "
          f"({summary.inserted:,} inserted, {summary.rejected:,} rejected)")
    print(f"plain COPY of the same file into a text table (the ceiling): {copy_s:.2f} s = "
          f"{rows / copy_s:,.0f} rows/s; ratio {ingest_s / copy_s:.1f}x the ceiling")
    print(f"the same file again (all unchanged: {again.unchanged:,}): {again_s:.2f} s")
    print(f"a day ({day_summary.rows:,} rows) into the loaded table: {day_s:.2f} s")
    engine.dispose()


if __name__ == "__main__":
    main()
