"""Bench: the Open311 API's POST requests.json latency, against a plain GET /health on the same
server in the same run (uvicorn in its own process, a throwaway PostGIS cluster, loopback only).

    .venv/bin/python bench/bench_api.py [--seconds 60] [--rate 50]

Open loop: request ``i`` is due at ``i / rate`` seconds whatever the answers before it (up to 64
in flight, ``rate * seconds`` in all, then it stops by itself), and its latency counts from
when it was due, so that a server that falls behind shows it. Prints p50/p95/p99, sent =
accepted + rejected, the requests per ingest batch, and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--api-workers", type=int, default=1, help="the API's processes (geo api --workers)")
    args = parser.parse_args()
    args.requests = int(args.rate * args.seconds)
    from geo.api.keys_db import add_key
    from geo.store.cluster import LocalCluster

    root = Path(tempfile.mkdtemp(prefix="whistle-bench-api-"))
    cluster = LocalCluster(root=root, fast=True)
    cluster.start()
    env = {**os.environ, "DATABASE_URL": cluster.url()}
    geo = lambda *a: subprocess.run([sys.executable, "-m", "geo", *a], env=env, cwd=ROOT, check=True,  # noqa: E731
                                    capture_output=True)
    geo("db", "upgrade")
    geo("boundaries", "load-shipped")
    import sqlalchemy as sa

    engine = sa.create_engine(cluster.url())
    key = add_key(engine, "bench", "channel", "app")
    api = subprocess.Popen([sys.executable, "-m", "geo", "api", "--port", "18399",
                            "--workers", str(args.api_workers)], env=env, cwd=ROOT)
    base = "http://127.0.0.1:18399"
    try:
        for _ in range(100):
            try:
                if requests.get(base + "/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.3)
        sessions = threading.local()

        def session() -> requests.Session:
            if not hasattr(sessions, "it"):
                sessions.it = requests.Session()
            return sessions.it

        baseline = _timed(lambda i: session().get(base + "/health", timeout=10), args.requests, args.rate)
        rng = np.random.default_rng(1)
        lons, lats = rng.uniform(116.25, 116.5, args.requests), rng.uniform(39.8, 40.0, args.requests)

        def post(i: int):
            return session().post(base + "/open311/v2/requests.json", timeout=30, data={
                "api_key": key, "service_code": "illegal_parking", "lat": f"{lats[i]:.6f}", "long": f"{lons[i]:.6f}",
                "description": "占道停车", "attribute[channel_request_id]": f"BENCH-{i}"})

        posted = _timed(post, args.requests, args.rate)
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT count(*) FROM complaint")).scalar()
            rejected = conn.execute(sa.text("SELECT count(*) FROM rejected_row")).scalar()
            batches = conn.execute(sa.text("SELECT count(*) FROM ingest_run WHERE source = 'api:bench'")).scalar()
        for name, (times, codes, elapsed) in (("GET /health (baseline)", baseline), ("POST requests.json", posted)):
            ms = np.array(times) * 1000
            print(f"{name}: {len(ms)} in {elapsed:.1f} s ({len(ms) / elapsed:.1f}/s); "
                  f"p50 {np.percentile(ms, 50):.1f} ms, "
                  f"p95 {np.percentile(ms, 95):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms; codes {codes}")
        ratio = np.percentile(posted[0], 95) / np.percentile(baseline[0], 95)
        print(f"{batches} ingest batches: {args.requests / max(batches, 1):.1f} requests a batch")
        print(f"stored {stored} + rejected {rejected} = {stored + rejected} of {args.requests} sent; "
              f"p95 ratio POST / baseline: {ratio:.1f}x")
    finally:
        api.terminate()
        api.wait()
        engine.dispose()
        cluster.stop()


def _timed(call, count: int, rate: float):
    # Each request is due at its own time, sent by one of 64 threads; its latency runs from
    # the moment it was due (a late send is the server's lateness too).
    start = time.perf_counter()

    def one(i: int):
        due = start + i / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        answer = call(i)
        return time.perf_counter() - due, answer.status_code

    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(one, range(count)))
    codes: dict[int, int] = {}
    for _t, code in results:
        codes[code] = codes.get(code, 0) + 1
    return [t for t, _c in results], codes, time.perf_counter() - start


if __name__ == "__main__":
    main()
