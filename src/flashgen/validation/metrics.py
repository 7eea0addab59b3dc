"""Two-sample metrics as pure functions: reference sample vs generated sample.

Every function takes plain arrays (one value per event, or ``(n_events, n_features)``) and
returns plain numbers, so each can be tested against analytic values. Units follow the inputs:
a Wasserstein distance of momenta in GeV is in GeV.

References:
    Kansal et al., "Evaluating generative models in high energy physics", Phys. Rev. D 107
    (2023) 076017, arXiv:2211.10295 (Fréchet and kernel physics distances, extrapolation in 1/N).
    Gretton et al., "A kernel two-sample test", JMLR 13 (2012) 723 (unbiased MMD²).
    Gagunashvili, "Comparison of weighted and unweighted histograms", arXiv:physics/0605123
    (χ² of two histograms with different totals).
    Clopper and Pearson, Biometrika 26 (1934) 404 (binomial interval of an efficiency).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from ..distances import KSResult, ks_and_wasserstein, ks_test, wasserstein_1d
from ..errors import FlashgenError

__all__ = [
    "BINOMIAL_COVERAGE",
    "CorrelationDifference",
    "FrechetResult",
    "HistogramChi2",
    "KPD_SPREAD_PERCENTILES",
    "KSResult",
    "KernelDistance",
    "SCALES",
    "binomial_fraction",
    "chi2_histograms",
    "correlation_difference",
    "correlation_matrix",
    "frechet_distance",
    "frechet_distance_extrapolated",
    "gaussianize",
    "kernel_distance",
    "ks_and_wasserstein",
    "ks_test",
    "mmd_unbiased",
    "polynomial_kernel",
    "standardise",
    "wasserstein_1d",
]


@dataclass(frozen=True)
class HistogramChi2:
    """χ² comparison of two histograms: ``chi2`` with ``ndf`` degrees of freedom."""

    chi2: float
    ndf: int

    @property
    def chi2_ndf(self) -> float:
        """χ²/ndf (NaN when ndf is 0); about 1 for two samples of the same distribution."""
        return self.chi2 / self.ndf if self.ndf > 0 else float("nan")

    @property
    def pvalue(self) -> float:
        """Probability of a larger χ² for two samples of the same distribution."""
        return float(stats.chi2.sf(self.chi2, self.ndf)) if self.ndf > 0 else float("nan")


def chi2_histograms(counts_ref: np.ndarray, counts_gen: np.ndarray,
                    inherited: np.ndarray | None = None) -> HistogramChi2:
    """χ² test that two unweighted histograms with different totals come from one distribution.

    With totals ``N = Σ n_i`` and ``M = Σ m_i``,
    ``χ² = Σ_i (M n_i - N m_i)² / (N M (n_i + m_i))``, summed over bins with ``n_i + m_i > 0``,
    and ``ndf`` = those bins - 1. Both samples' statistical uncertainties enter (the pooled
    estimate of each bin's probability), so unequal sample sizes are handled correctly.

    With ``inherited``, the variance of the generated *fraction* in each bin that the generator
    inherits from its finite training sample (:mod:`flashgen.stats.histogram_worth`), each bin's variance
    ``(n_i + m_i) / (N M)`` of ``n_i/N - m_i/M`` grows by it: a difference the training sample
    explains is not held against the generator.

    Arguments:
        counts_ref, counts_gen: event counts per bin, shape ``(n_bins,)`` (include under- and
            overflow bins to compare the tails too).
        inherited: variance of the generated fractions, shape ``(n_bins,)``, or ``None``.
    """
    n = np.asarray(counts_ref, dtype=np.float64)
    m = np.asarray(counts_gen, dtype=np.float64)
    if n.shape != m.shape or n.ndim != 1:
        raise FlashgenError(f"histograms must be 1D of equal length, got {n.shape} and {m.shape}")
    if np.any(n < 0) or np.any(m < 0):
        raise FlashgenError("histogram counts must be non-negative")
    big_n, big_m = n.sum(), m.sum()
    if big_n == 0 or big_m == 0:
        raise FlashgenError("cannot compare an empty histogram")
    used = (n + m) > 0
    var = (n[used] + m[used]) / (big_n * big_m)
    if inherited is not None:
        extra = np.asarray(inherited, dtype=np.float64)
        if extra.shape != n.shape or np.any(~np.isfinite(extra)) or np.any(extra < 0):
            raise FlashgenError(f"inherited variances must be finite, >= 0 and of shape {n.shape}")
        var = var + extra[used]
    chi2 = np.sum((n[used] / big_n - m[used] / big_m) ** 2 / var)
    return HistogramChi2(float(chi2), int(used.sum()) - 1)


BINOMIAL_COVERAGE = float(special.erf(1.0 / np.sqrt(2.0)))
"""Central coverage of the binomial interval of :func:`binomial_fraction`: ±1σ, 0.6827."""


def binomial_fraction(passed: np.ndarray) -> tuple[float, float]:
    """Fraction of true entries of a 0/1 array and its binomial error (Clopper-Pearson).

    The error is half the width of the central Clopper-Pearson interval of 68.27 % coverage
    (``hist.intervals.clopper_pearson_interval``): with ``k`` true entries out of ``n``, the
    edges are the ``(1 ∓ 0.6827) / 2`` quantiles of Beta(k, n - k + 1) and Beta(k + 1, n - k)
    (0 for k = 0, 1 for k = n). Unlike the Wald error ``sqrt(p (1 - p) / n)`` it does not vanish
    at p = 0 or 1: for k = 0 the interval is ``[0, 1 - 0.15865^(1/n)]``. The interval is
    exact (never undercovers), so slightly conservative; for large n and p away from 0 and 1 the
    error approaches the Wald error.

    Reference:
        C. J. Clopper and E. S. Pearson, "The use of confidence or fiducial limits illustrated
        in the case of the binomial", Biometrika 26 (1934) 404.

    Returns:
        ``(k / n, (upper - lower) / 2)``; ``(nan, nan)`` for an empty array.
    """
    from hist.intervals import clopper_pearson_interval

    passed = np.asarray(passed, dtype=np.float64).ravel()
    n = passed.size
    if n == 0:
        return float("nan"), float("nan")
    k = float(np.count_nonzero(passed))
    lower, upper = clopper_pearson_interval(np.array(k), np.array(float(n)),
                                            coverage=BINOMIAL_COVERAGE)
    return k / n, float(upper - lower) / 2.0


def correlation_matrix(x: np.ndarray) -> np.ndarray:
    """Pearson correlation matrix of ``x`` of shape ``(n_events, n_features)``.

    Rows with NaN are dropped; a constant feature has correlation 0 with every other feature
    (and 1 with itself), instead of NaN.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise FlashgenError(f"expected (n_events, n_features), got shape {x.shape}")
    x = x[np.all(np.isfinite(x), axis=1)]
    if len(x) < 2:
        raise FlashgenError("need at least two complete events for a correlation matrix")
    x = x - x.mean(axis=0)
    std = np.sqrt(np.mean(x**2, axis=0))
    z = np.divide(x, std, out=np.zeros_like(x), where=std > 0)
    corr = (z.T @ z) / len(z)
    np.fill_diagonal(corr, 1.0)
    return np.clip(corr, -1.0, 1.0)


@dataclass(frozen=True)
class CorrelationDifference:
    """How two correlation matrices differ: Frobenius norm and largest absolute entry of
    ``corr_gen - corr_ref`` (diagonal entries are 1 in both and do not contribute)."""

    frobenius: float
    max_abs: float


def correlation_difference(reference: np.ndarray, generated: np.ndarray) -> CorrelationDifference:
    """Compare the correlation matrices of two samples of shape ``(n_events, n_features)``."""
    diff = correlation_matrix(generated) - correlation_matrix(reference)
    return CorrelationDifference(float(np.sqrt(np.sum(diff**2))), float(np.max(np.abs(diff))))


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Fréchet distance between Gaussians ``N(mu1, cov1)`` and ``N(mu2, cov2)``.

    ``|mu1 - mu2|² + Tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2))``, in squared units of the inputs.
    ``Tr (cov1 cov2)^(1/2)`` is the sum of square roots of the eigenvalues of ``cov1 cov2``,
    which are real and non-negative for covariance matrices.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    cov1, cov2 = np.atleast_2d(cov1).astype(np.float64), np.atleast_2d(cov2).astype(np.float64)
    eig = np.linalg.eigvals(cov1 @ cov2)
    tr_sqrt = float(np.sum(np.sqrt(np.clip(eig.real, 0.0, None))))
    value = float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2.0 * tr_sqrt)
    return max(value, 0.0)


def gaussianize(reference_sorted: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Map values to standard-normal scores through the reference's empirical CDF.

    ``z = Φ⁻¹(F_ref(x))`` with the mid-rank CDF ``F_ref`` (ties share their average rank) clipped
    to ``[1/(2n), 1 - 1/(2n)]``. The reference itself becomes about N(0, 1) per feature, a
    generated sample is mapped by the same monotone function, and heavy tails no longer dominate
    means and covariances.

    Arguments:
        reference_sorted: the reference values of one feature, sorted, shape ``(n,)`` (finite).
        values: values to map, any shape; NaN stays NaN.
    """
    s = np.asarray(reference_sorted, dtype=np.float64)
    x = np.asarray(values, dtype=np.float64)
    n = s.size
    if n == 0:
        raise FlashgenError("cannot gaussianize with an empty reference")
    u = (np.searchsorted(s, x, side="left") + np.searchsorted(s, x, side="right")) / (2.0 * n)
    z = special.ndtri(np.clip(u, 0.5 / n, 1.0 - 0.5 / n))
    return np.where(np.isnan(x), np.nan, z)


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    xc = x - mean
    return mean, (xc.T @ xc) / max(len(x) - 1, 1)


def _complete_rows(reference: np.ndarray, generated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both samples as float64 ``(n_events, n_features)`` arrays of equal width, rows with NaN
    dropped (the Fréchet and kernel distances' common input)."""
    r = np.asarray(reference, dtype=np.float64)
    g = np.asarray(generated, dtype=np.float64)
    if r.ndim != 2 or g.ndim != 2 or r.shape[1] != g.shape[1]:
        raise FlashgenError(f"samples must be (n_events, n_features) alike, got {r.shape} and {g.shape}")
    return r[np.all(np.isfinite(r), axis=1)], g[np.all(np.isfinite(g), axis=1)]


def _batch_moments(x: np.ndarray, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of ``size`` rows drawn from ``x`` with replacement.

    A batch larger than the sample is the sample's rows with multinomial multiplicities: its
    moments are weighted sums over the ``len(x)`` distinct rows, O(len(x) d²) instead of
    O(size d²) — the same numbers as stacking the drawn rows, up to rounding."""
    n = len(x)
    if size <= n:
        return _moments(x[rng.integers(0, n, size)])
    w = np.bincount(rng.integers(0, n, size), minlength=n).astype(np.float64)
    mean = (w @ x) / size
    xc = x - mean
    return mean, (xc.T @ (xc * w[:, None])) / max(size - 1, 1)


SCALES = ("max", "std")
"""Scales of :func:`standardise`: the largest absolute deviation (jetnet) or the standard deviation."""


def standardise(reference: np.ndarray, *samples: np.ndarray,
                scale: str = "max") -> tuple[np.ndarray, ...]:
    """The reference and every sample centred on the reference's mean and divided by its scale,
    per feature: the input of the Fréchet and kernel physics distances.

    ``scale="max"`` (the validation's): the reference's largest absolute deviation from its
    mean, so that the reference lies within [-1, 1]. This is jetnet's ``normalise=True`` (each
    feature divided by the real sample's largest absolute value) applied to centred features,
    i.e. what ``jetnet.evaluation.fpd`` and ``kpd`` compute on standardised inputs (z-scores:
    the division by the standard deviation cancels). It keeps the degree-4 polynomial kernel of
    the KPD bounded on the reference, where z-scores with heavy tails (20 σ) make it erratic.
    ``scale="std"``: z-scores (the population standard deviation). Either is linear, so a
    generated tail beyond the reference weighs in fully (unlike :func:`gaussianize`, which folds
    it into the last normal score).

    Means and scales use the reference's finite values; a feature constant in the reference is
    only centred.

    Arguments:
        reference: shape ``(n_events, n_features)``; NaN allowed.
        samples: arrays of shape ``(m, n_features)``, mapped with the reference's numbers.
        scale: ``"max"`` or ``"std"`` (:data:`SCALES`).

    Returns:
        ``(reference, *samples)`` mapped, float64 of the input shapes (NaN stays NaN).
    """
    if scale not in SCALES:
        raise FlashgenError(f"unknown scale '{scale}'; choose from {', '.join(SCALES)}")
    r = np.asarray(reference, dtype=np.float64)
    if r.ndim != 2:
        raise FlashgenError(f"expected (n_events, n_features), got shape {r.shape}")
    finite = np.isfinite(r)
    count = finite.sum(axis=0)
    if np.any(count == 0):
        raise FlashgenError("cannot standardise a feature without a finite reference value")
    mean = np.where(finite, r, 0.0).sum(axis=0) / count
    dev = np.where(finite, r - mean, 0.0)
    width = np.abs(dev).max(axis=0) if scale == "max" else np.sqrt((dev**2).sum(axis=0) / count)
    width = np.where(width > 0, width, 1.0)
    out = [(r - mean) / width]
    for x in samples:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != r.shape[1]:
            raise FlashgenError(f"samples must be (n_events, n_features) alike, got {r.shape} "
                                f"and {x.shape}")
        out.append((x - mean) / width)
    return tuple(out)


@dataclass(frozen=True)
class FrechetResult:
    """Fréchet distance extrapolated to infinite batch size.

    Attributes:
        value: intercept of the straight line ``FD(N) = value + slope / N`` fitted to the mean
            ``FD`` of the batches of each size (the N → ∞ value).
        error: its standard error from the fit (residual scatter; NaN with fewer than 3 sizes).
        sizes: batch sizes ``N`` used, shape ``(n_points,)``.
        means, stds: mean of ``FD`` over the batches of each size, and its standard error.
        slope: the fitted coefficient of ``1/N``.
    """

    value: float
    error: float
    sizes: np.ndarray
    means: np.ndarray
    stds: np.ndarray
    slope: float = float("nan")


def _nonnegative_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares line ``y = a + b x`` with ``a, b >= 0``; returns ``(a, b, error of a)``.

    The constrained minimum is the ordinary one when that is feasible, else the better of the
    two edges (``a = 0`` or ``b = 0``). The error is that of an unconstrained linear fit at the
    solution, ``sqrt([(JᵀJ)⁻¹]₀₀ · RSS / (n - 2))`` with ``J = [1, x]`` (what
    ``scipy.optimize.curve_fit`` reports with bounds, as jetnet's ``fpd`` does).
    """
    design = np.stack([np.ones_like(x), x], axis=1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    a, b = float(coef[0]), float(coef[1])
    if a < 0.0 or b < 0.0:
        edges = [(max(float(y.mean()), 0.0), 0.0)]  # b = 0
        xx = float(x @ x)
        if xx > 0:
            edges.append((0.0, max(float(x @ y) / xx, 0.0)))  # a = 0
        a, b = min(edges, key=lambda ab: float(np.sum((y - ab[0] - ab[1] * x) ** 2)))
    dof = len(x) - 2
    if dof <= 0:
        return a, b, float("nan")
    rss = float(np.sum((y - a - b * x) ** 2))
    inv = np.linalg.pinv(design.T @ design)
    return a, b, float(np.sqrt(max(inv[0, 0], 0.0) * rss / dof))


def frechet_distance_extrapolated(reference: np.ndarray, generated: np.ndarray, *,
                                  min_size: int = 20_000, max_size: int = 50_000,
                                  n_points: int = 10, n_batches: int = 20,
                                  seed: int = 0, cap: bool = False) -> FrechetResult:
    """Fréchet physics distance (FPD) of two samples, extrapolated to N → ∞ as jetnet does.

    The Fréchet distance of two batches of ``N`` events is biased upwards by about ``c/N``.
    Following Kansal et al. (arXiv:2211.10295) and their implementation
    (``jetnet.evaluation.fpd``, after Chong and Forsyth's FID∞): for each of ``n_points`` batch
    sizes evenly spaced in ``1/N`` between ``min_size`` and ``max_size`` (truncated to
    integers), draw ``n_batches`` batches of ``N`` events with replacement from each sample,
    average their Fréchet distances, fit ``value + slope/N`` with ``value, slope >= 0`` by least
    squares and report the intercept with its fit error. With the same inputs, sizes and seed
    this reproduces ``jetnet.evaluation.fpd(reference, generated, normalise=False, seed=seed)``
    to rounding: the batches are drawn in the same order from ``np.random.default_rng(seed)``
    (``tests/validation/test_fpd_jetnet.py`` compares the two). jetnet's defaults are 10 sizes of
    20 batches, as here. One deliberate difference: this fit is the exact constrained least
    squares (:func:`_nonnegative_line`), while jetnet's ``curve_fit``, started at intercept =
    slope = 1, stops short of the minimum in the slope when the distances are far below 1 (as
    after its own normalisation): there its intercept comes out a few per cent high (2-5 %,
    about twice its quoted error, on the test's Gaussians and the Z→μμ demo).

    The batches are resamples of the two samples (drawn with replacement, larger than the
    samples unless ``cap=True`` stops the sizes at the smaller one), so the intercept is the
    Fréchet distance of the two *empirical* distributions: positive even for two samples of one
    distribution, by about ``(d + d(d+1)/4) (1/n_ref + 1/n_gen)`` for ``d`` standardised
    Gaussian features (the means' and the covariances' sampling noise; more with heavy tails).
    Judge it against its truth-vs-truth floor at the same sample sizes, as the validation does
    (:mod:`flashgen.validation.metric_defs.frechet_distance`). Map the features first
    (:func:`standardise`) for a unitless number: a mean shift of 0.1 of a feature's scale (its
    largest reference deviation, or its standard deviation) then adds 0.01.

    References:
        R. Kansal et al., "Evaluating generative models in high energy physics", Phys. Rev. D
        107 (2023) 076017, arXiv:2211.10295; ``jetnet.evaluation.fpd`` (jetnet 0.2.5).
        M. J. Chong and D. Forsyth, "Effectively unbiased FID and Inception Score and where to
        find them", CVPR 2020, arXiv:1911.07023.

    Arguments:
        reference, generated: samples of shape ``(n_events, n_features)``; rows with NaN are
            dropped.
        min_size, max_size: smallest and largest batch size.
        n_points: number of batch sizes (at least 2; 3 or more for an error).
        n_batches: batches per size.
        seed: seed of the batch draws.
        cap: stop the batch sizes at the smaller sample.
    """
    r, g = _complete_rows(reference, generated)
    largest = min(len(r), len(g), int(max_size)) if cap else int(max_size)
    if min(len(r), len(g), largest) < 10 or n_points < 2 or n_batches < 1:
        raise FlashgenError("the Fréchet distance needs at least 10 complete events per sample, "
                            "2 batch sizes and 1 batch per size")
    smallest = max(min(int(min_size), largest // 2), 5)
    sizes = (1.0 / np.linspace(1.0 / smallest, 1.0 / largest, n_points)).astype(np.int64)
    rng = np.random.default_rng(seed)
    means, stds = np.empty(len(sizes)), np.empty(len(sizes))
    for k, n in enumerate(sizes):
        vals = np.empty(n_batches)
        for b in range(n_batches):
            mr, cr = _batch_moments(r, int(n), rng)
            mg, cg = _batch_moments(g, int(n), rng)
            vals[b] = frechet_distance(mr, cr, mg, cg)
        means[k] = vals.mean()
        stds[k] = vals.std(ddof=1) / np.sqrt(n_batches) if n_batches > 1 else 0.0
    value, slope, error = _nonnegative_line(1.0 / sizes, means)
    return FrechetResult(value, error, sizes, means, stds, slope)


@dataclass(frozen=True)
class KernelDistance:
    """Kernel physics distance over batches.

    Attributes:
        median: median of the unbiased MMD² estimates of the batches (the reported value).
        spread: half the range between the 16.275 and 83.725 percentiles of the batch estimates
            (:data:`KPD_SPREAD_PERCENTILES`; the error quoted with it, as Kansal et al.).
        values: the batch estimates, shape ``(n_batches,)``.
        batch_size: events of each sample per batch.
    """

    median: float
    spread: float
    values: np.ndarray
    batch_size: int


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 4) -> np.ndarray:
    """``k(x, y) = (x·y / d + 1)^degree`` for rows of ``x`` ``(n, d)`` and ``y`` ``(m, d)``:
    shape ``(n, m)`` (scikit-learn's polynomial kernel with gamma 1/d and coef0 1)."""
    if degree < 1:
        raise FlashgenError(f"the polynomial kernel needs degree >= 1, got {degree}")
    base = x @ y.T
    base /= x.shape[1]
    base += 1.0
    # integer power by repeated squaring, in place: ~6x faster than ``** degree`` on 10⁷ entries
    result: np.ndarray | None = None
    e = int(degree)
    while e:
        if e & 1:
            result = base.copy() if result is None else np.multiply(result, base, out=result)
        e >>= 1
        if e:
            np.multiply(base, base, out=base)
    assert result is not None
    return result


def mmd_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 4, block: int = 2048) -> float:
    """Unbiased estimate of the squared maximum mean discrepancy with :func:`polynomial_kernel`.

    ``MMD² = Σ_{i≠j} k(x_i, x_j) / (n(n-1)) + Σ_{i≠j} k(y_i, y_j) / (m(m-1))
    - 2 Σ_{i,j} k(x_i, y_j) / (nm)`` (Gretton et al. 2012, Eq. 3): zero in expectation for
    samples of one distribution, so it can be negative. Kernel matrices are summed in blocks of
    ``block`` rows to bound the memory.

    Arguments:
        x, y: samples of shape ``(n, d)`` and ``(m, d)``, n, m >= 2.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or len(x) < 2 or len(y) < 2:
        raise FlashgenError(f"MMD needs two samples (n >= 2, d) alike, got {x.shape} and {y.shape}")

    def total(a: np.ndarray, b: np.ndarray) -> float:
        return float(sum(polynomial_kernel(a[i:i + block], b, degree).sum()
                         for i in range(0, len(a), block)))

    def diagonal(a: np.ndarray) -> float:
        return float(np.sum((np.einsum("ij,ij->i", a, a) / a.shape[1] + 1.0) ** degree))

    n, m = len(x), len(y)
    kxx = (total(x, x) - diagonal(x)) / (n * (n - 1))
    kyy = (total(y, y) - diagonal(y)) / (m * (m - 1))
    return kxx + kyy - 2.0 * total(x, y) / (n * m)


KPD_SPREAD_PERCENTILES = (16.275, 83.725)
"""Percentiles whose half distance is the KPD's quoted error: jetnet's ``kpd`` (``scipy.stats.iqr``
over this range), close to a normal distribution's ±1σ quantiles, 15.87 and 84.13."""


def kernel_distance(reference: np.ndarray, generated: np.ndarray, *, batch_size: int = 5_000,
                    n_batches: int = 10, degree: int = 4, seed: int = 0) -> KernelDistance:
    """Kernel physics distance (KPD) of Kansal et al.: MMD² with a polynomial kernel of degree 4,
    median and spread over batches, as ``jetnet.evaluation.kpd``.

    Batch ``i`` (of ``n_batches``) draws ``batch_size`` events with replacement from each sample
    with ``np.random.default_rng(seed + 1000 i)``, first the reference's then the generated
    ones, and computes :func:`mmd_unbiased`; the KPD is the median of the batches, quoted with
    half the range between their 16.275 and 83.725 percentiles. With the same inputs and seed
    this reproduces ``jetnet.evaluation.kpd(reference, generated, normalise=False, seed=seed)``
    to rounding (``tests/validation/test_fpd_jetnet.py``).

    Drawn with replacement, a batch repeats events of a sample of ``n`` events with probability
    ``1/n`` per pair, and the "unbiased" MMD² then estimates the distance of the two *empirical*
    distributions: positive for two samples of one distribution, by about
    ``(1/n_ref + 1/n_gen) (E k(x, x) - E k(x, x'))`` whatever the batch size. As the FPD, it is
    judged against its truth-vs-truth floor at the same sample sizes. Standardise the features
    first (:func:`standardise`) for a unitless number.

    References:
        R. Kansal et al., "Evaluating generative models in high energy physics", Phys. Rev. D
        107 (2023) 076017, arXiv:2211.10295; ``jetnet.evaluation.kpd`` (jetnet 0.2.5).

    Arguments:
        reference, generated: samples of shape ``(n_events, n_features)``; rows with NaN are
            dropped.
        batch_size, n_batches: events per sample and batch (jetnet: 5,000), number of batches.
        degree: degree of the polynomial kernel.
        seed: seed of the batch draws.
    """
    if n_batches < 1 or batch_size < 2:
        raise FlashgenError(f"the kernel distance needs n_batches >= 1 and batch_size >= 2, got "
                            f"{n_batches} and {batch_size}")
    r, g = _complete_rows(reference, generated)
    if min(len(r), len(g)) < 10:
        raise FlashgenError("the kernel distance needs at least 10 complete events per sample")
    values = np.empty(n_batches)
    for i in range(n_batches):
        rng = np.random.default_rng(seed + 1000 * i)
        xr = r[rng.integers(0, len(r), batch_size)]
        values[i] = mmd_unbiased(xr, g[rng.integers(0, len(g), batch_size)], degree)
    lo, hi = np.percentile(values, KPD_SPREAD_PERCENTILES)
    return KernelDistance(float(np.median(values)), float(hi - lo) / 2.0, values, int(batch_size))
