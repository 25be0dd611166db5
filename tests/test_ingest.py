"""Ingest against PostGIS: every row ends in exactly one place, with a reason a person can act on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from geo.errors import ValidationError
from geo.ingest.rejected_db import export_rejected, rejected_rows
from geo.ingest.run_db import Mapping, ingest_file, ingest_rows, load_mapping
from geo.locate.coords import gcj02_to_bd09, wgs84_to_gcj02
from tests.helpers import geo

NOW = pd.Timestamp("2026-11-22T12:00:00+08:00")
POINT = (116.3400, 39.8850)  # Guang'anmenwai, Xicheng
DISPATCH = json.dumps([{"at": "2026-11-01 08:40", "unit": "110102020", "action": "dispatched"}])


def row(**fields) -> dict:
    base = {"id": "C1", "received_at": "2026-11-01 08:30:00", "channel": "电话", "category": "违法建设",
            "text": "two storeys", "address": "", "lon": POINT[0], "lat": POINT[1], "crs": "",
            "phone": "13812345678", "dispatches": DISPATCH, "responded_at": "2026-11-01 09:00",
            "resolved": "否", "resolved_at": "", "satisfaction": ""}
    return {**base, **fields}


def write_csv(path, rows, **kwargs):
    pd.DataFrame(rows).to_csv(path, index=False, **kwargs)
    return path


def ingest(engine, path, index, **kwargs):
    return ingest_file(engine, path, now=NOW, boundaries=index, **kwargs)


def table(engine, sql, **params):
    with engine.connect() as conn:
        return pd.read_sql(sa.text(sql), conn, params=params)


def test_a_good_row_is_located_and_its_phone_only_masked(complaints_engine, boundary_index, tmp_path):
    summary = ingest(complaints_engine, write_csv(tmp_path / "a.csv", [row()]), boundary_index)
    assert (summary.inserted, summary.rejected) == (1, 0)
    got = table(complaints_engine, "SELECT * FROM complaint").iloc[0]
    assert (got.township_code, got.district_code, got.precision, got.category) == (
        "110102020", "110102", "point", "illegal_construction")
    assert got.received_at == pd.Timestamp("2026-11-01T00:30:00Z")
    assert got.phone_masked == "*******5678"
    assert "12345678" not in got.phone_hash
    assert got.dispatched_at == pd.Timestamp("2026-11-01T00:40:00Z")
    geom = table(complaints_engine, "SELECT ST_X(geom) x, ST_Y(geom) y, ST_SRID(geom) s FROM complaint").iloc[0]
    assert (geom.x, geom.y, geom.s) == (POINT[0], POINT[1], 4326)


@pytest.mark.parametrize(("fields", "code", "words"), [
    ({"id": ""}, "missing_id", "id is missing"),
    ({"received_at": "yesterday"}, "bad_time", "'yesterday' is not a date and time"),
    ({"received_at": "2026-02-30 10:00"}, "bad_time", "is not a date and time"),
    ({"received_at": "2027-01-01 10:00"}, "future_time", "is in the future"),
    ({"lon": "", "lat": "", "address": ""}, "no_location", "neither a location nor an address"),
    ({"lon": 0, "lat": 0, "address": ""}, "placeholder_location", "lon 0 / lat 0 is a placeholder, not a "
     "location, and there is no address"),
    ({"lon": "", "lat": "", "address": "火星基地"}, "no_location", "names no known township"),
    ({"lon": "", "lat": "", "address": "大郊亭"}, "no_location", "ambiguous"),
    ({"lon": 121.47, "lat": 31.23}, "outside", "outside the service area"),
    ({"lon": POINT[1], "lat": POINT[0]}, "swapped", "longitude and latitude swapped"),
    # Impossible coordinates that no swap explains (the cases the old service-area check named).
    ({"lon": 500.0, "lat": 39.9}, "outside", "outside the service area"),
    ({"lon": 116.3975, "lat": 95.0}, "outside", "outside the service area"),
    ({"crs": "mars-9"}, "unknown_crs", "coordinate system 'mars-9' is unknown"),
    ({"lon": "116,34"}, "bad_coordinate", "is not a pair of numbers"),
    ({"satisfaction": "meh"}, "bad_field", "satisfaction 'meh' is not one of"),
    ({"dispatches": "[not json"}, "bad_field", "dispatches"),
    ({"dispatches": json.dumps([{"at": "2026-11-01", "unit": "x", "action": "teleported"}])}, "bad_field",
     "actions are dispatched, returned, redispatched"),
    ({"footprint": "POLYGON((1 2, 3"}, "bad_footprint", "is not a line or polygon"),
    ({"accuracy": "-3"}, "bad_field", "accuracy '-3' is not a distance in metres above 0 and up to 5,000"),
    ({"accuracy": "about ten"}, "bad_field", "accuracy 'about ten' is not a distance in metres"),
    ({"accuracy": "1e9"}, "bad_field", "accuracy '1e9' is not a distance in metres"),
])
def test_each_bad_row_is_rejected_with_its_line_and_reason(complaints_engine, boundary_index, tmp_path, fields,
                                                           code, words):
    rows = [row(id="GOOD"), row(**{"id": "BAD", **fields})]
    summary = ingest(complaints_engine, write_csv(tmp_path / "b.csv", rows), boundary_index)
    assert (summary.inserted, summary.rejected) == (1, 1)
    assert summary.rejected_by_reason == {code: 1}
    rejected = table(complaints_engine, "SELECT * FROM rejected_row").iloc[0]
    assert rejected.line == 3
    assert rejected.reason_code == code
    assert words in rejected.reason
    assert rejected.source == "b.csv"
    # The raw row is kept for whoever fixes it, with the phone masked.
    assert rejected.raw["phone"] == "*******5678"
    assert rejected.raw["channel"] == "电话"


def test_an_unknown_category_is_accepted_and_counted(complaints_engine, boundary_index, tmp_path):
    summary = ingest(complaints_engine, write_csv(tmp_path / "c.csv", [row(category="飞碟降落")]), boundary_index)
    assert (summary.inserted, summary.unclassified) == (1, 1)
    got = table(complaints_engine, "SELECT category, category_raw FROM complaint").iloc[0]
    assert (got.category, got.category_raw) == ("unclassified", "飞碟降落")


def test_gcj02_and_bd09_are_converted_and_the_original_kept(complaints_engine, boundary_index, tmp_path):
    glon, glat = wgs84_to_gcj02(POINT[0], POINT[1])
    blon, blat = gcj02_to_bd09(glon, glat)
    rows = [row(id="G", lon=glon[0], lat=glat[0], crs="gcj02"), row(id="B", lon=blon[0], lat=blat[0], crs="BD-09")]
    ingest(complaints_engine, write_csv(tmp_path / "g.csv", rows), boundary_index)
    got = table(complaints_engine, "SELECT source_id, lon, lat, lon_orig, crs_orig, "
                "ST_Distance(geom::geography, ST_MakePoint(:x, :y)::geography) AS metres FROM complaint "
                "ORDER BY source_id", x=POINT[0], y=POINT[1])
    assert got["metres"].max() < 1.0
    assert got["crs_orig"].tolist() == ["bd09", "gcj02"]
    assert got["lon_orig"].tolist() == pytest.approx([blon[0], glon[0]])


def test_address_only_rows_carry_their_precision(complaints_engine, boundary_index, tmp_path):
    rows = [row(id="T", lon="", lat="", address="西城区广安门外街道某处"),
            row(id="M", lon="", lat="", address="东城区东华门街道多福巷社区")]
    summary = ingest(complaints_engine, write_csv(tmp_path / "d.csv", rows), boundary_index)
    assert summary.precision == {"township": 1, "community": 1}
    got = table(complaints_engine, "SELECT source_id, precision, h3, township_code FROM complaint ORDER BY 1")
    assert got["precision"].tolist() == ["community", "township"]
    assert pd.isna(got["h3"].iloc[1])
    assert got["township_code"].iloc[1] == "110102020"
    assert got["township_code"].iloc[0] == "110101001"


def test_a_footprint_is_stored_and_gives_the_point(complaints_engine, boundary_index, tmp_path):
    square = "POLYGON((116.3399 39.8849, 116.3401 39.8849, 116.3401 39.8851, 116.3399 39.8851, 116.3399 39.8849))"
    rows = [row(lon="", lat="", footprint=square)]
    ingest(complaints_engine, write_csv(tmp_path / "f.csv", rows), boundary_index)
    got = table(complaints_engine, "SELECT GeometryType(footprint) t, ST_Within(geom, footprint) w FROM complaint")
    assert got.iloc[0].tolist() == ["POLYGON", True]


def test_hostile_text_is_stored_as_text(complaints_engine, boundary_index, tmp_path):
    hostile = ["'); DROP TABLE complaint; --", "<script>alert(1)</script><img src=x onerror=alert(2)>",
               "tab\tbell\x07 escape\x1b[31m nul\x00 end", "长" * 100_000]
    rows = [row(id=f"H{i}", text=t) for i, t in enumerate(hostile)]
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    summary = ingest(complaints_engine, path, boundary_index)
    assert summary.inserted == 4
    stored = table(complaints_engine, "SELECT source_id, text FROM complaint ORDER BY source_id")["text"].tolist()
    assert stored[:2] == hostile[:2]
    assert stored[2] == hostile[2].replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL
    assert len(stored[3]) == 100_000


def test_the_same_file_twice_changes_nothing_and_a_later_export_updates_status(complaints_engine, boundary_index,
                                                                              tmp_path):
    first = write_csv(tmp_path / "day1.csv", [row(id="U1"), row(id="U2"), row(id="U3", id_extra="x")])
    one = ingest(complaints_engine, first, boundary_index)
    before = table(complaints_engine, "SELECT * FROM complaint ORDER BY source_id")
    two = ingest(complaints_engine, first, boundary_index)
    assert (one.inserted, two.inserted, two.updated, two.unchanged) == (3, 0, 0, 3)
    after = table(complaints_engine, "SELECT * FROM complaint ORDER BY source_id")
    pd.testing.assert_frame_equal(before, after)
    later = write_csv(tmp_path / "day2.csv", [
        row(id="U1", resolved="是", resolved_at="2026-11-03 10:00", satisfaction="满意",
            received_at="2026-11-01 09:99", lon=116.5, lat=39.9),
        row(id="U2")])
    three = ingest(complaints_engine, later, boundary_index)
    assert three.rejected == 1  # the bad time is still caught, even on a known id
    fixed = write_csv(tmp_path / "day3.csv", [row(id="U1", resolved="是", resolved_at="2026-11-03 10:00",
                                                  satisfaction="满意", lon=116.5, lat=39.9), row(id="U2")])
    four = ingest(complaints_engine, fixed, boundary_index)
    assert (four.inserted, four.updated, four.unchanged) == (0, 1, 1)
    got = table(complaints_engine, "SELECT * FROM complaint WHERE source_id = 'U1'").iloc[0]
    assert got.resolved
    assert got.satisfaction == "satisfied"
    # What it was received as does not change with a later export.
    assert (got.lon, got.township_code) == (POINT[0], "110102020")
    assert got.updated_run_id == four.run_id


def test_duplicates_in_a_file_keep_the_first(complaints_engine, boundary_index, tmp_path):
    rows = [row(id="D"), row(id="D", text="again"), row(id="", text="no id"), row(id="D", text="third")]
    summary = ingest(complaints_engine, write_csv(tmp_path / "dup.csv", rows), boundary_index)
    assert (summary.inserted, summary.rejected_by_reason) == (1, {"duplicate": 2, "missing_id": 1})
    reasons = table(complaints_engine, "SELECT line, reason FROM rejected_row ORDER BY line")
    assert reasons["line"].tolist() == [3, 4, 5]
    assert "already appeared on line 2" in reasons["reason"].iloc[0]


def test_a_rejected_row_fixed_and_ingested_again_is_settled(complaints_engine, boundary_index, tmp_path):
    ingest(complaints_engine, write_csv(tmp_path / "r.csv", [row(id="R1", lon=POINT[1], lat=POINT[0])]),
           boundary_index)
    rows = rejected_rows(complaints_engine)
    assert len(rows) == 1
    export = tmp_path / "fix.csv"
    assert export_rejected(rows, export) == 1
    assert export.read_bytes().startswith(b"\xef\xbb\xbf"), "for Excel on Chinese Windows"
    fixed = pd.read_csv(export, dtype=str)
    assert fixed.columns[0] == "id", "the mark is not part of the first header"
    fixed[["lon", "lat"]] = fixed[["lat", "lon"]].to_numpy()
    # Fixed in a spreadsheet and saved as it opened it: with the mark, as the ingest takes it.
    export.write_bytes(fixed.to_csv(index=False).encode("utf-8-sig"))
    summary = ingest(complaints_engine, export, boundary_index)
    assert summary.inserted == 1
    assert rejected_rows(complaints_engine).empty
    assert len(rejected_rows(complaints_engine, include_resolved=True)) == 1


def test_a_duplicate_ingested_on_its_own_is_settled_even_when_it_changes_nothing(complaints_engine, boundary_index,
                                                                                   tmp_path):
    """The rejection of a repeated row says: ingest it again on its own. Done with a row the
    same as the one kept, the load passes it by as unchanged, and its rejection is settled
    all the same (it stayed open: only staged or inserted rows settled theirs)."""
    ingest(complaints_engine, write_csv(tmp_path / "twice.csv", [row(id="D1"), row(id="D1"), row(id="D2")]),
           boundary_index)
    assert rejected_rows(complaints_engine)["source_id"].tolist() == ["D1"]
    again = ingest(complaints_engine, write_csv(tmp_path / "alone.csv", [row(id="D1")]), boundary_index)
    assert again.unchanged == 1
    assert rejected_rows(complaints_engine).empty
    assert len(rejected_rows(complaints_engine, include_resolved=True)) == 1


def test_a_request_settles_the_rejections_its_accepted_rows_answer(complaints_engine, boundary_index, tmp_path):
    """A request's accepted rows settle rejections as a file's do: one fixed and posted again,
    one repeat of a file posted alone and passed by as unchanged; a row rejected again stays open."""
    def post(rows: list[dict]):
        return ingest_rows(complaints_engine, [{k: str(v) for k, v in r.items()} for r in rows],
                           source="api:settle", now=NOW, boundaries=boundary_index)

    assert post([row(id="Q1", lon=POINT[1], lat=POINT[0])]).rejected == 1
    ingest(complaints_engine, write_csv(tmp_path / "twice.csv", [row(id="Q2"), row(id="Q2")]), boundary_index)
    assert post([row(id="Q3", received_at="yesterday-ish")]).rejected == 1
    assert sorted(rejected_rows(complaints_engine)["source_id"]) == ["Q1", "Q2", "Q3"]
    fixed = post([row(id="Q1"), row(id="Q2"), row(id="Q3", received_at="yesterday-ish")])
    assert (fixed.inserted, fixed.unchanged, fixed.rejected) == (1, 1, 1)
    assert set(rejected_rows(complaints_engine)["source_id"]) == {"Q3"}, "rejected again: open, twice"
    settled = rejected_rows(complaints_engine, include_resolved=True)
    assert set(settled.loc[settled["resolved_run_id"].notna(), "source_id"]) == {"Q1", "Q2"}
    assert set(settled["resolved_run_id"].dropna()) == {fixed.run_id}


def test_formats_and_a_mapping_give_the_same_complaints(complaints_engine, boundary_index, tmp_path):
    names = {"id": "工单编号", "received_at": "受理时间", "lon": "经度", "lat": "纬度", "category": "诉求类别"}
    rows = [{names.get(k, k): v for k, v in row(id=f"F{i}").items()} for i in range(3)]
    mapping_file = tmp_path / "m.yaml"
    mapping_file.write_text("columns:\n" + "".join(f"  {k}: {v}\n" for k, v in names.items()), encoding="utf-8")
    mapping = load_mapping(mapping_file)
    frame = pd.DataFrame(rows)
    frame.to_csv(tmp_path / "x.csv", index=False)
    pq.write_table(pa.Table.from_pandas(frame.assign(经度=frame["经度"].astype(float))),
                   tmp_path / "x.parquet")
    (tmp_path / "x.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    results = []
    for name in ("x.csv", "x.parquet", "x.jsonl"):
        summary = ingest(complaints_engine, tmp_path / name, boundary_index, mapping=mapping)
        results.append((summary.inserted + summary.unchanged, summary.rejected))
        assert summary.rejected == 0
    assert results == [(3, 0)] * 3
    assert table(complaints_engine, "SELECT count(*) n FROM complaint")["n"].iloc[0] == 3


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: p.write_text("id,received_at,lon,lat\n", encoding="utf-8"), "header but no rows"),
    (lambda p: p.write_bytes(b"\x00\x01\x02PK\x03\x04" * 100), "binary file"),
    (lambda p: p.write_bytes("id,received_at,lon,lat,address\n1,2026-11-01 08:00,116.34,39.885,广安门外\n"
                             .encode("gbk")), "--encoding gbk"),
    (lambda p: p.write_text("id,received_at,lon,lat\n1,2026-11-01,116.3,39.9\n2,2026-11-01,116.3\n",
                            encoding="utf-8"), "ragged rows"),
    (lambda p: p.write_text("name,when\nx,y\n", encoding="utf-8"), "no column for id"),
])
def test_a_malformed_file_stops_with_one_message_and_stores_nothing(complaints_engine, boundary_index, tmp_path,
                                                                    make, message):
    ingest(complaints_engine, write_csv(tmp_path / "ok.csv", [row(id="KEEP")]), boundary_index)
    path = tmp_path / "bad.csv"
    make(path)
    with pytest.raises(ValidationError, match=message.replace("-", r"\-")):
        ingest(complaints_engine, path, boundary_index)
    counts = table(complaints_engine, "SELECT (SELECT count(*) FROM complaint) c, (SELECT count(*) FROM ingest_run) r")
    assert counts.iloc[0].tolist() == [1, 1]


def test_a_gbk_export_loads_with_its_encoding(complaints_engine, boundary_index, tmp_path):
    path = tmp_path / "gbk.csv"
    write_csv(path, [row(id="GBK", text="违法建设两层")], encoding="gbk")
    summary = ingest(complaints_engine, path, boundary_index, encoding="gbk")
    assert summary.inserted == 1
    assert table(complaints_engine, "SELECT text FROM complaint")["text"].iloc[0] == "违法建设两层"


def test_a_jsonl_line_that_is_not_json_is_named(complaints_engine, boundary_index, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row()) + "\n{not json\n[1, 2]\n", encoding="utf-8")
    summary = ingest(complaints_engine, path, boundary_index)
    assert (summary.inserted, summary.rejected_by_reason) == (1, {"bad_line": 2})
    reasons = table(complaints_engine, "SELECT reason, raw->>'__line__' AS text, source_id FROM rejected_row "
                    "ORDER BY line")
    assert reasons["reason"].str.contains("line 2 is not valid JSON").iat[0]
    assert reasons["reason"].str.contains("line 3 holds a JSON list, not an object").iat[1]
    assert reasons["text"].tolist() == ["{not json\n", "[1, 2]\n"]
    assert reasons["source_id"].isna().all()
    # A file whose first line is no JSON object is no JSON Lines file: nothing is stored.
    path.write_text("{not json\n" + json.dumps(row(id="Z")) + "\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="line 1 is not valid JSON"):
        ingest(complaints_engine, path, boundary_index)


def test_mapping_errors_are_named(tmp_path):
    with pytest.raises(ValidationError, match="unknown fields"):
        Mapping({"idd": "x"})
    with pytest.raises(ValidationError, match="more than one field"):
        Mapping({"id": "x", "text": "x"})
    with pytest.raises(ValidationError, match="field=column"):
        Mapping().with_options(["id"])
    bad = tmp_path / "m.yaml"
    bad.write_text("columns: [1, 2]", encoding="utf-8")
    with pytest.raises(ValidationError, match="columns"):
        load_mapping(bad)


def test_no_phone_in_full_reaches_storage_or_an_export(complaints_db_url, complaints_engine, boundary_index,
                                                       tmp_path):
    # A second phone column the mapping does not name, numbers in the text, phones of every form.
    rows = [row(id="P1", phone="+86 139-1234-5678", text="请回电 13712345678", 联系电话="010-65123456"),
            row(id="P2", phone="1234567", 联系电话="13612345678", received_at="not a time",
                text="=HYPERLINK(\"http://evil.example\",\"click\")"),
            row(id="P3", phone="13812345678*", 联系电话="@SUM(1+1)", lon=POINT[1], lat=POINT[0],
                text="+cmd|' /C calc'!A0")]
    ingest(complaints_engine, write_csv(tmp_path / "p.csv", rows), boundary_index)
    stored = table(complaints_engine, "SELECT source_id, phone_masked, phone_hash, text FROM complaint")
    assert stored[["source_id", "phone_masked", "text"]].to_dict("records") == [
        {"source_id": "P1", "phone_masked": "*******5678", "text": "请回电 *******5678"}]
    assert len(stored["phone_hash"].iat[0]) == 32
    everything = json.dumps(table(complaints_engine, "SELECT raw, reason FROM rejected_row").to_dict("records"),
                            ensure_ascii=False, default=str)
    for full in ("13912345678", "13712345678", "65123456", "1234567", "13612345678", "13812345678"):
        assert full not in everything
    export = tmp_path / "out.csv"
    done = geo("rejected", "--export", str(export), env={"DATABASE_URL": complaints_db_url})
    assert done.returncode == 0, done.stderr
    text = export.read_text(encoding="utf-8")
    assert not any(full in text for full in ("13612345678", "1234567", "13812345678"))
    # Formulas are quoted as the reports quote them; a fixed row loses the quote on its way back.
    for formula in ('=HYPERLINK(', "@SUM(1+1)", "+cmd|"):
        assert f"'{formula}" in text.replace('""', '"')
    fixed = pd.read_csv(export, dtype=str)
    fixed.loc[fixed["id"] == "P2", "received_at"] = "2026-11-01 08:30:00"
    fixed.loc[fixed["id"] == "P3", ["lon", "lat"]] = fixed.loc[fixed["id"] == "P3", ["lat", "lon"]].to_numpy()
    fixed.to_csv(export, index=False)
    assert ingest(complaints_engine, export, boundary_index).inserted == 2
    back = table(complaints_engine, "SELECT source_id, text, phone_masked, phone_hash FROM complaint "
                 "WHERE source_id IN ('P2', 'P3') ORDER BY source_id")
    assert back["text"].tolist() == ['=HYPERLINK("http://evil.example","click")', "+cmd|' /C calc'!A0"]
    assert back["phone_masked"].tolist() == ["****567", "*******5678"]


def test_migration_0013_masks_what_the_old_mask_left(complaints_engine, boundary_index, tmp_path):
    from alembic import command

    from geo.store.migrate import _config, head_revision, upgrade

    ingest(complaints_engine, write_csv(tmp_path / "m.csv", [row(id="M1"), row(id="M2", received_at="never")]),
           boundary_index)
    with complaints_engine.begin() as conn:
        # What 0012 stored: the 7-digit mask, and numbers in text and in raw rows in full.
        conn.execute(sa.text("UPDATE complaint SET phone_masked = '138****5678', text = '请回电13712345678', "
                             "address = '电话１３６１２３４５６７８'"))
        conn.execute(sa.text("UPDATE rejected_row SET raw = raw || '{\"联系电话\": \"13612345678\"}', "
                             "reason = reason || ' (13512345678)'"))
    config = _config()
    with complaints_engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0012")
    assert upgrade(complaints_engine) == head_revision()
    got = table(complaints_engine, "SELECT phone_masked, text, address FROM complaint").iloc[0]
    assert (got.phone_masked, got.text, got.address) == ("*******5678", "请回电*******5678", "电话*******5678")
    rejected = table(complaints_engine, "SELECT raw, reason FROM rejected_row").iloc[0]
    assert rejected.raw["联系电话"] == "*******5678"
    assert rejected.raw["id"] == "M2"
    assert "*******5678)" in rejected.reason


def test_one_bad_value_never_aborts_the_file(complaints_engine, boundary_index, tmp_path):
    """NUL bytes, absurd years, an impossible day, a line nested 5,000 deep: each is one rejected
    row with its reason; the good rows load."""
    nul_dispatch = json.dumps([{"at": "2026-11-01 08:40", "unit": "110102020\u0000", "action": "dispatched"}])
    rows = [row(id="GOOD1"), row(id="N\x00UL"), row(id="DISP", dispatches=nul_dispatch),
            row(id="RAW", received_at="never", extra="a\x00b"),
            row(id="Y1", received_at="0001-01-01 00:00:00"), row(id="Y2", received_at="1600-06-01 10:00:00"),
            row(id="Y3", received_at="3000-01-01 00:00:00"), row(id="Y4", received_at="9999-12-31 23:59:59"),
            row(id="Y5", received_at="1985-05-05 10:00:00"), row(id="FEB", received_at="2026-02-30 10:00:00"),
            row(id="R1", responded_at="9999-12-31 23:59:59"), row(id="GOOD2")]
    path = tmp_path / "bad.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines.insert(3, '{"id": "DEEP", "text": ' + "[" * 5000 + "]" * 5000 + "}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = ingest(complaints_engine, path, boundary_index)
    assert summary.inserted == 3  # GOOD1, DISP (its unit cleaned), GOOD2
    assert summary.rows == len(lines)
    reasons = table(complaints_engine, "SELECT coalesce(source_id, raw->>'__line__') AS source_id, reason_code, "
                    "reason, raw FROM rejected_row ORDER BY line")
    # The line that could not be read keeps its text (the start of it) for whoever fixes it.
    reasons["source_id"] = reasons["source_id"].where(~reasons["source_id"].str.startswith('{"id": "DEEP"'), "DEEP")
    got = dict(zip(reasons["source_id"], reasons["reason_code"], strict=True))
    assert got == {"N\ufffdUL": "bad_id", "DEEP": "bad_line", "RAW": "bad_time", "Y1": "implausible_time",
                   "Y2": "implausible_time", "Y3": "future_time", "Y4": "future_time", "Y5": "implausible_time",
                   "FEB": "bad_time", "R1": "bad_field"}
    said = dict(zip(reasons["source_id"], reasons["reason"], strict=True))
    assert "before 1990" in said["Y2"]
    assert "is not a date and time" in said["FEB"]
    assert "NUL" in said["N\ufffdUL"]
    assert "nested" in said["DEEP"]


def test_a_placeholder_point_is_located_by_its_address(complaints_engine, boundary_index, tmp_path):
    """(0, 0) means "no location" to many systems, not the Gulf of Guinea: the row is located
    by its address, and the placeholder is not kept as its original point."""
    summary = ingest(complaints_engine, write_csv(tmp_path / "zero.csv", [
        row(id="Z1", lon=0, lat=0, address="广安门外街道"), row(id="Z2", lon="0.0", lat="0.000", address="")]),
        boundary_index)
    assert (summary.inserted, summary.rejected_by_reason) == (1, {"placeholder_location": 1})
    got = table(complaints_engine, "SELECT township_code, precision, lon_orig FROM complaint").iloc[0]
    assert (got.township_code, got.precision) == ("110102020", "township")
    assert pd.isna(got.lon_orig)


def test_a_default_point_or_one_repeated_to_the_last_digit_is_no_location(complaints_engine, boundary_index,
                                                                         tmp_path, monkeypatch):
    """A city's default point, and an exact point an implausible share of a file's rows repeat
    (a call centre's "no location" written as its own address), are placeholders: located by the
    address, else refused as placeholder_location; points a few metres apart are real ones."""
    import shutil

    root = Path(__file__).resolve().parents[1]
    city = tmp_path / "city"
    shutil.copytree(root / "cities" / "beijing", city)
    profile = (city / "city.toml").read_text(encoding="utf-8").replace("../../boundaries", str(root / "boundaries"))
    (city / "city.toml").write_text(profile.replace("default_points = []", "default_points = [[116.391, 39.9]]"),
                                    encoding="utf-8")
    monkeypatch.setenv("WHISTLE_CITY", str(city))
    rng = np.random.default_rng(4)
    rows = [row(id=f"R{i}", lon=116.35 + rng.uniform(0, 0.05), lat=39.89 + rng.uniform(0, 0.02)) for i in range(200)]
    rows += [row(id=f"S{i}", lon="116.3456", lat="39.8901", address="") for i in range(110)]
    rows += [row(id="SA", lon="116.3456", lat="39.8901", address="广安门外街道")]
    rows += [row(id="D1", lon="116.391", lat="39.9", address=""), row(id="D2", lon=116.391, lat=39.9,
                                                                      address="广安门外街道")]
    # A busy building: 25 complaints a few metres apart, and 60 an upstream geocoder put on one
    # point, are real points.
    rows += [row(id=f"B{i}", lon=116.3700 + i * 1e-5, lat=39.8950) for i in range(25)]
    rows += [row(id=f"G{i}", lon="116.3800", lat="39.8960") for i in range(60)]
    summary = ingest(complaints_engine, write_csv(tmp_path / "defaults.csv", rows), boundary_index)
    assert summary.rejected_by_reason == {"placeholder_location": 111}
    said = table(complaints_engine, "SELECT source_id, reason FROM rejected_row").set_index("source_id")["reason"]
    assert "written exactly by 111 of the 396 rows with coordinates" in said["S0"]
    assert "the city's default point" in said["D1"]
    located = table(complaints_engine, "SELECT source_id, precision FROM complaint").set_index("source_id")["precision"]
    assert (located["SA"], located["D2"]) == ("township", "township"), "by the address"
    assert (located[[f"B{i}" for i in range(25)] + [f"G{i}" for i in range(60)]] == "point").all()


def test_an_unchanged_row_is_passed_by_and_a_changed_one_is_not(complaints_engine, boundary_index, tmp_path,
                                                                 monkeypatch):
    """Re-loading a file checks, locates and loads none of its unchanged rows (their stored
    hash matches), yet counts them as before; a changed row, a duplicate and a row stored
    without a hash still go the whole way."""
    from geo.ingest import run_db

    checked_rows = []
    real = run_db.check_batch
    monkeypatch.setattr(run_db, "check_batch", lambda batch, context: (checked_rows.append(len(batch.frame)),
                                                                        real(batch, context))[1])
    rows = [row(id="H1"), row(id="H2", lon="", lat="", address="广安门外街道"), row(id="H3", category="飞碟降落")]
    first = ingest(complaints_engine, write_csv(tmp_path / "h.csv", rows), boundary_index)
    again = ingest(complaints_engine, write_csv(tmp_path / "h2.csv", rows), boundary_index)
    assert checked_rows == [3]  # the second load checked nothing
    assert (again.inserted, again.updated, again.unchanged, again.rejected) == (0, 0, 3, 0)
    assert (again.precision, again.unclassified, again.on_boundary) == \
        (first.precision, first.unclassified, first.on_boundary)
    # Changed text, a duplicate of an unchanged row, and a row whose hash was lost.
    with complaints_engine.begin() as conn:
        conn.execute(sa.text("UPDATE complaint SET row_hash = NULL WHERE source_id = 'H3'"))
    checked_rows.clear()
    later = ingest(complaints_engine, write_csv(tmp_path / "h3.csv", [rows[0], row(id="H2", text="changed",
                   lon="", lat="", address="广安门外街道"), rows[2], rows[0]]), boundary_index)
    assert checked_rows == [3]
    assert (later.unchanged, later.rejected_by_reason) == (3, {"duplicate": 1})
    hashes = table(complaints_engine, "SELECT source_id, row_hash FROM complaint ORDER BY source_id")
    assert hashes["row_hash"].notna().all()
    checked_rows.clear()
    ingest(complaints_engine, write_csv(tmp_path / "h4.csv", rows[2:]), boundary_index)
    assert checked_rows == []  # H3 has its hash again


def test_a_channel_s_accuracy_is_kept_and_none_leaves_the_default(complaints_engine, boundary_index, tmp_path):
    rows = [row(id="GPS", accuracy="12.5"), row(id="PLAIN", accuracy="")]
    summary = ingest(complaints_engine, write_csv(tmp_path / "a.csv", rows), boundary_index)
    assert (summary.inserted, summary.rejected) == (2, 0)
    stored = table(complaints_engine, "SELECT source_id, accuracy_m FROM complaint ORDER BY source_id")
    assert stored["accuracy_m"].iloc[0] == 12.5
    assert pd.isna(stored["accuracy_m"].iloc[1])
