"""Equal-probability bins ("quantiles") of a known truth and the quantile MSE of a sample.

A toy truth maps points to coordinates that are independent and uniform on ``[0, 1)``
(:meth:`flashgen.sources.toys.ToyDensity.pit`). Equal-width bins of those coordinates are bins of
equal probability ``1/K`` under the truth. In 1D (camel back, radius of an n-dim shell) these
are the ``K`` quantiles of the truth; for the 2D ring they form a grid of ``n_r`` radial times
``n_phi`` azimuthal bins with ``n_r * n_phi = K`` (:func:`quantile_grid`: 10 = 2 x 5,
20 = 4 x 5, 50 = 5 x 10).

The quantile MSE of estimated bin probabilities ``f_i`` is ``sum_i (f_i - 1/K)^2 / K``. For ``n``
events sampled from the truth the counts are multinomial, so its expectation is exactly
``(1 - 1/K) / (K n)``; inverting that gives the *equivalent number of sampled events* of any
estimate, ``n_equiv = (1 - 1/K) / (K MSE)``.

References:
    Butter, Diefenbacher, Kasieczka, Nachman, Plehn, "GANplifying event samples",
    SciPost Phys. 10 (2021) 139, arXiv:2008.06545.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import FlashgenError
from ..sources.toys import ToyDensity

__all__ = [
    "bin_index",
    "equivalent_events",
    "expected_sampled_mse",
    "pit_dims",
    "quantile_fractions",
    "quantile_grid",
    "quantile_mse",
    "unbiased_mse",
]


def quantile_grid(k: int, dims: int = 1) -> tuple[int, ...]:
    """Split ``k`` equal-probability bins over ``dims`` uniform coordinates.

    In 1D the grid is ``(k,)``. In 2D (ring: radius, azimuth) it is ``(n_r, n_phi)`` with ``n_r``
    the largest divisor of ``k`` not above ``sqrt(k)``: 10 -> (2, 5), 20 -> (4, 5),
    50 -> (5, 10); a prime ``k`` gives ``(1, k)``.

    Arguments:
        k: total number of bins (>= 2).
        dims: number of uniform coordinates (1 or 2).

    Returns:
        Bins per coordinate, whose product is ``k``.
    """
    if k < 2:
        raise FlashgenError(f"need at least 2 quantiles, got {k}")
    if dims == 1:
        return (k,)
    if dims == 2:
        n_r = max(d for d in range(1, math.isqrt(k) + 1) if k % d == 0)
        return (n_r, k // n_r)
    raise FlashgenError(f"quantile grids exist for 1 or 2 uniform coordinates, got {dims}")


def pit_dims(toy: ToyDensity) -> int:
    """Number of uniform coordinates that ``toy.pit`` returns (1, or 2 for the 2D ring)."""
    return int(toy.pit(np.ones((1, toy.dim))).shape[1])


def bin_index(u: np.ndarray, grid: tuple[int, ...]) -> np.ndarray:
    """Flat bin index of uniform coordinates ``u`` on an equal-width ``grid``.

    Arguments:
        u: coordinates in ``[0, 1]``, shape ``(n, len(grid))`` (or ``(n,)`` in 1D).
        grid: bins per coordinate, e.g. ``(4, 5)``; the last coordinate varies fastest.

    Returns:
        Integer index in ``[0, prod(grid))`` of shape ``(n,)``; ``u = 1`` falls in the last bin.
    """
    u = np.asarray(u, dtype=np.float64)
    if u.ndim == 1:
        u = u[:, None]
    if u.shape[1] != len(grid):
        raise FlashgenError(f"coordinates have {u.shape[1]} columns but the grid {grid} has {len(grid)}")
    index = np.zeros(len(u), dtype=np.int64)
    for j, n_bins in enumerate(grid):
        cell = np.clip(np.floor(u[:, j] * n_bins), 0, n_bins - 1).astype(np.int64)
        index = index * n_bins + cell
    return index


def quantile_fractions(points: np.ndarray, toy: ToyDensity, k: int) -> np.ndarray:
    """Fraction of ``points`` in each of the ``k`` equal-probability bins of the truth ``toy``.

    Arguments:
        points: sample of shape ``(n, toy.dim)`` (or ``(n,)`` in 1D), all finite.
        toy: the truth, whose ``pit`` defines the bins.
        k: number of bins, split as :func:`quantile_grid`.

    Returns:
        Fractions of shape ``(k,)`` summing to 1.
    """
    points = np.asarray(points, dtype=np.float64)
    if len(points) == 0:
        raise FlashgenError("cannot score an empty sample")
    if not np.all(np.isfinite(points)):
        raise FlashgenError(f"{int(np.sum(~np.isfinite(points)))} sample value(s) are NaN or infinite")
    u = toy.pit(points)
    grid = quantile_grid(k, u.shape[1])
    return np.bincount(bin_index(u, grid), minlength=k) / len(u)


def quantile_mse(fractions: np.ndarray) -> np.ndarray:
    """Quantile MSE ``sum_i (f_i - 1/K)^2 / K`` over the last axis of ``fractions`` ``(..., K)``."""
    f = np.asarray(fractions, dtype=np.float64)
    k = f.shape[-1]
    return np.mean((f - 1.0 / k) ** 2, axis=-1)


def unbiased_mse(fractions: np.ndarray, n: int) -> np.ndarray:
    """Quantile MSE of the *generator* behind ``n`` sampled events, sampling noise removed.

    ``E[(f_i - 1/K)^2] = (p_i - 1/K)^2 + p_i (1 - p_i) / n``, and ``f_i (1 - f_i) / (n - 1)`` is an
    unbiased estimate of the second term, so subtracting it estimates the MSE of the generator's
    bin probabilities ``p_i`` themselves (the limit of infinitely many generated events). It can
    be negative for one sample; average it over repetitions.

    Arguments:
        fractions: bin fractions of one sample, shape ``(..., K)``.
        n: number of events behind each row of fractions (>= 2).
    """
    f = np.asarray(fractions, dtype=np.float64)
    return quantile_mse(f) - np.mean(f * (1.0 - f), axis=-1) / (n - 1)


def expected_sampled_mse(n: np.ndarray | float, k: int) -> np.ndarray:
    """Exact expected quantile MSE of ``n`` events sampled from the truth: ``(1 - 1/K) / (K n)``."""
    return (1.0 - 1.0 / k) / (k * np.asarray(n, dtype=np.float64))


def equivalent_events(mse: np.ndarray | float, k: int) -> np.ndarray:
    """Equivalent number of sampled events of a quantile MSE: ``(1 - 1/K) / (K MSE)``.

    Non-positive MSEs (possible for :func:`unbiased_mse`) give ``inf``.
    """
    mse = np.asarray(mse, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(mse > 0, (1.0 - 1.0 / k) / (k * np.where(mse > 0, mse, 1.0)), np.inf)
