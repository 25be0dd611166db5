"""The Streamlit app, run by AppTest against a real PostGIS."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

APP = str(ROOT / "app.py")


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def run_app(monkeypatch, url: str) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    return AppTest.from_file(APP, default_timeout=120).run()


def test_jurisdiction_page_draws_every_township(monkeypatch, boundaries_db_url):
    at = run_app(monkeypatch, boundaries_db_url)
    assert not at.exception
    assert [m.value for m in at.metric][:2] == ["16", "334"]
    assert "approximate township boundaries" in at.info[0].value
    assert at.title[0].value == "Jurisdictions"
    table = at.dataframe[0].value
    assert len(table) == 334
    assert table["code"].is_unique


def test_choosing_a_district_narrows_the_map_and_the_table(monkeypatch, boundaries_db_url):
    at = run_app(monkeypatch, boundaries_db_url)
    at.selectbox(key="jurisdictions_district").set_value("110102").run()  # Xicheng
    assert not at.exception
    townships = int(at.metric[1].value)
    assert 10 <= townships <= 20
    assert len(at.dataframe[0].value) == townships
    assert set(at.dataframe[0].value["district"]) == {"西城区"}


def test_empty_database_says_how_to_load_boundaries(monkeypatch, empty_db_url):
    at = run_app(monkeypatch, empty_db_url)
    assert not at.exception
    assert "boundaries load-shipped" in at.warning[0].value


def test_unreachable_database_is_a_clear_message(monkeypatch, tmp_path):
    at = run_app(monkeypatch, f"postgresql+psycopg://nobody@/none?host={tmp_path}&port=5999")
    assert not at.exception
    assert "database is not available" in at.error[0].value


def _load(url: str, tmp_path, rows: list[dict]) -> None:
    import pandas as pd
    import sqlalchemy as sa

    from geo.ingest import ingest_file

    path = tmp_path / "export.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    engine = sa.create_engine(url)
    ingest_file(engine, path, now=pd.Timestamp("2026-11-22T12:00+08:00"))
    engine.dispose()


def test_intake_page_lists_runs_and_rejected_rows_as_text(monkeypatch, complaints_db_url, tmp_path):
    hostile = "<script>alert('x')</script>"
    _load(complaints_db_url, tmp_path, [
        {"id": "A", "received_at": "2026-11-01 08:00", "lon": 116.34, "lat": 39.885, "text": hostile},
        {"id": hostile, "received_at": "2026-11-01 08:00", "lon": 39.885, "lat": 116.34, "text": hostile},
        {"id": "C", "received_at": "never", "lon": 116.34, "lat": 39.885, "text": "x"},
    ])
    monkeypatch.setenv("DATABASE_URL", complaints_db_url)
    at = AppTest.from_function(_intake_page, default_timeout=120).run()
    assert not at.exception
    assert [m.value for m in at.metric] == ["1", "1", "2"]
    rejected = at.dataframe[1].value
    assert set(rejected["source_id"]) == {hostile, "C"}
    assert not any(hostile in str(md.value) for md in at.markdown)  # never rendered as markup
    at.selectbox(key="intake_reason").set_value("swapped").run()
    assert list(at.dataframe[1].value["source_id"]) == [hostile]


def _intake_page() -> None:
    from views import intake

    intake.render()


def test_an_upload_is_ingested_and_a_bad_one_stores_nothing(monkeypatch, complaints_db_url):
    from views import intake

    monkeypatch.setenv("DATABASE_URL", complaints_db_url)
    good = b"id,received_at,lon,lat\nU1,2026-11-01 08:00,116.34,39.885\n"
    summary = intake.ingest_upload("../../etc/passwd.csv", good, "wgs84", "utf-8")
    assert (summary.inserted, summary.source) == (1, "passwd.csv")
    with pytest.raises(Exception, match="binary"):
        intake.ingest_upload("x.csv", b"\x00\x01" * 100, "wgs84", "utf-8")
