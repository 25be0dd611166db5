"""Synthetic Beijing: realistic complaints with a recorded ground truth.

The generator writes what a hotline export looks like (Chinese column names, a share of
GCJ-02 and BD-09 points, address-only rows, bad rows) and, beside it, the truth that every
detector is scored against:

- **Intensity follows the city.** Complaints fall around the 2,331 community points, weighted
  by how urban their district is (the six central districts weigh most), so central streets
  are dense and mountain towns sparse.
- **Categories follow the seasons and the week.** Heating complaints rise from 1 November and
  jump when the heating season starts on 15 November; noise and greenery peak in summer;
  school enrolment in August and September; weekends are quieter except for noise.
- **Planted hotspots**: persistent (a steady extra rate), new (starting in the final weeks)
  and diminishing (strong at first, fading), each a Gaussian cloud around a point.
- **Planted border clusters** straddling township lines, the first being the case of
  ``DOMAIN.md``: illegal construction, noise, sewage, vendors and illegal taxis on the
  Xicheng–Fengtai line between Guang'anmenwai and Taipingqiao.
- **"Not ours" ping-pong**: complaints near a line dispatched back and forth between the two
  neighbouring townships.
- **Governance-class townships**: a few townships whose volume is raised (at least tripled,
  and to 4.5 times the busiest township's, counting what stays inside them) so that they
  enter the monthly top ten every month.
- **Rates by township**: response, resolution and satisfaction probabilities drawn per
  township, with a planted bottom group.

Everything is drawn from one seeded generator: the same arguments give the same file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely
from scipy.spatial import cKDTree

from geo.act.categories import categories
from geo.detect.borders import shared_lines
from geo.errors import ValidationError
from geo.locate.cells import DEFAULT_RESOLUTION
from geo.locate.coords import gcj02_to_bd09, wgs84_to_gcj02

# The demo is Beijing's: its communities are where complaints fall.
COMMUNITIES_FILE = Path(__file__).resolve().parents[2] / "boundaries" / "sources" / "beijing_community_points.csv"
MAPPING = {
    "id": "工单编号", "received_at": "受理时间", "channel": "来源渠道", "category": "诉求类别",
    "text": "诉求内容", "address": "诉求地址", "lon": "经度", "lat": "纬度", "crs": "坐标系",
    "footprint": "范围", "phone": "来电号码", "dispatches": "派单记录", "responded_at": "响应时间",
    "resolved": "是否解决", "resolved_at": "办结时间", "satisfaction": "回访满意度",
}
CENTRAL = {"东城区": 4.0, "西城区": 4.0, "朝阳区": 3.0, "海淀区": 3.0, "丰台区": 2.5, "石景山区": 2.0}
SUBURBAN_WEIGHT = 0.8
BACKGROUND_SCATTER_M = 350.0
CATEGORY_WEIGHTS = {
    "property_management": 120, "heating": 30, "garbage_collection": 55, "illegal_parking": 70,
    "construction_noise": 50, "outdoor_business_noise": 40, "street_vendor": 40, "illegal_construction": 35,
    "group_rental": 20, "sewage": 20, "parking_lock": 20, "greenery": 20, "burst_water_pipe": 10,
    "water_outage": 15, "power_outage": 10, "wage_arrears": 40, "prepaid_card_refund": 40,
    "consumer_dispute": 60, "property_certificate": 15, "unlicensed_etricycle": 20, "ev_charger": 15,
    "elevator_retrofit": 10, "road_damage": 30, "street_light": 15, "dust_pollution": 20,
    "air_pollution": 20, "illegal_advertising": 10, "pet_nuisance": 20, "fire_hazard": 5, "gas_leak": 3,
    "education_enrolment": 20, "medical_services": 25, "elderly_care": 15, "illegal_taxi": 15,
    "garbage_sorting": 15,
}
BORDER_CATEGORIES = ("illegal_construction", "outdoor_business_noise", "sewage", "street_vendor", "illegal_taxi")
CHANNELS = np.array(["电话", "网站", "微信", "微博", "北京通"])
CHANNEL_P = np.array([0.62, 0.12, 0.16, 0.03, 0.07])
SATISFACTION = np.array(["满意", "基本满意", "不满意"])
DOMAIN_CASE = ("广安门外街道", "太平桥街道")
BORDER_SIGMA_M = 40.0

ZONE = "Asia/Shanghai"
"""The demo city's zone (the demo is Beijing's): its export's times are written in it, and the
replay reads them back in it."""


@dataclass(frozen=True)
class Demo:
    """A generated export and its truth."""

    frame: pd.DataFrame
    truth: dict

    @property
    def truth_end(self) -> pd.Timestamp:
        """The end of the generated period: the clock to ingest the demo with."""
        return pd.Timestamp(self.truth["end"])


def generate(townships: gpd.GeoDataFrame, *, days: int = 90, per_day: int = 30_000, seed: int = 7,
             end: pd.Timestamp | str = "2026-11-22", resolution: int = DEFAULT_RESOLUTION) -> Demo:
    """Generate a synthetic export.

    Parameters
    ----------
    townships : geopandas.GeoDataFrame
        The township polygons (``code``, ``name``, ``parent_code``, geometry in WGS84), as
        loaded in the database: the truth is recorded against them.
    days, per_day : int
        The period (ending the day before ``end``) and the mean complaints per day.
    seed : int
        The seed of every random draw.
    end : str or pandas.Timestamp
        The first day after the period (Beijing time).
    resolution : int
        The H3 resolution the truth's cells are given at.

    Returns
    -------
    Demo
        The rows, under the column names of ``MAPPING``, and the truth.
    """
    if days < 1 or per_day < 1:
        raise ValidationError(f"days ({days}) and per_day ({per_day}) must be at least 1")
    if len(townships) < 2:
        raise ValidationError("the demo needs the township polygons; load the boundaries first")
    rng = np.random.default_rng(seed)
    end = pd.Timestamp(end).tz_localize(ZONE) if pd.Timestamp(end).tzinfo is None \
        else pd.Timestamp(end).tz_convert(ZONE)
    end = end.normalize()
    start = end - pd.Timedelta(days=days)
    towns = townships.sort_values("code").reset_index(drop=True)
    anchors = _anchors(towns)
    governance, boost = _pick_governance(rng, towns, anchors)
    weights = anchors["weight"].to_numpy() * anchors["township"].map(boost).fillna(1.0).to_numpy()
    parts, truth_spots, truth_borders = [], [], []
    area = shapely.union_all(towns.geometry.values)
    shapely.prepare(area)
    parts.append(_background(rng, anchors, weights / weights.sum(), start, days, per_day, area))
    spots = _plant_hotspots(rng, anchors, towns, start, days, per_day, resolution)
    for spot, frame in spots:
        truth_spots.append(spot)
        parts.append(frame)
    # The shared lines feed both the border clusters and the ping-pong cases: built once.
    lines = _shared_lines(towns)
    for cluster, frame in _plant_border_clusters(rng, towns, lines, start, days, per_day):
        truth_borders.append(cluster)
        parts.append(frame)
    rows = pd.concat(parts, ignore_index=True)
    rows = rows.sort_values("received_at", kind="stable").reset_index(drop=True)
    day = _local(rows["received_at"], "%Y%m%d")
    rows["id"] = "BJ" + day + pd.Series(np.arange(len(rows))).astype(str).str.zfill(8)
    rates = _township_rates(rng, towns)
    ping_pong = _status(rng, rows, towns, lines, rates, end)
    export, bad = _export(rng, rows)
    truth = {
        "seed": seed, "days": days, "per_day": per_day, "start": start.isoformat(), "end": end.isoformat(),
        "resolution": resolution, "rows": len(export), "hotspots": truth_spots, "border_clusters": truth_borders,
        "ping_pong": ping_pong, "governance_class": governance,
        "rates": rates.set_index("code")[["response", "resolution", "satisfaction"]].round(3).to_dict("index"),
        "bottom_townships": rates.loc[rates["bottom"], "code"].tolist(), "bad_rows": bad,
        "shares": {"gcj02": float((export[MAPPING["crs"]] == "gcj02").mean()),
                   "bd09": float((export[MAPPING["crs"]] == "bd09").mean()),
                   "address_only": float(export[MAPPING["lon"]].isna().mean())},
    }
    return Demo(export, truth)


def _anchors(towns: gpd.GeoDataFrame) -> pd.DataFrame:
    """Community points with the township they fall in and a weight for urban density."""
    points = pd.read_csv(COMMUNITIES_FILE, usecols=["district", "lon", "lat", "name"])
    geoms = shapely.points(points["lon"].to_numpy(), points["lat"].to_numpy())
    tree = shapely.STRtree(towns.geometry.values)
    hit_point, hit_town = tree.query(geoms, predicate="intersects")
    first = pd.Series(hit_town).groupby(hit_point).min()
    points = points.iloc[first.index].copy()
    points["township"] = towns["code"].to_numpy()[first.to_numpy()]
    points["weight"] = points["district"].map(CENTRAL).fillna(SUBURBAN_WEIGHT)
    # Townships without a community of their own still get complaints, at their centre.
    missing = towns[~towns["code"].isin(points["township"])]
    inner = shapely.point_on_surface(missing.geometry.values)
    extra = pd.DataFrame({"district": "", "lon": shapely.get_x(inner), "lat": shapely.get_y(inner),
                          "name": missing["name"].to_numpy(), "township": missing["code"].to_numpy(),
                          "weight": SUBURBAN_WEIGHT})
    return pd.concat([points, extra], ignore_index=True)


def _pick_governance(rng, towns, anchors) -> tuple[list[str], dict[str, float]]:
    volume = anchors.groupby("township")["weight"].sum().sort_values(ascending=False)
    # Townships ranked 15th to 40th: not in the top ten on their own.
    pool = volume.index[15:40].to_numpy()
    picked = sorted(rng.choice(pool, size=min(5, pool.size), replace=False).tolist())
    # Tripling was not always enough: planted hotspots and border clusters add hundreds a
    # month to some townships, and a township whose communities lie near its edge loses much
    # of its scatter to its neighbours. Each is raised to 4.5 times the busiest township's
    # weight, counting only what its scatter keeps inside it.
    kept = _kept_inside(towns, anchors, picked)
    return picked, {code: max(3.0, 4.5 * volume.iloc[0] / (volume[code] * kept[code])) for code in picked}


def _kept_inside(towns, anchors, codes: list[str], sigma_m: float = BACKGROUND_SCATTER_M) -> dict[str, float]:
    """The share of each township's background scatter that stays inside it (deterministic)."""
    # Points on rings at one and two sigmas, weighted as a 2-D normal puts mass in the bands.
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    rings = [(0.0, 0.39), (sigma_m, 0.47), (2 * sigma_m, 0.14)]
    polygons = towns.set_index("code").geometry
    kept = {}
    for code in codes:
        points = anchors[anchors["township"] == code]
        lat = points["lat"].to_numpy()[:, None]
        share = 0.0
        for radius, mass in rings:
            dx = radius * np.cos(angles)[None, :] / (111_320.0 * np.cos(np.radians(lat)))
            dy = radius * np.sin(angles)[None, :] / 111_320.0
            inside = shapely.contains_xy(polygons[code], points["lon"].to_numpy()[:, None] + dx, lat + dy)
            share += mass * inside.mean()
        kept[code] = max(share, 0.2)
    return kept


def _times(rng, start: pd.Timestamp, days: int, size: int, day_weights: np.ndarray | None = None) -> pd.Series:
    day_p = np.ones(days) if day_weights is None else np.asarray(day_weights, dtype=float)
    day = rng.choice(days, size=size, p=day_p / day_p.sum())
    dates = pd.date_range(start, periods=days, freq="D")
    weekend = dates.day_of_week.to_numpy()[day] >= 5
    # Calls peak in the morning and early evening; few at night.
    hours = np.concatenate([rng.normal(10, 2.2, size), rng.normal(19, 2.0, size)])
    hour = np.where(rng.random(size) < 0.6, hours[:size], hours[size:]) % 24
    keep_weekend = rng.random(size) < 0.85
    hour = np.where(weekend & ~keep_weekend, (hour + 3) % 24, hour)
    offset = pd.to_timedelta(day * 86400 + hour * 3600, unit="s").round("s")
    return pd.Series(start + offset)


def _categories(rng, received: pd.Series) -> np.ndarray:
    codes = np.array(list(CATEGORY_WEIGHTS))
    base = np.array(list(CATEGORY_WEIGHTS.values()), dtype=float)
    local = received.dt.tz_convert(ZONE)
    month_day = local.dt.month.to_numpy() * 100 + local.dt.day.to_numpy()
    out = np.empty(len(received), dtype=object)
    # Few distinct seasons: draw per season, not per row.
    season = np.select([month_day >= 1115, month_day >= 1101, (month_day >= 601) & (month_day < 901),
                        (month_day >= 801) & (month_day < 1001)], [3, 2, 1, 4], 0)
    season = np.where((month_day < 315), 3, season)
    for value in np.unique(season):
        w = base.copy()
        factor = {"heating": {0: 0.1, 1: 0.05, 2: 2.0, 3: 8.0, 4: 0.1},
                  "outdoor_business_noise": {1: 1.8, 4: 1.4}, "greenery": {1: 1.6, 4: 1.3},
                  "education_enrolment": {4: 2.5}, "burst_water_pipe": {3: 1.8}}
        for code, by_season in factor.items():
            w[codes == code] *= by_season.get(value, 1.0)
        rows = np.flatnonzero(season == value)
        out[rows] = rng.choice(codes, size=rows.size, p=w / w.sum())
    return out


def _scatter(rng, lon: np.ndarray, lat: np.ndarray, sigma_m: float) -> tuple[np.ndarray, np.ndarray]:
    dy = rng.normal(0, sigma_m, lon.size) / 111_320.0
    dx = rng.normal(0, sigma_m, lon.size) / (111_320.0 * np.cos(np.radians(lat)))
    return lon + dx, lat + dy


def _background(rng, anchors, p, start, days, per_day, area) -> pd.DataFrame:
    size = days * per_day
    dates = pd.date_range(start, periods=days, freq="D")
    day_weights = np.where(dates.day_of_week >= 5, 0.85, 1.0)
    which = rng.choice(len(anchors), size=size, p=p)
    anchor_lon, anchor_lat = anchors["lon"].to_numpy()[which], anchors["lat"].to_numpy()[which]
    lon, lat = _scatter(rng, anchor_lon, anchor_lat, BACKGROUND_SCATTER_M)
    # A scatter that leaves the city (next to its edge) falls back on its community point: the
    # only rows outside the service area are the ones planted as bad.
    outside = ~shapely.contains_xy(area, lon, lat)
    lon[outside], lat[outside] = anchor_lon[outside], anchor_lat[outside]
    received = _times(rng, start, days, size, day_weights)
    return pd.DataFrame({"received_at": received, "lon": lon, "lat": lat, "category": _categories(rng, received),
                         "township_hint": anchors["township"].to_numpy()[which], "source": "background"})


def _plant_hotspots(rng, anchors, towns, start, days, per_day, resolution):
    central = anchors[anchors["weight"] >= 2.5].reset_index(drop=True)
    # New hot spots rise where little happened before: suburban communities with few others
    # around them, where the background alone is no hot spot (in the centre, or in a dense
    # suburban town, the place would be one from the start and the spot would intensify it).
    around = _weight_around(anchors)
    is_suburban = anchors["weight"].to_numpy() < 2.5
    quiet = around <= np.quantile(around[is_suburban], 0.25)
    suburban = anchors[is_suburban & quiet].reset_index(drop=True)
    chosen = pd.concat([central.iloc[rng.choice(len(central), size=3, replace=False)],
                        suburban.iloc[rng.choice(len(suburban), size=3, replace=False)],
                        central.iloc[rng.choice(len(central), size=3, replace=False)]])
    kinds = ["persistent"] * 3 + ["new"] * 3 + ["diminishing"] * 3
    rate = max(20.0, per_day / 600)
    day = np.arange(days, dtype=float)
    for number, (kind, anchor) in enumerate(zip(kinds, chosen.itertuples(), strict=True)):
        if kind == "persistent":
            profile = np.full(days, 1.5 * rate)
        elif kind == "new":
            # Silent until the final ten days, then at full strength. Planted spots stay
            # moderate: Gi* z-scores are relative to the whole city's spread, and a planted
            # spot strong enough to dominate it would make every other hot cell's z-score (and
            # its trend) move with it.
            profile = np.where(day >= days - 10, rate, 0.0)
        else:
            # Strong at first and fading, yet still hot at the end: twice down to 0.6 times.
            profile = rate * (2.0 - 1.4 * day / max(days - 1, 1))
        size = int(profile.sum())
        received = _times(rng, start, days, size, profile)
        lon, lat = _scatter(rng, np.full(size, anchor.lon), np.full(size, anchor.lat), 150.0)
        category = _categories(rng, received)
        centre = h3.latlng_to_cell(anchor.lat, anchor.lon, resolution)
        spot = {"id": f"H{number + 1}", "kind": kind, "lon": round(anchor.lon, 6), "lat": round(anchor.lat, 6),
                "sigma_m": 150, "township": anchor.township, "complaints": size,
                "daily_rate_first_last": [round(float(profile[0]), 1), round(float(profile[-1]), 1)],
                "cells": sorted(h3.str_to_int(c) for c in h3.grid_disk(centre, 1))}
        yield spot, pd.DataFrame({"received_at": received, "lon": lon, "lat": lat, "category": category,
                                  "township_hint": anchor.township, "source": spot["id"]})


def _weight_around(anchors: pd.DataFrame, radius_m: float = 1500.0) -> np.ndarray:
    """The summed weight of the anchors within ``radius_m`` of each anchor."""
    lat0 = np.radians(anchors["lat"].mean())
    xy = np.column_stack([anchors["lon"].to_numpy() * 111_320.0 * np.cos(lat0), anchors["lat"].to_numpy() * 111_320.0])
    weight = anchors["weight"].to_numpy()
    return np.array([weight[near].sum() for near in cKDTree(xy).query_ball_point(xy, radius_m)])


def _shared_lines(towns: gpd.GeoDataFrame) -> pd.DataFrame:
    """The shared lines of :func:`geo.detect.borders.shared_lines`, in WGS84, townships by position."""
    lines = shared_lines(towns).to_crs(4326)
    position = pd.Series(np.arange(len(towns)), index=towns["code"].to_numpy())
    return pd.DataFrame({"a": position.loc[lines["a"]].to_numpy(), "b": position.loc[lines["b"]].to_numpy(),
                         "line": lines.geometry.values, "metres": lines["length_m"].to_numpy()})


def _plant_border_clusters(rng, towns, lines, start, days, per_day):
    names = towns["name"].to_numpy()
    a_name, b_name = DOMAIN_CASE
    domain = lines[((names[lines["a"]] == a_name) & (names[lines["b"]] == b_name))
                   | ((names[lines["a"]] == b_name) & (names[lines["b"]] == a_name))]
    long_lines = lines[lines["metres"] > 1500]
    picked = long_lines.iloc[rng.choice(len(long_lines), size=5, replace=False)]
    chosen = pd.concat([domain, picked]).drop_duplicates(subset=["a", "b"])
    size = max(60, per_day * days // 20_000)
    for number, row in enumerate(chosen.itertuples()):
        point = shapely.line_interpolate_point(shapely.line_merge(row.line), 0.5, normalized=True)
        received = _times(rng, start, days, size)
        lon, lat = _scatter(rng, np.full(size, point.x), np.full(size, point.y), BORDER_SIGMA_M)
        # One problem per cluster (vendors at a market on the border road, one sewage outlet):
        # the same category throughout.
        category = np.full(size, rng.choice(np.array(BORDER_CATEGORIES), size=size)[0])
        codes = sorted([towns["code"].iat[row.a], towns["code"].iat[row.b]])
        cluster = {"id": f"B{number + 1}", "townships": codes,
                   "districts": sorted({towns["parent_code"].iat[row.a], towns["parent_code"].iat[row.b]}),
                   "lon": round(point.x, 6), "lat": round(point.y, 6), "sigma_m": BORDER_SIGMA_M,
                   "category": str(category[0]), "complaints": size,
                   "domain_case": bool(number == 0 and len(domain) > 0)}
        yield cluster, pd.DataFrame({"received_at": received, "lon": lon, "lat": lat, "category": category,
                                     "township_hint": codes[0], "source": cluster["id"]})


def _township_rates(rng, towns) -> pd.DataFrame:
    n = len(towns)
    bottom = np.zeros(n, dtype=bool)
    bottom[rng.choice(n, size=12, replace=False)] = True
    return pd.DataFrame({
        "code": towns["code"].to_numpy(), "bottom": bottom,
        "response": np.where(bottom, rng.uniform(0.70, 0.85, n), rng.uniform(0.92, 0.995, n)),
        "resolution": np.where(bottom, rng.uniform(0.45, 0.65, n), rng.uniform(0.70, 0.92, n)),
        "satisfaction": np.where(bottom, rng.uniform(0.50, 0.70, n), rng.uniform(0.80, 0.96, n)),
    })


def _status(rng, rows: pd.DataFrame, towns, lines: pd.DataFrame, rates: pd.DataFrame,
            end: pd.Timestamp) -> list[dict]:
    size = len(rows)
    town = rows["township_hint"].to_numpy()
    rate = rates.set_index("code").reindex(town)
    dispatched = rows["received_at"] + pd.to_timedelta(rng.uniform(2, 30, size), unit="min").round("s")
    on_time = rng.random(size) < rate["response"].to_numpy()
    delay_h = np.where(on_time, rng.uniform(0.1, 1.9, size), rng.uniform(2.5, 48, size))
    responded = dispatched + pd.to_timedelta(delay_h * 3600, unit="s").round("s")
    resolved = rng.random(size) < rate["resolution"].to_numpy()
    resolved_at = responded + pd.to_timedelta(rng.exponential(30, size) * 3600, unit="s").round("s")
    satisfied = rng.random(size) < rate["satisfaction"].to_numpy()
    satisfaction = np.where(satisfied, np.where(rng.random(size) < 0.7, "满意", "基本满意"), "不满意")
    satisfaction = np.where(resolved | (rng.random(size) < 0.5), satisfaction, "不满意")
    late = (resolved_at >= end).to_numpy()
    rows["responded_at"] = responded.where(responded < end)
    rows["resolved"] = np.where(late, "否", np.where(resolved, "是", "否"))
    rows["resolved_at"] = resolved_at.where(resolved & ~late)
    rows["satisfaction"] = np.where(late, None, satisfaction)
    local = _local(dispatched)
    rows["dispatches"] = ('[{"at": "' + local + '", "unit": "' + pd.Series(town, dtype=str)
                          + '", "action": "dispatched"}]')
    return _plant_ping_pong(rng, rows, towns, lines, local)


def _plant_ping_pong(rng, rows, towns, lines, local) -> list[dict]:
    lines = lines[lines["metres"] > 800].reset_index(drop=True)
    background = np.flatnonzero((rows["source"] == "background").to_numpy())
    count = min(len(background), max(20, len(rows) // 5_000))
    picked = np.sort(rng.choice(background, size=count, replace=False))
    which = rng.integers(0, len(lines), count)
    codes = towns["code"].to_numpy()
    planted, updates = [], []
    for row, line_no in zip(picked, which, strict=True):
        pair = lines.iloc[line_no]
        point = shapely.line_interpolate_point(shapely.line_merge(pair.line), rng.uniform(0.2, 0.8),
                                               normalized=True)
        lon, lat = _scatter(rng, np.array([point.x]), np.array([point.y]), 25.0)
        first, second = codes[pair.a], codes[pair.b]
        hops = int(rng.integers(2, 5))
        when = pd.Timestamp(local.iat[row])
        steps = [{"at": f"{when:%Y-%m-%d %H:%M:%S}", "unit": first, "action": "dispatched"}]
        unit = first
        for _ in range(hops):
            when += pd.Timedelta(hours=float(rng.uniform(1, 6)))
            steps.append({"at": f"{when:%Y-%m-%d %H:%M:%S}", "unit": unit, "action": "returned"})
            unit = second if unit == first else first
            steps.append({"at": f"{(when + pd.Timedelta(minutes=10)):%Y-%m-%d %H:%M:%S}", "unit": unit,
                          "action": "redispatched"})
        updates.append((lon[0], lat[0], json.dumps(steps, ensure_ascii=False), first))
        planted.append({"id": rows["id"].iat[row], "townships": sorted([first, second]), "returns": hops})
    if updates:
        columns = ["lon", "lat", "dispatches", "township_hint"]
        rows.loc[picked, columns] = pd.DataFrame(updates, columns=columns, index=picked)
        rows.loc[picked, "source"] = "ping_pong"
    return planted


def _export(rng, rows: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    size = len(rows)
    names = {c.code: c.name_zh for c in categories().values()}
    category = pd.Series(rows["category"]).map(names)
    # One in ten written as the code, one in a hundred in words the taxonomy does not know.
    as_code = rng.random(size) < 0.1
    category = category.where(~as_code, rows["category"])
    unknown = rng.random(size) < 0.01
    category = category.where(~unknown, "其他问题")
    lon, lat = rows["lon"].to_numpy().copy(), rows["lat"].to_numpy().copy()
    crs = np.full(size, "wgs84", dtype=object)
    draw = rng.random(size)
    gcj = draw < 0.15
    bd = (draw >= 0.15) & (draw < 0.20)
    lon[gcj], lat[gcj] = wgs84_to_gcj02(lon[gcj], lat[gcj])
    glon, glat = wgs84_to_gcj02(lon[bd], lat[bd])
    lon[bd], lat[bd] = gcj02_to_bd09(glon, glat)
    crs[gcj], crs[bd] = "gcj02", "bd09"
    address = _addresses(rng, rows)
    address_only = (rng.random(size) < 0.03) & (rows["source"] == "background").to_numpy()
    lon[address_only] = np.nan
    lat[address_only] = np.nan
    crs[address_only] = None
    phones = rng.integers(13_000_000_000, 19_999_999_999, size // 3 + 1)
    phone = phones[rng.integers(0, phones.size, size)].astype(str)
    text = (pd.Series(rows["category"]).map(names) + "：" + pd.Series(rng.choice(np.array(
        ["附近居民反映情况持续多日", "多次反映未解决", "请尽快处理", "影响居民休息", "存在安全隐患"]), size)))
    export = pd.DataFrame({
        MAPPING["id"]: rows["id"], MAPPING["received_at"]: _local(rows["received_at"]),
        MAPPING["channel"]: rng.choice(CHANNELS, size=size, p=CHANNEL_P), MAPPING["category"]: category,
        MAPPING["text"]: text, MAPPING["address"]: address, MAPPING["lon"]: np.round(lon, 6),
        MAPPING["lat"]: np.round(lat, 6), MAPPING["crs"]: crs, MAPPING["footprint"]: None,
        MAPPING["phone"]: phone, MAPPING["dispatches"]: rows["dispatches"],
        MAPPING["responded_at"]: _local(rows["responded_at"]), MAPPING["resolved"]: rows["resolved"],
        MAPPING["resolved_at"]: _local(rows["resolved_at"]), MAPPING["satisfaction"]: rows["satisfaction"],
    })
    _footprints(rng, rows, export)
    return _spoil(rng, export, spoilable=(rows["source"] == "background").to_numpy())


def _local(moments: pd.Series, fmt: str = "%Y-%m-%d %H:%M:%S") -> pd.Series:
    """Format moments in Beijing time (Arrow's strftime: pandas' is ten times slower)."""
    local = pd.to_datetime(moments, utc=True).dt.tz_convert(ZONE).dt.tz_localize(None)
    text = pc.strftime(pa.array(local.astype("datetime64[s]")), format=fmt)
    return pd.Series(text.to_pandas(), index=moments.index).astype(object).where(pd.notna(moments), None)


def _addresses(rng, rows: pd.DataFrame) -> pd.Series:
    points = pd.read_csv(COMMUNITIES_FILE, usecols=["district", "town_name", "name", "lon", "lat"])
    tree = shapely.STRtree(shapely.points(points["lon"].to_numpy(), points["lat"].to_numpy()))
    nearest = tree.nearest(shapely.points(rows["lon"].to_numpy(), rows["lat"].to_numpy()))
    place = points.iloc[nearest]
    town = place["town_name"].str.replace("办事处", "", regex=False)
    community = place["name"].str.replace(r"(居委会|村委会)$", "", regex=True)
    number = pd.Series(rng.integers(1, 40, len(rows)).astype(str))
    return (place["district"].to_numpy() + town.to_numpy() + community.to_numpy() + number.to_numpy() + "号楼附近")


def _footprints(rng, rows: pd.DataFrame, export: pd.DataFrame) -> None:
    # Some illegal-construction reports outline the building: a small square around the point.
    rows_with = np.flatnonzero((rows["category"] == "illegal_construction").to_numpy()
                               & (rng.random(len(rows)) < 0.1) & export[MAPPING["lon"]].notna().to_numpy()
                               & (export[MAPPING["crs"]] == "wgs84").to_numpy())
    half = 12 / 111_320.0
    x = export[MAPPING["lon"]].to_numpy()[rows_with]
    y = export[MAPPING["lat"]].to_numpy()[rows_with]
    squares = shapely.box(x - half, y - half, x + half, y + half)
    export.loc[rows_with, MAPPING["footprint"]] = shapely.to_wkt(squares, rounding_precision=6)


def _spoil(rng, export: pd.DataFrame, spoilable: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """Spoil a few background rows, each in a way the ingest must catch; return the counts.

    Planted rows (hotspots, border clusters, ping-pong) are never spoiled: the truth about
    them must hold exactly.
    """
    size = len(export)
    n = max(1, size // 2000)
    candidates = np.flatnonzero(spoilable)
    lon, lat = MAPPING["lon"], MAPPING["lat"]
    has_point = export[lon].notna().to_numpy()
    picks = list(rng.choice(candidates, size=6 * n, replace=False).reshape(6, n))
    for k in (2, 3, 4):
        picks[k] = picks[k][has_point[picks[k]]]
    export.loc[picks[0], MAPPING["id"]] = None
    export.loc[picks[1], MAPPING["received_at"]] = "2026-13-45 25:61"
    swapped = picks[2]
    export.loc[swapped, [lon, lat]] = export.loc[swapped, [lat, lon]].to_numpy()
    export.loc[picks[3], [lon, lat]] = [121.47, 31.23]
    export.loc[picks[4], MAPPING["crs"]] = "epsg:3857"
    duplicates = export.iloc[picks[5]].copy()
    out = pd.concat([export, duplicates], ignore_index=True)
    bad = {"missing_id": int(n), "bad_time": int(n), "swapped": int(swapped.size), "outside": int(picks[3].size),
           "unknown_crs": int(picks[4].size), "duplicate": int(n)}
    return out, bad


def write(demo: Demo, folder: Path) -> tuple[Path, Path]:
    """Write the export as Parquet and the truth as JSON; return both paths.

    The export holds callers' numbers in full, as a hotline's export does (the ingest masks
    and hashes them): it is written readable by its owner only (0600).
    """
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "complaints.parquet"
    truth = folder / "truth.json"
    table = pa.Table.from_pandas(demo.frame, preserve_index=False)
    data.unlink(missing_ok=True)
    with os.fdopen(os.open(data, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
        pq.write_table(table, handle, compression="zstd")
    truth.write_text(json.dumps(demo.truth, ensure_ascii=False, indent=1), encoding="utf-8")
    return data, truth
