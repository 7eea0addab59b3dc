"""Calibration of the worth statement where the truth is exact.

One repetition draws a training sample of ``n_train`` events from a truth with exact CDF, trains
an ensemble the way ``flashgen train --ensemble M`` does (member ``m`` on bootstrap resample
``m // copies`` with its own seed), generates ``n_gen`` events per member and histograms every
member in ``K`` equal-probability bins of the truth (several ``K`` at once). It also trains one
model on the training sample itself (no resampling), generating as many events as the whole
ensemble: the single model a user would otherwise train.

Over repetitions this measures, for the pooled histogram (:mod:`flashgen.stats.histogram_worth`):

- the *coverage* of its 68 % band: the fraction of (repetition, bin) pairs whose true probability
  ``1/K`` lies inside ``p ± t σ``;
- the *forecast* amplification ``sum p(1-p) / (N <sum σ^2>)``, from the ensemble alone;
- the *measured* amplification ``sum p(1-p) / (N <sum (p_hat - p)^2>)`` against the exact truth
  (the quantile-MSE definition of :mod:`flashgen.stats.quantiles`), of the pooled ensemble and
  of the single model.

References:
    Butter, Diefenbacher, Kasieczka, Nachman, Plehn, SciPost Phys. 10 (2021) 139, arXiv:2008.06545.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import FlashgenError
from ..seeds import derive_seed
from ..sources.toys import ToyDensity
from .trainers import Trainer
from ..executor import run_tasks
from ..stats.quantiles import quantile_fractions
from ..stats.histogram_worth import inherited_variance, worth_from_fractions

__all__ = ["CalibrationResult", "calibration_study"]

SINGLE = -1
"""Member index of the model trained on the unresampled training sample."""


@dataclass(frozen=True)
class _Task:
    truth: ToyDensity
    trainer: Trainer
    n_train: int
    n_gen: int
    bins: tuple[int, ...]
    seed: int
    rep: int
    member: int
    copies: int


def _run(task: _Task) -> tuple[dict[int, np.ndarray], float]:
    x = task.truth.sample(task.n_train, np.random.default_rng(derive_seed(task.seed, task.rep, 0)))
    if task.member != SINGLE:
        group = task.member // task.copies
        x = x[np.random.default_rng(derive_seed(task.seed, task.rep, 1, group)).integers(0, len(x), len(x))]
    member = task.member % 2**31
    start = time.perf_counter()
    sampler = task.trainer(x, derive_seed(task.seed, task.rep, 2, member))
    seconds = time.perf_counter() - start
    points = np.asarray(sampler(task.n_gen, derive_seed(task.seed, task.rep, 3, member)), dtype=np.float64)
    return {k: quantile_fractions(points, task.truth, k) for k in task.bins}, seconds


@dataclass
class CalibrationResult:
    """Member histograms of every repetition and what they say about the worth statement.

    Attributes:
        fractions: ``K -> (repeats, members, K)`` fractions of each member's events per bin.
        single: ``K -> (repeats, K)`` fractions of the single model's events (``members * n_gen``);
            empty when the study trained no single model (``single_G`` is then ``None``).
        copies: members per bootstrap resample.
    """

    name: str
    fractions: dict[int, np.ndarray]
    single: dict[int, np.ndarray]
    n_train: int
    n_gen: int
    copies: int
    seconds: float = float("nan")
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def repeats(self) -> int:
        return next(iter(self.fractions.values())).shape[0]

    @property
    def members(self) -> int:
        return next(iter(self.fractions.values())).shape[1]

    def summary(self, k: int) -> dict[str, Any]:
        """Coverage, forecast and measured amplification at ``k`` bins (each ± standard error
        over repetitions; the amplification errors by the delta method on the mean squares)."""
        f = self.fractions[k]
        p = 1.0 / k
        edges = np.linspace(0.0, 1.0, k + 1)
        groups = np.arange(self.members) // self.copies
        cover, naive, var_sum, sq_sum, single_sq, within, between = [], [], [], [], [], [], []
        for r in range(self.repeats):
            w = worth_from_fractions(f[r], edges, groups=groups)
            v = inherited_variance(f[r], groups)
            cover.append(np.mean((w.band_low <= p) & (p <= w.band_high)))
            naive.append(np.mean(np.abs(w.fraction - p) <= f[r].std(axis=0, ddof=1)))
            var_sum.append(np.sum(w.fraction * (1 - w.fraction)) / w.n_eff)  # the variance behind n_eff
            sq_sum.append(np.sum((w.fraction - p) ** 2))
            if k in self.single:
                single_sq.append(np.sum((self.single[k][r] - p) ** 2))
            within.append(v.within.mean())
            between.append(v.between.mean())
        spread = k * p * (1 - p)

        def g(sums: list[float]) -> tuple[float, float]:
            a = np.asarray(sums)
            value = spread / a.mean() / self.n_train
            return float(value), float(value * a.std(ddof=1) / np.sqrt(len(a)) / a.mean())

        def m(x: list[float]) -> tuple[float, float]:
            a = np.asarray(x, dtype=np.float64)
            return float(a.mean()), float(a.std(ddof=1) / np.sqrt(len(a)))

        forecast, forecast_err = g(var_sum)
        measured, measured_err = g(sq_sum)
        single, single_err = g(single_sq) if k in self.single else (None, None)
        cov, cov_err = m(cover)
        nv, nv_err = m(naive)
        return {"name": self.name, "bins": k, "n_train": self.n_train, "members": self.members,
                "copies": self.copies, "n_gen_total": self.members * self.n_gen, "repeats": self.repeats,
                "coverage": cov, "coverage_err": cov_err, "coverage_member_spread": nv,
                "coverage_member_spread_err": nv_err,
                "forecast_G": forecast, "forecast_G_err": forecast_err,
                "measured_G": measured, "measured_G_err": measured_err,
                "forecast_over_measured": forecast / measured,
                "single_G": single, "single_G_err": single_err,
                "optimisation_share": float(np.mean(within) / (np.mean(within) + np.mean(between))),
                "train_seconds": self.seconds, **self.meta}


@dataclass(frozen=True)
class CalibrationDesign:
    """The repetitions of a calibration study.

    Arguments:
        n_train: training events per repetition.
        members: ensemble members ``M`` (``M / copies`` bootstrap resamples).
        copies: members per resample (>= 2: they give the optimisation noise).
        n_gen: generated events per member (the single model generates ``members * n_gen``).
        bins: numbers of equal-probability bins to histogram.
        repeats: independent training samples (>= 2).
        seed: master seed.
        single: also train one model on the unresampled sample (``single_G``; it costs one
            training more per repetition).
    """

    n_train: int = 100
    members: int = 10
    copies: int = 2
    n_gen: int = 10_000
    bins: tuple[int, ...] = (10, 20, 50)
    repeats: int = 20
    seed: int = 0
    single: bool = True


def calibration_study(truth: ToyDensity, trainer: Trainer, design: CalibrationDesign = CalibrationDesign(), *,
                      name: str = "", workers: int = 1) -> CalibrationResult:
    """Train ensembles (and a single model) on ``design.repeats`` independent training samples.

    Arguments:
        truth: a density with exact probability integral transform.
        trainer: generator per member (:mod:`flashgen.studies.trainers`).
        design: sizes, bins, repetitions and seed (:class:`CalibrationDesign`).
        name: label of the progress bar.
        workers: processes (one torch thread each).
    """
    n_train, members, copies, n_gen = design.n_train, design.members, design.copies, design.n_gen
    bins, repeats, seed = design.bins, design.repeats, design.seed
    if copies < 2 or members < 2 * copies or repeats < 2 or n_train < 2:
        raise FlashgenError("need copies >= 2, members >= 2 * copies, repeats >= 2 and n_train >= 2")
    tasks = [_Task(truth, trainer, n_train, n_gen * (members if m == SINGLE else 1), tuple(bins), seed,
                   r, m, copies) for r in range(repeats)
             for m in [*([SINGLE] if design.single else []), *range(members)]]
    fractions = {k: np.empty((repeats, members, k)) for k in bins}
    single = {k: np.empty((repeats, k)) for k in bins} if design.single else {}
    seconds = []
    start = time.perf_counter()
    for i, (f, s) in run_tasks(_run, tasks, workers=workers, desc=f"calibration {name}"):
        task = tasks[i]
        seconds.append(s)
        for k in bins:
            if task.member == SINGLE:
                single[k][task.rep] = f[k]
            else:
                fractions[k][task.rep, task.member] = f[k]
    return CalibrationResult(name, fractions, single, n_train, n_gen, copies, float(np.mean(seconds)),
                             {"wall_s": time.perf_counter() - start, "workers": workers})
