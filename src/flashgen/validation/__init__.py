"""Validation: compare a generated table with a reference table, in numbers and pictures.

- :mod:`.metrics`: two-sample metrics as pure functions (KS, Wasserstein, histogram χ²,
  correlation matrices, Fréchet distance extrapolated in 1/N).
- :mod:`.classifier`: classifier two-sample test (boosted trees, held-out ROC AUC).
- :mod:`.observables`: the derived observables a table has (declared by the sources' profiles).
- :mod:`.conditions`: the same metrics in slices of condition variables (declared likewise).
- :mod:`.thresholds`: tolerances and the pass/warn/limited/fail verdict.
- :mod:`.binning`: histogram bins chosen from the reference.
- :mod:`.compare`: one comparison and its reference-vs-reference statistical resolution.
- :mod:`.pipeline`: :func:`validate`, which prepares the samples and runs all of the above.
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
from .validate_samples import validate
from .thresholds import THRESHOLDS

__all__ = [
    "OBSERVABLES",
    "SLICINGS",
    "THRESHOLDS",
    "ClassifierResult",
    "Observable",
    "Slicing",
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
