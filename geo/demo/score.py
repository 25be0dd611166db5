"""Score the detections against the synthetic demo's ground truth (``truth.json``).

- **Border cases**: a planted border cluster is found when a cluster case names its
  townships and lies within ``match_m`` of its centre; each planted ping-pong complaint must
  be a ping-pong case. Cases matching nothing planted are counted as false positives (the
  cluster ones that sit on a planted hot spot are counted apart: a hot spot across a line is a
  real cluster across the line, only not one planted as such).
- **Emerging hot spots**: for each family (persistent: persistent or intensifying; new: new
  or consecutive; diminishing), *recall* is the share of planted spots with a cell of their
  family within one ring of their centre, and *precision* the share of the cells labelled
  with the family that lie within two rings of a planted spot of it. The dense city centre is
  genuinely a persistent hot spot in the demo (complaints follow where people live), so the
  persistent family's precision is measured among the labelled cells near planted spots
  instead: the share of them labelled persistent rather than another pattern. Cells within two
  rings of planted spots of two families (the demo may plant them a kilometre apart) belong to
  both and judge neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import h3
import numpy as np
import pandas as pd
import shapely

from geo.locate.geometry import to_crs

FAMILIES = {"persistent": ("persistent hot spot", "intensifying hot spot"),
            "new": ("new hot spot", "consecutive hot spot"),
            "diminishing": ("diminishing hot spot",)}


@dataclass(frozen=True)
class BorderScore:
    """How the stored border cases compare with the planted ones."""

    cluster_recall: float
    clusters_found: list[str]
    cluster_false: int
    cluster_at_hotspots: int
    ping_pong_recall: float
    ping_pong_false: int
    cases_by_kind: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EmergingScore:
    """Recall and precision of one family of emerging patterns."""

    family: str
    recall: float
    precision: float
    planted: int
    labelled: int


def score_border_cases(clusters: pd.DataFrame, pinged: set[str], kinds: dict[str, int], truth: dict, *,
                       metric_crs: str, match_m: float = 200.0) -> BorderScore:
    """Compare border cases with the truth of a synthetic demo.

    Parameters
    ----------
    clusters : pandas.DataFrame
        The cluster cases, with ``wkt`` and ``townships``.
    pinged : set of str
        The source ids of the complaints in ping-pong cases.
    kinds : dict
        Cases per kind.
    truth : dict
        The demo's ``truth.json``.
    metric_crs : str
        The projected CRS distances are measured in.
    match_m : float
        How near a planted cluster's centre a case must lie to match it, in metres.

    Returns
    -------
    BorderScore
    """
    planted = truth["border_clusters"]
    found, matched = [], np.zeros(len(clusters), dtype=bool)
    shapes = shapely.from_wkt(clusters["wkt"].to_numpy()) if len(clusters) else np.empty(0, dtype=object)
    metric = to_crs(shapes, metric_crs)
    for plant in planted:
        centre = to_crs(shapely.points(plant["lon"], plant["lat"]), metric_crs)
        near = shapely.distance(metric, centre) <= match_m if len(clusters) else np.zeros(0, dtype=bool)
        names = clusters["townships"].map(lambda towns, want=set(plant["townships"]): want <= set(towns)).to_numpy(
            dtype=bool) if len(clusters) else near
        hits = near & names
        if hits.any():
            found.append(plant["id"])
        matched |= hits
    spots = to_crs(shapely.points([s["lon"] for s in truth["hotspots"]], [s["lat"] for s in truth["hotspots"]]),
                   metric_crs)
    reach = 3 * np.array([s["sigma_m"] for s in truth["hotspots"]], dtype=float)
    at_spot = (np.array([(shapely.distance(spots, g) <= reach).any() for g in metric], dtype=bool)
               if len(clusters) else np.zeros(0, dtype=bool))
    planted_ids = {p["id"] for p in truth["ping_pong"]}
    return BorderScore(
        cluster_recall=len(found) / len(planted) if planted else 1.0, clusters_found=found,
        cluster_false=int((~matched & ~at_spot).sum()), cluster_at_hotspots=int((~matched & at_spot).sum()),
        ping_pong_recall=len(planted_ids & pinged) / len(planted_ids) if planted_ids else 1.0,
        ping_pong_false=len(pinged - planted_ids), cases_by_kind=kinds)


def score_emerging(cells: pd.DataFrame, resolution: int, truth: dict) -> list[EmergingScore]:
    """Recall and precision of each family of emerging patterns against the planted spots.

    Parameters
    ----------
    cells : pandas.DataFrame
        ``h3`` and ``pattern`` of an emerging run (every cell of the city).
    resolution : int
        The run's H3 resolution.
    truth : dict
        The demo's ``truth.json``.

    Returns
    -------
    list of EmergingScore
        One per family: persistent, new, diminishing.
    """
    pattern = pd.Series(cells["pattern"].to_numpy(), index=cells["h3"].to_numpy())
    near = {family: set().union(*(_ring(s, resolution, 2) for s in truth["hotspots"] if s["kind"] == family))
            for family in FAMILIES}
    out = []
    for family, names in FAMILIES.items():
        spots = [s for s in truth["hotspots"] if s["kind"] == family]
        rings = [_ring(s, resolution, 1) for s in spots]
        wide = near[family]
        # Cells near planted spots of two families are claimed by both: they judge neither.
        shared = wide & set().union(*(cells_ for other, cells_ in near.items() if other != family))
        pattern_here = pattern.drop(index=list(shared & set(pattern.index)))
        recalled = sum(bool(pattern.reindex(list(r)).isin(names).any()) for r in rings)
        labelled = pattern_here.index[pattern_here.isin(names).to_numpy()]
        if family == "persistent":
            around = pattern_here.reindex(list(wide - shared)).dropna()
            hot = around[around.str.endswith("hot spot")]
            precision = float(hot.isin(names).mean()) if len(hot) else 0.0
            count = len(hot)
        else:
            precision = float(np.isin(labelled, list(wide)).mean()) if len(labelled) else 0.0
            count = len(labelled)
        out.append(EmergingScore(family, recalled / len(spots) if spots else 1.0, precision, len(spots), count))
    return out


def _ring(spot: dict, resolution: int, k: int) -> set[int]:
    centre = h3.latlng_to_cell(spot["lat"], spot["lon"], resolution)
    return {h3.str_to_int(c) for c in h3.grid_disk(centre, k)}

