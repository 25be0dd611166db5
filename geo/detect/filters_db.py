"""The checks shared by every detection: the period and the category or theme filter."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from geo.errors import ValidationError
from geo.settings import load_settings


def check_period(start: datetime, end: datetime, category: str | None, theme: str | None) -> None:
    """Refuse a period without time zones or out of order, and two filters at once."""
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise ValidationError("the period needs a timezone-aware start before its end")
    if category and theme:
        raise ValidationError("filter by a category or by a theme, not both")


def check_filter(conn, category: str | None, theme: str | None) -> None:
    """Refuse a category or theme the category table does not know."""
    table = load_settings().data_file("categories.csv")
    if category and not conn.execute(sa.text("SELECT 1 FROM category WHERE code = :c"), {"c": category}).first():
        raise ValidationError(f"category {category!r} is unknown; see {table}")
    if theme and not conn.execute(sa.text("SELECT 1 FROM category WHERE theme = :t"), {"t": theme}).first():
        raise ValidationError(f"theme {theme!r} is unknown; see {table}")
