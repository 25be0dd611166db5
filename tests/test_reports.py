"""Reports: periods, rising categories, rendering of hostile text, and a report of a hand-made city.

The tallies are written by hand, so every figure of the report is known: street vendors 20 a
day in Guang'anmenwai from September, gas leaks 10 on each of the four Fridays before
2026-11-20 and 40 on that Friday; a gas-leak border case whose call is still pending after
its deadline; a project whose title is hostile.
"""

from __future__ import annotations

import math
import shutil
from datetime import date, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from geo.act.governance_db import run_governance
from geo.act.projects import ProjectSpec
from geo.act.projects_db import create_project
from geo.act.reports import (
    Period,
    Report,
    Section,
    baseline_periods,
    report_period,
    rising_categories,
    to_html,
    to_markdown,
)
from geo.act.reports_db import build_report, write_report
from geo.act.whistle_db import raise_calls
from geo.errors import ValidationError
from geo.show.downloads import safe_csv
from geo.store.tally import refresh_days
from tests.helpers import assert_one_line_error, geo
from tests.test_whistle import GUANGANMENWAI, T0, add_case, db  # noqa: F401  (db is a fixture)

DAY = date(2026, 11, 20)
HOSTILE = '=HYPERLINK("http://evil.example") <script>alert(1)</script> | [x](javascript:alert(1))'


def test_periods():
    assert report_period("daily", DAY) == Period("daily", DAY, DAY)
    week = report_period("weekly", date(2026, 1, 1))  # a Thursday: ISO week 1 starts in 2025
    assert (week.first, week.last, week.label) == (date(2025, 12, 29), date(2026, 1, 4), "2026-W01")
    february = report_period("monthly", date(2028, 2, 10))
    assert (february.first, february.last, february.days) == (date(2028, 2, 1), date(2028, 2, 29), 29)
    assert february.shifted(-1) == Period("monthly", date(2028, 1, 1), date(2028, 1, 31))
    assert [p.first for p in baseline_periods(report_period("daily", DAY))] == \
        [DAY - timedelta(days=7 * i) for i in range(1, 5)]
    assert [p.first for p in baseline_periods(report_period("weekly", DAY))][:2] == \
        [date(2026, 11, 9), date(2026, 11, 2)]
    with pytest.raises(ValueError, match="unknown report 'hourly'"):
        report_period("hourly", DAY)


def test_rising_categories_by_hand():
    found = rising_categories(pd.Series({"gas": 40, "vendor": 20, "new": 12, "rare": 3}),
                              pd.Series({"gas": 40, "vendor": 80, "rare": 4}), baseline_days=4, days=1)
    found = found.set_index("category")
    assert found.loc["gas", "expected"] == 10
    assert math.isclose(found.loc["gas", "z"], 30 / math.sqrt(10))
    assert found.loc["gas", "change_pct"] == 300
    assert found.loc["vendor", "z"] == 0
    # Never seen before: half a complaint expected, a large score, no percentage.
    assert math.isclose(found.loc["new", "z"], 11.5 / math.sqrt(0.5))
    assert math.isnan(found.loc["new", "change_pct"])
    # Three complaints against one expected is a big score but too few to be news.
    assert found.loc["rare", "z"] > 1.9
    assert found["rising"].to_dict() == {"gas": True, "new": True, "vendor": False, "rare": False}
    assert found.index[:2].tolist() == ["new", "gas"]
    none = rising_categories(pd.Series({"gas": 40}), pd.Series(dtype="int64"), baseline_days=0, days=1)
    assert not none["rising"].any()
    assert none["expected"].isna().all()


def test_hostile_text_is_shown_as_text_everywhere():
    table = pd.DataFrame({"title": [HOSTILE, "plain"], "n": [1.5, float("nan")]})
    report = Report(Period("daily", DAY, DAY), T0, [Section("projects", "Projects <b>", ["A line."], table)])
    markdown = to_markdown(report)
    row = next(line for line in markdown.splitlines() if "HYPERLINK" in line)
    assert row.count(" | ") == 1  # the title's pipe is escaped: still two cells
    page = to_html(report)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "javascript:" not in page.replace("javascript:alert(1))", "")  # shown, never a link
    assert 'href="javascript' not in page
    assert "<b>" not in page
    csv = safe_csv(table)
    assert "'=HYPERLINK" in csv
    assert "nan" not in markdown


@pytest.fixture
def city(db):  # noqa: F811  (the fixture imported above)
    """Hand-written tallies, a pending emergency call, and a project with a hostile title."""
    days = pd.date_range("2026-09-01", DAY, freq="D").date
    fridays = {DAY - timedelta(days=7 * i) for i in range(1, 5)}
    rows = [{"day": d, "cat": "street_vendor", "n": 20, "on_time": 15, "resolved": 16, "satisfied": 18}
            for d in days]
    rows += [{"day": d, "cat": "gas_leak", "n": 10, "on_time": 10, "resolved": 10, "satisfied": 10}
             for d in sorted(fridays)]
    rows.append({"day": DAY, "cat": "gas_leak", "n": 40, "on_time": 40, "resolved": 40, "satisfied": 40})
    with db.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO township_day (day, township_code, category, volume, dispatched, on_time, outcomes, "
            "resolved, callbacks, satisfied) VALUES (:day, :town, :cat, :n, :n, :on_time, :n, :resolved, :n, "
            ":satisfied)"), [{**row, "town": GUANGANMENWAI} for row in rows])
        refresh_days(conn, days[0], days[-1], tables=["township_half"])
    add_case(db, "gas", [("gas_leak", T0 - timedelta(hours=1))])
    raise_calls(db, now=T0)
    run_governance(db)
    create_project(db, ProjectSpec(kind="proactive", title=HOSTILE, lead_department="city_enforcement",
                                   categories=["street_vendor"], starts_on=date(2026, 10, 1),
                                   ends_on=date(2026, 12, 31), townships=[GUANGANMENWAI],
                                   targets={"reduction_pct": 20},
                                   tasks=[{"title": "Patrol", "owner": "Li", "due_on": "2026-11-01"}]),
                   actor="Li", now=T0)
    return db


def _section(report: Report, key: str) -> Section:
    return next(s for s in report.sections if s.key == key)


def test_the_daily_bulletin_of_a_hand_made_city(city, tmp_path):
    report = build_report(city, "daily", DAY, now=T0 + timedelta(days=1))
    assert report.title == "日通报 2026-11-20"  # Beijing's language
    figures = _section(report, "figures").table.set_index("measure")
    assert figures.loc["诉求量", "this_period"] == 60
    assert figures.loc["诉求量", "period_before"] == 30  # the Friday before
    assert figures.loc["诉求量", "change"] == 100
    assert math.isclose(figures.loc["响应率 %", "this_period"], 100 * 55 / 60)
    assert math.isclose(figures.loc["响应率 %", "period_before"], 100 * 25 / 30)
    assert figures.loc["响应率 %", "change_in"] == "个百分点"
    # The last day of data: its outcomes and callbacks are still coming in, so no fall is headlined.
    assert figures.loc["解决率 %", "change_in"] == "暂定"
    assert math.isnan(figures.loc["解决率 %", "change"])
    assert math.isnan(figures.loc["满意率 %", "change"])
    assert any("为暂定值" in line for line in _section(report, "figures").lines)
    rising = _section(report, "categories").table.set_index("category")
    assert rising.loc["gas_leak", "expected"] == 10
    assert bool(rising.loc["gas_leak", "rising"])
    assert not bool(rising.loc["street_vendor", "rising"])
    assert "燃气泄漏" in _section(report, "categories").lines[0]
    calls = _section(report, "whistle_calls").table
    assert len(calls) == 1
    assert calls["kind"].iloc[0] == "紧急"
    # Every addressee was still pending at the end of the day, 30 minutes after the call.
    assert calls["late"].iloc[0] == calls["addressees"].iloc[0]
    assert "广安门外街道" in calls["late_addressees"].iloc[0]
    cases = _section(report, "border_cases").table
    assert cases["new"].tolist() == [True]
    projects = _section(report, "projects").table
    assert projects["title"].tolist() == [HOSTILE]
    assert projects["progress_pct"].tolist() == [0]
    assert "尚无覆盖本期的新兴热点分析" in " ".join(_section(report, "hotspots").lines)
    written = write_report(report, tmp_path)
    assert [p.name for p in written[:2]] == ["whistle-daily-2026-11-20.md", "whistle-daily-2026-11-20.html"]
    page = written[1].read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    csv_file = tmp_path / "whistle-daily-2026-11-20-projects.csv"
    assert "'=HYPERLINK" in csv_file.read_text(encoding="utf-8-sig")
    assert csv_file.read_text(encoding="utf-8-sig").startswith("编号,类型,标题,状态")  # headed in the language
    assert '<html lang="zh-CN">' in page
    assert csv_file.read_bytes().startswith(b"\xef\xbb\xbf"), "a BOM: Excel on Chinese Windows reads UTF-8"


def test_weekly_and_monthly_reports(city):
    week = build_report(city, "weekly", DAY, now=T0)
    assert (week.period.first, week.period.last) == (date(2026, 11, 16), date(2026, 11, 22))
    # The data ends on the Friday: the bulletin says so.
    assert any("本期 7 天中只有 5 天有数据" in line for line in _section(week, "figures").lines)
    october = build_report(city, "monthly", date(2026, 10, 9), now=T0)
    figures = october.sections[0].table.set_index("measure")
    assert figures.loc["诉求量", "this_period"] == 31 * 20 + 2 * 10  # two Fridays of gas leaks
    assert figures.loc["诉求量", "period_before"] == 30 * 20
    assert "暂定" not in set(figures["change_in"]), "October's outcomes are all in"
    ranking = _section(october, "ranking").table.set_index("township_code")
    assert ranking.loc[GUANGANMENWAI, "volume_rank"] == 1
    assert ranking.loc[GUANGANMENWAI, "volume"] == 640
    classes = _section(october, "classes").table
    assert GUANGANMENWAI in classes["township_code"].tolist()
    # The September calls section is empty; the call came in November.
    assert _section(october, "whistle_calls").table.empty


def test_a_code_used_at_both_levels_ranks_its_township_once(city):
    """A district set and a township set may use the same code (their sets are apart): the
    ranking joins each code at its own level, one row per township (219 rows for 117 before)."""
    with city.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO jurisdiction (set_id, code, name, level, kind, parent_code, source, approximate, area_km2, "
            "valid_from, geom, geom_display) SELECT set_id, :code, '同码区', level, kind, parent_code, source, "
            "approximate, area_km2, valid_from, geom, geom_display FROM jurisdiction "
            "WHERE level = 'district' AND valid_to IS NULL ORDER BY code LIMIT 1"), {"code": GUANGANMENWAI})
    ranking = _section(build_report(city, "monthly", date(2026, 10, 9), now=T0), "ranking").table
    assert ranking["township_code"].is_unique
    row = ranking.set_index("township_code").loc[GUANGANMENWAI]
    assert (row["township"], row["district"]) == ("广安门外街道", "西城区")
    from geo.act.reports_db import _names

    with city.connect() as conn:
        assert _names(conn)[GUANGANMENWAI] == "广安门外街道"  # the cases and calls name townships


def test_reports_refuse_what_they_cannot_make(city):
    with pytest.raises(ValidationError, match="unknown report 'yearly'"):
        build_report(city, "yearly", DAY)
    with pytest.raises(ValidationError, match="time zone"):
        build_report(city, "daily", DAY, now=T0.replace(tzinfo=None))
    with city.begin() as conn:
        conn.exec_driver_sql("DELETE FROM township_day")
    with pytest.raises(ValidationError, match="nothing to report"):
        build_report(city, "daily")


def test_reports_on_the_command_line(city, complaints_db_url, tmp_path):
    env = {"DATABASE_URL": complaints_db_url, "COLUMNS": "200"}
    done = geo("report", "daily", "--date", "2026-11-20", "--out", str(tmp_path), env=env)
    assert done.returncode == 0, done.stderr
    assert "日通报 2026-11-20" in done.stdout
    assert (tmp_path / "whistle-daily-2026-11-20-whistle_calls.csv").exists()
    latest = geo("report", "monthly", "--out", str(tmp_path), env=env)
    assert latest.returncode == 0, latest.stderr
    assert "月分析 2026-11" in latest.stdout
    english = geo("--language", "en", "report", "daily", "--date", "2026-11-20", "--out", str(tmp_path), env=env)
    assert english.returncode == 0, english.stderr
    assert "Daily bulletin 2026-11-20" in english.stdout
    wrong = geo("--language", "tlh", "report", "daily", env=env)
    assert wrong.returncode != 0
    assert "language 'tlh' is not one of zh_CN, en" in wrong.stderr + wrong.stdout
    assert_one_line_error(geo("report", "weekly", "--date", "next friday", env=env), "is not an ISO date")


def test_a_report_in_english_reads_english_throughout(city, tmp_path):
    """The same bulletin asked for in English (a user's choice, or --language en): title, lines,
    table headings, CSV headers and the page's language."""
    from geo.i18n import speaking

    with speaking("en"):
        report = build_report(city, "daily", DAY, now=T0 + timedelta(days=1))
        written = write_report(report, tmp_path)
    assert report.title == "Daily bulletin 2026-11-20"
    assert "Gas leak" in _section(report, "categories").lines[0]
    assert _section(report, "whistle_calls").table["kind"].iloc[0] == "emergency"
    assert '<html lang="en">' in written[1].read_text(encoding="utf-8")
    assert "| Measure | This period |" in written[0].read_text(encoding="utf-8")
    projects = (tmp_path / "whistle-daily-2026-11-20-projects.csv").read_text(encoding="utf-8-sig")
    assert projects.startswith("No.,Kind,Title,State")


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_the_monthly_analysis_prints_to_an_a4_pdf_whose_pages_render(city, tmp_path):
    """The print: an A4 PDF made by Chromium, its pages turned into pictures (pypdfium2) that hold
    the maps and the tables, its text Chinese (the title, a township's name)."""
    import numpy as np
    import pypdfium2 as pdfium

    from geo.show.pdf import report_pdf

    report = build_report(city, "monthly", date(2026, 10, 9), now=T0)
    ranking = _section(report, "ranking")
    assert ranking.figure is not None
    assert ranking.figure.svg.startswith("<svg")
    assert ("预警" in dict(ranking.figure.legend)) or any("类" in label for label, _ in ranking.figure.legend)
    printed = report_pdf(report)
    assert printed.startswith(b"%PDF")
    document = pdfium.PdfDocument(printed)
    assert len(document) >= 2
    width, height = document[0].get_size()
    assert abs(width - 595.3) < 2, "A4 in points"
    assert abs(height - 841.9) < 2, "A4 in points"
    text = document[0].get_textpage().get_text_range()
    assert "月分析 2026-10" in text
    assert "广安门外街道" in "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    for i in range(len(document)):
        picture = document[i].render(scale=1.5).to_pil()
        picture.save(tmp_path / f"page-{i + 1}.png")
        pixels = np.asarray(picture.convert("L"), dtype=float)
        assert pixels.std() > 5, f"page {i + 1} is blank"
    # The map is drawn: a page holds the class colours (early warning's orange among them).
    colours = {tuple(c) for i in range(len(document))
               for c in np.asarray(document[i].render(scale=1).to_pil().convert("RGB")).reshape(-1, 3)[::7]}
    assert (0xE6, 0x9F, 0x00) in colours or (0xB2, 0x18, 0x2B) in colours
