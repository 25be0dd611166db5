"""Bench: what reading and checking a small batch costs (an API request's rows), against building
a plain pandas frame of the same rows in the same run (the floor of any pandas path).

    .venv/bin/python bench/bench_check.py [--runs 500] [--sizes 1,4,16]

The batch is read as the API reads a request (``batch_from_rows``) and checked, converted and
located as a file's rows are (``check_batch``) against the shipped boundaries, on a throwaway
PostGIS cluster; nothing is loaded. Prints p25 / p50 per batch and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--sizes", default="1,4,16")
    args = parser.parse_args()
    import sqlalchemy as sa

    from geo.ingest.mapping import Mapping
    from geo.ingest.privacy import phone_key
    from geo.ingest.readers import batch_from_rows
    from geo.ingest.validate import Context, check_batch
    from geo.locate.boundaries_db import boundary_index
    from geo.settings import load_settings
    from geo.store.cluster import LocalCluster

    cluster = LocalCluster(root=Path(tempfile.mkdtemp(prefix="whistle-bench-check-")), fast=True)
    cluster.start()
    try:
        env = {**os.environ, "DATABASE_URL": cluster.url()}
        for step in (("db", "upgrade"), ("boundaries", "load-shipped")):
            subprocess.run([sys.executable, "-m", "geo", *step], env=env, cwd=ROOT, check=True, capture_output=True)
        engine = sa.create_engine(cluster.url())
        settings = load_settings()
        with engine.connect() as conn:
            index = boundary_index(conn, 8, settings.home / "var" / "cache")
        engine.dispose()
        now = pd.Timestamp.now(tz="UTC")
        rng = np.random.default_rng(1)
        # A request as the API makes it of a posted complaint (geo/api/open311.py).
        row = {"received_at": now.tz_convert(settings.timezone).strftime("%Y-%m-%d %H:%M:%S"),
               "category": "illegal_parking", "text": "占道停车", "channel": "app", "phone": "13812345678"}
        for size in (int(s) for s in args.sizes.split(",")):
            def rows(k: int, size: int = size) -> list[dict]:
                return [{**row, "id": f"BENCH-{size}-{k}-{j}", "lon": f"{rng.uniform(116.3, 116.45):.6f}",
                         "lat": f"{rng.uniform(39.85, 39.95):.6f}"} for j in range(size)]

            def checked(k: int) -> None:
                check_batch(batch_from_rows(rows(k)), Context(now, index, phone_key(settings), Mapping()))

            plain = _times(lambda k: pd.DataFrame(rows(k)), args.runs)
            ours = _times(checked, args.runs)
            print(f"{size:>3} rows: read + check p25 {np.percentile(ours, 25):.2f} ms, p50 {np.median(ours):.2f} ms; "
                  f"plain DataFrame p50 {np.median(plain):.3f} ms; ratio {np.median(ours) / np.median(plain):.0f}x")
    finally:
        cluster.stop()


def _times(step, runs: int) -> np.ndarray:
    # The first tenth warms the caches (the gazetteer, the lookups) and is left out.
    times = []
    for k in range(runs):
        start = time.perf_counter()
        step(k)
        times.append(time.perf_counter() - start)
    return np.array(times[runs // 10:]) * 1000


if __name__ == "__main__":
    main()
