"""The Streamlit app, run by AppTest against a real PostGIS: sign-in, every page under every
role, the access rules, and actions written to PostGIS and visible on the next run."""

from __future__ import annotations

import json
import shutil

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from geo.act.users import User
from geo.i18n import _
from geo.show.words import column as heading
from tests.conftest import DEMO_PASSWORDS
from tests.helpers import ROOT, english_words, signed_in, unescaped

APP = str(ROOT / "app.py")
# City-wide users see the whole city whatever their organisation; the street office is the demo's
# own (the ``office`` fixture), signed in, with its organisation and townships.
PAGES = {"supervisor": ["overview", "township", "borders", "projects", "reports", "jurisdictions", "intake"],
         "street_office": ["township", "borders", "projects"],
         "coordinator": ["borders", "projects", "reports", "jurisdictions"]}


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def city(monkeypatch, app_city):
    url, engine = app_city
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("WHISTLE_CLOCK", "data")
    return engine


def run_app(monkeypatch, url: str) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    return AppTest.from_file(APP, default_timeout=120).run()


def _page(name: str) -> None:
    import importlib

    importlib.import_module(f"views.{name}").render()


def run_page(name: str, user: User | None = None) -> AppTest:
    """One page as the router calls it, with ``user`` signed in."""
    at = AppTest.from_function(_page, kwargs={"name": name}, default_timeout=180)
    if user is not None:
        at.session_state["user"] = user
    return at.run()


def maps(at: AppTest) -> list[str]:
    """The folium maps of the page, as the HTML and script streamlit-folium is handed."""
    return [unescaped(json.dumps(json.loads(node.proto.json_args), ensure_ascii=False))
            for node in at.get("component_instance")]


def test_signing_in_lands_each_role_on_its_first_page(monkeypatch, app_city):
    monkeypatch.setenv("WHISTLE_CLOCK", "data")
    at = run_app(monkeypatch, app_city[0])
    assert not at.exception
    at.text_input(key="login_username").input("coordinator")
    at.text_input(key="login_password").input("wrong password")
    at.button[0].click().run()
    assert "用户名或密码错误" in at.error[0].value
    assert "user" not in at.session_state
    expected = {"supervisor": "全市概览", "guanganmenwai": "本街乡：广安门外街道",
                "coordinator": "街乡吹哨、部门报到"}
    for name, title in expected.items():
        at = AppTest.from_file(APP, default_timeout=180).run()
        at.text_input(key="login_username").input(name)
        at.text_input(key="login_password").input(DEMO_PASSWORDS[name])
        at.button[0].click().run()
        assert not at.exception, name
        assert at.session_state["user"].username == name
        assert at.title[0].value == title
        at.button(key="sign_out").click().run()
        assert "user" not in at.session_state
        assert at.text_input(key="login_username")


def test_each_role_is_routed_to_its_own_pages():
    from views.session import PAGES_BY_ROLE

    assert {role: list(pages) for role, pages in PAGES_BY_ROLE.items()} == PAGES


@pytest.mark.parametrize("role", PAGES)
def test_every_page_of_every_role_renders_on_the_demo(city, office, supervisor, coordinator, role):
    users = {"supervisor": supervisor, "street_office": office, "coordinator": coordinator}
    for name in PAGES[role]:
        at = run_page(name, users[role])
        assert not at.exception, (role, name, [e.value for e in at.exception])
        assert not at.error, (role, name, [e.value for e in at.error])
        assert at.title, (role, name)
        # Chinese first: no English in a title, a caption, a label, an option or a heading.
        english = sorted(set(english_words(" ".join(shown_texts(at)))))
        assert not english, (role, name, english)
        # Every moment in a table is the city's time to the minute, never UTC with its offset (a
        # column of moments: each value begins with a date; text that quotes a time is text).
        for frame in (d.value for d in at.dataframe):
            for column in frame.columns:
                shown = frame[column].dropna().astype(str)
                shown = shown[shown != ""]
                if len(shown) and shown.str.match(r"\d{4}-\d\d-\d\d").all():
                    assert shown.str.fullmatch(r"\d{4}-\d\d-\d\d( \d\d:\d\d)?").all(), (
                        role, name, column, shown.head(3).tolist())


_TEXTS = ("title", "header", "subheader", "caption", "markdown", "info", "warning", "error", "success", "text",
          "metric", "selectbox", "radio", "button", "text_input", "checkbox", "number_input", "date_input",
          "multiselect", "select_slider", "expander", "tabs")


def shown_texts(at: AppTest) -> list[str]:
    """What a person reads on a page: every element's text, label, help and options, and every
    table's headings (the data in tables is the user's and the city's own)."""
    texts = []
    for kind in _TEXTS:
        for element in at.get(kind):
            for attribute in ("value", "label", "help", "body"):
                value = getattr(element, attribute, None) if attribute != "value" or kind in (
                    "title", "header", "subheader", "caption", "markdown", "info", "warning", "error", "success",
                    "text") else None
                if isinstance(value, str):
                    texts.append(value)
            options = getattr(element, "options", None)
            if options and kind != "select_slider":
                texts += [str(o) for o in options]
    texts += [str(c) for frame in at.dataframe for c in frame.value.columns]
    return texts


def test_a_page_without_a_signed_in_user_shows_nothing(city):
    for name in ("overview", "township", "borders", "projects", "reports"):
        at = run_page(name)
        assert not at.exception
        assert at.warning[0].value == "请先登录。"
        assert not at.dataframe
        assert not maps(at)


def test_the_overview_draws_every_layer_and_the_ranking(city, supervisor):
    at = run_page("overview", supervisor)
    layers = {"complaints": ("whistle-hex", "每个网格的诉求量"),
              "gi": ("whistle-gi", "热点与冷点"),
              "emerging": ("whistle-emerging", "新兴热点"),
              "classes": ("whistle-class", "街乡分类")}
    for overlay, (css, legend) in layers.items():
        at.radio(key="overview_overlay").set_value(overlay).run()
        assert not at.exception
        drawn = maps(at)
        assert len(drawn) == 1
        assert css in drawn[0], overlay
        assert legend in drawn[0], overlay
        assert all(other not in drawn[0] for other, _ in layers.values() if other != css)
    assert [m.label for m in at.metric] == ["诉求", "响应率", "解决率", "满意率"]
    # The last days' outcomes are still coming in: the page says their rates are left out.
    assert any("起为暂定" in c.value for c in at.caption)
    ranking = at.dataframe[-1].value
    assert len(ranking) > 300
    assert {"排名", "类别", "响应率"} <= set(ranking.columns)
    at.selectbox(key="filters_what").set_value("theme:transport").run()
    assert not at.exception
    narrowed = int(at.metric[0].value.replace(",", ""))
    at.selectbox(key="filters_what").set_value("all").run()
    assert narrowed < int(at.metric[0].value.replace(",", ""))


def test_the_street_office_sees_its_township_only(office, city):
    at = run_page("township", office)
    assert at.title[0].value == "本街乡：广安门外街道"
    assert not at.sidebar.selectbox or "township_code" not in [s.key for s in at.sidebar.selectbox]
    complaints = at.dataframe[-1].value
    with city.connect() as conn:
        own = set(conn.execute(sa.text("SELECT source_id FROM complaint WHERE township_code = '110102020'")).scalars())
    assert len(complaints)
    assert set(complaints[heading("source_id")]) <= own
    assert complaints[heading("phone")].dropna().str.contains(r"\*\*\*\*").all()
    # The township's hot spots are named by where they are: its communities (社区/村), or the one
    # they are next to, and what they are about; the cell's id comes last, as a detail.
    hot = next(d.value for d in at.dataframe if heading("place") in d.value.columns)
    assert list(hot.columns)[:2] == [heading("place"), heading("top_categories")]
    assert list(hot.columns)[-1] == heading("cell")
    assert hot[heading("place")].str.contains("社区|村|附近|街道").all(), hot[heading("place")].tolist()
    drawn = maps(at)[0]
    assert "whistle-hex" in drawn
    assert "街乡边界" in drawn
    # Someone who tampers with the session to ask for another township gets nothing.
    at = AppTest.from_function(_page, kwargs={"name": "township"}, default_timeout=180)
    at.session_state["user"] = office
    at.session_state["township_code"] = "110106002"
    at.run()
    assert at.title[0].value == "本街乡：广安门外街道"


def test_a_street_office_opens_a_project_from_a_hot_spot(office, city):
    at = run_page("township", office)
    # The demo city plants hot spots in this township: the form always has cells to offer.
    assert at.selectbox(key="project_cell").options
    at.text_input(key="project_title").input("Pavement parking <script>alert(1)</script>")
    at.button(key="open_project_submit").click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert "已发起" in at.success[0].value
    with city.begin() as conn:
        row = conn.execute(sa.text("SELECT id, kind, created_by, title FROM project WHERE kind = 'proactive'")).one()
        conn.execute(sa.text("DELETE FROM project WHERE id = :id"), {"id": row.id})
    assert (row.kind, row.created_by) == ("proactive", "guanganmenwai")


def test_coordinator_acts_on_a_call_and_the_next_run_shows_it(city, coordinator):
    at = run_page("borders", coordinator)
    call_id = at.selectbox(key="borders_call").value
    drawn = maps(at)
    assert "whistle-call" in drawn[0]
    assert "whistle-side" in drawn[1]
    assert "whistle-shared-line" in drawn[1]
    at.text_input(key="call_note").input("<img src=x onerror=alert(1)> both sides called")
    at.button(key=f"call_actions_{call_id}_escalate").click().run()
    # Escalating moves the call for everyone on it: it asks to be confirmed first.
    assert "我确认" in at.warning[0].value
    with city.connect() as conn:
        assert not conn.execute(sa.text("SELECT count(*) FROM whistle_event WHERE call_id = :c AND action = "
                                        "'escalated' AND actor = 'coordinator'"), {"c": call_id}).scalar()
    at.text_input(key="call_note").input("<img src=x onerror=alert(1)> both sides called")
    at.checkbox(key="call_confirm").check()
    at.button(key=f"call_actions_{call_id}_escalate").click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.success[0].value == f"吹哨 #{call_id}：coordinator 的“升级”已记录。"
    history = at.dataframe[-1].value
    last = history.iloc[-1]
    assert (last[heading("actor")], last[heading("action")], last[heading("to_state")]) == (
        "coordinator", "已升级", "district")
    assert last[heading("note")].startswith("<img")  # stored and shown as text
    with city.connect() as conn:
        stored = conn.execute(sa.text("SELECT actor FROM whistle_event WHERE call_id = :c AND action = 'escalated'"),
                              {"c": call_id}).scalars().all()
    assert stored == ["coordinator"]


def test_street_office_checks_in_for_itself_only(office, city):
    at = run_page("borders", office)
    call_id = at.selectbox(key="borders_call").value
    assert at.multiselect(key="call_addressee").options == ["广安门外街道"]
    labels = [b.label for b in at.button]
    assert "报到" in labels
    assert "升级" not in labels
    assert "解决" not in labels
    at.button(key=f"call_actions_{call_id}_check_in").click().run()
    assert not at.error, [e.value for e in at.error]
    with city.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT a.state, e.actor FROM whistle_addressee a JOIN whistle_event e ON e.addressee_id = a.id "
            "WHERE a.call_id = :c AND a.code = '110102020'"), {"c": call_id}).one()
    assert tuple(row) == ("reported", "guanganmenwai")
    assert "已报到" in set(at.dataframe[-1].value[heading("to_state")])


def test_a_task_ticked_off_is_stored_with_who_did_it(office, city):
    at = run_page("projects", office)
    assert len(at.dataframe[0].value) == 1
    project_id = at.selectbox(key="projects_id").value
    task = next(c for c in at.checkbox if c.key.startswith("task_"))
    task.check()
    at.button(key=f"tasks_{project_id}_save").click().run()
    assert not at.error
    assert at.success[0].value == "guanganmenwai 更新了 1 项任务。"
    assert at.checkbox(key=task.key).value is True
    with city.begin() as conn:
        done_by = conn.execute(sa.text("SELECT done_by FROM project_task WHERE id = :t"),
                               {"t": int(task.key.removeprefix("task_"))}).scalar()
        conn.execute(sa.text("UPDATE project_task SET done_at = NULL, done_by = NULL"))
    assert done_by == "guanganmenwai"
    assert "<b>违停</b>" in at.dataframe[0].value[heading("title")].iloc[0]  # shown as text, not markup
    assert "whistle-project" in maps(at)[0]


def test_reports_are_downloadable(city, coordinator):
    at = run_page("reports", coordinator)
    assert [b.key for b in at.get("download_button")] == ["reports_md", "reports_html", "reports_zip"]
    at.radio(key="reports_kind").set_value("monthly").run()
    assert not at.exception
    assert any(_("Ranking and rates") in s.value for s in at.subheader)
    assert any("<svg" in str(h.proto.body) for h in at.get("html")), "the classes' map is drawn"
    if shutil.which("chromium"):
        at.button(key="reports_pdf_make").click().run()
        assert not at.exception
        assert not at.error, [e.value for e in at.error]
        assert "reports_pdf" in [b.key for b in at.get("download_button")]


def test_jurisdiction_page_draws_every_township(monkeypatch, boundaries_db_url):
    monkeypatch.setenv("DATABASE_URL", boundaries_db_url)
    at = run_page("jurisdictions", signed_in(boundaries_db_url))
    assert not at.exception
    assert [m.value for m in at.metric][:2] == ["16", "334"]
    assert "近似街乡边界" in at.info[0].value
    assert at.title[0].value == "行政区划"
    table = at.dataframe[0].value
    assert len(table) == 334
    assert table[heading("code")].is_unique


def test_choosing_a_district_narrows_the_map_and_the_table(monkeypatch, boundaries_db_url):
    monkeypatch.setenv("DATABASE_URL", boundaries_db_url)
    at = run_page("jurisdictions", signed_in(boundaries_db_url))
    at.selectbox(key="jurisdictions_district").set_value("110102").run()  # Xicheng
    assert not at.exception
    townships = int(at.metric[1].value)
    assert 10 <= townships <= 20
    assert len(at.dataframe[0].value) == townships
    assert set(at.dataframe[0].value[heading("district")]) == {"西城区"}


def test_empty_database_says_how_to_load_boundaries(monkeypatch, empty_db_url):
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    supervisor = signed_in(empty_db_url)
    at = run_page("jurisdictions", supervisor)
    assert not at.exception
    assert "boundaries load-shipped" in at.warning[0].value
    for name in ("overview", "borders", "projects", "reports"):
        at = run_page(name, supervisor)
        assert (not at.exception and at.warning) or at.info, name


def _shown(at: AppTest) -> str:
    return " ".join(str(e.value) for kind in ("error", "warning", "markdown", "caption", "title", "text")
                    for e in getattr(at, kind))


def test_unreachable_database_is_a_clear_message(monkeypatch, tmp_path):
    from views.messages import UNAVAILABLE

    at = run_app(monkeypatch, f"postgresql+psycopg://nobody@/none?host={tmp_path}&port=5999")
    assert not at.exception
    assert at.error[0].value == _(UNAVAILABLE)
    assert at.error[0].value.startswith("数据库暂时没有响应")
    assert str(tmp_path) not in _shown(at)  # no server path, no driver's words
    assert "psycopg" not in _shown(at).lower()
    assert at.button(key="retry_after_failure")


def test_a_database_that_goes_away_is_one_sentence_and_a_retry(monkeypatch, pg_cluster, complaints_db_url, caplog):
    """Signed in and working, then the database is gone: no traceback, no SQL, no path; the
    page says one sentence and offers a retry, and the log has the details."""
    from tests.conftest import drop_database
    from views.messages import UNAVAILABLE

    user = signed_in(complaints_db_url, "wang", "supervisor")
    monkeypatch.setenv("DATABASE_URL", complaints_db_url)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user"] = user
    at.run()
    assert not at.exception
    assert at.title[0].value == "全市概览"
    drop_database(pg_cluster, complaints_db_url)
    with caplog.at_level("ERROR", logger="whistle.app"):
        at.run()
    assert not at.exception
    assert at.error[0].value == _(UNAVAILABLE)
    shown = _shown(at)
    assert not any(word in shown for word in ("Traceback", "sqlalchemy", "psycopg", "SELECT", "/tmp", ".py"))
    assert at.button(key="retry_after_failure")
    assert any(record.exc_info for record in caplog.records)


def _load(url: str, tmp_path, rows: list[dict]) -> None:
    import pandas as pd
    import sqlalchemy as sa

    from geo.ingest.run_db import ingest_file

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
    at = run_page("intake", signed_in(complaints_db_url))
    assert not at.exception
    assert [m.value for m in at.metric] == ["1", "1", "2"]
    rejected = at.dataframe[1].value
    assert set(rejected[heading("source_id")]) == {hostile, "C"}
    assert set(rejected[heading("reason_code")]) == {"经纬度颠倒", "无法识别的时间"}
    assert not any(hostile in str(md.value) for md in at.markdown)  # never rendered as markup
    at.selectbox(key="intake_reason").set_value("swapped").run()
    assert list(at.dataframe[1].value[heading("source_id")]) == [hostile]


def test_an_upload_is_ingested_and_a_bad_one_stores_nothing(monkeypatch, complaints_db_url):
    from views import intake

    monkeypatch.setenv("DATABASE_URL", complaints_db_url)
    good = b"id,received_at,lon,lat\nU1,2026-11-01 08:00,116.34,39.885\n"
    supervisor = signed_in(complaints_db_url)
    summary = intake.ingest_upload(supervisor, "../../etc/passwd.csv", good, "wgs84", "utf-8")
    assert (summary.inserted, summary.source) == (1, "passwd.csv")
    with pytest.raises(Exception, match="binary"):
        intake.ingest_upload(supervisor, "x.csv", b"\x00\x01" * 100, "wgs84", "utf-8")


def test_user_text_in_headers_labels_and_captions_is_text(monkeypatch, complaints_db_url):
    """A title or task that is Markdown (an image the browser would fetch, bold, maths, colour)
    reaches the page escaped, in the subheader and the task's checkbox label."""
    from datetime import UTC, date, datetime

    import sqlalchemy as sa

    from geo.act.projects import ProjectSpec
    from geo.act.projects_db import create_project
    from geo.show.text import md_escape

    hostile = "![x](https://evil.example/t.png) **bold** $x$ :red[red] <img src=x>"
    engine = sa.create_engine(complaints_db_url)
    create_project(engine, ProjectSpec(
        kind="governance_plan", title=hostile, lead_department="urban_management", categories=["street_vendor"],
        starts_on=date(2026, 11, 1), ends_on=date(2027, 1, 31), townships=["110102020"],
        tasks=[{"title": hostile, "owner": "**me**", "due_on": "2026-12-01"}]),
        actor="supervisor", now=datetime(2026, 11, 1, 9, tzinfo=UTC))
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", complaints_db_url)
    at = run_page("projects", signed_in(complaints_db_url, "zhao", "supervisor"))
    assert not at.exception
    assert at.subheader[0].value.endswith(md_escape(hostile))
    label = next(c for c in at.checkbox if c.key.startswith("task_")).label
    assert label.startswith(f"{md_escape(hostile)} · {md_escape('**me**')}")
    everything = [e.value for e in (*at.markdown, *at.caption, *at.subheader, *at.title)]
    assert not any("](https://evil.example" in v or "**bold**" in v for v in everything)


def test_a_bug_in_a_page_is_one_sentence_and_logged(monkeypatch, complaints_db_url, caplog):
    from views import overview
    from views.messages import FAILED

    def broken() -> None:
        raise RuntimeError("/srv/whistle/secret/path.py line 12: boom")

    monkeypatch.setattr(overview, "render", broken)
    user = signed_in(complaints_db_url, "li", "supervisor")
    monkeypatch.setenv("DATABASE_URL", complaints_db_url)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user"] = user
    with caplog.at_level("ERROR", logger="whistle.app"):
        at.run()
    assert not at.exception
    assert at.error[0].value.startswith(_(FAILED).split("{at}")[0])
    assert at.error[0].value.startswith("本页面出现问题")
    assert "boom" not in _shown(at)
    assert "/srv/whistle" not in _shown(at)
    assert any("boom" in str(record.exc_info[1]) for record in caplog.records if record.exc_info)


def test_a_supervisor_opens_a_problem_of_the_month_and_a_street_office_cannot(city, supervisor, office):
    at = run_page("projects", supervisor)
    at.text_input(key="pom_title").input("老旧小区供暖不热")
    at.multiselect(key="pom_categories").select("heating")
    at.multiselect(key="pom_townships").select("110102020")
    at.selectbox(key="pom_lead").set_value("housing")
    at.text_area(key="pom_tasks").input("会同供热公司逐个小区排查\n\n回访来电群众")
    at.button(key="pom_submit").click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert "已发起" in at.success[0].value
    with city.begin() as conn:
        row = conn.execute(sa.text("SELECT id, kind, created_by, townships FROM project "
                                   "WHERE title = '老旧小区供暖不热'")).one()
        tasks = conn.execute(sa.text("SELECT title FROM project_task WHERE project_id = :p ORDER BY id"),
                             {"p": row.id}).scalars().all()
        conn.execute(sa.text("DELETE FROM project WHERE id = :id"), {"id": row.id})
    assert (row.kind, row.created_by, list(row.townships)) == ("problem_of_month", "supervisor", ["110102020"])
    assert tasks == ["会同供热公司逐个小区排查", "回访来电群众"]
    assert not run_page("projects", office).get("text_area"), "a street office opens proactive projects only"


def test_an_emerging_run_over_too_few_periods_says_it_has_no_signal(city, supervisor):
    with city.begin() as conn:
        run, steps = conn.execute(sa.text("SELECT id, steps FROM hotspot_run WHERE kind = 'emerging' "
                                          "ORDER BY id DESC LIMIT 1")).one()
        conn.execute(sa.text("UPDATE hotspot_run SET steps = 4 WHERE id = :id"), {"id": run})
    try:
        at = run_page("overview", supervisor)
        assert any("不足以判断趋势" in c.value for c in at.caption)
        at.radio(key="overview_overlay").set_value("emerging").run()
        assert any("不足以判断趋势" in i.value for i in at.info)
        assert "whistle-emerging" not in maps(at)[0]
    finally:
        with city.begin() as conn:
            conn.execute(sa.text("UPDATE hotspot_run SET steps = :s WHERE id = :id"), {"s": steps, "id": run})


def test_a_street_office_gets_nothing_of_a_neighbours_hot_spots_nor_a_city_project(city, office):
    """What this issue added goes through the access hook too: a neighbour's hot-spot categories,
    and a problem of the month (a city-wide act), are refused to a street office."""
    from datetime import UTC, date, datetime

    from geo.act.projects import ProjectSpec
    from geo.errors import AccessError
    from geo.show import dashboard_db as dashboard

    with city.connect() as conn:
        run = conn.execute(sa.text("SELECT id FROM hotspot_run WHERE kind = 'gi' ORDER BY id DESC LIMIT 1")).scalar()
        cell = conn.execute(sa.text("SELECT h3 FROM hotspot_cell WHERE run_id = :r LIMIT 1"), {"r": run}).scalar()
    with pytest.raises(AccessError):
        dashboard.hotspot_categories(city, office, run, [int(cell)], township="110106002")
    assert set(dashboard.hotspot_categories(city, office, run, [int(cell)])) <= {int(cell)}  # its own only
    spec = ProjectSpec(kind="problem_of_month", title="越权", lead_department="housing", categories=["heating"],
                       starts_on=date(2026, 11, 1), ends_on=date(2026, 12, 31), townships=["110106002"])
    with pytest.raises(AccessError):
        dashboard.open_city_project(city, office, spec, now=datetime.now(UTC))


def test_the_language_switch_speaks_the_new_language_in_the_run_the_click_starts(
        monkeypatch, complaints_db_url, complaints_engine):
    """中文 → English: the page the click brings is English from its title on (no second run, in
    which a click on the page could be lost), the choice is stored with the user, clicking the spoken
    language again keeps it, and signed out the sign-in page speaks it too."""
    from geo.act.users_db import live_user

    user = signed_in(complaints_db_url, "qian", "supervisor")
    monkeypatch.setenv("DATABASE_URL", complaints_db_url)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user"] = user
    at.run()
    assert at.title[0].value == "全市概览"
    at.segmented_control(key="language_switch").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == "Overview"
    assert live_user(complaints_engine, user).language == "en"
    at.segmented_control(key="language_switch").set_value(None).run()  # English clicked again
    assert at.segmented_control(key="language_switch").value == "en"
    assert at.title[0].value == "Overview"
    at.button(key="sign_out").click().run()
    assert at.text_input(key="login_username").label == "User name"
    at.segmented_control(key="language_switch").set_value("zh_CN").run()
    assert at.text_input(key="login_username").label == "用户名"


def _events(engine, call_id: int, actor: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT action, coalesce(to_state, '') FROM whistle_event WHERE call_id = :c AND actor = :a ORDER BY id"),
            {"c": call_id, "a": actor})]


def test_a_street_office_reports_its_part_done_in_one_step(office, city):
    """One submission: the check-in is implied and recorded before the part done."""
    at = run_page("borders", office)
    call_id = at.selectbox(key="borders_call").value
    with city.connect() as conn:
        state = conn.execute(sa.text("SELECT state FROM whistle_addressee WHERE call_id = :c AND code = '110102020'"),
                             {"c": call_id}).scalar_one()
    at.button(key=f"call_actions_{call_id}_done").click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.success[0].value == f"吹哨 #{call_id}：guanganmenwai 的“报告完成”已记录。"
    steps = _events(city, call_id, "guanganmenwai")
    assert steps[-1] == ("done", "done")
    if state == "pending":
        assert steps[-2] == ("reported", "reported")


def test_a_refused_resolve_says_what_comes_first_and_offers_it(coordinator, city):
    at = run_page("borders", coordinator)
    call_id = at.selectbox(key="borders_call").value
    at.button(key=f"call_actions_{call_id}_resolve").click().run()
    assert not at.exception
    warning = at.warning[0].value
    assert warning.startswith(f"吹哨 #{call_id} 尚不能解决：")
    assert "请先为其报告完成" in warning
    offer = at.button(key=f"borders_offer_{call_id}")
    assert offer.label == "报告完成并解决"
    offer.click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    with city.connect() as conn:
        state = conn.execute(sa.text("SELECT state FROM whistle_call WHERE id = :c"), {"c": call_id}).scalar_one()
        left = conn.execute(sa.text("SELECT count(*) FROM whistle_addressee WHERE call_id = :c AND state <> 'done'"),
                            {"c": call_id}).scalar_one()
    assert (state, left) == ("resolved", 0)
    assert _events(city, call_id, "coordinator")[-1] == ("resolved", "resolved")
    assert f"吹哨 #{call_id}：coordinator 的“报告完成并解决”已记录。" == at.success[0].value


def test_a_coordinator_escalates_several_calls_at_once_after_confirming(coordinator, city):
    at = run_page("borders", coordinator)
    chosen = at.multiselect(key="borders_bulk_calls")
    ids = [int(o.split(" · ")[0].lstrip("#")) for o in chosen.options[1:3]]
    # Other tests on this city may have acted on these calls before: unconfirmed means nothing new.
    before = {i: _events(city, i, "coordinator") for i in ids}
    chosen.set_value(ids)
    at.selectbox(key="borders_bulk_action").set_value("escalate")
    at.button(key="borders_bulk_submit").click().run()
    assert "我确认对所选每一件吹哨执行此操作" in at.warning[0].value
    assert {i: _events(city, i, "coordinator") for i in ids} == before
    at.multiselect(key="borders_bulk_calls").set_value(ids)
    at.selectbox(key="borders_bulk_action").set_value("escalate")
    at.checkbox(key="borders_bulk_confirm").check()
    at.button(key="borders_bulk_submit").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["coordinator 对 2 件吹哨的“升级”已记录。"], [
        w.value for w in [*at.warning, *at.error]]
    assert all(_events(city, i, "coordinator")[-1][0] == "escalated" for i in ids)
    # Closing open calls: each one refuses on its own, with the reason in a sentence.
    at.multiselect(key="borders_bulk_calls").set_value(ids)
    at.selectbox(key="borders_bulk_action").set_value("close")
    at.checkbox(key="borders_bulk_confirm").check()
    at.button(key="borders_bulk_submit").click().run()
    assert [w.value for w in at.warning] == [f"吹哨 #{i} 未变更：须先解决，才能关闭。" for i in ids]


def test_the_queue_filters_and_the_chosen_call_stays_chosen(coordinator, city):
    at = run_page("borders", coordinator)
    queue = at.dataframe[0].value
    assert heading("urgency") in queue.columns
    # A call that is not an emergency: the filter below leaves it out of the queue, not out of the picker.
    second = next(o for o in at.selectbox(key="borders_call").options[1:] if " · 紧急 · " not in o)
    call_id = int(second.split(" · ")[0].lstrip("#"))
    at.selectbox(key="borders_call").set_value(call_id).run()
    assert at.subheader[-1].value.startswith(f"吹哨 #{call_id}：") or any(
        s.value.startswith(f"吹哨 #{call_id}：") for s in at.subheader)
    at.selectbox(key="borders_kind").set_value("emergency").run()
    assert not at.exception
    shown = at.dataframe[0].value
    assert set(shown[heading("kind")]) == {"紧急"}
    assert at.selectbox(key="borders_call").value == call_id  # kept while the filter moves on
    # ... and labelled as the queue's calls are, by its kind and townships, not by its number alone.
    assert any(o.startswith(f"#{call_id} · ") for o in at.selectbox(key="borders_call").options)
    at.selectbox(key="borders_kind").set_value("all")
    at.text_input(key="borders_search").input(f"#{call_id}").run()
    assert at.dataframe[0].value[heading("id")].tolist() == [call_id]
    at.text_input(key="borders_search").input("<script>alert(1)</script>%_").run()
    assert not at.exception
    assert any("没有符合筛选条件的吹哨" in i.value for i in at.info)


def _first_proposal(at: AppTest) -> int:
    """The first proposed whistle the picker offers (a call chosen before stays offered first)."""
    at.radio(key="borders_state").set_value("proposed").run()
    assert not at.exception
    labels = at.selectbox(key="borders_call").options
    ids = [int(label.split(" · ")[0].lstrip("#")) for label in labels]
    queue = at.dataframe[0].value[heading("id")].tolist()
    chosen = next(i for i in ids if i in queue)
    at.selectbox(key="borders_call").set_value(chosen).run()
    return chosen


def test_a_coordinator_blows_a_proposed_whistle_and_dismisses_another_with_a_reason(office, coordinator, city):
    from geo.errors import AccessError
    from geo.show import dashboard_db as dashboard
    from views.data import now

    at = run_page("borders", coordinator)
    first = _first_proposal(at)
    assert any("规则建议吹哨" in i.value for i in at.info)
    at.button(key=f"call_proposal_{first}_blow").click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert _events(city, first, "coordinator")[-1] == ("blown", "raised")
    second = _first_proposal(at)
    assert second != first
    at.button(key=f"call_proposal_{second}_dismiss").click().run()
    assert "请说明不予吹哨的理由" in at.warning[0].value
    at.text_input(key="call_proposal_note").input("<b>ours alone</b>: a private courtyard")
    at.button(key=f"call_proposal_{second}_dismiss").click().run()
    assert not at.error, [e.value for e in at.error]
    with city.connect() as conn:
        state, note = conn.execute(sa.text(
            "SELECT c.state, e.note FROM whistle_call c JOIN whistle_event e ON e.call_id = c.id "
            "AND e.action = 'dismissed' WHERE c.id = :c"), {"c": second}).one()
        elsewhere = conn.execute(sa.text(
            "SELECT c.id FROM whistle_call c WHERE NOT EXISTS (SELECT 1 FROM "
            "whistle_addressee a WHERE a.call_id = c.id AND a.organisation_id = :o) LIMIT 1"),
            {"o": office.organisation_id}).scalar_one()
    assert (state, note) == ("dismissed", "<b>ours alone</b>: a private courtyard")
    # A street office blows or dismisses only a whistle that names it.
    for action in ("blow", "dismiss"):
        with pytest.raises(AccessError, match="not addressed to"):
            dashboard.act_on_call(city, office, elsewhere, action, now=now(), note="not ours")


def test_every_page_shows_what_waits_for_the_office(monkeypatch, office, coordinator, city):
    """The sidebar's badge: the office's unanswered, late and proposed calls, on every page."""
    from geo.show import dashboard_db as dashboard
    from views.data import now

    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["user"] = office
    at.run()
    assert not at.exception
    counts = dashboard.call_badge(city, office, now=now())
    shown = " ".join(e.value for e in [*at.sidebar.warning, *at.sidebar.info, *at.sidebar.caption])
    if any(counts.values()):
        assert f"待响应吹哨 {counts['unanswered']:,} 件" in shown
        assert f"超时 {counts['late']:,} 件" in shown
    else:  # the other tests of the session have answered everything the office had
        assert "暂无待响应的吹哨" in shown
    everyone = dashboard.call_badge(city, coordinator, now=now())
    assert everyone["unanswered"] >= counts["unanswered"]
