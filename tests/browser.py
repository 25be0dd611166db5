"""Drive Debian's headless Chromium against a page served on this machine.

Every external host is blocked (``--host-resolver-rules``), so a page that still reaches for
a CDN or a tile server shows it here, as it would on an intranet.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import ElementClickInterceptedException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.helpers import ROOT, stop

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def chromium_available() -> bool:
    """True when Debian's chromium and chromium-driver are installed."""
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served_app(env: dict[str, str], *, timeout: float = 60.0) -> Iterator[str]:
    """Serve app.py with ``streamlit run`` on a free loopback port; yield its URL."""
    port = free_port()
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, timeout, log.name)
        yield url
    finally:
        stop(process, 10)
        log.close()
        os.unlink(log.name)


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float, log_path: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited: {Path(log_path).read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(f"streamlit did not answer within {timeout} s")


@contextmanager
def chromium(width: int = 1400, height: int = 1100, *, network_log: bool = False) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with every host but loopback unreachable.

    With ``network_log``, DevTools' network events (WebSocket frames included) are kept in
    the ``performance`` log, to measure what a page sends.
    """
    profile = tempfile.mkdtemp(prefix="whistle-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--window-size={width},{height}", f"--user-data-dir={profile}",
        # Nothing outside this machine resolves: CDNs and tile servers fail at once.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
        # A Beijing civil servant's browser: its widgets' own words (a date picker's) are Chinese.
        "--lang=zh-CN",
    ):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", **({"performance": "ALL"} if network_log else {})})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _wait(browser: webdriver.Chrome, timeout: float) -> WebDriverWait:
    # Streamlit replaces elements on every rerun: a stale one is retried, not a failure.
    return WebDriverWait(browser, timeout, ignored_exceptions=(StaleElementReferenceException,))


def sign_in(browser: webdriver.Chrome, url: str, username: str, password: str, *, timeout: float = 90) -> None:
    """Open the app and sign in through its form (labelled in Chinese, the city's language)."""
    browser.get(url)
    wait = _wait(browser, timeout)
    name = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "input[aria-label='用户名']"))[0]
    name.send_keys(username)
    browser.find_element(By.CSS_SELECTOR, "input[aria-label='密码']").send_keys(password)
    browser.find_element(By.XPATH, "//button[.//p[text()='登录']]").click()


def open_page(browser: webdriver.Chrome, title: str, *, timeout: float = 90) -> None:
    """Click a page's link in the sidebar navigation (the session, and so the sign-in, is kept)."""
    link = _wait(browser, timeout).until(lambda b: [
        a for a in b.find_elements(By.CSS_SELECTOR, "a[data-testid='stSidebarNavLink']") if link_text(a) == title])
    link[0].click()


def link_text(link) -> str:
    """A navigation link's title, without its icon."""
    return link.text.strip().split("\n")[-1].strip()


def wait_for_title(browser: webdriver.Chrome, text: str, *, timeout: float = 90) -> None:
    """Wait until the page's title (its h1) reads ``text``."""
    _wait(browser, timeout).until(lambda b: any(
        h.text.strip().startswith(text) for h in b.find_elements(By.CSS_SELECTOR, "h1")))


def map_shapes(browser: webdriver.Chrome, css: str, *, index: int = 0, minimum: int = 1,
               timeout: float = 90) -> int:
    """Wait until the ``index``-th map of the page draws at least ``minimum`` shapes of class
    ``css``; return how many it draws. Leaves the browser in the page, not in the map."""
    wait = _wait(browser, timeout)
    frames = wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "iframe[title*='folium']")) > index
                        and b.find_elements(By.CSS_SELECTOR, "iframe[title*='folium']"))
    browser.switch_to.frame(frames[index])
    try:
        wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, f".{css}")) >= minimum)
        return len(browser.find_elements(By.CSS_SELECTOR, f".{css}"))
    finally:
        browser.switch_to.default_content()


def _box(browser, label: str):
    return browser.find_element(By.XPATH, f"//label[.//p[text()='{label}']]/following-sibling::div//input")


def options_of(browser, label: str) -> list[str]:
    """The texts of a Streamlit selectbox's options, read by opening its list and closing it again."""
    box = _box(browser, label)
    box.click()
    options = WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.CSS_SELECTOR, "[role='option']"))
    texts = [o.text.strip() for o in options]
    box.send_keys(Keys.ESCAPE)
    return texts


def choose(browser, label: str, option: str, *, attempts: int = 5) -> float:
    """Pick an option of a Streamlit selectbox by its label; return the moment it was clicked.

    A page whose fragment redraws (the queue's countdowns) can replace the list or cover the option
    between finding it and clicking it. The browser then refuses the click, so nothing was picked:
    the list is closed and opened again, up to ``attempts`` times.
    """
    for attempt in range(attempts):
        try:
            _box(browser, label).click()
            item = WebDriverWait(browser, 30).until(lambda b: [
                o for o in b.find_elements(By.CSS_SELECTOR, "[role='option']") if o.text.strip() == option])[0]
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", item)
            clicked = time.perf_counter()
            item.click()
            return clicked
        except (ElementClickInterceptedException, StaleElementReferenceException):
            if attempt == attempts - 1:
                raise
            webdriver.ActionChains(browser).send_keys(Keys.ESCAPE).perform()
            time.sleep(0.5)
    raise AssertionError("unreachable")
