"""Shared fixtures: a throwaway PostGIS cluster for the test session, and databases in it.

- ``pg_cluster``: the cluster, in the session's temporary folder (never the project's).
- ``empty_db_url``: a fresh database with the schema migrated, dropped after the test
  (for code that commits, e.g. the command line in a subprocess).
- ``boundaries_db_url``: one database for the session with the shipped boundaries loaded
  (read by the app tests).
- ``connection``: a connection to that database inside a transaction that is rolled back
  after the test, so tests that write leave nothing behind.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from boundaries.shipped import load_shipped
from geo.store.cluster import LocalCluster
from geo.store.migrate import upgrade

_names = itertools.count()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that reaches the session's PostGIS cluster ``db``, so that the fast lane
    (``pytest -m "not db and not browser"``) is exactly the tests that need no database; group
    the tests that share expensive fixtures for the parallel run."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "pg_cluster" in fixtures:
            item.add_marker(pytest.mark.db)
        # With pytest-xdist (make test: -n 2 --dist loadgroup) a module's tests share a worker, so
        # its module fixtures are built once; the tests of the app's demo city share one worker too.
        shared = "app_city" if {"app_city", "office"} & set(fixtures) else item.module.__name__
        item.add_marker(pytest.mark.xdist_group(shared))


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A PostGIS cluster that lives as long as the test session."""
    cluster = LocalCluster(root=tmp_path_factory.mktemp("pg"), fast=True)
    cluster.start()
    yield cluster
    cluster.stop()


def _admin(cluster: LocalCluster) -> Engine:
    return sa.create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")


def create_database(cluster: LocalCluster, template: str | None = None) -> str:
    """Create a database (from a template when given) and return its URL."""
    name = f"t{os.getpid()}_{next(_names)}_{uuid.uuid4().hex[:6]}"
    engine = _admin(cluster)
    with engine.connect() as conn:
        if template:
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        else:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return cluster.url(name)


def drop_database(cluster: LocalCluster, url: str) -> None:
    """Drop the database at ``url``, closing whatever still holds it open."""
    name = sa.engine.make_url(url).database
    engine = _admin(cluster)
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def schema_template(pg_cluster: LocalCluster) -> str:
    """A database holding the migrated, empty schema; the template of the others."""
    url = create_database(pg_cluster)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    upgrade(engine)
    engine.dispose()
    return sa.engine.make_url(url).database


@pytest.fixture(scope="session")
def boundaries_db_url(pg_cluster: LocalCluster, boundaries_template: str) -> str:
    """A database with the shipped districts and approximate townships loaded."""
    return create_database(pg_cluster, boundaries_template)


@pytest.fixture
def empty_db_url(pg_cluster: LocalCluster, schema_template: str) -> Iterator[str]:
    """A fresh database with the schema and nothing in it, dropped afterwards."""
    url = create_database(pg_cluster, schema_template)
    yield url
    drop_database(pg_cluster, url)


@pytest.fixture(scope="session")
def boundaries_engine(boundaries_db_url: str) -> Iterator[Engine]:
    """An engine on the session's database with boundaries."""
    engine = sa.create_engine(boundaries_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(boundaries_engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back when the test ends."""
    with boundaries_engine.connect() as conn:
        transaction = conn.begin()
        yield conn
        transaction.rollback()


@pytest.fixture
def empty_connection(empty_db_url: str) -> Iterator[Connection]:
    """A rolled-back connection to a database with the schema and no boundaries."""
    engine = sa.create_engine(empty_db_url)
    with engine.connect() as conn:
        transaction = conn.begin()
        yield conn
        transaction.rollback()
    engine.dispose()


# The phone-hashing key of every test (never the project's own var/phone.key).
os.environ.setdefault("WHISTLE_PHONE_KEY", "whistle-test-key")


@pytest.fixture(scope="session")
def boundaries_template(pg_cluster: LocalCluster, schema_template: str) -> str:
    """A database with the shipped boundaries, used only as a template (no open connections)."""
    url = create_database(pg_cluster, schema_template)
    engine = sa.create_engine(url)
    load_shipped(engine)
    engine.dispose()
    return sa.engine.make_url(url).database


@pytest.fixture
def complaints_db_url(pg_cluster: LocalCluster, boundaries_template: str) -> Iterator[str]:
    """A fresh database with the shipped boundaries and no complaints, dropped afterwards."""
    url = create_database(pg_cluster, boundaries_template)
    yield url
    drop_database(pg_cluster, url)


@pytest.fixture
def complaints_engine(complaints_db_url: str) -> Iterator[Engine]:
    """An engine on a fresh database with boundaries, for code that commits."""
    engine = sa.create_engine(complaints_db_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def boundary_index(boundaries_engine: Engine, tmp_path_factory: pytest.TempPathFactory):
    """The shipped boundary sets with their cell tables, built once for the session."""
    from geo.locate.boundaries_db import boundary_index

    return boundary_index(boundaries_engine, cache_dir=tmp_path_factory.mktemp("cells"))


@pytest.fixture(scope="session")
def townships():
    """The exact township polygons of the shipped set, read from its file as they are loaded
    (no database: the pure tests of lines and clusters run in the fast lane)."""
    from boundaries.shipped import prepare_shipped

    frame = prepare_shipped("township").frame
    return frame[["code", "name", "parent_code", "geometry"]].sort_values("code").reset_index(drop=True)


@contextmanager
def demo_database(cluster: LocalCluster, template: str, boundary_index, townships, folder: Path,
                  **generate) -> Iterator[tuple[str, Engine, dict]]:
    """A database holding a synthetic demo (``synth.generate`` arguments), dropped afterwards.

    Yields the database's URL, an engine on it and the demo's truth.
    """
    from geo.demo import synth
    from geo.ingest.run_db import Mapping, ingest_file

    url = create_database(cluster, template)
    engine = sa.create_engine(url)
    try:
        demo = synth.generate(townships, **generate)
        data, _ = synth.write(demo, folder)
        ingest_file(engine, data, Mapping(dict(synth.MAPPING)), now=demo.truth_end, boundaries=boundary_index)
        yield url, engine, demo.truth
    finally:
        engine.dispose()
        drop_database(cluster, url)


def _plant_cases(engine: Engine, folder: Path, last: datetime) -> None:
    """Whatever the synthetic demo holds, the calls the app's tests act on: four reports of an
    illegal building 5 m inside Guang'anmenwai from each of two of its lines, on the four days
    before ``last`` (the rules propose a whistle at each spot, for the tests that blow and dismiss
    proposals), and a gas leak 5 m inside each of three more of its lines an hour before ``last``
    (each raises a call at once, so that its street office always has open calls however many the
    other tests resolve)."""
    from datetime import timedelta

    from tests.live import GUANGANMENWAI, TAIPINGQIAO, line_point, neighbour, plant

    others: list[str] = [TAIPINGQIAO]
    while len(others) < 5:
        others.append(neighbour(engine, GUANGANMENWAI, besides=tuple(others)))
    spots = [line_point(engine, GUANGANMENWAI, other) for other in others]
    plant(engine, folder, "planted", [
        *[(f"PLANTED-BUILD-{s}-{i}", "illegal_construction", last - timedelta(days=i), spots[s])
          for s in range(2) for i in range(4)],
        *[(f"PLANTED-GAS-{s}", "gas_leak", last - timedelta(hours=1), spots[s]) for s in range(2, 5)]], now=last)


DEMO_PASSWORDS = {"supervisor": "whistle-city-watch", "guanganmenwai": "whistle-street-office",
                  "coordinator": "whistle-border-desk"}


@pytest.fixture(scope="session")
def app_city(pg_cluster, boundaries_template, boundary_index, townships,
             tmp_path_factory) -> Iterator[tuple[str, Engine]]:
    """Six weeks of the demo at 1,500 complaints a day, run through every stage as ``make run``
    does (detect, governance, whistle calls, the demo users), plus one township project:
    the city the app's tests sign in to. Yields its URL and an engine."""
    from datetime import date

    from geo.act.projects import ProjectSpec
    from geo.act.projects_db import create_project
    from tests.helpers import geo

    with demo_database(pg_cluster, boundaries_template, boundary_index, townships,
                       tmp_path_factory.mktemp("app_city"), days=42, per_day=1500, seed=5,
                       end="2026-11-22") as (url, engine, _):
        _plant_cases(engine, tmp_path_factory.mktemp("app_city_planted"), datetime(2026, 11, 21, 4, tzinfo=UTC))
        env = {"DATABASE_URL": url}
        for step in (("detect",), ("governance", "run"), ("whistle", "raise", "--at", "latest"), ("users", "demo")):
            done = geo(*step, env=env)
            assert done.returncode == 0, (step, done.stderr)
        with engine.connect() as conn:
            raised = conn.execute(sa.text(
                "SELECT count(*) FROM whistle_call c JOIN whistle_addressee a ON a.call_id = c.id "
                "WHERE a.code = '110102020' AND c.state = 'raised' AND c.kind = 'emergency'")).scalar_one()
        assert raised >= 3, "the planted gas leaks raise Guang'anmenwai's calls"
        create_project(engine, ProjectSpec(
            kind="problem_of_month", title="广安门外人行道<b>违停</b>治理",
            lead_department="traffic_police",
            categories=["illegal_parking"], starts_on=date(2026, 11, 1), ends_on=date(2027, 1, 31),
            townships=["110102020"], targets={"reduction_pct": 30},
            tasks=[{"title": "施划停车位", "owner": "guanganmenwai", "due_on": date(2026, 11, 30)}]),
            actor="supervisor", now=datetime(2026, 11, 1, 9, tzinfo=UTC))
        create_project(engine, ProjectSpec(
            kind="governance_plan", title="太平桥市场噪声治理", lead_department="urban_management",
            categories=["outdoor_business_noise"], starts_on=date(2026, 11, 1), ends_on=date(2027, 1, 31),
            townships=["110106002"], tasks=[]), actor="supervisor", now=datetime(2026, 11, 1, 9, tzinfo=UTC))
        yield url, engine


def _demo_user(app_city, username: str):
    from geo.act.users_db import authenticate

    user = authenticate(app_city[1], username, DEMO_PASSWORDS[username], now=datetime.now(UTC))
    assert user is not None
    return user


@pytest.fixture(scope="session")
def office(app_city):
    """The demo street office (Guang'anmenwai) as it signs in: its organisation and townships."""
    user = _demo_user(app_city, "guanganmenwai")
    assert user.townships == ("110102020",)
    return user


@pytest.fixture(scope="session")
def supervisor(app_city):
    """The demo supervisor as it signs in (pages look the signed-in user up on every run)."""
    return _demo_user(app_city, "supervisor")


@pytest.fixture(scope="session")
def coordinator(app_city):
    """The demo coordinator as it signs in."""
    return _demo_user(app_city, "coordinator")
