"""The app in headless Chromium on the 90-day demo: issue 6's figures.

Run: ``.venv/bin/python bench/bench_app.py`` after ``make run`` has loaded the demo (or with
``DATABASE_URL`` pointing at a database that holds one). It serves ``app.py`` on a free port,
signs in as the demo supervisor in Chromium with every external host blocked, and measures:

- the overview's first full render: from pressing "Sign in" until the heat map's hexagons and
  its legend are drawn, on a fresh server (cold caches) and for a second user;
- a filter change: from clicking a period in the list until the map's legend shows the new
  classes (the last 7 days, the last day and the last 90 days, none queried before, then
  back to the last 30 days);
- what each page sends: the bytes of the WebSocket frames received while it loads (the maps'
  data travels in them), for the overview, a township, the borders and the projects.

The page is watched with one script per poll, every 20 ms, that reads the title, the
hexagons and the legend at once (the times are right to a poll).

The plain baselines, from the same run: the same heat map counted from the raw complaints
(``GROUP BY h3`` over the period) and from the daily cell tally alone, the key figures from
every township's daily rows instead of the city's, and the map drawn at the base resolution
without the cap on hexagons.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd
import sqlalchemy as sa
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from bench.common import header, median_timed
from geo.act.governance import COUNTS
from geo.act.users import User
from geo.locate.cells import cell_to_parent
from geo.show import dashboard_db as dashboard
from geo.store.engine import database_url
from layers.cells import heat_layer
from tests.browser import choose, chromium, map_shapes, open_page, served_app, sign_in, wait_for_title
from views.overview import MAX_CELLS

PASSWORD = "whistle-city-watch"


def received_bytes(browser) -> int:
    """Bytes of the WebSocket frames received since the log was last read."""
    total = 0
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.webSocketFrameReceived":
            frame = message["params"]["response"]
            data = frame["payloadData"]
            total += len(base64.b64decode(data)) if frame.get("opcode") == 2 else len(data.encode())
    return total


_PAGE_JS = """
const title = Array.from(document.querySelectorAll('h1')).map(h => h.innerText.trim()).join('|');
const frame = document.querySelector("iframe[title*='folium']");
const doc = frame && frame.contentDocument;
return {title: title, hexes: doc ? doc.querySelectorAll('.whistle-hex').length : 0,
        legend: doc ? Array.from(doc.querySelectorAll('.whistle-legend')).map(e => e.innerText).join('\\n') : ''};
"""
POLL = 0.02


def page_state(browser) -> dict:
    """The page's titles, the hexagons and the legends of its first map, in one round trip
    (the map's frame is same-origin)."""
    try:
        return browser.execute_script(_PAGE_JS)
    except WebDriverException:  # the map was being replaced: not drawn yet
        return {"title": "", "hexes": 0, "legend": ""}


def _overview_on_screen(browser) -> bool:
    state = page_state(browser)
    return (state["title"].startswith("Overview") and state["hexes"] >= 100
            and "Complaints per H3 cell" in state["legend"])


def overview_drawn(browser) -> None:
    """Wait until the overview's title, its hexagons and its heat-map legend are on screen."""
    WebDriverWait(browser, 60, poll_frequency=POLL).until(_overview_on_screen)


def server_side(url: str) -> list[tuple[str, str, str]]:
    """The overview's heat map from the tally with the cap, against the plain way."""
    engine = sa.create_engine(url)
    user = User(0, "bench", "bench", "supervisor", 0, "City")
    days = dashboard.data_days(engine, user)
    selection = dashboard.Selection(days[1] - timedelta(days=29), days[1])
    quarter = dashboard.Selection(max(days[0], days[1] - timedelta(days=89)), days[1])
    ours_s, cells = median_timed(lambda: dashboard.cell_volumes(engine, user, selection, resolution=8,
                                                                max_cells=MAX_CELLS))
    plain_sql = ("SELECT h3, count(*) AS volume FROM complaint WHERE h3 IS NOT NULL AND received_at >= "
                 "(CAST(:a AS timestamp) AT TIME ZONE 'Asia/Shanghai') AND received_at < "
                 "((CAST(:b AS timestamp) + interval '1 day') AT TIME ZONE 'Asia/Shanghai') GROUP BY h3")
    daily_sql = "SELECT h3, sum(volume) AS volume FROM cell_day WHERE day BETWEEN :a AND :b GROUP BY h3"
    # Every township's daily rows summed per day and category, as the key figures were read before.
    townships_sql = (f"SELECT day, category, {', '.join(f'sum({c})' for c in COUNTS)} FROM township_day "
                     "WHERE day BETWEEN :a AND :b GROUP BY 1, 2")
    with engine.connect() as conn:
        plain_s, plain = median_timed(lambda: conn.execute(sa.text(plain_sql), {
            "a": selection.first, "b": selection.last}).all())
        quarter_s, quarter_cells = median_timed(lambda: dashboard.cell_volumes(engine, user, quarter, resolution=8,
                                                                        max_cells=MAX_CELLS))
        daily_s, _ = median_timed(lambda: cell_to_parent(np.array(conn.execute(
            sa.text(daily_sql), {"a": quarter.first, "b": quarter.last}).all(), dtype=np.int64)[:, 0], 8))
        counts_s, counts = median_timed(lambda: dashboard.period_counts(engine, user, quarter))
        townships_s, _ = median_timed(lambda: conn.execute(sa.text(townships_sql), {
            "a": quarter.before().first, "b": quarter.last}).all())
    plain_cells = pd.DataFrame(plain, columns=["h3", "volume"])
    ours_bytes = len(json.dumps(heat_layer(cells).data))
    plain_bytes = len(json.dumps(heat_layer(plain_cells).data))
    engine.dispose()
    return [
        ("heat map counts, last 30 days", f"{ours_s:.3f} s ({len(cells):,} cells at resolution "
         f"{cells.attrs['resolution']})",
         f"GROUP BY over the raw complaints: {plain_s:.3f} s ({plain_s / ours_s:.1f}x)"),
        (f"heat map counts, last {quarter.days} days", f"{quarter_s:.3f} s ({len(quarter_cells):,} cells)",
         f"the daily cell tally alone: {daily_s:.3f} s ({daily_s / quarter_s:.1f}x)"),
        (f"key figures' counts, last {quarter.days} days and the period before",
         f"{counts_s:.3f} s ({len(counts):,} rows of the city's tally)",
         f"every township's daily rows: {townships_s:.3f} s ({townships_s / counts_s:.1f}x)"),
        ("heat map layer data", f"{ours_bytes / 1e6:.2f} MB", f"every res-9 cell: {plain_bytes / 1e6:.2f} MB "
         f"({len(plain_cells):,} cells, {plain_bytes / ours_bytes:.1f}x)"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="the demo database (default: the local cluster's)")
    args = parser.parse_args()
    url = args.database_url or database_url(start=True)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        complaints = conn.execute(sa.text("SELECT count(*) FROM complaint")).scalar()
    engine.dispose()
    print(header())
    print(f"database: {complaints:,} complaints")
    rows = server_side(url)
    with served_app({"DATABASE_URL": url, "WHISTLE_CLOCK": "data"}) as app:
        # Times are taken in browsers that do not log the network: DevTools copying every
        # WebSocket frame slows the page it measures. The bytes are counted in a third one.
        timings = {}
        for visit in ("fresh server", "server already serving"):
            with chromium() as browser:
                browser.get(app)
                WebDriverWait(browser, 60).until(
                    lambda b: b.find_elements(By.CSS_SELECTOR, "input[aria-label='User name']"))
                sign_in(browser, app, "supervisor", PASSWORD)
                start = time.perf_counter()
                overview_drawn(browser)
                timings[visit] = time.perf_counter() - start
                print(f"overview drawn in {timings[visit]:.2f} s ({visit})", flush=True)
        with chromium() as browser:
            sign_in(browser, app, "supervisor", PASSWORD)
            overview_drawn(browser)
            changes = []
            for option in ("Last 7 days", "Last day", "Last 90 days", "Last 30 days"):
                before = page_state(browser)["legend"]
                clicked = choose(browser, "Period", option)
                WebDriverWait(browser, 60, poll_frequency=POLL).until(
                    lambda b, old=before: page_state(b)["legend"] not in ("", old))
                cached = " (cached)" if option == "Last 30 days" else " (not queried yet)"
                changes.append((option + cached, time.perf_counter() - clicked))
        with chromium(network_log=True) as browser:
            sign_in(browser, app, "supervisor", PASSWORD)
            overview_drawn(browser)
            time.sleep(1.0)
            sizes = {"overview": received_bytes(browser)}
            for link, title, shape in (("My township", "Township", "whistle-hex"),
                                       ("Borders", "Borders", "whistle-call"), ("Projects", "Projects", None)):
                open_page(browser, link)
                wait_for_title(browser, title)
                if shape:
                    map_shapes(browser, shape)
                time.sleep(1.0)
                sizes[link.lower()] = received_bytes(browser)
    rows += [
        *[(f"overview, first full render after sign-in, {visit} (goal < 3 s)", f"{seconds:.2f} s", "—")
          for visit, seconds in timings.items()],
        *[(f"filter change: period to {option.lower()} (goal < 1 s)", f"{seconds:.2f} s", "—")
          for option, seconds in changes],
        *[(f"data received by the {name} page (goal <= 5 MB)", f"{size / 1e6:.2f} MB", "—")
          for name, size in sizes.items()],
    ]
    print("| what | figure | baseline, same run |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
