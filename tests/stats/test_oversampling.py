"""Folded statistics of oversampled samples (:mod:`flashgen.stats.oversampling`): exact limits,
a hand-computed histogram, the bins of the validation, a toy calibration against the exact
variance, and the user errors. Validation and ``flashgen worth`` on oversampled tables are tested
in tests/validation/test_validation_oversampling.py and tests/cli/test_worth.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import norm

from flashgen.errors import FlashgenError
from flashgen.stats.oversampling import extra_fraction_variance, folded_histogram, oversampling_gain
from flashgen.stats.histogram_worth import member_fractions
from flashgen.validation.binning import counts_with_flow

EDGES = np.linspace(-3.0, 3.0, 13)


def test_one_copy_is_binomial_and_gains_nothing() -> None:
    x = np.random.default_rng(1).normal(size=5000)
    h = folded_histogram(x, np.arange(5000), EDGES)
    assert h.events == 5000 and h.copies == 1
    np.testing.assert_array_equal(h.naive_variance, h.counts)
    np.testing.assert_allclose(h.variance, h.counts * (1 - h.counts / 5000), rtol=1e-12)  # binomial
    g = oversampling_gain(x, np.arange(5000), EDGES)
    assert g.gain == pytest.approx(1.0, rel=1e-12) and g.error_ratio == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(extra_fraction_variance(x, np.arange(5000), EDGES), 0.0, atol=1e-18)


def test_identical_copies_gain_exactly_one() -> None:
    x = np.random.default_rng(1).normal(size=5000)
    one = folded_histogram(x, np.arange(5000), EDGES)
    same = folded_histogram(np.repeat(x, 7), np.repeat(np.arange(5000), 7), EDGES)
    np.testing.assert_allclose(same.variance, 49 * one.variance, rtol=1e-12)  # (7 w)² per event
    np.testing.assert_array_equal(same.naive_variance, 7 * one.counts)  # naive: 7x too small
    g = oversampling_gain(np.repeat(x, 7), np.repeat(np.arange(5000), 7), EDGES)
    assert (g.events, g.copies, g.rows) == (5000, 7, 35_000)
    assert g.gain == pytest.approx(1.0, rel=1e-12) and g.equivalent_events == pytest.approx(5000)
    assert g.naive_error_ratio == pytest.approx(7**-0.5)


@pytest.mark.parametrize("copies", [5, 10])
def test_independent_copies_gain_k(copies: int) -> None:
    """Independent values, each event's K rows scattered in the table (ids in any order): the
    gain is K up to its statistical error (measured 5.03 and 9.96)."""
    rng = np.random.default_rng(copies)
    event = rng.permutation(np.repeat(np.arange(20_000), copies)) + 10**12  # large ids are fine
    g = oversampling_gain(rng.normal(size=20_000 * copies), event, EDGES)
    assert g.copies == copies and g.events == 20_000
    assert g.gain == pytest.approx(copies, rel=0.03)
    assert g.equivalent_events == pytest.approx(20_000 * copies, rel=0.03)


def test_a_histogram_by_hand() -> None:
    """Event 0 has three rows (weights 1, 2 in bin 0; 3 in bin 1), event 1 a rejected row (NaN)
    and one above the edges: per bin Σ_e X_eb² − c_b² / N with N = 2."""
    values = np.array([0.1, 0.2, 0.7, np.nan, 1.5])
    event = np.array([0, 0, 0, 1, 1])
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    h = folded_histogram(values, event, [0.0, 0.5, 1.0], weights=w)
    assert (h.events, h.copies) == (2, 3)
    np.testing.assert_allclose(h.counts, [3.0, 3.0])
    np.testing.assert_allclose(h.naive_variance, [5.0, 9.0])
    np.testing.assert_allclose(h.variance, [9.0 - 4.5, 9.0 - 4.5])
    f = folded_histogram(values, event, [0.0, 0.5, 1.0], weights=w, flow=True)
    np.testing.assert_allclose(f.counts, [0.0, 3.0, 3.0, 5.0])
    np.testing.assert_allclose(f.variance, [0.0, 4.5, 4.5, 25.0 - 12.5])
    np.testing.assert_allclose(f.inflation[1:], [0.9, 0.5, 0.5])
    assert json.loads(json.dumps(f.to_json()))["variance"] == [0.0, 4.5, 4.5, 12.5]


def test_bins_match_the_validation_and_the_worth_histograms() -> None:
    """Values on the outer and inner edges, outside, NaN and ±inf: bins closed on the left, the
    last closed on both sides, as counts_with_flow and member_fractions."""
    x = np.array([-5.0, -3.0, -2.5, -0.5, 0.0, 2.5, 3.0, 7.0, np.nan, np.inf, -np.inf, 2.9999])
    h = folded_histogram(x, np.arange(len(x)), EDGES, flow=True)
    np.testing.assert_array_equal(h.counts, counts_with_flow(x, EDGES))
    inner = folded_histogram(x, np.arange(len(x)), EDGES)
    np.testing.assert_array_equal(inner.counts, h.counts[1:-1])
    _, fractions = member_fractions(x, np.zeros(len(x), dtype=int), EDGES)
    np.testing.assert_allclose(inner.counts, fractions[0] * len(x))
    assert list(inner.counts[[0, 1, -1]]) == [1, 1, 3]  # -3.0; -2.5; 2.5, 2.9999 and 3.0


def test_extra_fraction_variance_of_identical_copies() -> None:
    """K identical copies: the fractions vary K times the multinomial amount, the extra is K - 1
    times it, bin by bin (flow bins included)."""
    x = np.random.default_rng(4).normal(size=3000)
    x[:100] = np.nan  # rejected events: no bin, not in M
    extra = extra_fraction_variance(np.repeat(x, 4), np.repeat(np.arange(3000), 4), EDGES)
    c = counts_with_flow(np.repeat(x, 4), EDGES).astype(float)
    m = 4 * 2900
    # V_b = 16 n_b (1 - n_b / 3000) with n_b = c_b / 4 events in the bin
    expected = (4 * c * (1 - c / 12_000) - c * (1 - c / m)) / m**2
    np.testing.assert_allclose(extra, expected, rtol=1e-12)
    assert extra.shape == (len(EDGES) + 1,) and np.all(extra > 0)


def test_folded_variance_matches_the_spread_over_repetitions() -> None:
    """Per event x ~ N(0, 1), each of K = 5 copies x + 0.5 ε; 300 repetitions of 2,000 events.

    The exact variance of a bin's count is ``N (5 E q + 20 E q² − 25 (E q)²)`` with ``q(x)`` the
    probability of one copy to fall in the bin (Gauss-Hermite quadrature over x). The folded
    estimate, averaged over the repetitions, is within 0.5 % of it in the central bins (1.6 % in
    the outermost: ~30 events a bin). The empirical variance over 300 repetitions has a relative
    error of sqrt(2 / 299) = 8 % per bin: it agrees with the mean folded variance within 19 %
    (2.3 σ) bin by bin and within 6.5 % over the six central bins, asserted at 30 % (3.5 σ) and
    10 %. The naive Σ w² is the expected count: 0.56-0.78 of the variance (22-44 % too small).
    """
    n, k, reps = 2000, 5, 300
    x, wq = np.polynomial.hermite_e.hermegauss(120)
    q = norm.cdf((EDGES[1:, None] - x) / 0.5) - norm.cdf((EDGES[:-1, None] - x) / 0.5)
    eq, eq2 = q @ wq / np.sqrt(2 * np.pi), q**2 @ wq / np.sqrt(2 * np.pi)
    exact = n * (k * eq + k * (k - 1) * eq2 - (k * eq) ** 2)

    rng = np.random.default_rng(3)
    event = np.repeat(np.arange(n), k)
    counts, folded, naive = [], [], []
    for _ in range(reps):
        h = folded_histogram(np.repeat(rng.normal(size=n), k) + 0.5 * rng.normal(size=n * k), event, EDGES)
        counts.append(h.counts)
        folded.append(h.variance)
        naive.append(h.naive_variance)
    empirical = np.var(counts, axis=0, ddof=1)
    folded_mean, naive_mean = np.mean(folded, axis=0), np.mean(naive, axis=0)
    central = slice(3, 9)
    np.testing.assert_allclose(folded_mean[central], exact[central], rtol=0.01)
    np.testing.assert_allclose(folded_mean, exact, rtol=0.03)
    np.testing.assert_allclose(empirical, folded_mean, rtol=0.3)
    assert empirical[central].sum() / folded_mean[central].sum() == pytest.approx(1.0, abs=0.1)
    np.testing.assert_allclose(naive_mean, n * k * eq, rtol=0.01)
    assert np.all(naive_mean < 0.8 * exact)
    assert naive_mean[central].sum() < 0.75 * exact[central].sum()  # 0.71
    assert np.all(naive_mean[[0, 1, -2, -1]] < 0.6 * exact[[0, 1, -2, -1]])


def test_a_gain_that_cannot_be_computed_is_plain_json() -> None:
    g = oversampling_gain(np.full(6, 0.1), np.repeat(np.arange(3), 2), EDGES)  # one bin holds all
    assert np.isnan(g.gain)
    assert json.loads(json.dumps(g.to_json(), allow_nan=False))["gain"] is None


def test_errors() -> None:
    with pytest.raises(FlashgenError, match="equal length"):
        folded_histogram(np.zeros(3), np.zeros(2, dtype=int), EDGES)
    with pytest.raises(FlashgenError, match="must be 1D"):
        folded_histogram(np.zeros((2, 2)), np.zeros((2, 2), dtype=int), EDGES)
    for bad in (np.array([0.5, 1.0]), np.array([-1, 1]), np.array([np.inf, 1.0]), np.array([True, False]),
                np.array(["a", "b"])):
        with pytest.raises(FlashgenError, match="non-negative integers"):
            folded_histogram(np.zeros(2), bad, EDGES)
    assert folded_histogram(np.zeros(2), np.array([3.0, 3.0]), EDGES).copies == 2  # integral floats pass
    with pytest.raises(FlashgenError, match="strictly increasing"):
        folded_histogram(np.zeros(2), np.array([0, 1]), np.array([1.0, 0.0]))
    with pytest.raises(FlashgenError, match="at least 2 bin edges"):
        oversampling_gain(np.zeros(2), np.array([0, 1]), np.array([1.0]))
    with pytest.raises(FlashgenError, match="weights of shape"):
        folded_histogram(np.zeros(2), np.array([0, 1]), EDGES, weights=np.ones(3))
