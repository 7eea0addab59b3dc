"""Maximum-likelihood fits of the toys' functional forms and their exact bin probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from flashgen.errors import FlashgenError
from flashgen.sources.toys import CamelBack, Ring, Shell
from flashgen.studies.truth_fit import TruthFit, fit_camelback, fit_shell, fit_truth
from flashgen.stats.quantiles import equivalent_events, quantile_fractions, quantile_mse


def _mixture(n: int, rng: np.random.Generator) -> np.ndarray:
    """0.3 N(-2, 0.7) + 0.7 N(3, 1.5)."""
    first = rng.random(n) < 0.3
    return np.where(first, rng.normal(-2.0, 0.7, n), rng.normal(3.0, 1.5, n))


def test_camelback_fit_recovers_parameters() -> None:
    fit = fit_camelback(_mixture(20_000, np.random.default_rng(1)))
    assert fit.valid
    p, e = fit.params, fit.errors
    (m1, s1, f1), (m2, s2) = ((p["mu1"], p["sigma1"], p["frac"]), (p["mu2"], p["sigma2"]))
    if m1 > m2:  # label switching: the order of the two Gaussians is arbitrary
        m1, s1, f1, m2, s2 = m2, p["sigma2"], 1 - p["frac"], m1, p["sigma1"]
    for value, true, err in ((m1, -2.0, e["mu1"]), (s1, 0.7, e["sigma1"]), (m2, 3.0, e["mu2"]),
                             (s2, 1.5, e["sigma2"]), (f1, 0.3, e["frac"])):
        assert 0 < err < 0.05
        assert abs(value - true) < 4 * err


def test_shell_fit_recovers_parameters() -> None:
    truth = Shell(2, radius=1.5, width=0.2)
    fit = fit_shell(truth.sample(20_000, np.random.default_rng(2)))
    assert fit.valid
    assert fit.errors["radius"] == pytest.approx(0.2 / np.sqrt(20_000), rel=0.1)
    assert abs(fit.params["radius"] - 1.5) < 4 * fit.errors["radius"]
    assert abs(fit.params["width"] - 0.2) < 4 * fit.errors["width"]


@pytest.mark.parametrize("k", [10, 20, 50])
def test_true_parameters_give_exactly_uniform_bins(k: int) -> None:
    camel = TruthFit("camelback", {"mu1": -4.0, "sigma1": 1.0, "mu2": 4.0, "sigma2": 1.0, "frac": 0.5})
    probs = camel.bin_probabilities(CamelBack(), k)
    assert probs == pytest.approx(np.full(k, 1 / k), abs=1e-9)
    ring = TruthFit("shell", {"radius": 1.0, "width": 0.1}, dim=2)
    probs = ring.bin_probabilities(Ring(), k)
    assert probs.shape == (k,)
    assert probs == pytest.approx(np.full(k, 1 / k), abs=1e-9)


def test_fit_bin_probabilities_match_sampling_the_fit() -> None:
    """The exact integrals agree with a large sample of the fitted (shifted) density."""
    fit = TruthFit("camelback", {"mu1": -3.8, "sigma1": 1.1, "mu2": 4.1, "sigma2": 0.9, "frac": 0.45})
    rng = np.random.default_rng(5)
    n = 400_000
    first = rng.random(n) < 0.45
    x = np.where(first, rng.normal(-3.8, 1.1, n), rng.normal(4.1, 0.9, n))
    probs = fit.bin_probabilities(CamelBack(), 20)
    assert probs.sum() == pytest.approx(1.0)
    assert quantile_fractions(x, CamelBack(), 20) == pytest.approx(probs, abs=5 * np.sqrt(0.05 / n))


def test_fit_of_100_events_is_worth_more_than_100_sampled() -> None:
    """The published benchmark in small: the 5-parameter fit amplifies at K = 50."""
    toy = CamelBack()
    rng = np.random.default_rng(11)
    mse = [quantile_mse(fit_truth(toy, toy.sample(100, rng)).bin_probabilities(toy, 50)) for _ in range(40)]
    assert equivalent_events(np.mean(mse), 50) > 400


def test_fit_errors() -> None:
    with pytest.raises(FlashgenError, match="at least 6"):
        fit_camelback(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(FlashgenError):
        fit_shell(np.zeros((10, 1)))
    fit = fit_truth(Ring(), Ring().sample(50, np.random.default_rng(0)))
    with pytest.raises(FlashgenError, match="shell"):
        fit.bin_probabilities(CamelBack(), 10)
