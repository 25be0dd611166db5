"""Locate complaints that carry only an address, by the names of townships and communities.

The gazetteer is built from the shipped reference points (``boundaries/sources``): 2,331
communities (社区 and 村) and the townships (街道, 地区, 乡, 镇), each under its full name and its
name without the suffix, plus the 16 districts. An address is matched by Aho-Corasick (one
pass over the text for every name at once); a name inside a longer matched name is ignored.

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
from functools import cache

import ahocorasick
import numpy as np
import pandas as pd

from geo.errors import ValidationError
from geo.settings import PROJECT_ROOT

SOURCES = PROJECT_ROOT / "boundaries" / "sources"
COMMUNITIES_FILE = SOURCES / "beijing_community_points.csv"
TOWNSHIPS_FILE = SOURCES / "beijing_township_points.csv"
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


@cache
def gazetteer() -> tuple[ahocorasick.Automaton, tuple[Place, ...]]:
    """Build the automaton over every name; return it with the places it refers to."""
    towns = pd.read_csv(TOWNSHIPS_FILE, dtype={"code": str})
    towns = towns[towns["lon"].notna() & towns["lat"].notna()]
    communities = pd.read_csv(COMMUNITIES_FILE, dtype={"code12": str, "parent_town_code12": str})
    places: list[Place] = []
    for row in towns.itertuples(index=False):
        places.append(Place("township", row.name, row.code, row.code, row.district, row.lon, row.lat))
    for row in communities.itertuples(index=False):
        places.append(Place("community", _OFFICE.sub("", row.name), row.code12, row.parent_town_code12[:9],
                            row.district, row.lon, row.lat))
    for district in sorted(set(towns["district"]) | set(communities["district"])):
        places.append(Place("district", district, district, None, district, np.nan, np.nan))
    by_key: dict[str, list[int]] = {}
    for index, place in enumerate(places):
        suffix = {"township": _TOWNSHIP_SUFFIX, "community": _COMMUNITY_SUFFIX,
                  "district": _DISTRICT_SUFFIX}[place.level]
        for key in _keys(place.name, suffix):
            by_key.setdefault(key, []).append(index)
    automaton = ahocorasick.Automaton()
    for key, indices in by_key.items():
        automaton.add_word(key, (len(key), tuple(indices)))
    automaton.make_automaton()
    return automaton, tuple(places)


def geocode(addresses: pd.Series) -> Matches:
    """Locate addresses by the township and community names they contain.

    Parameters
    ----------
    addresses : pandas.Series of str
        Address texts (e.g. ``"北京市西城区广安门外街道三里河社区3号楼"``); NA allowed.

    Returns
    -------
    Matches
        Per address: precision, WGS84 point, township (for township precision) and, when
        it could not be used, the reason.
    """
    if not isinstance(addresses, pd.Series):
        raise ValidationError("geocode expects a pandas Series of address texts")
    text = addresses.astype("string")
    codes, uniques = pd.factorize(text)
    # One lookup per distinct address: callers repeat addresses, and a year holds many repeats.
    resolved = [_resolve(address) for address in uniques]
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


def _resolve(address: str) -> tuple:
    automaton, places = gazetteer()
    spans = [(end - length + 1, end, indices) for end, (length, indices) in automaton.iter(address)]
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
        return None, np.nan, np.nan, None, _ambiguous(address, list(points.values()))
    unique_towns = {p.code: p for p in towns}
    if len(unique_towns) == 1:
        place = next(iter(unique_towns.values()))
        return "township", place.lon, place.lat, place.code, None
    if len(unique_towns) > 1:
        return None, np.nan, np.nan, None, _ambiguous(address, list(unique_towns.values()))
    return None, np.nan, np.nan, None, (
        f"address {_short(address)} names no known township or community; give coordinates, or "
        "the township (街道/乡/镇) or community (社区/村) name")


def _ambiguous(address: str, places: list[Place]) -> str:
    named = "; ".join(sorted(f"{p.name} in {_town_name(p)}{p.district}" for p in places)[:4])
    return (f"address {_short(address)} is ambiguous: it could be {named}; add the district or "
            "township to the address")


@cache
def _township_names() -> dict[str, str]:
    _, places = gazetteer()
    return {p.code: p.name for p in places if p.level == "township"}


def _town_name(place: Place) -> str:
    if place.level == "township":
        return ""
    name = _township_names().get(place.township_code or "")
    return f"{name}, " if name else ""


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")
