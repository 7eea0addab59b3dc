"""Coverage of bootstrap-ensemble bands where the exact truth is known.

One repetition draws a training sample of ``n_train`` events from a truth with exact CDF, trains
``M`` generators on bootstrap resamples of it, generates ``n_gen`` events per member and
histograms them in ``K`` equal-probability bins of the truth. The per-bin band over members
(:func:`flashgen.studies.bands.band_from_members`) should contain the true probability ``1/K`` in
68 % of the bins. Repetitions over independent training samples make that fraction precise.

The spread of the members estimates the training-sample fluctuation of one generator (plus the
generated-sample noise of ``n_gen`` events and the training randomness). The band misses the
truth more often than nominal when (a) the generator is biased (smoothing, under-fitting: its
error does not shrink with the band), (b) the ensemble is small (sample quantiles of ``M``
values make too narrow a band; see :func:`~flashgen.studies.bands.histogram_band`'s
``method``), or (c) the bootstrap misjudges the spread (duplicated events in every resample).
The :class:`~flashgen.studies.trainers.EmpiricalTrainer` control (no model) isolates (b)+(c).

References:
    Matchev, Roman, Shyamsundar, "Uncertainties associated with GAN-generated datasets in high
    energy physics", SciPost Phys. 12 (2022) 104, arXiv:2002.06307.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from ..errors import FlashgenError
from ..seeds import derive_seed
from ..sources.toys import ToyDensity
from .bands import band_from_members, band_coverage
from .trainers import Trainer
from ..executor import run_tasks
from ..stats.quantiles import quantile_fractions

__all__ = ["CoverageResult", "coverage_study", "ideal_coverage"]

METHODS = ("quantile", "prediction", "std")


def ideal_coverage(members: int, method: str, level: float = 0.68) -> float:
    """Coverage of an ideal bootstrap band (unbiased generator, Gaussian spread) with ``members``.

    ``std``: ``P(|T| < 1/sqrt(1 + 1/M))`` with ``T`` Student-t of ``M - 1`` degrees of freedom
    (the ensemble mean scatters by ``sigma/sqrt(M)`` on top, the spread is estimated from ``M``
    values). ``quantile``/``prediction``: the probability that an independent value falls between
    the interpolated order statistics, ``(h_hi - h_lo)/(M + 1)`` with positions
    ``h = 1 + q (M - 1)`` (linear) or ``h = q (M + 1)`` (Weibull).
    """
    m = members
    q_lo, q_hi = 0.5 - level / 2, 0.5 + level / 2
    if method == "std":
        return float(2 * stats.t.cdf(1 / np.sqrt(1 + 1 / m), m - 1) - 1)
    if method == "quantile":
        return (q_hi - q_lo) * (m - 1) / (m + 1)
    if method == "prediction":
        return float(np.clip(q_hi * (m + 1), 1, m) - np.clip(q_lo * (m + 1), 1, m)) / (m + 1)
    raise FlashgenError(f"unknown band method '{method}'; use {', '.join(METHODS)}")


@dataclass(frozen=True)
class _Task:
    truth: ToyDensity
    trainer: Trainer
    n_train: int
    n_gen: int
    bins: int
    seed: int
    rep: int
    member: int


def _run_member(task: _Task) -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(derive_seed(task.seed, task.rep, 0))
    x = task.truth.sample(task.n_train, rng)
    boot = np.random.default_rng(derive_seed(task.seed, task.rep, 1, task.member)).integers(0, len(x), len(x))
    start = time.perf_counter()
    sampler = task.trainer(x[boot], derive_seed(task.seed, task.rep, 2, task.member))
    seconds = time.perf_counter() - start
    points = np.asarray(sampler(task.n_gen, derive_seed(task.seed, task.rep, 3, task.member)), dtype=np.float64)
    return quantile_fractions(points, task.truth, task.bins), seconds


@dataclass
class CoverageResult:
    """Member histograms of every repetition and the coverage of their bands.

    Attributes:
        name: label of the study (truth and generator).
        fractions: per repetition, member and bin, the generated fraction of events, shape
            ``(repeats, members, bins)``; the true fraction is ``1/bins`` in every bin.
        holdout: fractions of a large held-out truth sample, shape ``(bins,)``.
        n_train, n_gen, n_holdout: events per training sample, per member, held out.
        seconds: mean training time per member (s).
    """

    name: str
    fractions: np.ndarray
    holdout: np.ndarray
    n_train: int
    n_gen: int
    n_holdout: int
    seconds: float = float("nan")
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def repeats(self) -> int:
        return self.fractions.shape[0]

    @property
    def members(self) -> int:
        return self.fractions.shape[1]

    @property
    def bins(self) -> int:
        return self.fractions.shape[2]

    def coverage(self, method: str = "quantile", truth: str = "exact") -> tuple[float, float]:
        """Fraction of (repetition, bin) pairs whose truth lies in the 68 % band, and its error.

        Arguments:
            method: band method of :func:`~flashgen.studies.bands.band_from_members`.
            truth: ``"exact"`` (``1/bins``) or ``"holdout"`` (the held-out sample's fractions).

        Returns:
            ``(coverage, standard error)``, the error from the scatter over repetitions.
        """
        target = np.full(self.bins, 1.0 / self.bins) if truth == "exact" else self.holdout
        edges = np.linspace(0.0, 1.0, self.bins + 1)
        per_rep = np.array([band_coverage(band_from_members(f, edges, method=method), target).mean()
                            for f in self.fractions])
        err = per_rep.std(ddof=1) / np.sqrt(len(per_rep)) if len(per_rep) > 1 else float("nan")
        return float(per_rep.mean()), float(err)

    def diagnostics(self) -> dict[str, float]:
        """Where misses come from: bias and spread of the ensemble, per bin.

        ``bias_over_spread``: RMS over bins of the ensemble-mean error averaged over repetitions,
        divided by the mean member spread; an unbiased generator gives only the noise floor
        ``bias_noise_floor = sqrt((1 + 1/M) / repeats)``, a value near 1 or above makes a 68 %
        band cover much less. ``spread_ratio``: mean member spread over the RMS error of the
        ensemble mean (ideal ``~ 1/sqrt(1 + 1/M)``; below that the band is too narrow).
        ``sampled_spread_ratio``: mean member spread over the binomial spread of ``n_train``
        sampled events (a model that smooths well has less than 1).
        """
        p = 1.0 / self.bins
        mean = self.fractions.mean(axis=1)
        spread = self.fractions.std(axis=1, ddof=1)
        bias = (mean - p).mean(axis=0)
        m, r = self.members, self.repeats
        return {"bias_over_spread": float(np.sqrt(np.mean(bias**2)) / spread.mean()),
                "bias_noise_floor": float(np.sqrt((1 + 1 / m) / r)),
                "spread_ratio": float(spread.mean() / np.sqrt(np.mean((mean - p) ** 2))),
                "spread_ratio_ideal": float(1 / np.sqrt(1 + 1 / m)),
                "sampled_spread_ratio": float(spread.mean() / np.sqrt(p * (1 - p) / self.n_train))}

    def summary(self) -> dict[str, Any]:
        """Coverage for every band method against exact and held-out truth, plus diagnostics."""
        out: dict[str, Any] = {"name": self.name, "n_train": self.n_train, "members": self.members,
                               "n_gen": self.n_gen, "bins": self.bins, "repeats": self.repeats,
                               "n_holdout": self.n_holdout, "train_seconds": self.seconds, **self.meta}
        for method in METHODS:
            cov, err = self.coverage(method, "exact")
            hold, hold_err = self.coverage(method, "holdout")
            out[method] = {"coverage": cov, "coverage_err": err, "coverage_holdout": hold,
                           "coverage_holdout_err": hold_err,
                           "ideal": ideal_coverage(self.members, method)}
        out.update(self.diagnostics())
        return out


@dataclass(frozen=True)
class CoverageDesign:
    """The repetitions of a coverage study.

    Arguments:
        n_train: training events per repetition.
        members: bootstrap members ``M`` per repetition (>= 2; 10 or more for a band).
        n_gen: generated events per member.
        bins: equal-probability bins ``K`` of the truth.
        repeats: independent training samples.
        n_holdout: events of the held-out truth sample.
        seed: master seed.
    """

    n_train: int = 1000
    members: int = 10
    n_gen: int = 100_000
    bins: int = 20
    repeats: int = 10
    n_holdout: int = 1_000_000
    seed: int = 0


def coverage_study(truth: ToyDensity, trainer: Trainer, design: CoverageDesign = CoverageDesign(), *,
                   name: str = "", workers: int = 1) -> CoverageResult:
    """Train bootstrap ensembles on independent training samples and histogram their members.

    Arguments:
        truth: a density with exact probability integral transform (a toy, or
            :class:`~flashgen.sources.electron.ElectronResponse`).
        trainer: generator to train per member (see :mod:`flashgen.studies.trainers`).
        design: sizes, bins, repetitions and seed (:class:`CoverageDesign`).
        name: label in the result.
        workers: processes (one torch thread each); 1 runs here.
    """
    n_train, members, n_gen, bins = design.n_train, design.members, design.n_gen, design.bins
    repeats, n_holdout, seed = design.repeats, design.n_holdout, design.seed
    if members < 2 or repeats < 1 or n_train < 2:
        raise FlashgenError("need members >= 2, repeats >= 1 and n_train >= 2")
    tasks = [_Task(truth, trainer, n_train, n_gen, bins, seed, r, m)
             for r in range(repeats) for m in range(members)]
    fractions = np.empty((repeats, members, bins))
    seconds = np.empty(len(tasks))
    start = time.perf_counter()
    for i, (f, s) in run_tasks(_run_member, tasks, workers=workers, desc=f"coverage {name}"):
        fractions[tasks[i].rep, tasks[i].member] = f
        seconds[i] = s
    holdout_points = truth.sample(n_holdout, np.random.default_rng(derive_seed(seed, 2**31, 9)))
    holdout = quantile_fractions(holdout_points, truth, bins)
    return CoverageResult(name, fractions, holdout, n_train, n_gen, n_holdout, float(seconds.mean()),
                          {"wall_s": time.perf_counter() - start, "workers": workers})

