"""Gi* over every resolution-9 cell of Beijing against PySAL's esda, and points near township lines.

Run: ``.venv/bin/python bench/bench_hotspots.py``. The cells are those of the shipped
townships' cell table; the counts are Poisson draws (the statistic's cost does not depend on
them). esda gets the same neighbours as a ``libpysal.graph.Graph``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import header, timed
from boundaries.build import TOWNSHIPS_FILE
from geo.detect.borders import BorderLines
from geo.detect.hotspots import emerging_hot_spots, gi_star, neighbours
from geo.locate.cells import CellTable


def main() -> None:
    print(header())
    towns = gpd.read_file(TOWNSHIPS_FILE)
    cells = CellTable.build(towns["code"], towns.geometry.values).cells
    counts = np.random.default_rng(1).poisson(3, cells.size).astype(float)
    ours_s, (z, _) = timed(lambda: gi_star(counts, neighbours(cells, 1)))
    weights_s, weights = timed(lambda: neighbours(cells, 1))
    z_s, _ = timed(lambda: gi_star(counts, weights))

    def reference():
        from esda import G_Local
        from libpysal.graph import Graph

        weights = neighbours(cells, 1).tolil()
        weights.setdiag(0)
        weights = weights.tocsr()
        weights.eliminate_zeros()
        graph = Graph.from_sparse(weights)
        return G_Local(counts, graph, transform="B", star=True, permutations=0).Zs

    esda_s, zs = timed(reference)
    print(f"Gi* over {cells.size:,} resolution-9 cells (k=1 weights built + z-scores): {ours_s:.2f} s; "
          f"esda.G_Local (our weights turned into a libpysal Graph + its z-scores): {esda_s:.2f} s; "
          f"ratio {esda_s / ours_s:.1f}x; "
          f"max |z difference| {np.abs(z - zs).max():.1e}")
    print(f"  of which the weights {weights_s:.3f} s (built once per resolution and k) and the z-scores "
          f"{z_s:.3f} s; esda against the z-scores alone: {esda_s / z_s:.0f}x")

    series = np.random.default_rng(5).poisson(3, (cells.size, 26)).astype(float)

    def emerging():
        return emerging_hot_spots(series, neighbours(cells, 1)).patterns

    emerging_s, patterns = timed(emerging)
    print(f"emerging hot spots over {cells.size:,} resolution-9 cells x 26 half-months (weights, 26 Gi*, FDR bins, "
          f"Mann-Kendall, patterns): {emerging_s:.2f} s; {len(set(patterns))} patterns")

    lines_s, border = timed(lambda: BorderLines.build(towns))
    rng = np.random.default_rng(2)
    lon, lat = rng.uniform(116.2, 116.6, 1_000_000), rng.uniform(39.8, 40.1, 1_000_000)
    near_s, found = timed(lambda: border.near(lon, lat))
    print(f"shared township lines: {len(border.lines):,} indexed in {lines_s:.2f} s; "
          "1,000,000 points within 50 m of one: "
          f"{found['point'].nunique():,} points found in {near_s:.2f} s")


if __name__ == "__main__":
    main()
