"""Store and read versioned jurisdiction sets in PostGIS."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd
import shapely
import sqlalchemy as sa

from geo.errors import BoundaryError, DatabaseError
from geo.locate.jurisdictions import (
    LEVELS,
    PreparedBoundaries,
    assign_parents,
    districts_from_townships,
    find_gaps,
    prepare_boundaries,
)
from geo.settings import Settings, load_settings
from geo.store.engine import Bind, transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedSet:
    """The boundary set a load created, and the set it replaced."""

    set_id: int
    level: str
    features: int
    valid_from: datetime
    replaced_set_id: int | None
    report: dict
    organisations: list = field(default_factory=list)
    """What the set changed for organisations (:class:`geo.act.organisations.AreaChange`)."""


def load_boundaries(
    bind: Bind,
    prepared: PreparedBoundaries,
    *,
    source: str,
    approximate: bool,
    valid_from: datetime | None = None,
    settings: Settings | None = None,
) -> LoadedSet:
    """Replace the current set of a level with ``prepared``, keeping the old one dated.

    The new set and its units are written, and the previous set closed at the new set's
    ``valid_from``, in one transaction: a failure leaves the previous set as it was.

    Parameters
    ----------
    bind : Engine or Connection
        The database.
    prepared : PreparedBoundaries
        What :func:`geo.locate.jurisdictions.prepare_boundaries` returned.
    source : str
        Where the polygons come from (a file name, a publisher).
    approximate : bool
        True for derived polygons that are not official boundaries.
    valid_from : datetime, optional
        From when the set is valid; now when omitted. Must be later than the current
        set's start.
    settings : Settings, optional
        Tolerances and CRS; read from the environment when omitted.

    Returns
    -------
    LoadedSet

    Raises
    ------
    BoundaryError
        If ``valid_from`` is not after the current set's start.
    """
    settings = settings or load_settings()
    valid_from = _aware(valid_from or datetime.now(UTC))
    frame = prepared.frame.copy()
    report = prepared.report
    with transaction(bind) as conn:
        if prepared.level == "township":
            districts = current_jurisdictions(conn, "district", display=False)
            if districts.empty:
                districts = _make_districts(conn, frame, source, valid_from, settings, report)
            _fill_parents(frame, districts, settings, report)
            report.gaps = find_gaps(frame, districts, metric_crs=settings.metric_crs,
                                    tolerance_m2=settings.gap_tolerance_m2)
        if prepared.level == "district":
            _check_townships_nest(conn, frame, report)
        previous = conn.execute(
            sa.text("SELECT id, valid_from FROM boundary_set "
                    "WHERE level = :level AND valid_to IS NULL FOR UPDATE"),
            {"level": prepared.level},
        ).first()
        if previous is not None and valid_from <= previous.valid_from:
            raise BoundaryError(
                f"the new {prepared.level} set would start at {valid_from.isoformat()}, not after "
                f"the current set (which starts at {previous.valid_from.isoformat()}); "
                "give a later --valid-from"
            )
        if previous is not None:
            _close(conn, previous.id, valid_from)
        set_id = conn.execute(
            sa.text("INSERT INTO boundary_set (level, source, approximate, feature_count, "
                    "valid_from, report) VALUES (:level, :source, :approximate, :n, :valid_from, "
                    "CAST(:report AS json)) RETURNING id"),
            {"level": prepared.level, "source": source, "approximate": approximate,
             "n": len(frame), "valid_from": valid_from,
             "report": json.dumps(report.as_dict(), ensure_ascii=False)},
        ).scalar_one()
        _insert_units(conn, set_id, frame, source=source, approximate=approximate,
                      valid_from=valid_from)
        # Who answers for each unit of the new set: its users and calls move with it.
        from geo.act.organisations_db import sync_areas

        changes = sync_areas(conn, prepared.level, set_id, previous.id if previous is not None else None)
        stored = {**report.as_dict(), "organisations": [c.describe() for c in changes]}
        conn.execute(sa.text("UPDATE boundary_set SET report = CAST(:r AS json) WHERE id = :id"),
                     {"r": json.dumps(stored, ensure_ascii=False), "id": set_id})
    log.info("loaded %s %s units as set %s", f"{len(frame):,}", prepared.level, set_id)
    return LoadedSet(set_id, prepared.level, len(frame), valid_from,
                     previous.id if previous is not None else None, stored, changes)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise BoundaryError(f"valid_from {moment.isoformat()} has no time zone")
    return moment


def _make_districts(conn: sa.Connection, frame: gpd.GeoDataFrame, source: str, valid_from: datetime,
                    settings: Settings, report) -> gpd.GeoDataFrame:
    """A city without district polygons: its districts are made from the townships (see
    :func:`districts_from_townships`), so that every level above a township exists."""
    city = settings.city
    made = districts_from_townships(frame, city.code, city.name_zh)
    prepared = prepare_boundaries(made, level="district", metric_crs=settings.metric_crs)
    load_boundaries(conn, prepared, source=f"made from the townships of {source}", approximate=True,
                    valid_from=valid_from, settings=settings)
    report.notes.append(f"no district boundaries are loaded: {len(made)} district(s) made from the "
                        f"townships ({', '.join(made['code'][:5])}); import districts to replace them")
    return current_jurisdictions(conn, "district", display=False)


def _check_townships_nest(conn: sa.Connection, frame: gpd.GeoDataFrame, report) -> None:
    orphans = conn.execute(
        sa.text("SELECT count(*) FROM jurisdiction WHERE level = 'township' AND valid_to IS NULL "
                "AND (parent_code IS NULL OR NOT parent_code = ANY(:codes))"),
        {"codes": frame["code"].tolist()}).scalar_one()
    if orphans:
        report.notes.append(f"{orphans} township(s) of the current set name a district this set does not "
                            "hold: import the townships again, without their parent codes to give each "
                            "the district it overlaps most")


def _fill_parents(frame: gpd.GeoDataFrame, districts: gpd.GeoDataFrame, settings: Settings,
                  report) -> None:
    missing = frame["parent_code"].isna()
    if not missing.any():
        return
    found = assign_parents(frame.loc[missing], districts, settings.metric_crs)
    frame.loc[missing, "parent_code"] = found
    report.notes.append(f"{int(missing.sum())} township(s) given the district they overlap most")


def _close(conn: sa.Connection, set_id: int, valid_to: datetime) -> None:
    conn.execute(sa.text("UPDATE boundary_set SET valid_to = :t WHERE id = :id"),
                 {"t": valid_to, "id": set_id})
    conn.execute(sa.text("UPDATE jurisdiction SET valid_to = :t WHERE set_id = :id"),
                 {"t": valid_to, "id": set_id})


def _insert_units(conn: sa.Connection, set_id: int, frame: gpd.GeoDataFrame, *, source: str,
                  approximate: bool, valid_from: datetime) -> None:
    rows = [
        {
            "set_id": set_id, "code": r.code, "name": r.name, "level": r.level,
            "kind": r.kind, "parent_code": r.parent_code, "source": source,
            "approximate": approximate, "area_km2": float(r.area_km2),
            "valid_from": valid_from, "geom": shapely.to_wkb(r.geometry),
            "geom_display": shapely.to_wkb(r.geom_display),
        }
        for r in frame.itertuples()
    ]
    conn.execute(
        sa.text("INSERT INTO jurisdiction (set_id, code, name, level, kind, parent_code, source, "
                "approximate, area_km2, valid_from, geom, geom_display) VALUES (:set_id, :code, "
                ":name, :level, :kind, :parent_code, :source, :approximate, :area_km2, :valid_from, "
                "ST_GeomFromWKB(:geom, 4326), ST_GeomFromWKB(:geom_display, 4326))"),
        rows,
    )


def current_jurisdictions(bind: Bind, level: str, *, display: bool = True,
                          at: datetime | None = None) -> gpd.GeoDataFrame:
    """Read the jurisdictions of a level, as they are now or were at a moment.

    Parameters
    ----------
    bind : Engine or Connection
        The database.
    level : {"district", "township"}
        Which level.
    display : bool
        Return the simplified display outline (for maps) instead of the exact polygon.
    at : datetime, optional
        The moment whose boundaries to return; the current set when omitted.

    Returns
    -------
    geopandas.GeoDataFrame
        ``code, name, level, kind, parent_code, approximate, area_km2, set_id`` and the
        geometry, in WGS84, ordered by code.
    """
    if level not in LEVELS:
        raise BoundaryError(f"level was {level!r} but is expected to be one of {LEVELS}")
    column = "geom_display" if display else "geom"
    when = "valid_to IS NULL" if at is None else (
        "valid_from <= :at AND (valid_to IS NULL OR valid_to > :at)")
    sql = (f"SELECT code, name, level, kind, parent_code, approximate, area_km2, set_id, "
           f"{column} AS geometry FROM jurisdiction WHERE level = :level AND {when} ORDER BY code")
    with transaction(bind) as conn:
        return gpd.read_postgis(sa.text(sql), conn, geom_col="geometry",
                                params={"level": level, "at": at})


def boundary_sets(bind: Bind) -> pd.DataFrame:
    """List every boundary set, newest first, with its period and size."""
    with transaction(bind) as conn:
        return pd.read_sql(
            sa.text("SELECT id, level, source, approximate, feature_count, loaded_at, valid_from, "
                    "valid_to FROM boundary_set ORDER BY level, valid_from DESC, id DESC"),
            conn,
        )


def has_boundaries(bind: Bind, level: str) -> bool:
    """Tell whether a current set of the level is loaded."""
    try:
        with transaction(bind) as conn:
            return conn.execute(
                sa.text("SELECT EXISTS (SELECT 1 FROM boundary_set WHERE level = :level "
                        "AND valid_to IS NULL)"), {"level": level},
            ).scalar_one()
    except sa.exc.ProgrammingError:
        raise DatabaseError("the schema is missing; run `python -m geo db upgrade`") from None
