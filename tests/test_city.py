"""The city profile (geo/city.py): another city by configuration, and no Beijing in the code."""

from __future__ import annotations

import ast
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from geo.act.users import User
from geo.city import City, city_file, load_city
from geo.errors import ValidationError
from geo.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
# Beijing's values, which live in its profile (cities/beijing/city.toml) and nowhere in the code.
BEIJING_TEXT = ("Asia/Shanghai", "32650", "Beijing", "北京")
BEIJING_NUMBERS = (115.42, 39.44, 117.51, 41.06, 115.4, 39.4, 117.6, 41.1)
# The demo city is Beijing's synthetic data, and boundaries/ derives Beijing's polygons: both
# are about Beijing by nature. Everything else must work for any city.
APART = ("geo/demo/", "boundaries/")


def _profile(folder: Path, **values) -> Path:
    fields = {"code": "bay", "name_zh": "湾城", "name_en": "Bay City", "hotline_zh": "湾城12345",
              "hotline_en": "Bay City 311", "timezone": "America/Los_Angeles",
              "bounds": [-122.52, 37.70, -122.35, 37.83], **values}
    lines = [f"{k} = {v!r}".replace("'", '"') if not isinstance(v, list) else f"{k} = {v}"
             for k, v in fields.items() if v is not None]
    lines += ["[channels]", '"SF311 app" = "app"']
    for level, (zh, en) in {"district": ("区", "supervisor district"), "township": ("街区", "neighborhood"),
                            "community": ("社区", "block")}.items():
        lines += [f"[levels.{level}]", f'zh = "{zh}"', f'en = "{en}"']
    path = folder / "city.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for table in ("categories.csv", "departments.csv"):
        shutil.copy(ROOT / "cities" / "beijing" / table, folder / table)
    return path


def _literals(path: Path) -> list[tuple[int, object]]:
    """The string and number constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    # An attribute's docstring: a string standing alone after an assignment.
    docstrings |= {id(node.value) for node in ast.walk(tree)
                   if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                   and isinstance(node.value.value, str)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and id(node) not in docstrings]


def test_no_beijing_value_is_written_in_the_code():
    files = [p for folder in ("geo", "layers", "views") for p in (ROOT / folder).rglob("*.py")] + [ROOT / "app.py"]
    found = []
    for path in files:
        name = path.relative_to(ROOT).as_posix()
        if name.startswith(APART):
            continue
        for line, value in _literals(path):
            if isinstance(value, str) and any(text in value for text in BEIJING_TEXT):
                found.append(f"{name}:{line} {value[:60]!r}")
            elif isinstance(value, float) and value in BEIJING_NUMBERS:
                found.append(f"{name}:{line} {value}")
    assert not found, "Beijing's values belong in cities/beijing/city.toml:\n" + "\n".join(found)


def test_beijing_is_the_default_and_ships_complete():
    city = load_settings({}).city
    assert isinstance(city, City)
    assert (city.code, city.timezone, city.metric_crs) == ("beijing", "Asia/Shanghai", "EPSG:32650")
    assert city.contains(116.3975, 39.9087)
    assert city.map_bounds == [[39.44, 115.42], [41.06, 117.51]]
    assert city.channels == {"北京通": "app"}
    assert set(city.levels) == {"district", "township", "community"}


def test_another_city_by_its_profile_its_metres_in_its_own_utm_zone(tmp_path):
    north = _profile(tmp_path)
    settings = load_settings({"WHISTLE_CITY": str(north)})
    assert settings.timezone == "America/Los_Angeles"
    assert settings.metric_crs == "EPSG:32610", "no metric_crs: the UTM zone of the city's centre"
    assert load_settings({"WHISTLE_CITY": str(north), "WHISTLE_METRIC_CRS": "EPSG:3857"}).metric_crs == "EPSG:3857"
    assert load_settings({"WHISTLE_CITY": str(tmp_path)}).city.name_en == "Bay City", "its folder will do"
    south = tmp_path / "south"
    south.mkdir()
    sydney = load_city(_profile(south, timezone="Australia/Sydney", bounds=[150.9, -34.1, 151.3, -33.7]))
    assert sydney.metric_crs == "EPSG:32756", "south of the equator: a southern UTM zone"
    assert city_file("beijing") == ROOT / "cities" / "beijing" / "city.toml"


@pytest.mark.parametrize(("values", "problem"), [
    ({"timezone": "Mars/Olympus"}, "not an IANA zone"),
    ({"timezone": None}, "timezone is missing"),
    ({"bounds": [-122.35, 37.70, -122.52, 37.83]}, "west < east"),
    ({"bounds": [1, 2, 3]}, "[west, south, east, north]"),
    ({"metric_crs": "EPSG:4326"}, "not a projected CRS in metres"),
    ({"metric_crs": "no such"}, "is not a CRS"),
    ({"name_en": ""}, "name_en is missing"),
    ({"bounds": None}, "give bounds, or metric_crs"),
    ({"default_points": [[1, 2, 3]]}, "a list of [lon, lat] pairs"),
])
def test_a_wrong_profile_names_the_file_and_the_value(tmp_path, values, problem):
    with pytest.raises(ValidationError, match=r"city\.toml") as caught:
        load_city(_profile(tmp_path, **values))
    assert problem in str(caught.value)


def test_a_city_that_is_not_there_is_a_clear_error(tmp_path):
    with pytest.raises(ValidationError, match="cannot read the city profile"):
        load_settings({"WHISTLE_CITY": "atlantis"})
    with pytest.raises(ValidationError, match="neither a city"):
        city_file("../etc/passwd")


@pytest.mark.db
def test_days_are_cut_in_the_citys_zone(complaints_engine, tmp_path, monkeypatch):
    """Late evening in the city is the next day in UTC (and in Beijing): the tallies, the
    dashboard's period and a recount all put it on the city's own day."""
    from geo.ingest.run_db import ingest_rows
    from geo.show import dashboard_db
    from geo.store.tally import refresh_tally

    monkeypatch.setenv("WHISTLE_CITY", str(_profile(tmp_path)))
    rows = [{"id": f"LATE-{i}", "category": "construction_noise", "lat": "39.9087", "lon": "116.3975",
             "received_at": at, "channel": "SF311 app", "text": "noise"}
            for i, at in enumerate(("2026-11-30 23:30:00", "2026-11-30 00:10:00"))]
    summary = ingest_rows(complaints_engine, rows, source="api:bay", now=pd.Timestamp("2026-12-02", tz="UTC"))
    assert summary.inserted == 2
    with complaints_engine.connect() as conn:
        days = conn.execute(sa.text("SELECT day, sum(volume) FROM township_day GROUP BY 1")).all()
        stored = conn.execute(sa.text("SELECT received_at, channel FROM complaint ORDER BY source_id")).all()
    assert [(d, int(v)) for d, v in days] == [(date(2026, 11, 30), 2)]
    assert stored[0].received_at == pd.Timestamp("2026-12-01 07:30", tz="UTC"), "read in the city's zone"
    assert stored[0].channel == "app", "the city's own channel name"
    live = dict(days)
    refresh_tally(complaints_engine)
    with complaints_engine.connect() as conn:
        assert dict(conn.execute(sa.text("SELECT day, sum(volume) FROM township_day GROUP BY 1")).all()) == live
    supervisor = User(1, "supervisor", "Supervisor", "supervisor", 0, "Bay City")
    with complaints_engine.connect() as conn:
        town = conn.execute(sa.text("SELECT township_code FROM complaint LIMIT 1")).scalar()
    for day, expected in ((date(2026, 11, 30), 2), (date(2026, 12, 1), 0)):
        listed = dashboard_db.township_complaints(complaints_engine, supervisor, town,
                                                  dashboard_db.Selection(day, day))
        assert len(listed) == expected, f"the township's list of {day}, the city's day"


def test_a_citys_own_rules_and_tables_win_over_the_national_defaults(tmp_path, monkeypatch):
    """A city keeps only the files it changes beside its profile; WHISTLE_RULES_DIR wins over both."""
    from geo.act.categories import categories, classify
    from geo.act.whistle import WhistleRules
    from geo.detect.rules import DetectRules

    profile = _profile(tmp_path)
    national = (ROOT / "geo" / "data" / "whistle.toml").read_text(encoding="utf-8")
    (tmp_path / "whistle.toml").write_text(national.replace("city_after_minutes = 60", "city_after_minutes = 15"),
                                           encoding="utf-8")
    table = (tmp_path / "categories.csv").read_text(encoding="utf-8")
    (tmp_path / "categories.csv").write_text(
        table + "cable_car_noise,缆车噪声,Cable car noise,environment,ecology,false,false\n", encoding="utf-8")
    monkeypatch.setenv("WHISTLE_CITY", str(profile))
    assert WhistleRules.load().city_after.total_seconds() == 15 * 60, "the city's own whistle rules"
    assert DetectRules.load() == DetectRules.load(ROOT / "geo" / "data" / "detect.toml"), "the national default"
    assert "cable_car_noise" in categories()
    assert classify(pd.Series(["Cable car noise", "construction noise?"])).tolist() == [
        "cable_car_noise", "unclassified"]
    override = tmp_path / "override"
    override.mkdir()
    (override / "whistle.toml").write_text(national.replace("city_after_minutes = 60", "city_after_minutes = 5"),
                                           encoding="utf-8")
    monkeypatch.setenv("WHISTLE_RULES_DIR", str(override))
    assert WhistleRules.load().city_after.total_seconds() == 5 * 60
    monkeypatch.delenv("WHISTLE_RULES_DIR")
    monkeypatch.delenv("WHISTLE_CITY")
    assert "cable_car_noise" not in categories(), "back in Beijing, Beijing's table"


def test_a_city_without_its_categories_is_told_what_to_do(tmp_path, monkeypatch):
    from geo.act.categories import categories

    profile = _profile(tmp_path)
    (tmp_path / "categories.csv").unlink()
    monkeypatch.setenv("WHISTLE_CITY", str(profile))
    with pytest.raises(ValidationError, match=r"has no categories\.csv beside it: copy cities/beijing"):
        categories()
    (tmp_path / "categories.csv").write_text("code,name\nx,y\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="line 2: the columns are code"):
        categories()


def test_a_profile_without_bounds_opens_on_its_townships(tmp_path):
    city = load_city(_profile(tmp_path, bounds=None, metric_crs="EPSG:32610", default_points=[[-122.4194, 37.7749]]))
    assert city.bounds is None
    assert city.map_bounds is None, "the maps fit the loaded townships instead (views/maps.py)"
    assert city.contains(-122.0, 37.0)
    assert city.default_points == ((-122.4194, 37.7749),)


def test_the_citys_day_is_its_own_not_utcs(tmp_path):
    """A project opened at 00:30 in Beijing starts that day, not the UTC day before."""
    from datetime import UTC, datetime

    beijing, bay = load_settings({}).city, load_city(_profile(tmp_path))
    moment = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 00:30 on 1 December in Beijing
    assert beijing.day_of(moment) == date(2026, 12, 1)
    assert bay.day_of(moment) == date(2026, 11, 30)
    with pytest.raises(ValidationError, match="no time zone"):
        beijing.day_of(datetime(2026, 11, 30, 16, 30))
