"""The served app in a real headless Chromium, with every external host unreachable."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import (
    choose,
    chromium,
    chromium_available,
    link_text,
    map_shapes,
    open_page,
    options_of,
    served_app,
    sign_in,
    wait_for_title,
)
from tests.helpers import ROOT, english_words

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason="Debian's chromium and chromium-driver are not "
                       "installed (make test installs them)"),
]


def test_map_shows_every_township_offline(app_city, tmp_path):
    from tests.conftest import DEMO_PASSWORDS

    with served_app({"DATABASE_URL": app_city[0]}) as url, chromium() as browser:
        sign_in(browser, url, "coordinator", DEMO_PASSWORDS["coordinator"])
        open_page(browser, "行政区划")
        wait_for_title(browser, "行政区划")
        wait = WebDriverWait(browser, 90)
        frame = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "iframe[title*='folium']"))[0]
        browser.switch_to.frame(frame)
        wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "path.whistle-township")) >= 330)
        assert browser.find_elements(By.CSS_SELECTOR, ".leaflet-container")
        assert len(browser.find_elements(By.CSS_SELECTOR, "path.whistle-district")) == 16
        assert browser.find_elements(By.CSS_SELECTOR, ".leaflet-control-scale")
        legend = browser.find_element(By.CSS_SELECTOR, ".whistle-legend").text
        assert "近似街乡边界" in legend
        # Offline there are no tiles: the boundaries stand on a plain background.
        assert not browser.find_elements(By.CSS_SELECTOR, "img.leaflet-tile")
        failed = [e["message"] for e in browser.get_log("browser")
                  if e["level"] == "SEVERE" and "/app/static/" in e["message"]]
        assert failed == []
        browser.switch_to.default_content()
        assert "近似街乡边界" in browser.find_element(By.TAG_NAME, "body").text
        shot = tmp_path / "jurisdictions.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000


ROLES = {
    # user: [(page link, title, map shape class or None)], the first being where they land
    "supervisor": [("全市概览", "全市概览", "whistle-hex"), ("本街乡", "街乡：", "whistle-hex"),
                   ("吹哨报到", "街乡吹哨", "whistle-call"), ("治理项目", "治理项目", "whistle-project"),
                   ("报告", "报告", None), ("行政区划", "行政区划", "whistle-township"),
                   ("数据接入", "数据接入", None)],
    "guanganmenwai": [("本街乡", "本街乡：广安门外街道", "whistle-hex"),
                      ("吹哨报到", "街乡吹哨", "whistle-call"), ("治理项目", "治理项目", "whistle-project")],
    "coordinator": [("吹哨报到", "街乡吹哨", "whistle-call"), ("治理项目", "治理项目", "whistle-project"),
                    ("报告", "报告", None), ("行政区划", "行政区划", "whistle-township")],
}
SCREENSHOTS = ROOT / "var" / "screenshots"
"""Where the browser tests leave a picture of every page of every role (var/ is not committed)."""


def _page_text(browser) -> str:
    # The page as a person reads it (innerText: what is displayed), less the tables' cells (the city's
    # own data), code the page quotes, Streamlit's skip link and its icons' ligature names.
    return browser.execute_script("""
        const hidden = Array.from(document.querySelectorAll("[data-testid='stDataFrame'], [data-testid='stTable'], "
            + "code, [data-testid='stIconMaterial'], a[href^='#']"));
        const was = hidden.map(e => e.style.display);
        hidden.forEach(e => { e.style.display = 'none'; });
        const text = document.body.innerText;
        hidden.forEach((e, i) => { e.style.display = was[i]; });
        return text;""")


@pytest.mark.parametrize("username", ROLES)
def test_each_role_signs_in_and_works_on_its_pages(app_city, username, tmp_path):
    from tests.conftest import DEMO_PASSWORDS

    env = {"DATABASE_URL": app_city[0], "WHISTLE_CLOCK": "data"}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with served_app(env) as url, chromium() as browser:
        sign_in(browser, url, username, DEMO_PASSWORDS[username])
        for i, (link, title, shape) in enumerate(ROLES[username]):
            if i:
                open_page(browser, link)
            wait_for_title(browser, title)
            if shape:
                assert map_shapes(browser, shape) >= 1
                assert map_shapes(browser, "leaflet-control-scale") == 1
            if shape and shape != "whistle-township":
                # Where the data is: the townships' and districts' lines under it, from the static file.
                assert map_shapes(browser, "whistle-context-township") >= 10
                assert map_shapes(browser, "whistle-context-district") >= 1
            assert not browser.find_elements(By.CSS_SELECTOR, "[data-testid='stException']")
            WebDriverWait(browser, 30).until(lambda b: b.execute_script("return document.documentElement.lang")
                                             == "zh-CN")
            assert not english_words(_page_text(browser)), (username, link, english_words(_page_text(browser)))
            shot = SCREENSHOTS / f"{username}-{i + 1}.png"
            browser.save_screenshot(str(shot))
            assert shot.stat().st_size > 10_000
        links = {link_text(a) for a in browser.find_elements(By.CSS_SELECTOR, "a[data-testid='stSidebarNavLink']")}
        assert links == {link for link, _, _ in ROLES[username]}
        failed = [e["message"] for e in browser.get_log("browser")
                  if e["level"] == "SEVERE" and "/app/static/" in e["message"]]
        assert failed == []


_MAP_STATE = """const d = document.querySelector("iframe[title*='folium']").contentDocument;
return [d.querySelectorAll('.whistle-legend').length, d.querySelectorAll('.whistle-hex').length,
        d.querySelectorAll('.whistle-gi').length,
        Array.from(d.querySelectorAll('.whistle-legend')).map(e => e.innerText).join(' ')];"""


def test_a_filter_change_swaps_the_overview_layer_in_place(app_city):
    from tests.conftest import DEMO_PASSWORDS

    with served_app({"DATABASE_URL": app_city[0], "WHISTLE_CLOCK": "data"}) as url, chromium() as browser:
        sign_in(browser, url, "supervisor", DEMO_PASSWORDS["supervisor"])
        wait_for_title(browser, "全市概览")
        map_shapes(browser, "whistle-hex", minimum=10)
        legends, hexes, _, before = browser.execute_script(_MAP_STATE)
        assert legends == 1
        choose(browser, "时段", "最近一天")
        wait = WebDriverWait(browser, 90)
        wait.until(lambda b: b.execute_script(_MAP_STATE)[3] != before)
        legends, fewer, gi, _ = browser.execute_script(_MAP_STATE)
        assert (legends, gi) == (1, 0)
        assert 0 < fewer < hexes
        browser.find_element(By.XPATH, "//label[.//p[text()='热点与冷点']]").click()
        wait.until(lambda b: "置信度" in b.execute_script(_MAP_STATE)[3])
        legends, hexes, gi, _ = browser.execute_script(_MAP_STATE)
        assert (legends, hexes) == (1, 0)
        assert gi > 0


def test_an_english_reader_switches_and_the_choice_is_remembered(app_city):
    """The sidebar's switch turns the pages English; signed out, the sign-in page stays English;
    in a new browser the user reads English at once (the choice is stored with the user)."""
    from geo.act.users_db import set_language
    from tests.conftest import DEMO_PASSWORDS

    engine = app_city[1]
    try:
        with served_app({"DATABASE_URL": app_city[0], "WHISTLE_CLOCK": "data"}) as url:
            with chromium() as browser:
                sign_in(browser, url, "coordinator", DEMO_PASSWORDS["coordinator"])
                wait_for_title(browser, "街乡吹哨")
                wait = WebDriverWait(browser, 90)
                wait.until(lambda b: b.find_elements(By.XPATH, "//button[.//p[text()='English']]"))[0].click()
                wait_for_title(browser, "Whistle calls")
                wait.until(lambda b: b.execute_script("return document.documentElement.lang") == "en")
                links = {link_text(a) for a in browser.find_elements(By.CSS_SELECTOR,
                                                                     "a[data-testid='stSidebarNavLink']")}
                assert links == {"Whistle calls", "Projects", "Reports", "Jurisdictions"}
                browser.find_element(By.XPATH, "//button[.//p[text()='Sign out']]").click()
                wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "input[aria-label='User name']"))
            with chromium() as browser:
                browser.get(url)
                wait = WebDriverWait(browser, 90)
                wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "input[aria-label='用户名']"))[0].send_keys(
                    "coordinator")
                browser.find_element(By.CSS_SELECTOR, "input[aria-label='密码']").send_keys(
                    DEMO_PASSWORDS["coordinator"])
                browser.find_element(By.XPATH, "//button[.//p[text()='登录']]").click()
                wait_for_title(browser, "Whistle calls")
                wait.until(lambda b: b.find_elements(By.XPATH, "//button[.//p[text()='中文']]"))[0].click()
                wait_for_title(browser, "街乡吹哨")
    finally:
        with engine.connect() as conn:
            user_id = conn.execute(sa.text("SELECT id FROM app_user WHERE username = 'coordinator'")).scalar_one()
        set_language(engine, user_id, None)


def test_a_supervisor_clicks_from_the_ranking_to_a_township_and_back(app_city):
    """Drill-down: a row of the overview's ranking opens that township's page; its breadcrumb leads
    back to the overview, where the period chosen on the township page is still chosen."""
    from tests.conftest import DEMO_PASSWORDS

    with served_app({"DATABASE_URL": app_city[0], "WHISTLE_CLOCK": "data"}) as url, chromium() as browser:
        sign_in(browser, url, "supervisor", DEMO_PASSWORDS["supervisor"])
        wait_for_title(browser, "全市概览")
        wait = WebDriverWait(browser, 90)
        grid = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "[data-testid='stDataFrame']"))[-1]
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", grid)
        # The first row's selection box: the grid is a canvas, clicked where the row's marker is.
        ActionChains(browser).move_to_element_with_offset(grid, -grid.size["width"] // 2 + 18,
                                                          -grid.size["height"] // 2 + 54).click().perform()
        wait_for_title(browser, "街乡：")
        choose(browser, "时段", "近 7 天")
        wait.until(lambda b: b.find_elements(By.XPATH, "//a[.//p[text()='全市概览']]"))
        browser.find_elements(By.XPATH, "//a[.//p[text()='全市概览']]")[-1].click()
        wait_for_title(browser, "全市概览")
        wait.until(lambda b: any("近 7 天" in (e.text + (e.get_attribute("value") or "")) for e in b.find_elements(
            By.XPATH, "//div[@data-testid='stSelectbox'][.//p[text()='时段']]//*")),
            message="the period chosen on the township page followed the user")


def test_a_click_after_the_minute_ticks_acts_on_the_call_it_was_meant_for(app_city, tmp_path):
    """A street office opens the second call of its queue and waits while the countdowns tick over a
    minute (the queue and the call redraw by themselves); the call stays open, and the part reported
    done is stored on that call, by that user."""
    from geo.act.users_db import create_user

    # The office whose queue holds the most raised calls still waiting for it: the test needs a
    # second call to open, whatever the other tests of the session have done to the demo's calls.
    with app_city[1].connect() as conn:
        township, waiting = conn.execute(sa.text(
            "SELECT a.code, count(*) FROM whistle_call c JOIN whistle_addressee a ON a.call_id = c.id "
            "WHERE c.state = 'raised' AND a.kind = 'township' AND a.state = 'pending' "
            "GROUP BY a.code ORDER BY 2 DESC, 1 LIMIT 1")).one()
    assert waiting >= 2, "the demo city raises at least two calls for one township"
    password = "tick-tock-office-4821"
    create_user(app_city[1], "tick-office", password, role="street_office", township_code=township, replace=True)
    rules = tmp_path / "rules"
    rules.mkdir()
    text = (ROOT / "geo" / "data" / "whistle.toml").read_text(encoding="utf-8")
    (rules / "whistle.toml").write_text(text.replace("refresh_seconds = 20", "refresh_seconds = 2"), encoding="utf-8")
    env = {"DATABASE_URL": app_city[0], "WHISTLE_CLOCK": "data", "WHISTLE_RULES_DIR": str(rules)}
    with served_app(env) as url, chromium() as browser:
        sign_in(browser, url, "tick-office", password)
        open_page(browser, "吹哨报到")
        wait_for_title(browser, "街乡吹哨")
        wait = WebDriverWait(browser, 90)
        wait.until(lambda b: b.find_elements(
            By.XPATH, "//label[.//p[text()='打开吹哨']]/following-sibling::div//input"))
        second = wait.until(lambda b: options_of(b, "打开吹哨")[1:])[0]
        call_id = int(second.split("·")[0].strip().lstrip("#"))
        choose(browser, "打开吹哨", second)
        heading = f"吹哨 #{call_id}："
        wait.until(lambda b: any(h.text.startswith(heading) for h in b.find_elements(By.CSS_SELECTOR, "h3")))

        def deadline(b) -> str:
            found = [m.text for m in b.find_elements(By.CSS_SELECTOR, "[data-testid='stMetric']")
                     if m.text.startswith("时限")]
            return found[0] if found else ""

        before = wait.until(deadline)
        WebDriverWait(browser, 80, poll_frequency=0.5).until(lambda b: deadline(b) not in ("", before))
        assert any(h.text.startswith(heading) for h in browser.find_elements(By.CSS_SELECTOR, "h3"))
        browser.find_element(By.XPATH, "//button[.//p[text()='报告完成']]").click()
        wait.until(lambda b: any(f"吹哨 #{call_id}：tick-office 的" in e.text
                                 for e in b.find_elements(By.CSS_SELECTOR, "[data-testid='stAlert']")))
    with app_city[1].connect() as conn:
        acted = conn.execute(sa.text(
            "SELECT DISTINCT call_id FROM whistle_event WHERE actor = 'tick-office' AND action = 'done'")).scalars()
        assert call_id in set(acted)


def test_a_coordinator_filters_to_a_district_and_escalates_a_call(app_city):
    """The coordinator's round: one district, one call found by its number, escalated after
    confirming; the page says who escalated it and when, and the event is stored."""
    from tests.conftest import DEMO_PASSWORDS

    with app_city[1].connect() as conn:
        call_id = conn.execute(sa.text(
            "SELECT c.id FROM whistle_call c JOIN whistle_addressee a ON a.call_id = c.id "
            "WHERE c.state = 'raised' AND c.escalation = 0 AND c.districts @> ARRAY['110102'::varchar] "
            "AND a.state = 'pending' ORDER BY c.id DESC LIMIT 1")).scalar_one()
    with served_app({"DATABASE_URL": app_city[0], "WHISTLE_CLOCK": "data"}) as url, chromium() as browser:
        sign_in(browser, url, "coordinator", DEMO_PASSWORDS["coordinator"])
        wait_for_title(browser, "街乡吹哨")
        # The page redraws as each filter changes: an element found may be replaced before it is read.
        wait = WebDriverWait(browser, 90, ignored_exceptions=(StaleElementReferenceException,))
        wait.until(lambda b: b.find_elements(By.XPATH, "//label[.//p[text()='区']]/following-sibling::div//input"))
        choose(browser, "区", "西城区")
        search = browser.find_element(By.CSS_SELECTOR, "input[aria-label='搜索：吹哨编号、诉求编号或地址']")
        search.send_keys(f"#{call_id}\n")
        wait.until(lambda b: any("共 1 件" in h.text for h in b.find_elements(By.CSS_SELECTOR, "h3")))
        choose(browser, "打开吹哨", next(o for o in options_of(browser, "打开吹哨") if o.startswith(f"#{call_id} ")))
        heading = f"吹哨 #{call_id}："
        wait.until(lambda b: any(h.text.startswith(heading) for h in b.find_elements(By.CSS_SELECTOR, "h3")))
        browser.find_element(By.XPATH, "//label[.//p[text()='我确认升级或关闭此吹哨']]").click()
        browser.find_element(By.XPATH, "//button[.//p[text()='升级']]").click()
        wait.until(lambda b: any("coordinator 的“升级”已记录" in e.text
                                 for e in b.find_elements(By.CSS_SELECTOR, "[data-testid='stAlert']")))
        wait.until(lambda b: any("已由 coordinator 于" in c.text
                                 for c in b.find_elements(By.CSS_SELECTOR, "[data-testid='stCaptionContainer']")))
    with app_city[1].connect() as conn:
        escalated = conn.execute(sa.text("SELECT count(*) FROM whistle_event WHERE call_id = :c AND actor = "
                                         "'coordinator' AND action = 'escalated'"), {"c": call_id}).scalar()
    assert escalated >= 1


def test_a_new_call_appears_without_reloading_and_a_street_office_blows_a_proposed_whistle(
        pg_cluster, boundaries_template, tmp_path):
    """A coordinator has the queue open, empty; a gas leak arrives 5 m from a shared line and the rules
    raise its call, as the worker would: the call shows on the page by itself (the queue's fragment),
    with no click and no reload; the clock runs past its deadline, the coordinator keeps the late calls,
    escalates it and sees who escalated it. Then four reports of an illegal building at one spot of the same line
    propose a whistle to Guang'anmenwai, whose street office blows it."""
    from datetime import datetime, timedelta

    import pandas as pd

    from geo.act.users_db import create_user
    from geo.act.whistle_db import raise_calls
    from geo.detect.borders_db import run_borders
    from geo.store.clock_db import clear_clock, set_clock
    from tests.conftest import create_database, drop_database
    from tests.live import GUANGANMENWAI, line_point, plant

    url = create_database(pg_cluster, boundaries_template)
    engine = sa.create_engine(url)
    rules = tmp_path / "rules"
    rules.mkdir()
    text = (ROOT / "geo" / "data" / "whistle.toml").read_text(encoding="utf-8")
    (rules / "whistle.toml").write_text(text.replace("refresh_seconds = 20", "refresh_seconds = 2"), encoding="utf-8")
    password = "lantern-orbit-9417-maple"
    spot = line_point(engine)

    def arrive(name: str, rows: list[tuple[str, str, timedelta]]) -> None:
        moment = datetime.now().astimezone()
        plant(engine, tmp_path, name, [(ident, category, moment - ago, spot) for ident, category, ago in rows],
              now=pd.Timestamp(moment))
        run_borders(engine, moment - timedelta(days=30), moment + timedelta(seconds=1))
        raise_calls(engine, now=moment)

    try:
        create_user(engine, "desk", password, role="coordinator")
        create_user(engine, "gamw-office", password, role="street_office", township_code=GUANGANMENWAI)
        with served_app({"DATABASE_URL": url, "WHISTLE_RULES_DIR": str(rules)}) as app_url:
            with chromium() as browser:
                sign_in(browser, app_url, "desk", password)
                wait_for_title(browser, "街乡吹哨")
                wait = WebDriverWait(browser, 90, ignored_exceptions=(StaleElementReferenceException,))
                wait.until(lambda b: any("没有符合筛选条件的吹哨" in e.text
                                         for e in b.find_elements(By.CSS_SELECTOR, "[data-testid='stAlert']")))
                arrive("gas", [("LIVE-GAS-1", "gas_leak", timedelta(minutes=1))])
                wait.until(lambda b: any("共 1 件" in h.text for h in b.find_elements(By.CSS_SELECTOR, "h3")))
                # The platform's clock moves 35 minutes on: nobody has reported, the call is late.
                set_clock(engine, datetime.now().astimezone() + timedelta(minutes=35))
                metrics = "[data-testid='stMetric']"
                wait.until(lambda b: any(m.text.split() == ["有单位超时的吹哨", "1"]
                                         for m in b.find_elements(By.CSS_SELECTOR, metrics)))
                browser.find_element(By.XPATH, "//label[.//p[text()='仅看有单位超时的吹哨']]").click()
                wait.until(lambda b: any("共 1 件" in h.text for h in b.find_elements(By.CSS_SELECTOR, "h3")))
                confirm = "//label[.//p[text()='我确认升级或关闭此吹哨']]"
                wait.until(lambda b: b.find_elements(By.XPATH, confirm))[0].click()
                browser.find_element(By.XPATH, "//button[.//p[text()='升级']]").click()
                captions = "[data-testid='stCaptionContainer']"
                wait.until(lambda b: any("已由 desk 于" in c.text for c in b.find_elements(By.CSS_SELECTOR, captions)))
            clear_clock(engine)
            arrive("building", [(f"LIVE-BUILD-{i}", "illegal_construction", timedelta(days=i + 1)) for i in range(4)])
            with engine.connect() as conn:
                proposal = conn.execute(sa.text("SELECT id FROM whistle_call WHERE state = 'proposed'")).scalar_one()
            with chromium() as browser:
                sign_in(browser, app_url, "gamw-office", password)
                wait_for_title(browser, "本街乡")
                open_page(browser, "吹哨报到")
                wait_for_title(browser, "街乡吹哨")
                wait = WebDriverWait(browser, 90, ignored_exceptions=(StaleElementReferenceException,))
                wait.until(lambda b: b.find_elements(By.XPATH, "//label[.//p[text()='建议吹哨']]"))[0].click()
                # The page redraws with the proposals once the filter is taken: wait for it in the picker.
                label = wait.until(lambda b: [o for o in options_of(b, "打开吹哨") if o.startswith(f"#{proposal} ")])[0]
                choose(browser, "打开吹哨", label)
                wait.until(lambda b: b.find_elements(By.XPATH, "//button[.//p[text()='吹哨']]"))[0].click()
                wait.until(lambda b: any("gamw-office 的“吹哨”已记录" in e.text
                                         for e in b.find_elements(By.CSS_SELECTOR, "[data-testid='stAlert']")))
        with engine.connect() as conn:
            state, actor = conn.execute(sa.text(
                "SELECT c.state, e.actor FROM whistle_call c JOIN whistle_event e ON e.call_id = c.id "
                "AND e.action = 'blown' WHERE c.id = :c"), {"c": proposal}).one()
        assert (state, actor) == ("raised", "gamw-office")
    finally:
        engine.dispose()
        drop_database(pg_cluster, url)
