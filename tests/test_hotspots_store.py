"""Gi* over stored complaints: a run per call, every cell of the city, planted hot spots found."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import sqlalchemy as sa

from geo.demo import synth
from geo.demo.score import score_emerging
from geo.detect.hotspots_db import run_hotspots, service_cells
from geo.errors import ValidationError
from geo.ingest.run_db import Mapping, ingest_file
from geo.locate.cells import cell_to_parent
from tests.helpers import geo

TZ = ZoneInfo("Asia/Shanghai")
START, END = datetime(2026, 11, 8, tzinfo=TZ), datetime(2026, 11, 22, tzinfo=TZ)


@pytest.fixture
def loaded(complaints_engine, boundary_index, townships, tmp_path):
    demo = synth.generate(townships, days=14, per_day=3000, seed=7, end="2026-11-22")
    data, _ = synth.write(demo, tmp_path)
    ingest_file(complaints_engine, data, Mapping(dict(synth.MAPPING)), now=demo.truth_end, boundaries=boundary_index)
    return demo.truth


def test_planted_hotspots_are_hot_and_every_cell_is_in_the_run(complaints_engine, boundary_index, loaded):
    result = run_hotspots(complaints_engine, START, END, resolution=9, boundaries=boundary_index)
    cells = result.cells.set_index("h3")
    assert len(cells) == len(service_cells(boundary_index, 9))
    assert (cells["count"] == 0).mean() > 0.5  # the zeros are in
    steady = [spot for spot in loaded["hotspots"] if spot["kind"] in ("persistent", "diminishing")]
    assert steady  # the demo plants them; the check below must judge some
    for spot in steady:
        centre = max(spot["cells"], key=lambda c: cells.loc[c, "count"] if c in cells.index else 0)
        assert cells.loc[centre, "bin"] == 3, spot
    with complaints_engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT cells, complaints FROM hotspot_run WHERE id = :r"),
                              {"r": result.run_id}).one()
        rows = conn.execute(sa.text("SELECT count(*) FROM hotspot_cell WHERE run_id = :r"),
                            {"r": result.run_id}).scalar()
    assert stored.cells == rows == len(cells)
    assert stored.complaints == int(cells["count"].sum())


def test_coarser_cells_and_filters(complaints_engine, boundary_index, loaded):
    whole = run_hotspots(complaints_engine, START, END, resolution=9, boundaries=boundary_index)
    coarse = run_hotspots(complaints_engine, START, END, resolution=7, boundaries=boundary_index)
    assert coarse.cells["count"].sum() == whole.cells["count"].sum()
    parents = pd.Series(whole.cells["count"].to_numpy(), index=cell_to_parent(whole.cells["h3"].to_numpy(), 7))
    assert parents.groupby(level=0).sum().reindex(coarse.cells["h3"]).fillna(0).tolist() == \
        coarse.cells["count"].tolist()
    heating = run_hotspots(complaints_engine, START, END, category="heating", boundaries=boundary_index)
    utilities = run_hotspots(complaints_engine, START, END, theme="utilities", boundaries=boundary_index)
    assert 0 < heating.cells["count"].sum() < utilities.cells["count"].sum() < coarse.cells["count"].sum()


def test_bad_parameters_are_named(complaints_engine, boundary_index):
    with pytest.raises(ValidationError, match="unknown"):
        run_hotspots(complaints_engine, START, END, category="ufo", boundaries=boundary_index)
    with pytest.raises(ValidationError, match="before its end"):
        run_hotspots(complaints_engine, END, START, boundaries=boundary_index)
    with pytest.raises(ValidationError, match="resolution"):
        run_hotspots(complaints_engine, START, END, resolution=11, boundaries=boundary_index)


def test_the_command_line_runs_and_stores(complaints_db_url, loaded):
    env = {"DATABASE_URL": complaints_db_url}
    done = geo("detect", "hotspots", "--start", "2026-11-08", "--end", "2026-11-22", env=env)
    assert done.returncode == 0, done.stderr
    assert "hot 99 %" in done.stdout
    bad = geo("detect", "hotspots", "--start", "soon", "--end", "2026-11-22", env=env)
    assert bad.returncode == 1
    assert "--from 'soon' is not an ISO date" in bad.stderr
    weak = geo("detect", "emerging", "--from", "2026-10-01", "--to", "2026-11-22", "--min-rise", "0.5", env=env)
    assert weak.returncode == 1
    assert "min_rise was 0.5" in weak.stderr


def test_emerging_patterns_recover_the_planted_hotspots(complaints_engine, boundary_index, townships, tmp_path):
    """12 weekly steps of the demo at resolution 8: every planted spot is recovered with its
    family, and the cells labelled with a family lie at planted spots of it (see geo/demo/score.py
    for how precision is measured)."""
    from geo.detect.hotspots_db import run_emerging

    demo = synth.generate(townships, days=84, per_day=3000, seed=7, end="2026-11-22")
    data, _ = synth.write(demo, tmp_path)
    ingest_file(complaints_engine, data, Mapping(dict(synth.MAPPING)), now=demo.truth_end, boundaries=boundary_index)
    result = run_emerging(complaints_engine, datetime(2026, 8, 30, tzinfo=TZ), datetime(2026, 11, 22, tzinfo=TZ),
                          step="week", resolution=8, boundaries=boundary_index)
    scores = {s.family: s for s in score_emerging(result.cells, 8, demo.truth)}
    assert all(s.recall == 1.0 for s in scores.values()), scores
    assert scores["persistent"].precision >= 0.9, scores
    assert scores["diminishing"].precision >= 0.9, scores
    assert scores["new"].precision >= 0.9, scores
    assert set(result.cells["pattern"]) <= {"no pattern"} | {f"{p} {w} spot" for p in
                                                             ("new", "consecutive", "intensifying", "persistent",
                                                              "diminishing", "sporadic", "oscillating", "historical")
                                                             for w in ("hot", "cold")}
    with pytest.raises(ValidationError, match="at least 3"):
        run_emerging(complaints_engine, datetime(2026, 11, 8, tzinfo=TZ), END, boundaries=boundary_index)
    with pytest.raises(ValidationError, match="unknown"):
        run_emerging(complaints_engine, START, END, step="fortnight", boundaries=boundary_index)
