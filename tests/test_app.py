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
