"""Column mappings: another system's export loads without editing it.

A mapping names, for each field of a complaint, the column that holds it in the file. It is
a small YAML or JSON file, or ``--map field=column`` options on the command line::

    columns:
      id: 工单编号
      received_at: 受理时间
      lon: 经度
      lat: 纬度
    crs: gcj02            # the coordinate system of lon/lat when no crs column says it
    timezone: America/Los_Angeles   # the zone of times without one (the city's by default)
    formats:              # how the file writes its times (strptime), where not ISO 8601
      received_at: "%m/%d/%Y %I:%M:%S %p"
    values:               # what the file's own values mean
      category: {Street and Sidewalk Cleaning: sanitation, Graffiti: city_appearance}
      resolved: {Closed: yes, Open: no}
      satisfaction: {Happy: satisfied}
      channel: {Mobile/Open311: app}

A field that is not mapped is looked for under its own name. A value a map does not name is
read as before (a category code or name, yes/no, ...); an ingest reports the category values it
could not place, with their counts, so that the map can be finished.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from geo.errors import ValidationError
from geo.locate.coords import coordinate_system
from geo.settings import load_settings

FIELDS: dict[str, str] = {
    "id": "the complaint's id in the source system (required)",
    "received_at": "when it was received; in the city's zone when none is given (required)",
    "channel": "phone, web, wechat, weibo or app",
    "category": "a category code or its Chinese or English name",
    "text": "the complaint's free text",
    "address": "the address as the caller gave it",
    "lon": "longitude",
    "lat": "latitude",
    "crs": "the coordinate system of lon/lat: wgs84, gcj02 or bd09",
    "accuracy": "how far the point may lie from the problem, in metres, as the channel measured it (a phone's GPS)",
    "footprint": "a line or polygon (WKT or GeoJSON), e.g. a road stretch or a building",
    "phone": "the caller's phone (stored only hashed and masked)",
    "dispatches": "the hand-offs, a JSON list of {at, unit, action}",
    "responded_at": "when the unit responded",
    "resolved": "yes or no",
    "resolved_at": "when it was resolved",
    "satisfaction": "satisfied, basically satisfied or unsatisfied",
}


@dataclass(frozen=True)
class Mapping:
    """Which column holds each field, and the defaults for the file.

    Attributes
    ----------
    columns : dict
        ``{field: column}`` for the fields whose column has another name.
    crs : str
        The coordinate system of the points when no ``crs`` column says otherwise.
    timezone : str
        The zone of times written without one.
    formats : dict
        ``{time field: strptime format}`` for times not written in ISO 8601 (a value the
        format does not fit is read as ISO 8601 still).
    values : dict
        ``{field: {value as written: what it means}}`` for ``category`` (a category code),
        ``channel`` (a channel code), ``resolved`` (yes or no) and ``satisfaction``.
    """

    columns: dict[str, str] = field(default_factory=dict)
    crs: str = "wgs84"
    timezone: str = field(default_factory=lambda: load_settings().timezone)
    formats: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.columns) - set(FIELDS))
        if unknown:
            raise ValidationError(f"the mapping names unknown fields {unknown}; the fields are "
                                  f"{', '.join(FIELDS)}")
        targets = list(self.columns.values())
        repeated = sorted({c for c in targets if targets.count(c) > 1})
        if repeated:
            raise ValidationError(f"the mapping gives columns {repeated} to more than one field")
        object.__setattr__(self, "crs", coordinate_system(self.crs))
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"time zone {self.timezone!r} is unknown (an IANA name, e.g. Europe/Paris)") from None
        object.__setattr__(self, "formats", _formats(self.formats))
        object.__setattr__(self, "values", _values(self.values))

    def column(self, name: str) -> str:
        """Return the file's column for the field ``name``."""
        return self.columns.get(name, name)

    def with_options(self, pairs: list[str] | None = None, crs: str | None = None,
                     timezone: str | None = None, formats: list[str] | None = None) -> Mapping:
        """Return this mapping with the command line's choices over the file's.

        Parameters
        ----------
        pairs : list of str, optional
            ``field=column`` (``--map``).
        crs, timezone : str, optional
            The coordinate system of lon/lat and the zone of times written without one.
        formats : list of str, optional
            ``field=strptime format`` (``--format received_at=%m/%d/%Y %I:%M:%S %p``).
        """
        columns = {**self.columns, **_pairs(pairs, "--map", "field=column")}
        written = {**self.formats, **_pairs(formats, "--format", "field=format")}
        return Mapping(columns, crs or self.crs, timezone or self.timezone, written, self.values)


def _pairs(pairs: list[str] | None, option: str, shape: str) -> dict[str, str]:
    found = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValidationError(f"{option} expects {shape}, got {pair!r}")
        found[name.strip()] = value.strip()
    return found


def load_mapping(path: Path | str | None) -> Mapping:
    """Read a mapping from a YAML or JSON file (the default mapping when ``path`` is None).

    Raises
    ------
    ValidationError
        If the file is missing, is not YAML/JSON, or names unknown fields.
    """
    if path is None:
        return Mapping()
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"mapping file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValidationError(f"mapping file {path} is not valid YAML or JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError(f"mapping file {path} must hold a mapping with a 'columns' entry")
    extra = sorted(set(data) - {"columns", "crs", "timezone", "formats", "values"})
    if extra:
        raise ValidationError(f"mapping file {path} has unknown entries {extra}")
    columns = data.get("columns") or {}
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise ValidationError(f"mapping file {path}: 'columns' must map fields to column names")
    try:
        return Mapping(dict(columns), data.get("crs", "wgs84"), data.get("timezone") or load_settings().timezone,
                       data.get("formats") or {}, data.get("values") or {})
    except ValidationError as exc:
        raise ValidationError(f"mapping file {path}: {exc}") from None


TIME_FIELDS = ("received_at", "responded_at", "resolved_at")
MAPPED_VALUES = ("category", "channel", "resolved", "satisfaction")


def _formats(formats: object) -> dict[str, str]:
    if not isinstance(formats, dict):
        raise ValidationError("formats must map time fields to strptime formats")
    unknown = sorted(set(formats) - set(TIME_FIELDS))
    if unknown:
        raise ValidationError(f"formats names {unknown}; times are {', '.join(TIME_FIELDS)}")
    for name, written in formats.items():
        directives = re.findall(r"%(.?)", written) if isinstance(written, str) else []
        if not directives or "\x00" in written or not set(directives) <= _DIRECTIVES:
            raise ValidationError(f"formats: {name} is {written!r}; it is a strptime format such as "
                                  "%m/%d/%Y %I:%M:%S %p (directives %" + " %".join(sorted(_DIRECTIVES)) + ")")
    return dict(formats)


_DIRECTIVES = set("aAbBdHIjmMpSyYzZ%")
"""The strptime directives a time's format may use (the ones Arrow's parser reads)."""


def _values(values: object) -> dict[str, dict]:
    """The value maps, their keys as look-ups compare them (trimmed, lower case) and each
    meaning checked: a category or channel code, yes/no (True/False), a satisfaction."""
    from geo.act.categories import categories
    from geo.city import CHANNEL_CODES
    from geo.ingest.validate import SATISFACTION, YES_NO

    if not isinstance(values, dict):
        raise ValidationError("values must map fields to {value: meaning} maps")
    if not values:
        return {}  # most mappings (and every API request's) map no values: nothing to read
    unknown = sorted(set(values) - set(MAPPED_VALUES))
    if unknown:
        raise ValidationError(f"values names {unknown}; the mapped fields are {', '.join(MAPPED_VALUES)}")
    allowed = {"category": set(categories()), "channel": set(CHANNEL_CODES),
               "satisfaction": set(SATISFACTION.values())}
    out: dict[str, dict] = {}
    for name, table in values.items():
        if not isinstance(table, dict):
            raise ValidationError(f"values: {name} must map values as written to what they mean")
        meant: dict = {}
        for written, meaning in table.items():
            key = str(written).strip().lower()
            if name == "resolved":
                # Read as the resolved column itself is (YAML reads yes and no as booleans).
                said = str(meaning).strip().lower()
                if said not in YES_NO:
                    raise ValidationError(f"values: resolved {written!r} means {meaning!r}; it means yes or no")
                meant[key] = YES_NO[said]
            elif name == "satisfaction" and isinstance(meaning, str) and meaning.strip().lower() in SATISFACTION:
                # Any way the satisfaction column itself may say it ("basically satisfied", 基本满意).
                meant[key] = SATISFACTION[meaning.strip().lower()]
            elif not isinstance(meaning, str) or meaning not in allowed[name]:
                raise ValidationError(f"values: {name} {written!r} means {meaning!r}, which is not a {name} code "
                                      f"(e.g. {', '.join(sorted(allowed[name])[:4])})")
            else:
                meant[key] = meaning
        out[name] = meant
    return out
