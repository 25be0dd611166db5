"""Tallies of the stored complaints: what rankings, projects, reports and pages read.

A month of raw complaints takes seconds to aggregate (2.5 s for 900,000 rows here), so five
derived tables hold the counts instead:

- ``township_day``: one row per day, township and category with the counts behind the three
  rates (the ranking, a township's page);
- ``city_day``: the same summed over the townships, per day and category (the city's key
  figures and trend: a year is 15,000 rows instead of 2.4 million);
- ``township_half``: the same summed per half-month (projects measure their effect per
  half-month; two years of one township-category pair are 48 rows instead of 730);
- ``cell_day``: one row per day, res-9 H3 cell and category (cell projects and heat maps read
  a few hundred cells over two years without touching the complaints);
- ``cell_week``: the same summed per week (from a Monday) over every category: a heat map of
  three months reads its whole weeks here, a seventh of the daily rows or fewer.

Every ingest adds the complaints it inserts to the tallies and moves the counts of those it
updates from what they were to what they are (:func:`move_complaints`, one grouped insert per tally),
in the same transaction; :func:`refresh_tally` rebuilds any period (after changing
``response_hours`` in ``geo/data/governance.toml``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa

from geo.act.governance import COUNTS, GovernanceRules
from geo.settings import load_settings
from geo.store.engine import Bind, statement, transaction

LOCAL_DAY = "(received_at AT TIME ZONE :zone)::date"
"""SQL: a complaint's day in the city's zone (``:zone``, :func:`zone_params`), as the tallies count it."""

TABLES = ("township_day", "city_day", "cell_day", "township_half", "cell_week")
COUNTED_COLUMNS = ("received_at", "township_code", "category", "h3", "dispatched_at", "responded_at", "resolved",
                   "satisfaction")
"""The complaint columns the tallies count (a load notes them for what it inserts or updates)."""


def week_sql(day: str) -> str:
    """SQL for the week (its Monday) of a date expression; the same as :func:`week_start`."""
    return f"date_trunc('week', {day})::date"


def week_start(day: date) -> date:
    """The Monday of a day's week."""
    return day - timedelta(days=day.weekday())


def half_sql(day: str) -> str:
    """SQL for the half-month (its first day, the 1st or the 16th) of a date expression.

    The same as :func:`geo.act.projects.half_month`.
    """
    return (f"(date_trunc('month', {day}) + CASE WHEN extract(day FROM {day}) >= 16 "
            "THEN interval '15 days' ELSE interval '0 days' END)::date")


# A date AT TIME ZONE is read as midnight in the session's zone first; a timestamp is the
# wall time in the named zone, which is what the city's day means.
PERIOD = ("received_at >= (CAST(:first AS timestamp) AT TIME ZONE :zone) "
          "AND received_at < ((CAST(:last AS date) + 1)::timestamp AT TIME ZONE :zone)")
"""SQL: a complaint received in the city's days ``:first`` to ``:last`` (``:zone``; a range of
instants, so that an index on ``received_at`` serves)."""


def zone_params() -> dict[str, str]:
    """The parameter of :data:`LOCAL_DAY` and :data:`PERIOD`: the city's zone (its profile's)."""
    return {"zone": load_settings().timezone}

_SUMS = ", ".join(f"sum({c})" for c in COUNTS)


def _count(weight: str | None, condition: str | None = None) -> str:
    # A plain count, or a signed one (+1 a complaint added, -1 one taken away) for a delta.
    counted = "count(*)" if weight is None else f"sum({weight})"
    if condition is not None:
        counted = f"{counted} FILTER (WHERE {condition})"
    return counted if weight is None else f"coalesce({counted}, 0)"


def _township_rows(source: str, where: str, weight: str | None = None) -> str:
    """A daily township tally's rows (``day, township_code, category`` and :data:`COUNTS`) of
    the complaints in ``source`` that meet ``where``: the one definition of the counts.

    With ``weight`` (a column of ``source``), each complaint counts that much instead of one."""
    return f"""SELECT {LOCAL_DAY} AS day, township_code, category, {_count(weight)} AS volume,
               {_count(weight, "dispatched_at IS NOT NULL")} AS dispatched,
               {_count(weight, "dispatched_at IS NOT NULL AND responded_at <= dispatched_at "
                               "+ make_interval(secs => :response_seconds)")} AS on_time,
               {_count(weight, "resolved IS NOT NULL")} AS outcomes,
               {_count(weight, "resolved")} AS resolved,
               {_count(weight, "satisfaction IS NOT NULL")} AS callbacks,
               {_count(weight, "satisfaction IN ('satisfied', 'basically_satisfied')")} AS satisfied
        FROM {source} WHERE {where} AND township_code IS NOT NULL
        GROUP BY 1, 2, 3"""


def _cell_rows(source: str, where: str, weight: str | None = None) -> str:
    return f"""SELECT {LOCAL_DAY} AS day, h3, category, {_count(weight)} AS volume FROM {source}
        WHERE {where} AND h3 IS NOT NULL GROUP BY 1, 2, 3"""


# Each tally: its key, its count columns, and its rows summed from the daily rows of its base.
# ``township_day`` and ``cell_day`` count complaints; the others sum them.
_TALLY = {
    "township_day": (("day", "township_code", "category"), COUNTS, None),
    "city_day": (("day", "category"), COUNTS,
                 lambda days: f"SELECT day, category, {_SUMS} FROM {days} GROUP BY 1, 2"),
    "cell_day": (("day", "h3", "category"), ("volume",), None),
    "township_half": (("half", "township_code", "category"), COUNTS,
                      lambda days: f"SELECT {half_sql('day')}, township_code, category, {_SUMS} "
                                   f"FROM {days} GROUP BY 1, 2, 3"),
    "cell_week": (("week", "h3"), ("volume",),
                  lambda days: f"SELECT {week_sql('day')}, h3, sum(volume) FROM {days} GROUP BY 1, 2"),
}
_BASE = {"township_day": "township_day", "city_day": "township_day", "township_half": "township_day",
         "cell_day": "cell_day", "cell_week": "cell_day"}
_COUNTED = {"township_day": _township_rows, "cell_day": _cell_rows}

def _insert(table: str) -> str:
    key, counts, _ = _TALLY[table]
    return f"INSERT INTO {table} ({', '.join(key + tuple(counts))}) "


_REFRESH = {
    "township_day": [
        "DELETE FROM township_day WHERE day BETWEEN :first AND :last",
        _insert("township_day") + _township_rows("complaint", PERIOD)],
    "city_day": [
        "DELETE FROM city_day WHERE day BETWEEN :first AND :last",
        _insert("city_day") + _TALLY["city_day"][2]("township_day WHERE day BETWEEN :first AND :last")],
    "cell_day": [
        "DELETE FROM cell_day WHERE day BETWEEN :first AND :last",
        _insert("cell_day") + _cell_rows("complaint", PERIOD)],
    # Summed from the daily tally, whole half-months at a time: a refreshed day changes its half.
    "township_half": [
        f"DELETE FROM township_half WHERE half BETWEEN {half_sql(':first')} AND {half_sql(':last')}",
        _insert("township_half") + _TALLY["township_half"][2](
            f"township_day WHERE day >= {half_sql(':first')} AND day < {half_sql(':last')} + 16 "
            f"AND {half_sql('day')} <= {half_sql(':last')}")],
    # Summed from the daily cell tally, whole weeks at a time: a refreshed day changes its week.
    "cell_week": [
        f"DELETE FROM cell_week WHERE week BETWEEN {week_sql(':first')} AND {week_sql(':last')}",
        _insert("cell_week") + _TALLY["cell_week"][2](
            f"cell_day WHERE day >= {week_sql(':first')} AND day < {week_sql(':last')} + 7")],
}


def _tally_rows(table: str, source: str, weight: str | None = None) -> str:
    """A tally's rows (its key, then its counts) of every complaint in ``source``."""
    rows = _COUNTED[_BASE[table]](source, "true", weight)
    summed = _TALLY[table][2]
    return rows if summed is None else summed(f"({rows}) AS counted")


def _delta_sql(table: str, source: str) -> str:
    """Add the counts of the complaints in ``source``, each counting its ``weight`` (+1 or -1),
    to a tally (one grouped insert)."""
    key, counts, _summed = _TALLY[table]
    rows = _tally_rows(table, source, "weight")
    added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counts)
    # In key order, the inserts walk the primary key's pages in order (1.2 s instead of 1.9 s
    # for 128,000 new cell-days), and two loads lock their rows in the same order.
    order = ", ".join(str(i + 1) for i in range(len(key)))
    return f"{_insert(table)}{rows} ORDER BY {order} ON CONFLICT ({', '.join(key)}) DO UPDATE SET {added}"


def refresh_sql(tables: Iterable[str] = TABLES) -> list[str]:
    """The statements that rebuild the tallies of days ``:first`` to ``:last``, in order."""
    return [statement for table in tables for statement in _REFRESH[table]]


def refresh_days(conn: sa.Connection, first: date, last: date, rules: GovernanceRules | None = None, *,
                 tables: Iterable[str] = TABLES) -> None:
    """Rebuild the tallies of the days ``first`` to ``last`` (the city's days) on a connection.

    Parameters
    ----------
    conn : Connection
    first, last : datetime.date
    rules : GovernanceRules, optional
        For ``response_hours``; read from ``geo/data/governance.toml`` by default.
    tables : iterable of str
        Which tallies, in the order given; ``city_day`` and ``township_half`` sum
        ``township_day`` and ``cell_week`` sums ``cell_day``, so each comes after the one it
        sums. All five by default.
    """
    tables = _known(tables)
    params = {"first": first, "last": last, **tally_params(rules)}
    _lock(conn)
    for sql in refresh_sql(tables):
        conn.execute(sa.text(sql), params)


def move_complaints(conn: sa.Connection, added: str, removed: str, rules: GovernanceRules | None = None, *,
                    refiled: bool = False) -> None:
    """Move the tallies by the complaints in ``added`` less those in ``removed``.

    A complaint whose status changed is in both: as it was (``removed``) and as it is
    (``added``), so its counts move between columns; a new complaint is only in ``added``.
    One grouped insert per tally, whatever the number of rows: a single complaint's update
    touches only its own day, cell, week and half-month rows.

    Parameters
    ----------
    conn : Connection
    added, removed : str
        Tables with the :data:`COUNTED_COLUMNS` of the complaints to add and to take away.
    rules : GovernanceRules, optional
        For ``response_hours``; read from ``geo/data/governance.toml`` by default.
    refiled : bool
        Whether a complaint in ``removed`` may have changed its key (a re-load re-files its
        category): the rows it leaves at zero then go, as a recount has none. A status update
        never changes a key, and skips that statement.
    """
    params = tally_params(rules)
    conn.execute(statement(f"WITH {move_sql(added, removed)} SELECT 1"), params)
    if not refiled:
        return
    # A complaint re-filed under another category leaves its old rows at zero, where a recount
    # has no row: they go (the statement above cannot see its own changes, so a second one).
    emptied = ", ".join(_emptied_sql(table, removed) for table in TABLES)
    conn.execute(sa.text(f"WITH {emptied} SELECT 1"), params)


def move_sql(added: str, removed: str) -> str:
    """The ``WITH`` items of one statement that moves the tallies (as :func:`move_complaints`)
    by the complaints of ``added`` less those of ``removed``: tables, or items named before these
    in the same ``WITH``, with the :data:`COUNTED_COLUMNS`. Binds :func:`tally_params`.

    The statement takes the tallies' lock (:func:`_lock`) before it writes a tally row, and
    keeps it to the end of the transaction: a round trip less than locking first. Its rows were
    read with the statement's snapshot, from before the wait; an insert's ``ON CONFLICT ... DO
    UPDATE`` adds to a tally row's latest version all the same (PostgreSQL's rule for it under
    read committed), so what the previous holder wrote is added to, not lost.
    """
    columns = ", ".join(COUNTED_COLUMNS)
    # No row reaches an insert before the lock's one row is made (a cross join with it).
    moved = (f"SELECT m.* FROM (SELECT {columns}, 1 AS weight FROM {added} UNION ALL "
             f"SELECT {columns}, -1 FROM {removed}) AS m CROSS JOIN tally_locked")
    # The five tallies in one statement (each insert a data-modifying item, all run to the
    # end): a single complaint's update was five round trips and five plans.
    inserts = ", ".join(f"moved_{table} AS ({_delta_sql(table, 'moved')} RETURNING 0)" for table in TABLES)
    return f"tally_locked AS MATERIALIZED ({_LOCK_SQL}), moved AS MATERIALIZED ({moved}), {inserts}"


def tally_params(rules: GovernanceRules | None = None) -> dict:
    """The parameters every tally's counts bind, the response deadline and the city's zone
    (:func:`move_sql`, :func:`refresh_days`; ``rules`` as for :func:`move_complaints`)."""
    rules = rules or GovernanceRules.load()
    return {"response_seconds": rules.response_hours * 3600, **zone_params()}


def _emptied_sql(table: str, removed: str) -> str:
    """A CTE deleting the rows of a tally left at zero among the keys of ``removed``'s complaints."""
    key, counts, _summed = _TALLY[table]
    named = ", ".join(key + tuple(counts))
    matched = " AND ".join(f"{table}.{k} = gone.{k}" for k in key)
    return (f"emptied_{table} AS (DELETE FROM {table} USING ({_tally_rows(table, removed)}) AS gone({named}) "
            f"WHERE {matched} AND {table}.volume <= 0)")


def _known(tables: Iterable[str]) -> list[str]:
    tables = list(tables)
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise ValueError(f"unknown tallies {unknown}; expected some of {list(TABLES)}")
    return tables


def _lock(conn: sa.Connection) -> None:
    # One writer of the tallies at a time, until its transaction commits: two loads of the
    # same days each deleted and recounted them, and one failed on the other's new rows
    # (township_day_pkey). Waiting here, the second counts (each statement a fresh snapshot)
    # with the first's rows. The lock is the session's: taking it again does not wait.
    conn.execute(statement(_LOCK_SQL))


_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('whistle.tally'))"


def refresh_tally(bind: Bind, first: date | None = None, last: date | None = None,
                  rules: GovernanceRules | None = None, *, tables: Iterable[str] = TABLES) -> int:
    """Rebuild every tally of a period, all of it by default.

    Parameters
    ----------
    bind : Engine or Connection
    first, last : datetime.date, optional
        The first and last day (the city's); the stored complaints' first and last by default.
    rules : GovernanceRules, optional
        For ``response_hours``; read from ``geo/data/governance.toml`` by default.
    tables : iterable of str
        Which tallies (see :func:`refresh_days`); all of them by default.

    Returns
    -------
    int
        The number of daily township tally rows of the period afterwards.
    """
    with transaction(bind) as conn:
        if first is None or last is None:
            low, high = conn.execute(sa.text(f"SELECT min({LOCAL_DAY}), max({LOCAL_DAY}) FROM complaint"),
                                     zone_params()).one()
            if low is None:
                return 0
            first, last = first or low, last or high
        refresh_days(conn, first, last, rules, tables=tables)
        return int(conn.execute(sa.text("SELECT count(*) FROM township_day WHERE day BETWEEN :f AND :l"),
                                {"f": first, "l": last}).scalar_one())


def tallied_days(conn: sa.Connection) -> pd.DatetimeIndex:
    """Every day that has tallied complaints, in order (a loose index scan: one probe a day)."""
    days = conn.execute(sa.text(
        "WITH RECURSIVE d AS (SELECT min(day) AS day FROM township_day UNION ALL "
        "SELECT (SELECT min(day) FROM township_day WHERE day > d.day) FROM d WHERE d.day IS NOT NULL) "
        "SELECT day FROM d WHERE day IS NOT NULL")).scalars().all()
    return pd.DatetimeIndex(days)
