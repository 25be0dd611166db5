"""Complaint categories and the departments responsible, shipped as data.

The tables are the city's, beside its profile (``cities/beijing/categories.csv`` and
``departments.csv``; see :meth:`geo.settings.Settings.data_file`), so that a city keeps its own
taxonomy without touching code; :func:`geo.act.categories_db.sync_categories` copies them into
the database (it runs with every schema upgrade). An input category that matches no code and
no name is stored as ``unclassified``: a citizen's complaint is never lost for a taxonomy
mismatch.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from geo.errors import ValidationError
from geo.settings import load_settings
from geo.strings import look_up

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
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValidationError(f"cannot read the table {path}: {exc}") from None


def _stamped(name: str) -> tuple[Path, int]:
    """The city's table ``name`` and its version (an edited or another city's file is read again)."""
    settings = load_settings()
    path = settings.data_file(name)
    try:
        return path, path.stat().st_mtime_ns
    except OSError:
        # There is no national taxonomy: each hotline classifies in its own way.
        raise ValidationError(f"the city profile {settings.city_file} has no {name} beside it: copy "
                              f"cities/beijing/{name} there and adapt it") from None


def departments() -> dict[str, tuple[str, str]]:
    """Return the city's departments as ``{code: (Chinese name, English name)}``."""
    return _departments(*_stamped("departments.csv"))


@lru_cache(maxsize=8)
def _departments(path: Path, _version: int) -> dict[str, tuple[str, str]]:
    return {row["code"]: (row["name_zh"], row["name_en"]) for row in _rows(path)}


def categories() -> dict[str, Category]:
    """Return the city's categories by code, checked against its department table.

    Raises
    ------
    ValidationError
        If a row names an unknown department, repeats a code, has a flag other than
        ``true``/``false``, or if ``unclassified`` is missing.
    """
    return _categories(*_versions())


@lru_cache(maxsize=8)
def _categories(path: Path, _version: int, departments_path: Path, departments_version: int) -> dict[str, Category]:
    known = _departments(departments_path, departments_version)
    out: dict[str, Category] = {}
    for line, row in enumerate(_rows(path), start=2):
        where = f"{path} line {line}"
        try:
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
        except (KeyError, AttributeError):
            raise ValidationError(f"{where}: the columns are code, name_zh, name_en, theme, "
                                  "departments, enforcement, emergency") from None
    if UNCLASSIFIED not in out:
        raise ValidationError(f"{path} must hold the category {UNCLASSIFIED!r}")
    return out


def _versions() -> tuple:
    """The category table and the department table it is checked against, with their versions."""
    return (*_stamped("categories.csv"), *_stamped("departments.csv"))


def _lookup() -> dict[str, str]:
    return _keys(*_versions())


@lru_cache(maxsize=8)
def _keys(*version) -> dict[str, str]:
    keys: dict[str, str] = {}
    for cat in _categories(*version).values():
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

