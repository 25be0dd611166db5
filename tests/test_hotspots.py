"""Gi*, FDR bins and emerging categories against independent references."""

from __future__ import annotations

import numpy as np
import pytest
from esda import G_Local
from libpysal.weights import W
from scipy import stats

from geo.detect.hotspots import (
    bh_significant,
    confidence_bins,
    emerging_categories,
    emerging_hot_spots,
    final_run,
    gi_star,
    mann_kendall,
    neighbours,
)
from geo.errors import ValidationError
from geo.locate.cells import h3_cells


@pytest.fixture(scope="module")
def cells() -> np.ndarray:
    """About 3,000 resolution-9 cells of central Beijing."""
    lon, lat = np.meshgrid(np.linspace(116.30, 116.45, 80), np.linspace(39.86, 39.96, 80))
    return np.unique(h3_cells(lon.ravel(), lat.ravel(), 9))


def test_neighbours_are_the_k_ring_within_the_study_cells(cells):
    import h3

    weights = neighbours(cells, 1)
    assert (weights.diagonal() == 1).all()
    row = weights[0].indices
    expected = {h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(int(cells[0])), 1)} & set(cells.tolist())
    assert set(cells[row].tolist()) == expected
    assert (weights != weights.T).nnz == 0


@pytest.mark.parametrize("k", [1, 2])
def test_gi_star_equals_esda(cells, k):
    rng = np.random.default_rng(k)
    counts = rng.poisson(2.0, cells.size).astype(float)
    counts[:50] += 25  # a hot corner
    counts[rng.choice(cells.size, cells.size // 3, replace=False)] = 0  # zeros are data
    weights = neighbours(cells, k)
    z, p = gi_star(counts, weights)
    off_diagonal = weights.tolil()
    off_diagonal.setdiag(0)
    off_diagonal = off_diagonal.tocsr()
    off_diagonal.eliminate_zeros()
    w = W({i: off_diagonal[i].indices.tolist() for i in range(cells.size)}, silence_warnings=True)
    reference = G_Local(counts, w, transform="B", star=True, permutations=0)
    assert np.allclose(z, reference.Zs, atol=1e-9, rtol=0)
    assert np.allclose(p, 2 * reference.p_norm, atol=1e-12)
    assert z[:50].mean() > 3


def test_benjamini_hochberg_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.20, 0.005])
    # Sorted: 0.005, 0.01, 0.03, 0.04, 0.20 against 0.01, 0.02, 0.03, 0.04, 0.05.
    assert bh_significant(p, 0.05).tolist() == [True, True, True, False, True]
    assert bh_significant(np.array([0.02, 0.03]), 0.01).tolist() == [False, False]
    with pytest.raises(ValidationError):
        bh_significant(p, 1.5)


def test_confidence_bins_follow_the_levels():
    z = np.array([4.0, 2.2, -2.2, -1.7, 0.1])
    p = 2 * stats.norm.sf(np.abs(z))
    assert confidence_bins(z, p, fdr=False).tolist() == [3, 2, -2, -1, 0]
    # With the FDR, the same values pass only where the ranks allow.
    fdr = confidence_bins(z, p)
    assert fdr[0] == 3
    assert fdr[4] == 0
    assert np.abs(fdr).max() <= 3


def test_mann_kendall_equals_kendalls_tau_against_time():
    rng = np.random.default_rng(9)
    series = rng.normal(size=(40, 12)).cumsum(axis=1)
    z, p = mann_kendall(series)
    for row, pval in zip(series, p, strict=True):
        assert pval == pytest.approx(stats.kendalltau(np.arange(12), row, method="asymptotic").pvalue)
    assert np.sign(z[0]) == np.sign(stats.kendalltau(np.arange(12), series[0]).statistic)


H, C, N = 3, -3, 0
SERIES = {
    "new hot spot": [N, N, N, N, N, N, N, N, N, H],
    "consecutive hot spot": [N, N, N, N, N, N, N, H, H, H],
    "intensifying hot spot": [H] * 10,
    "persistent hot spot": [H] * 10,
    "diminishing hot spot": [H] * 10,
    "sporadic hot spot": [N, H, N, N, H, N, H, N, N, H],
    "oscillating hot spot": [C, N, C, N, H, N, N, C, N, H],
    "historical hot spot": [H, H, H, H, H, H, H, H, H, N],
    "new cold spot": [N, N, N, N, N, N, N, N, N, C],
    "historical cold spot": [C, C, C, C, C, C, C, C, C, N],
    "no pattern": [N] * 10,
}
TRENDS = {"intensifying hot spot": (3.0, 0.001), "diminishing hot spot": (-3.0, 0.001)}


def test_one_hand_built_series_per_category():
    names = list(SERIES)
    bins = np.array([SERIES[n] for n in names])
    trend = np.array([TRENDS.get(n, (0.5, 0.6)) for n in names])
    got = emerging_categories(bins, trend[:, 0], trend[:, 1])
    assert got.tolist() == names


def test_ninety_percent_rule_and_cold_intensifying():
    nine_of_ten = np.array([[H, H, H, N, H, H, H, H, H, H]])
    assert emerging_categories(nine_of_ten, np.array([0.0]), np.array([0.9]))[0] == "persistent hot spot"
    eight_of_ten = np.array([[H, N, H, N, H, H, H, H, H, H]])
    assert emerging_categories(eight_of_ten, np.array([0.0]), np.array([0.9]))[0] == "sporadic hot spot"
    cold = np.array([[C] * 10])
    assert emerging_categories(cold, np.array([-3.0]), np.array([0.001]))[0] == "intensifying cold spot"


def test_trends_are_judged_with_the_false_discovery_rate_among_mostly_hot_cells():
    bins = np.array([[H] * 10] * 20)
    trend_z = np.full(20, -2.1)
    trend_p = np.full(20, 0.9)
    trend_p[0] = 0.03  # one chance trend among twenty persistent cells
    trend_p[1] = 1e-6
    got = emerging_categories(bins, trend_z, trend_p)
    assert got[0] == "persistent hot spot"
    assert got[1] == "diminishing hot spot"
    assert emerging_categories(bins, trend_z, trend_p, trend_fdr=False)[0] == "diminishing hot spot"


def test_final_run_by_hand():
    flags = np.array([[0, 1, 1, 0, 1, 1], [1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0]], dtype=bool)
    assert final_run(flags).tolist() == [2, 6, 0]


def test_new_hot_spots_must_rise_from_their_earlier_level(cells):
    """A cell that crosses the line by chance in the final step stays sporadic; one that rises
    from next to nothing is new. Counts built by hand on real cells."""
    rng = np.random.default_rng(3)
    steps = 12
    counts = rng.poisson(2.0, (cells.size, steps)).astype(float)
    weights = neighbours(cells, 1)
    neighbourhood = [weights[i].indices for i in (100, 1500)]
    assert not set(neighbourhood[0]) & set(neighbourhood[1])
    # Cell 1500: quiet, then many complaints in the final step.
    counts[neighbourhood[1], -1] = 12.0
    # Cell 100: a steady neighbourhood just below the line, a little over it at the end: find
    # the level at which ArcGIS's rules alone call it new.
    for level in np.arange(2.5, 6.0, 0.1):
        counts[neighbourhood[0]] = level
        counts[neighbourhood[0], -1] = level * 1.2
        plain = emerging_hot_spots(counts, weights, min_rise=None)
        if plain.patterns[100] == "new hot spot":
            break
    assert plain.patterns[100] == "new hot spot"
    assert plain.patterns[1500] == "new hot spot"
    found = emerging_hot_spots(counts, weights)
    assert found.patterns[100] == "sporadic hot spot"
    assert found.patterns[1500] == "new hot spot"
    with pytest.raises(ValidationError, match="min_rise"):
        emerging_hot_spots(counts, weights, min_rise=0.5)
    with pytest.raises(ValidationError, match="at least 3 steps"):
        emerging_hot_spots(counts[:, :2], weights)


def test_bad_input_is_named(cells):
    with pytest.raises(ValidationError, match="at least 1"):
        neighbours(cells, 0)
    with pytest.raises(ValidationError, match="unique"):
        neighbours(np.r_[cells[:3], cells[:1]], 1)
    with pytest.raises(ValidationError, match="counts but weights"):
        gi_star(np.ones(5), neighbours(cells, 1))
    with pytest.raises(ValidationError, match="3 time steps"):
        mann_kendall(np.ones((2, 2)))
    z, p = gi_star(np.ones(cells.size), neighbours(cells, 1))
    assert (z == 0).all()
    assert (p == 1).all()
