"""Ingest hotline exports end to end (parse, check, convert, geocode, locate, load, tallies)
against a plain COPY of the same file.

Run: ``.venv/bin/python bench/bench_ingest.py [--rows 1000000] [--year 10000000] [--demo]``.

- ``--rows N``: N new rows as CSV into an empty table, the same file again (all unchanged),
  then a day (30,000 rows) into the loaded table; the ceiling is a plain COPY of the CSV
  into a table of text columns, in the same run.
- ``--year N``: N rows (a year is 10 M) as Parquet, written month by month, loaded by the
  command line (``python -m geo ingest``) in a child process whose peak RSS is reported;
  then a day into that table. Needs about 1.5 KB of disk per row.
- ``--demo``: ``python -m geo demo`` (90 days x 30,000: generated and loaded), the bulk of
  ``make run``'s first start.
- ``--profile``: where the time of one batch goes, stage by stage (read, look up, check,
  encode, COPY), each timed alone, and the ten costliest functions of the checks.

The rows come from the synthetic demo (Chinese column names, 20 % GCJ-02/BD-09, 3 %
address-only, bad rows). Scratch databases ``whistle_bench_*`` are created afresh with the
shipped boundaries; the cell tables are built once beforehand (as ``make run`` leaves them
cached).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import header, scratch_engine, timed
from boundaries.shipped import load_shipped
from geo.demo import synth
from geo.ingest.run_db import Mapping, ingest_file
from geo.locate.boundaries_db import boundary_index
from geo.locate.jurisdictions_db import current_jurisdictions
from geo.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
PER_DAY = 30_000
MAPPING = ROOT / "geo" / "data" / "demo_mapping.yaml"


def plain_copy(engine: sa.Engine, path: Path, columns: list[str]) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS plain_copy")
        conn.exec_driver_sql(f"CREATE TABLE plain_copy ({', '.join(f'c{i} text' for i in range(len(columns)))})")
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy("COPY plain_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy, path.open("rb") as f:
            while block := f.read(1 << 20):
                copy.write(block)


def prepared(name: str):
    """A scratch database with the shipped boundaries, its townships, and warm cell tables."""
    engine = scratch_engine(name)
    load_shipped(engine)
    towns = current_jurisdictions(engine, "township", display=False)
    cache = load_settings().home / "var" / "cache"
    boundary_index(engine, cache_dir=cache).locate(
        pd.Series([116.4]).to_numpy(), pd.Series([39.9]).to_numpy(), pd.Series([pd.Timestamp.now(tz="UTC")]))
    return engine, towns


def day_into(engine: sa.Engine, towns, tmp: Path, end: str) -> tuple[float, int]:
    """Ingest a new day (the day before ``end``, after every stored one); return its seconds and rows."""
    day = synth.generate(towns, days=1, per_day=PER_DAY, seed=2, end=end)
    path = tmp / "day.csv"
    day.frame.to_csv(path, index=False)
    seconds, summary = timed(lambda: ingest_file(engine, path, Mapping(dict(synth.MAPPING)), now=day.truth_end))
    return seconds, summary.rows


def bench_rows(rows: int) -> None:
    engine, towns = prepared("whistle_bench_ingest")
    mapping = Mapping(dict(synth.MAPPING))
    with tempfile.TemporaryDirectory() as tmp:
        days = max(1, round(rows / PER_DAY))
        year = synth.generate(towns, days=days, per_day=rows // days, seed=1, end="2026-10-01")
        big = Path(tmp) / "big.csv"
        year.frame.to_csv(big, index=False)
        copy_s, _ = timed(lambda: plain_copy(engine, big, list(year.frame.columns)))
        ingest_s, summary = timed(lambda: ingest_file(engine, big, mapping, now=year.truth_end))
        again_s, again = timed(lambda: ingest_file(engine, big, mapping, now=year.truth_end))
        day_s, day_rows = day_into(engine, towns, Path(tmp), end="2026-11-01")
    n = summary.rows
    print(f"ingest {n:,} new CSV rows end to end: {ingest_s:.2f} s = {n / ingest_s:,.0f} rows/s "
          f"({summary.inserted:,} inserted, {summary.rejected:,} rejected)")
    print(f"plain COPY of the same file into a text table (the ceiling): {copy_s:.2f} s = "
          f"{n / copy_s:,.0f} rows/s; ratio {ingest_s / copy_s:.1f}x the ceiling")
    print(f"the same file again (all unchanged: {again.unchanged:,}): {again_s:.2f} s = {n / again_s:,.0f} rows/s; "
          f"ratio {again_s / copy_s:.1f}x the ceiling")
    print(f"a day ({day_rows:,} rows) into the loaded table of {summary.inserted:,}, tallies included: {day_s:.2f} s")
    engine.dispose()


def bench_year(rows: int) -> None:
    engine, towns = prepared("whistle_bench_year")
    url = engine.url.render_as_string(hide_password=False)
    months = 12
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "year.parquet"
        made_s, written = timed(lambda: _write_year(towns, rows, months, path))
        print(f"generated {written:,} rows as Parquet ({path.stat().st_size / 1e9:.2f} GB) in {made_s:.0f} s")
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        load_s, done = timed(lambda: subprocess.run(
            [sys.executable, "-m", "geo", "ingest", str(path), "--mapping", str(MAPPING)], cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True))
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        print(f"a year from Parquet ({written:,} rows) by `python -m geo ingest`: {load_s:.1f} s = "
              f"{written / load_s:,.0f} rows/s; peak RSS of the loader {max(peak, before) / 1024:,.0f} MB")
        stored = sa.create_engine(url)
        with stored.connect() as conn:
            count = conn.execute(sa.text("SELECT count(*) FROM complaint")).scalar_one()
        day_s, day_rows = day_into(stored, towns, Path(tmp), end="2026-11-02")
    print(f"a day ({day_rows:,} rows) into the table of {count:,}, tallies included: {day_s:.2f} s")
    stored.dispose()
    engine.dispose()


def _write_year(towns, rows: int, months: int, path: Path) -> int:
    # Month by month, so that generating a year needs a month's memory.
    written, writer = 0, None
    per_day = max(1, rows // (months * 30))
    try:
        for month in range(months):
            end = pd.Timestamp("2025-11-01") + pd.DateOffset(months=month + 1)
            part = synth.generate(towns, days=30, per_day=per_day, seed=100 + month, end=end)
            table = pa.Table.from_pandas(part.frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table.cast(writer.schema))
            written += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return written


def bench_demo() -> None:
    engine, _ = prepared("whistle_bench_demo")
    url = engine.url.render_as_string(hide_password=False)
    with tempfile.TemporaryDirectory() as tmp:
        seconds, done = timed(lambda: subprocess.run(
            [sys.executable, "-m", "geo", "demo", "--days", "90", "--per-day", "30000", "--folder", tmp],
            cwd=ROOT, env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True))
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM complaint")).scalar_one()
    print(f"`python -m geo demo` (90 days x 30,000: generate and load {count:,} complaints): {seconds:.1f} s")
    engine.dispose()


def bench_profile() -> None:
    import cProfile
    import pstats

    from geo.ingest.load_db import create_stage, encode, insert_new, known_categories
    from geo.ingest.privacy import phone_key
    from geo.ingest.readers import read_batches
    from geo.ingest.run_db import IngestSummary, _pass_unchanged
    from geo.ingest.seen import SeenIds
    from geo.ingest.validate import Context, check_batch

    engine, towns = prepared("whistle_bench_profile")
    settings = load_settings()
    mapping = Mapping(dict(synth.MAPPING))
    with tempfile.TemporaryDirectory() as tmp:
        demo = synth.generate(towns, days=2, per_day=PER_DAY, seed=1, end="2026-10-01")
        path = Path(tmp) / "two_days.csv"
        demo.frame.to_csv(path, index=False)
        ingest_file(engine, path, mapping, now=demo.truth_end)  # stored: the lookup has rows to find
        with engine.begin() as conn:
            index = boundary_index(conn, cache_dir=settings.home / "var" / "cache")
            categories = known_categories(conn)
            context = Context(demo.truth_end, index, phone_key(settings), mapping, settings.earliest_year)
            read_s, batch = timed(lambda: next(iter(read_batches(path, mapping))))
            lookup_s, _ = timed(lambda: _pass_unchanged(conn, batch, context, IngestSummary(0, "")))
            context = replace(context, seen=SeenIds())
            check_s, checked = timed(lambda: check_batch(batch, context))
            encode_s, encoded = timed(lambda: encode(checked.rows, 0, categories))
            conn.exec_driver_sql("TRUNCATE complaint CASCADE")
            create_stage(conn)
            copy_s, _ = timed(lambda: insert_new(conn, encoded))
            conn.rollback()
        rows = len(batch.frame)
        print(f"one batch of {rows:,} rows: read {read_s:.2f} s, look up stored rows {lookup_s:.2f} s, "
              f"check and locate {check_s:.2f} s, encode {encode_s:.2f} s (Python); "
              f"COPY into complaint {copy_s:.2f} s (PostgreSQL)")
        context = replace(context, seen=SeenIds())
        profile = cProfile.Profile()
        profile.runcall(check_batch, batch, context)
        pstats.Stats(profile).sort_stats("tottime").print_stats(10)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000, help="new CSV rows (0 to skip)")
    parser.add_argument("--year", type=int, default=0, help="rows of a Parquet year (10000000 for a real one)")
    parser.add_argument("--demo", action="store_true", help="time `python -m geo demo` (make run's first load)")
    parser.add_argument("--profile", action="store_true", help="where one batch's time goes")
    args = parser.parse_args()
    print(header())
    if args.rows:
        bench_rows(args.rows)
    if args.year:
        bench_year(args.year)
    if args.demo:
        bench_demo()
    if args.profile:
        bench_profile()


if __name__ == "__main__":
    main()
