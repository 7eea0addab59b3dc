"""All metrics of one reference-vs-generated comparison, and their values for a perfect generator.

:func:`compare` computes every number from two *samples* (``name -> array (n_events,)`` of
features, observables and slicing variables) following a :class:`Plan` whose bins are fixed from
the reference. :func:`null_metrics` runs the very same :func:`compare` on pairs of bootstrap
resamples of the reference with the two sample sizes, which is what a perfect generator would
score, and :func:`build_checks` judges each metric against its tolerance and that noise.

A metric that cannot be computed (e.g. a Fréchet distance with fewer than 10 events where every
multivariate feature is defined) is never dropped: its key stays with NaN values, the reason goes
into the ``unavailable`` mapping of :func:`compare`, and its checks get the status
``unavailable``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import FlashgenError
from .binning import counts_with_flow
from .conditions import ResolvedSlicing
from .metric_registry import GlobalInput, Metric, QuantityInput, by_scope, judged_values
from .thresholds import NOISE_SIGMAS, judge

__all__ = ["Check", "Plan", "Quantity", "build_checks", "chi2_ndf_noise",
           "compare", "inherited_noise_factor", "null_metrics", "resample"]

Sample = Mapping[str, np.ndarray]
Results = dict[str, dict[str, float]]

MIN_EVENTS = 5
"""Fewest finite events per sample for a 1D comparison (fewer: the comparison is skipped)."""


@dataclass(frozen=True)
class Quantity:
    """A 1D quantity to compare: a table column (``kind="feature"``) or a derived observable."""

    name: str
    kind: str
    unit: str
    label: str
    edges: np.ndarray = field(repr=False)
    discrete: bool = False
    nullable: bool = False
    description: str = ""


@dataclass
class Plan:
    """What :func:`compare` computes.

    Attributes:
        quantities: 1D quantities by name (the sample holds an array per name).
        slicings: conditional checks; the sample holds ``"slice:<name>"`` per slicing.
        multivariate: features entering the correlation matrices and the Fréchet and kernel
            distances (those two on the features scaled by the reference as jetnet does:
            :mod:`.metric_defs.frechet_distance`).
        fpd_batches: batches per sample size of the Fréchet extrapolation (jetnet: 20).
        kpd_batches, kpd_batch_size: batches and events per batch and sample of the kernel
            distance. Batches of 1,000 rather than jetnet's 5,000:
            a batch costs ∝ size², and the validation computes the distance in every one of
            its reference-vs-reference comparisons too; the floor is computed alike.
    """

    quantities: dict[str, Quantity]
    slicings: list[ResolvedSlicing]
    multivariate: list[str]
    fpd_batches: int = 6
    kpd_batches: int = 10
    kpd_batch_size: int = 1_000


def resample(sample: Sample, index: np.ndarray) -> dict[str, np.ndarray]:
    """Rows ``index`` of every array of ``sample``."""
    return {k: v[index] for k, v in sample.items()}


def inherited_fraction_variance(values: np.ndarray, member: np.ndarray,
                                edges: np.ndarray) -> np.ndarray | None:
    """Per-bin variance of the generated fractions (under- and overflow bins included, finite
    values only) inherited from the training sample, from an ensemble's ``member`` column
    (:func:`flashgen.stats.histogram_worth.inherited_variance`); ``None`` if the members cannot give it."""
    from ..stats.histogram_worth import inherited_variance

    ok = np.isfinite(values)
    v, mem = values[ok], member[ok]
    ids = np.unique(mem)
    if len(ids) < 2:
        return None
    fractions = np.stack([counts_with_flow(v[mem == i], edges) / max(int(np.sum(mem == i)), 1) for i in ids])
    try:
        return inherited_variance(fractions, ids // 2).total
    except FlashgenError:
        return None


def _one_d(ref: np.ndarray, gen: np.ndarray, q: Quantity, edges: np.ndarray | None = None,
           member: np.ndarray | None = None, event: np.ndarray | None = None) -> dict[str, float]:
    """The ``defined`` metrics (nullable quantities) and, with enough finite events, the
    ``quantity`` metrics of the registry, with the events counted and the moments."""
    fr, fg = np.isfinite(ref), np.isfinite(gen)
    out: dict[str, float] = {}
    if q.nullable:
        for metric in by_scope("defined"):
            out.update(_call(metric, ref, gen))
    r, g = ref[fr], gen[fg]
    out.update(n_ref=float(r.size), n_gen=float(g.size))
    if r.size < MIN_EVENTS or g.size < MIN_EVENTS:
        return out
    data = QuantityInput(r, g, q.edges if edges is None else edges, gen, member, event)
    for metric in by_scope("quantity"):
        out.update(_call(metric, data))
    out.update(mean_ref=float(r.mean()), mean_gen=float(g.mean()), std_ref=float(r.std()),
               std_gen=float(g.std()))
    return out


def _call(metric: Metric, *data: Any) -> dict[str, float]:
    assert metric.compute is not None  # every scope but "classifier" has one (Metric checks)
    return metric.compute(*data)


def _reason(err: Exception) -> str:
    """A one-line reason: a user-facing message as is, anything else with its type."""
    text = str(err).strip() or type(err).__name__
    return text if isinstance(err, FlashgenError) else f"{type(err).__name__}: {text}"


def compare(ref: Sample, gen: Sample, plan: Plan, *, seed: int = 0,
            unavailable: dict[str, str] | None = None, member: np.ndarray | None = None,
            event: np.ndarray | None = None) -> Results:
    """Every metric of the registry (:data:`~.metric_registry.METRICS`) of ``gen`` against ``ref``.

    Arguments:
        ref, gen: the two samples; plan: what to compute; seed: seed of the Fréchet batches.
        unavailable: if given, receives ``key -> reason`` for every key whose metrics could not
            be computed (their values are NaN in the result; the key is never dropped).
        member: ensemble member of each generated event, or ``None``: with it, the χ² of every
            feature and observable includes the uncertainty the generator inherits from its
            training sample (the purely statistical value is kept as ``chi2_ndf_statistical``).
        event: generator-level event of each generated row of an oversampled sample, or
            ``None``: with it, the χ² of every feature and observable, and of each slice's
            targets, folds the copies of each event
            (:func:`flashgen.stats.oversampling.extra_fraction_variance`; the plain value is kept
            as ``chi2_ndf_statistical``).

    Returns:
        ``key -> {metric: value}`` with keys ``feature/<name>``, ``observable/<name>``,
        ``conditional/<slicing>/<bin>/<target>`` (and ``.../efficiency``) and ``global/<key>`` of
        each whole-event metric with enough multivariate features (today ``global/correlation``
        with two or more, ``global/frechet`` and ``global/kpd``: the kernel distance, reported
        with its reference-vs-reference floor, not judged, since its scale depends on the number
        of features).
    """
    reasons = unavailable if unavailable is not None else {}
    out: Results = {}
    for q in plan.quantities.values():
        out[f"{q.kind}/{q.name}"] = _one_d(ref[q.name], gen[q.name], q, member=member, event=event)
    for s in plan.slicings:
        vr, vg = ref[f"slice:{s.name}"], gen[f"slice:{s.name}"]
        for k in range(len(s.bins)):
            mr, mg = s.mask(vr, k), s.mask(vg, k)
            for t in s.targets:
                out[f"conditional/{s.name}/{k}/{t}"] = _one_d(  # copies share the slice: fold them
                    ref[t][mr], gen[t][mg], plan.quantities[t], s.target_edges.get((k, t)),
                    event=None if event is None else event[mg])
            if s.efficiency is not None:
                for metric in by_scope("efficiency"):
                    out.setdefault(f"conditional/{s.name}/{k}/efficiency", {}).update(
                        _call(metric, ref[s.efficiency][mr], gen[s.efficiency][mg]))
    data = GlobalInput(ref, gen, plan.multivariate, seed, plan)
    for metric in by_scope("global"):
        if len(plan.multivariate) < metric.min_features:
            continue
        try:  # ValueError includes FlashgenError (too few complete events) and LinAlgError
            out[metric.result_key] = _call(metric, data)
        except ValueError as err:
            out[metric.result_key] = dict.fromkeys(metric.names, np.nan)
            reasons[metric.result_key] = f"{metric.failure or metric.name + ' not computed'}: " \
                                         f"{_reason(err)}"
    for key, values in out.items():
        why = _nan_reason(values)
        if why and key not in reasons:
            reasons[key] = why
    return out


def _nan_reason(values: Mapping[str, float]) -> str:
    """Why judged metrics of one key are NaN ("" when none is)."""
    judged = {v.name: v for v in judged_values()}
    return "; ".join(judged[name].nan_reason(values) for name, x in values.items()
                     if name in judged and np.isnan(x))


def null_metrics(ref: Sample, n_ref: int, n_gen: int, plan: Plan, *, repeats: int,
                 seed: int = 0, on_repeat: Callable[[], None] | None = None
                 ) -> dict[str, dict[str, np.ndarray]]:
    """Metric values of a perfect generator: :func:`compare` on bootstrap pairs of the reference.

    Each repeat draws ``n_ref`` and ``n_gen`` events with replacement from the reference and
    compares them, so the spread reflects both sample sizes (variance ∝ 1/n_ref + 1/n_gen).

    Arguments:
        ref: the reference sample; n_ref, n_gen: the two sample sizes to mimic.
        plan: what to compute; repeats: number of bootstrap pairs; seed: their seed.
        on_repeat: called after each repeat (progress reporting).

    Returns:
        ``key -> {metric: array of shape (repeats,)}`` (NaN where a repeat had no value, e.g.
        a metric that could not be computed on that pair).
    """
    size = len(next(iter(ref.values())))
    rng = np.random.default_rng(seed)
    runs = []
    for rep in range(repeats):
        a = resample(ref, rng.integers(0, size, n_ref))
        b = resample(ref, rng.integers(0, size, n_gen))
        runs.append(compare(a, b, plan, seed=seed + 1 + rep))
        if on_repeat is not None:
            on_repeat()
    keys = {k for run in runs for k in run}
    out: dict[str, dict[str, np.ndarray]] = {}
    for k in keys:
        names = {n for run in runs for n in run.get(k, {})}
        out[k] = {n: np.array([run.get(k, {}).get(n, np.nan) for run in runs]) for n in names}
    return out


def chi2_ndf_noise(ndf: int) -> float:
    """χ²/ndf that two samples of one distribution exceed with the one-sided probability of a
    ``NOISE_SIGMAS`` fluctuation (3.2e-5 for 4σ): the analytic floor of the χ² checks' noise.

    The bootstrap pairs alone estimate it from a handful of repeats, which is too low for a few
    degrees of freedom (a jet multiplicity: ndf ≈ 5, where χ²/ndf has a standard deviation of
    0.63): two independent simulated Z→μμ samples (1,906 and 22,700 events) failed the χ² of
    the jet multiplicity, 3.20 against a bootstrap noise of 3.12 (p = 0.007 for χ²(5) = 16).
    """
    from scipy import stats

    return float(stats.chi2.isf(stats.norm.sf(NOISE_SIGMAS), ndf) / ndf)


def inherited_noise_factor(n_ref: float, n_gen: float, n_eff: float) -> float:
    """Factor on the noise of an ``inherited`` metric value (:class:`~.metric_registry.Value`) when the generated sample of
    ``n_gen`` events is worth only ``n_eff`` independent events (:mod:`flashgen.stats.histogram_worth`):
    ``sqrt((1/n_ref + 1/n_eff) / (1/n_ref + 1/n_gen))``, 1 when ``n_eff >= n_gen`` or unknown."""
    if not (np.isfinite(n_eff) and 0 < n_eff < n_gen and n_ref > 0):
        return 1.0
    return float(np.sqrt((1.0 / n_ref + 1.0 / n_eff) / (1.0 / n_ref + 1.0 / n_gen)))


@dataclass(frozen=True)
class Check:
    """One judged metric: ``value`` against ``limit`` (tolerance) and ``noise`` (resolution).

    ``noise_factor`` > 1: the noise includes the uncertainty inherited from the training sample
    (:func:`inherited_noise_factor`)."""

    key: str
    metric: str
    value: float
    limit: float
    null_mean: float
    null_std: float
    noise: float
    status: str
    noise_factor: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_checks(results: Results, null: Mapping[str, Mapping[str, np.ndarray]],
                 inherited: Mapping[str, float] | None = None) -> list[Check]:
    """Judge every value of ``results`` that has a tolerance in the metric registry, against its
    tolerance and the noise of its noise model (:class:`~.metric_registry.Value`).

    A NaN value (a metric that could not be computed) gives a check of status ``unavailable``
    (see :func:`~.thresholds.judge`), never a pass. ``inherited`` maps keys to the factor of
    :func:`inherited_noise_factor` on the noise of their ``inherited`` values.
    """
    judged = {v.name: v for v in judged_values()}
    checks = []
    for key, values in results.items():
        factor = (inherited or {}).get(key, 1.0)
        for name, number in values.items():
            spec = judged.get(name)
            if spec is None or spec.limit is None:
                continue
            mean, std, noise = spec.noise(null.get(key, {}).get(name, np.array([])), values)
            f = factor if spec.inherited else 1.0
            checks.append(Check(key, name, float(number), spec.limit, mean, std, noise * f,
                                judge(float(number), spec.limit, noise * f), f))
    return checks
