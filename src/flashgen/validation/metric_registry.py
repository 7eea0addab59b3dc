"""The metric registry: every validation metric declared once, with everything that uses it.

A :class:`Metric` is one computation of :func:`~.compare.compare` (from the pure functions of
:mod:`.metrics`); it reports one or more numbers, each a :class:`Value` with its label and number
format, and, when judged, its tolerance (:class:`~.thresholds.Threshold`) and the model of its
statistical resolution (what a perfect generator scores: the reference-vs-reference comparisons
of :func:`~.compare.null_metrics`). :mod:`.compare`, :mod:`.html_page` and :mod:`.summary` loop
over :data:`METRICS` and never name a metric.

Each metric is one module of :mod:`flashgen.validation.metric_defs` that calls :func:`register`;
every module there is imported, so a new metric is one new file (plus its test).

Scopes (what a metric's ``compute`` receives):

============ ========================================================================
scope        computed on
============ ========================================================================
defined      each nullable 1D quantity, NaN included: ``compute(ref, gen)``
quantity     each 1D quantity (feature, observable, slice target) with at least
             ``MIN_EVENTS`` finite events per sample: ``compute(QuantityInput)``
efficiency   each slice of a slicing with an efficiency: ``compute(ref, gen)``
global       the whole events (key ``global/<key>``): ``compute(GlobalInput)``
classifier   the classifier two-sample test of :func:`~.validate_samples.validate`
============ ========================================================================
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import FlashgenError
from . import metrics as m
from .thresholds import Threshold, noise_level

__all__ = ["METRICS", "SCOPES", "THRESHOLDS", "GlobalInput", "Metric", "QuantityInput", "Value",
           "bootstrap_noise", "by_scope", "distance_summary", "judged_values", "plus_minus",
           "register", "registered", "unregister", "value"]

SCOPES = ("defined", "quantity", "efficiency", "global", "classifier")

NoiseModel = Callable[[np.ndarray, Mapping[str, float]], tuple[float, float, float]]
"""``(null values, this comparison's values of the key) -> (mean, std, noise)``."""


def bootstrap_noise(null: np.ndarray, values: Mapping[str, float]) -> tuple[float, float, float]:
    """The default noise model: :func:`~.thresholds.noise_level` of the reference-vs-reference
    values (``values``, this comparison's numbers of the same key, are not used)."""
    return noise_level(null)


@dataclass(frozen=True)
class Value:
    """One number a metric reports (a key of its entry in ``metrics.json``).

    Attributes:
        name: its key in ``metrics.json`` (unique over the registry), e.g. ``"ks_stat"``.
        label: its name in the report and the summary, e.g. ``"KS statistic"``.
        fmt: its number format in the report's tables.
        limit, description: the tolerance (same unit as the value) and what the value means;
            ``limit=None``: not judged (reported, with its reference-vs-reference floor).
        noise: its noise model (:data:`NoiseModel`), from its reference-vs-reference values.
        inherited: its noise grows with the uncertainty a generator inherits from its
            training sample (:func:`~.compare.inherited_noise_factor`).
        column: shown in the report's tables (a column of the per-quantity tables; a row of the
            whole-event table when not judged).
        unit: the quantity's unit follows the value in the report (e.g. W1 in GeV).
        error: the name of the value giving its ± (e.g. ``fpd_err``), or ``None``.
        why_nan: the reason given when the value is NaN (``values`` of its key in, text out);
            ``None``: "<name> not computed".
        details: its details in the report (the validation result and the value's key in, text
            out): the last cell of the whole-event table, the slice cell of an efficiency.
    """

    name: str
    label: str
    fmt: str = ".3g"
    limit: float | None = None
    description: str = ""
    noise: NoiseModel = bootstrap_noise
    inherited: bool = False
    column: bool = True
    unit: bool = False
    error: str | None = None
    why_nan: Callable[[Mapping[str, float]], str] | None = None
    details: Callable[[Mapping[str, Any], str], str] | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.label:
            raise FlashgenError("a metric value needs a name and a label")
        if self.limit is not None and not np.isfinite(self.limit):
            raise FlashgenError(f"the tolerance of {self.name} must be finite, got {self.limit}")

    @property
    def threshold(self) -> Threshold | None:
        """The tolerance as a :class:`~.thresholds.Threshold` (``None``: not judged)."""
        return None if self.limit is None else Threshold(self.name, self.limit, self.description)

    def nan_reason(self, values: Mapping[str, float]) -> str:
        """Why this value is NaN among ``values`` (the numbers of its key)."""
        return self.why_nan(values) if self.why_nan is not None else f"{self.name} not computed"


@dataclass(frozen=True)
class Metric:
    """One computation of the validation and the values it reports.

    Attributes:
        name: unique name of the metric, e.g. ``"frechet"``.
        scope: what it is computed on (:data:`SCOPES`; see the module docstring).
        values: the numbers it reports, the judged and labelled ones first.
        compute: the computation (see the scopes), returning ``value name -> number`` (it may
            return more numbers than ``values`` declares, e.g. bookkeeping such as ``n_ref``);
            ``None`` for scope ``classifier`` (computed by the classifier test).
        order: position among the metrics (computation, checks, tables, ``metrics.json``).
        key: scope ``global``: the result key ``global/<key>`` (default: ``name``).
        min_features: scope ``global``: fewest multivariate features it needs.
        failure: scope ``global``: what the reason says when ``compute`` raises ``ValueError``
            (its values are then NaN), e.g. ``"Fréchet distance not computed"``.
        summary: its part of the one-line summary (:func:`~.summary.headline`), result in,
            text (or ``None``: nothing to say) out; ``None``: not in the summary.
    """

    name: str
    scope: str
    values: tuple[Value, ...]
    compute: Callable[..., dict[str, float]] | None = None
    order: int = 1000
    key: str = ""
    min_features: int = 1
    failure: str = ""
    summary: Callable[[Mapping[str, Any]], str | None] | None = None

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise FlashgenError(f"metric {self.name}: unknown scope '{self.scope}'; choose from "
                                f"{', '.join(SCOPES)}")
        if not self.values:
            raise FlashgenError(f"metric {self.name} reports no value")
        if self.compute is None and self.scope != "classifier":
            raise FlashgenError(f"metric {self.name} needs a compute function")
        if self.scope == "global" and not self.key:
            object.__setattr__(self, "key", self.name)

    @property
    def result_key(self) -> str:
        """Scope ``global``: its key in the results, ``global/<key>``."""
        return f"global/{self.key}"

    @property
    def names(self) -> tuple[str, ...]:
        """The names of its values."""
        return tuple(v.name for v in self.values)


@dataclass
class QuantityInput:
    """What a ``quantity`` metric gets: one 1D quantity of both samples.

    Attributes:
        ref, gen: the finite values, shape ``(n_events,)``.
        edges: the histogram bins (fixed from the reference).
        gen_all: every generated value (NaN included), row-aligned with ``member``/``event``.
        member: ensemble member of each generated row, or ``None``.
        event: generator-level event of each generated row of an oversampled sample, or ``None``.
    """

    ref: np.ndarray
    gen: np.ndarray
    edges: np.ndarray
    gen_all: np.ndarray
    member: np.ndarray | None = None
    event: np.ndarray | None = None

    @functools.cached_property
    def ks_w1(self) -> tuple[m.KSResult, float]:
        """KS test and W1 distance, computed once for every metric that needs them."""
        return m.ks_and_wasserstein(self.ref, self.gen)


@dataclass
class GlobalInput:
    """What a ``global`` metric gets: the whole events of both samples.

    Attributes:
        ref_sample, gen_sample: the two samples (``name -> array (n_events,)``).
        names: the multivariate features.
        seed: the comparison's seed (each metric adds its own offset).
        plan: the comparison's :class:`~.compare.Plan` (batch settings of the distances).
    """

    ref_sample: Mapping[str, np.ndarray]
    gen_sample: Mapping[str, np.ndarray]
    names: list[str]
    seed: int
    plan: Any

    def _stack(self, sample: Mapping[str, np.ndarray], prefix: str) -> np.ndarray:
        return np.stack([np.asarray(sample[prefix + n], dtype=np.float64) for n in self.names],
                        axis=1)

    @functools.cached_property
    def raw(self) -> tuple[np.ndarray, np.ndarray]:
        """The features of both samples, shape ``(n_events, n_features)`` each."""
        return self._stack(self.ref_sample, ""), self._stack(self.gen_sample, "")

    @functools.cached_property
    def scores(self) -> tuple[np.ndarray, np.ndarray]:
        """The features as normal scores by the reference's CDF (``"gauss:<name>"``)."""
        return self._stack(self.ref_sample, "gauss:"), self._stack(self.gen_sample, "gauss:")


METRICS: dict[str, Metric] = {}
"""Every registered metric by name, in their ``order``."""

THRESHOLDS: dict[str, Threshold] = {}
"""Tolerances by value name, in the metrics' order (kept in step with :data:`METRICS`)."""


def _rebuild(metrics: dict[str, Metric]) -> None:
    ordered = sorted(metrics.values(), key=lambda x: x.order)
    METRICS.clear()
    METRICS.update((x.name, x) for x in ordered)
    THRESHOLDS.clear()
    THRESHOLDS.update((v.name, v.threshold) for x in ordered for v in x.values
                      if v.threshold is not None)


def register(metric: Metric) -> Metric:
    """Add ``metric`` to :data:`METRICS`; its name and its values' names must be new."""
    if metric.name in METRICS:
        raise FlashgenError(f"metric '{metric.name}' is already registered")
    taken = {v.name for x in METRICS.values() for v in x.values}
    clash = [n for n in metric.names if n in taken] + \
        [n for i, n in enumerate(metric.names) if n in metric.names[:i]]
    if clash:
        raise FlashgenError(f"metric '{metric.name}': value name(s) {', '.join(clash)} already used")
    _rebuild({**METRICS, metric.name: metric})
    return metric


def unregister(name: str) -> Metric:
    """Remove the metric ``name`` from :data:`METRICS` (for tests) and return it."""
    if name not in METRICS:
        raise FlashgenError(f"no metric '{name}'; registered: {', '.join(METRICS)}")
    rest = dict(METRICS)
    metric = rest.pop(name)
    _rebuild(rest)
    return metric


def registered() -> dict[str, Metric]:
    """:data:`METRICS`, with every module of :mod:`.metric_defs` imported."""
    from . import metric_defs  # noqa: F401  (registers the metrics)

    return METRICS


def by_scope(scope: str) -> list[Metric]:
    """The registered metrics of one scope, in their order."""
    return [x for x in registered().values() if x.scope == scope]


def judged_values(scope: str | None = None) -> Iterator[Value]:
    """Every judged value (with a tolerance), of one scope or all, in the metrics' order."""
    for x in registered().values():
        if scope is None or x.scope == scope:
            yield from (v for v in x.values if v.limit is not None)


def value(name: str) -> Value:
    """The registered value ``name`` (e.g. ``"auc"``)."""
    for x in registered().values():
        for v in x.values:
            if v.name == name:
                return v
    raise FlashgenError(f"no metric value '{name}'")


def plus_minus(number: float | None, err: float | None, fmt: str) -> str:
    """``"number ± err"`` in ``fmt``; ``"n/a"`` for a missing or NaN number."""
    if number is None or number != number:
        return "n/a"
    return f"{number:{fmt}}" + (f" ± {err:{fmt}}" if err is not None and err == err else "")


def distance_summary(key: str, name: str, error: str, label: str, fmt: str,
                     floor: str = "floor") -> Callable[[Mapping[str, Any]], str | None]:
    """The summary of a whole-event distance: ``"<label> value ± error (<floor> mean ± std)"``,
    its floor being its mean and spread over the reference-vs-reference comparisons."""

    def text(result: Mapping[str, Any]) -> str | None:
        values = result.get("metrics", {}).get(key, {})
        if values.get(name) is None:
            return None
        res = result.get("resolution", {}).get(key, {}).get(name, {})
        return (f"{label} {plus_minus(values.get(name), values.get(error), fmt)} "
                f"({floor} {plus_minus(res.get('mean'), res.get('std'), fmt)})")

    return text
