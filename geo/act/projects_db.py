"""Remediation projects in PostGIS: create, change, tick off tasks, and measure effects.

Every change is a ``project_event`` with who and when, and bumps the project's version; an
action that names the version it was shown is refused if someone changed the project since.
:func:`effects` measures many projects at once with two queries, each summing per project,
role and half-month in the database: the half-monthly township tallies for township projects,
the daily cell tallies for cell projects (:mod:`geo.store.tally`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from geo.act.categories import categories, departments
from geo.act.organisations import DEPARTMENT_PREFIX
from geo.act.organisations_db import department_organisations, office_of
from geo.act.projects import (
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
from geo.errors import ValidationError
from geo.locate.cells import cell_centres
from geo.store.engine import Bind, lock_versioned, transaction
from geo.store.models import ProjectEvent, ProjectTask
from geo.store.tally import half_sql, tallied_days

# Events and tasks are plain inserts through the models; the effects stay SQL: grouped sums over
# the half-monthly tallies, tuned to read each project's area in one statement.

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


def create_project(bind: Bind, spec: ProjectSpec, *, actor: str, now: datetime, owner: int | None = None) -> int:
    """Validate and store a project with its tasks; return its id.

    The project belongs to ``owner`` (an organisation id; the lead department's organisation
    when omitted) and to the organisations it names: its lead and partner departments and the
    street offices of its townships, of the township holding each cell's centre and of the
    townships its drawn area crosses. Only those see it among the street offices.

    Raises
    ------
    ValidationError
        For anything :func:`geo.act.projects.check_spec` refuses.
    """
    actor = clean_text(actor, "actor", 100)
    with transaction(bind) as conn:
        towns = conn.execute(sa.text(
            "SELECT code FROM jurisdiction WHERE level = 'township' AND valid_to IS NULL")).scalars().all()
        spec = check_spec(spec, townships=towns, categories=categories(), departments=departments())
        area = None if spec.area is None else shapely.MultiPolygon(
            [spec.area] if isinstance(spec.area, shapely.Polygon) else spec.area.geoms).wkt
        if owner is None:
            owner = department_organisations(conn, [spec.lead_department])[spec.lead_department]
        project_id = conn.execute(sa.text(
            "INSERT INTO project (kind, title, lead_department, partners, townships, cells, area, categories, "
            "starts_on, ends_on, targets, created_by, created_at, owner_id) VALUES (:kind, :title, :lead, "
            ":partners, :townships, :cells, ST_GeomFromText(:area, 4326), :categories, :starts, :ends, "
            "CAST(:targets AS jsonb), :actor, :now, :owner) RETURNING id"),
            {"kind": spec.kind, "title": spec.title, "lead": spec.lead_department, "partners": spec.partners,
             "townships": spec.townships, "cells": spec.cells, "area": area, "categories": spec.categories,
             "starts": spec.starts_on, "ends": spec.ends_on, "targets": _json(spec.targets), "actor": actor,
             "now": now, "owner": owner}).scalar_one()
        _name_organisations(conn, project_id, spec.cells)
        _event(conn, project_id, None, now, actor, "created", spec.title)
        for task in spec.tasks:
            _insert_task(conn, project_id, task, now, actor)
    return int(project_id)


def _name_organisations(conn, project_id: int, cells: list[int]) -> None:
    """Store the organisations a project names (see :func:`create_project`)."""
    lon, lat = cell_centres(np.asarray(cells, dtype=np.int64))
    conn.execute(sa.text("""
        UPDATE project p SET organisations = ARRAY(
            SELECT DISTINCT x FROM unnest(ARRAY[p.owner_id] || ARRAY(
                SELECT o.id FROM organisation o
                WHERE o.code = ANY(ARRAY(SELECT :dept || d FROM unnest(p.lead_department || p.partners) d))) || ARRAY(
                SELECT a.organisation_id FROM organisation_area a
                JOIN jurisdiction j ON j.set_id = a.set_id AND j.code = a.code AND j.valid_to IS NULL
                    AND j.level = 'township'
                WHERE j.code = ANY(p.townships) OR ST_Intersects(j.geom, p.area)
                   OR EXISTS (SELECT 1 FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) AS c(lon, lat)
                              WHERE ST_Contains(j.geom, ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326))))) x
            ORDER BY x)
        WHERE p.id = :id"""), {"id": project_id, "dept": DEPARTMENT_PREFIX, "lons": lon.tolist(), "lats": lat.tolist()})


def _json(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _event(conn, project_id: int, task_id: int | None, now: datetime, actor: str, action: str,
           note: str | None) -> None:
    conn.execute(sa.insert(ProjectEvent).values(project_id=project_id, task_id=task_id, at=now, actor=actor,
                                                action=action, note=note))


def _insert_task(conn, project_id: int, task: dict, now: datetime, actor: str) -> int:
    task_id = conn.execute(sa.insert(ProjectTask).values(project_id=project_id, title=task["title"],
                                                         owner=task["owner"], due_on=task["due_on"])
                           .returning(ProjectTask.id)).scalar_one()
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


def projects(bind: Bind, *, today: date, township: str | None = None, organisation: int | None = None,
             kind: str | None = None, with_effect: bool = True) -> pd.DataFrame:
    """Projects with task progress, state and (by default) effect, newest start first.

    ``organisation`` keeps the projects that name it (the owner is always named; see
    :func:`create_project`); ``township`` those of the office answering for that township now.
    """
    with transaction(bind) as conn:
        if township is not None:
            found = office_of(conn, "township", [township])
            if township not in found:
                raise ValidationError(f"township {township!r} is not a current township code")
            organisation = found[township]
        frame = pd.read_sql(sa.text(
            f"SELECT {PROJECT_COLUMNS}, (SELECT count(*) FROM project_task t WHERE t.project_id = p.id) AS tasks, "
            "(SELECT count(*) FROM project_task t WHERE t.project_id = p.id AND t.done_at IS NOT NULL) AS done "
            "FROM project p WHERE (CAST(:kind AS text) IS NULL OR kind = :kind) "
            "AND (CAST(:org AS integer) IS NULL OR p.organisations @> ARRAY[CAST(:org AS integer)]) "
            "ORDER BY starts_on DESC, id DESC"), conn, params={"kind": kind, "org": organisation})
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
    controls = _controls(conn, frame, rules)
    members = _members(frame, controls)
    counts = pd.concat([_area_counts(conn, members[members["by_town"]], "township_half", "township_code", "half",
                                     since),
                        _area_counts(conn, members[~members["by_town"]], "cell_day", "h3", "day", since)])
    wide = (counts.pivot_table(index="half", columns=["project_id", "role"], values="n", aggfunc="sum")
            if len(counts) else pd.DataFrame())
    wide.index = pd.DatetimeIndex(wide.index)
    wide = wide.reindex(covered).fillna(0)
    none = pd.Series(0.0, index=covered)
    out = {}
    for row in frame.itertuples(index=False):
        treated = wide.get((row.id, "treated"), none)
        control = (wide.get((row.id, "control"), none)) if controls[row.id] else None
        target = (row.targets or {}).get("reduction_pct")
        out[row.id] = effect(treated, control, row.starts_on, row.ends_on, covered=covered, target_pct=target,
                             rules=rules)
    return out


def _controls(conn, frame: pd.DataFrame, rules: EffectRules) -> dict[int, list]:
    """Each project's untreated comparison: adjacent townships or a ring of cells."""
    by_town = frame[frame["townships"].map(len) > 0]
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
    return controls


def _members(frame: pd.DataFrame, controls: dict[int, list]) -> pd.DataFrame:
    """One row per project, role (treated or control), area member and category."""
    rows = []
    for row in frame.itertuples(index=False):
        by_town = bool(len(row.townships))
        area = list(row.townships) if by_town else list(row.cells)
        for role, keys in (("treated", area), ("control", controls[row.id])):
            rows += [(row.id, role, key, category, by_town) for key in keys for category in row.categories]
    return pd.DataFrame(rows, columns=["project_id", "role", "key", "category", "by_town"])


def _area_counts(conn, members: pd.DataFrame, table: str, key: str, period: str, since: date) -> pd.DataFrame:
    """Complaints per project, role and half-month, summed in the database from a tally."""
    if members.empty:
        return pd.DataFrame(columns=["project_id", "role", "half", "n"])
    key_type = "text[]" if key == "township_code" else "bigint[]"
    return pd.read_sql(sa.text(
        f"SELECT m.project_id, m.role, {half_sql('t.' + period)} AS half, sum(t.volume)::bigint AS n "
        f"FROM unnest(CAST(:ids AS int[]), CAST(:roles AS text[]), CAST(:keys AS {key_type}), "
        "CAST(:cats AS text[])) AS m(project_id, role, key, category) "
        f"JOIN {table} t ON t.{key} = m.key AND t.category = m.category AND t.{period} >= :since "
        "GROUP BY 1, 2, 3"), conn,
        params={"ids": members["project_id"].tolist(), "roles": members["role"].tolist(),
                "keys": [str(k) if key == "township_code" else int(k) for k in members["key"]],
                "cats": members["category"].tolist(), "since": since})


def _covered_halves(conn) -> pd.DatetimeIndex:
    """The half-months whose every day has data."""
    days = tallied_days(conn)
    if not len(days):
        return pd.DatetimeIndex([])
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
