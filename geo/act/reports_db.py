"""Gather a report's sections from what the stages stored.

Every section reads stored results and tallies (``township_day``, Gi* and emerging runs,
border cases, whistle calls, ``governance_month``, projects), never the city's raw
complaints, so a monthly report takes about as long as a daily one. Calls and projects are
shown as they stand when the report is made; a call's addressee counts as late if it was
pending past its deadline at the end of the period.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from geo.act.categories import departments
from geo.act.governance import (
    COUNTS,
    LATE_RATES,
    NO_RATE_DATA,
    GovernanceRules,
    class_rules_text,
    rates,
    rates_without_data,
)
from geo.act.governance import RATES as MEASURED
from geo.act.projects_db import projects
from geo.act.reports import (
    KINDS,
    Figure,
    Period,
    Report,
    Section,
    baseline_periods,
    report_period,
    rising_categories,
    to_html,
    to_markdown,
)
from geo.act.whistle_db import late_sql
from geo.errors import ValidationError
from geo.i18n import N_, _, ngettext, speaking
from geo.locate.cells import cell_polygons
from geo.locate.jurisdictions_db import current_jurisdictions
from geo.settings import load_settings
from geo.show.colours import EMERGING_COLOURS, LABEL_COLOURS
from geo.show.downloads import write_csv
from geo.show.svg import svg_map
from geo.show.words import (
    CALL_KINDS,
    CALL_STATES,
    CLASSES,
    PATTERNS,
    PROJECT_KINDS,
    PROJECT_STATES,
    RATES,
    STEPS,
    VERDICTS,
    category_name,
    department_name,
    headed,
    word,
    words,
)
from geo.store.engine import Bind, transaction
from geo.store.tally import tallied_days

CASE_KINDS = {"near": N_("near the line"), "across": N_("across the line"), "cluster": N_("cluster across the line"),
              "pingpong": N_("passed back and forth")}
NEW_PATTERNS = ("new hot spot", "consecutive hot spot", "intensifying hot spot")
"""The emerging patterns a bulletin calls new: hot only lately, or hotter step by step."""


def build_report(bind: Bind, kind: str, day: date | None = None, *, now: datetime | None = None) -> Report:
    """Gather a report.

    Parameters
    ----------
    bind : Engine or Connection
    kind : {"daily", "weekly", "monthly"}
    day : datetime.date, optional
        A day of the period (see :func:`geo.act.reports.report_period`); the last tallied day by
        default.
    now : datetime, optional
        When the report is made (timezone-aware); the wall clock by default.

    Returns
    -------
    Report
    """
    if kind not in KINDS:
        raise ValidationError(f"unknown report {kind!r}; use daily, weekly or monthly")
    if now is not None and now.tzinfo is None:
        raise ValidationError("the report's time needs a time zone")
    with transaction(bind) as conn:
        days = tallied_days(conn)
        if day is None:
            if not len(days):
                raise ValidationError("no complaints are stored yet: there is nothing to report")
            day = days[-1].date()
        period = report_period(kind, day)
        names = _names(conn)
        # The townships' outlines, read once for the report's maps (and only if one is drawn).
        towns = cache(lambda: current_jurisdictions(conn, "township", display=True))
        sections = [_figures(conn, period, days), _categories(conn, period, days),
                    _hotspots(conn, period, names, towns), _border_cases(conn, period, names),
                    _calls(conn, period, names), *_ranking(conn, period, towns), _projects(conn, period)]
    return Report(period, now or datetime.now(_zone()), sections)


def write_report(report: Report, folder: Path | str) -> list[Path]:
    """Write the report's Markdown, HTML and one CSV per section into ``folder``.

    Returns
    -------
    list of Path
        The files written, the Markdown first.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / f"{report.stem}.md", folder / f"{report.stem}.html"]
    written[0].write_text(to_markdown(report), encoding="utf-8")
    written[1].write_text(to_html(report), encoding="utf-8")
    for section in report.sections:
        if section.table is not None:
            path = folder / f"{report.stem}-{section.key}.csv"
            with speaking(report.language):
                write_csv(path, headed(section.table))
            written.append(path)
    return written


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), _zone())


def _end(period: Period) -> datetime:
    return _start(period.last + timedelta(days=1))


def _names(conn) -> dict[str, str]:
    """Display names of townships, districts and departments by code.

    The codes these reports name are townships' (cases, calls, cells), so a township's name wins
    over a district's that shares its code (the district and township sets are apart).
    """
    rows = conn.execute(sa.text(
        "SELECT code, name FROM jurisdiction WHERE valid_to IS NULL ORDER BY level = 'township', code")).all()
    names = dict(rows)
    names.update({code: department_name(code) for code in departments()})
    return names


def _covered(days: pd.DatetimeIndex, period: Period) -> int:
    return int(((days >= pd.Timestamp(period.first)) & (days <= pd.Timestamp(period.last))).sum())


def _sums(conn, period: Period) -> pd.Series:
    sums = ", ".join(f"coalesce(sum({c}), 0)::bigint AS {c}" for c in COUNTS)
    row = conn.execute(sa.text(f"SELECT {sums} FROM township_day WHERE day BETWEEN :f AND :l"),
                       {"f": period.first, "l": period.last}).mappings().one()
    return pd.Series(dict(row))


def _figures(conn, period: Period, days: pd.DatetimeIndex) -> Section:
    before = baseline_periods(period)[0]
    counts = pd.DataFrame([_sums(conn, period), _sums(conn, before)], index=["now", "before"])
    rules = GovernanceRules.load()
    found = rates(counts, rules)
    have, had = _covered(days, period), _covered(days, before)
    volume = counts["volume"]
    rows = [(_("complaints"), volume["now"], volume["before"]),
            (_("complaints a day"), volume["now"] / max(have, 1), volume["before"] / max(had, 1)),
            *[(word(RATES, name) + " %", 100 * found.at["now", name], 100 * found.at["before", name])
              for name in MEASURED]]
    table = pd.DataFrame(rows, columns=["measure", "this_period", "period_before"]).astype(
        {"this_period": float, "period_before": float})
    # Counts change in percent, rates in points.
    counted = np.arange(len(table)) < 2
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = 100 * (table["this_period"] / table["period_before"] - 1)
    table["change"] = np.where(counted, relative, table["this_period"] - table["period_before"]).round(1)
    table["change_in"] = np.where(counted, "%", _("points"))
    provisional = rules.provisional_from(days[-1].date()) if len(days) else None
    late = provisional is not None and period.last >= provisional
    if late:
        # The outcomes and callbacks of the last days are still coming in: not a fall to headline.
        rows = [2 + list(MEASURED).index(r) for r in LATE_RATES]  # after the two counts
        table.loc[rows, "change"] = np.nan
        table.loc[rows, "change_in"] = _("provisional")
    compared = _("the same weekday a week before") if period.kind == "daily" else _("the period before")
    lines = [_("Compared with {compared} ({first} to {last}). Rates are in percent: responded within the deadline "
               "of those dispatched, resolved of those with an outcome, satisfied or basically satisfied of those "
               "called back.").format(compared=compared, first=f"{before.first:%Y-%m-%d}",
                                       last=f"{before.last:%Y-%m-%d}")]
    if have < period.days:
        lines.append(_("**Data for {have} of the period's {days} days.**").format(have=have, days=period.days))
    if late:
        lines.append(_("Resolution and satisfaction are provisional from {day}: the outcomes and callbacks of the "
                       "last {days} days of data are still coming in, so they are not compared.").format(
            day=f"{provisional:%Y-%m-%d}", days=rules.provisional_days))
    lines += [_no_data(name) for name in rates_without_data(counts.loc[["now"]])]
    return Section("figures", _("Key figures"), lines, table)


def _no_data(rate: str) -> str:
    return _("{rate}: {no_data} (no complaint of the period carries it); the composite and its ranking are "
             "left out.").format(rate=word(RATES, rate), no_data=_(NO_RATE_DATA))


def _per_category(conn, first: date, last: date) -> pd.Series:
    rows = conn.execute(sa.text("SELECT category, sum(volume) FROM township_day WHERE day BETWEEN :f AND :l "
                                "GROUP BY 1"), {"f": first, "l": last}).all()
    return pd.Series({c: int(n) for c, n in rows}, dtype="int64")


def _categories(conn, period: Period, days: pd.DatetimeIndex) -> Section:
    current = _per_category(conn, period.first, period.last)
    # Only whole baseline periods count: a half-loaded week would make everything look risen.
    whole = [p for p in baseline_periods(period) if _covered(days, p) == p.days]
    parts = [_per_category(conn, p.first, p.last) for p in whole]
    baseline = pd.concat(parts).groupby(level=0).sum() if parts else pd.Series(dtype="int64")
    table = rising_categories(current, baseline, sum(p.days for p in whole), period.days)
    table.insert(1, "name", [category_name(c) for c in table["category"]])
    risen = table[table["rising"]]
    if not whole:
        lines = [_("No whole baseline period before this one: rising categories need history.")]
    elif risen.empty:
        lines = [ngettext("No category rose above its baseline (the {periods} period before) this period.",
                          "No category rose above its baseline (the {periods} periods before) this period.",
                          len(whole)).format(periods=len(whole))]
    else:
        lines = [ngettext("{count} category rose clearly above the baseline of the {periods} periods before: "
                          "{which}.",
                          "{count} categories rose clearly above the baseline of the {periods} periods before: "
                          "{which}.", len(risen)).format(
            count=len(risen), periods=len(whole), which=_(", ").join(
                f"{row.name} ({row.complaints:,}, " + (_("new") if pd.isna(row.change_pct) else
                                                       f"{row.change_pct:+.0f} %") + ")"
                for row in risen.itertuples()))]
    return Section("categories", _("Categories rising"), lines, table, shown=15)


def _hotspots(conn, period: Period, names: dict[str, str], towns: Callable[[], gpd.GeoDataFrame]) -> Section:
    run = conn.execute(sa.text(
        "SELECT id, period_start, period_end, resolution, step, steps FROM hotspot_run WHERE kind = 'emerging' "
        "AND category IS NULL AND theme IS NULL AND period_start < :end ORDER BY period_end DESC, id DESC LIMIT 1"),
        {"end": _end(period)}).mappings().first()
    gi = conn.execute(sa.text(
        "SELECT r.id, r.period_start, r.period_end, r.resolution, "
        "(SELECT count(*) FROM hotspot_cell c WHERE c.run_id = r.id AND c.bin = 3) AS hot99 "
        "FROM hotspot_run r WHERE kind = 'gi' AND category IS NULL AND theme IS NULL AND period_start < :end "
        "ORDER BY period_end DESC, id DESC LIMIT 1"), {"end": _end(period)}).mappings().first()
    lines = []
    title = _("New and emerging hot spots")
    if gi:
        lines.append(_("Hot-spot analysis {id} ({first} to {last}, H3 resolution {resolution}): {hot:,} hot cells "
                       "at 99 % confidence.").format(id=gi["id"], first=f"{gi['period_start']:%Y-%m-%d}",
                                                     last=f"{gi['period_end']:%Y-%m-%d}",
                                                     resolution=gi["resolution"], hot=gi["hot99"]))
    if not run:
        lines.append(_("No emerging hot spot run covers this period yet (`python -m geo detect emerging`)."))
        return Section("hotspots", title, lines, None)
    cells = pd.read_sql(sa.text(
        "SELECT h3, pattern, count, z, trend_z FROM hotspot_cell WHERE run_id = :id AND pattern = ANY(:patterns) "
        "ORDER BY array_position(CAST(:patterns AS text[]), CAST(pattern AS text)), z DESC"), conn,
        params={"id": run["id"], "patterns": list(NEW_PATTERNS)})
    cells["township"] = _townships_of(conn, cells["h3"].tolist(), names)
    cells.insert(0, "cell", [h3.int_to_str(int(c)) for c in cells.pop("h3")])
    counted = cells["pattern"].value_counts()
    found = _(", ").join(f"{word(PATTERNS, p)} {counted[p]}" for p in NEW_PATTERNS if p in counted)
    lines.append(_("Emerging hot spots {id} ({first} to {last}, {steps} periods of a {step}, H3 resolution "
                   "{resolution}): {found}.").format(
        id=run["id"], first=f"{run['period_start']:%Y-%m-%d}", last=f"{run['period_end']:%Y-%m-%d}",
        steps=run["steps"], step=word(STEPS, run["step"]), resolution=run["resolution"],
        found=found or _("no new hot spot")))
    figure = _cells_figure(cells, towns()) if len(cells) else None
    cells["pattern"] = words(PATTERNS, cells["pattern"])
    return Section("hotspots", title, lines, cells.round(2), figure=figure)


def _cells_figure(cells: pd.DataFrame, towns: gpd.GeoDataFrame) -> Figure:
    """The new and emerging cells in their patterns' colours, over the townships' lines."""
    ids = np.array([h3.str_to_int(c) for c in cells["cell"]], dtype=np.int64)
    shapes = list(cell_polygons(ids))
    # The townships around the cells, for where they are (a margin of about 5 km).
    around = shapely.union_all(shapes).buffer(0.05)
    svg = svg_map(shapes, [EMERGING_COLOURS.get(p, "#999999") for p in cells["pattern"]], stroke="#333333",
                  stroke_width=0.4, titles=list(cells["township"]),
                  under=[g for g in towns.geometry if g is not None and g.intersects(around)])
    shown = [p for p in NEW_PATTERNS if p in set(cells["pattern"])]
    return Figure(svg, tuple((word(PATTERNS, p), EMERGING_COLOURS[p]) for p in shown))


def _townships_of(conn, cells: list[int], names: dict[str, str]) -> list[str]:
    """The township holding each cell's centre."""
    if not cells:
        return []
    centres = [h3.cell_to_latlng(h3.int_to_str(int(c))) for c in cells]
    rows = conn.execute(sa.text(
        "SELECT p.i, j.code FROM unnest(CAST(:lon AS float8[]), CAST(:lat AS float8[])) WITH ORDINALITY "
        "AS p(lon, lat, i) JOIN jurisdiction j ON j.level = 'township' AND j.valid_to IS NULL "
        "AND ST_Contains(j.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326))"),
        {"lon": [lon for _, lon in centres], "lat": [lat for lat, _ in centres]}).all()
    found = {int(i): code for i, code in rows}
    return [names.get(found.get(i + 1, ""), _("outside the townships")) for i in range(len(cells))]


def _border_cases(conn, period: Period, names: dict[str, str]) -> Section:
    table = pd.read_sql(sa.text(
        "SELECT id, kind, townships, category, complaints, first_seen, last_seen, round(distance_m) AS distance_m, "
        "first_seen >= :start AS new FROM border_case WHERE last_seen >= :start AND first_seen < :end "
        "ORDER BY new DESC, complaints DESC, id"), conn, params={"start": _start(period.first), "end": _end(period)})
    _readable(table, names, ("first_seen", "last_seen"))
    new = int(table["new"].sum()) if len(table) else 0
    lines = [ngettext("{count} border case had complaints in the period, {new} of them new.",
                      "{count} border cases had complaints in the period, {new} of them new.",
                      len(table)).format(count=len(table), new=new)]
    table["kind"] = words(CASE_KINDS, table["kind"])
    table["category"] = [category_name(c) for c in table["category"]]
    return Section("border_cases", _("Border cases"), lines, table)


def _readable(table: pd.DataFrame, names: dict[str, str], times: tuple[str, ...]) -> None:
    """Township codes as names, and times as the city's wall time, in place."""
    table["townships"] = [" / ".join(names.get(t, t) for t in ts) for ts in table["townships"]]
    for name in times:
        table[name] = pd.to_datetime(table[name], utc=True).dt.tz_convert(_zone()).dt.tz_localize(None)


def _calls(conn, period: Period, names: dict[str, str]) -> Section:
    table = pd.read_sql(sa.text(f"""
        SELECT c.id, c.kind, c.state, c.townships, c.categories, c.complaints, c.raised_at, c.deadline_at,
               c.escalation,
               count(a.id) AS addressees,
               count(a.id) FILTER (WHERE {late_sql(':end')}) AS late,
               coalesce(array_agg(a.code ORDER BY a.code) FILTER (WHERE {late_sql(':end')}), '{{}}')
                   AS late_addressees,
               coalesce(sum(a.times_late), 0) AS times_late
        FROM whistle_call c JOIN whistle_addressee a ON a.call_id = c.id
        WHERE c.raised_at < :end AND (c.raised_at >= :start OR c.state = 'raised'
                                      OR coalesce(c.closed_at, c.resolved_at) >= :start)
        GROUP BY c.id ORDER BY (c.state = 'closed'), (c.kind = 'emergency') DESC, late DESC, c.deadline_at, c.id"""),
        conn, params={"start": _start(period.first), "end": _end(period)})
    _readable(table, names, ("raised_at", "deadline_at"))
    table["late_addressees"] = [", ".join(names.get(t, t) for t in ts) for ts in table["late_addressees"]]
    raised = int((table["raised_at"] >= pd.Timestamp(period.first)).sum()) if len(table) else 0
    late = int((table["late"] > 0).sum()) if len(table) else 0
    lines = [ngettext("{raised} call raised in the period; {shown} shown (raised, still open, or settled in the "
                      "period); {late} with late addressees.",
                      "{raised} calls raised in the period; {shown} shown (raised, still open, or settled in the "
                      "period); {late} with late addressees.", raised).format(
        raised=raised, shown=len(table), late=late)]
    table["kind"] = words(CALL_KINDS, table["kind"])
    table["state"] = words(CALL_STATES, table["state"])
    table["categories"] = [_(", ").join(category_name(c) for c in cats) for cats in table["categories"]]
    return Section("whistle_calls", _("Whistle calls"), lines, table)


def _ranking(conn, period: Period, towns: Callable[[], gpd.GeoDataFrame]) -> list[Section]:
    rules = GovernanceRules.load()
    month = conn.execute(sa.text("SELECT max(month) FROM governance_month WHERE month <= :m"),
                         {"m": period.last.replace(day=1)}).scalar()
    if month is None:
        return [Section("ranking", _("Ranking and classes"),
                        [_("No month is classified yet (`python -m geo governance run`).")], None)]
    table = pd.read_sql(sa.text("""
        SELECT g.composite_rank, j.name AS township, g.township_code, d.name AS district, g.volume, g.volume_rank,
               round(100 * g.response_rate::numeric, 1) AS response_pct,
               round(100 * g.resolution_rate::numeric, 1) AS resolution_pct,
               round(100 * g.satisfaction_rate::numeric, 1) AS satisfaction_pct,
               round(g.composite::numeric, 1) AS composite, g.label, g.performance, g.rebound,
               g.talk_list, g.dispatched, g.outcomes, g.callbacks
        FROM governance_month g
        LEFT JOIN jurisdiction j ON j.code = g.township_code AND j.level = 'township' AND j.valid_to IS NULL
        LEFT JOIN jurisdiction d ON d.code = j.parent_code AND d.level = 'district' AND d.valid_to IS NULL
        WHERE g.month = :m ORDER BY g.composite_rank NULLS LAST, g.volume_rank"""), conn, params={"m": month})
    labels = table["label"].value_counts()
    partial = "" if month == period.last.replace(day=1) else _(" (the last classified month)")
    lines = [_("{month}{partial}: {count} townships, {ranked} ranked by composite; {classes}; {talk} on the "
               "talk list (末位约谈).").format(
        month=f"{month:%Y-%m}", partial=partial, count=len(table), ranked=int(table["composite_rank"].notna().sum()),
        classes=_(", ").join(f"{word(CLASSES, n)} {labels[n]}" for n in labels.index if n != "none"),
        talk=int(table["talk_list"].sum()))]
    lines += [_no_data(name) for name in rates_without_data(table)]
    codes = table["label"].copy()
    table["label"] = words(CLASSES, table["label"])
    table["performance"] = words(CLASSES, table["performance"])
    # The townships a supervisor acts on: the volume classes first, then the talk list.
    order = {"governance": 0, "early_warning": 1, "watch": 2}
    flagged = table[codes.isin(list(order)) | table["talk_list"]].copy()
    flagged["order"] = [order.get(label, 3) for label in codes[flagged.index]]
    flagged = flagged.sort_values(["order", "volume_rank", "composite_rank"]).drop(columns="order")
    classes = Section("classes", _("Governance classes and the talk list"),
                      [f"{month:%Y-%m}: {class_rules_text(rules)}"],
                      flagged[["township", "township_code", "district", "label", "rebound", "volume", "volume_rank",
                               "composite", "composite_rank", "talk_list"]], shown=40)
    return [classes, Section("ranking", _("Ranking and rates"), lines, table, shown=40,
                             figure=_classes_figure(towns(), dict(zip(table["township_code"], codes, strict=True))))]


def _classes_figure(towns: gpd.GeoDataFrame, labels: dict[str, str]) -> Figure:
    """The townships in their class's colours (those not classified in grey)."""
    found = [labels.get(code) or "none" for code in towns["code"]]
    svg = svg_map(list(towns.geometry), [LABEL_COLOURS.get(label, LABEL_COLOURS["none"]) for label in found],
                  titles=list(towns["name"]))
    shown = [label for label in LABEL_COLOURS if label in set(found)]
    return Figure(svg, tuple((word(CLASSES, label), LABEL_COLOURS[label]) for label in shown))


def _projects(conn, period: Period) -> Section:
    found = projects(conn, today=period.last)
    if found.empty:
        return Section("projects", _("Projects"), [_("No remediation project is open.")], None)
    table = pd.DataFrame({
        "id": found["id"], "kind": found["kind"], "title": found["title"], "state": found["state"],
        "starts_on": found["starts_on"], "ends_on": found["ends_on"],
        "progress_pct": (100 * found["progress"].astype(float)).round(0), "verdict": found["verdict"],
        "did_pct": found["did_pct"].astype(float).round(1), "did_low": found["did_low"].astype(float).round(1),
        "did_high": found["did_high"].astype(float).round(1), "on_target": found["on_target"]})
    verdicts = table["verdict"].value_counts()
    lines = [_("{count} projects, {active} active; {verdicts}. The effect is a difference-in-differences against "
               "untreated neighbours, in percent, with its 95 % interval.").format(
        count=len(table), active=int((table["state"] == "active").sum()),
        verdicts=_(", ").join(f"{word(VERDICTS, v)} {verdicts[v]}" for v in verdicts.index))]
    table["kind"] = words(PROJECT_KINDS, table["kind"])
    table["state"] = words(PROJECT_STATES, table["state"])
    table["verdict"] = words(VERDICTS, table["verdict"])
    return Section("projects", _("Projects"), lines, table)


def _zone() -> ZoneInfo:
    # The city's zone: a report's days are the city's days, its times the city's wall time.
    return load_settings().city.zone
