"""The schema, and versioned boundary sets in PostGIS (each test rolled back)."""

from __future__ import annotations

from datetime import UTC, datetime

import geopandas as gpd
import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import Point, box

from boundaries.shipped import SHIPPED_VALID_FROM, load_shipped
from geo.errors import BoundaryError
from geo.locate.jurisdictions import prepare_boundaries
from geo.locate.jurisdictions_db import (
    boundary_sets,
    current_jurisdictions,
    has_boundaries,
    load_boundaries,
)
from geo.store.migrate import current_revision, head_revision, upgrade
from tests.helpers import ROOT

# Two official townships covering the west half of Dongcheng's square around Tiananmen.
OFFICIAL = gpd.GeoDataFrame(
    {"code": ["110101001", "110101002"], "name": ["东华门街道", "景山街道"]},
    geometry=[box(116.38, 39.90, 116.39, 39.91), box(116.39, 39.90, 116.40, 39.91)], crs=4326,
)


def official(frame: gpd.GeoDataFrame = OFFICIAL):
    return prepare_boundaries(frame, level="township")


def test_schema_is_at_head_with_spatial_columns_and_gist_index(boundaries_engine):
    newest = sorted(p.name[:4] for p in (ROOT / "geo" / "store" / "migrations" / "versions").glob("0*.py"))[-1]
    assert current_revision(boundaries_engine) == head_revision() == newest
    with boundaries_engine.connect() as conn:
        columns = conn.execute(sa.text(
            "SELECT f_geometry_column, srid, type FROM geometry_columns WHERE f_table_name = 'jurisdiction' "
            "ORDER BY 1")).all()
        indexes = conn.execute(sa.text(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'jurisdiction'")).scalars().all()
    assert columns == [("geom", 4326, "MULTIPOLYGON"), ("geom_display", 4326, "MULTIPOLYGON")]
    assert any("USING gist (geom)" in index for index in indexes)


def test_upgrade_is_idempotent(empty_connection):
    assert upgrade(empty_connection) == head_revision()
    assert upgrade(empty_connection) == head_revision()


def test_shipped_boundaries_are_loaded_once(connection):
    districts = current_jurisdictions(connection, "district")
    townships = current_jurisdictions(connection, "township")
    assert len(districts) == 16
    assert len(townships) >= 330
    assert townships["approximate"].all()
    assert not districts["approximate"].any()
    assert set(townships["parent_code"]) == set(districts["code"])
    assert set(townships["kind"]) <= {"street", "township", "town"}
    assert load_shipped(connection) == []  # already there: nothing to do


def test_display_outlines_are_lighter_than_the_exact_ones(connection):
    counts = connection.execute(sa.text(
        "SELECT sum(ST_NPoints(geom)), sum(ST_NPoints(geom_display)) FROM jurisdiction "
        "WHERE level = 'township' AND valid_to IS NULL")).one()
    assert counts[1] < counts[0] / 3


def test_a_point_falls_in_exactly_one_current_township(connection):
    # Tiananmen Square: Dongcheng or Xicheng, and only one township.
    hits = connection.execute(sa.text(
        "SELECT code, parent_code FROM jurisdiction WHERE level = 'township' AND valid_to IS NULL "
        "AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(116.3975, 39.9087), 4326))")).all()
    assert len(hits) == 1
    assert hits[0].parent_code in {"110101", "110102"}


def test_new_set_replaces_the_current_one_and_keeps_it_dated(connection):
    before = current_jurisdictions(connection, "township", display=False)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    loaded = load_boundaries(connection, official(), source="test office", approximate=False,
                             valid_from=moment)
    assert loaded.replaced_set_id is not None
    now = current_jurisdictions(connection, "township")
    assert list(now["code"]) == ["110101001", "110101002"]
    assert not now["approximate"].any()
    # A township missing its parent gets the district it overlaps most: Dongcheng here.
    assert set(now["parent_code"]) <= {"110101", "110102"}
    then = current_jurisdictions(connection, "township", display=False, at=datetime(2025, 6, 1, tzinfo=UTC))
    assert len(then) == len(before)
    sets = boundary_sets(connection)
    old = sets[sets["id"] == loaded.replaced_set_id].iloc[0]
    assert old["valid_to"] == moment
    # Complaints before the change are located against the old set, after it the new one.
    point = Point(116.385, 39.905)
    assert then[then.covers(point)]["set_id"].item() == loaded.replaced_set_id
    assert now[now.covers(point)]["set_id"].item() == loaded.set_id
    assert loaded.report["gaps"], "two small townships leave most of their districts uncovered"


def test_failed_load_leaves_the_previous_set_untouched(connection):
    before = boundary_sets(connection)
    with pytest.raises(BoundaryError, match="not after the current set"):
        load_boundaries(connection, official(), source="late", approximate=False,
                        valid_from=SHIPPED_VALID_FROM)
    assert boundary_sets(connection).equals(before)
    assert len(current_jurisdictions(connection, "township")) >= 330


def test_load_without_time_zone_is_refused(connection):
    with pytest.raises(BoundaryError, match="no time zone"):
        load_boundaries(connection, official(), source="x", approximate=False,
                        valid_from=datetime(2026, 1, 1))


def test_empty_database_has_no_boundaries(empty_connection):
    assert not has_boundaries(empty_connection, "township")
    assert current_jurisdictions(empty_connection, "district").empty
    loaded = load_boundaries(empty_connection, official(), source="first", approximate=False)
    assert loaded.replaced_set_id is None
    assert "1 district(s) made from the townships (beijing)" in loaded.report["notes"][0]
    district = current_jurisdictions(empty_connection, "district", display=False)
    towns = current_jurisdictions(empty_connection, "township", display=False)
    assert district[["code", "name"]].values.tolist() == [["beijing", "北京市"]], "the city's own code and name"
    assert set(towns["parent_code"]) == {"beijing"}
    assert district.geometry.iloc[0].symmetric_difference(shapely.union_all(towns.geometry.values)).area < 1e-12
    assert not loaded.report["gaps"], "a district made of its townships has no gap"


def test_wrong_level_is_refused(connection):
    with pytest.raises(BoundaryError, match="level was 'city'"):
        current_jurisdictions(connection, "city")


def test_a_pooled_connection_dropped_while_idle_is_replaced_unseen(empty_db_url, monkeypatch):
    """A connection idle past PING_AFTER_IDLE_S is pinged when handed out: one the server
    dropped meanwhile (a restart, a timeout) is replaced, and the caller never sees it; one
    used a moment ago is handed out without a ping."""
    import geo.store.engine as engine_module
    from geo.store.engine import make_engine

    engine = make_engine(empty_db_url, connections=1, more=0)
    try:
        with engine.connect() as conn:
            first = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        admin = sa.create_engine(empty_db_url, poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": first}).scalar()
        admin.dispose()
        monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)
        with engine.connect() as conn:
            second = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        assert second != first
        pings = []
        monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 60.0)
        monkeypatch.setattr(type(engine.dialect), "do_ping", lambda self, c: pings.append(c) or True)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar() == second
        assert pings == []
    finally:
        engine.dispose()
