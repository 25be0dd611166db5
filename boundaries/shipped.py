"""Load the boundaries shipped in this folder (real districts, approximate townships)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import geopandas as gpd

from boundaries.build import DISTRICT_SOURCE, DISTRICTS_FILE, TOWNSHIP_SOURCE, TOWNSHIPS_FILE
from geo.locate.jurisdictions import PreparedBoundaries, prepare_boundaries
from geo.locate.jurisdictions_db import LoadedSet, has_boundaries, load_boundaries
from geo.settings import Settings, load_settings
from geo.store.engine import Bind

# The shipped sets stand for all time until an official set replaces them, so that
# complaints of any date can be located before official polygons arrive.
# The shipped polygons are Beijing's, valid from 2000 in its zone.
SHIPPED_VALID_FROM = datetime(2000, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))


SHIPPED = {"district": (DISTRICTS_FILE, DISTRICT_SOURCE, False), "township": (TOWNSHIPS_FILE, TOWNSHIP_SOURCE, True)}
"""Per level: the shipped file, its source and whether its polygons are approximate."""


def prepare_shipped(level: str, settings: Settings | None = None) -> PreparedBoundaries:
    """The shipped set of ``level`` read from its file and checked, as it is loaded (no database).

    Parameters
    ----------
    level : str
        ``district`` or ``township``.
    settings : Settings, optional
        Tolerances and the metric CRS; read from the environment when omitted.
    """
    settings = settings or load_settings()
    frame = gpd.read_file(SHIPPED[level][0])
    keep = ["code", "name", "geometry"] + (["parent_code"] if "parent_code" in frame else [])
    return prepare_boundaries(frame[keep], level=level, metric_crs=settings.metric_crs,
                              overlap_tolerance_m2=settings.overlap_tolerance_m2,
                              display_tolerance_m=settings.display_tolerance_m)


def load_shipped(bind: Bind, *, settings: Settings | None = None, only_if_empty: bool = True
                 ) -> list[LoadedSet]:
    """Load the shipped district and township sets.

    Parameters
    ----------
    bind : Engine or Connection
        The database.
    settings : Settings, optional
        Tolerances; read from the environment when omitted.
    only_if_empty : bool
        Skip a level that already has a current set (what ``make run`` wants).

    Returns
    -------
    list of LoadedSet
        One per level loaded (empty when both were there already).
    """
    settings = settings or load_settings()
    loaded = []
    for level, (_path, source, approximate) in SHIPPED.items():
        present = has_boundaries(bind, level)
        if only_if_empty and present:
            continue
        prepared = prepare_shipped(level, settings)
        loaded.append(load_boundaries(bind, prepared, source=source, approximate=approximate,
                                      valid_from=None if present else SHIPPED_VALID_FROM,
                                      settings=settings))
    return loaded
