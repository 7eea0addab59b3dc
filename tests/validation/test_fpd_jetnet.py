"""The validation's FPD and KPD against the field's reference implementation, jetnet's
``jetnet.evaluation.fpd`` and ``kpd`` (Kansal et al., arXiv:2211.10295), on the same arrays; the
FPD against the closed-form Fréchet distance of two Gaussians; its truth-vs-truth floor.

jetnet comes without its dependencies (``./dev.sh`` installs it with ``pip install --no-deps``):
its package ``__init__`` imports energyflow (EMDs, for other metrics), which is not installed, so
``import jetnet`` fails and ``pytest.importorskip("jetnet")`` would always skip.
``jetnet/evaluation/gen_metrics.py``, which holds ``fpd`` and ``kpd``, needs numpy, scipy, torch
and numba (installed: torch for flashgen, numba through coffea) and, at import only, energyflow,
``jetnet.utils`` and ``jetnet.datasets``: :func:`_load_gen_metrics` loads that one file with empty
stand-ins for those three, which ``fpd`` and ``kpd`` never use. With energyflow installed the
real package is imported instead.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import linalg, optimize

from flashgen.errors import FlashgenError
from flashgen.validation.metrics import (_nonnegative_line, frechet_distance_extrapolated,
                                         kernel_distance, standardise)

pytestmark = [pytest.mark.filterwarnings("ignore:Recommended number of samples:RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated")]
"""jetnet's advice to use 50,000 events, and SciPy's deprecation of the ``sqrtm`` argument it uses."""

D = 17
"""Features of the Z→μμ validation in the analysis frame."""


def _load_gen_metrics() -> Any:
    """``jetnet.evaluation.gen_metrics``, imported, or loaded from its file (module docstring)."""
    if importlib.util.find_spec("energyflow") is not None:
        return importlib.import_module("jetnet.evaluation.gen_metrics")
    spec = importlib.util.find_spec("jetnet")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("jetnet is not installed (./dev.sh installs it: pip install --no-deps jetnet)")
    pytest.importorskip("numba")
    pytest.importorskip("torch")
    path = Path(next(iter(spec.submodule_search_locations))) / "evaluation" / "gen_metrics.py"
    energyflow, emd = types.ModuleType("energyflow"), types.ModuleType("energyflow.emd")
    emd.emds = None  # type: ignore[attr-defined]
    jetnet, utils, datasets = (types.ModuleType(n) for n in ("jetnet", "jetnet.utils",
                                                             "jetnet.datasets"))
    jetnet.__path__ = []  # type: ignore[attr-defined]
    datasets.JetNet = None  # type: ignore[attr-defined]
    jetnet.utils, jetnet.datasets = utils, datasets  # type: ignore[attr-defined]
    name = "_jetnet_gen_metrics"
    stand_ins = {"energyflow": energyflow, "energyflow.emd": emd, "jetnet": jetnet,
                 "jetnet.utils": utils, "jetnet.datasets": datasets}
    saved = {k: sys.modules.get(k) for k in [*stand_ins, name]}
    # only these names are put back afterwards: numba and torch modules imported meanwhile stay
    sys.modules.update(stand_ins)
    try:
        file_spec = importlib.util.spec_from_file_location(name, path)
        assert file_spec is not None and file_spec.loader is not None
        module = importlib.util.module_from_spec(file_spec)
        sys.modules[name] = module  # the file looks itself up in sys.modules
        file_spec.loader.exec_module(module)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return module


@pytest.fixture(scope="module")
def jetnet_metrics() -> Any:
    return _load_gen_metrics()


def _shifted_gaussians(seed: int = 2024) -> tuple[np.ndarray, np.ndarray]:
    """3,000 events of N(0, I) and 4,000 of a Gaussian shifted by 0.3 in one feature and 1.2
    times as wide in another, ``D`` features."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(3_000, D)), rng.normal(size=(4_000, D))
    y[:, 0] += 0.3
    y[:, 1] *= 1.2
    return x, y


def test_fpd_equals_jetnets_on_the_same_arrays(jetnet_metrics: Any) -> None:
    # z-scores: jetnet's curve_fit converges, and the two agree to rounding (same draws, same
    # fit). jetnet's sizes (10 of 20,000-50,000 events) are ours; 5 batches per size instead of
    # 20 keep the test short
    x, y = standardise(*_shifted_gaussians(), scale="std")
    value, error = jetnet_metrics.fpd(x, y, num_batches=5, normalise=False, seed=7)
    ours = frechet_distance_extrapolated(x, y, n_batches=5, seed=7)
    assert ours.value == pytest.approx(value, rel=1e-6)
    assert ours.error == pytest.approx(error, rel=1e-4)
    assert ours.sizes.tolist() == [20000, 21428, 23076, 24999, 27272, 30000, 33333, 37499, 42857,
                                   49999]  # jetnet truncates 1/(1/N) to integers


def test_fpd_with_jetnets_normalisation(jetnet_metrics: Any) -> None:
    # jetnet's normalise=True divides by the largest absolute value of the real sample: on
    # centred features that is standardise(scale="max"), the validation's input
    x, y = _shifted_gaussians()
    zx, zy = standardise(x, y, scale="std")
    mx, my = standardise(x, y, scale="max")
    jx, jy = jetnet_metrics._normalise_features(zx, zy)
    np.testing.assert_allclose(mx, jx, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(my, jy, rtol=1e-12, atol=1e-15)
    value, error = jetnet_metrics.fpd(zx, zy, num_batches=5, seed=7)
    ours = frechet_distance_extrapolated(mx, my, n_batches=5, seed=7)
    # Values this far below 1 stop jetnet's curve_fit (started at intercept = slope = 1) short of
    # the least-squares minimum in the slope: here its intercept is 2 % (2 of its errors) above
    # the exact constrained fit of the same means. Tolerance: 5 %.
    assert ours.value == pytest.approx(value, rel=0.05)
    exact = optimize.lsq_linear(np.stack([np.ones(len(ours.sizes)), 1.0 / ours.sizes], axis=1),
                                ours.means, bounds=(0.0, np.inf), tol=1e-14)
    assert ours.value == pytest.approx(exact.x[0], rel=1e-9)
    assert ours.slope == pytest.approx(exact.x[1], rel=1e-9)
    assert ours.error == pytest.approx(error, rel=0.5)


def test_kpd_equals_jetnets_on_the_same_arrays(jetnet_metrics: Any) -> None:
    x, y = standardise(*_shifted_gaussians(), scale="max")
    median, spread = jetnet_metrics.kpd(x, y, num_batches=6, batch_size=500, normalise=False,
                                        seed=7)
    ours = kernel_distance(x, y, batch_size=500, n_batches=6, seed=7)
    assert ours.median == pytest.approx(median, rel=1e-9)
    assert ours.spread == pytest.approx(spread, rel=1e-9)


def _closed_form(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """``|mu1 - mu2|² + Tr(cov1 + cov2 - 2 (cov1^½ cov2 cov1^½)^½)``."""
    root = linalg.sqrtm(cov1)
    cross = np.real(linalg.sqrtm(root @ cov2 @ root))
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1 + cov2 - 2.0 * cross))


def test_fpd_of_two_gaussians_is_their_frechet_distance() -> None:
    rng = np.random.default_rng(11)
    a = rng.normal(size=(D, D)) / np.sqrt(D)
    cov1 = a @ a.T + 0.5 * np.eye(D)
    cov2 = cov1 @ np.diag(np.linspace(0.8, 1.25, D))
    cov2 = (cov2 + cov2.T) / 2  # symmetric, positive definite (the diagonal is close to 1)
    mu1, mu2 = np.zeros(D), np.zeros(D)
    mu2[:3] = 0.2, -0.2, 0.3
    expected = _closed_form(mu1, cov1, mu2, cov2)
    n = 200_000
    x = rng.multivariate_normal(mu1, cov1, size=n)
    y = rng.multivariate_normal(mu2, cov2, size=n)
    res = frechet_distance_extrapolated(x, y, n_batches=5, seed=3)
    # the intercept is the distance of the two samples: (d + d(d+1)/4)(2/n) ≈ 0.001 above the
    # parents' on average, ± ~0.005 from the samples' means and covariances (5 seeds: within
    # 0.0053 of the closed form, fit errors ~0.006)
    assert 0.2 < expected < 0.4
    assert res.value == pytest.approx(expected, abs=0.015)
    assert res.value == pytest.approx(_closed_form(x.mean(0), np.cov(x.T), y.mean(0), np.cov(y.T)),
                                      abs=3 * res.error)


def test_the_floor_is_what_a_second_sample_of_the_truth_scores() -> None:
    # Two independent samples of one Gaussian: the FPD (batches larger than the samples) is the
    # distance of the empirical distributions, (d + d(d+1)/4) (1/n_ref + 1/n_gen) on average; the
    # validation's floor, pairs of bootstrap resamples of the reference at the same sizes, scores
    # the same
    n_ref, n_gen, repeats = 1_000, 4_000, 6
    rng = np.random.default_rng(5)
    expected = (D + D * (D + 1) / 4) * (1 / n_ref + 1 / n_gen)

    def fpd(ref: np.ndarray, gen: np.ndarray, seed: int) -> float:
        return frechet_distance_extrapolated(*standardise(ref, gen, scale="std"), n_points=5,
                                             n_batches=4, seed=seed).value

    truth = [fpd(rng.normal(size=(n_ref, D)), rng.normal(size=(n_gen, D)), k)
             for k in range(repeats)]
    reference = rng.normal(size=(n_ref, D))
    boot = [fpd(reference[rng.integers(0, n_ref, n_ref)], reference[rng.integers(0, n_ref, n_gen)],
                k) for k in range(repeats)]
    assert np.mean(truth) == pytest.approx(expected, rel=0.2)
    assert np.mean(boot) == pytest.approx(expected, rel=0.25)


def test_nonnegative_line_fit() -> None:
    x = np.linspace(1.0, 2.0, 6)
    a, b, err = _nonnegative_line(x, 0.5 + 2.0 * x)
    assert (a, b) == (pytest.approx(0.5), pytest.approx(2.0)) and err == pytest.approx(0.0, abs=1e-12)
    a, b, _ = _nonnegative_line(x, 3.0 - x)  # falling: slope held at 0, intercept = mean
    assert b == 0.0 and a == pytest.approx(1.5)
    a, b, _ = _nonnegative_line(x, -1.0 + x)  # intercept held at 0
    assert a == 0.0 and b == pytest.approx(float(x @ (x - 1.0)) / float(x @ x))
    assert np.isnan(_nonnegative_line(x[:2], x[:2])[2])  # no error from two points


def test_standardise() -> None:
    ref = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, np.nan], [5.0, 5.0, 4.0], [7.0, 5.0, 6.0]])
    gen = np.array([[4.0, 6.0, 4.0]])
    r, g = standardise(ref, gen)
    np.testing.assert_allclose(np.nanmax(np.abs(r), axis=0), [1.0, 0.0, 1.0])
    np.testing.assert_allclose(g, [[0.0, 1.0, 0.0]])  # constant feature: only centred
    assert np.isnan(r[1, 2])
    z, = standardise(ref, scale="std")
    np.testing.assert_allclose(np.nanmean(z, axis=0), 0.0, atol=1e-15)
    np.testing.assert_allclose(np.nanstd(z, axis=0), [1.0, 0.0, 1.0])
    with pytest.raises(FlashgenError, match="scale"):
        standardise(ref, scale="iqr")
    with pytest.raises(FlashgenError, match="alike"):
        standardise(ref, gen[:, :2])
    with pytest.raises(FlashgenError, match="finite"):
        standardise(np.full((3, 2), np.nan))
