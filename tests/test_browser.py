"""The served app in a real headless Chromium, with every external host unreachable."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import chromium, chromium_available, served_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason="Debian's chromium and chromium-driver are not "
                       "installed (make test installs them)"),
]


def test_map_shows_every_township_offline(boundaries_db_url, tmp_path):
    with served_app({"DATABASE_URL": boundaries_db_url}) as url, chromium() as browser:
        browser.get(url)
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
