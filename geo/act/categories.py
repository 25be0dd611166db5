"""Complaint categories and the departments responsible, shipped as data.

The tables live in ``geo/data/categories.csv`` and ``geo/data/departments.csv`` so that a
city can change its taxonomy without touching code; :func:`geo.act.categories_db.sync_categories` copies them into
the database (it runs with every schema upgrade). An input category that matches no code and
no name is stored as ``unclassified``: a citizen's complaint is never lost for a taxonomy
mismatch.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from geo.errors import ValidationError
from geo.settings import DATA_DIR
from geo.strings import look_up

CATEGORIES_FILE = DATA_DIR / "categories.csv"
DEPARTMENTS_FILE = DATA_DIR / "departments.csv"
UNCLASSIFIED = "unclassified"
_TRUE = {"true": True, "false": False}


@dataclass(frozen=True)
class Category:
    """One category: what it is called, its theme, who handles it and how urgently."""

    code: str
    name_zh: str
    name_en: str
    theme: str
    departments: tuple[str, ...]
    enforcement: bool
    emergency: bool


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def departments() -> dict[str, tuple[str, str]]:
    """Return the departments as ``{code: (Chinese name, English name)}``."""
    return {row["code"]: (row["name_zh"], row["name_en"]) for row in _rows(DEPARTMENTS_FILE)}


@cache
def categories() -> dict[str, Category]:
    """Return the categories by code, checked against the department table.

    Raises
    ------
    ValidationError
        If a row names an unknown department, repeats a code, has a flag other than
        ``true``/``false``, or if ``unclassified`` is missing.
    """
    known = departments()
    out: dict[str, Category] = {}
    for line, row in enumerate(_rows(CATEGORIES_FILE), start=2):
        where = f"{CATEGORIES_FILE.name} line {line}"
        depts = tuple(d.strip() for d in row["departments"].split(";") if d.strip())
        unknown = [d for d in depts if d not in known]
        if unknown or not depts:
            raise ValidationError(f"{where}: unknown or missing departments {unknown or depts}")
        if row["code"] in out:
            raise ValidationError(f"{where}: category {row['code']!r} is listed twice")
        flags = (row["enforcement"].strip().lower(), row["emergency"].strip().lower())
        if any(flag not in _TRUE for flag in flags):
            raise ValidationError(f"{where}: enforcement and emergency must be true or false")
        out[row["code"]] = Category(row["code"], row["name_zh"], row["name_en"], row["theme"], depts,
                                    _TRUE[flags[0]], _TRUE[flags[1]])
    if UNCLASSIFIED not in out:
        raise ValidationError(f"{CATEGORIES_FILE.name} must hold the category {UNCLASSIFIED!r}")
    return out


@cache
def _lookup() -> dict[str, str]:
    keys: dict[str, str] = {}
    for cat in categories().values():
        for key in (cat.code, cat.name_zh, cat.name_en):
            keys[key.strip().lower()] = cat.code
    return keys


def classify(values: pd.Series, extra: dict[str, str] | None = None) -> pd.Series:
    """Map input categories (a code, or a Chinese or English name, any case) to codes.

    Parameters
    ----------
    values : pandas.Series
        Categories as the source system wrote them; missing values are allowed.
    extra : dict, optional
        The file's own names (trimmed, lower case) and their codes (a mapping's value map),
        looked up before the shipped names.

    Returns
    -------
    pandas.Series
        A category code per value; ``unclassified`` where nothing matched.
    """
    mapped, _ = look_up(values, {**_lookup(), **extra} if extra else _lookup())
    mapped[pd.isna(mapped)] = UNCLASSIFIED
    return pd.Series(mapped, index=values.index, dtype=object)

