"""Hot spots on H3 cells: Getis-Ord Gi*, FDR-corrected confidence bins, emerging patterns.

Every function works on whole arrays; the neighbours are a sparse matrix, so Gi* over the
whole city (about 200,000 cells at resolution 9) is a couple of sparse products.

- :func:`neighbours`: binary k-ring weights among the study cells, the cell itself included
  (the "star" in Gi*).
- :func:`gi_star`: z-scores and two-sided p-values; equal to PySAL's
  ``esda.G_Local(y, w, star=True, transform="B").Zs``.
- :func:`confidence_bins`: the bins that ArcGIS's hot spot tools report (+3/+2/+1 hot at
  99/95/90 %, 0 not significant, -1/-2/-3 cold), with the Benjamini-Hochberg false discovery
  rate applied at each level.
- :func:`mann_kendall` and :func:`emerging_categories`: the trend of each cell's z-scores over
  time, and the categories of ArcGIS's Emerging Hot Spot Analysis.
- :func:`emerging_hot_spots`: all of it over a ``cells x steps`` matrix of counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from h3ronpy import grid_disk
from scipy import sparse, stats

from geo.detect.rules import FROM_RULES, detect_rules
from geo.errors import ValidationError

LEVELS = (0.90, 0.95, 0.99)
PERSISTENT_SHARE = 0.9
PATTERNS = ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating",
            "historical")
NO_PATTERN = "no pattern"
SIGNAL_STEPS = 10
"""An emerging run over fewer periods than this has no signal to show (a trend test over a few
points calls chance a pattern; ArcGIS's Emerging Hot Spot Analysis asks for ten time steps)."""


def neighbours(cells: np.ndarray, k: int | None = None) -> sparse.csr_matrix:
    """Binary weights between the study cells: 1 within ``k`` rings, the cell itself included.

    Parameters
    ----------
    cells : numpy.ndarray of int64
        The study cells (unique), all of one resolution.
    k : int, optional
        The ring distance (1: the cell and its six neighbours); the detect rules' by default.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``n x n`` with ones; neighbours outside the study cells are left out.
    """
    cells = np.asarray(cells, dtype=np.int64)
    k = detect_rules().hotspots.k if k is None else k
    if k < 1:
        raise ValidationError(f"k was {k}; the ring distance must be at least 1")
    if pd.Index(cells).has_duplicates:
        raise ValidationError("the study cells must be unique")
    disks = grid_disk(pa.array(cells.view(np.uint64)), k)
    disks = pa.array(disks) if not isinstance(disks, pa.Array) else disks
    flat = np.asarray(pa.compute.list_flatten(disks)).view(np.int64)
    owner = np.asarray(pa.compute.list_parent_indices(disks))
    column = pd.Index(cells).get_indexer(flat)
    inside = column >= 0
    data = np.ones(inside.sum(), dtype=np.float64)
    return sparse.csr_matrix((data, (owner[inside], column[inside])), shape=(cells.size, cells.size))


def gi_star(counts: np.ndarray, weights: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Getis-Ord Gi* z-scores and two-sided p-values.

    Parameters
    ----------
    counts : numpy.ndarray
        One value per cell; cells without complaints must be there with 0.
    weights : scipy.sparse.csr_matrix
        Binary weights with the diagonal set (from :func:`neighbours`).

    Returns
    -------
    tuple of numpy.ndarray
        z-scores, and p-values from the normal distribution (two-sided).
    """
    x = np.asarray(counts, dtype=np.float64)
    n = x.size
    if weights.shape != (n, n):
        raise ValidationError(f"{n} counts but weights of shape {weights.shape}")
    if n < 3:
        raise ValidationError("Gi* needs at least three cells")
    mean = x.mean()
    spread = np.sqrt((x * x).mean() - mean * mean)
    if spread == 0:
        return np.zeros(n), np.ones(n)
    lag = weights @ x
    wsum = np.asarray(weights.sum(axis=1)).ravel()
    w2sum = np.asarray(weights.multiply(weights).sum(axis=1)).ravel()
    z = (lag - mean * wsum) / (spread * np.sqrt((n * w2sum - wsum * wsum) / (n - 1)))
    return z, 2 * stats.norm.sf(np.abs(z))


def bh_significant(p: np.ndarray, alpha: float | None = None) -> np.ndarray:
    """Benjamini-Hochberg: which p-values are significant at false discovery rate ``alpha``
    (the detect rules' by default)."""
    p = np.asarray(p, dtype=np.float64)
    alpha = detect_rules().hotspots.alpha if alpha is None else alpha
    if not 0 < alpha < 1:
        raise ValidationError(f"alpha was {alpha}; it must lie between 0 and 1")
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    passes = ranked <= alpha * np.arange(1, p.size + 1) / p.size
    out = np.zeros(p.size, dtype=bool)
    if passes.any():
        out[order[: np.flatnonzero(passes).max() + 1]] = True
    return out


def confidence_bins(z: np.ndarray, p: np.ndarray, *, fdr: bool = True) -> np.ndarray:
    """The hot/cold confidence bins: sign(z) times 3, 2 or 1 at 99, 95 or 90 %, else 0."""
    z = np.asarray(z, dtype=np.float64)
    bins = np.zeros(z.size, dtype=np.int8)
    for rank, level in enumerate(LEVELS, start=1):
        alpha = 1 - level
        passed = bh_significant(p, alpha) if fdr else np.asarray(p) <= alpha
        bins[passed] = rank
    return (np.sign(z) * bins).astype(np.int8)


def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Mann-Kendall trend test of each row (a cell's values over time).

    Returns the normal z (no continuity correction, ties corrected) and the two-sided p-value;
    for series without ties they equal Kendall's tau against time in its asymptotic form.
    """
    values = np.atleast_2d(np.asarray(series, dtype=np.float64))
    steps = values.shape[1]
    if steps < 3:
        raise ValidationError(f"a trend needs at least 3 time steps, got {steps}")
    later, earlier = np.triu_indices(steps, k=1)[::-1]
    s = np.sign(values[:, later] - values[:, earlier]).sum(axis=1)
    variance = np.full(values.shape[0], steps * (steps - 1) * (2 * steps + 5), dtype=np.float64)
    # Tied values reduce the variance: subtract t(t-1)(2t+5) for each group of t equal values.
    ordered = np.sort(values, axis=1)
    same = np.diff(ordered, axis=1) == 0
    if same.any():
        for row in np.flatnonzero(same.any(axis=1)):
            _, sizes = np.unique(ordered[row], return_counts=True)
            variance[row] -= (sizes * (sizes - 1) * (2 * sizes + 5)).sum()
    variance /= 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(variance > 0, s / np.sqrt(variance), 0.0)
    return z, 2 * stats.norm.sf(np.abs(z))


def emerging_categories(bins: np.ndarray, trend_z: np.ndarray, trend_p: np.ndarray,
                        alpha: float | None = None, *, trend_fdr: bool = True,
                        risen: np.ndarray | None = None) -> np.ndarray:
    """Classify each cell's bins over time into ArcGIS's emerging hot and cold spot patterns.

    Parameters
    ----------
    bins : numpy.ndarray
        ``cells x steps``: positive where a cell is a significant hot spot at a step, negative
        where it is a significant cold spot, 0 otherwise (confidence bins will do).
    trend_z, trend_p : numpy.ndarray
        The Mann-Kendall trend of each cell's z-scores (from :func:`mann_kendall`).
    alpha : float
        Significance of the trend.
    trend_fdr : bool
        Judge the trends with the Benjamini-Hochberg false discovery rate among the cells whose
        pattern depends on one (hot or cold for 90 % of the steps). A city has hundreds of
        persistent hot cells; tested one by one at 5 %, a score of them would take a chance
        trend and be called intensifying or diminishing.
    risen : numpy.ndarray of bool, optional
        Whether each cell's final run of hot (or cold) steps is a real change from its earlier
        level (see :func:`emerging_hot_spots`). A cell whose run is not stays sporadic (or
        oscillating) instead of new or consecutive. None: ArcGIS's rules alone.

    Returns
    -------
    numpy.ndarray of str
        ``"<pattern> hot spot"``, ``"<pattern> cold spot"`` or ``"no pattern"``.
    """
    alpha = detect_rules().hotspots.alpha if alpha is None else alpha
    bins = np.atleast_2d(np.asarray(bins))
    trend_z, trend_p = np.asarray(trend_z, dtype=np.float64), np.asarray(trend_p, dtype=np.float64)
    if trend_z.shape != (bins.shape[0],) or trend_p.shape != (bins.shape[0],):
        raise ValidationError(f"{bins.shape[0]} cells of bins but trends of shapes {trend_z.shape}, {trend_p.shape}")
    trending = _trending(bins, trend_p, alpha, trend_fdr)
    risen = np.ones(bins.shape[0], dtype=bool) if risen is None else np.asarray(risen, dtype=bool)
    out = np.full(bins.shape[0], NO_PATTERN, dtype=object)
    trend_up, trend_down = trending & (trend_z > 0), trending & (trend_z < 0)
    # Cold spots are hot spots of the mirrored series, with the trend reversed.
    for sign, word, rising, falling in ((1, "hot", trend_up, trend_down), (-1, "cold", trend_down, trend_up)):
        pattern = _patterns(bins * sign > 0, bins * sign < 0, rising, falling, risen)
        chosen = (pattern != "") & (out == NO_PATTERN)
        out[chosen] = [f"{p} {word} spot" for p in pattern[chosen]]
    return out


def final_run(flags: np.ndarray) -> np.ndarray:
    """The length of each row's run of true values that ends with the final step."""
    flags = np.atleast_2d(np.asarray(flags, dtype=bool))
    off = ~flags[:, ::-1]
    return np.where(off.any(axis=1), off.argmax(axis=1), flags.shape[1])


def _trending(bins: np.ndarray, trend_p: np.ndarray, alpha: float, fdr: bool) -> np.ndarray:
    if not fdr:
        return trend_p < alpha
    mostly = ((bins > 0).mean(axis=1) >= PERSISTENT_SHARE) | ((bins < 0).mean(axis=1) >= PERSISTENT_SHARE)
    out = np.zeros(bins.shape[0], dtype=bool)
    if mostly.any():
        out[mostly] = bh_significant(trend_p[mostly], alpha)
    return out


@dataclass(frozen=True)
class Emerging:
    """The emerging hot spot analysis of a ``cells x steps`` matrix of counts."""

    z: np.ndarray
    """Gi* z-score of every cell at every step."""
    p: np.ndarray
    """Two-sided p-value of every z-score."""
    bins: np.ndarray
    """Confidence bins (+3 ... -3) of every cell at every step."""
    significant: np.ndarray
    """+1 hot, -1 cold or 0: significant at the run's alpha after each step's FDR."""
    trend_z: np.ndarray
    trend_p: np.ndarray
    """Mann-Kendall trend of each cell's z-scores."""
    patterns: np.ndarray
    """ArcGIS's pattern of each cell."""


def emerging_hot_spots(counts: np.ndarray, weights: sparse.csr_matrix, alpha: float | None = None, *,
                       trend_fdr: bool = True, min_rise: float | None = FROM_RULES) -> Emerging:
    """Gi* at each time step, the trend of each cell's z-scores, and its emerging pattern.

    Parameters
    ----------
    counts : numpy.ndarray
        ``cells x steps`` counts, every cell of the study area included (zeros too).
    weights : scipy.sparse.csr_matrix
        Binary weights with the diagonal set (from :func:`neighbours`).
    alpha : float
        The false discovery rate of each step's hot and cold spots, and the significance of
        the trends.
    trend_fdr : bool
        See :func:`emerging_categories`.
    min_rise : float or None
        How many times its earlier level a cell's neighbourhood count must reach over its final
        run of hot steps for a new or consecutive hot spot (and the cold mirror: fall to
        ``1 / min_rise``), the change also significant at ``alpha`` (a conditional binomial test
        of the run's share of the cell's count, corrected for false discoveries among the
        candidates). None: ArcGIS's rules alone.

    Returns
    -------
    Emerging

    Notes
    -----
    A bin counts as a hot or cold spot for the patterns when it is significant at ``alpha``
    after the step's FDR correction (the 95 % bins and above at the default), not at the
    90 % that the confidence bins start from: a cell hovering at the 90 % line flips in and
    out by chance, and one flip in the final step would make it a "new" hot spot.
    """
    alpha = detect_rules().hotspots.alpha if alpha is None else alpha
    min_rise = detect_rules().emerging.min_rise if min_rise is FROM_RULES else min_rise
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[1] < 3:
        raise ValidationError(f"counts must be cells x steps with at least 3 steps, got shape {counts.shape}")
    z, p = np.empty_like(counts), np.empty_like(counts)
    bins = np.empty(counts.shape, dtype=np.int8)
    significant = np.empty(counts.shape, dtype=np.int8)
    for t in range(counts.shape[1]):
        z[:, t], p[:, t] = gi_star(counts[:, t], weights)
        bins[:, t] = confidence_bins(z[:, t], p[:, t])
        significant[:, t] = np.sign(z[:, t]) * bh_significant(p[:, t], alpha)
    trend_z, trend_p = mann_kendall(z)
    risen = None if min_rise is None else _risen(weights @ counts, significant, min_rise, alpha)
    patterns = emerging_categories(significant, trend_z, trend_p, alpha, trend_fdr=trend_fdr, risen=risen)
    return Emerging(z, p, bins, significant, trend_z, trend_p, patterns)


def _risen(lag: np.ndarray, significant: np.ndarray, min_rise: float, alpha: float) -> np.ndarray:
    if min_rise < 1:
        raise ValidationError(f"min_rise was {min_rise}; it must be at least 1")
    steps = lag.shape[1]
    out = np.ones(lag.shape[0], dtype=bool)
    for sign in (1, -1):
        run = final_run(significant * sign > 0)
        # Only a run that starts after the first step has an earlier level to rise from.
        rows = np.flatnonzero((run > 0) & (run < steps))
        if rows.size == 0:
            continue
        run = run[rows]
        total = np.cumsum(lag[rows], axis=1)
        before = total[np.arange(rows.size), steps - run - 1]
        during = total[:, -1] - before
        share = run / steps
        # Given the cell's whole count, the run's part is binomial under an unchanged rate.
        if sign > 0:
            p = stats.binom.sf(during - 1, total[:, -1], share)
            big = during / run >= min_rise * before / (steps - run)
        else:
            p = stats.binom.cdf(during, total[:, -1], share)
            big = during / run * min_rise <= before / (steps - run)
        out[rows] = big & bh_significant(p, alpha)
    return out


def _patterns(hot: np.ndarray, cold: np.ndarray, rising: np.ndarray, falling: np.ndarray,
              risen: np.ndarray) -> np.ndarray:
    steps = hot.shape[1]
    count = hot.sum(axis=1)
    share = count / steps
    final = hot[:, -1]
    run = final_run(hot)
    mostly = share >= PERSISTENT_SHARE
    ever_cold = cold.any(axis=1)
    rules = [
        (final & (count == 1) & risen, "new"),
        (final & (run >= 2) & (run == count) & ~mostly & risen, "consecutive"),
        (final & mostly & rising, "intensifying"),
        (final & mostly & falling, "diminishing"),
        (final & mostly, "persistent"),
        (~final & mostly, "historical"),
        (final & ever_cold & ~mostly, "oscillating"),
        ((count > 0) & ~mostly & ~ever_cold, "sporadic"),
    ]
    return np.select([mask for mask, _ in rules], [name for _, name in rules], default="")
