"""The command line, run as a user runs it: `python -m geo ...` in a subprocess."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import sqlalchemy as sa
from shapely.geometry import Polygon, box

from geo.store.migrate import head_revision
from tests.helpers import assert_one_line_error, geo


def test_help_lists_the_commands():
    done = geo("--help")
    assert done.returncode == 0
    for command in ("db", "boundaries"):
        assert command in done.stdout
    done = geo("boundaries", "--help")
    for command in ("build", "import", "list", "load-shipped"):
        assert command in done.stdout
    done = geo("db", "--help")
    for command in ("start", "stop", "status", "reset", "upgrade"):
        assert command in done.stdout


def test_db_commands_refuse_to_run_a_cluster_when_database_url_is_set(empty_db_url):
    done = geo("db", "stop", env={"DATABASE_URL": empty_db_url})
    assert_one_line_error(done, "DATABASE_URL is set")
    done = geo("db", "status", env={"DATABASE_URL": empty_db_url})
    assert done.returncode == 0
    assert f"schema revision {head_revision()}: up to date" in done.stdout


def test_db_status_of_a_cluster_not_yet_created(tmp_path):
    done = geo("db", "status", env={"WHISTLE_PG_DIR": str(tmp_path / "pg"), "DATABASE_URL": ""})
    assert done.returncode == 0
    assert "not initialised" in done.stdout


def test_unreachable_database_is_one_line(tmp_path):
    url = f"postgresql+psycopg://nobody@/none?host={tmp_path}&port=5999"
    done = geo("boundaries", "list", env={"DATABASE_URL": url})
    assert_one_line_error(done, "cannot reach the database")


@pytest.fixture
def official_file(tmp_path: Path) -> Path:
    path = tmp_path / "official.gpkg"
    gpd.GeoDataFrame(
        {"GB": ["110101001", "110101002"], "MC": ["东华门街道", "景山街道"], "QX": ["110101", "110101"]},
        geometry=[box(116.38, 39.90, 116.39, 39.91), box(116.39, 39.90, 116.40, 39.91)], crs=4326,
    ).to_file(path, layer="townships")
    return path


def _current_sets(url: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, level, feature_count, valid_to IS NULL FROM boundary_set "
                                    "ORDER BY id")).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_import_replaces_the_set_and_a_failed_import_changes_nothing(empty_db_url, official_file, tmp_path):
    env = {"DATABASE_URL": empty_db_url}
    assert geo("boundaries", "load-shipped", env=env).returncode == 0
    shipped = _current_sets(empty_db_url)
    assert [s[1:] for s in shipped] == [("district", 16, True), ("township", 334, True)]

    args = ["--level", "township", "--code-field", "GB", "--name-field", "MC", "--parent-field", "QX"]
    done = geo("boundaries", "import", str(official_file), *args, env=env)
    assert done.returncode == 0, done.stderr
    assert "loaded 2 township units as set 3, replacing set 2" in done.stdout
    after = _current_sets(empty_db_url)
    assert after[1] == (2, "township", 334, False)  # kept, dated
    assert after[2] == (3, "township", 2, True)

    bad = tmp_path / "dup.geojson"
    gpd.GeoDataFrame({"GB": ["1", "1"], "MC": ["a", "b"], "QX": ["110101", "110101"]},
                     geometry=[box(116.38, 39.90, 116.39, 39.91), box(116.39, 39.90, 116.40, 39.91)],
                     crs=4326).to_file(bad)
    done = geo("boundaries", "import", str(bad), *args, env=env)
    assert_one_line_error(done, "duplicate codes: 1 at features 1, 2")
    assert _current_sets(empty_db_url) == after

    listing = geo("boundaries", "list", env=env)
    assert listing.returncode == 0
    assert "current" in listing.stdout


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("nocrs", "declares no coordinate system"),
        ("overlap", "overlap by more than"),
        ("empty", "holds no features"),
        ("text", "not a readable GeoJSON, Shapefile or GeoPackage"),
        ("field", "--code-field 'GB' is not a field"),
    ],
)
def test_bad_files_fail_in_one_line_and_store_nothing(empty_db_url, tmp_path, make, message):
    path = tmp_path / "bad.geojson"
    west, east = box(116.38, 39.90, 116.39, 39.91), box(116.385, 39.90, 116.40, 39.91)
    if make == "nocrs":
        path = tmp_path / "bad.shp"
        gpd.GeoDataFrame({"GB": ["1"], "MC": ["a"]}, geometry=[west]).to_file(path)
    elif make == "overlap":
        gpd.GeoDataFrame({"GB": ["1", "2"], "MC": ["a", "b"]}, geometry=[west, east], crs=4326).to_file(path)
    elif make == "empty":
        path.write_text('{"type": "FeatureCollection", "features": []}')
    elif make == "text":
        path.write_text("this is not geodata\n")
    elif make == "field":
        gpd.GeoDataFrame({"CODE": ["1"], "MC": ["a"]}, geometry=[west], crs=4326).to_file(path)
    done = geo("boundaries", "import", str(path), "--level", "township", "--code-field", "GB",
               "--name-field", "MC", env={"DATABASE_URL": empty_db_url})
    assert_one_line_error(done, message)
    assert _current_sets(empty_db_url) == []


def test_invalid_polygon_is_repaired_and_reported(empty_db_url, tmp_path):
    path = tmp_path / "bowtie.geojson"
    bowtie = Polygon([(116.40, 39.90), (116.41, 39.91), (116.41, 39.90), (116.40, 39.91)])
    gpd.GeoDataFrame({"GB": ["9"], "MC": ["蝴蝶街道"]}, geometry=[bowtie], crs=4326).to_file(path)
    done = geo("boundaries", "import", str(path), "--level", "township", "--code-field", "GB",
               "--name-field", "MC", "--valid-from", "2026-01-01", env={"DATABASE_URL": empty_db_url})
    assert done.returncode == 0, done.stderr
    assert "repaired 9 (蝴蝶街道): Self-intersection" in done.stdout


def test_bad_valid_from_is_named(empty_db_url, official_file):
    done = geo("boundaries", "import", str(official_file), "--level", "township", "--code-field", "GB",
               "--name-field", "MC", "--valid-from", "next tuesday", env={"DATABASE_URL": empty_db_url})
    assert_one_line_error(done, "--valid-from 'next tuesday' is not an ISO date")
