"""Kernel physics distance, repeated classifier test, inherited noise and the headline line."""

from __future__ import annotations

import numpy as np
import pytest

from flashgen.errors import FlashgenError
from flashgen.validation.classifier import repeated_classifier_test
from flashgen.validation.compare import inherited_noise_factor
from flashgen.validation.metrics import kernel_distance, mmd_unbiased, polynomial_kernel
from flashgen.validation.summary import distances, headline


def test_mmd_matches_its_definition_element_by_element(rng: np.random.Generator) -> None:
    x, y = rng.normal(size=(7, 3)), rng.normal(0.3, 1.2, size=(9, 3))

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return float((a @ b / 3 + 1.0) ** 4)

    kxx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    kyy = sum(k(y[i], y[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
    kxy = sum(k(a, b) for a in x for b in y) / (7 * 9)
    expected = kxx + kyy - 2 * kxy
    assert mmd_unbiased(x, y) == pytest.approx(expected, rel=1e-12)
    assert mmd_unbiased(x, y, block=2) == pytest.approx(expected, rel=1e-12)  # blocks add up
    assert polynomial_kernel(x, y).shape == (7, 9)


@pytest.mark.parametrize("delta", [0.5, 0.8])
def test_mmd_of_a_gaussian_shift_is_analytic(rng: np.random.Generator, delta: float) -> None:
    # degree 1: |Δμ|²/d; degree 2, N(0, I) vs N(δ e1, I): δ⁴/d² + 2δ²/d
    d, n = 4, 10_000
    x = rng.normal(size=(n, d))
    y = rng.normal(size=(n, d))
    y[:, 0] += delta
    assert mmd_unbiased(x, y, degree=1) == pytest.approx(delta**2 / d, rel=0.15)
    assert mmd_unbiased(x, y, degree=2) == pytest.approx(delta**4 / d**2 + 2 * delta**2 / d, rel=0.15)


def test_kernel_distance_of_one_distribution_is_zero_within_its_spread(rng: np.random.Generator) -> None:
    x, y = rng.normal(size=(6_000, 5)), rng.normal(size=(6_000, 5))
    same = kernel_distance(x, y, batch_size=2_000, n_batches=10, seed=1)
    assert same.batch_size == 2_000 and same.values.shape == (10,)
    assert abs(same.median) < 3 * same.spread
    shifted = kernel_distance(x, y + np.array([0.2, 0, 0, 0, 0]), batch_size=2_000, seed=1)
    assert shifted.median > 10 * same.spread
    again = kernel_distance(x, y, batch_size=2_000, n_batches=10, seed=1)
    assert np.array_equal(again.values, same.values)  # seeded


def test_kernel_distance_drops_nan_rows_and_rejects_bad_input(rng: np.random.Generator) -> None:
    x = rng.normal(size=(100, 2))
    y = x.copy()
    y[::2, 1] = np.nan
    kept = kernel_distance(x, y[1::2], batch_size=50, n_batches=2, seed=3)
    assert np.array_equal(kernel_distance(x, y, batch_size=50, n_batches=2, seed=3).values,
                          kept.values)  # the rows with NaN are dropped before the draws
    with pytest.raises(FlashgenError, match="alike"):
        kernel_distance(x, x[:, :1])
    with pytest.raises(FlashgenError, match="n_batches"):
        kernel_distance(x, x, n_batches=0)
    with pytest.raises(FlashgenError, match="at least 10"):
        kernel_distance(x[:5], x[:5])
    with pytest.raises(FlashgenError, match="MMD"):
        mmd_unbiased(x[:1], x)


def test_repeated_classifier_gives_a_spread_and_is_seeded(rng: np.random.Generator) -> None:
    a, b = rng.normal(size=(2_000, 3)), rng.normal(size=(2_000, 3))
    rep = repeated_classifier_test(a, b, repeats=4, seed=3)
    assert rep.aucs.shape == (4,) and len(set(rep.aucs.tolist())) == 4
    assert abs(rep.mean - 0.5) < 4 * rep.first.null_std
    assert 0 < rep.spread < 3 * rep.first.null_std
    assert np.array_equal(repeated_classifier_test(a, b, repeats=4, seed=3).aucs, rep.aucs)
    far = repeated_classifier_test(a, b + 1.0, repeats=2, seed=3)
    assert far.mean > 0.7
    assert repeated_classifier_test(a, b, repeats=1).spread == 0.0
    with pytest.raises(FlashgenError, match="repeats"):
        repeated_classifier_test(a, b, repeats=0)


def test_inherited_noise_factor() -> None:
    # held-out 1,000 events, 100,000 generated worth 1,000: sqrt(0.002 / 0.00101)
    assert inherited_noise_factor(1_000, 100_000, 1_000) == pytest.approx(np.sqrt(0.002 / 0.00101))
    assert inherited_noise_factor(1_000, 100_000, 200_000) == 1.0  # worth more than its size
    assert inherited_noise_factor(1_000, 100_000, float("nan")) == 1.0


def test_headline_puts_each_distance_next_to_its_floor() -> None:
    metrics = {
        "classifier": {"auc": 0.561, "auc_err": 0.013, "repeats": 5, "auc_spread": 0.004},
        "metrics": {"global/frechet": {"fpd": 0.012, "fpd_err": 0.002},
                    "global/kpd": {"kpd": 3e-4, "kpd_spread": 1e-4}},
        "resolution": {"global/frechet": {"fpd": {"mean": 0.003, "std": 0.001}},
                       "global/kpd": {"kpd": {"mean": 1e-5, "std": 2e-5}}},
    }
    d = distances(metrics)
    assert d["fpd_floor"] == 0.003 and d["kpd_floor_std"] == 2e-5
    line = headline(metrics)
    assert line.startswith("classifier AUC 0.561 ± 0.013 (5 trainings: spread 0.004)")
    assert "FPD 0.0120 ± 0.0020 (truth-vs-truth floor 0.0030 ± 0.0010)" in line
    assert "KPD 3.00e-04 ± 1.00e-04 (floor 1.00e-05 ± 2.00e-05)" in line
    assert headline({}) == ""


def test_weighted_batch_moments_equal_the_stacked_rows(rng: np.random.Generator) -> None:
    from flashgen.validation.metrics import _batch_moments, _moments

    x = rng.normal(size=(300, 4))
    for size in (200, 5_000):  # below and above the sample size
        mean, cov = _batch_moments(x, size, np.random.default_rng(7))
        rows = x[np.random.default_rng(7).integers(0, 300, size)]
        m2, c2 = _moments(rows)
        np.testing.assert_allclose(mean, m2, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(cov, c2, rtol=1e-10, atol=1e-12)
