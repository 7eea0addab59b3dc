"""Two-sample metrics against analytic values, scipy and their null distributions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from flashgen.errors import FlashgenError
from flashgen.validation.binning import auto_edges, counts_with_flow, is_discrete
from flashgen.validation.metrics import (
    binomial_fraction,
    chi2_histograms,
    correlation_difference,
    correlation_matrix,
    frechet_distance,
    frechet_distance_extrapolated,
    gaussianize,
    ks_and_wasserstein,
    ks_test,
    wasserstein_1d,
)

# --- KS ------------------------------------------------------------------------------------


def test_ks_identical_and_disjoint_samples() -> None:
    x = np.arange(200.0)
    same = ks_test(x, x.copy())
    assert same.statistic == 0.0 and same.pvalue == pytest.approx(1.0)
    apart = ks_test(x, x + 1000.0)
    assert apart.statistic == 1.0 and apart.pvalue < 1e-30


@pytest.mark.parametrize("n, m, method", [(40, 60, "exact"), (3000, 1000, "asymp"),
                                          (20000, 20000, "asymp"), (50_000, 8000, "asymp")])
def test_ks_matches_scipy(rng: np.random.Generator, n: int, m: int, method: str) -> None:
    a, b = rng.normal(size=n), rng.normal(0.03, 1.05, size=m)
    ours, ref = ks_test(a, b), stats.ks_2samp(a, b, method=method)
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-12)
    # the Kolmogorov limit with Stephens' correction: 1 % for p > 1e-3, a few % in the far tail
    assert ours.pvalue == pytest.approx(ref.pvalue, rel=1e-2 if ref.pvalue > 1e-3 else 5e-2)


def test_ks_with_ties_matches_scipy(rng: np.random.Generator) -> None:
    a, b = rng.poisson(5, 5000).astype(float), rng.poisson(5.2, 4000).astype(float)
    assert ks_test(a, b).statistic == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)


def test_ks_statistic_of_a_gaussian_shift(rng: np.random.Generator) -> None:
    # sup |Phi(x) - Phi(x - d)| = 2 Phi(d / 2) - 1
    d = 0.3
    a, b = rng.normal(size=200_000), rng.normal(d, 1.0, size=200_000)
    assert ks_test(a, b).statistic == pytest.approx(2 * special.ndtr(d / 2) - 1, abs=0.006)


def test_ks_ignores_nan_and_rejects_empty() -> None:
    a = np.array([1.0, 2.0, np.nan, 3.0])
    assert ks_test(a, np.array([1.0, 2.0, 3.0])).statistic == 0.0
    with pytest.raises(FlashgenError, match="no finite values"):
        ks_test(np.array([np.nan]), a)


# --- Wasserstein ---------------------------------------------------------------------------


def test_wasserstein_exact_small_examples() -> None:
    assert wasserstein_1d(np.array([0.0, 1.0, 2.0]), np.array([0.5, 1.5, 2.5])) == pytest.approx(0.5)
    # half the mass moves 1, half moves 3
    assert wasserstein_1d(np.array([0.0]), np.array([1.0, 3.0])) == pytest.approx(2.0)
    assert wasserstein_1d(np.array([1.0, 1.0, 2.0]), np.array([2.0, 1.0, 1.0])) == 0.0


def test_wasserstein_matches_scipy(rng: np.random.Generator) -> None:
    a, b = rng.exponential(2.0, 3000), rng.gamma(2.0, 1.0, 1700)
    assert wasserstein_1d(a, b) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-10)
    ai, bi = np.round(a), np.round(b)  # with ties
    assert wasserstein_1d(ai, bi) == pytest.approx(stats.wasserstein_distance(ai, bi), rel=1e-10)


def test_wasserstein_of_gaussian_shift_and_scale(rng: np.random.Generator) -> None:
    z1, z2 = rng.normal(size=200_000), rng.normal(size=200_000)
    assert wasserstein_1d(z1, z2 + 0.25) == pytest.approx(0.25, abs=0.01)
    # W1(N(0,1), N(0,s^2)) = |1 - s| E|Z| = |1 - s| sqrt(2 / pi)
    assert wasserstein_1d(z1, 1.5 * z2) == pytest.approx(0.5 * np.sqrt(2 / np.pi), abs=0.01)


def test_ks_and_wasserstein_share_one_pass(rng: np.random.Generator) -> None:
    a, b = rng.normal(size=500), rng.normal(size=700)
    ks, w1 = ks_and_wasserstein(a, b)
    assert ks == ks_test(a, b) and w1 == wasserstein_1d(a, b)


# --- histogram chi2 ------------------------------------------------------------------------


def test_chi2_of_proportional_histograms_is_zero() -> None:
    res = chi2_histograms(np.array([10, 20, 30, 0]), np.array([20, 40, 60, 0]))
    assert res.chi2 == pytest.approx(0.0) and res.ndf == 2  # the empty bin is skipped


def test_chi2_hand_computed() -> None:
    n, m = np.array([10.0, 30.0]), np.array([30.0, 30.0])
    # N = 40, M = 60: sum (M n_i - N m_i)^2 / (N M (n_i + m_i))
    expected = ((600 - 1200) ** 2 / 40 + (1800 - 1200) ** 2 / 60) / (40 * 60)
    res = chi2_histograms(n, m)
    assert res.chi2 == pytest.approx(expected) and res.ndf == 1
    assert res.chi2_ndf == pytest.approx(expected)
    assert res.pvalue == pytest.approx(stats.chi2.sf(expected, 1))


def test_chi2_is_calibrated_for_unequal_sample_sizes(rng: np.random.Generator) -> None:
    edges = np.linspace(-3, 3, 21)
    values = []
    for _ in range(300):
        a, b = rng.normal(size=1000), rng.normal(size=6000)
        values.append(chi2_histograms(counts_with_flow(a, edges), counts_with_flow(b, edges)).chi2_ndf)
    # mean of chi2/ndf is 1 with standard error sqrt(2/ndf)/sqrt(300) ~ 0.018
    assert np.mean(values) == pytest.approx(1.0, abs=0.07)


def test_chi2_with_inherited_variance_hand_computed() -> None:
    n, m = np.array([10.0, 30.0]), np.array([30.0, 30.0])
    extra = np.array([0.01, 0.0])
    # per bin (n/N - m/M)^2 / ((n + m)/(N M) + extra)
    expected = (0.25 - 0.5) ** 2 / (40 / 2400 + 0.01) + (0.75 - 0.5) ** 2 / (60 / 2400)
    assert chi2_histograms(n, m, extra).chi2 == pytest.approx(expected)
    assert chi2_histograms(n, m, np.zeros(2)).chi2 == pytest.approx(chi2_histograms(n, m).chi2)


def test_chi2_with_inherited_variance_is_calibrated(rng: np.random.Generator) -> None:
    """A generator whose bin probabilities scatter by the stated inherited variance: the χ²
    including it has mean 1 per degree of freedom; without it, far more."""
    edges = np.linspace(-3, 3, 21)
    p = np.diff(stats.norm.cdf(np.concatenate([[-np.inf], edges, [np.inf]])))
    var = (0.1 * p) ** 2
    with_, without = [], []
    for _ in range(300):
        q = np.clip(p + rng.normal(0, np.sqrt(var)), 1e-9, None)
        ref, gen = rng.multinomial(2000, p), rng.multinomial(20_000, q / q.sum())
        with_.append(chi2_histograms(ref, gen, var).chi2_ndf)
        without.append(chi2_histograms(ref, gen).chi2_ndf)
    assert np.mean(with_) == pytest.approx(1.0, abs=0.1)
    assert np.mean(without) > 1.5


def test_chi2_rejects_bad_input() -> None:
    with pytest.raises(FlashgenError, match="equal length"):
        chi2_histograms(np.ones(3), np.ones(4))
    with pytest.raises(FlashgenError, match="empty"):
        chi2_histograms(np.zeros(3), np.ones(3))
    with pytest.raises(FlashgenError, match="non-negative"):
        chi2_histograms(np.array([1.0, -1.0]), np.ones(2))
    with pytest.raises(FlashgenError, match="inherited variances"):
        chi2_histograms(np.ones(2), np.ones(2), np.array([-1.0, 0.0]))


def test_binomial_fraction_is_clopper_pearson() -> None:
    tail = stats.norm.sf(1.0)  # (1 - 0.6827) / 2 = 0.15866
    # k of n: [Beta(k, n-k+1).ppf(tail), Beta(k+1, n-k).ppf(1 - tail)], error = half the width
    lower, upper = stats.beta.ppf(tail, 2, 3), stats.beta.ppf(1 - tail, 3, 2)
    assert binomial_fraction(np.array([1, 1, 0, 0])) == pytest.approx((0.5, (upper - lower) / 2),
                                                                    rel=1e-9)
    assert (upper - lower) / 2 == pytest.approx(0.3147, abs=1e-4)  # Wald would say 0.25


@pytest.mark.parametrize("n", [1, 10, 1000])
def test_binomial_fraction_at_zero_and_one_is_not_exact(n: int) -> None:
    # k = 0: the interval is [0, 1 - 0.15866^(1/n)] (the Beta(1, n) quantile); k = n mirrors it
    upper = 1.0 - stats.norm.sf(1.0) ** (1.0 / n)
    assert upper == pytest.approx(stats.beta.ppf(1 - stats.norm.sf(1.0), 1, n), rel=1e-12)
    if n == 10:
        assert upper == pytest.approx(1 - 0.15865 ** 0.1, rel=1e-4)
    assert binomial_fraction(np.zeros(n)) == pytest.approx((0.0, upper / 2), rel=1e-9)
    assert binomial_fraction(np.ones(n, dtype=bool)) == pytest.approx((1.0, upper / 2), rel=1e-9)


def test_binomial_fraction_approaches_wald_and_handles_empty(rng: np.random.Generator) -> None:
    passed = rng.random(200_000) < 0.3
    p, err = binomial_fraction(passed)
    assert p == passed.mean()
    assert err == pytest.approx(np.sqrt(p * (1 - p) / passed.size), rel=1e-2)
    assert all(np.isnan(binomial_fraction(np.array([]))))


# --- correlations --------------------------------------------------------------------------


def test_correlation_matrix_of_known_gaussian(rng: np.random.Generator) -> None:
    cov = [[1.0, 0.6], [0.6, 1.0]]
    x = rng.multivariate_normal([0, 0], cov, size=100_000)
    assert correlation_matrix(x)[0, 1] == pytest.approx(0.6, abs=0.01)


def test_correlation_matrix_constant_column_and_nan_rows(rng: np.random.Generator) -> None:
    x = np.column_stack([rng.normal(size=100), np.full(100, 3.0), rng.normal(size=100)])
    x[5, 0] = np.nan
    c = correlation_matrix(x)
    assert np.all(np.isfinite(c)) and c[1, 1] == 1.0 and c[0, 1] == 0.0 and c[1, 2] == 0.0
    np.testing.assert_allclose(c[0, 2], np.corrcoef(np.delete(x, 5, axis=0)[:, [0, 2]].T)[0, 1])


def test_correlation_difference_analytic(rng: np.random.Generator) -> None:
    a = rng.multivariate_normal([0, 0], [[1, 0.5], [0.5, 1]], size=200_000)
    b = rng.normal(size=(200_000, 2))
    diff = correlation_difference(a, b)
    assert diff.max_abs == pytest.approx(0.5, abs=0.01)
    assert diff.frobenius == pytest.approx(np.sqrt(2) * 0.5, abs=0.015)


# --- Fréchet distance ----------------------------------------------------------------------


def test_frechet_distance_of_diagonal_gaussians() -> None:
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([0.5, 1.0, 1.0])
    s1, s2 = np.array([1.0, 2.0, 0.5]), np.array([1.5, 2.0, 1.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((s1 - s2) ** 2)
    assert frechet_distance(mu1, np.diag(s1**2), mu2, np.diag(s2**2)) == pytest.approx(expected)


def test_frechet_distance_general_covariance(rng: np.random.Generator) -> None:
    from scipy.linalg import sqrtm

    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    c1, c2 = a @ a.T + np.eye(4), b @ b.T + np.eye(4)
    expected = np.trace(c1 + c2 - 2 * np.real(sqrtm(c1 @ c2)))
    assert frechet_distance(np.zeros(4), c1, np.zeros(4), c2) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(np.ones(4), c1, np.zeros(4), c1) == pytest.approx(4.0, abs=1e-8)


def test_frechet_extrapolation_removes_the_finite_sample_bias(rng: np.random.Generator) -> None:
    d = 6
    a = rng.normal(size=(60_000, d))
    shift = np.zeros(d)
    shift[0] = 0.2  # FD = 0.04
    b = rng.normal(size=(60_000, d)) + shift
    res = frechet_distance_extrapolated(a, b, min_size=2000, max_size=30_000, seed=1, cap=True)
    assert res.value == pytest.approx(0.04, abs=max(4 * res.error, 0.006))
    assert res.means[0] > res.value  # small batches are biased upwards
    same = frechet_distance_extrapolated(a, rng.normal(size=(60_000, d)), min_size=2000,
                                         max_size=30_000, seed=1, cap=True)
    assert abs(same.value) < max(4 * same.error, 0.003)
    assert same.means[0] > 10 * max(same.value, same.error)  # the bias at N = 2000 is ~ d/N


def test_uncapped_frechet_tends_to_the_distance_of_the_empirical_samples(
        rng: np.random.Generator) -> None:
    # batches beyond the sample size (jetnet's convention): the intercept is the Fréchet distance
    # of the two samples' own means and covariances, ~ d (1/n + 1/m) for one distribution
    d, n, m = 4, 1_000, 4_000
    a, b = rng.normal(size=(n, d)), rng.normal(size=(m, d))
    res = frechet_distance_extrapolated(a, b, seed=2)
    exact = frechet_distance(a.mean(0), np.cov(a.T), b.mean(0), np.cov(b.T))
    assert res.value == pytest.approx(exact, abs=max(3 * res.error, 0.1 * exact))
    assert 0.2 * d * (1 / n + 1 / m) < res.value < 5 * d * (1 / n + 1 / m)


def test_frechet_extrapolation_is_seeded_and_checks_input(rng: np.random.Generator) -> None:
    a, b = rng.normal(size=(3000, 3)), rng.normal(size=(3000, 3))
    r1 = frechet_distance_extrapolated(a, b, seed=3, cap=True)
    r2 = frechet_distance_extrapolated(a, b, seed=3, cap=True)
    assert r1.value == r2.value and r1.sizes.max() == 3000
    # as jetnet: the largest size 1/(1/50,000) truncates to 49,999
    assert frechet_distance_extrapolated(a, b, seed=3).sizes.max() == 49_999
    with pytest.raises(FlashgenError, match="alike"):
        frechet_distance_extrapolated(a, b[:, :2])
    with pytest.raises(FlashgenError, match="at least 10"):
        frechet_distance_extrapolated(a[:5], b)


def test_gaussianize_maps_reference_to_normal_scores(rng: np.random.Generator) -> None:
    x = rng.exponential(size=50_000)
    z = gaussianize(np.sort(x), x)
    assert z.mean() == pytest.approx(0.0, abs=0.01) and z.std() == pytest.approx(1.0, abs=0.02)
    assert np.all(np.diff(gaussianize(np.sort(x), np.sort(x))) >= 0)  # monotone
    ties = gaussianize(np.array([0.0, 0.0, 0.0, 1.0]), np.array([0.0, 1.0, np.nan, -5.0, 9.0]))
    assert ties[0] == pytest.approx(special.ndtri(3 / 8))  # mid-rank of the three zeros
    assert np.isnan(ties[2]) and ties[3] == pytest.approx(special.ndtri(1 / 8))
    assert ties[4] == pytest.approx(special.ndtri(7 / 8))


# --- binning -------------------------------------------------------------------------------


def test_auto_edges_integer_continuous_and_hint(rng: np.random.Generator) -> None:
    nvtx = rng.poisson(20, 10_000)
    edges = auto_edges(nvtx)
    assert is_discrete(nvtx) and np.all(np.diff(edges) == 1.0) and edges[0] % 1 == 0.5
    x = rng.normal(size=10_000)
    e = auto_edges(x, bins=30)
    assert len(e) == 31 and not is_discrete(x)
    assert np.all(np.diff(auto_edges(rng.poisson(1000, 10_000))) > 1)  # wide counts merged
    np.testing.assert_allclose(auto_edges(x, hint=(-np.pi, np.pi, 4)), np.linspace(-np.pi, np.pi, 5))
    assert np.all(np.diff(auto_edges(np.full(10, 2.5))) > 0)  # constant data still has a bin


def test_counts_with_flow() -> None:
    counts = counts_with_flow(np.array([-5.0, 0.1, 0.5, 1.0, 2.0, np.nan]), np.array([0.0, 0.5, 1.0]))
    np.testing.assert_array_equal(counts, [1, 1, 2, 1])
