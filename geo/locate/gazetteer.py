"""Locate complaints that carry only an address, by the names of townships and communities.

The gazetteer is the city's (its profile's ``[gazetteer]``): Beijing's is built from the shipped
reference points (``boundaries/sources``): 2,331 communities (社区 and 村) and the townships
(街道, 地区, 乡, 镇), each under its full name and its name without the suffix, plus the 16
districts. A city without one is located by its loaded townships' and districts' own names, a
township's point being a point inside it. An address is matched by Aho-Corasick (one pass over
the text for every name at once, letters compared in lower case); a name inside a longer
matched name is ignored.

- A community that matches gives the community's point: precision ``community``.
- Otherwise a township that matches gives the township's point: precision ``township``
  (such a complaint counts for its township, never for a cell).
- A name shared by several places (108 community names recur) is narrowed by the district
  and the township named in the address; when that leaves more than one, the address is
  ambiguous and the row is rejected with the candidates named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import ahocorasick
import numpy as np
import pandas as pd
import shapely

from geo.errors import ValidationError
from geo.locate.boundaries import BoundaryIndex, Version
from geo.settings import load_settings
from geo.strings import string_series

_OFFICE = re.compile(r"(居民委员会|村民委员会|居委会|村委会|办事处)$")
_TOWNSHIP_SUFFIX = re.compile(r"(街道|地区|乡|镇)$")
_COMMUNITY_SUFFIX = re.compile(r"(社区|村)$")
_DISTRICT_SUFFIX = re.compile(r"区$")
_MIN_STEM = 2


@dataclass(frozen=True)
class Place:
    """A named place of the gazetteer."""

    level: str
    name: str
    code: str
    township_code: str | None
    district: str
    lon: float
    lat: float


@dataclass(frozen=True)
class Matches:
    """The result of geocoding addresses, one entry per address."""

    precision: np.ndarray
    """``community``, ``township`` or None when the address could not be used."""
    lon: np.ndarray
    lat: np.ndarray
    township_code: np.ndarray
    """The township, for township precision (a community's township comes from its point)."""
    reason: np.ndarray
    """Why an address could not be used, else None."""


def _keys(name: str, suffix: re.Pattern) -> set[str]:
    full = _OFFICE.sub("", name.strip())
    keys = {full}
    stem = suffix.sub("", full)
    if len(stem) >= _MIN_STEM:
        keys.add(stem)
    return keys


@dataclass(frozen=True)
class Gazetteer:
    """The names an address is matched against, and the places they refer to."""

    automaton: ahocorasick.Automaton
    places: tuple[Place, ...]
    township_names: dict[str, str]


def gazetteer(boundaries: BoundaryIndex | None = None) -> Gazetteer:
    """The city's gazetteer: its profile's files, else the names of the loaded boundaries.

    Parameters
    ----------
    boundaries : BoundaryIndex, optional
        The loaded boundary sets, for a city whose profile names no gazetteer files (their
        newest township and district sets give the names).

    Raises
    ------
    ValidationError
        When the files cannot be read, or the city has neither files nor boundaries.
    """
    city = load_settings().city
    if city.gazetteer:
        files = [(path, path.stat().st_mtime_ns if path.is_file() else None) for path in city.gazetteer]
        missing = [str(path) for path, stamp in files if stamp is None]
        if missing:
            raise ValidationError(f"{city.path}: the gazetteer file {missing[0]} is not there")
        return _from_files(tuple(files))
    if boundaries is None or not boundaries.versions.get("township"):
        raise ValidationError("addresses are located by the townships' names: load the township boundaries first")
    towns = boundaries.versions["township"][-1]
    districts = boundaries.versions.get("district") or []
    return _from_units(towns, districts[-1] if districts else None)


def community_points() -> pd.DataFrame:
    """The city's communities (社区/村) with their points: ``name, code, township_code, lon, lat``
    (empty for a city whose profile names no communities file)."""
    city = load_settings().city
    if len(city.gazetteer) < 2:
        return pd.DataFrame(columns=["name", "code", "township_code", "lon", "lat"])
    places = gazetteer().places
    return pd.DataFrame([(p.name, p.code, p.township_code, p.lon, p.lat) for p in places if p.level == "community"],
                        columns=["name", "code", "township_code", "lon", "lat"])


@lru_cache(maxsize=4)
def _from_files(files: tuple[tuple[Path, int], ...]) -> Gazetteer:
    paths = [path for path, _stamp in files]
    towns = _read(paths[0], ("code", "name", "district", "lon", "lat"))
    towns = towns[towns["lon"].notna() & towns["lat"].notna()]
    places = [Place("township", row.name, row.code, row.code, row.district, float(row.lon), float(row.lat))
              for row in towns.itertuples(index=False)]
    found = _read(paths[1], ("name", "district", "lon", "lat")) if len(paths) > 1 else pd.DataFrame(
        columns=["code", "township_code", "name", "district", "lon", "lat"])
    # The national statistical codes: a community's 12 digits begin with its township's 9.
    township_of = found["township_code"] if "township_code" in found else found["parent_town_code12"].str[:9]
    code = found["code"] if "code" in found else found["code12"]
    for name, code_, town, district, lon, lat in zip(found["name"], code, township_of, found["district"],
                                                     found["lon"].astype(float), found["lat"].astype(float),
                                                     strict=True):
        places.append(Place("community", _OFFICE.sub("", name), code_, town, district, lon, lat))
    for district in sorted(set(towns["district"]) | set(found["district"])):
        places.append(Place("district", district, district, None, district, np.nan, np.nan))
    return _build(places)


def _read(path: Path, needed: tuple[str, ...]) -> pd.DataFrame:
    try:
        found = pd.read_csv(path, dtype=str)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValidationError(f"cannot read the gazetteer file {path}: {exc}") from None
    missing = [c for c in needed if c not in found.columns]
    if missing:
        raise ValidationError(f"the gazetteer file {path} has no column {', '.join(missing)}")
    return found


_UNITS: dict[tuple, Gazetteer] = {}


def _from_units(towns: Version, districts: Version | None) -> Gazetteer:
    key = (towns.set_id, districts.set_id if districts is not None else None)
    if key not in _UNITS:
        names = districts.names if districts is not None else {}
        inside = shapely.point_on_surface(towns.polygons)
        places = [Place("township", towns.names.get(code, code), code, code,
                        names.get(towns.parents.get(code) or "", ""), float(point.x), float(point.y))
                  for code, point in zip(towns.codes, inside, strict=True)]
        places += [Place("district", name, code, None, name, np.nan, np.nan) for code, name in names.items()]
        _UNITS.clear()  # one set at a time: a new set replaces it
        _UNITS[key] = _build(places)
    return _UNITS[key]


def _build(places: list[Place]) -> Gazetteer:
    by_key: dict[str, list[int]] = {}
    for index, place in enumerate(places):
        suffix = {"township": _TOWNSHIP_SUFFIX, "community": _COMMUNITY_SUFFIX,
                  "district": _DISTRICT_SUFFIX}[place.level]
        for key in _keys(place.name, suffix):
            by_key.setdefault(key.lower(), []).append(index)
    automaton = ahocorasick.Automaton()
    for key, indices in by_key.items():
        automaton.add_word(key, (len(key), tuple(indices)))
    automaton.make_automaton()
    names = {p.code: p.name for p in places if p.level == "township"}
    return Gazetteer(automaton, tuple(places), names)


def geocode(addresses: pd.Series, places: Gazetteer | None = None) -> Matches:
    """Locate addresses by the township and community names they contain.

    Parameters
    ----------
    addresses : pandas.Series of str
        Address texts (e.g. ``"北京市西城区广安门外街道三里河社区3号楼"``); NA allowed.
    places : Gazetteer, optional
        The gazetteer (:func:`gazetteer`); the city's files when omitted.

    Returns
    -------
    Matches
        Per address: precision, WGS84 point, township (for township precision) and, when
        it could not be used, the reason.
    """
    if not isinstance(addresses, pd.Series):
        raise ValidationError("geocode expects a pandas Series of address texts")
    text = string_series(addresses)
    codes, uniques = pd.factorize(text)
    known_places = gazetteer() if places is None and len(uniques) else places
    # One lookup per distinct address: callers repeat addresses, and a year holds many repeats.
    resolved = [_resolve(address, known_places) for address in uniques]
    size = len(text)
    precision = np.full(size, None, dtype=object)
    lon = np.full(size, np.nan)
    lat = np.full(size, np.nan)
    township = np.full(size, None, dtype=object)
    reason = np.full(size, "address is missing", dtype=object)
    known = codes >= 0
    if resolved:
        table = pd.DataFrame(resolved, columns=["precision", "lon", "lat", "township", "reason"])
        picked = table.iloc[codes[known]]
        precision[known] = picked["precision"].to_numpy()
        lon[known] = picked["lon"].to_numpy(dtype=float)
        lat[known] = picked["lat"].to_numpy(dtype=float)
        township[known] = picked["township"].to_numpy()
        reason[known] = picked["reason"].to_numpy()
    for column in (precision, township, reason):
        column[pd.isna(column)] = None
    return Matches(precision, lon, lat, township, reason)


def _resolve(address: str, known: Gazetteer) -> tuple:
    places = known.places
    spans = [(end - length + 1, end, indices) for end, (length, indices) in known.automaton.iter(address.lower())]
    # A name inside a longer matched name ("三里河" inside "三里河社区") is not a match of its own.
    spans = [s for s in spans if not any(o[0] <= s[0] and s[1] <= o[1] and (o[1] - o[0]) > (s[1] - s[0])
                                         for o in spans)]
    found = [places[i] for _, _, indices in spans for i in indices]
    districts = {p.district for p in found if p.level == "district"}
    towns = [p for p in found if p.level == "township"]
    if districts:
        towns = [p for p in towns if p.district in districts] or towns
    town_codes = {p.code for p in towns}
    communities = [p for p in found if p.level == "community"]
    if districts:
        communities = [p for p in communities if p.district in districts]
    if town_codes:
        communities = [p for p in communities if p.township_code in town_codes] or communities
    points = {(p.lon, p.lat): p for p in communities}
    if len(points) == 1:
        place = next(iter(points.values()))
        return "community", place.lon, place.lat, None, None
    if len(points) > 1:
        return None, np.nan, np.nan, None, _ambiguous(address, list(points.values()), known)
    unique_towns = {p.code: p for p in towns}
    if len(unique_towns) == 1:
        place = next(iter(unique_towns.values()))
        return "township", place.lon, place.lat, place.code, None
    if len(unique_towns) > 1:
        return None, np.nan, np.nan, None, _ambiguous(address, list(unique_towns.values()), known)
    return None, np.nan, np.nan, None, (
        f"address {_short(address)} names no known township or community; give coordinates, or "
        "the township (街道/乡/镇) or community (社区/村) name")


def _ambiguous(address: str, places: list[Place], known: Gazetteer) -> str:
    named = "; ".join(sorted(f"{p.name} in {_town_name(p, known)}{p.district}" for p in places)[:4])
    return (f"address {_short(address)} is ambiguous: it could be {named}; add the district or "
            "township to the address")


def _town_name(place: Place, known: Gazetteer) -> str:
    if place.level == "township":
        return ""
    name = known.township_names.get(place.township_code or "")
    return f"{name}, " if name else ""


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")
