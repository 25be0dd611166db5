"""The same city, three times: Beijing's profile and two others, end to end from their files.

Each city (``geo/demo/cities.py``) is a grid of townships laid out in its own UTM zone, with an
export written the way its hotline writes it and a truth planted in it. Every step runs as a user
runs it, on the command line with ``WHISTLE_CITY`` set: the schema (and the city's categories),
its polygons, its export through its mapping, detect, governance, whistle calls and reports; then
the app's pages. Beijing's profile runs the same suite on the same kind of grid.
"""

from __future__ import annotations

import json
import re
from zoneinfo import ZoneInfo

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from esda import G_Local
from libpysal.weights import W
from pyproj import Transformer

from geo.demo.cities import CITIES, NEAR_ACCURACY_M, NEAR_OFFSETS_M, write_city
from geo.detect.rules import detect_rules
from tests.conftest import create_database, drop_database
from tests.helpers import geo, signed_in


@pytest.fixture(autouse=True)
def fresh_caches():
    """The app keeps its engine and its cached reads per process: another city is another
    database, and a dropped one must not stay cached for the tests after these."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(scope="module", params=list(CITIES))
def city(request, pg_cluster, schema_template, tmp_path_factory):
    """A city's database, loaded and run through every stage by the command line."""
    made = write_city(CITIES[request.param], tmp_path_factory.mktemp(request.param))
    url = create_database(pg_cluster, schema_template)
    env = {"DATABASE_URL": url, **made.env}
    done = {}
    steps = [("db", "upgrade")]
    if made.districts is not None:
        steps.append(("boundaries", "import", str(made.folder / "districts.geojson"), "--level", "district",
                      "--code-field", "code", "--name-field", "name", "--valid-from", "2026-01-01"))
    steps += [("boundaries", "import", str(made.folder / "townships.geojson"), "--level", "township",
               "--code-field", "code", "--name-field", "name", "--valid-from", "2026-01-02"),
              ("ingest", str(made.export), "--mapping", str(made.mapping), "--json"),
              ("detect",), ("governance", "run"), ("whistle", "raise", "--at", "latest")]
    for step in steps:
        ran = geo(*step, env=env)
        assert ran.returncode == 0, (step, ran.stdout, ran.stderr)
        done[step[0] if step[0] != "boundaries" else f"boundaries {step[4]}"] = ran
    engine = sa.create_engine(url)
    yield made, url, engine, env, done
    engine.dispose()
    drop_database(pg_cluster, url)


def _frame(engine, sql: str, **params) -> pd.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(sa.text(sql), params)
        return pd.DataFrame(result.all(), columns=list(result.keys()))


def test_the_import_makes_the_missing_districts_and_tells_gaps_from_layers_that_do_not_nest(city):
    made, _, engine, _, _ = city
    report = _frame(engine, "SELECT report FROM boundary_set WHERE level = 'township' AND valid_to IS NULL")
    report = report["report"].iat[0]
    towns = _frame(engine, "SELECT code, parent_code FROM jurisdiction WHERE level = 'township' "
                           "AND valid_to IS NULL ORDER BY code")
    assert towns["code"].tolist() == made.truth["townships"]
    if made.districts is None:
        districts = _frame(engine, "SELECT code, name FROM jurisdiction WHERE level = 'district'")
        assert districts.values.tolist() == [[made.spec.code, made.spec.name_zh]], "one city-wide district"
        assert set(towns["parent_code"]) == {made.spec.code}
        gaps = {g["parent_code"]: g for g in report["gaps"]}
        assert gaps[made.spec.code]["area_m2"] == pytest.approx(made.truth["hole_m2"], rel=1e-3), "the hole"
        assert gaps[made.spec.code]["not_nested_m2"] == 0
        assert any("1 district(s) made from the townships" in note for note in report["notes"])
        return
    gaps = {g["parent_code"]: g for g in report["gaps"]}
    west, east = f"{made.spec.code}-w", f"{made.spec.code}-e"
    assert gaps[west]["area_m2"] == pytest.approx(made.truth["hole_m2"], rel=1e-3), "the real gap: the hole"
    assert gaps[west]["not_nested_m2"] == pytest.approx(made.truth["strip_m2"], rel=1e-3), "the strip"
    assert east not in gaps, "the east district is covered by its own townships"
    # The strip's township overlaps the east district most, and takes it.
    assert towns.set_index("code").at[made.truth["strip_township"], "parent_code"] == east


def test_every_row_lands_and_its_day_is_the_citys_own(city):
    made, _, engine, _, done = city
    summary = json.loads(done["ingest"].stdout)
    assert summary["rows"] == made.truth["complaints"]
    assert summary["inserted"] + summary["rejected"] == summary["rows"]
    rejected = _frame(engine, "SELECT source_id, reason_code, reason FROM rejected_row")
    assert summary["rejected"] == len(rejected) == 0, rejected.to_string()
    assert summary["unmapped"] == {made.truth["unmapped"]: 15}, "the value the map left out, with its count"
    stored = _frame(engine, "SELECT source_id, category, township_code, district_code, received_at, channel "
                            "FROM complaint")
    assert len(stored) + len(rejected) == made.truth["complaints"]
    assert set(stored["category"]) == {c.code for c in made.spec.categories}, "the value map places each"
    assert set(stored["channel"]) == set(made.spec.channels.values())
    local = stored["received_at"].dt.tz_convert(made.spec.timezone).dt.date.value_counts().sort_index()
    days = _frame(engine, "SELECT day, sum(volume) AS n FROM city_day GROUP BY day ORDER BY day")
    assert dict(zip(days["day"], days["n"].astype(int), strict=True)) == local.to_dict()
    late = stored.set_index("source_id").loc[made.truth["late"]]
    moment = late["received_at"].tz_convert(made.spec.timezone)
    assert (moment.month, moment.day, moment.hour, moment.minute) == (10, 31, 23, 30), "read in the city's zone"


def test_locate_equals_sjoin_and_a_district_sliver_keeps_the_townships_district(city):
    made, _, engine, _, _ = city
    addressed = _frame(engine, "SELECT source_id, township_code, precision FROM complaint WHERE precision <> 'point'")
    assert dict(zip(addressed["source_id"], addressed["township_code"], strict=True)) == made.truth["addressed"], \
        "an address naming a township, by the city's own township names"
    assert set(addressed["precision"]) <= {"township"}
    stored = _frame(engine, "SELECT source_id, lon, lat, township_code, district_code FROM complaint "
                            "WHERE NOT on_boundary AND precision = 'point'")
    points = gpd.GeoDataFrame(stored, geometry=gpd.points_from_xy(stored["lon"], stored["lat"]), crs=4326)
    joined = points.sjoin(made.townships[["code", "geometry"]], predicate="within", how="left")
    assert (joined["code"].fillna("-").to_numpy() == stored["township_code"].fillna("-").to_numpy()).all()
    towns = _frame(engine, "SELECT code, parent_code FROM jurisdiction WHERE level = 'township' AND valid_to IS NULL")
    parent = dict(zip(towns["code"], towns["parent_code"], strict=True))
    inside = stored["township_code"].notna()
    assert (stored.loc[inside, "district_code"] == stored.loc[inside, "township_code"].map(parent)).all()
    if made.districts is not None:
        strip = shapely.Polygon(made.districts.geometry.iloc[0]).intersection(
            made.townships.set_index("code").geometry[made.truth["strip_township"]])
        in_strip = shapely.contains_xy(strip, stored["lon"], stored["lat"])
        assert in_strip.sum() > 0, "the strip holds complaints"
        assert (stored.loc[in_strip, "district_code"] == f"{made.spec.code}-e").all()


def test_hot_spots_equal_esda_and_find_the_planted_one(city):
    made, _, engine, _, _ = city
    run = _frame(engine, "SELECT id, resolution, k FROM hotspot_run WHERE kind = 'gi' ORDER BY id DESC LIMIT 1")
    cells = _frame(engine, "SELECT h3, count, z, significant FROM hotspot_cell WHERE run_id = :r ORDER BY h3",
                   r=int(run["id"].iat[0]))
    index = {int(c): i for i, c in enumerate(cells["h3"])}
    k = int(run["k"].iat[0])
    neighbours = {i: [index[h3.str_to_int(n)] for n in h3.grid_disk(h3.int_to_str(int(c)), k)
                      if h3.str_to_int(n) in index and h3.str_to_int(n) != int(c)]
                  for i, c in enumerate(cells["h3"])}
    reference = G_Local(cells["count"].to_numpy(float), W(neighbours, silence_warnings=True), transform="B",
                        star=True, permutations=0)
    np.testing.assert_allclose(cells["z"], reference.Zs, atol=1e-9, rtol=0)
    planted = h3.str_to_int(h3.latlng_to_cell(made.truth["hot_spot"][1], made.truth["hot_spot"][0],
                                              int(run["resolution"].iat[0])))
    hot = cells.set_index("h3").loc[planted]
    assert hot["significant"], "the cloud's cell is a significant hot spot"
    assert hot["z"] > 2


def test_near_line_distances_are_metres_in_the_citys_own_utm_zone(city):
    made, _, engine, _, _ = city
    rows = _frame(engine, "SELECT c.source_id, c.lon, c.lat, b.townships, l.distance_m FROM border_case b "
                          "JOIN border_case_complaint l ON l.case_id = b.id JOIN complaint c ON c.id = l.complaint_id "
                          "WHERE b.kind = 'near'")
    to_metric = Transformer.from_crs("EPSG:4326", made.metric_crs, always_xy=True)
    x, y = to_metric.transform(rows["lon"].to_numpy(), rows["lat"].to_numpy())
    towns = made.townships.set_index("code").to_crs(made.metric_crs).geometry
    exact = [shapely.distance(shapely.Point(px, py), towns[a].boundary.intersection(towns[b].boundary))
             if len(t) == 2 else d
             for px, py, t, d in zip(x, y, rows["townships"], rows["distance_m"], strict=True)
             for a, b in [sorted(t)[:2]]]
    np.testing.assert_allclose(rows["distance_m"], exact, atol=0.01, rtol=0)
    found = rows.set_index("source_id")
    borders = detect_rules().borders
    for planted in made.truth["near"]:
        # Near only where the location's uncertainty (its accuracy, else a GPS fix's) reaches the line.
        reach = min(planted["accuracy_m"] or borders.uncertainty["wgs84"], borders.distance_m)
        if planted["distance_m"] <= reach:
            assert found.at[planted["id"], "distance_m"] == pytest.approx(planted["distance_m"], abs=0.01)
            assert sorted(found.at[planted["id"], "townships"]) == planted["townships"]
        else:
            assert planted["id"] not in found.index, planted
    inside = [abs(d) <= min(a or borders.uncertainty["wgs84"], borders.distance_m)
              for d, a in zip(NEAR_OFFSETS_M, NEAR_ACCURACY_M, strict=True)]
    assert sum(inside) == 5, "five within their uncertainty and the rule, four outside (one a tight 8 m fix)"


def test_clusters_ping_pong_and_an_emergency_on_a_line_become_cases_and_a_call(city):
    made, _, engine, _, _ = city
    cases = _frame(engine, "SELECT kind, townships FROM border_case")
    kinds = {kind: {tuple(sorted(t)) for t in group["townships"]} for kind, group in cases.groupby("kind")}
    assert tuple(made.truth["cluster"]["townships"]) in kinds["cluster"]
    assert tuple(made.truth["ping_pong"]["townships"]) in kinds["pingpong"]
    calls = _frame(engine, "SELECT w.id, w.kind, array_agg(a.code ORDER BY a.code) AS addressees "
                           "FROM whistle_call w JOIN whistle_addressee a ON a.call_id = w.id GROUP BY w.id, w.kind")
    emergency = calls[calls["kind"] == "emergency"]
    assert len(emergency) >= 1
    wanted = set(made.truth["emergency"]["townships"])
    alarm = next(c for c in made.spec.categories if c.emergency)
    departments = set(alarm.departments.split(";")) if alarm.departments else set()
    assert any(wanted <= set(a) and departments - {"township_office"} <= set(a)
               for a in emergency["addressees"]), emergency


def test_the_monthly_ranking_has_each_township_once_and_says_when_there_are_no_rates(city):
    made, _, engine, env, _ = city
    october = _frame(engine, "SELECT township_code, volume, response_rate, composite, label "
                             "FROM governance_month WHERE month = '2026-10-01' ORDER BY township_code")
    assert october["township_code"].tolist() == made.truth["townships"]
    if made.spec.rates:
        assert october["composite"].notna().all()
    else:
        assert october["composite"].isna().all()
        assert october["response_rate"].isna().all()
    # The city chosen on the command line instead of the environment.
    chosen = {**env, "WHISTLE_CITY": ""}
    shown = geo("--city", str(made.profile), "governance", "show", "--month", "2026-10", env=chosen)
    assert shown.returncode == 0, shown.stderr
    assert "Traceback" not in shown.stderr
    if not made.spec.rates:
        assert "no rate data" in shown.stdout
    report = geo("report", "monthly", "--date", "2026-10-15", "--out", str(made.folder / "report"), env=env)
    assert report.returncode == 0, report.stderr
    text = next((made.folder / "report").glob("*.md")).read_text(encoding="utf-8")
    assert made.spec.townships[0] in text, "townships by name"
    if not made.spec.rates:
        assert "no rate data" in text


@pytest.mark.parametrize("page", ["overview", "township", "borders", "reports", "jurisdictions"])
def test_the_apps_pages_render_for_the_city(city, monkeypatch, page):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    made, url, _, env, _ = city
    # The app keeps its engine and its cached reads per process: another city is another database.
    st.cache_data.clear()
    st.cache_resource.clear()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WHISTLE_CLOCK", "data")
    user = signed_in(url)

    def run(name: str) -> None:
        import importlib

        importlib.import_module(f"views.{name}").render()

    at = AppTest.from_function(run, kwargs={"name": page}, default_timeout=180)
    at.session_state["user"] = user
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    if page == "overview":
        at.radio(key="overview_overlay").set_value("classes").run()
        assert not at.exception, [e.value for e in at.exception]
        drawn = json.dumps([json.loads(n.proto.json_args) for n in at.get("component_instance")])
        # The map opens on the city: its bounds, or (a profile without them) its townships.
        fitted = re.search(r"fitBounds\((?:\\n|\s)*\[\[([-\d.]+), ([-\d.]+)\], \[([-\d.]+), ([-\d.]+)\]\]", drawn)
        south, west, north, east = (float(v) for v in fitted.groups())
        centre = made.townships.union_all().centroid
        assert west < centre.x < east
        assert south < centre.y < north
        assert (east - west) < 3, "the city, not the world"
    shown = " ".join(str(e.value) for e in [*at.caption, *at.markdown, *at.title])
    assert "Beijing" not in shown or made.spec.code == "beijing", shown[:400]
    # The city's own language: Bay City's and Cidade do Sul's pages are English, Beijing's Chinese.
    title = at.title[0].value.split(" (")[0].split("：")[0]  # an English title quotes the reform's term
    assert bool(re.search("[\u4e00-\u9fff]", title)) == (made.spec.language == "zh_CN"), title
    assert ZoneInfo(made.spec.timezone)


def test_the_upload_form_takes_the_export_with_its_mapping(city, monkeypatch):
    """The same export through the app's form, with its mapping file: every row is known and
    unchanged; a wrong mapping is named and stores nothing."""
    import yaml

    from geo.errors import ValidationError
    from views import intake

    made, url, engine, env, _ = city
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    user = signed_in(url)
    mapping = (made.mapping.name, made.mapping.read_bytes())
    summary = intake.ingest_upload(user, made.export.name, made.export.read_bytes(), None, "utf-8", mapping)
    assert (summary.rows, summary.unchanged, summary.inserted) == (made.truth["complaints"],) * 2 + (0,)
    # The map finished as the first ingest's report asked: the 15 rows are filed again.
    finished = yaml.safe_load(made.mapping.read_text(encoding="utf-8"))
    finished["values"]["category"][made.truth["unmapped"]] = made.spec.categories[1].code
    summary = intake.ingest_upload(user, made.export.name, made.export.read_bytes(), None, "utf-8",
                                   ("mapping.yaml", yaml.safe_dump(finished, allow_unicode=True).encode()))
    assert (summary.updated, summary.inserted, summary.unmapped) == (15, 0, {})
    assert _frame(engine, "SELECT count(*) AS n FROM complaint WHERE category = 'unclassified'")["n"].iat[0] == 0
    runs = _frame(engine, "SELECT count(*) AS n FROM ingest_run")["n"].iat[0]
    for bad, problem in ((b"columns: {nonsense: x}\n", "unknown fields"), (b"values: [1, 2\n", "mapping"),
                         (b"formats: {received_at: '%Q'}\n", "strptime format"),
                         (b"values: {category: {Graffiti: no_such}}\n", "not a category code"),
                         (b"x" * (300 << 10), "256 KB")):
        with pytest.raises(ValidationError, match=problem) as caught:
            intake.ingest_upload(user, made.export.name, made.export.read_bytes(), None, "utf-8", ("m.yaml", bad))
        assert "/tmp" not in str(caught.value)
    assert _frame(engine, "SELECT count(*) AS n FROM ingest_run")["n"].iat[0] == runs, "nothing stored"
