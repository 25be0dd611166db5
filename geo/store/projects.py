"""Remediation projects in PostGIS: create, change, tick off tasks, and measure effects.

Every change is a ``project_event`` with who and when, and bumps the project's version; an
action that names the version it was shown is refused if someone changed the project since.
:func:`effects` measures many projects at once with two queries: the daily tallies for
township projects, the complaints' H3 index for cell projects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
import shapely
import sqlalchemy as sa

from geo.categories import categories, departments
from geo.errors import ValidationError
from geo.projects import (
    Effect,
    EffectRules,
    ProjectSpec,
    check_spec,
    check_targets,
    check_task,
    clean_text,
    effect,
    half_month,
    next_half_month,
    progress,
    ring_cells,
)
from geo.store.engine import Bind, lock_versioned, transaction
from geo.store.tally import LOCAL_DAY

PROJECT_COLUMNS = ("id, kind, title, lead_department, partners, townships, cells, categories, starts_on, ends_on, "
                   "targets, created_by, created_at, version, ST_AsGeoJSON(area) AS area")
CHANGEABLE = ("title", "ends_on", "targets", "partners")


@dataclass
class ProjectDetail:
    """One project with its tasks, events and effect."""

    project: dict
    tasks: pd.DataFrame
    events: pd.DataFrame
    effect: Effect


def create_project(bind: Bind, spec: ProjectSpec, *, actor: str, now: datetime) -> int:
    """Validate and store a project with its tasks; return its id.

    Raises
    ------
    ValidationError
        For anything :func:`geo.projects.check_spec` refuses.
    """
    actor = clean_text(actor, "actor", 100)
    with transaction(bind) as conn:
        towns = conn.execute(sa.text(
            "SELECT code FROM jurisdiction WHERE level = 'township' AND valid_to IS NULL")).scalars().all()
        spec = check_spec(spec, townships=towns, categories=categories(), departments=departments())
        area = None if spec.area is None else shapely.MultiPolygon(
            [spec.area] if isinstance(spec.area, shapely.Polygon) else spec.area.geoms).wkt
        project_id = conn.execute(sa.text(
            "INSERT INTO project (kind, title, lead_department, partners, townships, cells, area, categories, "
            "starts_on, ends_on, targets, created_by, created_at) VALUES (:kind, :title, :lead, :partners, "
            ":townships, :cells, ST_GeomFromText(:area, 4326), :categories, :starts, :ends, "
            "CAST(:targets AS jsonb), :actor, :now) RETURNING id"),
            {"kind": spec.kind, "title": spec.title, "lead": spec.lead_department, "partners": spec.partners,
             "townships": spec.townships, "cells": spec.cells, "area": area, "categories": spec.categories,
             "starts": spec.starts_on, "ends": spec.ends_on, "targets": _json(spec.targets), "actor": actor,
             "now": now}).scalar_one()
        _event(conn, project_id, None, now, actor, "created", spec.title)
        for task in spec.tasks:
            _insert_task(conn, project_id, task, now, actor)
    return int(project_id)


def _json(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _event(conn, project_id: int, task_id: int | None, now: datetime, actor: str, action: str,
           note: str | None) -> None:
    conn.execute(sa.text("INSERT INTO project_event (project_id, task_id, at, actor, action, note) "
                         "VALUES (:p, :t, :at, :actor, :action, :note)"),
                 {"p": project_id, "t": task_id, "at": now, "actor": actor, "action": action, "note": note})


def _insert_task(conn, project_id: int, task: dict, now: datetime, actor: str) -> int:
    task_id = conn.execute(sa.text(
        "INSERT INTO project_task (project_id, title, owner, due_on) VALUES (:p, :title, :owner, :due) "
        "RETURNING id"), {"p": project_id, **task, "due": task["due_on"]}).scalar_one()
    _event(conn, project_id, task_id, now, actor, "task added", task["title"])
    return int(task_id)


def _lock(conn, project_id: int, expected_version: int | None) -> None:
    lock_versioned(conn, "project", project_id, expected_version, "project")
    conn.execute(sa.text("UPDATE project SET version = version + 1 WHERE id = :id"), {"id": project_id})


def add_task(bind: Bind, project_id: int, task: dict, *, actor: str, now: datetime,
             expected_version: int | None = None) -> int:
    """Add a task (``title``, ``owner``, ``due_on``) to a project; return its id."""
    actor, task = clean_text(actor, "actor", 100), check_task(task)
    with transaction(bind) as conn:
        _lock(conn, project_id, expected_version)
        return _insert_task(conn, project_id, task, now, actor)


def set_task(bind: Bind, task_id: int, *, done: bool, actor: str, now: datetime,
             expected_version: int | None = None) -> None:
    """Tick a task off (``done=True``) or back on; ticking twice is refused."""
    actor = clean_text(actor, "actor", 100)
    with transaction(bind) as conn:
        row = conn.execute(sa.text("SELECT project_id, done_at FROM project_task WHERE id = :id"),
                           {"id": task_id}).mappings().first()
        if row is None:
            raise ValidationError(f"there is no task {task_id}")
        _lock(conn, row["project_id"], expected_version)
        if (row["done_at"] is not None) == done:
            raise ValidationError(f"task {task_id} is already {'done' if done else 'open'}")
        conn.execute(sa.text("UPDATE project_task SET done_at = :at, done_by = :by WHERE id = :id"),
                     {"at": now if done else None, "by": actor if done else None, "id": task_id})
        _event(conn, row["project_id"], task_id, now, actor, "task done" if done else "task reopened", None)


def update_project(bind: Bind, project_id: int, *, actor: str, now: datetime, note: str | None = None,
                   expected_version: int | None = None, **changes) -> int:
    """Change a project's title, end date, targets or partners; return the new version."""
    actor = clean_text(actor, "actor", 100)
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown or not changes:
        raise ValidationError(f"a project's {', '.join(CHANGEABLE)} can change (not {unknown or 'nothing'})")
    values = dict(changes)
    if "title" in values:
        values["title"] = clean_text(values["title"], "title", 200)
    if "targets" in values:
        values["targets"] = _json(check_targets(values["targets"]))
    if "partners" in values:
        known = departments()
        bad = [p for p in values["partners"] if p not in known]
        if bad:
            raise ValidationError(f"department {bad[0]!r} is unknown")
        values["partners"] = sorted(set(values["partners"]))
    with transaction(bind) as conn:
        _lock(conn, project_id, expected_version)
        starts = conn.execute(sa.text("SELECT starts_on FROM project WHERE id = :id"), {"id": project_id}).scalar()
        if "ends_on" in values and values["ends_on"] <= starts:
            raise ValidationError(f"the project must end after it starts ({starts})")
        sets = ", ".join(f"{k} = CAST(:{k} AS jsonb)" if k == "targets" else f"{k} = :{k}" for k in values)
        conn.execute(sa.text(f"UPDATE project SET {sets} WHERE id = :id"), {**values, "id": project_id})
        _event(conn, project_id, None, now, actor, "updated", note or ", ".join(sorted(values)))
        return int(conn.execute(sa.text("SELECT version FROM project WHERE id = :id"),
                                {"id": project_id}).scalar_one())


def projects(bind: Bind, *, today: date, township: str | None = None, kind: str | None = None,
             with_effect: bool = True) -> pd.DataFrame:
    """Projects with task progress, state and (by default) effect, newest start first.

    ``township`` keeps the projects that target it, by code or by a cell inside it.
    """
    with transaction(bind) as conn:
        frame = pd.read_sql(sa.text(
            f"SELECT {PROJECT_COLUMNS}, (SELECT count(*) FROM project_task t WHERE t.project_id = p.id) AS tasks, "
            "(SELECT count(*) FROM project_task t WHERE t.project_id = p.id AND t.done_at IS NOT NULL) AS done "
            "FROM project p WHERE (CAST(:kind AS text) IS NULL OR kind = :kind) AND (CAST(:town AS text) IS NULL "
            "OR :town = ANY(townships) OR EXISTS (SELECT 1 FROM jurisdiction j WHERE j.code = :town "
            "AND j.level = 'township' AND j.valid_to IS NULL AND ST_Intersects(j.geom, p.area)) "
            "OR EXISTS (SELECT 1 FROM complaint c WHERE c.h3 = ANY(p.cells) AND c.township_code = :town)) "
            "ORDER BY starts_on DESC, id DESC"), conn, params={"kind": kind, "town": township})
        frame["progress"] = [progress(d, t) for d, t in zip(frame["done"], frame["tasks"], strict=True)]
        frame["state"] = ["planned" if s > today else "active" if e >= today else "ended"
                          for s, e in zip(frame["starts_on"], frame["ends_on"], strict=True)]
        if with_effect:
            found = _effects(conn, frame, EffectRules.load())
            for name in ("verdict", "did_pct", "did_low", "did_high", "change_pct", "on_target"):
                frame[name] = [getattr(found[i], name) for i in frame["id"]]
    return frame


def project_detail(bind: Bind, project_id: int) -> ProjectDetail:
    """A project with its tasks, events (newest first) and effect."""
    with transaction(bind) as conn:
        frame = pd.read_sql(sa.text(f"SELECT {PROJECT_COLUMNS} FROM project p WHERE id = :id"), conn,
                            params={"id": project_id})
        if frame.empty:
            raise ValidationError(f"there is no project {project_id}")
        tasks = pd.read_sql(sa.text("SELECT * FROM project_task WHERE project_id = :id ORDER BY due_on, id"), conn,
                            params={"id": project_id})
        events = pd.read_sql(sa.text("SELECT * FROM project_event WHERE project_id = :id ORDER BY at DESC, id DESC"),
                             conn, params={"id": project_id})
        found = _effects(conn, frame, EffectRules.load())
    return ProjectDetail(frame.iloc[0].to_dict(), tasks, events, found[project_id])


def effects(bind: Bind, ids: list[int] | None = None, rules: EffectRules | None = None) -> dict[int, Effect]:
    """The effect of every project (or of ``ids``), measured together."""
    with transaction(bind) as conn:
        frame = pd.read_sql(sa.text(f"SELECT {PROJECT_COLUMNS} FROM project p "
                                    "WHERE CAST(:ids AS int[]) IS NULL OR id = ANY(:ids) ORDER BY id"),
                            conn, params={"ids": ids})
        return _effects(conn, frame, rules or EffectRules.load())


def _effects(conn, frame: pd.DataFrame, rules: EffectRules) -> dict[int, Effect]:
    if frame.empty:
        return {}
    covered = _covered_halves(conn)
    since = (min(frame["starts_on"]) - timedelta(days=366 + 16 * rules.baseline_halves))
    by_town = frame[frame["townships"].map(len) > 0]
    by_cell = frame[frame["cells"].map(len) > 0]
    neighbours = _neighbours(conn, sorted({t for ts in by_town["townships"] for t in ts}))
    controls = {}
    for row in frame.itertuples(index=False):
        # Another project on the same categories at the same time is no untreated comparison.
        overlaps = (frame["id"] != row.id) & (frame["starts_on"] <= row.ends_on) & (frame["ends_on"] >= row.starts_on)
        others = frame[overlaps & frame["categories"].map(lambda c, mine=set(row.categories): bool(mine & set(c)))]
        if len(row.townships):
            taken = {t for ts in others["townships"] for t in ts} | set(row.townships)
            controls[row.id] = sorted({n for t in row.townships for n in neighbours.get(t, ())} - taken)
        else:
            taken = [c for cs in others["cells"] for c in cs]
            controls[row.id] = ring_cells(row.cells, rules.control_ring, taken)
    town_counts = _town_counts(conn, by_town, controls, since)
    cell_counts = _cell_counts(conn, by_cell, controls, since)
    out = {}
    for row in frame.itertuples(index=False):
        counts, key = (town_counts, "township_code") if len(row.townships) else (cell_counts, "h3")
        area = list(row.townships) if len(row.townships) else list(row.cells)
        mine = counts[counts["category"].isin(row.categories)] if len(counts) else counts
        treated = _series(mine, key, area, covered)
        control = _series(mine, key, controls[row.id], covered) if controls[row.id] else None
        target = (row.targets or {}).get("reduction_pct")
        out[row.id] = effect(treated, control, row.starts_on, row.ends_on, covered=covered, target_pct=target,
                             rules=rules)
    return out


def _series(counts: pd.DataFrame, key: str, members: list, covered: pd.DatetimeIndex) -> pd.Series:
    picked = counts[counts[key].isin(members)] if len(counts) else counts
    summed = picked.groupby("half")["n"].sum() if len(picked) else pd.Series(dtype=float)
    summed.index = pd.DatetimeIndex(summed.index)
    return summed.reindex(covered, fill_value=0)


def _covered_halves(conn) -> pd.DatetimeIndex:
    """The half-months whose every day has data (a loose index scan over the tallies' days)."""
    days = conn.execute(sa.text(
        "WITH RECURSIVE d AS (SELECT min(day) AS day FROM township_day UNION ALL "
        "SELECT (SELECT min(day) FROM township_day WHERE day > d.day) FROM d WHERE d.day IS NOT NULL) "
        "SELECT day FROM d WHERE day IS NOT NULL")).scalars().all()
    if not days:
        return pd.DatetimeIndex([])
    days = pd.DatetimeIndex(days)
    halves = half_month(days)
    have = pd.Series(1, index=days).groupby(halves).sum()
    length = pd.Series([(next_half_month(h) - h).days for h in have.index], index=have.index)
    return pd.DatetimeIndex(have.index[have.to_numpy() == length.to_numpy()])


def _neighbours(conn, codes: list[str]) -> dict[str, list[str]]:
    if not codes:
        return {}
    rows = conn.execute(sa.text(
        "SELECT a.code, b.code FROM jurisdiction a JOIN jurisdiction b ON ST_Intersects(a.geom, b.geom) "
        "AND b.level = 'township' AND b.valid_to IS NULL AND b.code <> a.code "
        "WHERE a.level = 'township' AND a.valid_to IS NULL AND a.code = ANY(:codes)"), {"codes": codes}).all()
    out: dict[str, list[str]] = {}
    for a, b in rows:
        out.setdefault(a, []).append(b)
    return out


_HALF = ("(date_trunc('month', {day}) + CASE WHEN extract(day FROM {day}) >= 16 "
         "THEN interval '15 days' ELSE interval '0 days' END)::date")
"""The half-month (its first day) of a date expression, as :func:`geo.projects.half_month`."""


def _town_counts(conn, frame: pd.DataFrame, controls: dict, since: date) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=["half", "township_code", "category", "n"])
    # Only the (township, category) pairs some project needs: the union of all townships and
    # all categories would read most of the city's tallies.
    pairs = sorted({(t, c) for row in frame.itertuples() for t in [*row.townships, *controls[row.id]]
                    for c in row.categories})
    return pd.read_sql(sa.text(
        f"SELECT {_HALF.format(day='d.day')} AS half, d.township_code, d.category, sum(d.volume)::bigint AS n "
        "FROM unnest(CAST(:towns AS text[]), CAST(:cats AS text[])) AS p(town, cat) "
        "JOIN township_day d ON d.township_code = p.town AND d.category = p.cat AND d.day >= :since "
        "GROUP BY 1, 2, 3"), conn,
        params={"towns": [t for t, _ in pairs], "cats": [c for _, c in pairs], "since": since})


def _cell_counts(conn, frame: pd.DataFrame, controls: dict, since: date) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=["half", "h3", "category", "n"])
    cells = sorted({c for row in frame.itertuples() for c in [*row.cells, *controls[row.id]]})
    cats = sorted({c for cs in frame["categories"] for c in cs})
    return pd.read_sql(sa.text(
        f"SELECT {_HALF.format(day=LOCAL_DAY)} AS half, h3, category, count(*) AS n FROM complaint "
        "WHERE h3 = ANY(:cells) AND category = ANY(:cats) "
        "AND received_at >= (CAST(:since AS date) AT TIME ZONE 'Asia/Shanghai') GROUP BY 1, 2, 3"),
        conn, params={"cells": cells, "cats": cats, "since": since})
