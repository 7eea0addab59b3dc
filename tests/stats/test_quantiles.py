"""Quantile binning of the truth, the quantile MSE and the equivalent-sample-size formula."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from flashgen.errors import FlashgenError
from flashgen.sources.toys import CamelBack, Ring, Shell
from flashgen.stats.quantiles import (bin_index, equivalent_events, expected_sampled_mse, pit_dims,
                                      quantile_fractions, quantile_grid, quantile_mse, unbiased_mse)


def test_quantile_grid_documented_splits() -> None:
    assert quantile_grid(10, 2) == (2, 5)
    assert quantile_grid(20, 2) == (4, 5)
    assert quantile_grid(50, 2) == (5, 10)
    assert quantile_grid(16, 2) == (4, 4)
    assert quantile_grid(7, 2) == (1, 7)
    assert quantile_grid(50, 1) == (50,)
    with pytest.raises(FlashgenError):
        quantile_grid(1)
    with pytest.raises(FlashgenError):
        quantile_grid(10, 3)


def test_pit_dims() -> None:
    assert pit_dims(CamelBack()) == 1
    assert pit_dims(Ring()) == 2
    assert pit_dims(Shell(3)) == 1


def test_bin_index_order_and_edges() -> None:
    u = np.array([[0.0, 0.0], [0.0, 0.99], [0.49, 0.2], [0.5, 0.0], [1.0, 1.0]])
    assert bin_index(u, (2, 5)).tolist() == [0, 4, 1, 5, 9]
    assert bin_index(np.array([0.0, 0.0999, 0.1, 0.95, 1.0]), (10,)).tolist() == [0, 0, 1, 9, 9]


@pytest.mark.parametrize("toy", [CamelBack(), Ring(), Shell(3)], ids=["camelback", "ring", "shell3"])
def test_equal_expected_counts_under_truth(toy) -> None:
    """Equal-probability bins: counts of a large truth sample are uniform (chi-square test)."""
    n = 200_000
    points = toy.sample(n, np.random.default_rng(toy.dim))
    for k in (10, 20, 50):
        counts = quantile_fractions(points, toy, k) * n
        assert counts.sum() == pytest.approx(n)
        chi2 = np.sum((counts - n / k) ** 2 / (n / k))
        assert stats.chi2.sf(chi2, k - 1) > 1e-3


def test_expected_mse_formula_matches_simulation() -> None:
    """Mean quantile MSE of n truth events equals (1 - 1/K)/(K n) (multinomial variance)."""
    toy = CamelBack()
    rng = np.random.default_rng(7)
    reps, n = 4000, 50
    u = toy.pit(toy.sample(reps * n, rng))[:, 0].reshape(reps, n)
    for k in (10, 20, 50):
        idx = np.minimum((u * k).astype(int), k - 1)
        fractions = np.stack([np.bincount(row, minlength=k) for row in idx]) / n
        mse = quantile_mse(fractions)
        expected = expected_sampled_mse(n, k)
        assert abs(mse.mean() - expected) < 4 * mse.std(ddof=1) / np.sqrt(reps)
        assert mse.mean() == pytest.approx(expected, rel=0.05)


def test_equivalent_events_inverts_expected_mse() -> None:
    for k in (10, 20, 50):
        for n in (1, 100, 12345):
            assert equivalent_events(expected_sampled_mse(n, k), k) == pytest.approx(n)
    assert equivalent_events(0.0, 10) == np.inf
    assert equivalent_events(-1e-6, 10) == np.inf


def test_quantile_mse_values() -> None:
    assert quantile_mse(np.full(10, 0.1)) == 0.0
    f = np.array([0.5, 0.5, 0.0, 0.0])
    assert quantile_mse(f) == pytest.approx(4 * 0.25**2 / 4)
    assert quantile_mse(np.stack([f, np.full(4, 0.25)])).tolist() == pytest.approx([0.0625, 0.0])


def test_unbiased_mse_removes_sampling_noise() -> None:
    """For multinomial counts with probabilities p, E[unbiased MSE] = sum (p - 1/K)^2 / K."""
    rng = np.random.default_rng(3)
    p = np.array([0.3, 0.2, 0.2, 0.15, 0.15])
    n, reps = 200, 20_000
    f = rng.multinomial(n, p, size=reps) / n
    values = unbiased_mse(f, n)
    target = quantile_mse(p)
    assert abs(values.mean() - target) < 4 * values.std(ddof=1) / np.sqrt(reps)
    assert quantile_mse(f).mean() > target * 1.2  # the plain MSE is biased upwards


def test_fractions_reject_bad_samples() -> None:
    with pytest.raises(FlashgenError, match="NaN"):
        quantile_fractions(np.array([[0.0], [np.nan]]), CamelBack(), 10)
    with pytest.raises(FlashgenError, match="empty"):
        quantile_fractions(np.zeros((0, 1)), CamelBack(), 10)
