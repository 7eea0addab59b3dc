"""Validation: compare a generated table with a reference table, in numbers and pictures.

- :mod:`.metrics`: two-sample metrics as pure functions (KS, Wasserstein, histogram χ²,
  correlation matrices, Fréchet distance extrapolated in 1/N).
- :mod:`.classifier`: classifier two-sample test (boosted trees, held-out ROC AUC).
- :mod:`.observables`: the derived observables a table has (declared by the sources' profiles).
- :mod:`.conditions`: the same metrics in slices of condition variables (declared likewise).
- :mod:`.metric_registry`: every metric declared once (:data:`METRICS`; one module each in
  :mod:`.metric_defs`): computation, noise model, tolerance, label and format.
- :mod:`.thresholds`: how a metric is judged: the pass/warn/limited/fail verdict.
- :mod:`.binning`: histogram bins chosen from the reference.
- :mod:`.compare`: one comparison and its reference-vs-reference statistical resolution.
- :mod:`.validate_samples`: :func:`validate`, which prepares the samples and runs all of the above.
- :mod:`.plots`, :mod:`.html_page`, :mod:`.report`: PNG figures, the self-contained
  ``report.html`` and the atomic writing of the report folder.
- :func:`validate`: the entry point behind ``flashgen validate``.
"""

from __future__ import annotations

from .classifier import ClassifierResult, classifier_two_sample_test
from .conditions import SLICINGS, Slicing, register_slicing
from .metrics import (
    binomial_fraction,
    chi2_histograms,
    correlation_difference,
    correlation_matrix,
    frechet_distance,
    frechet_distance_extrapolated,
    ks_test,
    wasserstein_1d,
)
from ..sources.observables import OBSERVABLES, Observable, register_observable
from . import metric_defs  # noqa: F401  (registers every metric)
from .metric_registry import METRICS, THRESHOLDS, Metric, Value
from .validate_samples import ValidationSettings, validate

__all__ = [
    "METRICS",
    "OBSERVABLES",
    "SLICINGS",
    "THRESHOLDS",
    "ClassifierResult",
    "Metric",
    "Observable",
    "Slicing",
    "ValidationSettings",
    "Value",
    "binomial_fraction",
    "chi2_histograms",
    "classifier_two_sample_test",
    "correlation_difference",
    "correlation_matrix",
    "frechet_distance",
    "frechet_distance_extrapolated",
    "ks_test",
    "register_observable",
    "register_slicing",
    "validate",
    "wasserstein_1d",
]
