"""Trainers for amplification studies: fit a generator to a training sample, return a sampler.

A *trainer* is a picklable callable ``trainer(train_points, seed) -> sampler`` with
``train_points`` of shape ``(n_train, dim)``; the *sampler* is ``sampler(n_gen, seed) -> points``
of shape ``(n_gen, dim)``. Trainers run inside worker processes, so they are small frozen
dataclasses rather than closures.

- :class:`FlashgenTrainer`: a flashgen model (any of :data:`flashgen.models.MODELS`) trained with
  :func:`flashgen.training.train` on a table with the toy's columns.
- :class:`KDETrainer`: a Gaussian kernel density estimate (Scott's bandwidth by default), a
  classical smoothing baseline.
- :class:`EmpiricalTrainer`: resamples the training points (no model at all).
- :class:`TruthTrainer`: ignores the training sample and samples the truth itself: a perfect
  generator, whose ``n_gen`` events are worth exactly ``n_gen`` sampled events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import optimize, stats

from ..errors import FlashgenError
from ..models.config import ModelConfig
from ..sources.toys import ToyDensity
from ..training.fit import TrainSettings

__all__ = ["BASELINES", "EmpiricalTrainer", "FlashgenTrainer", "KDETrainer", "Sampler", "Trainer",
           "TruthTrainer", "cv_bandwidth", "generator_names", "make_trainer"]

Sampler = Callable[[int, int], np.ndarray]
"""``sampler(n_gen, seed) -> points`` of shape ``(n_gen, dim)``."""

Trainer = Callable[[np.ndarray, int], Sampler]
"""``trainer(train_points (n_train, dim), seed) -> sampler``."""

BASELINES = ("kde", "truth", "empirical")
"""Generators that are not flashgen models: a kernel density estimate, the truth itself, the
training sample resampled."""


def generator_names() -> tuple[str, ...]:
    """Every generator :func:`make_trainer` knows: the baselines, then the registered models."""
    from ..models import MODELS

    return BASELINES + tuple(sorted(MODELS))


@dataclass(frozen=True)
class KDETrainer:
    """Gaussian kernel density estimate of the training sample.

    Arguments:
        bandwidth: ``"cv"`` (default) picks the kernel width that maximises the leave-one-out
            likelihood of the training sample (:func:`cv_bandwidth`); otherwise a
            ``scipy.stats.gaussian_kde`` ``bw_method`` (``"scott"``, ``"silverman"`` or a factor
            times the sample standard deviation). Scott's rule over-smooths multimodal data
            such as the camel back.
    """

    bandwidth: str | float = "cv"

    def __call__(self, train_points: np.ndarray, seed: int) -> Sampler:
        points = np.asarray(train_points, dtype=np.float64)
        method = cv_bandwidth(points) if self.bandwidth == "cv" else self.bandwidth
        kde = stats.gaussian_kde(points.T, bw_method=method)

        def sample(n_gen: int, seed: int) -> np.ndarray:
            return kde.resample(n_gen, seed=np.random.default_rng(seed)).T.reshape(n_gen, points.shape[1])

        return sample


def cv_bandwidth(points: np.ndarray, max_points: int = 1000) -> float:
    """Kernel width factor of ``gaussian_kde`` maximising the leave-one-out log-likelihood.

    In whitened coordinates (unit sample covariance) the kernel is an isotropic Gaussian of
    width ``factor``; ``factor`` is searched on a log grid from 0.01 to 3, then refined. Exact
    copies of a point are left out with it (otherwise the duplicates of a bootstrap resample
    drive the width to zero). Samples larger than
    ``max_points`` are subsampled for the search and the factor rescaled by ``n^(-1/(d+4))``.

    Arguments:
        points: training sample of shape ``(n, d)``, ``n >= 3``.
        max_points: largest sample used in the O(n^2) search.

    Returns:
        The factor (``bw_method`` of :class:`scipy.stats.gaussian_kde`).
    """
    points = np.asarray(points, dtype=np.float64)
    n, d = points.shape
    if n < 3:
        raise FlashgenError(f"a kernel density estimate needs at least 3 events, got {n}")
    sub = points
    if n > max_points:
        sub = points[np.random.default_rng(0).choice(n, max_points, replace=False)]
    cov = np.atleast_2d(np.cov(sub.T))
    z = np.linalg.solve(np.linalg.cholesky(cov), (sub - sub.mean(axis=0)).T).T
    sq = np.sum((z[:, None, :] - z[None, :, :]) ** 2, axis=-1)
    sq[sq == 0] = np.inf  # leave out every copy of a point: bootstrap resamples hold duplicates

    def neg_loglik(log_f: float) -> float:
        rows = np.exp(sq * (-0.5 * np.exp(-2.0 * log_f))).sum(axis=1)
        return -float(np.sum(np.log(np.maximum(rows, 1e-300))) - len(sub) * d * log_f)

    grid = np.linspace(np.log(0.01), np.log(3.0), 13)
    best = int(np.argmin([neg_loglik(g) for g in grid]))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    factor = float(np.exp(optimize.minimize_scalar(neg_loglik, bounds=(lo, hi), method="bounded",
                                                   options={"xatol": 1e-3}).x))
    return factor * (n / len(sub)) ** (-1.0 / (d + 4))


@dataclass(frozen=True)
class EmpiricalTrainer:
    """No model: resample the training points with replacement (the empirical distribution).

    The control of a bootstrap-coverage study: it has no smoothing bias, so its band shows what
    the bootstrap itself achieves.
    """

    def __call__(self, train_points: np.ndarray, seed: int) -> Sampler:
        points = np.asarray(train_points, dtype=np.float64)

        def sample(n_gen: int, seed: int) -> np.ndarray:
            return points[np.random.default_rng(seed).integers(0, len(points), n_gen)]

        return sample


@dataclass(frozen=True)
class TruthTrainer:
    """A perfect generator: samples ``truth`` and ignores the training sample."""

    truth: ToyDensity

    def __call__(self, train_points: np.ndarray, seed: int) -> Sampler:
        def sample(n_gen: int, seed: int) -> np.ndarray:
            return self.truth.sample(n_gen, np.random.default_rng(seed))

        return sample


@dataclass(frozen=True)
class FlashgenTrainer:
    """A flashgen model trained on the training sample as a table with columns ``columns``.

    Arguments:
        model: a registered model family (:data:`flashgen.models.MODELS`).
        columns: column names of the coordinates, e.g. ``("x",)`` or ``("x", "y")``.
        preset: training preset of :func:`flashgen.training.train` (a registered preset, or
            ``None`` for the model's defaults).
        settings: training settings (:class:`flashgen.training.TrainSettings`; its seed is
            replaced by the one each call is given; default: the preset's).
        config: the model's settings (a mapping of some of them, or the family's config;
            default: the preset's, else the model's).
    """

    model: str
    columns: tuple[str, ...]
    preset: str | None = None
    settings: TrainSettings = field(default_factory=TrainSettings)
    config: ModelConfig | Mapping[str, Any] | None = None

    def __call__(self, train_points: np.ndarray, seed: int) -> Sampler:
        from ..data import EventTable
        from ..generation import sample as generate_sample
        from ..training import Columns, train

        points = np.asarray(train_points, dtype=np.float64)
        if points.shape[1] != len(self.columns):
            raise FlashgenError(f"training points have {points.shape[1]} columns, expected {self.columns}")
        table = EventTable({c: points[:, j] for j, c in enumerate(self.columns)})
        fitted = train(table, self.model, columns=Columns(list(self.columns)), preset=self.preset,
                       settings=replace(self.settings, seed=seed, quiet=True), config=self.config)
        columns = list(self.columns)

        def sample(n_gen: int, seed: int) -> np.ndarray:
            return generate_sample(fitted, n_gen, seed=seed).to_numpy(columns)

        return sample


def make_trainer(name: str, truth: ToyDensity, *, preset: str | None = None,
                 settings: TrainSettings | None = None,
                 config: ModelConfig | Mapping[str, Any] | None = None) -> Trainer:
    """A trainer by name: ``kde``, ``truth``, ``empirical`` or a registered flashgen model.

    Arguments:
        name: which generator.
        truth: the toy (gives the column names, and the sampler of ``truth``).
        preset, settings, config: passed to :class:`FlashgenTrainer`.
    """
    if name == "kde":
        return KDETrainer()
    if name == "truth":
        return TruthTrainer(truth)
    if name == "empirical":
        return EmpiricalTrainer()
    if name in generator_names():
        return FlashgenTrainer(name, tuple(truth.columns), preset, settings or TrainSettings(), config)
    raise FlashgenError(f"unknown generator '{name}'; choose from {', '.join(generator_names())}")
