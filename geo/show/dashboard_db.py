"""What the app's pages read and write, each for the signed-in user through one access hook.

Every function that returns complaints or anything derived from them takes the
:class:`geo.act.users.User` who asks and starts with :func:`geo.show.access.restrict`; a street
office asking for another township gets :class:`geo.errors.AccessError`, so the rule holds in the
queries and not only in the pages. The pages read nothing else of the database (a test checks).
City-wide figures come from the tallies (``cell_day``, ``township_day``) and stored results (Gi*
and emerging runs, calls); raw complaints are read only for one township at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from geo.act.categories import categories
from geo.act.governance import COUNTS
from geo.act.governance_db import ranking
from geo.act.projects import ProjectSpec, base_cells
from geo.act.projects_db import ProjectDetail, create_project, project_detail, projects, set_task
from geo.act.reports import Report
from geo.act.reports_db import build_report
from geo.act.users import User
from geo.act.users_db import live_user
from geo.act.whistle import QueueFilter, whistle_rate
from geo.act.whistle_db import (
    CallDetail,
    addressed_sql,
    blow,
    call_detail,
    calls,
    check_in,
    close,
    dismiss,
    escalate,
    late_sql,
    replay_clock,
    resolve,
    whistle_month,
)
from geo.act.whistle_db import call_pairs as whistle_pairs  # the page's counts, under the access hook
from geo.clock import Clock, system_clock
from geo.detect.hotspots_db import CELL_PRECISIONS, count_rows
from geo.errors import AccessError, ValidationError, WhistleError
from geo.ingest.mapping import load_mapping
from geo.ingest.rejected_db import rejected_rows
from geo.ingest.summary import IngestSummary
from geo.ingest.upload import ingest_bounded
from geo.locate.cells import DEFAULT_RESOLUTION, cell_centres, cell_ring, cell_to_parent
from geo.locate.jurisdictions_db import boundary_sets, current_jurisdictions
from geo.settings import load_settings
from geo.show.access import restrict
from geo.store.clock_db import shared_clock
from geo.store.engine import Bind, transaction
from geo.store.tally import PERIOD, week_start, zone_params

MIN_RESOLUTION = 4
COMPLAINT_LIMIT = 2_000
"""The most complaints a township page lists at once (newest first)."""


@dataclass(frozen=True)
class Selection:
    """The sidebar's filters: a period of whole days (the city's) and a category or a theme."""

    first: date
    last: date
    category: str | None = None
    theme: str | None = None

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValidationError(f"the period ends ({self.last}) before it starts ({self.first})")
        if self.category and self.theme:
            raise ValidationError("filter by a category or by a theme, not both")

    @property
    def days(self) -> int:
        """How many days the period covers."""
        return (self.last - self.first).days + 1

    @property
    def filtered(self) -> bool:
        """Whether a category or a theme narrows the complaints."""
        return bool(self.category or self.theme)

    def whole_weeks(self) -> tuple[date, date]:
        """The Mondays of the first whole week inside the period and of the week after the last
        one: the whole weeks are ``start <= week < end``, the days before ``start`` and from
        ``end`` on are the rest. With no whole week both are the day after the period."""
        start, end = self.first + timedelta(days=-self.first.weekday() % 7), week_start(self.last + timedelta(days=1))
        if end <= start:
            return (self.last + timedelta(days=1),) * 2
        return start, end

    def before(self) -> Selection:
        """The period of the same length just before this one."""
        return Selection(self.first - timedelta(days=self.days), self.first - timedelta(days=1),
                         self.category, self.theme)


def data_days(bind: Bind, user: User) -> tuple[date, date] | None:
    """The first and last day of the daily tally (None when nothing is stored)."""
    restrict(user)
    with transaction(bind) as conn:
        first, last = conn.execute(sa.text("SELECT min(day), max(day) FROM township_day")).one()
    return None if first is None else (first, last)


_FILTER = ("(CAST(:category AS text) IS NULL OR category = :category) AND (CAST(:theme AS text) IS NULL "
           "OR category IN (SELECT code FROM category WHERE theme = :theme))")


def _params(selection: Selection, **extra) -> dict:
    return {"first": selection.first, "last": selection.last, "category": selection.category,
            "theme": selection.theme, **zone_params(), **extra}


# A period of every category reads its whole weeks from the weekly tally and only the days
# around them from the daily one: three months are 12 weekly rows a cell and a few daily ones.
# Each part is one range of a covering key: three index-only scans.
_CITY_CELLS = ("SELECT h3, volume FROM cell_week WHERE week >= :weeks_from AND week < :weeks_to UNION ALL "
               "SELECT h3, volume FROM cell_day WHERE day >= :first AND day < :weeks_from UNION ALL "
               "SELECT h3, volume FROM cell_day WHERE day >= :weeks_to AND day <= :last")
_CITY_FILTERED_CELLS = f"SELECT h3, volume FROM cell_day WHERE day BETWEEN :first AND :last AND {_FILTER}"


def parent_sql(column: str, resolution: int) -> str:
    """SQL for the ancestor at ``resolution`` of the H3 cells (int64) of a column or expression.

    The same as :func:`geo.locate.cells.cell_to_parent`, in the database: an H3 index keeps its
    resolution in bits 52-55 and one 3-bit digit per finer resolution below, 7 when unused.
    PostgreSQL gives every bit operator the same precedence, hence the parentheses.
    """
    if not isinstance(resolution, int) or not 0 <= resolution <= DEFAULT_RESOLUTION:
        raise ValidationError(f"resolution {resolution!r} must be an integer from 0 to {DEFAULT_RESOLUTION}")
    if resolution == DEFAULT_RESOLUTION:
        return column
    unused = (1 << (3 * (15 - resolution))) - 1
    return f"((({column}) & ~(15::bigint << 52)) | ({resolution}::bigint << 52) | {unused}::bigint)"


def cell_volumes(bind: Bind, user: User, selection: Selection, *, resolution: int,
                 township: str | None = None, max_cells: int | None = None) -> pd.DataFrame:
    """Complaints per H3 cell in the selection, at ``resolution`` (at most the base one).

    The city comes from the tallies (``cell_week`` for the whole weeks of a period of every
    category, ``cell_day`` for the rest); one township from its own complaints, so that a cell
    on its edge counts only that township's complaints. Cells are merged to ``resolution`` in
    the database.

    Parameters
    ----------
    resolution : int
        The resolution wanted, from :data:`MIN_RESOLUTION` to the base resolution.
    max_cells : int, optional
        When more cells than this hold complaints, the cells are merged into their parents,
        one resolution at a time, until they fit (a light page for a large selection).

    Returns
    -------
    pandas.DataFrame
        ``h3`` (int64) and ``volume``, largest first; ``attrs["resolution"]`` is the
        resolution the cells are at.
    """
    if not MIN_RESOLUTION <= resolution <= DEFAULT_RESOLUTION:
        raise ValidationError(f"resolution {resolution} must be from {MIN_RESOLUTION} to {DEFAULT_RESOLUTION}")
    town = restrict(user, township).township
    cell = parent_sql("h3", resolution)
    if town is None:
        cells = _CITY_FILTERED_CELLS if selection.filtered else _CITY_CELLS
        sql = f"SELECT {cell} AS h3, sum(volume) AS volume FROM ({cells}) AS c GROUP BY 1"
    else:
        sql = (f"SELECT {cell} AS h3, count(*) AS volume FROM complaint WHERE township_code = :town "
               f"AND h3 IS NOT NULL AND {PERIOD} AND {_FILTER} GROUP BY 1")
    weeks_from, weeks_to = selection.whole_weeks()
    with transaction(bind) as conn:
        frame = pd.read_sql(sa.text(sql), conn, params=_params(selection, town=town, weeks_from=weeks_from,
                                                              weeks_to=weeks_to))
    out = _coarsen(frame, resolution, resolution)
    while max_cells is not None and len(out) > max_cells and resolution > MIN_RESOLUTION:
        resolution -= 1
        out = _coarsen(out, resolution + 1, resolution)
    out.attrs["resolution"] = resolution
    return out


def _coarsen(frame: pd.DataFrame, resolution: int, wanted: int) -> pd.DataFrame:
    cells = frame["h3"].to_numpy(dtype=np.int64)
    if wanted < resolution and len(cells):
        cells = cell_to_parent(cells, wanted)
    out = (pd.DataFrame({"h3": cells, "volume": frame["volume"].to_numpy(dtype=np.int64)})
           .groupby("h3", as_index=False)["volume"].sum())
    return out.sort_values(["volume", "h3"], ascending=[False, True], ignore_index=True)


def period_counts(bind: Bind, user: User, selection: Selection, *, township: str | None = None) -> pd.DataFrame:
    """Per day and category, over the selection and the period before it: one scan of the tally.

    Returns
    -------
    pandas.DataFrame
        ``day, category``, the :data:`geo.act.governance.COUNTS` of the area (the city, or one
        township) and ``city_volume``; :func:`daily_counts` and :func:`category_volumes` read it.
    """
    town = restrict(user, township).township
    if town is None:
        sql = (f"SELECT day, category, {', '.join(COUNTS)}, volume AS city_volume FROM city_day "
               f"WHERE day BETWEEN :before AND :last AND {_FILTER} ORDER BY day, category")
    else:
        # Every day and category of the city, with the township's counts where it has some.
        own = ", ".join(f"t.{c}" for c in COUNTS)
        sql = (f"SELECT c.day, c.category, {own}, c.volume AS city_volume "
               f"FROM (SELECT day, category, volume FROM city_day WHERE day BETWEEN :before AND :last AND {_FILTER}) "
               "AS c LEFT JOIN township_day AS t ON t.day = c.day AND t.category = c.category "
               "AND t.township_code = :town ORDER BY c.day, c.category")
    with transaction(bind) as conn:
        frame = pd.read_sql(sa.text(sql), conn, params=_params(selection, town=town, before=selection.before().first))
        towns = conn.execute(sa.text("SELECT count(*) FROM jurisdiction WHERE level = 'township' "
                                     "AND valid_to IS NULL")).scalar()
    columns = [*COUNTS, "city_volume"]
    frame[columns] = frame[columns].fillna(0).astype(np.int64)
    frame.attrs["townships"] = int(towns) or 1
    return frame


def daily_counts(counts: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    """Per day of the selection: the counts behind the three rates, and the city's mean per township.

    Parameters
    ----------
    counts : pandas.DataFrame
        From :func:`period_counts`.

    Returns
    -------
    pandas.DataFrame
        ``day``, the :data:`geo.act.governance.COUNTS` and ``city_per_township`` (the city's
        volume over its townships), so that one township's trend reads against the city's.
    """
    inside = counts[(counts["day"] >= selection.first) & (counts["day"] <= selection.last)]
    daily = inside.groupby("day", as_index=False)[[*COUNTS, "city_volume"]].sum()
    daily["city_per_township"] = daily.pop("city_volume") / counts.attrs.get("townships", 1)
    return daily


def category_volumes(counts: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    """Complaints per category in the selection and in the period before, most first.

    Returns
    -------
    pandas.DataFrame
        ``category, name, theme, volume, before, change_pct``.
    """
    now = counts["day"] >= selection.first
    frame = pd.DataFrame({"volume": counts[now].groupby("category")["volume"].sum(),
                          "before": counts[~now].groupby("category")["volume"].sum()}).fillna(0).astype(np.int64)
    frame = frame[(frame["volume"] > 0) | (frame["before"] > 0)].reset_index(names="category")
    known = categories()
    frame.insert(1, "name", [known[c].name_en if c in known else c for c in frame["category"]])
    frame.insert(2, "theme", [known[c].theme if c in known else "" for c in frame["category"]])
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["change_pct"] = np.where(frame["before"] > 0, 100 * (frame["volume"] / frame["before"] - 1), np.nan)
    return frame.sort_values(["volume", "category"], ascending=[False, True], ignore_index=True)


def latest_run(bind: Bind, user: User, kind: str) -> dict | None:
    """The newest city-wide Gi* (``"gi"``) or emerging (``"emerging"``) run with no filter (its
    period and parameters; its cells come from :func:`hotspot_cells`)."""
    restrict(user)
    if kind not in ("gi", "emerging"):
        raise ValidationError(f"unknown run kind {kind!r}; use gi or emerging")
    with transaction(bind) as conn:
        row = conn.execute(sa.text(
            "SELECT * FROM hotspot_run WHERE kind = :kind AND category IS NULL AND theme IS NULL "
            "ORDER BY id DESC LIMIT 1"), {"kind": kind}).mappings().first()
    return None if row is None else dict(row)


def hotspot_cells(bind: Bind, user: User, run_id: int, *, township: str | None = None,
                  significant_only: bool = True) -> pd.DataFrame:
    """The cells of a stored Gi* or emerging run, for the city or around one township.

    For a township, the cells whose centre lies in its polygon (``inside``) and the ring of
    cells around them (``inside`` false). A cell on the line holds complaints of both sides,
    and its z-score is computed from its neighbours' complaints too: so for a township the
    counts are the township's own complaints in the run's period (in the ring too), and z, p
    and the trend's z are withheld from a user who is not city-wide. The cells keep the
    city's finding (confidence bin, pattern), which is about the place.

    Returns
    -------
    pandas.DataFrame
        ``h3, count, z, p, bin, pattern, trend_z, inside``.
    """
    town = restrict(user, township).township
    where = "run_id = :run" + (" AND (significant OR coalesce(pattern, 'no pattern') <> 'no pattern')"
                               if significant_only and town is None else "")
    with transaction(bind) as conn:
        frame = pd.read_sql(sa.text(f"SELECT h3, count, z, p, bin, pattern, trend_z FROM hotspot_cell WHERE {where}"),
                            conn, params={"run": run_id})
        if town is None:
            return frame.assign(inside=True)
        polygon = _township_polygon(conn, town)
        own = _own_cell_counts(conn, run_id, town)
    cells = frame["h3"].to_numpy(dtype=np.int64)
    inside = shapely.contains_xy(polygon, *cell_centres(cells))
    keep = inside | np.isin(cells, cell_ring(cells[inside]))
    out = frame[keep].assign(inside=inside[keep]).reset_index(drop=True)
    out["count"] = out["h3"].map(own).fillna(0).astype(np.int64)
    if not user.city_wide:
        out[["z", "p", "trend_z"]] = np.nan
    if significant_only:
        out = out[(out["bin"] != 0) | ~out["pattern"].fillna("no pattern").eq("no pattern")]
    return out.reset_index(drop=True)


def hotspot_categories(bind: Bind, user: User, run_id: int, cells: list[int], *, township: str | None = None,
                       most: int = 2) -> dict[int, list[str]]:
    """The commonest categories of each cell's complaints in the run's period (a township's own
    complaints when one is asked, and always for a street office), most first."""
    town = restrict(user, township).township
    if not cells:
        return {}
    with transaction(bind) as conn:
        run = conn.execute(sa.text("SELECT period_start, period_end, resolution FROM hotspot_run WHERE id = :run"),
                           {"run": run_id}).mappings().one()
        resolution = int(run["resolution"])
        rows = conn.execute(sa.text(
            f"SELECT {parent_sql('c.h3', resolution)} AS cell, c.category, count(*) AS n FROM complaint c "
            "WHERE c.received_at >= :start AND c.received_at < :end AND c.precision = ANY(:precisions) "
            f"AND {parent_sql('c.h3', resolution)} = ANY(:cells) "
            "AND (CAST(:town AS text) IS NULL OR c.township_code = :town) GROUP BY 1, 2"),
            {"start": run["period_start"], "end": run["period_end"], "precisions": list(CELL_PRECISIONS),
             "cells": [int(c) for c in cells], "town": town}).all()
    found = pd.DataFrame(rows, columns=["cell", "category", "n"]).sort_values(["cell", "n", "category"],
                                                                              ascending=[True, False, True])
    return {int(cell): group["category"].head(most).tolist() for cell, group in found.groupby("cell")}


def _own_cell_counts(conn, run_id: int, town: str) -> pd.Series:
    """A township's own complaints per cell of a run, counted as the run counted (its period,
    filter and precisions)."""
    run = conn.execute(sa.text("SELECT period_start, period_end, resolution, category, theme FROM hotspot_run "
                               "WHERE id = :run"), {"run": run_id}).mappings().one()
    found = count_rows(conn, run["period_start"], run["period_end"], run["category"], run["theme"], township=town)
    resolution = int(run["resolution"])
    if resolution != DEFAULT_RESOLUTION and len(found):
        found = found.assign(h3=cell_to_parent(found["h3"].to_numpy(), resolution))
    return found.groupby("h3")["n"].sum()


def township_complaints(bind: Bind, user: User, township: str, selection: Selection, *,
                        limit: int = COMPLAINT_LIMIT) -> pd.DataFrame:
    """One township's complaints in the selection, newest first, with the phone masked.

    Returns
    -------
    pandas.DataFrame
        ``source_id, received_at, category, precision, address, phone, text, lon, lat``.
    """
    town = restrict(user, township).township
    if town is None:
        raise ValidationError("name the township whose complaints to list")
    sql = ("SELECT source_id, received_at, category, precision, address, phone_masked AS phone, text, lon, lat "
           f"FROM complaint WHERE township_code = :town AND {PERIOD} "
           f"AND {_FILTER} ORDER BY received_at DESC, id DESC LIMIT :limit")
    with transaction(bind) as conn:
        return pd.read_sql(sa.text(sql), conn, params=_params(selection, town=town, limit=limit))


def call_queue(bind: Bind, user: User, *, now, state: str | None = None, limit: int = 500, offset: int = 0,
               where: QueueFilter | None = None) -> pd.DataFrame:
    """The whistle calls the user may see, most urgent first (see :func:`geo.act.whistle_db.calls`):
    a street office's own calls, those it has not answered first."""
    return calls(bind, now=now, state=state, organisation=restrict(user).organisation_id, limit=limit,
                 offset=offset, where=where)


def call_pairs(bind: Bind, user: User, *, now: datetime, where: QueueFilter | None = None) -> pd.DataFrame:
    """The calls the user may see that ``where`` matches, grouped by the townships they lie between:
    ``townships`` (codes), ``calls``, ``emergencies``, ``late`` (calls with a late addressee)."""
    return whistle_pairs(bind, now=now, organisation=restrict(user).organisation_id, where=where)


def call_for(bind: Bind, user: User, call_id: int) -> CallDetail:
    """One call, if the user may see it: a street office only the calls addressed to it, with
    every complaint of the call, on whichever side of the line it lies (phones masked); it sees
    no other complaint of the other township.

    Raises
    ------
    AccessError
        When a street office opens a call that is not addressed to it.
    """
    scope = restrict(user)
    detail = call_detail(bind, call_id)
    detail = CallDetail(detail.call, detail.addressees,
                        detail.complaints.rename(columns={"phone_masked": "phone"}), detail.events)
    if scope.organisation_id is not None and scope.organisation_id not in set(detail.addressees["organisation_id"]):
        raise AccessError(f"call {call_id} is not addressed to {_office(user)}")
    return detail


def _office(user: User) -> str:
    """A street office in an error message: its name and its townships."""
    return f"{user.organisation or user.username} (the office of township {', '.join(user.townships)})"


def shared_lines(bind: Bind, townships: list[str]) -> gpd.GeoDataFrame:
    """The lines that the given townships share with one another (WGS84)."""
    with transaction(bind) as conn:
        return gpd.read_postgis(sa.text(
            "SELECT a, b, length_m, geom FROM border_line WHERE a = ANY(:t) AND b = ANY(:t) ORDER BY a, b"),
            conn, geom_col="geom", params={"t": list(townships)})


def _township_polygon(conn, code: str) -> shapely.Geometry:
    """The township's exact current polygon: the one complaints were located in, not its display outline."""
    wkb = conn.execute(sa.text(
        "SELECT ST_AsBinary(geom) FROM jurisdiction WHERE code = :t AND level = 'township' AND valid_to IS NULL"),
        {"t": code}).scalar()
    if wkb is None:
        raise ValidationError(f"township {code} is unknown")
    return shapely.from_wkb(bytes(wkb))


def open_proactive_project(bind: Bind, user: User, township: str, spec: ProjectSpec, *, now: datetime) -> int:
    """Open a proactive project on hot-spot cells of a township the user answers for.

    Every cell's centre must lie in the township, so that a street office cannot open a
    project on its neighbour's ground; of a coarse cell, the project keeps the base cells
    centred in the township, so that it names no neighbour's office and the neighbour sees
    nothing of it. Returns the project's id.

    Raises
    ------
    AccessError
        When a street office names another township.
    ValidationError
        When the project is not proactive, has no cells, or a cell lies outside the township
        (and for anything :func:`geo.act.projects_db.create_project` refuses).
    """
    user = _acting(bind, user)
    scope = restrict(user, township)
    town = scope.township
    if town is None:
        raise ValidationError("name the township the project is for")
    if spec.kind != "proactive" or not spec.cells:
        raise ValidationError("a proactive project from a hot spot targets H3 cells")
    lon, lat = cell_centres(np.asarray(spec.cells, dtype=np.int64))
    with transaction(bind) as conn:
        polygon = _township_polygon(conn, town)
        outside = ~shapely.contains_xy(polygon, lon, lat)
        if outside.any():
            raise ValidationError(f"cell {int(np.asarray(spec.cells)[outside][0]):x} is not in township {town}")
        base = np.asarray(base_cells(spec.cells), dtype=np.int64)
        own = base[shapely.contains_xy(polygon, *cell_centres(base))]
        return create_project(conn, replace(spec, cells=own.tolist()), actor=user.username, now=now,
                              owner=scope.organisation_id)


def open_city_project(bind: Bind, user: User, spec: ProjectSpec, *, now: datetime) -> int:
    """Open a problem of the month (每月一题) or a governance plan: a city-wide user's act (a street
    office opens proactive projects on its own hot spots). Returns the project's id.

    Raises
    ------
    AccessError
        For a street office.
    ValidationError
        For a proactive project (those start from a hot spot), and whatever
        :func:`geo.act.projects_db.create_project` refuses.
    """
    user = _acting(bind, user)
    restrict(user, city_wide=True)
    if spec.kind == "proactive":
        raise ValidationError("a proactive project starts from a hot spot on the township page")
    return create_project(bind, spec, actor=user.username, now=now)


def _acting(bind: Bind, user: User) -> User:
    """The user as stored now, for an action: one disabled, deleted or changed since signing in
    may not act (the page re-checks on every run; an action re-checks on its own)."""
    fresh = live_user(bind, user)
    if fresh is None:
        raise AccessError(f"{user.username} is no longer an active user with this role and organisation; "
                          "sign in again")
    return fresh


def call_places(bind: Bind, user: User, call_ids: list[int]) -> gpd.GeoDataFrame:
    """Where each of the given calls is: its border case's geometry (WGS84), for the calls the user may see."""
    org = restrict(user).organisation_id
    with transaction(bind) as conn:
        return gpd.read_postgis(sa.text(
            f"SELECT c.id, b.geom FROM whistle_call c JOIN border_case b ON b.id = c.case_id "
            f"WHERE c.id = ANY(:ids) AND b.geom IS NOT NULL AND {addressed_sql(':org')} ORDER BY c.id"),
            conn, geom_col="geom", params={"ids": [int(i) for i in call_ids], "org": org})


def project_list(bind: Bind, user: User, *, today: date) -> pd.DataFrame:
    """The projects the user may see (a street office: those its organisation owns or is named in),
    with progress and effect."""
    return projects(bind, today=today, organisation=restrict(user).organisation_id)


def project_for(bind: Bind, user: User, project_id: int, *, today: date) -> ProjectDetail:
    """One project, if the user may see it.

    Raises
    ------
    AccessError
        When a street office opens a project that is not on its township.
    """
    if not restrict(user).city_wide and project_id not in set(project_list(bind, user, today=today)["id"]):
        raise AccessError(f"project {project_id} is not a project of {_office(user)}")
    return project_detail(bind, project_id)


def tick_task(bind: Bind, user: User, project_id: int, task_id: int, *, done: bool, now: datetime,
              expected_version: int | None = None) -> None:
    """Tick a task of a project the user may see off (or back on)."""
    user = _acting(bind, user)
    detail = project_for(bind, user, project_id, today=load_settings().city.day_of(now))
    if task_id not in set(detail.tasks["id"]):
        raise ValidationError(f"task {task_id} is not a task of project {project_id}")
    set_task(bind, task_id, done=done, actor=user.username, now=now, expected_version=expected_version)


def call_counts(bind: Bind, user: User, *, now: datetime) -> dict[str, int]:
    """How many calls the user may see are open, open emergencies, and open with a late addressee."""
    org = restrict(user).organisation_id
    with transaction(bind) as conn:
        row = conn.execute(sa.text(f"""
            SELECT count(*) AS open,
                   count(*) FILTER (WHERE c.kind = 'emergency') AS emergencies,
                   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM whistle_addressee a WHERE a.call_id = c.id
                                                  AND {late_sql(':now')})) AS late
            FROM whistle_call c WHERE c.state = 'raised' AND {addressed_sql(':org')}"""),
            {"now": now, "org": org}).mappings().one()
    return {key: int(value) for key, value in row.items()}


def call_badge(bind: Bind, user: User, *, now: datetime) -> dict[str, int]:
    """What waits for the user's office, for the badge on every page: ``unanswered`` (raised calls
    where its addressee has not reported), ``late`` (those past their deadline) and ``proposed``
    (whistles proposed to it, not blown yet). For a city-wide user: the whole city's."""
    org = restrict(user).organisation_id
    with transaction(bind) as conn:
        row = conn.execute(sa.text(f"""
            SELECT count(DISTINCT c.id) FILTER (WHERE c.state = 'raised' AND a.state = 'pending') AS unanswered,
                   count(DISTINCT c.id) FILTER (WHERE c.state = 'raised' AND {late_sql(':now')}) AS late,
                   count(DISTINCT c.id) FILTER (WHERE c.state = 'proposed') AS proposed
            FROM whistle_call c JOIN whistle_addressee a ON a.call_id = c.id
            WHERE c.state IN ('raised', 'proposed')
              AND (CAST(:org AS integer) IS NULL OR a.organisation_id = :org)"""),
            {"now": now, "org": org}).mappings().one()
    return {key: int(value) for key, value in row.items()}


def ranking_for(bind: Bind, user: User, month: date | None = None) -> pd.DataFrame:
    """A month's ranking (the last classified one by default); a street office gets the rows of its
    own townships, ranks included (its place among the others, not theirs)."""
    scope = restrict(user)
    ranked = ranking(bind, month)
    # How many were ranked and classified: "3rd of 334" stays true in a street office's one row.
    ranked = ranked.assign(ranked_count=int(ranked["composite_rank"].notna().sum()), township_count=len(ranked))
    ranked = _with_whistles(bind, ranked)
    if scope.organisation_id is not None:
        ranked = ranked[ranked["township_code"].isin(user.townships)].reset_index(drop=True)
    return ranked


def _with_whistles(bind: Bind, ranked: pd.DataFrame) -> pd.DataFrame:
    """The ranking's month's whistles per township and their rate per 1,000 complaints."""
    if ranked.empty:
        return ranked.assign(whistles=pd.Series(dtype=int), proposed=pd.Series(dtype=int),
                             dismissed=pd.Series(dtype=int), whistle_rate=pd.Series(dtype=float))
    zone = load_settings().city.zone
    first = pd.Timestamp(ranked["month"].iloc[0]).tz_localize(zone)
    counts = whistle_month(bind, first.to_pydatetime(), (first + pd.DateOffset(months=1)).to_pydatetime())
    out = ranked.merge(counts, on="township_code", how="left")
    out[["whistles", "proposed", "dismissed"]] = out[["whistles", "proposed", "dismissed"]].fillna(0).astype(int)
    return out.assign(whistle_rate=whistle_rate(out["whistles"], out["volume"]))


def ingest_runs(bind: Bind, user: User) -> pd.DataFrame:
    """The ingest runs, newest first (city-wide users only)."""
    restrict(user, city_wide=True)
    with transaction(bind) as conn:
        return pd.read_sql(sa.text(
            "SELECT id, source, started_at, finished_at, rows, inserted, updated, unchanged, rejected "
            "FROM ingest_run ORDER BY id DESC"), conn)


def rejected_for(bind: Bind, user: User, *, limit: int = 5_000) -> pd.DataFrame:
    """The rejected rows still waiting to be fixed, newest first (city-wide users only)."""
    restrict(user, city_wide=True)
    return rejected_rows(bind, limit=limit)


def ingest_for(bind: Bind, user: User, path: Path, *, crs: str | None = "wgs84", encoding: str = "utf-8",
               mapping: Path | None = None) -> IngestSummary:
    """Ingest an upload on behalf of a city-wide user, in a bounded process of its own.

    The file is read outside this process, under the ``WHISTLE_UPLOAD_*`` limits
    (:mod:`geo.ingest.upload`): a file that would expand without bound costs the app server
    nothing, and the user gets one sentence. A mapping file (``mapping``) is checked here first,
    so that a wrong one is named before anything starts.
    """
    restrict(_acting(bind, user), city_wide=True)
    if mapping is not None:
        load_mapping(mapping)
    engine = bind if isinstance(bind, sa.Engine) else bind.engine
    done = ingest_bounded(engine.url.render_as_string(hide_password=False), Path(path), crs=crs,
                          encoding=encoding, limits=load_settings().upload_limits, mapping=mapping)
    counts = {k: v for k, v in done.items() if k not in ("run_id", "source")}
    counts.update(rejected_by_reason=Counter(counts["rejected_by_reason"]), precision=Counter(counts["precision"]),
                  unmapped=Counter(counts.get("unmapped") or {}))
    return IngestSummary(done["run_id"], done["source"], **counts)


def report_for(bind: Bind, user: User, kind: str, day: date, *, now: datetime) -> Report:
    """A daily, weekly or monthly report of the whole city (city-wide users only)."""
    restrict(user, city_wide=True)
    return build_report(bind, kind, day, now=now)


CALL_ACTIONS = ("check in", "done", "resolve", "escalate", "close", "blow", "dismiss")
"""What a user does to a call: an addressee checks in or reports its part done (a street office
for its own addressees); a coordinator also resolves, escalates and closes; a proposed whistle is
blown or dismissed by a street office it names, or by a coordinator."""


def act_on_call(bind: Bind, user: User, call_id: int, action: str, *, now: datetime,
                addressee: str | Sequence[str] | None = None, done: bool = False, note: str | None = None,
                expected_version: int | None = None, kind: str | None = None) -> int:
    """Take one of :data:`CALL_ACTIONS` on a call as ``user``; the call's new version.

    ``addressee`` names who checks in or reports done (a code, or several at once); None is every
    addressee the user answers for that has not got there yet. ``done`` with ``"check in"`` is
    ``"done"``. Blowing a proposal: ``addressee`` is whom it summons, ``kind`` the kind it is blown as.

    Raises
    ------
    AccessError
        When the user may not take the action on this call, or for that addressee.
    """
    user = _acting(bind, user)
    scope = restrict(user)
    common = {"actor": user.username, "now": now, "note": note, "expected_version": expected_version}
    if action not in CALL_ACTIONS:
        raise ValidationError(f"unknown action {action!r}; use {', '.join(CALL_ACTIONS)}")
    if action in ("check in", "done"):
        done = done or action == "done"
        own = call_for(bind, user, call_id).addressees
        if scope.organisation_id is not None:
            own = own[own["organisation_id"] == scope.organisation_id]
        if addressee is None:
            codes = own[own["state"].isin(("pending",) if not done else ("pending", "reported"))]["code"].tolist()
            if not codes:
                raise ValidationError(f"call {call_id} has no addressee of {user.username}'s left to "
                                      + ("report done" if done else "check in"))
        else:
            codes = [addressee] if isinstance(addressee, str) else list(addressee)
        strangers = [c for c in codes if c not in set(own["code"])]
        if strangers:
            raise AccessError(f"{', '.join(map(repr, strangers))} is not an addressee of call {call_id} that "
                              f"{user.username} answers for")
        return check_in(bind, call_id, codes, done=done, **common)
    if action in ("blow", "dismiss"):
        call_for(bind, user, call_id)  # a street office blows only a whistle that names it
        if action == "dismiss":
            if not note:
                raise ValidationError(f"say why call {call_id} is dismissed: a reason is kept with the event")
            return dismiss(bind, call_id, actor=user.username, now=now, reason=note,
                           expected_version=expected_version)
        return blow(bind, call_id, kind=kind, addressees=None if addressee is None else (
            [addressee] if isinstance(addressee, str) else list(addressee)), **common)
    if not scope.city_wide:
        raise AccessError(f"{user.username} may check in for its office; {action} is for the coordinators")
    moves = {"resolve": resolve, "escalate": escalate, "close": close}
    return moves[action](bind, call_id, **common)


@dataclass(frozen=True)
class Outcome:
    """What one call of a bulk action came to: its new version, or the refusal."""

    call_id: int
    version: int | None = None
    refusal: WhistleError | None = None


def act_on_calls(bind: Bind, user: User, call_ids: Sequence[int], action: str, *, now: datetime,
                 note: str | None = None) -> list[Outcome]:
    """Take one action on several calls, each in its own transaction, as ``user``.

    A call that refuses (its state, the user's access, someone acting at the same moment) keeps
    its refusal in its :class:`Outcome` and stops none of the others. Checking in and reporting
    done are for every addressee of each call that the user answers for.
    """
    ids = list(dict.fromkeys(int(i) for i in call_ids))
    if not ids:
        raise ValidationError("choose the calls to act on")
    restrict(user)
    outcomes = []
    for call_id in ids:
        try:
            outcomes.append(Outcome(call_id, version=act_on_call(bind, user, call_id, action, now=now, note=note)))
        except WhistleError as exc:
            outcomes.append(Outcome(call_id, refusal=exc))
    return outcomes


def jurisdictions(bind: Bind, level: str, *, display: bool = True) -> gpd.GeoDataFrame:
    """The current districts or townships (public boundary data: no complaint is in it)."""
    return current_jurisdictions(bind, level, display=display)


def boundary_set_list(bind: Bind) -> pd.DataFrame:
    """Every boundary set with its period and source (public boundary data)."""
    return boundary_sets(bind)


def app_clock(bind: Bind, mode: str) -> Clock:
    """The app's clock: the platform's shared clock when a replay set it (:mod:`geo.store.clock_db`);
    otherwise the wall clock (``system``), or a replay from the newest complaint (``data``; the
    wall clock while nothing is stored)."""
    fallback = system_clock
    if mode == "data":
        with suppress(ValidationError):  # nothing stored yet: nothing to replay
            fallback = replay_clock(bind)
    return shared_clock(bind, fallback=fallback)
