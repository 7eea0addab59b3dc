"""Ensemble bands and their coverage where the truth is exact."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from flashgen.errors import FlashgenError
from flashgen.sources.toys import CamelBack
from flashgen.studies.bands import band_coverage, band_from_members, histogram_band
from flashgen.sources.electron import ElectronResponse
from flashgen.studies.coverage import CoverageDesign, coverage_study, ideal_coverage
from flashgen.studies.trainers import EmpiricalTrainer, TruthTrainer


def test_histogram_band_default_is_unchanged() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=5000)
    member = np.repeat(np.arange(5), 1000)
    edges = np.linspace(-3, 3, 7)
    band = histogram_band(values, member, edges)
    per = np.stack([np.histogram(values[member == m], edges)[0] / 1000 for m in range(5)])
    assert np.allclose(band.members, per)
    assert np.allclose(band.lo, np.quantile(per, 0.16, axis=0))
    assert np.allclose(band.center, np.median(per, axis=0))


def test_band_methods() -> None:
    per = np.array([[0.1, 0.5], [0.2, 0.4], [0.3, 0.6], [0.4, 0.5]])
    edges = np.arange(3.0)
    std = band_from_members(per, edges, method="std")
    assert np.allclose(std.center, per.mean(0)) and np.allclose(std.hi - std.center, per.std(0, ddof=1))
    quant = band_from_members(per, edges)
    pred = band_from_members(per, edges, method="prediction")
    assert np.all(pred.lo <= quant.lo) and np.all(pred.hi >= quant.hi)  # wider for small M
    assert band_coverage(std, np.array([0.25, 0.9])).tolist() == [True, False]
    with pytest.raises(FlashgenError, match="unknown band method"):
        band_from_members(per, edges, method="bayes")
    with pytest.raises(FlashgenError, match="shape"):
        band_coverage(std, np.zeros(3))


@pytest.mark.parametrize("members", [10, 20])
def test_ideal_coverage_matches_gaussian_simulation(members: int) -> None:
    """An ideal bootstrap: members scatter like the estimate does around the truth."""
    rng = np.random.default_rng(members)
    n = 40_000
    estimate = rng.standard_normal(n)  # training-sample estimate - truth
    boot = estimate[:, None] + rng.standard_normal((n, members))  # members around the estimate
    truth = np.zeros(n)
    for method in ("quantile", "prediction", "std"):
        band = band_from_members(boot.T, np.arange(n + 1.0), method=method)
        measured = band_coverage(band, truth).mean()
        assert measured == pytest.approx(ideal_coverage(members, method), abs=0.02)
    assert ideal_coverage(10, "quantile") == pytest.approx(0.68 * 9 / 11)
    assert ideal_coverage(10, "prediction") == pytest.approx(0.68)


def test_bootstrap_of_the_empirical_distribution_covers() -> None:
    """No model: the bootstrap band of histograms covers the exact truth about as ideal."""
    result = coverage_study(CamelBack(), EmpiricalTrainer(), CoverageDesign(
        n_train=500, members=20, n_gen=20_000, bins=10, repeats=12, n_holdout=200_000, seed=1))
    assert result.fractions.shape == (12, 20, 10)
    cov, err = result.coverage("prediction")
    assert 0 < err < 0.06 and abs(cov - 0.68) < max(4 * err, 0.1)
    summary = result.summary()
    assert summary["quantile"]["ideal"] < summary["prediction"]["ideal"]
    assert summary["sampled_spread_ratio"] == pytest.approx(1.0, abs=0.15)
    assert summary["bias_over_spread"] < 3 * summary["bias_noise_floor"]


def test_perfect_generator_band_is_generation_noise_only() -> None:
    """Sampling the truth ignores the bootstrap: the spread is the noise of n_gen events."""
    result = coverage_study(CamelBack(), TruthTrainer(CamelBack()), CoverageDesign(
        n_train=100, members=10, n_gen=100_000, bins=10, repeats=2, n_holdout=10_000, seed=2))
    expected = np.sqrt(100 / 100_000)  # binomial spread of n_gen over that of n_train events
    assert result.diagnostics()["sampled_spread_ratio"] == pytest.approx(expected, rel=0.25)


def test_electron_response_truth() -> None:
    truth = ElectronResponse()
    x = truth.sample(20_000, np.random.default_rng(4))
    assert x.shape == (20_000, 1) and np.all(x > 0)
    assert stats.kstest(truth.pit(x)[:, 0], "uniform").pvalue > 1e-3
    norm, _ = integrate.quad(lambda v: truth.pdf(np.array([v]))[0], 0, 20, limit=200)
    assert norm == pytest.approx(1.0, abs=1e-6)
    assert np.mean(x) == pytest.approx(4.25, rel=0.01)  # log-normal with mean pT
