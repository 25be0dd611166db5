"""Find the border cases among the stored complaints and keep them, one row per case.

A case is identified by its ``key``: the kind, the townships, the place and the problem.
Running the detection again (a later day, an overlapping period) adds the new complaints to
the cases already known, so a whistle call raised on a case keeps collecting its complaints.

- **near**: point complaints within ``distance_m`` of a shared line, grouped by the line, the
  stretch of it (``bucket_m`` long) and the category;
- **across**: complaints whose footprint lies in two townships or more, grouped by the cell
  of the footprint and the category (a complaint across a line is not also "near" it);
- **cluster**: dense groups of one theme within a ``window_days`` window with members on both
  sides (:func:`geo.detect.borders.straddling_clusters`), keyed by the theme, the townships and the
  resolution-8 cell at the group's median point;
- **pingpong**: complaints handed between neighbouring townships two times or more, one case
  each.

Cases use the current township boundaries: the question is whose problem it is now.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
import sqlalchemy as sa

from geo.detect.borders import BorderLines
from geo.detect.cases import KINDS, across_cases, cluster_cases, near_cases, ping_pong_cases, uncertainty_m
from geo.detect.filters_db import check_filter, check_period
from geo.detect.rules import BorderParams, detect_rules
from geo.errors import ValidationError
from geo.locate.jurisdictions_db import current_jurisdictions
from geo.settings import load_settings
from geo.store.bulk import copy_table, read_query
from geo.store.engine import Bind, transaction


@dataclass(frozen=True)
class BorderResult:
    """A stored border detection."""

    run_id: int
    cases: pd.DataFrame
    """``key, kind, townships, category, theme`` and ``complaints`` (found in this run)."""
    found: dict
    """Per kind: cases and complaints found in this run."""


Progress = Callable[[str], None]


def run_borders(bind: Bind, start: datetime, end: datetime, *, params: BorderParams | None = None,
                category: str | None = None, theme: str | None = None, lines: BorderLines | None = None,
                progress: Progress | None = None) -> BorderResult:
    """Find the four kinds of border case among the complaints of a period, and store them.

    Parameters
    ----------
    bind : Engine or Connection
        The database.
    start, end : datetime
        The period ``[start, end)`` of the complaints' received time, timezone-aware.
    params : BorderParams, optional
        The thresholds; the detect rules' ``[borders]`` when omitted.
    category, theme : str, optional
        Only complaints of this category, or of this theme.
    lines : BorderLines, optional
        The indexed shared lines (built from the current townships when omitted).
    progress : callable, optional
        Told the name of each step as it starts.

    Returns
    -------
    BorderResult
    """
    params = params or detect_rules().borders
    params.check()
    check_period(start, end, category, theme)
    tell = progress or (lambda _step: None)
    with transaction(bind) as conn:
        check_filter(conn, category, theme)
        towns = current_jurisdictions(conn, "township", display=False)
        if len(towns) < 2:
            raise ValidationError("border cases need at least two townships; load the boundaries first")
        if lines is None or lines.distance_m != params.distance_m:
            tell("indexing the shared lines")
            lines = BorderLines.build(towns, distance_m=params.distance_m, metric_crs=load_settings().metric_crs)
        _store_lines(conn, lines)
        tell("reading the complaints")
        frame = _read_complaints(conn, start, end, category, theme, params)
        tell("near the lines and across them")
        across = _across(conn, lines, start, end, category, theme)
        near = near_cases(lines, frame, params.bucket_m, skip=set(across["complaint_id"]))
        tell("clusters across the lines")
        clusters = cluster_cases(frame, start, end, params)
        tell("ping-pong between neighbours")
        pings = _ping_pong(conn, lines, start, end, category, theme, params)
        members = pd.concat([near, across, clusters, pings], ignore_index=True)
        districts = dict(zip(towns["code"], towns["parent_code"], strict=True))
        found = {kind: {"cases": int(members.loc[members["kind"] == kind, "key"].nunique()),
                        "complaints": int(members.loc[members["kind"] == kind, "complaint_id"].nunique())}
                 for kind in KINDS}
        tell("storing the cases")
        run_id, cases = _store(conn, start, end, params, category, theme, members, districts, found)
    return BorderResult(run_id, cases, found)


def _read_complaints(conn, start, end, category, theme, params: BorderParams) -> pd.DataFrame:
    """The point-precision complaints of the period (the near and cluster kinds use only them),
    each with its location's uncertainty."""
    frame = _read(conn, "c.lon, c.lat, c.h3, c.township_code, c.crs_orig, c.accuracy_m",
                  "c.precision = 'point' AND c.township_code IS NOT NULL",
                  {"lon": pa.float64(), "lat": pa.float64(), "h3": pa.int64(), "township_code": pa.string(),
                   "crs_orig": pa.string(), "accuracy_m": pa.float64()}, start, end, category, theme)
    return frame.assign(uncertainty_m=uncertainty_m(np.full(len(frame), "point", dtype=object),
                                                    frame["crs_orig"].to_numpy(dtype=object),
                                                    frame["accuracy_m"].to_numpy(dtype=float, na_value=np.nan),
                                                    params.uncertainty))


def _read(conn, columns: str, condition: str, types: dict, start, end, category, theme) -> pd.DataFrame:
    """Complaints of the period and filter: id, received time (µs), category, theme and ``columns``."""
    sql = ("SELECT c.id, (extract(epoch FROM c.received_at) * 1000000)::bigint AS received_us, c.category, "
           f"k.theme, {columns} FROM complaint c JOIN category k ON k.code = c.category "
           f"WHERE c.received_at >= %(start)s AND c.received_at < %(end)s AND {condition}"
           + (" AND c.category = %(category)s" if category else "") + (" AND k.theme = %(theme)s" if theme else ""))
    types = {"id": pa.int64(), "received_us": pa.int64(), "category": pa.string(), "theme": pa.string(), **types}
    return read_query(conn, sql, {"start": start, "end": end, "category": category, "theme": theme},
                      types=types).to_pandas()


def _across(conn, lines: BorderLines, start, end, category, theme) -> pd.DataFrame:
    table = _read(conn, "ST_AsText(c.footprint) AS footprint", "c.footprint IS NOT NULL",
                  {"footprint": pa.string()}, start, end, category, theme)
    return across_cases(lines, table)


def _ping_pong(conn, lines: BorderLines, start, end, category, theme, params: BorderParams) -> pd.DataFrame:
    rows = _read(conn, "c.dispatches::text AS dispatches", "c.returned_count >= 2", {"dispatches": pa.string()},
                 start, end, category, theme)
    return ping_pong_cases(lines, rows, params.min_handoffs, load_settings().timezone)


def _store(conn, start, end, params: BorderParams, category, theme, members: pd.DataFrame,
           districts: dict, found: dict) -> tuple[int, pd.DataFrame]:
    run_id = conn.execute(sa.text(
        "INSERT INTO border_run (period_start, period_end, params, found) "
        "VALUES (:s, :e, CAST(:p AS jsonb), CAST(:f AS jsonb)) RETURNING id"),
        {"s": start, "e": end, "p": json.dumps({**asdict(params), "category": category, "theme": theme}),
         "f": json.dumps(found)}).scalar_one()
    cases = (members.groupby("key", sort=True)
             .agg(kind=("kind", "first"), townships=("townships", "first"), category=("category", "first"),
                  theme=("theme", "first"), complaints=("complaint_id", "nunique"), last_us=("last_us", "max"))
             .reset_index())
    if cases.empty:
        return run_id, cases
    towns = cases["townships"].str.split("|")
    cases["districts"] = towns.map(lambda codes: "{" + ",".join(sorted({districts.get(c, "") for c in codes}
                                                                        - {""})) + "}")
    conn.exec_driver_sql(
        "CREATE TEMP TABLE border_case_stage (key text, kind text, townships text[], districts text[], "
        "category text, theme text, last_us bigint) ON COMMIT DROP")
    conn.exec_driver_sql(
        "CREATE TEMP TABLE border_link_stage (key text, complaint_id bigint, distance_m float8) ON COMMIT DROP")
    copy_table(conn, "border_case_stage", pa.Table.from_pandas(cases.assign(
        townships="{" + cases["townships"].str.replace("|", ",", regex=False) + "}")[
        ["key", "kind", "townships", "districts", "category", "theme", "last_us"]], preserve_index=False))
    links = members.sort_values("distance_m").drop_duplicates(["key", "complaint_id"])
    copy_table(conn, "border_link_stage", pa.Table.from_pandas(
        links[["key", "complaint_id", "distance_m"]], preserve_index=False))
    conn.execute(sa.text(
        "INSERT INTO border_case (key, kind, townships, districts, category, theme, first_run_id, last_run_id) "
        "SELECT key, kind, townships, districts, category, theme, :r, :r FROM border_case_stage "
        "ON CONFLICT (key) DO UPDATE SET last_run_id = EXCLUDED.last_run_id"), {"r": run_id})
    conn.exec_driver_sql(
        "INSERT INTO border_case_complaint (case_id, complaint_id, distance_m) "
        "SELECT b.id, l.complaint_id, l.distance_m FROM border_link_stage l JOIN border_case b USING (key) "
        "ON CONFLICT (case_id, complaint_id) DO UPDATE SET distance_m = EXCLUDED.distance_m")
    # The case's figures from all its complaints, not only this run's.
    conn.exec_driver_sql(
        "UPDATE border_case b SET complaints = a.n, first_seen = a.first_seen, "
        "last_seen = greatest(a.last_seen, to_timestamp(s.last_us / 1e6)), distance_m = a.distance_m, geom = a.geom "
        "FROM border_case_stage s, (SELECT l.case_id, count(*) AS n, min(c.received_at) AS first_seen, "
        "max(c.received_at) AS last_seen, min(l.distance_m) AS distance_m, "
        "ST_ConvexHull(ST_Collect(coalesce(c.footprint, c.geom))) AS geom "
        "FROM border_case_stage t JOIN border_case k ON k.key = t.key "
        "JOIN border_case_complaint l ON l.case_id = k.id JOIN complaint c ON c.id = l.complaint_id "
        "GROUP BY l.case_id) a WHERE b.id = a.case_id AND s.key = b.key")
    return run_id, cases.drop(columns=["last_us", "districts"])


def _store_lines(conn, lines: BorderLines) -> None:
    """Keep the shared lines of the current boundaries beside the cases, for the maps."""
    wgs = lines.lines.to_crs(4326)
    conn.exec_driver_sql("DELETE FROM border_line")
    table = pa.table({"a": wgs["a"].to_numpy(), "b": wgs["b"].to_numpy(), "length_m": wgs["length_m"].to_numpy(),
                      "geom": ["SRID=4326;" + w for w in shapely.to_wkt(wgs.geometry.values, rounding_precision=7)]})
    copy_table(conn, "border_line", table)


def border_cases(bind: Bind, *, kind: str | None = None, township: str | None = None) -> pd.DataFrame:
    """The stored cases, most recent first, optionally of one kind or involving one township.

    Returns
    -------
    pandas.DataFrame
        ``id, key, kind, townships, districts, category, theme, complaints, first_seen,
        last_seen, distance_m`` and the geometry as WKT (``wkt``).
    """
    if kind is not None and kind not in KINDS:
        raise ValidationError(f"kind {kind!r} is unknown; use one of {', '.join(KINDS)}")
    where, values = [], {}
    if kind:
        where.append("kind = :kind")
        values["kind"] = kind
    if township:
        where.append(":town = ANY(townships)")
        values["town"] = township
    sql = ("SELECT id, key, kind, townships, districts, category, theme, complaints, first_seen, last_seen, "
           "distance_m, ST_AsText(geom) AS wkt FROM border_case"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY last_seen DESC, id")
    with transaction(bind) as conn:
        return pd.DataFrame(conn.execute(sa.text(sql), values).mappings().all(),
                            columns=["id", "key", "kind", "townships", "districts", "category", "theme",
                                     "complaints", "first_seen", "last_seen", "distance_m", "wkt"])
