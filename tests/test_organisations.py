"""Organisations apart from areas: a boundary set that re-codes one township and splits another
keeps the street offices' users signing in to the right area and their open calls addressed."""

from __future__ import annotations

from datetime import timedelta

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from geo.act.organisations import AreaChange, SuccessionRules, carry_over
from geo.act.users import User
from geo.act.users_db import authenticate, create_user
from geo.act.whistle_db import raise_calls
from geo.errors import AccessError, ValidationError
from geo.locate.jurisdictions_db import current_jurisdictions
from geo.show import dashboard_db as dashboard
from geo.show.access import restrict
from tests.helpers import geo
from tests.test_whistle import GUANGANMENWAI, T0, TAIPINGQIAO, add_case, db  # noqa: F401  (db is a fixture)

PASSWORD = "correct horse battery"
RECODED = "110102999"
HALVES = ("110106901", "110106902")


def _overlaps(rows):
    return pd.DataFrame(rows, columns=["old", "new", "share"])


def test_carry_over_by_hand():
    covered = {"so-a": ["a"], "so-b": ["b"], "so-c": ["c"], "so-d": ["d"]}
    overlaps = _overlaps([("a", "a", 1.0), ("b", "b2", 0.98), ("b", "c", 0.01), ("c", "c1", 0.97),
                          ("c", "c2", 0.99), ("d", "x", 0.3), ("a", "x", 0.3)])
    areas, changes = carry_over(covered, overlaps, ["a", "b2", "c1", "c2", "x"], level="township", min_share=0.5)
    assert areas == {"so-a": ["a"], "so-b": ["b2"], "so-c": ["c1", "c2"], "so-d": [], "so-x": ["x"]}
    by_org = {c.organisation: c for c in changes}
    assert by_org["so-a"] == AreaChange("so-a", "kept", ("a",), ("a",))
    assert by_org["so-b"].change == "recoded"
    assert by_org["so-c"].change == "split"
    assert by_org["so-d"].change == "lost"
    assert by_org["so-x"] == AreaChange("so-x", "new", (), ("x",))
    assert by_org["so-c"].describe() == "so-c: c split into c1, c2"
    assert "answers for nothing" in by_org["so-d"].describe()
    assert [c.change for c in changes][-1] == "kept"  # what changed comes first
    with pytest.raises(ValidationError, match="min_share"):
        carry_over(covered, overlaps, ["a"], level="township", min_share=0)
    assert 0 < SuccessionRules.load().min_share < 1


def test_the_access_hook_refuses_what_a_user_may_not_see():
    office = User(7, "office", "Office", "street_office", 70, "广安门外街道", (GUANGANMENWAI, "110102021"))
    assert restrict(office).township == GUANGANMENWAI
    assert restrict(office, "110102021").township == "110102021"
    assert restrict(office).organisation_id == 70
    with pytest.raises(AccessError, match="may not see township 110106002"):
        restrict(office, TAIPINGQIAO)
    with pytest.raises(AccessError, match="city-wide users only"):
        restrict(office, city_wide=True)
    with pytest.raises(AccessError, match="answers for no township"):
        restrict(User(8, "stranded", "S", "street_office", 80, "Gone", ()))
    with pytest.raises(AccessError, match="sign in first"):
        restrict(None)
    supervisor = User(1, "boss", "Boss", "supervisor", 1, "City")
    assert restrict(supervisor).city_wide
    assert restrict(supervisor, TAIPINGQIAO).township == TAIPINGQIAO


def _new_set(engine, folder):
    """The current townships with Guang'anmenwai re-coded and Taipingqiao cut in two halves."""
    towns = current_jurisdictions(engine, "township", display=False)[["code", "name", "parent_code", "geometry"]]
    rows = []
    for row in towns.itertuples(index=False):
        if row.code == GUANGANMENWAI:
            rows.append((RECODED, row.name, row.parent_code, row.geometry))
        elif row.code == TAIPINGQIAO:
            minx, miny, maxx, maxy = row.geometry.bounds
            middle = (minx + maxx) / 2
            for code, part in zip(HALVES, (shapely.box(minx - 1, miny - 1, middle, maxy + 1),
                                           shapely.box(middle, miny - 1, maxx + 1, maxy + 1)), strict=True):
                rows.append((code, f"{row.name}{code[-1]}", row.parent_code, row.geometry.intersection(part)))
        else:
            rows.append(tuple(row))
    frame = gpd.GeoDataFrame(rows, columns=["code", "name", "parent_code", "geometry"], crs=4326)
    path = folder / "townships-2027.geojson"
    frame.to_file(path, driver="GeoJSON")
    return path


@pytest.mark.slow
def test_a_set_that_recodes_and_splits_keeps_users_and_calls(db, complaints_db_url, tmp_path):  # noqa: F811
    create_user(db, "gamw", PASSWORD, role="street_office", township_code=GUANGANMENWAI)
    create_user(db, "tpq", PASSWORD, role="street_office", township_code=TAIPINGQIAO)
    add_case(db, "gas", [("gas_leak", T0 - timedelta(minutes=5))])
    assert raise_calls(db, now=T0).raised == 1
    before = authenticate(db, "gamw", PASSWORD, now=T0)
    [call_id] = dashboard.call_queue(db, before, now=T0)["id"].tolist()

    done = geo("boundaries", "import", str(_new_set(db, tmp_path)), "--level", "township", "--code-field", "code",
               "--name-field", "name", "--parent-field", "parent_code", "--valid-from", "2026-12-01",
               env={"DATABASE_URL": complaints_db_url, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    # The change is reported, organisation by organisation.
    assert f"so-{GUANGANMENWAI}: {GUANGANMENWAI} re-coded as {RECODED}" in done.stdout
    assert f"so-{TAIPINGQIAO}: {TAIPINGQIAO} split into {', '.join(HALVES)}" in done.stdout
    with db.connect() as conn:
        stored = conn.execute(sa.text("SELECT report FROM boundary_set WHERE level = 'township' "
                                      "AND valid_to IS NULL")).scalar_one()
        organisations = conn.execute(sa.text("SELECT count(*) FROM organisation")).scalar_one()
    assert any("re-coded" in line for line in stored["organisations"])

    # The users sign in to their office's areas of the new set, and no other.
    gamw, tpq = (authenticate(db, name, PASSWORD, now=T0 + timedelta(days=12)) for name in ("gamw", "tpq"))
    assert gamw.organisation_id == before.organisation_id
    assert gamw.townships == (RECODED,)
    assert tpq.townships == HALVES
    assert restrict(tpq, HALVES[1]).township == HALVES[1]
    with pytest.raises(AccessError):
        restrict(gamw, GUANGANMENWAI)
    # The open call keeps its addressees: both offices still see it and may check in on it.
    for user in (gamw, tpq):
        assert call_id in dashboard.call_queue(db, user, now=T0)["id"].tolist()
        detail = dashboard.call_for(db, user, call_id)
        assert user.organisation_id in set(detail.addressees["organisation_id"])
    own = dashboard.call_for(db, gamw, call_id).addressees
    code = own.loc[own["organisation_id"] == gamw.organisation_id, "code"].iloc[0]
    version = dashboard.call_for(db, gamw, call_id).call["version"]
    dashboard.act_on_call(db, gamw, call_id, "check in", now=T0 + timedelta(minutes=10), addressee=code,
                          expected_version=version)
    with pytest.raises(AccessError, match="not an addressee"):
        dashboard.act_on_call(db, tpq, call_id, "check in", now=T0 + timedelta(minutes=11), addressee=code)
    # A new user for a re-coded township finds its office by the new code; nothing was created twice.
    create_user(db, "gamw2", PASSWORD, role="street_office", township_code=RECODED)
    assert authenticate(db, "gamw2", PASSWORD, now=T0).organisation_id == gamw.organisation_id
    listed = geo("organisations", "list", env={"DATABASE_URL": complaints_db_url, "COLUMNS": "250"})
    assert listed.returncode == 0, listed.stderr
    assert f"so-{TAIPINGQIAO}" in listed.stdout
    assert HALVES[0] in listed.stdout
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM organisation")).scalar_one() == organisations


@pytest.mark.slow
def test_migration_0012_moves_existing_data_across(db):  # noqa: F811
    """Down to 0011 (users by township code) and up again: every user, addressee and project
    points at the same organisation as before, as the migration's backfill promises."""
    from datetime import date

    import h3
    from alembic import command

    from geo.act.projects import ProjectSpec
    from geo.act.projects_db import create_project
    from geo.store.migrate import _config, upgrade

    create_user(db, "gamw", PASSWORD, role="street_office", township_code=GUANGANMENWAI)
    create_user(db, "boss", PASSWORD, role="supervisor")
    add_case(db, "gas", [("gas_leak", T0 - timedelta(minutes=5))])
    raise_calls(db, now=T0)
    cell = int(h3.latlng_to_cell(39.8895, 116.3512, 9), 16)
    for spec in (ProjectSpec(kind="proactive", title="cells", lead_department="city_enforcement",
                             categories=["street_vendor"], starts_on=date(2026, 11, 1), ends_on=date(2026, 12, 31),
                             cells=[cell]),
                 ProjectSpec(kind="problem_of_month", title="towns", lead_department="traffic_police",
                             partners=["urban_management"], categories=["illegal_parking"],
                             starts_on=date(2026, 11, 1), ends_on=date(2026, 12, 31), townships=[TAIPINGQIAO])):
        create_project(db, spec, actor="t", now=T0)
    queries = ("SELECT u.username, o.code FROM app_user u JOIN organisation o ON o.id = u.organisation_id ORDER BY 1",
               "SELECT a.code, o.code FROM whistle_addressee a JOIN organisation o ON o.id = a.organisation_id "
               "ORDER BY 1",
               "SELECT p.title, (SELECT array_agg(o.code ORDER BY o.code) FROM organisation o "
               "WHERE o.id = ANY(p.organisations)) FROM project p ORDER BY 1")

    def state():
        with db.connect() as conn:
            return [conn.execute(sa.text(sql)).all() for sql in queries]

    before = state()
    assert before[0] == [("boss", "city"), ("gamw", f"so-{GUANGANMENWAI}")]
    config = _config()
    with db.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0011")
    with db.connect() as conn:
        assert dict(conn.execute(sa.text("SELECT username, township_code FROM app_user")).all()) == \
            {"boss": None, "gamw": GUANGANMENWAI}
    assert upgrade(db, "0012") == "0012"
    upgrade(db)
    assert state() == before
