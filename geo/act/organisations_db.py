"""Organisations in PostGIS: the areas each answers for in every boundary set, kept across sets.

:func:`sync_areas` runs inside every boundary load (:func:`geo.locate.jurisdictions_db.load_boundaries`),
so that no set is ever current without an organisation answering for each of its units.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from geo.act.organisations import (
    CITY,
    DEPARTMENT_PREFIX,
    OFFICE,
    AreaChange,
    SuccessionRules,
    carry_over,
    office_code,
)
from geo.errors import ValidationError
from geo.store.engine import Bind, transaction
from geo.store.models import Organisation, OrganisationArea

# The models serve the plain inserts and selects by code; the area overlaps and the listing with
# current areas stay SQL (PostGIS functions, and one grouped query).

# The current set of a level, and the areas organisations answer for in it.
CURRENT_AREAS = ("SELECT a.organisation_id, a.code FROM organisation_area a "
                 "JOIN boundary_set s ON s.id = a.set_id AND s.valid_to IS NULL AND s.level = :level")


def sync_areas(conn, level: str, set_id: int, previous_set_id: int | None,
               rules: SuccessionRules | None = None) -> list[AreaChange]:
    """Give every unit of a new set the organisation that answers for it; return what changed.

    With no previous set, each unit gets an office of its own (reused when one with its code
    exists). Otherwise the organisations of the previous set keep the units that continue
    theirs (same code, or most of the new unit's area; see :func:`geo.act.organisations.carry_over`),
    and a unit that continues none gets a new office.

    Parameters
    ----------
    conn : Connection
        Inside the transaction that loads the set.
    level : str
        ``township`` or ``district``.
    set_id, previous_set_id : int
        The new set, and the set it replaces (None for the first).
    rules : SuccessionRules, optional
        Read from the rules files when omitted.
    """
    kind = OFFICE[level][0]
    rules = rules or SuccessionRules.load()
    new = pd.DataFrame(conn.execute(sa.text("SELECT code, name FROM jurisdiction WHERE set_id = :s"),
                                    {"s": set_id}).all(), columns=["code", "name"])
    names = dict(zip(new["code"], new["name"], strict=True))
    covered: dict[str, list[str]] = {}
    overlaps = pd.DataFrame(columns=["old", "new", "share"])
    if previous_set_id is not None:
        for org, code in conn.execute(sa.text(
                "SELECT o.code, a.code FROM organisation_area a JOIN organisation o ON o.id = a.organisation_id "
                "WHERE a.set_id = :s ORDER BY o.code, a.code"), {"s": previous_set_id}).all():
            covered.setdefault(org, []).append(code)
        # The share of each new unit's area inside each old unit, on the sphere (square metres).
        overlaps = pd.DataFrame(conn.execute(sa.text("""
            SELECT o.code AS old, n.code AS new,
                   ST_Area(ST_Intersection(o.geom, n.geom)::geography) / NULLIF(ST_Area(n.geom::geography), 0) AS share
            FROM jurisdiction n JOIN jurisdiction o ON o.set_id = :old AND ST_Intersects(o.geom, n.geom)
            WHERE n.set_id = :new"""), {"old": previous_set_id, "new": set_id}).all(),
            columns=["old", "new", "share"]).astype({"share": float})
    if not covered:
        # A first set, or one after a set no organisation answered for: one office per unit.
        areas = {office_code(level, code): [code] for code in names}
        changes = []
    else:
        areas, changes = carry_over(covered, overlaps, names, level=level, min_share=rules.min_share)
    for org, codes in areas.items():
        if not codes:
            continue
        ident = conn.execute(sa.select(Organisation.id).where(Organisation.code == org)).scalar()
        if ident is None:
            ident = conn.execute(sa.insert(Organisation).values(kind=kind, code=org, name=names[codes[0]])
                                 .returning(Organisation.id)).scalar_one()
        conn.execute(sa.insert(OrganisationArea),
                     [{"organisation_id": ident, "set_id": set_id, "code": code} for code in codes])
    return changes


def sync_departments(conn) -> None:
    """One organisation per department of the shipped table, and the city's (names kept current)."""
    conn.execute(sa.text(
        f"INSERT INTO organisation (kind, code, name) SELECT 'department', '{DEPARTMENT_PREFIX}' || code, name_zh "
        "FROM department ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name"))
    conn.execute(pg_insert(Organisation).values(kind="city", code=CITY, name="City")
                 .on_conflict_do_nothing(index_elements=[Organisation.code]))


def office_of(conn, level: str, codes: list[str]) -> dict[str, int]:
    """The organisation answering for each current unit code of ``level`` (codes not current left out)."""
    return dict(conn.execute(sa.text(f"SELECT a.code, a.organisation_id FROM ({CURRENT_AREAS}) a "
                                     "WHERE a.code = ANY(:codes)"), {"level": level, "codes": codes}).all())


def answering(conn, kind: str, codes: list[str]) -> dict[str, int]:
    """Who answers for each code of a whistle addressee: a township's office now (or, for a code
    no longer current, the office that answered for it last), a department's organisation."""
    if kind == "department":
        return department_organisations(conn, codes)
    found = office_of(conn, "township", codes)
    missing = [code for code in codes if code not in found]
    if missing:
        found |= dict(conn.execute(sa.text(
            "SELECT DISTINCT ON (a.code) a.code, a.organisation_id FROM organisation_area a "
            "JOIN boundary_set s ON s.id = a.set_id AND s.level = 'township' WHERE a.code = ANY(:c) "
            "ORDER BY a.code, s.valid_from DESC"), {"c": missing}).all())
    return found


def organisation_id(conn, code: str) -> int:
    """The id of the organisation with ``code``; raises naming it when there is none."""
    found = conn.execute(sa.select(Organisation.id).where(Organisation.code == code)).scalar()
    if found is None:
        raise ValidationError(f"there is no organisation {code!r} (see python -m geo organisations list)")
    return int(found)


def department_organisations(conn, departments: list[str]) -> dict[str, int]:
    """The organisation of each department code."""
    rows = conn.execute(sa.select(Organisation.code, Organisation.id)
                        .where(Organisation.code.in_([DEPARTMENT_PREFIX + d for d in departments]))).all()
    return {code.removeprefix(DEPARTMENT_PREFIX): ident for code, ident in rows}


def organisations(bind: Bind) -> pd.DataFrame:
    """Every organisation with the townships or districts it answers for now, and its users."""
    with transaction(bind) as conn:
        return pd.read_sql(sa.text("""
            SELECT o.id, o.kind, o.code, o.name, o.active,
                   coalesce(array_agg(a.code ORDER BY a.code) FILTER (WHERE a.code IS NOT NULL), '{}') AS areas,
                   (SELECT count(*) FROM app_user u WHERE u.organisation_id = o.id) AS users
            FROM organisation o
            LEFT JOIN (organisation_area a JOIN boundary_set s ON s.id = a.set_id AND s.valid_to IS NULL)
                   ON a.organisation_id = o.id
            GROUP BY o.id ORDER BY o.kind, o.code"""), conn)
