"""The demo's problems of the month (每月一题): two projects on the city's commonest problems, begun
six weeks before the newest complaint, so that the Projects page shows their half-monthly effect
from the first start."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from geo.act.categories import categories
from geo.act.projects import ProjectSpec
from geo.act.projects_db import create_project
from geo.i18n import _
from geo.show.words import category_name
from geo.store.engine import Bind, transaction

STARTED_DAYS_BEFORE = 45
"""How long before the newest complaint the demo's projects began (three half-months of effect)."""
TOWNSHIPS = 3
"""The townships each project covers: the category's busiest."""


def demo_projects(bind: Bind, *, now: datetime, count: int = 2) -> list[int]:
    """Open ``count`` problems of the month on the commonest categories (the emergencies and the
    unclassified apart), each over its busiest townships and led by its first department; none
    when a problem of the month is already stored. Returns the ids opened."""
    known = categories()
    with transaction(bind) as conn:
        if conn.execute(sa.text("SELECT 1 FROM project WHERE kind = 'problem_of_month' LIMIT 1")).first():
            return []
        last = conn.execute(sa.text("SELECT max(day) FROM township_day")).scalar()
        if last is None:
            return []
        rows = conn.execute(sa.text(
            "SELECT category, township_code, sum(volume) AS n FROM township_day WHERE day > :since "
            "GROUP BY 1, 2 ORDER BY 1, 3 DESC"), {"since": last - timedelta(days=90)}).all()
    by_category: dict[str, list[tuple[str, int]]] = {}
    for category, township, n in rows:
        by_category.setdefault(category, []).append((township, int(n)))
    chosen = sorted((c for c in by_category if c in known and not known[c].emergency and c != "unclassified"),
                    key=lambda c: -sum(n for _t, n in by_category[c]))[:count]
    starts = last - timedelta(days=STARTED_DAYS_BEFORE)
    opened = []
    for category in chosen:
        lead = known[category].departments[0]
        towns = [t for t, _n in by_category[category][:TOWNSHIPS]]
        spec = ProjectSpec(
            kind="problem_of_month", title=_("Problem of the month: {category}").format(
                category=category_name(category)), lead_department=lead, categories=[category],
            starts_on=starts, ends_on=starts + timedelta(days=120), townships=towns,
            partners=list(known[category].departments[1:]), targets={"reduction_pct": 20.0},
            tasks=[{"title": _("Survey the complaints' places with the townships"), "owner": lead,
                    "due_on": starts + timedelta(days=14)},
                   {"title": _("Fix the commonest cause found"), "owner": lead, "due_on": starts + timedelta(days=45)},
                   {"title": _("Call back the callers of the month"), "owner": lead,
                    "due_on": starts + timedelta(days=60)}])
        opened.append(create_project(bind, spec, actor="demo", now=now))
    return opened
