"""Border cases for a million complaints, against a plain STRtree and against PostGIS.

Run: ``.venv/bin/python bench/bench_borders.py``. The complaints are drawn like the demo's
(around the 2,331 community points, 10 % uniform over the city), located with the shipped
townships' cell table, with a theme each, 1 % footprints (60 m squares) and 0.05 % dispatch
lists that bounce between neighbours. The four kinds are timed from arrays; the baselines
answer the first kind only: a shapely STRtree over the whole shared lines (no cell prefilter,
no cutting), and the same question put to PostGIS (``ST_DWithin`` in EPSG:32650 against the
lines, with a GiST index on the transformed points) in a scratch database.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
import sqlalchemy as sa
from pyproj import Transformer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_locate import draw_points
from bench.common import header, scratch_engine, timed
from boundaries.build import TOWNSHIPS_FILE
from geo.detect.borders import BorderLines, ping_pong, straddling_clusters
from geo.locate.cells import CellTable, assign, h3_cells
from geo.store.bulk import copy_table

SIZE = 1_000_000
THEMES = 11


def complaints(towns: gpd.GeoDataFrame, size: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    lon, lat = draw_points(size)
    table = CellTable.build(towns["code"], towns.geometry.values)
    cells = h3_cells(lon, lat, 9)
    found = assign(table, lon, lat, cells)
    inside = found.index >= 0
    return pd.DataFrame({"lon": lon, "lat": lat, "h3": cells, "town": found.codes(table),
                         "theme": rng.integers(0, THEMES, size)})[inside].reset_index(drop=True)


def bouncing(border: BorderLines, size: int, rng) -> list:
    pairs = sorted(border.pairs)
    out = []
    for i in range(size):
        a, b = pairs[rng.integers(0, len(pairs))] if i % 2000 == 0 else (f"dept{i}", f"dept{i}")
        out.append([{"at": "2026-11-01 08:00:00", "unit": a, "action": "dispatched"},
                    {"at": "2026-11-01 09:00:00", "unit": b, "action": "redispatched"},
                    {"at": "2026-11-01 10:00:00", "unit": a, "action": "redispatched"}])
    return out


def main() -> None:
    print(header())
    towns = gpd.read_file(TOWNSHIPS_FILE)
    frame = complaints(towns, SIZE)
    rng = np.random.default_rng(3)
    border = BorderLines.build(towns)
    with_footprint = rng.random(len(frame)) < 0.01
    half = 30 / 111_320.0
    squares = shapely.box(frame["lon"][with_footprint] - half, frame["lat"][with_footprint] - half,
                          frame["lon"][with_footprint] + half, frame["lat"][with_footprint] + half)
    dispatches = bouncing(border, len(frame) // 2000, rng)
    lon, lat, cells, town = (frame[c].to_numpy() for c in ("lon", "lat", "h3", "town"))

    near_s, near = timed(lambda: border.near(lon, lat, cells))
    across_s, across = timed(lambda: border.across(np.asarray(squares)))

    def clusters():
        return [straddling_clusters(lon[t], lat[t], town[t], cells[t]) for t in
                (frame["theme"].to_numpy() == theme for theme in range(THEMES))]

    cluster_s, found = timed(clusters)
    ping_s, pings = timed(lambda: ping_pong(dispatches, border.pairs))
    total = near_s + across_s + cluster_s + ping_s
    print(f"{len(frame):,} complaints, {len(border.lines):,} shared lines: near {near_s:.2f} s "
          f"({near['point'].nunique():,} points), across {across_s:.2f} s ({across['item'].nunique():,} "
          f"footprints of {with_footprint.sum():,}), clusters {cluster_s:.2f} s "
          f"({sum(f['cluster'].nunique() for f in found)} across a line), ping-pong {ping_s:.2f} s "
          f"({len(pings)} of {len(dispatches):,}); all four {total:.2f} s")

    whole = np.asarray(border.lines.geometry.values)

    def plain():
        x, y = Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True).transform(lon, lat)
        points = shapely.points(x, y)
        hit, _ = shapely.STRtree(whole).query(points, predicate="dwithin", distance=50.0)
        return np.unique(hit)

    plain_s, plain_hits = timed(plain)
    print(f"baseline, STRtree over the whole lines: {plain_s:.2f} s ({plain_hits.size:,} points); "
          f"ratio {plain_s / near_s:.1f}x")
    postgis_s, postgis_hits = _postgis(frame, border)
    print(f"baseline, PostGIS ST_DWithin in EPSG:32650 (indexed): {postgis_s:.2f} s ({postgis_hits:,} points); "
          f"ratio {postgis_s / near_s:.1f}x")


def _postgis(frame: pd.DataFrame, border: BorderLines) -> tuple[float, int]:
    engine = scratch_engine("whistle_bench_borders")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE pt (id bigint, lon float8, lat float8)")
        copy_table(conn, "pt", pa.table({"id": np.arange(len(frame)), "lon": frame["lon"], "lat": frame["lat"]}))
        conn.exec_driver_sql("ALTER TABLE pt ADD COLUMN g geometry(Point, 32650)")
        conn.exec_driver_sql("UPDATE pt SET g = ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), 32650)")
        conn.exec_driver_sql("CREATE INDEX ON pt USING gist (g)")
        conn.exec_driver_sql("CREATE TABLE ln (a text, b text, g geometry(Geometry, 32650))")
        wkt = ["SRID=32650;" + w for w in shapely.to_wkt(border.lines.geometry.values)]
        copy_table(conn, "ln", pa.table({"a": border.lines["a"], "b": border.lines["b"], "g": wkt}))
        conn.exec_driver_sql("ANALYZE pt")
        conn.exec_driver_sql("ANALYZE ln")
    with engine.connect() as conn:
        seconds, count = timed(lambda: conn.execute(sa.text(
            "SELECT count(DISTINCT pt.id) FROM pt JOIN ln ON ST_DWithin(pt.g, ln.g, 50)")).scalar())
    engine.dispose()
    return seconds, int(count)


if __name__ == "__main__":
    main()
