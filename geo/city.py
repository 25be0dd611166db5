"""The city a deployment serves, from its profile: ``cities/<code>/city.toml``.

Everything that makes the platform Beijing's rather than another city's and is neither a rule
nor a table lives in the profile: the city's and its hotline's names, the zone its days are cut
in, the CRS its metres are measured in, the area its maps open on, and what it calls its levels.
``WHISTLE_CITY`` selects it (a code under ``cities/`` or the path of a ``city.toml``); Beijing
is the default. Read through :func:`geo.settings.load_settings` (``settings.city``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from geo.errors import ValidationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CITIES_DIR = PROJECT_ROOT / "cities"
DEFAULT_CITY = "beijing"
LEVELS = ("district", "township", "community")
"""The levels the platform knows, from the largest; a profile names each in its languages."""
CHANNEL_CODES = ("phone", "web", "wechat", "weibo", "app", "other")
"""The channels a complaint comes in by."""


@dataclass(frozen=True)
class LevelName:
    """What a city calls one of its levels."""

    zh: str
    en: str


@dataclass(frozen=True)
class City:
    """A city's profile (see ``cities/beijing/city.toml`` for each field)."""

    code: str
    name_zh: str
    name_en: str
    hotline_zh: str
    hotline_en: str
    timezone: str
    """An IANA zone: days, weeks and months are cut in it, and times are shown in it."""
    metric_crs: str
    """A projected CRS in metres (the profile's, or the UTM zone of the bounds' centre)."""
    bounds: tuple[float, float, float, float] | None
    """West, south, east, north in degrees (WGS84); None: the loaded townships' extent."""
    levels: dict[str, LevelName]
    channels: dict[str, str]
    """The city's own channel names (a value as written -> a channel code)."""
    path: Path
    default_points: tuple[tuple[float, float], ...] = ()
    """Points the city's systems write when they have no location (lon, lat as written)."""
    gazetteer: tuple[Path, ...] = ()
    """The files of named places addresses are located by: townships, then communities (none:
    the loaded townships' own names)."""
    language: str = "zh_CN"
    """The language the app and the reports speak unless a user chooses another."""

    @property
    def zone(self) -> ZoneInfo:
        """The city's zone as a ``tzinfo``."""
        return ZoneInfo(self.timezone)

    def day_of(self, moment: datetime) -> date:
        """The city's calendar day of an aware ``moment`` (after midnight in the city is the new
        day, whatever the date in UTC)."""
        if moment.tzinfo is None:
            raise ValidationError(f"the moment {moment.isoformat()} has no time zone")
        return moment.astimezone(self.zone).date()

    @property
    def map_bounds(self) -> list[list[float]] | None:
        """The bounds as folium fits them: ``[[south, west], [north, east]]`` (None without bounds)."""
        if self.bounds is None:
            return None
        west, south, east, north = self.bounds
        return [[south, west], [north, east]]

    def contains(self, lon: float, lat: float) -> bool:
        """True when a point lies within the bounds (any point, for a profile without them)."""
        if self.bounds is None:
            return True
        west, south, east, north = self.bounds
        return west <= lon <= east and south <= lat <= north


def city_file(selected: str | None = None) -> Path:
    """The profile that ``WHISTLE_CITY`` (``selected``) names: a code under ``cities/``, or the path
    of a ``city.toml`` or of the folder holding it. Beijing's when unset."""
    chosen = (selected or "").strip() or DEFAULT_CITY
    given = Path(chosen).expanduser()
    if given.suffix == ".toml":
        return given.resolve()
    if given.is_dir():
        return (given / "city.toml").resolve()
    if "/" not in chosen and chosen.replace("-", "").replace("_", "").isalnum():
        return CITIES_DIR / chosen / "city.toml"
    raise ValidationError(f"WHISTLE_CITY was {chosen!r}: neither a city under {CITIES_DIR} nor a city.toml")


def load_city(path: Path) -> City:
    """Read and check a city profile.

    Parameters
    ----------
    path : Path
        The ``city.toml``.

    Returns
    -------
    City

    Raises
    ------
    ValidationError
        Naming the file and the key, when the file is missing or a value is wrong.
    """
    try:
        status = path.stat()
    except OSError as exc:
        raise ValidationError(f"cannot read the city profile {path}: {exc}") from None
    # Checked once per version of the file: the settings are read for every batch.
    return _checked(path, status.st_mtime_ns, status.st_size)


@lru_cache(maxsize=16)
def _checked(path: Path, _mtime_ns: int, _size: int) -> City:
    from geo.rules import read_rules

    raw = read_rules(path, "city profile")
    where = str(path)
    text = {key: _text(raw, key, where) for key in ("code", "name_zh", "name_en", "hotline_zh", "hotline_en",
                                                     "timezone")}
    try:
        ZoneInfo(text["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{where}: timezone {text['timezone']!r} is not an IANA zone "
                              "(e.g. America/Los_Angeles)") from None
    bounds = _bounds(raw.get("bounds"), where) if raw.get("bounds") is not None else None
    metric_crs = _metric_crs(raw.get("metric_crs"), bounds, where)
    levels_raw = raw.get("levels") if isinstance(raw.get("levels"), dict) else {}
    levels = {}
    for level in LEVELS:
        names = levels_raw.get(level)
        if not isinstance(names, dict):
            raise ValidationError(f"{where}: no [levels.{level}] with zh and en names")
        levels[level] = LevelName(_text(names, "zh", f"{where} [levels.{level}]"),
                                  _text(names, "en", f"{where} [levels.{level}]"))
    channels = raw.get("channels", {})
    if not isinstance(channels, dict) or not all(isinstance(v, str) and v in CHANNEL_CODES for v in channels.values()):
        raise ValidationError(f"{where}: [channels] maps a channel's name to one of {', '.join(CHANNEL_CODES)}")
    return City(**text, metric_crs=metric_crs, bounds=bounds, levels=levels,
                channels={str(k).strip().lower(): v for k, v in channels.items()}, path=path,
                default_points=_points(raw.get("default_points", []), where),
                gazetteer=_gazetteer(raw.get("gazetteer"), path), language=_language(raw.get("language"), where))


def _language(value: object, where: str) -> str:
    from geo.i18n import check_language

    if value is None:
        return City.language
    try:
        return check_language(value)
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc}") from None


def _gazetteer(value: object, path: Path) -> tuple[Path, ...]:
    if value is None:
        return ()
    known = ("townships", "communities")
    if (not isinstance(value, dict) or "townships" not in value or set(value) - set(known)
            or not all(isinstance(v, str) for v in value.values())):
        raise ValidationError(f"{path}: [gazetteer] names the townships file and, optionally, the "
                              "communities file (paths relative to the profile)")
    files = [value["townships"]] + ([value["communities"]] if "communities" in value else [])
    return tuple((path.parent / name).resolve() for name in files)


def _points(value: object, where: str) -> tuple[tuple[float, float], ...]:
    pairs = value if isinstance(value, list) else None
    if pairs is None or not all(isinstance(p, list) and len(p) == 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in p) for p in pairs):
        raise ValidationError(f"{where}: default_points was {value!r}; it is a list of [lon, lat] pairs")
    return tuple((float(lon), float(lat)) for lon, lat in pairs)


def _text(table: dict, key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{where}: {key} is missing; it is a text")
    return value.strip()


def _bounds(value: object, where: str) -> tuple[float, float, float, float]:
    numbers = value if isinstance(value, list) and len(value) == 4 else None
    if numbers is None or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
        raise ValidationError(f"{where}: bounds was {value!r}; it is [west, south, east, north] in degrees")
    west, south, east, north = (float(v) for v in numbers)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise ValidationError(f"{where}: bounds {numbers} are not [west, south, east, north] in degrees "
                              "(west < east, south < north)")
    return west, south, east, north


def utm_crs(lon: float, lat: float) -> str:
    """The UTM zone of a point (WGS84 degrees), as ``EPSG:326xx`` (north) or ``EPSG:327xx`` (south),
    as geopandas' ``estimate_utm_crs`` picks it."""
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    found = query_utm_crs_info(datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat))
    return f"{found[0].auth_name}:{found[0].code}"


def _metric_crs(value: object, bounds: tuple[float, float, float, float] | None, where: str) -> str:
    import pyproj

    if value is None:
        if bounds is None:
            raise ValidationError(f"{where}: give bounds, or metric_crs (the projected CRS of its metres)")
        # The UTM zone of the area's centre.
        west, south, east, north = bounds
        return utm_crs((west + east) / 2, (south + north) / 2)
    try:
        crs = pyproj.CRS.from_user_input(value)
    except (pyproj.exceptions.CRSError, TypeError):
        raise ValidationError(f"{where}: metric_crs {value!r} is not a CRS (e.g. EPSG:32610)") from None
    if not crs.is_projected or crs.axis_info[0].unit_name not in ("metre", "meter"):
        raise ValidationError(f"{where}: metric_crs {value!r} is not a projected CRS in metres")
    return str(value)
