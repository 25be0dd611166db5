"""The served app in a real headless Chromium, with every external host unreachable."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import (
    choose,
    chromium,
    chromium_available,
    link_text,
    map_shapes,
    open_page,
    served_app,
    sign_in,
    wait_for_title,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason="Debian's chromium and chromium-driver are not "
                       "installed (make test installs them)"),
]


def test_map_shows_every_township_offline(app_city, tmp_path):
    from tests.conftest import DEMO_PASSWORDS

    with served_app({"DATABASE_URL": app_city[0]}) as url, chromium() as browser:
        sign_in(browser, url, "coordinator", DEMO_PASSWORDS["coordinator"])
        open_page(browser, "Jurisdictions")
        wait_for_title(browser, "Jurisdictions")
        wait = WebDriverWait(browser, 90)
        frame = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "iframe[title*='folium']"))[0]
        browser.switch_to.frame(frame)
        wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "path.whistle-township")) >= 330)
        assert browser.find_elements(By.CSS_SELECTOR, ".leaflet-container")
        assert len(browser.find_elements(By.CSS_SELECTOR, "path.whistle-district")) == 16
        assert browser.find_elements(By.CSS_SELECTOR, ".leaflet-control-scale")
        legend = browser.find_element(By.CSS_SELECTOR, ".whistle-legend").text
        assert "approximate township boundaries" in legend
        # Offline there are no tiles: the boundaries stand on a plain background.
        assert not browser.find_elements(By.CSS_SELECTOR, "img.leaflet-tile")
        failed = [e["message"] for e in browser.get_log("browser")
                  if e["level"] == "SEVERE" and "/app/static/" in e["message"]]
        assert failed == []
        browser.switch_to.default_content()
        assert "approximate township boundaries" in browser.find_element(By.TAG_NAME, "body").text
        shot = tmp_path / "jurisdictions.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000


ROLES = {
    # user: [(page link, title, map shape class or None)], the first being where they land
    "supervisor": [("Overview", "Overview", "whistle-hex"), ("Borders", "Borders", "whistle-call"),
                   ("Projects", "Projects", "whistle-project"), ("Reports", "Reports", None)],
    "guanganmenwai": [("My township", "My township: 广安门外街道", "whistle-hex"),
                      ("Borders", "Borders", "whistle-call"), ("Projects", "Projects", "whistle-project")],
    "coordinator": [("Borders", "Borders", "whistle-call"), ("Projects", "Projects", "whistle-project"),
                    ("Reports", "Reports", None)],
}


@pytest.mark.parametrize("username", ROLES)
def test_each_role_signs_in_and_works_on_its_pages(app_city, username, tmp_path):
    from tests.conftest import DEMO_PASSWORDS

    env = {"DATABASE_URL": app_city[0], "WHISTLE_CLOCK": "data"}
    with served_app(env) as url, chromium() as browser:
        sign_in(browser, url, username, DEMO_PASSWORDS[username])
        for i, (link, title, shape) in enumerate(ROLES[username]):
            if i:
                open_page(browser, link)
            wait_for_title(browser, title)
            if shape:
                assert map_shapes(browser, shape) >= 1
                assert map_shapes(browser, "leaflet-control-scale") == 1
            assert not browser.find_elements(By.CSS_SELECTOR, "[data-testid='stException']")
            shot = tmp_path / f"{username}-{link.replace(' ', '-').lower()}.png"
            browser.save_screenshot(str(shot))
            assert shot.stat().st_size > 10_000
        links = {link_text(a) for a in browser.find_elements(By.CSS_SELECTOR, "a[data-testid='stSidebarNavLink']")}
        assert links == {link for link, _, _ in ROLES[username]} | EXTRA_LINKS[username]
        failed = [e["message"] for e in browser.get_log("browser")
                  if e["level"] == "SEVERE" and "/app/static/" in e["message"]]
        assert failed == []


EXTRA_LINKS = {"supervisor": {"My township", "Jurisdictions", "Data intake"}, "guanganmenwai": set(),
               "coordinator": {"Jurisdictions"}}


_MAP_STATE = """const d = document.querySelector("iframe[title*='folium']").contentDocument;
return [d.querySelectorAll('.whistle-legend').length, d.querySelectorAll('.whistle-hex').length,
        d.querySelectorAll('.whistle-gi').length,
        Array.from(d.querySelectorAll('.whistle-legend')).map(e => e.innerText).join(' ')];"""


def test_a_filter_change_swaps_the_overview_layer_in_place(app_city):
    from tests.conftest import DEMO_PASSWORDS

    with served_app({"DATABASE_URL": app_city[0], "WHISTLE_CLOCK": "data"}) as url, chromium() as browser:
        sign_in(browser, url, "supervisor", DEMO_PASSWORDS["supervisor"])
        wait_for_title(browser, "Overview")
        map_shapes(browser, "whistle-hex", minimum=10)
        legends, hexes, _, before = browser.execute_script(_MAP_STATE)
        assert legends == 1
        choose(browser, "Period", "Last day")
        wait = WebDriverWait(browser, 90)
        wait.until(lambda b: b.execute_script(_MAP_STATE)[3] != before)
        legends, fewer, gi, _ = browser.execute_script(_MAP_STATE)
        assert (legends, gi) == (1, 0)
        assert 0 < fewer < hexes
        browser.find_element(By.XPATH, "//label[.//p[text()='Gi* hot spots']]").click()
        wait.until(lambda b: "Getis-Ord" in b.execute_script(_MAP_STATE)[3])
        legends, hexes, gi, _ = browser.execute_script(_MAP_STATE)
        assert (legends, hexes) == (1, 0)
        assert gi > 0
