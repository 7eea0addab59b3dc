"""Toy densities: sampled moments and KS tests against the exact CDFs, pdf normalisation, PIT."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from flashgen.errors import FlashgenError
from flashgen.sources.toys import TABLE_TOYS, TOYS, CamelBack, MixedTable, Ring, Shell, simulate_toy

N = 200_000
P_MIN = 1e-3  # smallest accepted KS p-value for the truth (seeds are fixed, so no flakiness)


def within(value: float, expected: float, sigma: float, k: float = 4.0) -> bool:
    """``value`` agrees with ``expected`` within ``k`` standard errors ``sigma``."""
    return abs(value - expected) < k * sigma


# ---------------------------------------------------------------------------------------------
# Camel back


@pytest.fixture(scope="module")
def camel_sample() -> np.ndarray:
    return CamelBack().sample(N, np.random.default_rng(11))


def test_camelback_moments_and_mode_fractions(camel_sample: np.ndarray) -> None:
    x = camel_sample[:, 0]
    assert camel_sample.shape == (N, 1)
    # X = S mu + Z with S = +-1: E X = 0, E X^2 = mu^2 + 1 = 17, E X^4 = mu^4 + 6 mu^2 + 3 = 355.
    assert within(x.mean(), 0.0, math.sqrt(17 / N))
    assert within(x.var(), 17.0, math.sqrt((355 - 17**2) / N))
    right = np.mean(x > 0)
    assert within(right, 0.5, math.sqrt(0.25 / N))
    for sign in (-1, 1):
        mode = x[np.sign(x) == sign]
        # Each mode is N(+-4, 1) up to a 3e-5 tail across zero.
        assert within(mode.mean(), 4.0 * sign, 1 / math.sqrt(len(mode)))
        assert within(mode.std(), 1.0, 1 / math.sqrt(2 * len(mode)))


def test_camelback_ks_against_exact_cdf(camel_sample: np.ndarray) -> None:
    toy = CamelBack()
    assert stats.kstest(camel_sample[:, 0], toy.cdf).pvalue > P_MIN
    # The test has power: a camel back with modes at +-4.05 is clearly rejected.
    assert stats.kstest(camel_sample[:, 0], CamelBack(mu=4.05).cdf).pvalue < 1e-6


def test_camelback_pdf_cdf_analytic_values() -> None:
    toy = CamelBack()
    phi = stats.norm.pdf
    np.testing.assert_allclose(toy.pdf(np.array([0.0, 4.0, -4.0])),
                               [phi(4.0), 0.5 * (phi(0) + phi(8)), 0.5 * (phi(0) + phi(8))],
                               rtol=1e-12)
    np.testing.assert_allclose(toy.cdf(np.array([0.0, 4.0, -4.0])),
                               [0.5, 0.5 * (stats.norm.cdf(8) + 0.5), 0.5 * (0.5 + stats.norm.cdf(-8))],
                               rtol=1e-12)
    # pdf is the derivative of the cdf.
    x = np.linspace(-9, 9, 181)
    h = 1e-5
    np.testing.assert_allclose((toy.cdf(x + h) - toy.cdf(x - h)) / (2 * h), toy.pdf(x),
                               rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("mu, sigma", [(4.0, 1.0), (2.0, 0.5)])
def test_camelback_pdf_normalised(mu: float, sigma: float) -> None:
    toy = CamelBack(mu, sigma)
    total, err = integrate.quad(lambda t: toy.pdf(np.array([t]))[0], -mu - 20 * sigma,
                                mu + 20 * sigma, points=[-mu, mu], limit=200)
    assert abs(total - 1.0) < 1e-9 and err < 1e-9


def test_camelback_ppf_inverts_cdf() -> None:
    toy = CamelBack()
    x = np.linspace(-9.0, 9.0, 1001)
    np.testing.assert_allclose(toy.ppf(toy.cdf(x)), x, atol=1e-7)
    q = np.linspace(1e-6, 1 - 1e-6, 1001)
    np.testing.assert_allclose(toy.cdf(toy.ppf(q)), q, atol=1e-12)
    assert toy.ppf(np.array(0.5)) == pytest.approx(0.0, abs=1e-9)


def test_camelback_pit_uniform(camel_sample: np.ndarray) -> None:
    u = CamelBack().pit(camel_sample)
    assert u.shape == (N, 1) and u.min() >= 0 and u.max() < 1
    assert stats.kstest(u[:, 0], "uniform").pvalue > P_MIN
    # Ten equal-probability bins ("quantiles") hold N/10 events each within Poisson errors.
    counts = np.bincount((u[:, 0] * 10).astype(int), minlength=10)
    assert stats.chisquare(counts).pvalue > P_MIN


# ---------------------------------------------------------------------------------------------
# Ring (2D shell)


@pytest.fixture(scope="module")
def ring_sample() -> np.ndarray:
    return Ring().sample(N, np.random.default_rng(12))


def test_ring_radius_and_coordinate_moments(ring_sample: np.ndarray) -> None:
    assert ring_sample.shape == (N, 2)
    r = np.hypot(ring_sample[:, 0], ring_sample[:, 1])
    assert within(r.mean(), 1.0, 0.1 / math.sqrt(N))
    assert within(r.std(), 0.1, 0.1 / math.sqrt(2 * N))
    # Uniform direction, r ~ N(1, 0.1): E x = E xy = 0, E x^2 = E r^2 / 2 = 0.505, and with
    # E r^4 = 1 + 6 (0.1)^2 + 3 (0.1)^4 = 1.0603: Var x^2 = 3/8 E r^4 - 0.505^2, Var xy = E r^4 / 8.
    r4 = 1.0603
    for j in range(2):
        assert within(ring_sample[:, j].mean(), 0.0, math.sqrt(0.505 / N))
        assert within(np.mean(ring_sample[:, j] ** 2), 0.505, math.sqrt((3 / 8 * r4 - 0.505**2) / N))
    assert within(np.mean(ring_sample[:, 0] * ring_sample[:, 1]), 0.0, math.sqrt(r4 / 8 / N))


def test_ring_ks_radius_and_azimuth(ring_sample: np.ndarray) -> None:
    ring = Ring()
    r = np.hypot(ring_sample[:, 0], ring_sample[:, 1])
    assert stats.kstest(r, ring.radius_cdf).pvalue > P_MIN
    phi = np.arctan2(ring_sample[:, 1], ring_sample[:, 0])
    assert stats.kstest(phi, stats.uniform(-math.pi, 2 * math.pi).cdf).pvalue > P_MIN
    assert stats.kstest(r, Ring(width=0.105).radius_cdf).pvalue < 1e-6  # the test has power


def test_ring_pdf_analytic_value_and_grid_normalisation() -> None:
    ring = Ring()
    peak = stats.norm.pdf(0.0, scale=0.1) / (2 * math.pi)
    np.testing.assert_allclose(ring.pdf(np.array([[1.0, 0.0], [0.0, -1.0], [0.6, 0.8]])), peak,
                               rtol=1e-12)
    assert ring.pdf(np.array([[0.0, 0.0]]))[0] == 0.0
    step = 0.004
    g = np.arange(-1.6, 1.6, step) + step / 2  # midpoints; the ring is 25 steps per sigma wide
    xx, yy = np.meshgrid(g, g)
    total = ring.pdf(np.stack([xx.ravel(), yy.ravel()], axis=1)).sum() * step**2
    assert total == pytest.approx(1.0, abs=1e-4)


def test_ring_radius_ppf_inverts_cdf() -> None:
    ring = Ring()
    r = np.linspace(0.6, 1.4, 401)
    np.testing.assert_allclose(ring.radius_ppf(ring.radius_cdf(r)), r, atol=1e-9)


def test_ring_pit_azimuth_edges() -> None:
    u = Ring().pit(np.array([[1.0, -1e-17], [1.0, 0.0], [-1.0, -1e-17], [0.0, -1.0], [0.0, 1.0]]))
    np.testing.assert_allclose(u[:, 1], [0.0, 0.0, 0.5, 0.75, 0.25], atol=1e-15)
    assert np.all(u[:, 1] < 1.0)


def test_ring_pit_uniform_and_independent(ring_sample: np.ndarray) -> None:
    u = Ring().pit(ring_sample)
    assert u.shape == (N, 2) and u.min() >= 0 and u.max() < 1
    for j in range(2):
        assert stats.kstest(u[:, j], "uniform").pvalue > P_MIN
    counts = np.histogram2d(u[:, 0], u[:, 1], bins=10, range=[[0, 1], [0, 1]])[0].ravel()
    assert stats.chisquare(counts).pvalue > P_MIN  # flat in 2D: independent coordinates
    # A wrong width shows up as a non-uniform radius PIT.
    assert stats.kstest(Ring(width=0.12).pit(ring_sample)[:, 0], "uniform").pvalue < 1e-6


# ---------------------------------------------------------------------------------------------
# Shell in 3 and 5 dimensions


@pytest.mark.parametrize("dim", [3, 5])
def test_shell_sample_radius_and_direction(dim: int) -> None:
    shell = Shell(dim)
    x = shell.sample(50_000, np.random.default_rng(dim))
    assert x.shape == (50_000, dim) and shell.columns == tuple(f"x{i}" for i in range(dim))
    r = np.linalg.norm(x, axis=1)
    assert stats.kstest(r, shell.radius_cdf).pvalue > P_MIN
    u = shell.pit(x)
    assert u.shape == (50_000, 1)
    assert stats.kstest(u[:, 0], "uniform").pvalue > P_MIN
    # Uniform direction: each coordinate of x/r has mean 0 and variance 1/dim.
    direction = x / r[:, None]
    np.testing.assert_allclose(direction.mean(axis=0), 0.0, atol=4 / math.sqrt(dim * 50_000))
    np.testing.assert_allclose((direction**2).mean(axis=0), 1 / dim, atol=0.01)


@pytest.mark.parametrize("dim", [3, 5])
def test_shell_pdf_normalised_by_monte_carlo_over_a_box(dim: int) -> None:
    shell = Shell(dim)
    half = 1.6  # 6 widths beyond the radius: the mass outside the box is < 1e-8
    n = 1_000_000
    points = np.random.default_rng(100 + dim).uniform(-half, half, (n, dim))
    values = shell.pdf(points) * (2 * half) ** dim
    estimate, error = values.mean(), values.std() / math.sqrt(n)
    assert error < 0.01
    assert within(estimate, 1.0, error, k=4.0)


@pytest.mark.parametrize("dim", [2, 3, 5])
def test_shell_pdf_radial_formula(dim: int) -> None:
    """Along a ray, pdf(r u) * area(S^{dim-1}) * r^(dim-1) is the radius density N(1, 0.1)."""
    shell = Shell(dim)
    area = 2 * math.pi ** (dim / 2) / math.gamma(dim / 2)
    r = np.linspace(0.5, 1.5, 201)
    direction = np.ones(dim) / math.sqrt(dim)
    radial = shell.pdf(r[:, None] * direction) * area * r ** (dim - 1)
    np.testing.assert_allclose(radial, stats.norm.pdf(r, 1.0, 0.1), rtol=1e-12)
    assert integrate.trapezoid(radial, r) == pytest.approx(1.0, abs=1e-5)


def test_shell_needs_two_dimensions() -> None:
    with pytest.raises(FlashgenError, match="at least 2 dimensions"):
        Shell(1)


# ---------------------------------------------------------------------------------------------
# simulate_toy: the table behind `flashgen simulate camelback|ring`


def test_simulate_toy_tables() -> None:
    camel = simulate_toy("camelback", 1000, seed=3)
    assert camel.names == ["x"] and len(camel) == 1000
    assert camel.meta["seed"] == 3 and camel.meta["toy"] == "camelback"
    ring = simulate_toy("ring", 1000, seed=3, width=0.2)
    assert ring.names == ["x", "y"] and ring.meta["toy_params"] == {"width": 0.2}
    r = np.hypot(ring["x"], ring["y"])
    assert within(r.std(), 0.2, 0.2 / math.sqrt(2000))
    assert set(TOYS) == {"camelback", "ring"}


def test_simulate_toy_seeded() -> None:
    a, b, c = (simulate_toy("ring", 500, seed=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(a["x"], b["x"])
    np.testing.assert_array_equal(a["y"], b["y"])
    assert not np.array_equal(a["x"], c["x"])


def test_simulate_unknown_toy() -> None:
    with pytest.raises(FlashgenError, match="unknown toy 'donut'; choose from camelback, ring"):
        simulate_toy("donut", 10, seed=0)


# ---------------------------------------------------------------------------------------------
# The mixed table: one column of every kind, with exact marginal truth


def test_mixed_table_columns_kinds_and_exact_marginals() -> None:
    truth = MixedTable()
    table = simulate_toy("mixed", N, seed=4)
    assert table.names == list(truth.columns) and "mixed" not in TOYS and "mixed" in TABLE_TOYS
    assert table.columns["pt"].unit == "GeV" and table.columns["phi"].unit == "rad"
    assert table["njet"].dtype == np.int64 and table["tight"].dtype == np.float64
    for c in truth.columns:
        lo, hi = truth.support[c]
        assert table[c].min() >= lo and table[c].max() <= hi, c
    for c in truth.integer:
        assert np.array_equal(table[c], np.floor(table[c])), c
    for c, masses in truth.point_masses().items():
        for value, p in masses.items():
            assert within(np.mean(table[c] == value), p, math.sqrt(p * (1 - p) / N) + 1e-12), c
    for c in ("pt", "btag", "eta", "phi", "mass"):  # continuous: the exact CDF passes a KS test
        assert stats.kstest(table[c], lambda x, c=c: truth.cdf(c, x)).pvalue > P_MIN, c
    # discrete and zero-inflated columns: the CDF at the support points
    assert within(np.mean(table["njet"] <= 2), float(truth.cdf("njet", 2.0)), math.sqrt(0.25 / N))
    assert within(np.mean(table["iso"] <= 0.1), float(truth.cdf("iso", 0.1)), math.sqrt(0.25 / N))
    assert within(np.mean(table["tight"]), 0.3, math.sqrt(0.21 / N))
    # the one correlation: log pT rises by pt_slope per jet
    slope = np.polyfit(table["njet"], np.log(table["pt"]), 1)[0]
    assert within(slope, truth.pt_slope, truth.pt_sigma / math.sqrt(N * truth.njet_mean))
    with pytest.raises(FlashgenError, match="unknown column 'x' of the mixed toy"):
        truth.cdf("x", np.zeros(1))
