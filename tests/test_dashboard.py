"""The queries behind the app's pages: figures against independent references, and access rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from geo.act.projects import ProjectSpec
from geo.act.users import User
from geo.act.whistle import QueueFilter
from geo.errors import AccessError, ValidationError
from geo.show import dashboard_db as dashboard
from geo.show.dashboard_db import Selection
from tests.helpers import signed_in

GUANGANMENWAI, TAIPINGQIAO = "110102020", "110106002"
# City-wide users see the whole city whatever their organisation; the street office is the demo's
# own (the ``office`` fixture), signed in, with its organisation and townships.
SUPERVISOR = User(1, "supervisor", "Supervisor", "supervisor", 0, "City")
COORDINATOR = User(3, "coordinator", "Coordinator", "coordinator", 0, "City")
WEEK = Selection(date(2026, 11, 15), date(2026, 11, 21))


@pytest.fixture(scope="module")
def engine(app_city):
    return app_city[1]


def _reference(engine, where: str = "TRUE", selection: Selection = WEEK, **params) -> pd.DataFrame:
    # Straight from the complaints, by Beijing day: the independent count.
    with engine.connect() as conn:
        return pd.read_sql(sa.text(
            "SELECT h3, count(*) AS n FROM complaint WHERE h3 IS NOT NULL AND (received_at AT TIME ZONE "
            f"'Asia/Shanghai')::date BETWEEN :a AND :b AND {where} GROUP BY h3"),
            conn, params={"a": selection.first, "b": selection.last, **params})


# Sunday to Saturday (no whole week: the daily tally only); Wednesday to Thursday three weeks
# on (two whole weeks from the weekly tally, days on both sides); exactly two whole weeks.
PERIODS = [WEEK, Selection(date(2026, 10, 28), date(2026, 11, 19)), Selection(date(2026, 11, 2), date(2026, 11, 15))]


@pytest.mark.parametrize("selection", PERIODS, ids=["days", "weeks-and-days", "weeks"])
def test_city_cells_match_the_complaints_and_h3_parents(engine, selection):
    cells = dashboard.cell_volumes(engine, SUPERVISOR, selection, resolution=9)
    reference = _reference(engine, selection=selection)
    assert dict(zip(cells["h3"], cells["volume"], strict=True)) == dict(zip(reference["h3"], reference["n"],
                                                                           strict=True))
    for resolution in (4, 6, 7, 8):
        coarse = dashboard.cell_volumes(engine, SUPERVISOR, selection, resolution=resolution)
        parents = reference.assign(p=[h3.str_to_int(h3.cell_to_parent(h3.int_to_str(int(c)), resolution))
                                      for c in reference["h3"]]).groupby("p")["n"].sum()
        assert dict(zip(coarse["h3"], coarse["volume"], strict=True)) == parents.to_dict()
        assert coarse.attrs["resolution"] == resolution
    themed = dashboard.cell_volumes(engine, SUPERVISOR, Selection(selection.first, selection.last, theme="transport"),
                                    resolution=8)
    assert themed["volume"].sum() == _reference(
        engine, "category IN (SELECT code FROM category WHERE theme = 'transport')", selection)["n"].sum() > 0
    with engine.connect() as conn:
        weekly = conn.execute(sa.text("SELECT count(*) FROM cell_week WHERE week >= :a AND week + 6 <= :b"),
                              {"a": selection.first, "b": selection.last}).scalar()
    assert (weekly > 0) == (selection is not WEEK)


def test_h3_parents_in_sql_refuse_a_bad_resolution():
    assert dashboard.parent_sql("h3", 9) == "h3"
    with pytest.raises(ValidationError, match="resolution"):
        dashboard.parent_sql("h3", 10)
    with pytest.raises(ValidationError, match="resolution"):
        dashboard.parent_sql("h3", "8; DROP TABLE cell_day")


def test_a_large_selection_is_drawn_coarser(engine):
    fine = dashboard.cell_volumes(engine, SUPERVISOR, WEEK, resolution=9)
    fitted = dashboard.cell_volumes(engine, SUPERVISOR, WEEK, resolution=9, max_cells=len(fine) // 5)
    assert fitted.attrs["resolution"] < 9
    assert len(fitted) <= len(fine) // 5
    assert fitted["volume"].sum() == fine["volume"].sum()


def test_a_theme_keeps_its_categories_only(engine):
    themed = Selection(WEEK.first, WEEK.last, theme="transport")
    cells = dashboard.cell_volumes(engine, SUPERVISOR, themed, resolution=9)
    reference = _reference(engine, "category IN (SELECT code FROM category WHERE theme = 'transport')")
    assert cells["volume"].sum() == reference["n"].sum() > 0


def test_a_street_office_sees_its_own_complaints_and_nothing_else(office, engine):
    own = dashboard.cell_volumes(engine, office, WEEK, resolution=9)
    reference = _reference(engine, "township_code = :t", t=GUANGANMENWAI)
    assert own["volume"].sum() == reference["n"].sum() > 0
    listed = dashboard.township_complaints(engine, office, GUANGANMENWAI, WEEK)
    assert len(listed)
    assert set(listed.columns) >= {"phone", "text"}
    assert "phone_hash" not in listed
    assert listed["phone"].dropna().str.fullmatch(r"\d{3}\*{4}\d{4}|\*+\d{0,4}").all()
    with engine.connect() as conn:
        mine = set(conn.execute(sa.text("SELECT source_id FROM complaint WHERE township_code = :t"),
                                {"t": GUANGANMENWAI}).scalars())
    assert set(listed["source_id"]) <= mine
    for ask in (lambda: dashboard.cell_volumes(engine, office, WEEK, resolution=9, township=TAIPINGQIAO),
                lambda: dashboard.township_complaints(engine, office, TAIPINGQIAO, WEEK),
                lambda: dashboard.period_counts(engine, office, WEEK, township=TAIPINGQIAO),
                lambda: dashboard.hotspot_cells(engine, office, 1, township=TAIPINGQIAO)):
        with pytest.raises(AccessError, match="may not see township 110106002"):
            ask()


def test_daily_counts_are_the_townships_and_the_city(office, engine):
    city = dashboard.daily_counts(dashboard.period_counts(engine, SUPERVISOR, WEEK), WEEK)
    counts = dashboard.period_counts(engine, office, WEEK)
    own = dashboard.daily_counts(counts, WEEK)
    with engine.connect() as conn:
        by_day = pd.read_sql(sa.text(
            "SELECT (received_at AT TIME ZONE 'Asia/Shanghai')::date AS day, count(*) AS n, "
            "count(*) FILTER (WHERE township_code = :t) AS own FROM complaint WHERE township_code IS NOT NULL "
            "GROUP BY 1"), conn, params={"t": GUANGANMENWAI})
        towns = conn.execute(sa.text("SELECT count(*) FROM jurisdiction WHERE level = 'township' "
                                     "AND valid_to IS NULL")).scalar()
    by_day = by_day.set_index("day").loc[list(city["day"])]
    assert list(city["volume"]) == list(by_day["n"])
    assert list(own["volume"]) == list(by_day["own"])
    np.testing.assert_allclose(own["city_per_township"], by_day["n"] / towns)
    assert len(city) == 7
    before = dashboard.daily_counts(counts, WEEK.before())
    assert list(before["day"]) == list(pd.date_range("2026-11-08", "2026-11-14").date)
    cats = dashboard.category_volumes(counts, WEEK)
    with engine.connect() as conn:
        reference = dict(conn.execute(sa.text(
            "SELECT category, count(*) FROM complaint WHERE township_code = :t AND (received_at AT TIME ZONE "
            "'Asia/Shanghai')::date BETWEEN :a AND :b GROUP BY 1"), {"t": GUANGANMENWAI, "a": WEEK.first,
                                                                      "b": WEEK.last}).all())
    assert dict(zip(cats["category"], cats["volume"], strict=True)) == {
        **dict.fromkeys(cats["category"], 0), **reference}
    assert cats["volume"].is_monotonic_decreasing


def test_a_townships_hot_spots_hold_its_cells_and_the_ring_around_them(office, engine, townships):
    run = dashboard.latest_run(engine, SUPERVISOR, "gi")
    polygon = townships.set_index("code").geometry[GUANGANMENWAI]
    cells = dashboard.hotspot_cells(engine, office, run["id"], significant_only=False)
    centres = np.array([h3.cell_to_latlng(h3.int_to_str(int(c))) for c in cells["h3"]])
    inside = shapely.contains_xy(polygon, centres[:, 1], centres[:, 0])
    assert (inside == cells["inside"].to_numpy()).all()
    assert inside.any()
    own = {h3.int_to_str(int(c)) for c in cells["h3"][inside]}
    ring = {n for c in own for n in h3.grid_disk(c, 1)} - own
    assert {h3.int_to_str(int(c)) for c in cells["h3"][~inside]} == ring


def test_a_townships_hot_spot_counts_are_its_own_complaints_only(office, engine):
    """A cell on the line holds both townships' complaints: the office sees its own, and no
    z-score (made of its neighbours' complaints too); a city-wide user sees the z-scores."""
    run = dashboard.latest_run(engine, SUPERVISOR, "gi")
    cells = dashboard.hotspot_cells(engine, office, run["id"], significant_only=False)
    with engine.connect() as conn:
        own = dict(conn.execute(sa.text(
            f"SELECT {dashboard.parent_sql('h3', run['resolution'])}, count(*) FROM complaint "
            "WHERE township_code = :t AND received_at >= :a AND received_at < :b "
            "AND precision IN ('point', 'community') GROUP BY 1"),
            {"t": GUANGANMENWAI, "a": run["period_start"], "b": run["period_end"]}).all())
        city = dict(conn.execute(sa.text("SELECT h3, count FROM hotspot_cell WHERE run_id = :r"),
                                 {"r": run["id"]}).all())
    assert cells["count"].tolist() == [own.get(c, 0) for c in cells["h3"]]
    # The demo has cells on the line, where the city's count is larger than the township's.
    assert (cells["count"] < cells["h3"].map(city)).any()
    assert sum(own.values()) == cells["count"].sum()
    assert cells[["z", "p", "trend_z"]].isna().all().all()
    seen = dashboard.hotspot_cells(engine, SUPERVISOR, run["id"], township=GUANGANMENWAI, significant_only=False)
    assert seen["z"].notna().all()
    assert seen["count"].tolist() == cells["count"].tolist()


def test_a_street_office_sees_only_the_calls_and_projects_addressed_to_it(office, engine):
    now = datetime(2026, 11, 22, tzinfo=UTC)
    queue = dashboard.call_queue(engine, office, now=now)
    assert len(queue)
    assert queue["townships"].map(lambda t: GUANGANMENWAI in t).all()
    everyone = dashboard.call_queue(engine, COORDINATOR, now=now, limit=5000)
    other = everyone[~everyone["townships"].map(lambda t: GUANGANMENWAI in t)]["id"].iloc[0]
    with pytest.raises(AccessError, match=r"not addressed to .* township 110102020"):
        dashboard.call_for(engine, office, int(other))
    # Every addressee sees all of the call's complaints, on both sides of the line (phones masked).
    across = next(i for i in queue["id"] if len(set(dashboard.call_for(engine, COORDINATOR, int(i)).complaints[
        "township_code"])) > 1)
    detail = dashboard.call_for(engine, office, int(across))
    assert detail.complaints.equals(dashboard.call_for(engine, COORDINATOR, int(across)).complaints)
    assert len(set(detail.complaints["township_code"]) - {GUANGANMENWAI}) >= 1
    assert "phone" in detail.complaints
    assert "phone_hash" not in detail.complaints
    assert len(dashboard.call_places(engine, office, [int(other)])) == 0
    titles = set(dashboard.project_list(engine, office, today=date(2026, 11, 22))["title"])
    assert titles == {"广安门外人行道<b>违停</b>治理"}
    noise = dashboard.project_list(engine, SUPERVISOR, today=date(2026, 11, 22)).query("kind == 'governance_plan'")
    with pytest.raises(AccessError, match=r"is not a project of .* township 110102020"):
        dashboard.project_for(engine, office, int(noise["id"].iloc[0]), today=date(2026, 11, 22))


def test_a_street_office_opens_a_project_on_its_own_hot_spot_only(office, engine, townships, app_city):
    polygon = townships.set_index("code").geometry
    inside = h3.str_to_int(h3.latlng_to_cell(polygon[GUANGANMENWAI].representative_point().y,
                                             polygon[GUANGANMENWAI].representative_point().x, 8))
    outside = h3.str_to_int(h3.latlng_to_cell(polygon[TAIPINGQIAO].representative_point().y,
                                              polygon[TAIPINGQIAO].representative_point().x, 8))

    def spec(cell: int) -> ProjectSpec:
        return ProjectSpec(kind="proactive", title="Hot spot", lead_department="traffic_police",
                           categories=["illegal_parking"], starts_on=date(2026, 11, 22), ends_on=date(2027, 2, 22),
                           cells=[cell])

    now = datetime(2026, 11, 22, 8, tzinfo=UTC)
    with pytest.raises(ValidationError, match=f"cell {outside:x} is not in township 110102020"):
        dashboard.open_proactive_project(engine, office, GUANGANMENWAI, spec(outside), now=now)
    with pytest.raises(AccessError):
        dashboard.open_proactive_project(engine, office, TAIPINGQIAO, spec(outside), now=now)
    project_id = dashboard.open_proactive_project(engine, office, GUANGANMENWAI, spec(inside), now=now)
    detail = dashboard.project_for(engine, office, project_id, today=date(2026, 11, 22))
    assert detail.project["created_by"] == "guanganmenwai"
    assert len(detail.project["cells"]) == 7  # the res-8 cell's children at the base resolution
    # The neighbour's office, with complaints of its own in a cell of the project, sees nothing of it.
    on_line = _cell_of_one_with_complaints_of_the_other(engine, polygon[GUANGANMENWAI], TAIPINGQIAO)
    survey = {"title": "Survey", "owner": "office", "due_on": "2026-12-01"}
    shared = dashboard.open_proactive_project(engine, office, GUANGANMENWAI, replace(spec(on_line), tasks=[survey]),
                                              now=now)
    neighbour = signed_in(app_city[0], "taipingqiao", "street_office", TAIPINGQIAO)
    assert not {project_id, shared} & set(dashboard.project_list(engine, neighbour, today=date(2026, 11, 22))["id"])
    task = int(dashboard.project_for(engine, office, shared, today=date(2026, 11, 22)).tasks["id"].iloc[0])
    for attempt in (lambda: dashboard.project_for(engine, neighbour, shared, today=date(2026, 11, 22)),
                    lambda: dashboard.tick_task(engine, neighbour, shared, task, done=True, now=now)):
        with pytest.raises(AccessError, match="is not a project of"):
            attempt()
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM project WHERE id = :id"), {"id": shared})
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM project WHERE id = :id"), {"id": project_id})


def _cell_of_one_with_complaints_of_the_other(engine, polygon, other: str) -> int:
    """The res-8 cell, centred in ``polygon``, that holds the most complaints of township ``other``."""
    with engine.connect() as conn:
        cells = conn.execute(sa.text(
            f"SELECT {dashboard.parent_sql('h3', 8)} AS cell, count(*) FROM complaint WHERE township_code = :t "
            "GROUP BY 1 ORDER BY 2 DESC"), {"t": other}).all()
    for cell, _ in cells:
        lat, lon = h3.cell_to_latlng(h3.int_to_str(int(cell)))
        if shapely.contains_xy(polygon, lon, lat):
            return int(cell)
    raise AssertionError("the demo has no cell on the line")


def test_the_selection_refuses_nonsense():
    with pytest.raises(ValidationError, match="ends"):
        Selection(date(2026, 11, 2), date(2026, 11, 1))
    with pytest.raises(ValidationError, match="not both"):
        Selection(date(2026, 11, 1), date(2026, 11, 2), category="gas_leak", theme="utilities")
    assert WEEK.before() == Selection(date(2026, 11, 8), date(2026, 11, 14))


def test_call_counts_are_those_of_the_calls_the_user_may_see(office, engine):
    now = datetime(2026, 11, 21, 16, 10, tzinfo=UTC)
    everyone = dashboard.call_queue(engine, COORDINATOR, now=now, state="raised", limit=100_000)
    counts = dashboard.call_counts(engine, COORDINATOR, now=now)
    assert counts == {"open": len(everyone), "emergencies": int((everyone["kind"] == "emergency").sum()),
                      "late": int((everyone["late"] > 0).sum())}
    mine = dashboard.call_counts(engine, office, now=now)
    assert mine["open"] == int(everyone["townships"].map(lambda t: GUANGANMENWAI in t).sum())


def _pairs_by_hand(queue: pd.DataFrame) -> dict[tuple[str, ...], tuple[int, int, int]]:
    # The queue's calls counted in Python: the independent count of the SQL grouping.
    counted: dict[tuple[str, ...], list[int]] = {}
    for townships, kind, late in zip(queue["townships"], queue["kind"], queue["late"], strict=True):
        row = counted.setdefault(tuple(sorted(townships)), [0, 0, 0])
        row[0] += 1
        row[1] += kind == "emergency"
        row[2] += late > 0
    return {pair: tuple(n) for pair, n in counted.items()}


@pytest.mark.parametrize("where", [None, QueueFilter(state="raised"), QueueFilter(kind="emergency", late=True)],
                         ids=["all", "open", "late-emergencies"])
def test_calls_by_township_pair_count_the_queue_the_user_sees(office, engine, where):
    # A moment after every deadline of the demo, so that some addressees are late.
    now = datetime(2026, 11, 22, 6, tzinfo=UTC)
    for user in (COORDINATOR, office):
        queue = dashboard.call_queue(engine, user, now=now, where=where, limit=100_000)
        pairs = dashboard.call_pairs(engine, user, now=now, where=where)
        got = {tuple(t): (c, e, late) for t, c, e, late in pairs.itertuples(index=False)}
        assert got == _pairs_by_hand(queue)
        assert where is not None or len(got) > 1
        assert len(got) == len(pairs)  # one row per pair
        assert pairs[["late", "calls"]].apply(tuple, axis=1).is_monotonic_decreasing
    # The street office counts only the calls addressed to it.
    mine = dashboard.call_pairs(engine, office, now=now, where=where)
    assert mine["townships"].map(lambda t: GUANGANMENWAI in t).all()
