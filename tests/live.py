"""Run the live platform's parts as real processes for the tests: the API (uvicorn), the worker."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pandas as pd
import requests
import sqlalchemy as sa

from tests.browser import free_port
from tests.helpers import ROOT, stop

# Guang'anmenwai (Xicheng) and Taipingqiao (Fengtai): the reform's own cross-district case.
GUANGANMENWAI, TAIPINGQIAO = "110102020", "110106002"


@contextmanager
def process(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """A ``python -m geo ...`` process with its output in a log file (printed if it fails)."""
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
    child = subprocess.Popen([sys.executable, "-m", "geo", *args], cwd=ROOT, env={**os.environ, **env},
                             stdout=log, stderr=subprocess.STDOUT)
    child.log_path = log.name
    try:
        yield child
    finally:
        stop(child)
        log.close()


def log_of(child: subprocess.Popen) -> str:
    with open(child.log_path, encoding="utf-8", errors="replace") as handle:
        return handle.read()[-4000:]


@contextmanager
def served_api(env: dict[str, str], *, timeout: float = 60.0) -> Iterator[str]:
    """Serve the Open311 API on a free loopback port; yield its base URL."""
    port = free_port()
    with process(["api", "--port", str(port)], env) as child:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            if child.poll() is not None:
                raise RuntimeError(f"the API exited with {child.returncode}:\n{log_of(child)}")
            try:
                if requests.get(base + "/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API did not answer in {timeout:g} s:\n{log_of(child)}")
            time.sleep(0.2)
        yield base


def line_point(engine, a: str = GUANGANMENWAI, b: str = TAIPINGQIAO) -> tuple[float, float]:
    """A point 5 m inside township ``a`` from its shared line with ``b`` (Guang'anmenwai's with
    Taipingqiao by default): a phone's 10 m fix reaches the line."""
    with engine.connect() as conn:
        lon, lat = conn.execute(sa.text(
            "WITH t AS (SELECT code, geom FROM jurisdiction WHERE level = 'township' AND code IN (:a, :b)), "
            "line AS (SELECT ST_Intersection(ST_Boundary(a.geom), ST_Boundary(b.geom)) AS g "
            "FROM t a, t b WHERE a.code = :a AND b.code = :b), "
            "p AS (SELECT ST_ClosestPoint(line.g, ST_Centroid(line.g)) AS g FROM line) "
            "SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Project(p.g::geography, 5, "
            "ST_Azimuth(p.g, ST_Centroid(a.geom)))::geometry AS g FROM p, t a WHERE a.code = :a) q"),
            {"a": a, "b": b}).one()
    return float(lon), float(lat)


def neighbour(engine, code: str, *, besides: tuple[str, ...] = ()) -> str:
    """The township sharing a line with ``code`` that comes first by code (apart from ``besides``)."""
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT b.code FROM jurisdiction a JOIN jurisdiction b ON b.level = 'township' AND b.code <> a.code "
            "AND ST_Length(ST_Intersection(ST_Boundary(a.geom), ST_Boundary(b.geom))::geography) > 100 "
            "WHERE a.level = 'township' AND a.code = :c AND NOT b.code = ANY(:besides) ORDER BY b.code LIMIT 1"),
            {"c": code, "besides": list(besides)}).scalar_one()


def plant(engine, folder: Path, name: str, rows: list[tuple[str, str, datetime, tuple[float, float]]], *,
          now: datetime) -> None:
    """Ingest the tests' own complaints, ``(id, category, received_at, (lon, lat))`` each, as a file a
    channel exports: a dispute or an emergency at a chosen spot, whatever the synthetic demo holds."""
    from geo.ingest.run_db import ingest_file

    export = folder / f"{name}.csv"
    pd.DataFrame([{"id": ident, "received_at": received.isoformat(timespec="seconds"), "category": category,
                   "lon": lon, "lat": lat, "text": "边界上的问题"}
                  for ident, category, received, (lon, lat) in rows]).to_csv(export, index=False)
    assert ingest_file(engine, export, now=now).inserted == len(rows)
