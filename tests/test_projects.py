"""Remediation projects: validation, tasks and events, and effects against planted truth."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from geo.act.projects import EffectRules, ProjectSpec, check_spec, effect, half_month, half_months
from geo.act.projects_db import (
    create_project,
    effects,
    project_detail,
    projects,
    set_task,
    update_project,
)
from geo.errors import ConflictError, ValidationError
from geo.store.tally import refresh_days, refresh_tally
from tests.helpers import assert_one_line_error, geo

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 1, 9, tzinfo=TZ)
GUANGANMENWAI, TAIPINGQIAO = "110102020", "110106002"
START, END = date(2026, 4, 1), date(2026, 7, 1)
RULES = EffectRules.load()


def seasonal(rng, size: int, level: float, factor: np.ndarray) -> np.ndarray:
    return rng.poisson(level * factor, size)


def test_half_months():
    assert half_month(pd.Series(pd.to_datetime(["2026-02-15", "2026-02-16", "2026-02-28"]))).strftime(
        "%m-%d").tolist() == ["02-01", "02-16", "02-16"]
    assert half_months(date(2026, 1, 20), date(2026, 3, 2)).strftime("%m-%d").tolist() == [
        "01-16", "02-01", "02-16", "03-01"]


def planted(rng, change: float, seasons: bool = True):
    halves = half_months(date(2025, 1, 1), date(2026, 10, 31))
    season = 1 + (0.3 * np.sin(np.arange(len(halves)) / 24 * 2 * np.pi) if seasons else 0)
    after = halves >= pd.Timestamp(START)
    treated = pd.Series(rng.poisson(200 * season * np.where(after, 1 + change, 1.0)), halves)
    control = pd.Series(rng.poisson(600 * season), halves)
    return treated, control


def test_a_planted_thirty_percent_fall_is_measured_within_five_points():
    rng = np.random.default_rng(3)
    found = effect(*planted(rng, -0.30), START, END, target_pct=20, rules=RULES)
    assert abs(found.did_pct - (-30)) < 5
    assert found.did_low < found.did_pct < found.did_high < 0
    assert found.verdict == "on target"
    assert found.on_target
    # The plain change against the baseline is confounded by the season; the year-earlier one
    # (same half-months, same season) is not.
    assert abs(found.year_earlier_pct - (-30)) < 5
    phases = found.table.set_index("half_month")["phase"]
    assert phases[pd.Timestamp("2026-03-16")] == "baseline"
    assert phases[pd.Timestamp("2026-04-01")] == "during"
    assert phases[pd.Timestamp("2026-10-16")] == "after the end"
    assert phases[pd.Timestamp("2025-01-01")] == "earlier"


def test_no_planted_effect_is_never_called_a_success():
    rng = np.random.default_rng(4)
    verdicts = [effect(*planted(rng, 0.0), START, END, target_pct=20, rules=RULES).verdict for _ in range(100)]
    assert "on target" not in verdicts
    assert verdicts.count("no measurable effect") >= 90
    # Below target: a real but smaller fall is "improving", not on target.
    smaller = effect(*planted(np.random.default_rng(5), -0.10), START, END, target_pct=30, rules=RULES)
    assert smaller.verdict == "improving"
    assert smaller.on_target is False


def test_too_early_and_no_neighbours():
    rng = np.random.default_rng(6)
    treated, _control = planted(rng, -0.3)
    early = effect(treated[treated.index < pd.Timestamp("2026-04-16")], None, START, END, rules=RULES)
    assert early.verdict == "too early"
    assert early.did_pct is None
    alone = effect(treated, None, START, END, rules=RULES)
    assert alone.verdict != "too early"
    assert alone.did_pct is not None


TOWNS = [GUANGANMENWAI, TAIPINGQIAO]


def spec(**changes) -> ProjectSpec:
    values = {"kind": "proactive", "title": "Clear the Lianhuachi lot", "lead_department": "city_enforcement",
              "categories": ["illegal_construction"], "starts_on": START, "ends_on": END,
              "townships": [GUANGANMENWAI], "targets": {"reduction_pct": 20},
              "tasks": [{"title": "Survey", "owner": "Zhang", "due_on": "2026-04-15"}]}
    return ProjectSpec(**{**values, **changes})


POLYGON = shapely.box(116.33, 39.88, 116.34, 39.89)


@pytest.mark.parametrize(("changes", "message"), [
    ({"kind": "wish"}, "kind 'wish' is not one of"),
    ({"title": "  "}, "the title is empty"),
    ({"title": "a\x00b"}, "control characters"),
    ({"title": "x" * 201}, "at most 200"),
    ({"lead_department": "nobody"}, "department 'nobody' is unknown"),
    ({"partners": ["planning", "ghosts"]}, "department 'ghosts' is unknown"),
    ({"categories": []}, "at least one target category"),
    ({"categories": ["unicorns"]}, "category 'unicorns' is unknown"),
    ({"ends_on": START}, "must end after it starts"),
    ({"townships": []}, "give one target area"),
    ({"cells": [1]}, "give one target area"),
    ({"townships": ["999"]}, "township '999' is unknown"),
    ({"townships": [], "cells": [12345]}, "12345 is not an H3 cell"),
    ({"townships": [], "cells": [h3.latlng_to_cell(39.88, 116.35, 11)]}, "resolution 11"),
    ({"townships": [], "area": shapely.box(39.88, 116.33, 39.89, 116.34)}, "look swapped"),
    ({"townships": [], "area": shapely.box(440000, 4410000, 441000, 4411000)}, "WGS84"),
    ({"townships": [], "area": shapely.Polygon([(116.3, 39.8), (116.4, 39.9), (116.4, 39.8), (116.3, 39.9)])},
     "not valid"),
    ({"townships": [], "area": shapely.Point(116.3, 39.9)}, "must be a polygon"),
    ({"targets": {"reduction_pct": 150}}, "percentage above 0"),
    ({"targets": {"happiness": 1}}, "unknown target 'happiness'"),
    ({"tasks": [{"title": "Survey", "owner": "Zhang"}]}, "has no due date"),
    ({"tasks": [{"title": "Survey", "owner": "Zhang", "due_on": "soon"}]}, "'soon' is not a date"),
])
def test_bad_projects_are_refused_naming_the_field(changes, message):
    with pytest.raises(ValidationError, match=message):
        check_spec(spec(**changes), townships=TOWNS, categories=["illegal_construction", "noise"],
                   departments=["city_enforcement", "planning"])


def test_areas_become_base_cells():
    polygon = check_spec(spec(townships=[], area=POLYGON), townships=TOWNS, categories=["illegal_construction"],
                         departments=["city_enforcement"])
    assert len(polygon.cells) > 5
    assert {h3.get_resolution(h3.int_to_str(c)) for c in polygon.cells} == {9}
    coarse = h3.latlng_to_cell(39.88, 116.35, 8)
    cells = check_spec(spec(townships=[], cells=[coarse]), townships=TOWNS, categories=["illegal_construction"],
                       departments=["city_enforcement"])
    assert len(cells.cells) == 7


@pytest.fixture
def tallied(complaints_engine):
    """Two years of illegal-construction tallies around Guang'anmenwai; -30 % there from April 2026."""
    rng = np.random.default_rng(8)
    with complaints_engine.begin() as conn:
        towns = conn.execute(sa.text(
            "SELECT b.code FROM jurisdiction a JOIN jurisdiction b ON ST_Intersects(a.geom, b.geom) "
            "AND b.level = 'township' AND b.valid_to IS NULL WHERE a.code = :c AND a.valid_to IS NULL"),
            {"c": GUANGANMENWAI}).scalars().all()
        days = pd.date_range("2024-11-01", "2026-10-31", freq="D")
        season = 1 + 0.3 * np.sin(np.arange(len(days)) / 365 * 2 * np.pi)
        rows = []
        for town in towns:
            fall = np.where((town == GUANGANMENWAI) & (days >= pd.Timestamp(START)), 0.7, 1.0)
            volume = rng.poisson(14 * season * fall)
            rows += [{"day": d.date(), "t": town, "n": int(v)} for d, v in zip(days, volume, strict=True)]
        conn.execute(sa.text(
            "INSERT INTO township_day (day, township_code, category, volume, dispatched, on_time, outcomes, "
            "resolved, callbacks, satisfied) VALUES (:day, :t, 'illegal_construction', :n, 0, 0, 0, 0, 0, 0)"), rows)
        refresh_days(conn, days[0].date(), days[-1].date(), tables=["township_half"])
    return complaints_engine, sorted(towns)


def test_township_projects_measured_from_the_tallies(tallied):
    engine, _towns = tallied
    treated = create_project(engine, spec(), actor="Li", now=NOW)
    quiet = create_project(engine, spec(title="Taipingqiao watch", townships=[TAIPINGQIAO], kind="governance_plan"),
                           actor="Li", now=NOW)
    found = effects(engine)
    assert abs(found[treated].did_pct - (-30)) < 5
    assert found[treated].verdict == "on target"
    # Taipingqiao's neighbours include Guang'anmenwai, treated for the same category at the
    # same time: it is left out of the comparison, and no effect is found.
    assert found[quiet].verdict in ("no measurable effect", "improving", "worse")
    assert found[quiet].verdict != "on target"
    listed = projects(engine, today=date(2026, 11, 1))
    assert listed["state"].tolist() == ["ended", "ended"]
    assert listed.set_index("id").loc[treated, "progress"] == 0.0
    mine = projects(engine, today=date(2026, 11, 1), township=GUANGANMENWAI, with_effect=False)
    assert mine["id"].tolist() == [treated]


def test_tasks_changes_and_events_with_versions(tallied):
    engine, _ = tallied
    pid = create_project(engine, spec(), actor="Li", now=NOW)
    detail = project_detail(engine, pid)
    task = int(detail.tasks["id"].iloc[0])
    set_task(engine, task, done=True, actor="Zhang", now=NOW + timedelta(hours=1), expected_version=1)
    with pytest.raises(ValidationError, match="already done"):
        set_task(engine, task, done=True, actor="Zhang", now=NOW)
    with pytest.raises(ConflictError, match="changed since you read it"):
        update_project(engine, pid, actor="Wang", now=NOW, expected_version=1, ends_on=date(2026, 9, 1))
    version = update_project(engine, pid, actor="Wang", now=NOW + timedelta(hours=2), expected_version=2,
                             ends_on=date(2026, 9, 1), targets={"reduction_pct": 25})
    assert version == 3
    with pytest.raises(ValidationError, match="must end after it starts"):
        update_project(engine, pid, actor="Wang", now=NOW, ends_on=date(2026, 1, 1))
    with pytest.raises(ValidationError, match="can change"):
        update_project(engine, pid, actor="Wang", now=NOW, kind="proactive")
    detail = project_detail(engine, pid)
    assert detail.project["ends_on"] == date(2026, 9, 1)
    assert detail.tasks["done_by"].tolist() == ["Zhang"]
    assert detail.events["action"].tolist() == ["updated", "task done", "task added", "created"]
    assert detail.events["actor"].tolist() == ["Wang", "Zhang", "Li", "Li"]
    assert projects(engine, today=date(2026, 11, 1), with_effect=False)["progress"].tolist() == [1.0]
    with pytest.raises(ValidationError, match="no project 999"):
        project_detail(engine, 999)


def test_a_cell_project_on_a_drawn_polygon(complaints_engine):
    """Complaints stored one by one in and around a polygon; the effect read through the H3 index."""
    rng = np.random.default_rng(9)
    area = check_spec(spec(townships=[], area=POLYGON), townships=TOWNS, categories=["illegal_construction"],
                      departments=["city_enforcement"]).cells
    from geo.act.projects import ring_cells

    around = ring_cells(area, RULES.control_ring)
    days = pd.date_range("2025-10-01", "2026-10-31", freq="D", tz=TZ)
    rows = []
    for cells, level, treated in ((area, 6.0, True), (around, 12.0, False)):
        fall = np.where(treated & (days >= pd.Timestamp(START, tz=TZ)), 0.7, 1.0)
        counts = rng.poisson(level * fall)
        picked = rng.choice(cells, size=counts.sum())
        at = np.repeat(days, counts) + pd.to_timedelta(rng.uniform(8, 20, counts.sum()), unit="h")
        rows += [{"cell": int(c), "at": t} for c, t in zip(picked, at, strict=True)]
    with complaints_engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO ingest_run (id, source, sha256) VALUES (1, 'hand', repeat('0', 64))"))
        frame = pd.DataFrame(rows)
        latlng = [h3.cell_to_latlng(h3.int_to_str(c)) for c in frame["cell"]]
        conn.execute(sa.text(
            "INSERT INTO complaint (source_id, received_at, channel, category, lon, lat, geom, precision, "
            "on_boundary, run_id, h3, township_code, returned_count) VALUES (:s, :at, 'phone', 'illegal_construction', "
            ":lon, :lat, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 'point', false, 1, :cell, :town, 0)"),
            [{"s": f"P{i}", "at": r.at, "lon": ll[1], "lat": ll[0], "cell": r.cell, "town": GUANGANMENWAI}
             for i, (r, ll) in enumerate(zip(frame.itertuples(), latlng, strict=True))])
    refresh_tally(complaints_engine)
    pid = create_project(complaints_engine, spec(townships=[], area=POLYGON), actor="Li", now=NOW)
    found = effects(complaints_engine)[pid]
    assert abs(found.did_pct - (-30)) < 10
    assert found.did_high < 0
    assert project_detail(complaints_engine, pid).project["area"].startswith('{"type":"MultiPolygon"')


def test_projects_on_the_command_line(tallied):
    engine, _ = tallied
    env = {"DATABASE_URL": engine.url.render_as_string(hide_password=False), "COLUMNS": "200"}
    made = geo("project", "create", "--kind", "proactive", "--title", "Clear the lot", "--lead", "city_enforcement",
               "--category", "illegal_construction", "--township", GUANGANMENWAI, "--start", "2026-04-01",
               "--end", "2026-07-01", "--target", "20", "--task", "Survey|Zhang|2026-04-15", "--as", "Li", env=env)
    assert made.returncode == 0, made.stderr
    assert "project 1 created" in made.stdout
    listed = geo("project", "list", env=env)
    assert "Clear the lot" in listed.stdout
    assert "on target" in listed.stdout
    done = geo("project", "task", "1", "--done", "--as", "Zhang", env=env)
    assert done.returncode == 0, done.stderr
    shown = geo("project", "show", "1", env=env)
    assert "100 %" in shown.stdout
    assert "task done" in shown.stdout
    assert_one_line_error(geo("project", "create", "--kind", "proactive", "--title", "x", "--lead", "nobody",
                              "--category", "noise", "--township", GUANGANMENWAI, "--start", "2026-04-01",
                              "--end", "2026-07-01", "--as", "Li", env=env), "department 'nobody' is unknown")
    assert_one_line_error(geo("project", "show", "42", env=env), "there is no project 42")


def test_the_demo_ships_problems_of_the_month_with_their_effect(tallied):
    """``geo project demo`` (make run): problems of the month on the commonest category, over its
    busiest townships, begun six weeks before the newest day, so the page shows their effect; run
    again, it opens nothing."""
    from geo.demo.projects_db import demo_projects

    engine, _towns = tallied
    now = datetime(2026, 11, 1, 9, tzinfo=ZoneInfo("UTC"))
    opened = demo_projects(engine, now=now)
    assert len(opened) == 1  # one category in these tallies
    detail = project_detail(engine, opened[0])
    project = detail.project
    assert project["kind"] == "problem_of_month"
    assert project["title"] == "每月一题：违法建设"
    assert project["categories"] == ["illegal_construction"]
    assert len(project["townships"]) == 3
    assert project["starts_on"] == date(2026, 10, 31) - timedelta(days=45)
    assert len(detail.tasks) == 3
    assert not detail.effect.table.empty
    assert demo_projects(engine, now=now) == []
    done = geo("project", "demo", env={"DATABASE_URL": engine.url.render_as_string(hide_password=False)})
    assert done.returncode == 0, done.stderr
    assert "exists already" in done.stdout
