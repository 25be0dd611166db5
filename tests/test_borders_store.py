"""Border cases over stored complaints: every planted case found, stored once, on the CLI."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from pyproj import Transformer

from geo.demo.score_db import score_borders
from geo.detect.borders import BorderLines, shared_lines
from geo.detect.borders_db import border_cases, run_borders
from geo.detect.cases import cluster_windows
from geo.detect.rules import detect_rules
from geo.errors import ValidationError
from tests.conftest import demo_database
from tests.helpers import geo

TZ = ZoneInfo("Asia/Shanghai")
START, END = datetime(2026, 10, 23, tzinfo=TZ), datetime(2026, 11, 22, tzinfo=TZ)


@pytest.fixture(scope="module")
def demo_db(pg_cluster, boundaries_template, boundary_index, townships, tmp_path_factory):
    """30 days of the demo at 3,000 a day, loaded once for the module."""
    with demo_database(pg_cluster, boundaries_template, boundary_index, townships, tmp_path_factory.mktemp("demo"),
                       days=30, per_day=3000, seed=11, end="2026-11-22") as db:
        yield db


@pytest.fixture(scope="module")
def border(townships):
    return BorderLines.build(townships)


@pytest.fixture(scope="module")
def detected(demo_db, border):
    _, engine, _ = demo_db
    return run_borders(engine, START, END, lines=border)


def test_every_planted_case_is_found_with_its_townships(demo_db, detected):
    _, engine, truth = demo_db
    score = score_borders(engine, truth)
    assert score.cluster_recall == 1.0, score
    assert score.ping_pong_recall == 1.0, score
    domain = next(c for c in truth["border_clusters"] if c["domain_case"])
    assert domain["townships"] == ["110102020", "110106002"]
    assert domain["id"] in score.clusters_found
    assert score.ping_pong_false == 0
    assert score.cluster_false <= 2, score
    cases = border_cases(engine, kind="cluster")
    assert (cases["townships"].map(len) >= 2).all()
    assert detected.found["near"]["cases"] > 100
    assert detected.found["pingpong"]["cases"] == len(truth["ping_pong"])


def test_near_distances_are_shapely_exact_and_cases_are_complete(demo_db, detected, townships):
    _, engine, _ = demo_db
    with engine.connect() as conn:
        rows = pd.DataFrame(conn.execute(sa.text(
            "SELECT b.id, b.townships, b.districts, b.first_seen, b.last_seen, b.complaints, l.distance_m, "
            "c.lon, c.lat, c.received_at, ST_Covers(ST_Buffer(b.geom, 1e-9), c.geom) AS covered "
            "FROM border_case b JOIN border_case_complaint l ON l.case_id = b.id "
            "JOIN complaint c ON c.id = l.complaint_id WHERE b.kind = 'near'")).mappings().all())
    assert rows["distance_m"].max() <= 50.0
    assert rows["covered"].all()
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True).transform(rows["lon"], rows["lat"])
    lines = shared_lines(townships).set_index(["a", "b"]).geometry
    # Two townships: the distance to their line; at a junction (three or more) it is the nearest line's.
    exact = [shapely.distance(shapely.Point(px, py), lines[tuple(towns)]) if len(towns) == 2 else d
             for px, py, towns, d in zip(x, y, rows["townships"], rows["distance_m"], strict=True)]
    np.testing.assert_allclose(rows["distance_m"], exact, atol=1e-6)
    per_case = rows.groupby("id").agg(n=("lon", "size"), first=("received_at", "min"), last=("received_at", "max"),
                                      stored=("complaints", "first"), first_seen=("first_seen", "first"),
                                      last_seen=("last_seen", "first"))
    assert (per_case["n"] == per_case["stored"]).all()
    assert (per_case["first"] == per_case["first_seen"]).all()
    assert (per_case["last"] == per_case["last_seen"]).all()
    assert (rows["districts"].map(len) >= 1).all()


def test_running_again_adds_nothing_twice(demo_db, detected, border):
    _, engine, _ = demo_db
    count = "SELECT (SELECT count(*) FROM border_case), (SELECT count(*) FROM border_case_complaint), " \
            "(SELECT sum(complaints) FROM border_case)"
    with engine.connect() as conn:
        before = conn.execute(sa.text(count)).one()
    again = run_borders(engine, START, END, lines=border)
    with engine.connect() as conn:
        after = conn.execute(sa.text(count)).one()
        runs = conn.execute(sa.text("SELECT count(*) FROM border_run")).scalar()
    assert tuple(before) == tuple(after)
    assert again.found == detected.found
    assert runs >= 2
    # A later, shorter period adds to the cases it already knows.
    week = run_borders(engine, datetime(2026, 11, 15, tzinfo=TZ), END, lines=border)
    with engine.connect() as conn:
        assert tuple(conn.execute(sa.text(count)).one())[:2] == tuple(after)[:2]
    assert 0 < week.found["near"]["complaints"] < detected.found["near"]["complaints"]


def test_windows_and_bad_parameters(demo_db):
    _, engine, _ = demo_db
    windows = cluster_windows(datetime(2026, 9, 1, tzinfo=TZ), END, 30)
    assert windows[-1][1] == END
    assert windows[0][0] == datetime(2026, 9, 1, tzinfo=TZ)
    assert all(b == c for (_, b), (c, _) in itertools.pairwise(windows))
    with pytest.raises(ValidationError, match="distance_m"):
        run_borders(engine, START, END, params=dataclasses.replace(detect_rules().borders, distance_m=-5))
    with pytest.raises(ValidationError, match="before its end"):
        run_borders(engine, END, START)
    with pytest.raises(ValidationError, match="unknown"):
        run_borders(engine, START, END, category="ufo")
    with pytest.raises(ValidationError, match="unknown"):
        border_cases(engine, kind="sideways")


def test_the_command_line_detects_borders_and_everything(demo_db):
    url, _, _ = demo_db
    env = {"DATABASE_URL": url}
    done = geo("detect", "borders", "--from", "2026-11-01", "--to", "2026-11-22", env=env)
    assert done.returncode == 0, done.stderr
    assert "near the line" in done.stdout
    assert "ping-pong" in done.stdout
    everything = geo("detect", "--from", "2026-10-23", "--to", "2026-11-22", "--res", "8", env=env)
    assert everything.returncode == 0, everything.stderr
    for word in ("hot spot run", "emerging hot spot run", "border run"):
        assert word in everything.stdout
    again = geo("detect", "--only-if-empty", env=env)
    assert again.returncode == 0, again.stderr
    assert "already stored" in again.stdout
    bad = geo("detect", "borders", "--distance", "-3", env=env)
    assert bad.returncode == 1
    assert "distance_m" in bad.stderr
