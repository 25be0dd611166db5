"""The daily bulletin, weekly summary and monthly analysis: periods, rising categories, rendering.

Pure: :mod:`geo.act.reports_db` gathers the sections from the database. A report is a list of
sections, each a few sentences and a table; it renders to Markdown (the source), to HTML
(from that Markdown, raw HTML refused, so hostile text in a project title or a note shows as
text) and to one CSV per section (cells that a spreadsheet would run as a formula are quoted).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from markdown_it import MarkdownIt

from geo.i18n import N_, _, html_lang, language, ngettext, speaking
from geo.show.text import md_escape
from geo.show.words import column

KINDS = ("daily", "weekly", "monthly")
TITLES = {"daily": N_("Daily bulletin {period}"), "weekly": N_("Weekly summary {period}"),
          "monthly": N_("Monthly analysis {period}")}
RISING_Z = 3.0
"""A category rises when its count lies this many Poisson standard deviations above the baseline..."""
RISING_SHARE = 0.2
"""... and at least this share above it ..."""
RISING_MIN = 10
"""... with at least this many complaints (a jump from 1 to 4 is not news)."""
BASELINE_PERIODS = 4
"""The periods before the report's that make a category's baseline."""


@dataclass(frozen=True)
class Period:
    """A report's days (in the city's zone), both ends included."""

    kind: str
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def label(self) -> str:
        if self.kind == "daily":
            return f"{self.first:%Y-%m-%d}"
        if self.kind == "weekly":
            year, week, _ = self.first.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.first:%Y-%m}"

    def shifted(self, steps: int) -> Period:
        """The period ``steps`` before this one (``-1`` is the one before), of the same kind."""
        if self.kind == "monthly":
            first = (pd.Timestamp(self.first) + pd.DateOffset(months=steps)).date()
            return Period(self.kind, first, (pd.Timestamp(first) + pd.offsets.MonthEnd(0)).date())
        span = timedelta(days=7 if self.kind == "weekly" else 1) * steps
        return Period(self.kind, self.first + span, self.last + span)


def report_period(kind: str, day: date) -> Period:
    """The period of a report of ``kind`` holding ``day``.

    Parameters
    ----------
    kind : {"daily", "weekly", "monthly"}
        The day itself; its ISO week (Monday to Sunday); its calendar month.
    day : datetime.date

    Returns
    -------
    Period
    """
    if kind not in KINDS:
        raise ValueError(f"unknown report {kind!r}; use daily, weekly or monthly")
    if kind == "daily":
        return Period(kind, day, day)
    if kind == "weekly":
        monday = day - timedelta(days=day.weekday())
        return Period(kind, monday, monday + timedelta(days=6))
    first = day.replace(day=1)
    return Period(kind, first, (pd.Timestamp(first) + pd.offsets.MonthEnd(0)).date())


def baseline_periods(period: Period) -> list[Period]:
    """The periods a category's baseline comes from: for a day, the same weekday of the four
    weeks before (weekdays differ); otherwise the four weeks or months before."""
    if period.kind == "daily":
        return [Period("daily", period.first - timedelta(days=7 * i), period.last - timedelta(days=7 * i))
                for i in range(1, BASELINE_PERIODS + 1)]
    return [period.shifted(-i) for i in range(1, BASELINE_PERIODS + 1)]


def rising_categories(current: pd.Series, baseline: pd.Series, baseline_days: int, days: int) -> pd.DataFrame:
    """Compare each category's count with its baseline rate.

    Parameters
    ----------
    current : pandas.Series
        Complaints per category in the report's period.
    baseline : pandas.Series
        Complaints per category over the baseline periods together.
    baseline_days, days : int
        The days the baseline and the period cover; the baseline is scaled to the period.

    Returns
    -------
    pandas.DataFrame
        ``category, complaints, expected, change_pct, z, rising``, most surprising first. ``z``
        is the Poisson score ``(x - e) / sqrt(e)``; ``rising`` needs :data:`RISING_Z`,
        :data:`RISING_SHARE` and :data:`RISING_MIN`. Without a baseline every ``expected`` is
        NaN and nothing rises.
    """
    if baseline_days < 0 or days <= 0:
        raise ValueError("the baseline and the period need a positive number of days")
    names = sorted(set(current.index) | set(baseline.index))
    x = current.reindex(names, fill_value=0).astype(float).to_numpy()
    if baseline_days == 0:
        expected = np.full(len(names), np.nan)
    else:
        expected = baseline.reindex(names, fill_value=0).astype(float).to_numpy() * days / baseline_days
    # A category never seen before gets half a complaint as its expectation: finite, and large.
    e = np.where(expected > 0, expected, 0.5)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(np.isnan(expected), np.nan, (x - e) / np.sqrt(e))
        change = np.where(expected > 0, 100 * (x / expected - 1), np.nan)
    rising = (z >= RISING_Z) & (x >= RISING_MIN) & ((x / e - 1) >= RISING_SHARE)
    frame = pd.DataFrame({"category": names, "complaints": x.astype(np.int64), "expected": expected,
                          "change_pct": change, "z": z, "rising": rising})
    return frame.sort_values(["rising", "z", "complaints"], ascending=False, na_position="last",
                             ignore_index=True)


@dataclass(frozen=True)
class Figure:
    """A map of a section, drawn as SVG for the page and the print (:func:`geo.show.svg.svg_map`),
    with its legend: (label, colour) pairs."""

    svg: str
    legend: tuple[tuple[str, str], ...] = ()
    caption: str = ""


@dataclass
class Section:
    """One part of a report: a title, a few sentences, (usually) a table, and maybe a map."""

    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    table: pd.DataFrame | None = None
    shown: int = 30
    """Rows of the table shown in the Markdown and HTML; the CSV has them all."""
    figure: Figure | None = None


@dataclass
class Report:
    """A rendered-on-demand report: its period, when it was made, and its sections."""

    period: Period
    generated_at: datetime
    sections: list[Section]
    language: str = field(default_factory=language)
    """The language it was written in, and is rendered in (the current one when it is made)."""

    @property
    def title(self) -> str:
        with speaking(self.language):
            return _(TITLES[self.period.kind]).format(period=self.period.label)

    @property
    def stem(self) -> str:
        return f"whistle-{self.period.kind}-{self.period.label}"


def _cell(value: object) -> str:
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return ""
        # A count or a rank (stored as a float beside missing values) is a whole number.
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    if isinstance(value, bool | np.bool_):
        return _("yes") if value else ""
    if isinstance(value, list | tuple | np.ndarray):
        return _(", ").join(str(v) for v in value)
    if isinstance(value, pd.Timestamp | datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return "" if value is None or value is pd.NaT or value is pd.NA else str(value)


def to_markdown(report: Report) -> str:
    """The report as Markdown: a heading, then each section's sentences and table (in the
    report's language)."""
    with speaking(report.language):
        return _markdown(report)


def _markdown(report: Report) -> str:
    return "\n".join([_heading(report), *(_section(report, section) for section in report.sections)])


def _heading(report: Report) -> str:
    period = report.period
    return "\n".join([f"# {md_escape(report.title)}", "",
                      ngettext("{first} to {last} ({zone} time), {days} day. Made {made} by Whistle.",
                               "{first} to {last} ({zone} time), {days} days. Made {made} by Whistle.",
                               period.days).format(
                          first=f"{period.first:%Y-%m-%d}", last=f"{period.last:%Y-%m-%d}",
                          zone=report.generated_at.tzinfo, days=period.days,
                          made=f"{report.generated_at:%Y-%m-%d %H:%M %Z}"), ""])


PRINTED_COLUMNS = 10
"""The columns of a table an A4 page holds; the CSV has every column."""


def _section(report: Report, section: Section, *, columns: int | None = None) -> str:
    out = [f"## {md_escape(section.title)}", ""]
    out += [*section.lines, ""] if section.lines else []
    if section.table is not None and len(section.table):
        shown = section.table.head(section.shown)
        if columns is not None and shown.shape[1] > columns:
            shown = shown.iloc[:, :columns]
            out.append(_("The first {shown} of {columns} columns; all of them in `{file}`.").format(
                shown=columns, columns=section.table.shape[1], file=f"{report.stem}-{section.key}.csv") + "\n")
        out.append("| " + " | ".join(md_escape(column(c)) for c in shown.columns) + " |")
        out.append("|" + "|".join("---" for _c in shown.columns) + "|")
        out += ["| " + " | ".join(md_escape(_cell(v)) for v in row) + " |" for row in shown.itertuples(index=False)]
        if len(section.table) > section.shown:
            out.append("\n" + _("{shown} of {rows} rows; all of them in `{file}`.").format(
                shown=section.shown, rows=len(section.table), file=f"{report.stem}-{section.key}.csv"))
        out.append("")
    return "\n".join(out)


_STYLE = """
body { font-family: "Noto Sans CJK SC", "Helvetica Neue", Arial, sans-serif; margin: 2rem auto; max-width: 72rem;
       color: #1f2933; line-height: 1.45; padding: 0 1rem; }
h1 { border-bottom: 3px solid #c0392b; padding-bottom: .3rem; }
h2 { margin-top: 2rem; color: #7b241c; }
table { border-collapse: collapse; font-size: .9rem; margin: .5rem 0 1rem; }
th, td { border: 1px solid #d5d8dc; padding: .25rem .5rem; text-align: left; }
th { background: #f4f6f7; }
tr:nth-child(even) td { background: #fbfcfc; }
figure { margin: .5rem 0 1rem; } figcaption { font-size: .85rem; color: #444; margin-top: .3rem; }
.swatch { display: inline-block; margin-right: .8rem; white-space: nowrap; }
.swatch i { display: inline-block; width: .8rem; height: .8rem; margin-right: .25rem; vertical-align: -1px;
            border: 1px solid #777; }
"""


_PRINT = """
@page { size: A4; margin: 14mm 12mm; }
body { margin: 0; max-width: none; padding: 0; font-size: 10.5pt; }
h1 { font-size: 18pt; } h2 { font-size: 13pt; break-after: avoid; }
table { font-size: 8pt; width: 100%; } tr, figure { break-inside: avoid; }
figure svg { max-width: 100%; height: auto; }
"""


def _figure(figure: Figure) -> str:
    swatches = "".join(f'<span class="swatch"><i style="background:{html.escape(colour)}"></i>'
                       f"{html.escape(label)}</span>" for label, colour in figure.legend)
    caption = f"<figcaption>{html.escape(figure.caption)}{swatches}</figcaption>" if figure.caption or swatches else ""
    return f"<figure>{figure.svg}{caption}</figure>"


def to_html(report: Report, *, print_layout: bool = False) -> str:
    """The report as one self-contained HTML page, rendered from its Markdown, each section's map
    drawn after its heading; ``print_layout``: laid out for A4 (:func:`geo.show.pdf.report_pdf`)."""
    # Raw HTML is off: whatever a user typed (a title, a note) arrives as text. The maps are
    # the platform's own SVG, their names escaped where they are drawn.
    render = MarkdownIt("commonmark", {"html": False}).enable("table").render
    with speaking(report.language):
        lang = html_lang()
        parts = [render(_heading(report))]
        for section in report.sections:
            heading, _sep, rest = _section(report, section,
                                           columns=PRINTED_COLUMNS if print_layout else None).partition("\n")
            parts += [render(heading), _figure(section.figure) if section.figure else "", render(rest)]
    body = "".join(parts)
    style = _STYLE + (_PRINT if print_layout else "")
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{html.escape(report.title)}</title><style>{style}</style></head>"
            f"<body>\n{body}</body></html>\n")
