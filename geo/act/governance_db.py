"""The monthly ranking in PostGIS: counts from the daily tallies, classes into ``governance_month``.

:func:`run_governance` classifies the months from a starting month to the last month with
data, carrying the governance state over from the months stored before it; by default it
starts at the last stored month (which may have been classified while still under way), so a
monthly run only does the new work.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa

from geo.act.governance import COUNTS, LABELS, GovernanceRules, classify
from geo.errors import ValidationError
from geo.store.engine import Bind, transaction

STORED = ["month", "township_code", *COUNTS, "response_rate", "resolution_rate", "satisfaction_rate", "composite",
          "position", "rank_shift", "volume_rank", "composite_rank", "bottom_rank", "top", "talk_list",
          "governance", "entered", "exited", "watched", "rebound", "early_warning", "performance", "top_count",
          "calm", "watch_left", "last_exit", "label"]


def month_start(value: date | str) -> date:
    """The first day of the month of ``value`` (a date, ``YYYY-MM`` or ``YYYY-MM-DD``)."""
    if isinstance(value, date):
        return value.replace(day=1)
    text = str(value).strip()
    # pandas reads "October" as October of year 1: only ISO months and dates are accepted.
    if not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", text):
        raise ValidationError(f"month {value!r} is not a month (2026-10) or a date (2026-10-05)")
    try:
        return date.fromisoformat(text if len(text) == 10 else text + "-01").replace(day=1)
    except ValueError:
        raise ValidationError(f"month {value!r} is not a month (2026-10) or a date (2026-10-05)") from None


def month_counts(conn: sa.Connection, first: date, last: date) -> pd.DataFrame:
    """Monthly counts per township from the half-monthly tallies, zeros for a township without complaints.

    Months with no complaint anywhere are left out (a gap in the data is not a calm month).
    """
    sums = ", ".join(f"sum({c})::bigint AS {c}" for c in COUNTS)
    found = pd.read_sql(sa.text(
        f"SELECT date_trunc('month', half)::date AS month, township_code, {sums} FROM township_half "
        "WHERE half >= :first AND half < :end GROUP BY 1, 2"), conn,
        params={"first": first, "end": (pd.Period(last, freq="M") + 1).start_time.date()})
    if found.empty:
        return found
    current = conn.execute(sa.text(
        "SELECT code FROM jurisdiction WHERE level = 'township' AND valid_to IS NULL")).scalars().all()
    townships = sorted(set(current) | set(found["township_code"]))
    full = pd.MultiIndex.from_product([sorted(found["month"].unique()), townships], names=["month", "township_code"])
    return found.set_index(["month", "township_code"]).reindex(full, fill_value=0).reset_index()


def run_governance(bind: Bind, *, since: date | str | None = None, rebuild: bool = False,
                   rules: GovernanceRules | None = None) -> pd.DataFrame:
    """Classify townships month by month and store the result.

    Parameters
    ----------
    bind : Engine or Connection
    since : date or str, optional
        The first month to (re)classify; the last stored month by default, the first month
        with data when nothing is stored yet or ``rebuild`` is set.
    rebuild : bool
        Classify every month afresh.
    rules : GovernanceRules, optional
        Read from ``geo/data/governance.toml`` by default.

    Returns
    -------
    pandas.DataFrame
        The classified months (see :func:`geo.act.governance.classify`).
    """
    rules = rules or GovernanceRules.load()
    with transaction(bind) as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('governance_month'))"))
        first_day, last_day = conn.execute(sa.text("SELECT min(day), max(day) FROM township_day")).one()
        if first_day is None:
            return classify(pd.DataFrame(columns=["month", "township_code", *COUNTS]), rules)
        stored = conn.execute(sa.text("SELECT max(month) FROM governance_month")).scalar()
        start = month_start(first_day) if rebuild or stored is None else month_start(since or stored)
        start = max(start, month_start(first_day))
        previous = _previous(conn, start, rules)
        counts = month_counts(conn, start, last_day)
        result = classify(counts, rules, previous)
        conn.execute(sa.text("DELETE FROM governance_month WHERE month >= :start"), {"start": start})
        _insert(conn, result)
    return result


def _previous(conn: sa.Connection, start: date, rules: GovernanceRules) -> pd.DataFrame:
    latest = conn.execute(sa.text("SELECT max(month) FROM governance_month WHERE month < :start"),
                          {"start": start}).scalar()
    if latest is None:
        return pd.DataFrame()
    window = (pd.Period(start, freq="M") - rules.window_months).start_time.date()
    return pd.read_sql(sa.text("SELECT * FROM governance_month WHERE month >= :from AND month < :start"), conn,
                       params={"from": min(window, latest), "start": start})


def _insert(conn: sa.Connection, result: pd.DataFrame) -> None:
    if result.empty:
        return
    frame = result[STORED].copy()
    frame["month"] = pd.to_datetime(frame["month"]).dt.date
    frame["last_exit"] = pd.to_datetime(frame["last_exit"]).dt.date
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row in rows:
        for key, value in row.items():
            if isinstance(value, np.generic):
                row[key] = value.item()
    columns = ", ".join(STORED)
    conn.execute(sa.text(f"INSERT INTO governance_month ({columns}) VALUES "
                         f"({', '.join(':' + c for c in STORED)})"), rows)


def ranking(bind: Bind, month: date | str | None = None, *, label: str | None = None) -> pd.DataFrame:
    """One month's ranking with township names, best composite first (unranked last).

    Parameters
    ----------
    bind : Engine or Connection
    month : date or str, optional
        The month; the last classified one by default.
    label : str, optional
        Only townships with this label (one of :data:`geo.act.governance.LABELS`).

    Returns
    -------
    pandas.DataFrame
        The stored columns plus ``name`` and ``district``; empty when nothing is classified.
    """
    if label is not None and label not in LABELS:
        raise ValidationError(f"unknown label {label!r}; use one of {', '.join(LABELS)}")
    with transaction(bind) as conn:
        wanted = month_start(month) if month is not None else conn.execute(
            sa.text("SELECT max(month) FROM governance_month")).scalar()
        if wanted is None:
            return pd.DataFrame(columns=[*STORED, "name", "district"])
        return pd.read_sql(sa.text(
            "SELECT g.*, coalesce(j.name, g.township_code) AS name, d.name AS district "
            "FROM governance_month g "
            "LEFT JOIN jurisdiction j ON j.code = g.township_code AND j.level = 'township' AND j.valid_to IS NULL "
            "LEFT JOIN jurisdiction d ON d.code = j.parent_code AND d.level = 'district' AND d.valid_to IS NULL "
            "WHERE g.month = :month AND (CAST(:label AS text) IS NULL OR g.label = :label) "
            "ORDER BY g.composite_rank NULLS LAST, g.volume_rank, g.township_code"),
            conn, params={"month": wanted, "label": label})


def township_history(bind: Bind, township: str) -> pd.DataFrame:
    """Every classified month of one township, oldest first."""
    with transaction(bind) as conn:
        return pd.read_sql(sa.text("SELECT * FROM governance_month WHERE township_code = :code ORDER BY month"),
                           conn, params={"code": township})
