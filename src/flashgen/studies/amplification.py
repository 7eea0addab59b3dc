"""Amplification: how many sampled events is a fit or a generated sample worth?

For a truth with known CDF (the toys), every estimate of the density is scored by its quantile
MSE in ``K`` equal-probability bins (:mod:`flashgen.stats.quantiles`) and converted into an
equivalent number of sampled events ``n_equiv = (1 - 1/K) / (K MSE)``; the amplification factor
is ``G = n_equiv / n_train``. One repetition draws a training sample of ``n_train`` events and
scores

- ``train``: the training sample itself (``n_equiv ~ n_train`` by construction);
- ``sampled``: fresh truth samples of ``n_train`` ... ``100 n_train`` events (the reference curve,
  whose expectation ``(1 - 1/K)/(K n)`` is exact);
- ``fit``: a maximum-likelihood fit of the true functional form, scored with its exact bin
  probabilities (:mod:`flashgen.studies.truth_fit`);
- each generator (:mod:`flashgen.studies.trainers`): trained on the training sample, then
  ``n_gen`` generated events for every requested ``n_gen`` (nested prefixes of one sample).

Repetitions over independent training samples give the uncertainties. As in the paper, the
headline ``n_equiv`` comes from the MSE averaged over repetitions (standard error by error
propagation); the median of the per-repetition ``n_equiv`` is quoted beside it.

References:
    Butter, Diefenbacher, Kasieczka, Nachman, Plehn, "GANplifying event samples",
    SciPost Phys. 10 (2021) 139, arXiv:2008.06545.
"""

from __future__ import annotations

import dataclasses
import json
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FlashgenError
from ..seeds import derive_seed
from ..sources.toys import TOYS, ToyDensity
from .truth_fit import fit_truth
from .trainers import Trainer
from ..executor import run_tasks
from ..stats.quantiles import (equivalent_events, expected_sampled_mse, pit_dims, quantile_fractions,
                        quantile_grid, quantile_mse, unbiased_mse)

__all__ = ["AmplificationResult", "amplification_study", "training_sample", "SAMPLED_FACTORS"]

SAMPLED_FACTORS = (1, 2, 5, 10, 20, 50, 100)
"""Sizes of the sampled reference sets, in units of ``n_train``."""

REFERENCE = ("train", "sampled", "fit")


def _method_key(name: str) -> int:
    return zlib.crc32(name.encode())


def training_sample(truth: ToyDensity, n_train: int, seed: int, rep: int) -> np.ndarray:
    """The training sample of repetition ``rep``, shape ``(n_train, dim)``; identical for every method."""
    return truth.sample(n_train, np.random.default_rng(derive_seed(seed, rep, 0)))


@dataclass(frozen=True)
class _Task:
    truth: ToyDensity
    n_train: int
    quantiles: tuple[int, ...]
    sizes: tuple[int, ...]
    seed: int
    rep: int
    method: str
    trainer: Trainer | None = None


def _run_task(task: _Task) -> dict[str, Any]:
    x = training_sample(task.truth, task.n_train, task.seed, task.rep)
    ks = task.quantiles
    if task.trainer is None:
        train = np.array([[quantile_mse(quantile_fractions(x, task.truth, k))] for k in ks])
        fit = fit_truth(task.truth, x)
        fit_mse = np.array([[quantile_mse(fit.bin_probabilities(task.truth, k))] for k in ks])
        rng = np.random.default_rng(derive_seed(task.seed, task.rep, 1))
        sampled = np.empty((len(ks), len(task.sizes)))
        for j, n in enumerate(task.sizes):
            points = task.truth.sample(n, rng)
            sampled[:, j] = [quantile_mse(quantile_fractions(points, task.truth, k)) for k in ks]
        return {"train": train, "fit": fit_mse, "sampled": sampled, "fit_valid": fit.valid,
                "fit_params": fit.params}
    key = _method_key(task.method)
    try:
        start = time.perf_counter()
        sampler = task.trainer(x, derive_seed(task.seed, task.rep, 2, key))
        trained = time.perf_counter()
        points = np.asarray(sampler(max(task.sizes), derive_seed(task.seed, task.rep, 3, key)), dtype=np.float64)
        sampled_s = time.perf_counter() - trained
        if points.shape != (max(task.sizes), x.shape[1]):
            raise FlashgenError(f"sampler returned shape {points.shape}, expected {(max(task.sizes), x.shape[1])}")
        mse = np.empty((len(ks), len(task.sizes)))
        unbiased = np.empty_like(mse)
        for j, n in enumerate(task.sizes):
            for i, k in enumerate(ks):
                f = quantile_fractions(points[:n], task.truth, k)
                mse[i, j], unbiased[i, j] = quantile_mse(f), unbiased_mse(f, n)
    except Exception as err:  # a failed training is recorded, not fatal for the whole study
        return {"error": f"repetition {task.rep}: {type(err).__name__}: {err}"}
    return {"mse": mse, "unbiased": unbiased, "train_s": trained - start, "sample_s": sampled_s}


@dataclass
class AmplificationResult:
    """Quantile MSEs of every method, per repetition, and their summary.

    Attributes:
        toy: name of the truth (``camelback`` or ``ring``); ``toy_params`` its parameters.
        n_train: training events per repetition.
        quantiles: the ``K`` values; ``grids[K]`` the bins per uniform coordinate.
        generated: generated sample sizes; ``sampled``: sizes of the sampled reference sets.
        mse: method -> array ``(repeats, len(quantiles), n_points)``; the points are
            ``(n_train,)`` for ``train``/``fit``, ``sampled`` for ``sampled`` and ``generated``
            for generators. NaN marks a failed repetition.
        mse_unbiased: generator -> the same with the generated-sample noise subtracted
            (:func:`~flashgen.stats.quantiles.unbiased_mse`): the limit ``n_gen -> infinity``.
        seconds: generator -> training time per repetition (s).
        errors: generator -> messages of failed repetitions.
    """

    toy: str
    toy_params: dict[str, Any]
    n_train: int
    quantiles: tuple[int, ...]
    grids: dict[int, tuple[int, ...]]
    repeats: int
    seed: int
    generated: tuple[int, ...]
    sampled: tuple[int, ...]
    mse: dict[str, np.ndarray]
    mse_unbiased: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: dict[str, np.ndarray] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def generators(self) -> list[str]:
        """Names of the generators, in the order they were given."""
        return [m for m in self.mse if m not in REFERENCE]

    def points(self, method: str) -> tuple[int, ...]:
        """Event counts behind each column of ``mse[method]``."""
        if method == "sampled":
            return self.sampled
        if method in ("train", "fit"):
            return (self.n_train,)
        return self.generated

    def summary(self) -> list[dict[str, Any]]:
        """One row per method, ``K`` and sample size.

        Keys: ``method, K, grid, n_events, repeats_ok, mse, mse_err`` (mean and standard error
        over repetitions), ``n_equiv, n_equiv_err`` (from the mean MSE), ``gain, gain_err``
        (``n_equiv / n_train``), ``n_equiv_median, gain_median`` (median over repetitions of the
        per-repetition values); ``mse_expected`` for ``sampled``; for generators also
        ``mse_inf, n_equiv_inf, n_equiv_inf_err, gain_inf`` (generated-sample noise removed).
        """
        rows = []
        for method, values in self.mse.items():
            for i, k in enumerate(self.quantiles):
                for j, n in enumerate(self.points(method)):
                    row = {"method": method, "K": k, "grid": list(self.grids[k]), "n_events": int(n)}
                    row.update(_stats(values[:, i, j], k, self.n_train))
                    if method == "sampled":
                        row["mse_expected"] = float(expected_sampled_mse(n, k))
                    if method in self.mse_unbiased:
                        inf = _stats(self.mse_unbiased[method][:, i, j], k, self.n_train)
                        row.update({"mse_inf": inf["mse"], "mse_inf_err": inf["mse_err"],
                                    "n_equiv_inf": inf["n_equiv"], "n_equiv_inf_err": inf["n_equiv_err"],
                                    "gain_inf": inf["gain"], "gain_inf_err": inf["gain_err"]})
                    rows.append(row)
        return rows

    def headline(self, n_gen: int | None = None) -> list[dict[str, Any]]:
        """Per ``K``: summary rows of the training sample, the fit and every generator at ``n_gen``.

        Arguments:
            n_gen: generated sample size to quote (default: 10,000 as in the paper if it was
                generated, else the largest).
        """
        if n_gen is None:
            n_gen = 10_000 if 10_000 in self.generated else max(self.generated)
        rows = []
        summary = self.summary()
        for k in self.quantiles:
            row: dict[str, Any] = {"K": k, "grid": list(self.grids[k]), "n_gen": n_gen}
            for s in summary:
                if s["K"] != k:
                    continue
                if s["method"] in ("train", "fit"):
                    row[s["method"]] = s
                elif s["method"] in self.mse_unbiased and s["n_events"] == n_gen:
                    row[s["method"]] = s
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable content: configuration, per-repetition MSEs and the summary."""
        def arr(a: np.ndarray) -> Any:
            return np.where(np.isfinite(a), a, np.nan).tolist()

        return {
            "toy": self.toy, "toy_params": self.toy_params, "n_train": self.n_train,
            "quantiles": list(self.quantiles), "grids": {str(k): list(g) for k, g in self.grids.items()},
            "repeats": self.repeats, "seed": self.seed, "generated": list(self.generated),
            "sampled": list(self.sampled), "meta": self.meta,
            "mse": {m: arr(v) for m, v in self.mse.items()},
            "mse_unbiased": {m: arr(v) for m, v in self.mse_unbiased.items()},
            "seconds": {m: arr(v) for m, v in self.seconds.items()},
            "errors": self.errors,
            "summary": _nan_to_none(self.summary()),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AmplificationResult:
        """Inverse of :meth:`to_dict`."""
        def arr(v: Any) -> np.ndarray:
            return np.array(v, dtype=np.float64)

        return cls(d["toy"], d["toy_params"], int(d["n_train"]), tuple(d["quantiles"]),
                   {int(k): tuple(g) for k, g in d["grids"].items()}, int(d["repeats"]), int(d["seed"]),
                   tuple(d["generated"]), tuple(d["sampled"]),
                   {m: arr(v) for m, v in d["mse"].items()},
                   {m: arr(v) for m, v in d.get("mse_unbiased", {}).items()},
                   {m: arr(v) for m, v in d.get("seconds", {}).items()},
                   dict(d.get("errors", {})), dict(d.get("meta", {})))

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as JSON (atomically)."""
        from ..files import write_json

        write_json(self.to_dict(), path, indent=1)

    @classmethod
    def load(cls, path: str | Path) -> AmplificationResult:
        """Read a result written by :meth:`save`."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise FlashgenError(f"{path}: not an amplification result ({err})") from None


def _stats(values: np.ndarray, k: int, n_train: int) -> dict[str, Any]:
    v = values[np.isfinite(values)]
    if len(v) == 0:
        nan = float("nan")
        return {"repeats_ok": 0, "mse": nan, "mse_err": nan, "n_equiv": nan, "n_equiv_err": nan,
                "gain": nan, "gain_err": nan, "n_equiv_median": nan, "gain_median": nan}
    mean = float(v.mean())
    sem = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
    n_equiv = float(equivalent_events(mean, k))
    n_equiv_err = n_equiv * sem / mean if mean > 0 else float("nan")
    median = float(np.median(equivalent_events(v, k)))
    return {"repeats_ok": int(len(v)), "mse": mean, "mse_err": sem, "n_equiv": n_equiv,
            "n_equiv_err": n_equiv_err, "gain": n_equiv / n_train, "gain_err": n_equiv_err / n_train,
            "n_equiv_median": median, "gain_median": median / n_train}


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan_to_none(v) for v in obj]
    return obj


def amplification_study(truth: ToyDensity | str, trainers: dict[str, Trainer], *, n_train: int = 100,
                        quantiles: tuple[int, ...] = (10, 20, 50), repeats: int = 20,
                        generated: tuple[int, ...] = (100, 1_000, 10_000),
                        sampled: tuple[int, ...] | None = None, seed: int = 0,
                        workers: int = 1) -> AmplificationResult:
    """Score sampled sets, the training sample, a fit and generators against the truth.

    Arguments:
        truth: a toy (or its name in :data:`flashgen.sources.toys.TOYS`).
        trainers: generator name -> trainer (see :mod:`flashgen.studies.trainers`); may be empty.
        n_train: training events per repetition (>= 6 for the camel-back fit).
        quantiles: numbers ``K`` of equal-probability bins.
        repeats: independent training samples (>= 2; 20 or more for the benchmark).
        generated: generated sample sizes (nested prefixes of one sample per repetition).
        sampled: sizes of the sampled reference sets (default ``n_train`` x 1, 2, 5 ... 100).
        seed: master seed; the same seed reproduces every number.
        workers: processes (each with one torch thread); 1 runs in this process.

    Returns:
        An :class:`AmplificationResult`.
    """
    name = truth if isinstance(truth, str) else _toy_name(truth)
    if isinstance(truth, str):
        if truth not in TOYS:
            raise FlashgenError(f"unknown toy '{truth}'; choose from {', '.join(TOYS)}")
        truth = TOYS[truth]()
    if n_train < 6:
        raise FlashgenError(f"need at least 6 training events for the fit, got {n_train}")
    if repeats < 2:
        raise FlashgenError(f"need at least 2 repetitions for an uncertainty, got {repeats}")
    bad = [m for m in trainers if m in REFERENCE]
    if bad:
        raise FlashgenError(f"generator name(s) {', '.join(bad)} are reserved; rename them")
    quantiles = tuple(sorted(set(int(k) for k in quantiles)))
    grids = {k: quantile_grid(k, pit_dims(truth)) for k in quantiles}
    generated = tuple(sorted(set(int(n) for n in generated)))
    if not generated or generated[0] < 2:
        raise FlashgenError("generated sample sizes must be at least 2 events")
    sampled = tuple(sorted(set(sampled))) if sampled else tuple(n_train * f for f in SAMPLED_FACTORS)

    tasks = [_Task(truth, n_train, quantiles, sampled, seed, rep, "reference") for rep in range(repeats)]
    tasks += [_Task(truth, n_train, quantiles, generated, seed, rep, m, t)
              for m, t in trainers.items() for rep in range(repeats)]
    nan = np.full((repeats, len(quantiles), 1), np.nan)
    mse = {"train": nan.copy(), "sampled": np.full((repeats, len(quantiles), len(sampled)), np.nan),
           "fit": nan.copy()}
    shape = (repeats, len(quantiles), len(generated))
    mse.update({m: np.full(shape, np.nan) for m in trainers})
    unbiased = {m: np.full(shape, np.nan) for m in trainers}
    seconds = {m: np.full(repeats, np.nan) for m in trainers}
    errors: dict[str, list[str]] = {m: [] for m in trainers}
    fit_invalid = 0
    start = time.perf_counter()
    for i, out in run_tasks(_run_task, tasks, workers=workers, desc=f"amplify {name}"):
        task = tasks[i]
        if task.trainer is None:
            for key in REFERENCE:
                mse[key][task.rep] = out[key]
            fit_invalid += not out["fit_valid"]
        elif "error" in out:
            errors[task.method].append(out["error"])
        else:
            mse[task.method][task.rep] = out["mse"]
            unbiased[task.method][task.rep] = out["unbiased"]
            seconds[task.method][task.rep] = out["train_s"]
    for method, messages in errors.items():
        if len(messages) == repeats:
            raise FlashgenError(f"every training of '{method}' failed; first: {sorted(messages)[0]}")
    meta = {"wall_s": time.perf_counter() - start, "workers": workers, "fit_invalid": fit_invalid}
    params = dataclasses.asdict(truth) if dataclasses.is_dataclass(truth) else {}
    return AmplificationResult(name, params, n_train, quantiles, grids, repeats, seed, generated,
                               sampled, mse, unbiased, seconds, {m: sorted(e) for m, e in errors.items()}, meta)


def _toy_name(truth: ToyDensity) -> str:
    for name, factory in TOYS.items():
        if type(factory()) is type(truth) and (name != "ring" or truth.dim == 2):
            return name
    return type(truth).__name__.lower()
