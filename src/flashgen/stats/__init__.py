"""Statistics of generated samples: amplification and inherited (training-sample) uncertainty.

- :mod:`~flashgen.stats.quantiles`: equal-probability bins of a known truth, quantile MSE,
  equivalent number of sampled events.
- :mod:`~flashgen.stats.fit`: maximum-likelihood fits of the toys' true functional forms.
- :mod:`~flashgen.stats.generators`: trainers (KDE, flashgen models, perfect and empirical
  generators) for the studies.
- :mod:`~flashgen.stats.amplification`: the amplification study (``flashgen amplify``);
  :mod:`~flashgen.stats.report` its tables and plot.
- :mod:`~flashgen.stats.worth`: what a histogram of an ensemble's pooled events is worth
  (inherited uncertainty, effective events, amplification); :mod:`~flashgen.stats.calibration`
  checks it where the truth is exact. Ensembles are trained by
  :func:`flashgen.training.ensemble.train_ensemble` into one model file.
- :mod:`~flashgen.stats.bands`: per-bin quantile bands of member histograms;
  :mod:`~flashgen.stats.coverage`: coverage of those bands where the truth is exact.
- :mod:`~flashgen.stats.estimators`: robust peak position and width of a 1D sample
  (half-sample mode, σ_eff).
- :mod:`~flashgen.stats.oversampling`: histograms of oversampled samples (K copies of each
  generator-level event) with the variance that folds the copies, and what the copies are worth.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "AmplificationResult": "amplification", "amplification_study": "amplification",
    "Band": "bands", "band_coverage": "bands", "histogram_band": "bands", "table_band": "bands",
    "Worth": "worth", "worth_of_sample": "worth", "inherited_variance": "worth",
    "half_sample_mode": "estimators", "sigma_eff": "estimators",
    "FoldedHistogram": "oversampling", "OversamplingGain": "oversampling",
    "extra_fraction_variance": "oversampling", "folded_histogram": "oversampling",
    "oversampling_gain": "oversampling",
    "equivalent_events": "quantiles", "expected_sampled_mse": "quantiles",
    "quantile_fractions": "quantiles", "quantile_mse": "quantiles",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    """Import submodules on first use, so that ``import flashgen.stats.bands`` stays light."""
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
