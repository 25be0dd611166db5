"""The shipped category and department tables, copied into PostGIS."""

from __future__ import annotations

from sqlalchemy import text

from geo.act.categories import categories, departments


def sync_categories(conn) -> int:
    """Copy the shipped department and category tables into the database.

    Rows are upserted, never deleted: complaints refer to categories by code.

    Parameters
    ----------
    conn : sqlalchemy.engine.Connection
        A connection inside a transaction.

    Returns
    -------
    int
        The number of categories.
    """
    conn.execute(text(
        "INSERT INTO department (code, name_zh, name_en) VALUES (:code, :name_zh, :name_en) "
        "ON CONFLICT (code) DO UPDATE SET name_zh = excluded.name_zh, name_en = excluded.name_en"),
        [{"code": code, "name_zh": zh, "name_en": en} for code, (zh, en) in departments().items()])
    cats = categories()
    conn.execute(text(
        "INSERT INTO category (code, name_zh, name_en, theme, departments, enforcement, emergency) "
        "VALUES (:code, :name_zh, :name_en, :theme, :departments, :enforcement, :emergency) "
        "ON CONFLICT (code) DO UPDATE SET name_zh = excluded.name_zh, name_en = excluded.name_en, "
        "theme = excluded.theme, departments = excluded.departments, "
        "enforcement = excluded.enforcement, emergency = excluded.emergency"),
        [{**c.__dict__, "departments": list(c.departments)} for c in cats.values()])
    return len(cats)

