"""The boundary sets that complaints are located against, with their cell tables.

Read from the database by :func:`geo.locate.boundaries_db.boundary_index`.

Boundaries are versioned: a complaint is located against the set that was valid when it was
received. Each set's :class:`~geo.locate.cells.CellTable` takes a second or two to build, so it is
kept on disk under ``var/cache`` keyed by the set and a digest of its polygons: a day's
ingest in a fresh process then starts in milliseconds.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo.errors import ValidationError
from geo.locate.cells import DEFAULT_RESOLUTION, CellTable, assign, h3_cells

LEVELS = ("township", "district")
FAR_FUTURE = pd.Timestamp("2262-01-01", tz="UTC")


@dataclass
class Version:
    """One boundary set of one level."""

    set_id: int
    level: str
    valid_from: pd.Timestamp
    valid_to: pd.Timestamp
    codes: np.ndarray
    polygons: np.ndarray
    parents: dict[str, str | None]
    names: dict[str, str] = field(default_factory=dict)
    _table: CellTable | None = field(default=None, repr=False)

    def table(self, resolution: int, cache_dir: Path | None) -> CellTable:
        """Return the cell table of this set, from the disk cache when it is there."""
        if self._table is None or self._table.resolution != resolution:
            self._table = _cached_table(self, resolution, cache_dir)
        return self._table


@dataclass(frozen=True)
class Located:
    """Where each point is: cell, township, district, edge flag and the township set used."""

    h3: np.ndarray
    township_code: np.ndarray
    district_code: np.ndarray
    on_boundary: np.ndarray
    boundary_set_id: np.ndarray

    @property
    def inside(self) -> np.ndarray:
        """True for a point in the city: in a township, or at least in a district."""
        return pd.notna(self.township_code) | pd.notna(self.district_code)


class BoundaryIndex:
    """Every boundary set of the database, ready to locate points received at any time.

    Parameters
    ----------
    versions : dict
        ``{"township": [Version, ...], "district": [...]}``.
    resolution : int
        The base H3 resolution.
    cache_dir : Path, optional
        Where built cell tables are kept; none when omitted.
    """

    def __init__(self, versions: dict[str, list[Version]], resolution: int = DEFAULT_RESOLUTION,
                 cache_dir: Path | None = None) -> None:
        # Districts are optional: a township set imported without them makes a city-wide one
        # (geo.locate.jurisdictions_db), and a township's own parent code is its district.
        if not versions.get("township"):
            raise ValidationError("no township boundaries are loaded: run `python -m geo boundaries "
                                  "load-shipped` or `boundaries import` first")
        self.versions = versions
        self.resolution = resolution
        self.cache_dir = cache_dir
        # GEOS prepared geometries are not thread-safe (libgeos/geos#825): two ingests in
        # threads of one process (the app's sessions, a threaded worker) aborted the process
        # building one cell table at once. Locating is serialised per index.
        self._lock = threading.Lock()

    def _version_of(self, level: str, received: pd.Series | np.ndarray) -> np.ndarray:
        """Per moment, the position of the set valid then (the earliest set before any)."""
        starts = np.array([v.valid_from.value for v in self.versions[level]], dtype=np.int64)
        return np.clip(np.searchsorted(starts, _nanoseconds(received), side="right") - 1, 0, len(starts) - 1)

    def locate(self, lon: np.ndarray, lat: np.ndarray, received: pd.Series) -> Located:
        """Locate points received at the given moments.

        Parameters
        ----------
        lon, lat : numpy.ndarray
            WGS84 coordinates, all finite.
        received : pandas.Series of datetime64[ns, UTC]
            When each complaint was received.

        Returns
        -------
        Located
            Codes are None for a point outside every polygon of the set.
        """
        cells = h3_cells(lon, lat, self.resolution)
        received = _nanoseconds(received)  # once for the three look-ups of the sets valid then
        with self._lock:
            found = {level: self._assign(level, lon, lat, cells, received) for level in LEVELS
                     if self.versions.get(level)}
        township = found["township"]
        district = found.get("district", (np.full(lon.size, None, dtype=object), np.zeros(lon.size, bool)))
        # A point in a township is in its township's district: a sliver of the district layer
        # that does not nest the townships never sends it elsewhere, or outside the city.
        parents, _ = self.township_districts(township[0], received)
        codes = np.where(pd.notna(parents), parents, district[0])
        return Located(cells, township[0], codes, township[1] | district[1], township[2])

    def prepare(self, at: pd.Timestamp) -> None:
        """Build, or read from the disk cache, the cell tables of the sets valid at ``at``, which
        :meth:`locate` would otherwise build for the first point it is given (seconds on a fresh
        install, against milliseconds for a point).

        Parameters
        ----------
        at : pandas.Timestamp
            A moment with a zone: the sets valid then are prepared.
        """
        moment = pd.Series([pd.Timestamp(at).tz_convert("UTC")], dtype="datetime64[ns, UTC]")
        with self._lock:
            for level in LEVELS:
                if self.versions.get(level):
                    self.versions[level][int(self._version_of(level, moment)[0])].table(self.resolution, self.cache_dir)

    def _assign(self, level: str, lon: np.ndarray, lat: np.ndarray, cells: np.ndarray,
                received: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One level's codes, edge flags and set ids, each point against the set valid when received."""
        which = self._version_of(level, received)
        codes = np.full(lon.size, None, dtype=object)
        edge = np.zeros(lon.size, dtype=bool)
        set_ids = np.zeros(lon.size, dtype=np.int64)
        for position in np.unique(which):
            version = self.versions[level][position]
            rows = np.flatnonzero(which == position)
            table = version.table(self.resolution, self.cache_dir)
            result = assign(table, lon[rows], lat[rows], cells[rows])
            codes[rows] = result.codes(table)
            edge[rows] = result.on_boundary
            set_ids[rows] = version.set_id
        return codes, edge, set_ids

    def township_districts(self, townships: np.ndarray, received: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Return the district of each township code (None when unknown) and the set used."""
        which = self._version_of("township", received)
        districts = np.full(len(townships), None, dtype=object)
        set_ids = np.zeros(len(townships), dtype=np.int64)
        for position in np.unique(which):
            version = self.versions["township"][position]
            rows = np.flatnonzero(which == position)
            districts[rows] = [version.parents.get(code) for code in townships[rows]]
            set_ids[rows] = version.set_id
        return districts, set_ids


def _nanoseconds(received: pd.Series | np.ndarray) -> np.ndarray:
    """Moments (zoned, or already nanoseconds since the epoch in UTC) as nanoseconds since the epoch."""
    if isinstance(received, np.ndarray) and received.dtype == np.int64:
        return received
    # A zoned moment's integer is its UTC instant whatever the zone: no conversion needed.
    if not len(received):
        return np.empty(0, np.int64)
    values = received.array if isinstance(received, pd.Series) else pd.DatetimeIndex(received)
    return values.as_unit("ns").asi8


def _digest(version: Version, resolution: int) -> str:
    digest = hashlib.sha1(f"{version.set_id}:{resolution}:".encode())
    digest.update("\0".join(version.codes).encode())
    for wkb in shapely.to_wkb(version.polygons):
        digest.update(wkb)
    return digest.hexdigest()[:20]


def _cached_table(version: Version, resolution: int, cache_dir: Path | None) -> CellTable:
    if cache_dir is None:
        return CellTable.build(version.codes, version.polygons, resolution)
    path = cache_dir / f"cells-{version.level}-{_digest(version, resolution)}.npz"
    if path.is_file():
        try:
            return _load_table(path, version)
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # a torn or stale file: rebuild it
    table = CellTable.build(version.codes, version.polygons, resolution)
    cache_dir.mkdir(parents=True, exist_ok=True)
    # A name of its own: another process may be writing the same table at the same time.
    partial = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
    np.savez(partial, codes=table.codes, cells=table.cells, value=table.value, offsets=table.offsets,
             candidates=table.candidates, highs=table.highs, lut=table.lut,
             resolution=np.array(resolution))
    partial.replace(path)  # atomic: a concurrent reader never sees half a file
    return table


def _load_table(path: Path, version: Version) -> CellTable:
    with np.load(path, allow_pickle=False) as data:
        codes = data["codes"]
        order = {code: i for i, code in enumerate(version.codes)}
        polygons = version.polygons[[order[str(code)] for code in codes]]
        shapely.prepare(polygons)
        return CellTable(codes.astype(object).astype(str), polygons, int(data["resolution"]), data["cells"],
                         data["value"], data["offsets"], data["candidates"], data["highs"], data["lut"])
