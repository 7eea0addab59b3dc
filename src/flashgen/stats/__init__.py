"""Statistics of generated samples: pure functions, no training and no I/O.

- :mod:`~flashgen.stats.histogram_worth`: what a histogram of an ensemble's pooled events is
  worth (inherited uncertainty, effective events, amplification).
- :mod:`~flashgen.stats.oversampling`: histograms of oversampled samples (K copies of each
  generator-level event) with the variance that folds the copies, and what the copies are worth.
- :mod:`~flashgen.stats.quantiles`: equal-probability bins of a known truth, quantile MSE,
  equivalent number of sampled events.

Studies that train models to check these statistics where the truth is exact (amplification,
calibration of the worth, band coverage) live in :mod:`flashgen.studies`.
"""

from __future__ import annotations

from ..extras import lazy_attributes

_WHERE = {
    "Worth": "histogram_worth", "worth_of_sample": "histogram_worth",
    "inherited_variance": "histogram_worth",
    "FoldedHistogram": "oversampling", "OversamplingGain": "oversampling",
    "extra_fraction_variance": "oversampling", "folded_histogram": "oversampling",
    "oversampling_gain": "oversampling",
    "equivalent_events": "quantiles", "expected_sampled_mse": "quantiles",
    "quantile_fractions": "quantiles", "quantile_mse": "quantiles",
}

__all__ = sorted(_WHERE)

__getattr__ = lazy_attributes(__name__, _WHERE)  # submodules imported on first use
