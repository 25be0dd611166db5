"""Synthetic cities: another hotline's profile, polygons and export, made from nothing.

The second city of issue 20, to run the whole platform on a city that is not Beijing: another
UTM zone, another time zone, its own categories and value maps, an export written the way an
open 311 system writes it. A city is a grid of square townships laid out in metres in its own
UTM zone, with a known truth planted in it:

- a **hot spot**: a dense cloud over the third township;
- **points near a line** at known distances (in metres, in the city's UTM zone) either side of
  the line between two townships, a few inside the near-the-line distance and a few outside;
- an **emergency on a line** (one complaint of an emergency category 10 m from it);
- a **cluster across a line** (complaints either side of the line between two townships);
- **"not ours" ping-pong**: complaints handed back and forth between two neighbours;
- a **real gap**: a square hole in one township that no township covers;
- **districts that do not nest**: the line between the two districts runs a strip east of the
  townships' line, so a strip of townships lies in the other district's polygon.

:func:`write_city` writes the profile (unless the city is Beijing's, which has one), its tables,
the polygons as GeoJSON, the export as CSV and its mapping as YAML; the truth comes back as data.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml
from pyproj import Transformer

from geo.city import utm_crs

TOWNSHIP_M = 1200.0
"""The side of a township, in metres."""
COLUMNS, ROWS = 4, 3
HOLE_M = 150.0
"""The side of the hole no township covers (22,500 m², above the 10,000 m² gap tolerance)."""
STRIP_M = 40.0
"""How far east of the townships' line the districts' line runs."""
NEAR_OFFSETS_M = (-45.0, -20.0, -5.0, 12.0, 30.0, 49.5, 50.5, -70.0, 95.0)
NEAR_ACCURACY_M = (60.0, 25.0, None, 8.0, 35.0, 60.0, 60.0, 80.0, 60.0)
"""The accuracy each of those points is sent with (None: the default of a GPS fix): a point is
near the line only when its accuracy reaches it, within the rules' distance."""
"""Signed distances from the line between townships (0, 1) and (1, 1); 50 m is the rule."""


@dataclass(frozen=True)
class Category:
    """One category of the city's own table, and the value its export writes for it."""

    written: str
    code: str
    name_zh: str
    name_en: str
    theme: str
    departments: str
    enforcement: bool = False
    emergency: bool = False


@dataclass(frozen=True)
class CitySpec:
    """What makes one synthetic city: where it is, its zone, its words and what its export holds."""

    code: str
    name_zh: str
    name_en: str
    timezone: str
    centre: tuple[float, float]
    townships: tuple[str, ...]
    categories: tuple[Category, ...]
    departments: dict[str, tuple[str, str]]
    time_format: str
    rates: bool = True
    districts: bool = True
    profile: bool = True
    """False for Beijing, which ships its profile and tables."""
    bounds: bool = True
    """False: the profile gives its metric CRS instead, and the maps open on the townships."""
    channels: dict[str, str] = field(default_factory=lambda: {"Phone": "phone", "Web": "web",
                                                              "Mobile/Open311": "app"})
    language: str = "en"
    """The language its app and reports speak (its profile's ``language``)."""


@dataclass(frozen=True)
class SyntheticCity:
    """A city written to a folder, and its truth."""

    spec: CitySpec
    folder: Path
    profile: Path
    metric_crs: str
    townships: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame | None
    export: Path
    mapping: Path
    truth: dict

    @property
    def env(self) -> dict[str, str]:
        """The environment that selects the city (``WHISTLE_CITY``)."""
        return {"WHISTLE_CITY": str(self.profile)}


_DEPARTMENTS = {"public_works": ("公共工程局", "Public works"), "police": ("警察局", "Police"),
                "fire": ("消防局", "Fire department"), "township_office": ("街区办公室", "Neighborhood office")}

BAY = CitySpec(
    code="bay", name_zh="湾城", name_en="Bay City", timezone="America/Los_Angeles", centre=(-122.44, 37.76),
    townships=("Mission", "Castro", "Noe Valley", "Bernal Heights", "Haight", "Duboce", "SoMa", "Potrero",
               "Richmond", "Presidio", "Marina", "North Beach"),
    categories=(
        Category("Street and Sidewalk Cleaning", "street_cleaning", "街道清扫", "Street cleaning", "sanitation",
                 "public_works;township_office"),
        Category("Graffiti", "graffiti", "涂鸦", "Graffiti", "appearance", "public_works"),
        Category("Noise Report", "noise", "噪音", "Noise", "environment", "police;township_office",
                 enforcement=True),
        Category("Gas Leak", "gas_leak", "燃气泄漏", "Gas leak", "safety", "fire;public_works", emergency=True),
        Category("General Request", "unclassified", "未分类", "Unclassified", "other", "township_office"),
    ),
    departments=_DEPARTMENTS, time_format="%m/%d/%Y %I:%M:%S %p")

SOUTH = CitySpec(
    code="sul", name_zh="南城", name_en="Cidade do Sul", timezone="America/Sao_Paulo", centre=(-46.63, -23.55),
    townships=("Sé", "Liberdade", "Bela Vista", "Consolação", "Bom Retiro", "Santa Cecília", "Cambuci",
               "Mooca", "Brás", "Pari", "República", "Aclimação"),
    categories=(
        Category("Limpeza urbana", "limpeza", "城市清洁", "Street cleaning", "sanitation", "obras;township_office"),
        Category("Buraco na via", "buraco", "路面坑洞", "Pothole", "roads", "obras"),
        Category("Barulho", "barulho", "噪音", "Noise", "environment", "policia;township_office", enforcement=True),
        Category("Vazamento de gás", "gas", "燃气泄漏", "Gas leak", "safety", "bombeiros;obras", emergency=True),
        Category("Outros", "unclassified", "未分类", "Unclassified", "other", "township_office"),
    ),
    departments={"obras": ("市政工程局", "Public works"), "policia": ("警察局", "Police"),
                 "bombeiros": ("消防局", "Fire brigade"), "township_office": ("街区办公室", "District office")},
    time_format="%d/%m/%Y %H:%M", rates=False, districts=False, bounds=False)

BEIJING_GRID = CitySpec(
    code="beijing", name_zh="北京市", name_en="Beijing", timezone="Asia/Shanghai", centre=(116.40, 39.90),
    townships=tuple(f"格{n}街道" for n in "一二三四五六七八九十甲乙"),
    categories=(
        Category("施工噪音", "construction_noise", "", "", "", ""),
        Category("违章停车", "illegal_parking", "", "", "", ""),
        Category("垃圾清运", "garbage_collection", "", "", "", ""),
        Category("燃气泄漏", "gas_leak", "", "", "", "", emergency=True),
        Category("其他问题", "unclassified", "", "", "", ""),
    ),
    departments={}, time_format="%Y/%m/%d %H:%M:%S", profile=False, language="zh_CN",
    channels={"电话": "phone", "网站": "web", "北京通": "app"})

CITIES = {spec.code: spec for spec in (BEIJING_GRID, BAY, SOUTH)}


def write_city(spec: CitySpec, folder: Path, *, start: str = "2026-10-01", days: int = 45, per_day: int = 40,
               seed: int = 3) -> SyntheticCity:
    """Write a synthetic city to ``folder``.

    Parameters
    ----------
    spec : CitySpec
        The city.
    folder : Path
        Where its profile, tables, polygons, export and mapping go (made if missing).
    start : str
        The first day of the export, in the city's zone.
    days, per_day : int
        How long the export runs and its background complaints a day.
    seed : int
        Seed of every random draw.

    Returns
    -------
    SyntheticCity
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    metric = utm_crs(*spec.centre)
    grid = _Grid(spec, metric)
    townships = grid.townships()
    districts = grid.districts() if spec.districts else None
    townships.to_file(folder / "townships.geojson", driver="GeoJSON")
    if districts is not None:
        districts.to_file(folder / "districts.geojson", driver="GeoJSON")
    profile = _write_profile(spec, folder) if spec.profile else _beijing_profile()
    first = pd.Timestamp(start, tz=spec.timezone)
    rows, truth = _complaints(spec, grid, rng, first, days, per_day)
    truth.update(grid.truth())
    export = folder / "export.csv"
    _write_export(spec, rows, export)
    mapping = folder / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(_mapping(spec), allow_unicode=True, sort_keys=False), encoding="utf-8")
    return SyntheticCity(spec, folder, profile, metric, townships, districts, export, mapping, truth)


def _beijing_profile() -> Path:
    from geo.city import city_file

    return city_file("beijing")


class _Grid:
    """The townships laid out in the city's UTM zone; a corner shared by neighbours is projected
    from the same metres each time, so they share it exactly in WGS84."""

    def __init__(self, spec: CitySpec, metric: str) -> None:
        self.spec = spec
        self.metric = metric
        self.to_wgs = Transformer.from_crs(metric, "EPSG:4326", always_xy=True)
        self.to_metric = Transformer.from_crs("EPSG:4326", metric, always_xy=True)
        cx, cy = self.to_metric.transform(*spec.centre)
        self.x0 = cx - COLUMNS * TOWNSHIP_M / 2
        self.y0 = cy - ROWS * TOWNSHIP_M / 2

    def x(self, column: float) -> float:
        return self.x0 + column * TOWNSHIP_M

    def y(self, row: float) -> float:
        return self.y0 + row * TOWNSHIP_M

    def point(self, x: float, y: float) -> tuple[float, float]:
        """A point in the city's metres, as WGS84 lon/lat (the same metres give the same point)."""
        return self.to_wgs.transform(x, y)

    def code(self, column: int, row: int) -> str:
        return f"{self.spec.code}-{row * COLUMNS + column + 1:02d}"

    def townships(self) -> gpd.GeoDataFrame:
        codes, names, shapes = [], [], []
        for row in range(ROWS):
            for column in range(COLUMNS):
                ring = [self.point(self.x(c), self.y(r)) for c, r in
                        ((column, row), (column + 1, row), (column + 1, row + 1), (column, row + 1))]
                holes = [self._hole()] if (column, row) == (1, 1) else []
                codes.append(self.code(column, row))
                names.append(self.spec.townships[row * COLUMNS + column])
                shapes.append(shapely.Polygon(ring, holes))
        return gpd.GeoDataFrame({"code": codes, "name": names}, geometry=shapes, crs="EPSG:4326")

    def _hole(self) -> list[tuple[float, float]]:
        cx, cy = self.x(1.5), self.y(1.5)
        h = HOLE_M / 2
        return [self.point(cx + dx, cy + dy) for dx, dy in ((-h, -h), (-h, h), (h, h), (h, -h))]

    def districts(self) -> gpd.GeoDataFrame:
        split = self.x(2) + STRIP_M
        # Every township corner on a district's edge is one of its vertices too, so the outer
        # edges coincide exactly and only the strip and the hole differ.
        bottom = [self.point(self.x(c), self.y(0)) for c in range(COLUMNS + 1)]
        top = [self.point(self.x(c), self.y(ROWS)) for c in range(COLUMNS + 1)]
        left = [self.point(self.x(0), self.y(r)) for r in range(1, ROWS)]
        right = [self.point(self.x(COLUMNS), self.y(r)) for r in range(1, ROWS)]
        low, high = self.point(split, self.y(0)), self.point(split, self.y(ROWS))
        west = shapely.Polygon([*bottom[:3], low, high, *top[:3][::-1], *left[::-1]])
        east = shapely.Polygon([low, *bottom[3:], *right, *top[3:][::-1], high])
        return gpd.GeoDataFrame({"code": [f"{self.spec.code}-w", f"{self.spec.code}-e"],
                                 "name": [f"{self.spec.name_zh}西区", f"{self.spec.name_zh}东区"]},
                                geometry=[west, east], crs="EPSG:4326")

    def truth(self) -> dict:
        return {"hole_m2": HOLE_M ** 2, "strip_m2": STRIP_M * ROWS * TOWNSHIP_M,
                "hole_township": self.code(1, 1), "strip_township": self.code(2, 1),
                "townships": [self.code(c, r) for r in range(ROWS) for c in range(COLUMNS)]}


def _complaints(spec: CitySpec, grid: _Grid, rng: np.random.Generator, first: pd.Timestamp, days: int,
                per_day: int) -> tuple[list[dict], dict]:
    ordinary = [c for c in spec.categories if not c.emergency and c.code != "unclassified"]
    emergency = next(c for c in spec.categories if c.emergency)
    other = next(c for c in spec.categories if c.code == "unclassified")
    span = days * 86400
    rows: list[dict] = []

    def add(x: float, y: float, category: Category, at: pd.Timestamp, **extra) -> str:
        lon, lat = grid.point(x, y) if np.isfinite(x) else (None, None)
        ident = f"{spec.code.upper()}-{len(rows) + 1:06d}"
        rows.append({"id": ident, "x": x, "y": y, "lon": lon, "lat": lat, "category": category.written,
                     "at": at, **extra})
        return ident

    def moment(offset_s: float) -> pd.Timestamp:
        # Rounded in UTC: a local hour that repeats when clocks go back has no single floor.
        return (first + pd.Timedelta(seconds=float(offset_s))).tz_convert("UTC").floor("s").tz_convert(first.tz)

    count = days * per_day
    xs = rng.uniform(grid.x(0) + 5, grid.x(COLUMNS) - 5, count)
    ys = rng.uniform(grid.y(0) + 5, grid.y(ROWS) - 5, count)
    hole = shapely.box(grid.x(1.5) - HOLE_M / 2, grid.y(1.5) - HOLE_M / 2, grid.x(1.5) + HOLE_M / 2,
                       grid.y(1.5) + HOLE_M / 2).buffer(5)
    clear = ~shapely.contains_xy(hole, xs, ys)
    picks = rng.integers(0, len(ordinary), count)
    offsets = rng.uniform(0, span - 3600, count)
    for x, y, pick, offset in zip(xs[clear], ys[clear], picks[clear], offsets[clear], strict=True):
        add(x, y, ordinary[pick], moment(offset))
    unmapped = "Something else" if spec.profile else "无法归类"
    for offset in rng.uniform(0, span - 3600, 15):
        add(grid.x(3.5), grid.y(2.5), other, moment(offset), written=unmapped)
    # The hot spot: a cloud over the third township and its neighbours' edges, every day (Gi*
    # finds an area hotter than its surroundings, not one busy cell among quiet ones), away from
    # the city's edge, where a cell's neighbours are half outside and cold.
    hot = (grid.x(2.5), grid.y(0.8))
    for offset in rng.uniform(0, span - 3600, 20 * days):
        x = np.clip(hot[0] + rng.normal(0, 300), grid.x(0) + 5, grid.x(COLUMNS) - 5)
        y = np.clip(hot[1] + rng.normal(0, 300), grid.y(0) + 5, grid.y(ROWS) - 5)
        add(float(x), float(y), ordinary[0], moment(offset))
    # Points at known distances from the line between (0, 1) and (1, 1), along its middle.
    line_x = grid.x(1)
    near = []
    for i, (offset_m, accuracy) in enumerate(zip(NEAR_OFFSETS_M, NEAR_ACCURACY_M, strict=True)):
        near.append({"id": add(line_x + offset_m, grid.y(1.2) + 60 * i, ordinary[1], moment(span - 86400 * 3 + i),
                               accuracy=accuracy),
                     "distance_m": abs(offset_m), "accuracy_m": accuracy,
                     "townships": sorted([grid.code(0, 1), grid.code(1, 1)])})
    # An emergency 5 m from the line between (2, 0) and (3, 0), on the last day (a GPS fix reaches it).
    alarm = add(grid.x(3) - 5, grid.y(0.5), emergency, moment(span - 7200))
    # A cluster across the line between (2, 1) and (2, 2): both sides, within 40 m of a point on it.
    cx, cy = grid.x(2.6), grid.y(2)
    cluster = [add(cx + rng.uniform(-40, 40), cy + side * rng.uniform(3, 35), ordinary[2],
                   moment(span - 86400 * 10 + 3600 * i))
               for i, side in enumerate(np.tile([-1, 1], 12))]
    # "Not ours": handed from (0, 0) to (1, 0) and back, 30 m from their line.
    pong = []
    for i in range(3):
        at = moment(span - 86400 * 5 + 3600 * i)
        a, b = grid.code(0, 0), grid.code(1, 0)
        hand = [(0, a, "dispatched"), (2, a, "returned"), (3, b, "redispatched"), (5, b, "returned"),
                (6, a, "redispatched")]
        pong.append(add(grid.x(1) - 30, grid.y(0.8) + 50 * i, ordinary[0], at,
                        dispatches=[{"at": (at + pd.Timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%S"),
                                     "unit": unit, "action": action} for h, unit, action in hand]))
    # Late on the first month's last evening: the next day in UTC west of Greenwich.
    evening = (first + pd.offsets.MonthEnd(0)).normalize() + pd.Timedelta(hours=23, minutes=30)
    late = add(grid.x(3.5), grid.y(1.5), ordinary[0], evening)
    # Rows with an address and no point: a city without a gazetteer of its own locates them by
    # its townships' names (Beijing's gazetteer holds Beijing's real places, not the grid's).
    addressed = {}
    if spec.profile:
        for k in (1, 4, 9):
            ident = add(np.nan, np.nan, ordinary[1], moment(span - 86400 + k * 60),
                        address=f"{10 + k} Main Street, {spec.townships[k]}")
            addressed[ident] = grid.code(k % COLUMNS, k // COLUMNS)
    truth = {"near": near, "emergency": {"id": alarm, "townships": sorted([grid.code(2, 0), grid.code(3, 0)])},
             "cluster": {"ids": cluster, "townships": sorted([grid.code(2, 1), grid.code(2, 2)])},
             "ping_pong": {"ids": pong, "townships": sorted([grid.code(0, 0), grid.code(1, 0)])},
             "addressed": addressed, "hot_spot": grid.point(*hot), "hot_township": grid.code(2, 0), "late": late,
             "unmapped": unmapped, "complaints": len(rows)}
    _outcomes(spec, rows, rng)
    return rows, truth


def _outcomes(spec: CitySpec, rows: list[dict], rng: np.random.Generator) -> None:
    """Hand-offs, responses, outcomes and callbacks, for a city whose export has them."""
    if not spec.rates:
        return
    for row in rows:
        at = row["at"]
        row.setdefault("dispatches", [{"at": (at + pd.Timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S"),
                                       "unit": "township_office", "action": "dispatched"}])
        row["responded"] = at + pd.Timedelta(minutes=int(rng.integers(10, 600)))
        row["status"] = "Closed" if rng.random() < 0.8 else "Open"
        row["closed"] = at + pd.Timedelta(hours=int(rng.integers(2, 48))) if row["status"] == "Closed" else None
        row["satisfaction"] = rng.choice(["Happy", "OK", "Unhappy", None], p=[0.5, 0.2, 0.1, 0.2])


_HEADERS = {"id": "Service Request ID", "at": "Opened", "category": "Category", "lat": "Latitude",
            "lon": "Longitude", "accuracy": "Accuracy (m)", "address": "Address", "channel": "Source",
            "text": "Description",
            "dispatches": "Hand-offs",
            "responded": "Responded", "status": "Status", "closed": "Closed", "satisfaction": "Survey"}
_FIELDS = {"id": "id", "at": "received_at", "category": "category", "lat": "lat", "lon": "lon",
           "accuracy": "accuracy", "address": "address",
           "channel": "channel", "text": "text", "dispatches": "dispatches", "responded": "responded_at",
           "status": "resolved", "closed": "resolved_at", "satisfaction": "satisfaction"}
_TIMES = ("at", "responded", "closed")


def _columns(spec: CitySpec) -> list[str]:
    # A city without rates still sends its hand-offs (its ping-pong is in them).
    return [k for k in _HEADERS if spec.rates or k not in ("responded", "status", "closed", "satisfaction")]


def _write_export(spec: CitySpec, rows: list[dict], path: Path) -> None:
    keys = _columns(spec)
    channels = list(spec.channels)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([_HEADERS[k] for k in keys])
        for i, row in enumerate(rows):
            values = {**row, "category": row.get("written", row["category"]), "channel": channels[i % len(channels)],
                      "text": f"complaint {row['id']}", "lon": None if row["lon"] is None else repr(row["lon"]),
                      "lat": None if row["lat"] is None else repr(row["lat"])}
            if "dispatches" in values:
                values["dispatches"] = json.dumps(values["dispatches"])
            for key in _TIMES:
                if isinstance(values.get(key), pd.Timestamp):
                    values[key] = values[key].strftime(spec.time_format)
            writer.writerow(["" if values.get(k) is None else values[k] for k in keys])


def _mapping(spec: CitySpec) -> dict:
    keys = _columns(spec)
    values = {"category": {c.written: c.code for c in spec.categories if c.code != "unclassified"},
              "channel": dict(spec.channels)}
    if spec.rates:
        values |= {"resolved": {"Closed": "yes", "Open": "no"},
                   "satisfaction": {"Happy": "satisfied", "OK": "basically satisfied", "Unhappy": "unsatisfied"}}
    formats = {_FIELDS[k]: spec.time_format for k in _TIMES if k in keys}
    return {"columns": {_FIELDS[k]: _HEADERS[k] for k in keys}, "timezone": spec.timezone, "formats": formats,
            "values": values}


def _write_profile(spec: CitySpec, folder: Path) -> Path:
    lon, lat = spec.centre
    west, south, east, north = lon - 0.1, lat - 0.08, lon + 0.1, lat + 0.08
    lines = [f'code = "{spec.code}"', f'name_zh = "{spec.name_zh}"', f'name_en = "{spec.name_en}"',
             f'hotline_zh = "{spec.name_zh}12345热线"', f'hotline_en = "{spec.name_en} 311"',
             f'timezone = "{spec.timezone}"', f'language = "{spec.language}"',
             f"bounds = [{west}, {south}, {east}, {north}]" if spec.bounds else f'metric_crs = "{utm_crs(lon, lat)}"',
             "",
             "[channels]", *[f'"{k}" = "{v}"' for k, v in spec.channels.items() if v != k], "",
             "[levels.district]", 'zh = "区"', 'en = "district"',
             "[levels.township]", 'zh = "街区"', 'en = "neighborhood"',
             "[levels.community]", 'zh = "社区"', 'en = "block"']
    profile = folder / "city.toml"
    profile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with (folder / "departments.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["code", "name_zh", "name_en"])
        writer.writerows([code, zh, en] for code, (zh, en) in spec.departments.items())
    with (folder / "categories.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["code", "name_zh", "name_en", "theme", "departments", "enforcement", "emergency"])
        writer.writerows([c.code, c.name_zh, c.name_en, c.theme, c.departments, str(c.enforcement).lower(),
                          str(c.emergency).lower()] for c in spec.categories)
    return profile

