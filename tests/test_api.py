"""The Open311 API over real HTTP (uvicorn in a process of its own) on PostGIS."""

from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor
from xml.etree import ElementTree as ET

import pandas as pd
import pytest
import requests
import sqlalchemy as sa

from geo.api.keys_db import add_key, caller_of, revoke_key
from geo.store.tally import refresh_tally
from tests.conftest import create_database, drop_database
from tests.live import served_api

pytestmark = pytest.mark.db
V2 = "/open311/v2"
# Tiananmen: inside Dongcheng, far from every township line that matters here.
LAT, LON = "39.9087", "116.3975"
TALLIES = ("township_day", "city_day", "cell_day", "township_half", "cell_week")


@pytest.fixture(scope="module")
def api(pg_cluster, boundaries_template):
    url = create_database(pg_cluster, boundaries_template)
    engine = sa.create_engine(url)
    keys = {"wechat": add_key(engine, "wechat-mini", "channel", "wechat"),
            "phone": add_key(engine, "agents", "channel", "phone"),
            "department": add_key(engine, "water-bureau", "department"),
            "callback": add_key(engine, "callback-centre", "callback")}
    try:
        with served_api({"DATABASE_URL": url}) as base:
            yield base, engine, keys
    finally:
        engine.dispose()
        drop_database(pg_cluster, url)


def _post(base, key, fmt="json", **fields):
    return requests.post(f"{base}{V2}/requests.{fmt}", data={"api_key": key, **fields}, timeout=30)


def _complaint(base, key, rid, **extra):
    fields = {"service_code": "construction_noise", "lat": LAT, "long": LON, "description": "夜间施工噪音",
              "attribute[channel_request_id]": rid, "phone": "13912345678", **extra}
    return _post(base, key, **fields)


def _tallies(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {t: sorted(map(tuple, conn.execute(sa.text(f"SELECT * FROM {t}")).all())) for t in TALLIES}


def test_discovery_and_services_in_json_and_xml(api):
    base, _engine, _keys = api
    discovery = requests.get(f"{base}/open311/discovery.json", timeout=10).json()
    assert discovery["endpoints"][0]["url"].endswith("/open311/v2/")
    services = requests.get(f"{base}{V2}/services.json", timeout=10).json()
    noise = next(s for s in services if s["service_code"] == "construction_noise")
    assert noise["service_name"]
    assert noise["service_name_en"]
    assert noise["group"]
    xml = ET.fromstring(requests.get(f"{base}{V2}/services.xml", timeout=10).content)
    assert xml.tag == "services"
    assert len(xml.findall("service")) == len(services)
    definition = requests.get(f"{base}{V2}/services/construction_noise.json", timeout=10).json()
    assert {a["code"] for a in definition["attributes"]} == {"channel_request_id", "crs", "received_at", "accuracy"}
    missing = requests.get(f"{base}{V2}/services/nothing.json", timeout=10)
    assert missing.status_code == 404
    assert missing.json()[0]["code"] == 404
    assert requests.get(f"{base}{V2}/services.csv", timeout=10).status_code == 404
    assert "paths" in requests.get(f"{base}/openapi.json", timeout=10).json()


def test_a_complaint_is_located_masked_and_served_back(api):
    base, engine, keys = api
    answer = _complaint(base, keys["wechat"], "API-0001")
    assert answer.status_code == 200, answer.text
    assert answer.json()[0]["service_request_id"] == "API-0001"
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT c.channel, c.township_code, c.h3, c.phone_masked, c.phone_hash, "
            "(SELECT j.code FROM jurisdiction j WHERE j.level = 'township' AND ST_Covers(j.geom, c.geom)) AS inside "
            "FROM complaint c WHERE source_id = 'API-0001'")).one()
    assert row.channel == "wechat"
    assert row.township_code == row.inside
    assert row.h3
    assert row.phone_masked.endswith("5678")
    assert "1391234" not in row.phone_masked
    for fmt in ("json", "xml"):
        got = requests.get(f"{base}{V2}/requests/API-0001.{fmt}", params={"api_key": keys["department"]},
                           timeout=10)
        assert got.status_code == 200
        assert "13912345678" not in got.text
        assert "1391234" not in got.text
    record = requests.get(f"{base}{V2}/requests/API-0001.json", params={"api_key": keys["department"]},
                          timeout=10).json()[0]
    assert record["status"] == "open"
    assert record["service_code"] == "construction_noise"
    assert record["requested_datetime"].endswith("+08:00")
    assert record["agency_responsible"]
    assert abs(record["lat"] - float(LAT)) < 1e-6
    assert abs(record["long"] - float(LON)) < 1e-6
    xml = ET.fromstring(requests.get(f"{base}{V2}/requests/API-0001.xml", params={"api_key": keys["phone"]},
                                     timeout=10).content)
    assert xml.find("request/service_request_id").text == "API-0001"


def test_the_same_request_twice_is_one_complaint(api):
    base, engine, keys = api
    first = _complaint(base, keys["wechat"], "API-TWICE")
    second = _complaint(base, keys["phone"], "API-TWICE")
    assert first.status_code == second.status_code == 200
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM complaint WHERE source_id = 'API-TWICE'")).scalar() == 1


def test_requests_sent_at_once_each_get_their_own_answer(api):
    """Requests that arrive together are ingested in batches: each still gets its own id or its
    own reason, a rejected one is kept under its own channel, and one sent twice at once is one
    complaint."""
    from concurrent.futures import ThreadPoolExecutor

    base, engine, keys = api
    sent = [(("wechat", "phone")[i % 2], f"API-ONCE-{i}", i % 6 == 5) for i in range(24)]
    sent += [("wechat", "API-ONCE-SAME", False), ("wechat", "API-ONCE-SAME", False)]

    def post(item):
        channel, rid, bad = item
        where = {"lat": "31.2304", "long": "121.4737"} if bad else {}  # Shanghai
        return _complaint(base, keys[channel], rid, **where)

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(post, sent))
    for (_channel, rid, bad), answer in zip(sent, answers, strict=True):
        if bad:
            assert answer.status_code == 400, answer.text
            assert "service area" in answer.json()[0]["description"]
        else:
            assert answer.status_code == 200, answer.text
            assert answer.json()[0]["service_request_id"] == rid
    with engine.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT source_id FROM complaint WHERE source_id LIKE 'API-ONCE-%'")).scalars().all()
        kept = conn.execute(sa.text(
            "SELECT source_id, source FROM rejected_row WHERE source_id LIKE 'API-ONCE-%'")).all()
    assert sorted(stored) == sorted({rid for _c, rid, bad in sent if not bad})
    assert sorted(kept) == sorted((rid, "api:" + ("wechat-mini" if c == "wechat" else "agents"))
                                  for c, rid, bad in sent if bad)


def test_keys_are_checked(api):
    base, engine, keys = api
    for key in (None, "", "wk_" + "x" * 43, "not a key", keys["department"]):
        answer = _complaint(base, key, "API-KEY")
        assert answer.status_code == 403
        assert answer.json()[0]["code"] == 403
    assert requests.get(f"{base}{V2}/requests.json", timeout=10).status_code == 403
    temporary = add_key(engine, "temporary", "channel", "web")
    assert _complaint(base, temporary, "API-TEMP").status_code == 200
    revoke_key(engine, "temporary")
    assert caller_of(engine, temporary) is None
    assert _complaint(base, temporary, "API-TEMP2").status_code == 403
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT key_hash FROM api_key")).scalars().all()
    assert all(len(h) == 64 and h not in keys.values() for h in stored)


@pytest.mark.parametrize(("fields", "field"), [
    ({"service_code": None}, "service_code"),
    ({"service_code": "no-such-service"}, "service_code"),
    ({"long": None}, "long"),
    ({"lat": None, "long": None}, "address_string"),
    ({"lat": "91", "long": "200"}, "outside"),
    ({"lat": "0", "long": "0"}, "placeholder"),
    ({"lat": "31.2304", "long": "121.4737"}, "service area"),  # Shanghai
    ({"lat": "4418000", "long": "446000"}, "coordinate system"),  # metres of UTM 50N, not degrees
    ({"attribute[received_at]": "0001-01-01 00:00:00"}, "received_at"),
    ({"attribute[received_at]": "2999-01-01 00:00:00"}, "future"),
    ({"attribute[received_at]": "yesterday-ish"}, "received_at"),
    ({"attribute[crs]": "epsg:3857"}, "crs"),
    ({"attribute[accuracy]": "-5"}, "accuracy"),
    ({"attribute[accuracy]": "near"}, "accuracy"),
    ({"attribute[channel_request_id]": "bad\x00id"}, "id"),
    ({"description": "x" * 5000}, "description"),
])
def test_bad_requests_get_400_naming_the_field_and_are_kept(api, fields, field):
    base, engine, keys = api
    rid = f"API-BAD-{abs(hash(str(fields))) % 10**8}"
    sent = {"service_code": "construction_noise", "lat": LAT, "long": LON, "attribute[channel_request_id]": rid,
            **fields}
    answer = _post(base, keys["wechat"], **{k: v for k, v in sent.items() if v is not None})
    assert answer.status_code == 400, answer.text
    description = answer.json()[0]["description"]
    assert field.split()[0].lower() in description.lower(), description
    with engine.connect() as conn:
        kept = conn.execute(sa.text(
            "SELECT count(*) FROM rejected_row WHERE source = 'api:wechat-mini' AND reason = :r"),
            {"r": description}).scalar()
    assert kept >= 1, "every refused request is stored as a rejected row"


def test_an_xml_error_is_xml(api):
    base, _engine, keys = api
    answer = _post(base, keys["wechat"], fmt="xml", lat=LAT, long=LON)
    assert answer.status_code == 400
    assert ET.fromstring(answer.content).find("error/code").text == "400"


def test_hostile_text_is_stored_as_text(api):
    base, _engine, keys = api
    hostile = "<script>alert(1)</script> =HYPERLINK(\"x\") {{7*7}} 拨打13812345678"
    answer = _complaint(base, keys["wechat"], "API-HOSTILE", description=hostile)
    assert answer.status_code == 200, answer.text
    record = requests.get(f"{base}{V2}/requests/API-HOSTILE.json", params={"api_key": keys["wechat"]},
                          timeout=10).json()[0]
    assert record["description"].startswith("<script>")
    assert "13812345678" not in record["description"]


def test_coordinates_in_gcj02_are_converted_and_the_original_kept(api):
    base, engine, keys = api
    answer = _complaint(base, keys["wechat"], "API-GCJ", **{"attribute[crs]": "gcj02", "lat": "39.91010",
                                                            "long": "116.40374"})
    assert answer.status_code == 200, answer.text
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT lon, lat, lon_orig, lat_orig, crs_orig FROM complaint "
                                   "WHERE source_id = 'API-GCJ'")).one()
    assert row.crs_orig == "gcj02"
    assert row.lon_orig == pytest.approx(116.40374)
    # A phone's GPS accuracy comes as an attribute and is kept (a border case needs it to reach the line).
    answer = _complaint(base, keys["wechat"], "API-ACC", **{"attribute[accuracy]": "8"})
    assert answer.status_code == 200, answer.text
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT accuracy_m FROM complaint WHERE source_id = 'API-ACC'")).scalar() == 8.0
    assert 0.001 < abs(row.lon - row.lon_orig) < 0.01  # GCJ-02 is offset by a few hundred metres


def test_updates_move_the_complaint_and_the_tallies_equal_a_recount(api):
    base, engine, keys = api
    assert _complaint(base, keys["wechat"], "API-UPD").status_code == 200
    record = requests.get(f"{base}{V2}/requests/API-UPD.json", params={"api_key": keys["wechat"]},
                          timeout=10).json()[0]
    at = record["requested_datetime"]

    def update(key, uid, kind, **extra):
        return requests.post(f"{base}{V2}/servicerequestupdates.json", timeout=30, data={
            "api_key": key, "service_request_id": "API-UPD", "update_id": uid, "updated_datetime": at,
            "status": "open", "external_status_code": kind, **extra})

    assert update(keys["department"], "u1", "dispatched", unit="110101001").status_code == 200
    assert update(keys["department"], "u1", "dispatched", unit="110101001").status_code == 200  # again: once
    assert update(keys["department"], "u2", "responded").status_code == 200
    assert update(keys["department"], "u3", "resolved", status="closed").status_code == 200
    assert update(keys["callback"], "c1", "satisfied", status="closed").status_code == 200
    refused = [update(keys["wechat"], "w1", "resolved"), update(keys["callback"], "c2", "dispatched", unit="x"),
               update(keys["department"], "u4", "dispatched"), update(keys["department"], "u5", "teleported"),
               update(keys["department"], "u6", "responded", updated_datetime="2001-01-01T00:00:00+08:00"),
               update(keys["department"], "u7", "responded", updated_datetime="soon")]
    assert [r.status_code for r in refused] == [403, 400, 400, 400, 400, 400]
    unknown = requests.post(f"{base}{V2}/servicerequestupdates.json", timeout=30, data={
        "api_key": keys["department"], "service_request_id": "NO-SUCH", "update_id": "u9",
        "updated_datetime": at, "status": "open", "external_status_code": "responded"})
    assert unknown.status_code == 404
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT dispatched_at, returned_count, responded_at, resolved, resolved_at, "
                                   "satisfaction, jsonb_array_length(dispatches) AS hand_offs FROM complaint "
                                   "WHERE source_id = 'API-UPD'")).one()
        updates = conn.execute(sa.text("SELECT count(*) FROM request_update")).scalar()
    assert row.hand_offs == 1
    assert row.dispatched_at
    assert row.responded_at
    assert row.resolved is True
    assert row.satisfaction == "satisfied"
    assert updates == 4
    listed = requests.get(f"{base}{V2}/servicerequestupdates.json", timeout=10,
                          params={"api_key": keys["wechat"], "start_date": "2000-01-01T00:00:00+08:00",
                                  "end_date": "2100-01-01T00:00:00+08:00"}).json()
    assert [u["external_status_code"] for u in listed if u["service_request_id"] == "API-UPD"] == [
        "dispatched", "responded", "resolved", "satisfied"]
    closed = requests.get(f"{base}{V2}/requests/API-UPD.json", params={"api_key": keys["wechat"]},
                          timeout=10).json()[0]
    assert closed["status"] == "closed"
    live = _tallies(engine)
    refresh_tally(engine)
    assert live == _tallies(engine)


def test_updates_of_one_complaint_sent_at_once_all_land(api):
    """Sent together they are batched together (and in any order): every hand-off is kept, each
    update gets its own id, and the tallies equal a recount."""
    base, engine, keys = api
    assert _complaint(base, keys["phone"], "API-BURST").status_code == 200
    at = requests.get(f"{base}{V2}/requests/API-BURST.json", params={"api_key": keys["phone"]},
                      timeout=10).json()[0]["requested_datetime"]
    sent = [(keys["department"], f"burst-d{i}", "dispatched", f"11010200{i}") for i in range(4)]
    sent += [(keys["department"], f"burst-r{i}", "returned", "110102020") for i in range(2)]
    sent += [(keys["department"], "burst-a", "responded", None), (keys["callback"], "burst-c", "satisfied", None),
             (keys["department"], "burst-d0", "dispatched", "110102000")]  # a repeat: stored once

    def post(update):
        key, uid, kind, unit = update
        return requests.post(f"{base}{V2}/servicerequestupdates.json", timeout=30, data={
            "api_key": key, "service_request_id": "API-BURST", "update_id": uid, "updated_datetime": at,
            "status": "open", "external_status_code": kind, **({"unit": unit} if unit else {})})

    with ThreadPoolExecutor(len(sent)) as pool:
        answers = list(pool.map(post, sent))
    assert [a.status_code for a in answers] == [200] * len(sent)
    ids = [a.json()[0]["update_id"] for a in answers]
    assert len(set(ids)) == len(sent) - 1
    assert ids[-1] == ids[0], "the repeat answers with the first one's id"
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT jsonb_array_length(dispatches) AS hand_offs, returned_count, "
                                   "responded_at, satisfaction FROM complaint WHERE source_id = 'API-BURST'")).one()
    assert (row.hand_offs, row.returned_count, row.satisfaction) == (6, 2, "satisfied")
    assert row.responded_at is not None
    live = _tallies(engine)
    refresh_tally(engine)
    assert live == _tallies(engine)


def test_requests_are_listed_with_the_specs_filters(api):
    base, _engine, keys = api
    for i in range(3):
        assert _complaint(base, keys["phone"], f"API-LIST-{i}", service_code="garbage_collection").status_code == 200
    get = lambda **p: requests.get(f"{base}{V2}/requests.json", params={"api_key": keys["phone"], **p},  # noqa: E731
                                   timeout=10)
    listed = get(service_code="garbage_collection").json()
    assert {r["service_request_id"] for r in listed} >= {f"API-LIST-{i}" for i in range(3)}
    assert all(r["service_code"] == "garbage_collection" for r in listed)
    assert len(get(service_code="garbage_collection", page_size="2").json()) == 2
    assert [r["service_request_id"] for r in get(service_request_id="API-LIST-0,API-LIST-2").json()] \
        == ["API-LIST-2", "API-LIST-0"] or len(get(service_request_id="API-LIST-0,API-LIST-2").json()) == 2
    assert get(status="closed", service_code="garbage_collection").json() == []
    assert get(start_date="2001-01-01", end_date="2001-02-01").json() == []
    for bad in ({"start_date": "soon"}, {"status": "lost"}, {"page_size": "0"}, {"page": "x"},
                {"start_date": "2026-02-01", "end_date": "2026-01-01"}, {"end_date": "99999-01-01"}):
        answer = get(**bad)
        assert answer.status_code == 400, (bad, answer.text)
        assert next(iter(bad)) in answer.json()[0]["description"]


@pytest.mark.slow
def test_two_api_processes_and_a_file_ingest_at_once_all_land_and_the_tallies_equal_a_recount(api, tmp_path):
    """Complaints posted to two API processes, their updates, and a file of new complaints and
    of status changes to the posted ones, all at the same time: everything lands once and every
    tally equals a recount from the complaints."""
    import csv
    from concurrent.futures import ThreadPoolExecutor

    from geo.ingest.run_db import ingest_file

    base, engine, keys = api
    ids = [f"API-CONC-{i}" for i in range(40)]
    for rid in ids[:20]:  # stored before, so that the file and the updates meet them
        assert _complaint(base, keys["wechat"], rid).status_code == 200
    record = requests.get(f"{base}{V2}/requests/{ids[19]}.json", params={"api_key": keys["wechat"]},
                          timeout=10).json()[0]
    # A minute after the last of them was received (updates before it are refused).
    at = (pd.Timestamp(record["requested_datetime"]) + pd.Timedelta(minutes=1)).isoformat()
    path = tmp_path / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "received_at", "category", "lon", "lat", "resolved", "satisfaction"])
        for i in range(60):
            writer.writerow([f"FILE-CONC-{i}", at, "illegal_parking", LON, LAT, "yes", "满意"])
        for rid in ids[10:20]:  # the file also closes ten of the posted complaints
            writer.writerow([rid, at, "construction_noise", LON, LAT, "no", "不满意"])
    with served_api({"DATABASE_URL": engine.url.render_as_string(hide_password=False)}) as second:
        def post(i: int) -> int:
            return _complaint((base, second)[i % 2], keys["phone"], ids[i]).status_code

        def update(i: int) -> int:
            return requests.post(f"{(base, second)[i % 2]}{V2}/servicerequestupdates.json", timeout=30, data={
                "api_key": keys["department"], "service_request_id": ids[i], "update_id": f"conc-{i}",
                "updated_datetime": at, "status": "open", "external_status_code": "responded"}).status_code

        with ThreadPoolExecutor(6) as pool:
            loaded = pool.submit(ingest_file, engine, path)
            posted = list(pool.map(post, range(20, 40)))
            updated = list(pool.map(update, range(20)))
            summary = loaded.result()
    assert posted == [200] * 20
    assert updated == [200] * 20
    assert (summary.inserted, summary.updated, summary.rejected) == (60, 10, 0)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM complaint WHERE source_id LIKE '%-CONC-%'")).scalar()
        responded = conn.execute(sa.text(
            "SELECT count(*) FROM complaint WHERE source_id LIKE 'API-CONC-%' AND responded_at IS NOT NULL")).scalar()
    assert stored == 100
    assert responded == 20
    live = _tallies(engine)
    refresh_tally(engine)
    assert live == _tallies(engine)


def test_a_phone_in_any_format_shows_only_its_last_four_digits(api):
    base, engine, keys = api
    for i, phone in enumerate(("＋８６ １３９-１２３４-５６７８", "+86 (139) 1234 5678", "010-6512 5678")):
        assert _complaint(base, keys["wechat"], f"API-PHONE-{i}", phone=phone).status_code == 200
    with engine.connect() as conn:
        masked = conn.execute(sa.text(
            "SELECT phone_masked FROM complaint WHERE source_id LIKE 'API-PHONE-%' ORDER BY source_id")).scalars().all()
    assert all(m.endswith("5678") for m in masked), masked
    assert not any(digits in m for m in masked for digits in ("1391234", "6512", "１３９"))


def _openapi_schema():
    # The schema as the app serves it, built without a database (it depends on none), so that
    # the cases are known when the tests are collected.
    import schemathesis

    from geo.api.app import create_app

    app = create_app(sa.create_engine("postgresql+psycopg://schema-only@/none"),
                     clock=lambda: pd.Timestamp("2026-12-01", tz="UTC"), on_accepted=lambda ids: None)
    return schemathesis.openapi.from_dict(app.openapi())


# Last in the module: the generated requests store complaints and rejected rows of their own.
@pytest.mark.slow
@_openapi_schema().parametrize()
def test_no_generated_request_gets_a_500(case, api):
    """Every operation of the served OpenAPI schema, with requests generated from it (valid
    and invalid, hostile text, any types): a 4xx naming the problem or a 2xx, never a 5xx.

    Half the cases carry a real key of the kind the operation wants, so that they pass the
    key check and reach the field checks, the ingest and the database."""
    base, _engine, keys = api
    key = keys["department"] if "servicerequestupdates" in case.path else keys["wechat"]
    for where in (case.query, case.body):
        if isinstance(where, dict) and "api_key" in where and zlib.crc32(repr(where).encode()) % 2 == 0:
            where["api_key"] = key
    response = case.call(base_url=base, timeout=30)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
    kind = next(iter(response.headers.get("content-type", [""])), "")
    assert kind.startswith(("application/json", "application/xml")), (kind, response.text[:200])


def test_a_department_s_system_reads_its_calls_and_reports_done_through_the_api(api):
    """A department without app users: its key names it; it reads the calls addressed to it (JSON
    and XML, times with the zone) and reports its part done; another department's key sees only
    its own; a key that names no department, or a channel's, is refused."""
    from datetime import timedelta

    from geo.act.whistle_db import call_detail, raise_calls
    from geo.api.keys_db import add_key
    from geo.detect.borders_db import run_borders
    from tests.live import line_point

    base, engine, keys = api
    lon, lat = line_point(engine)
    answer = _post(base, keys["wechat"], service_code="gas_leak", lat=str(lat), long=str(lon),
                   description="燃气味很重", **{"attribute[channel_request_id]": "API-GAS-DEPT"})
    assert answer.status_code == 200, answer.text
    with engine.connect() as conn:
        received = conn.execute(sa.text("SELECT received_at FROM complaint WHERE source_id = 'API-GAS-DEPT'")).scalar()
    run_borders(engine, received - timedelta(days=1), received + timedelta(seconds=1))
    assert raise_calls(engine, now=received + timedelta(seconds=1)).raised == 1
    urban = add_key(engine, "urban-desk", "department", department="urban_management")
    housing = add_key(engine, "housing-desk", "department", department="housing")
    got = requests.get(f"{base}{V2}/whistle/calls.json", params={"api_key": urban}, timeout=10)
    assert got.status_code == 200, got.text
    [call] = got.json()
    assert (call["kind"], call["addressee_code"], call["addressee_state"]) == ("emergency", "urban_management",
                                                                              "pending")
    assert call["deadline_datetime"].endswith("+08:00")
    xml = ET.fromstring(requests.get(f"{base}{V2}/whistle/calls.xml", params={"api_key": urban}, timeout=10).content)
    assert xml.find("call/call_id").text == str(call["call_id"])
    assert requests.get(f"{base}{V2}/whistle/calls.json", params={"api_key": housing}, timeout=10).json() == []
    done = requests.post(f"{base}{V2}/whistle/calls/{call['call_id']}/reports.json",
                         data={"api_key": urban, "done": "true", "note": "阀门已关闭"}, timeout=10)
    assert done.status_code == 200, done.text
    steps = call_detail(engine, call["call_id"]).events
    assert steps[steps["actor"] == "api:urban-desk"]["to_state"].tolist() == ["reported", "done"]
    again = requests.post(f"{base}{V2}/whistle/calls/{call['call_id']}/reports.json",
                          data={"api_key": urban, "done": "true"}, timeout=10)
    assert again.status_code == 400
    assert "done" in again.json()[0]["description"]
    assert requests.post(f"{base}{V2}/whistle/calls/{call['call_id']}/reports.json",
                         data={"api_key": housing}, timeout=10).status_code == 404
    assert requests.post(f"{base}{V2}/whistle/calls/{call['call_id']}/reports.json",
                         data={"api_key": urban, "done": "maybe"}, timeout=10).status_code == 400
    for key in (keys["department"], keys["wechat"], "wk_" + "x" * 43):
        assert requests.get(f"{base}{V2}/whistle/calls.json", params={"api_key": key}, timeout=10).status_code == 403
    assert requests.get(f"{base}{V2}/whistle/calls.json", params={"api_key": urban, "state": "lost"},
                        timeout=10).status_code == 400
    from geo.errors import ValidationError

    with pytest.raises(ValidationError, match="not a department"):
        add_key(engine, "nobody-desk", "department", department="nobody")


def test_a_fresh_install_s_api_reads_the_boundaries_before_it_answers(api, tmp_path):
    """A fresh install has no cell tables yet: the API builds them while it starts, so that once it
    answers at all, its first complaint is located at once (it waited 5 to 10 s for them)."""
    _base, engine, _keys = api
    with served_api({"DATABASE_URL": engine.url.render_as_string(hide_password=False),
                     "WHISTLE_HOME": str(tmp_path)}):
        assert sorted(p.name.split("-")[1] for p in (tmp_path / "var" / "cache").glob("cells-*.npz")) == [
            "district", "township"]
