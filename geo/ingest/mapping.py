"""Column mappings: another system's export loads without editing it.

A mapping names, for each field of a complaint, the column that holds it in the file. It is
a small YAML or JSON file, or ``--map field=column`` options on the command line::

    columns:
      id: 工单编号
      received_at: 受理时间
      lon: 经度
      lat: 纬度
    crs: gcj02            # the coordinate system of lon/lat when no crs column says it
    timezone: Asia/Shanghai

A field that is not mapped is looked for under its own name.
"""

from __future__ import annotations

import json
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
    """

    columns: dict[str, str] = field(default_factory=dict)
    crs: str = "wgs84"
    timezone: str = field(default_factory=lambda: load_settings().timezone)

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

    def column(self, name: str) -> str:
        """Return the file's column for the field ``name``."""
        return self.columns.get(name, name)

    def with_options(self, pairs: list[str] | None = None, crs: str | None = None) -> Mapping:
        """Return this mapping with ``field=column`` pairs and a coordinate system added."""
        columns = dict(self.columns)
        for pair in pairs or []:
            name, sep, column = pair.partition("=")
            if not sep or not name.strip() or not column.strip():
                raise ValidationError(f"--map expects field=column, got {pair!r}")
            columns[name.strip()] = column.strip()
        return Mapping(columns, crs or self.crs, self.timezone)


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
    extra = sorted(set(data) - {"columns", "crs", "timezone"})
    if extra:
        raise ValidationError(f"mapping file {path} has unknown entries {extra}")
    columns = data.get("columns") or {}
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise ValidationError(f"mapping file {path}: 'columns' must map fields to column names")
    return Mapping(dict(columns), data.get("crs", "wgs84"), data.get("timezone") or load_settings().timezone)
