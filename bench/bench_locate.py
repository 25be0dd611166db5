"""Locate 10 million complaints (H3 cell + township + district) against geopandas.sjoin.

Run: ``.venv/bin/python bench/bench_locate.py [--points 10000000]``. Points are drawn the way
the demo draws complaints (around community points, dense in the centre) plus 10 % uniform
over the city. Each step runs in its own process so that peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import header, timed
from boundaries.build import DISTRICTS_FILE, TOWNSHIPS_FILE
from geo.locate.gazetteer import COMMUNITIES_FILE


def draw_points(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Points like the demo's complaints: around the community points, 10 % uniform over the city's box."""
    rng = np.random.default_rng(7)
    anchors = pd.read_csv(COMMUNITIES_FILE, usecols=["lon", "lat"]).to_numpy()
    which = rng.integers(0, len(anchors), size)
    lon = anchors[which, 0] + rng.normal(0, 0.004, size)
    lat = anchors[which, 1] + rng.normal(0, 0.003, size)
    area = shapely.union_all(gpd.read_file(DISTRICTS_FILE).geometry.values)
    uniform = rng.random(size) < 0.1
    minx, miny, maxx, maxy = area.bounds
    lon[uniform] = rng.uniform(minx, maxx, uniform.sum())
    lat[uniform] = rng.uniform(miny, maxy, uniform.sum())
    return lon, lat


def make_points(size: int, path: Path) -> None:
    lon, lat = draw_points(size)
    np.savez(path, lon=lon, lat=lat)


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run_whistle(points: Path, out: Path) -> dict:
    from geo.locate.cells import CellTable, assign, h3_cells

    data = np.load(points)
    lon, lat = data["lon"], data["lat"]
    towns, districts = gpd.read_file(TOWNSHIPS_FILE), gpd.read_file(DISTRICTS_FILE)
    build_s, (t_table, d_table) = timed(lambda: (CellTable.build(towns["code"], towns.geometry.values),
                                                 CellTable.build(districts["code"], districts.geometry.values)))

    def locate():
        cells = h3_cells(lon, lat, 9)
        return cells, assign(t_table, lon, lat, cells), assign(d_table, lon, lat, cells)

    locate_s, (cells, town, district) = timed(locate)
    np.savez(out, town=town.index, district=district.index, cells=cells[:1000])
    return {"build_s": build_s, "locate_s": locate_s, "peak_gb": peak_gb(),
            "exact_share": float((t_table.lookup(cells) <= -2).mean()),
            "on_boundary": int(town.on_boundary.sum())}


def run_sjoin(points: Path, out: Path) -> dict:
    data = np.load(points)
    frame = gpd.GeoDataFrame(geometry=gpd.points_from_xy(data["lon"], data["lat"]), crs=4326)
    towns = gpd.read_file(TOWNSHIPS_FILE).sort_values("code").reset_index(drop=True)
    districts = gpd.read_file(DISTRICTS_FILE).sort_values("code").reset_index(drop=True)

    def join():
        found = {}
        for name, polygons in (("town", towns), ("district", districts)):
            # "within" is the fastest predicate sjoin offers here (intersects took 2x longer).
            joined = gpd.sjoin(frame, polygons[["geometry"]], predicate="within", how="left")
            # The same rule as the platform: the lowest code among the covering polygons.
            first = joined["index_right"].groupby(level=0).min()
            found[name] = first.fillna(-1).astype(np.int32).reindex(range(len(frame))).to_numpy()
        return found

    join_s, found = timed(join)
    np.savez(out, **found)
    return {"sjoin_s": join_s, "peak_gb": peak_gb()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--step", choices=["whistle", "sjoin"])
    parser.add_argument("--folder")
    args = parser.parse_args()
    if args.step:
        folder = Path(args.folder)
        step = run_whistle if args.step == "whistle" else run_sjoin
        print(json.dumps(step(folder / "points.npz", folder / f"{args.step}.npz")))
        return
    print(header())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_points(args.points, folder / "points.npz")
        results = {}
        for step in ("whistle", "sjoin"):
            done = subprocess.run([sys.executable, __file__, "--step", step, "--folder", tmp],
                                  capture_output=True, text=True, check=True)
            results[step] = json.loads(done.stdout.strip().splitlines()[-1])
        ours, theirs = np.load(folder / "whistle.npz"), np.load(folder / "sjoin.npz")
        identical = all(np.array_equal(ours[k], theirs[k]) for k in ("town", "district"))
    w, s = results["whistle"], results["sjoin"]
    print(f"locate {args.points:,} points (H3 res 9 + township + district): {w['locate_s']:.2f} s, "
          f"peak memory {w['peak_gb']:.2f} GB; exact test for {w['exact_share']:.1%} of points; "
          f"{w['on_boundary']:,} on a township line")
    print(f"cell tables (built once per boundary set, cached on disk): {w['build_s']:.2f} s")
    print(f"geopandas.sjoin, townships + districts: {s['sjoin_s']:.2f} s, peak memory {s['peak_gb']:.2f} GB")
    print(f"ratio: {s['sjoin_s'] / w['locate_s']:.1f}x faster "
          f"({s['sjoin_s'] / (w['locate_s'] + w['build_s']):.1f}x counting the cell tables); "
          f"results identical: {identical}")


if __name__ == "__main__":
    main()
