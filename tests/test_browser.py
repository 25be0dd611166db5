"""The served app in a real headless Chromium, with every external host unreachable."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import (
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
