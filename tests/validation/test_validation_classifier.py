"""Classifier two-sample test: AUC of a boosted classifier on held-out events, and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from flashgen.errors import FlashgenError
from flashgen.validation.classifier import (
    auc_null_std,
    classifier_two_sample_test,
    hanley_mcneil_error,
)


def test_hanley_mcneil_error_values() -> None:
    # at AUC = 0.5 it is the exact Mann-Whitney null spread sqrt((n0 + n1 + 1) / (12 n0 n1))
    assert hanley_mcneil_error(0.5, 400, 300) == pytest.approx(auc_null_std(400, 300))
    assert auc_null_std(100, 100) == pytest.approx(np.sqrt(201 / 120000))
    a, n1, n0 = 0.8, 50, 50
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    expected = np.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0))
    assert hanley_mcneil_error(a, n1, n0) == pytest.approx(expected)
    assert hanley_mcneil_error(1.0, 10, 10) == 0.0


def test_same_distribution_gives_auc_one_half(rng: np.random.Generator) -> None:
    a, b = rng.normal(size=(30_000, 5)), rng.normal(size=(30_000, 5))
    res = classifier_two_sample_test(a, b, features=list("abcde"), seed=1)
    assert abs(res.auc - 0.5) < 0.02
    assert abs(res.significance) < 4
    assert res.null_std == pytest.approx(auc_null_std(15_000, 15_000))
    assert res.n_train == res.n_test == 15_000 and res.features == tuple("abcde")


def test_shift_is_detected(rng: np.random.Generator) -> None:
    a = rng.normal(size=(20_000, 4))
    b = rng.normal(size=(20_000, 4))
    b[:, 2] += 0.15  # AUC of the best classifier: Phi(0.15 / sqrt(2)) = 0.542
    res = classifier_two_sample_test(a, b, seed=2)
    assert res.significance > 5
    assert res.auc == pytest.approx(0.542, abs=0.02)


def test_classes_are_balanced_and_said_so(rng: np.random.Generator) -> None:
    res = classifier_two_sample_test(rng.normal(size=(3000, 2)), rng.normal(size=(1000, 2)), seed=0)
    assert res.balanced == "reference subsampled 3000 -> 1000"
    assert res.n_train + res.n_test == 1000
    res = classifier_two_sample_test(rng.normal(size=(500, 2)), rng.normal(size=(800, 2)), seed=0)
    assert res.balanced == "generated subsampled 800 -> 500"


def test_nan_features_are_accepted(rng: np.random.Generator) -> None:
    a, b = rng.normal(size=(2000, 3)), rng.normal(size=(2000, 3))
    a[rng.random(2000) < 0.3, 1] = np.nan
    b[rng.random(2000) < 0.3, 1] = np.nan
    assert np.isfinite(classifier_two_sample_test(a, b).auc)


def test_seeded_and_input_checks(rng: np.random.Generator) -> None:
    a, b = rng.normal(size=(2000, 3)), rng.normal(0.1, 1, size=(2000, 3))
    assert classifier_two_sample_test(a, b, seed=5) == classifier_two_sample_test(a, b, seed=5)
    with pytest.raises(FlashgenError, match="at least 50"):
        classifier_two_sample_test(a[:10], b)
    with pytest.raises(FlashgenError, match="alike"):
        classifier_two_sample_test(a, b[:, :2])
    with pytest.raises(FlashgenError, match="test_fraction"):
        classifier_two_sample_test(a, b, test_fraction=1.0)
